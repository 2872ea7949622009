# cmake -D KILN_BUILD_DIR=... -D CONSUMER_SOURCE_DIR=... -D WORK_DIR=...
#       -D GENERATOR=... -D CXX_COMPILER=... -D BUILD_TYPE=... -P RunConsumerTest.cmake
#
# Proves that an installed kiln stands on its own: installs the build into a
# staging prefix, moves the prefix elsewhere, hides the build tree's MNIST
# sample, then configures, builds and runs the consumer project (which finds
# kiln and its data through the moved prefix only) and the installed `kiln`
# tool. The build tree's sample is put back at the end, whatever happened.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "install test: '${command}' failed (${status})")
  endif()
endfunction()

set(staging ${WORK_DIR}/staging)
set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
set(sample ${KILN_BUILD_DIR}/data/mnist-sample)
set(hidden ${sample}.hidden-by-install-test)
# A run killed while the sample was hidden left it here.
if(EXISTS ${hidden} AND NOT EXISTS ${sample})
  file(RENAME ${hidden} ${sample})
endif()
file(REMOVE_RECURSE ${staging} ${prefix} ${consumer_build})

run(${CMAKE_COMMAND} --install ${KILN_BUILD_DIR} --prefix ${staging})
file(RENAME ${staging} ${prefix})

# Without a prepared sample (scripts/setup found no npm registry) only the
# code is checked; CI always has one.
set(consumer_args "")
if(EXISTS ${sample}/SAMPLE.json)
  set(consumer_args --expect-sample ${prefix})
  file(RENAME ${sample} ${hidden})
else()
  message(WARNING "install test: no MNIST sample in ${sample}; data lookup not checked")
endif()

execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build} -G ${GENERATOR}
    -D CMAKE_CXX_COMPILER=${CXX_COMPILER}
    -D CMAKE_BUILD_TYPE=${BUILD_TYPE}
    -D CMAKE_PREFIX_PATH=${prefix}
    -D CMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -D EXPECTED_KILN_DIR=${prefix}
  COMMAND_ECHO STDOUT
  RESULT_VARIABLE configure_status)
if(configure_status EQUAL 0)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${consumer_build} RESULT_VARIABLE build_status)
endif()
if(configure_status EQUAL 0 AND build_status EQUAL 0)
  execute_process(COMMAND ${consumer_build}/kiln_consumer ${consumer_args}
    RESULT_VARIABLE consumer_status)
  if(consumer_args)
    execute_process(COMMAND ${prefix}/bin/kiln example mnist --epochs 1 --json
      OUTPUT_VARIABLE example_output RESULT_VARIABLE example_status)
  endif()
endif()
if(EXISTS ${hidden})
  file(RENAME ${hidden} ${sample})
endif()

if(NOT configure_status EQUAL 0 OR NOT build_status EQUAL 0)
  message(FATAL_ERROR "install test: the consumer did not configure and build against ${prefix}")
endif()
if(NOT consumer_status EQUAL 0)
  message(FATAL_ERROR "install test: kiln_consumer ${consumer_args} failed (${consumer_status})")
endif()
if(consumer_args AND NOT example_status EQUAL 0)
  message(FATAL_ERROR "install test: the installed 'kiln example mnist' failed (${example_status})")
endif()
if(consumer_args AND NOT example_output MATCHES "\"test_accuracy\"")
  message(FATAL_ERROR "install test: 'kiln example mnist --json' printed no accuracy:\n${example_output}")
endif()
run(${prefix}/bin/kiln ops add)
