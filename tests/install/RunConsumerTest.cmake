# cmake -D KILN_BUILD_DIR=... -D CONSUMER_SOURCE_DIR=... -D WORK_DIR=...
#       -D GENERATOR=... -D CXX_COMPILER=... -D BUILD_TYPE=... -P RunConsumerTest.cmake
#
# Installs the kiln build into WORK_DIR/prefix, then configures, builds and
# runs the consumer project against that prefix only.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "install test: '${command}' failed (${status})")
  endif()
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${prefix} ${consumer_build})

run(${CMAKE_COMMAND} --install ${KILN_BUILD_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build} -G ${GENERATOR}
  -D CMAKE_CXX_COMPILER=${CXX_COMPILER}
  -D CMAKE_BUILD_TYPE=${BUILD_TYPE}
  -D CMAKE_PREFIX_PATH=${prefix}
  -D CMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -D EXPECTED_KILN_DIR=${prefix})
run(${CMAKE_COMMAND} --build ${consumer_build})
run(${consumer_build}/kiln_consumer)
run(${prefix}/bin/kiln ops add)
