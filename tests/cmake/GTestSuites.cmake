# kiln_add_gtest_suites(TARGET PREFIX prefix)
#
# Registers one ctest per gtest test suite of TARGET, named PREFIX<Suite>, so
# that `ctest` lists a few dozen readable lines, runs suites in parallel, and
# --output-on-failure shows only the failing suite. Suites are listed after
# each build (like gtest_discover_tests, but per suite rather than per test).
function(kiln_add_gtest_suites target)
  cmake_parse_arguments(ARG "" "PREFIX" "" ${ARGN})
  set(list_file ${CMAKE_CURRENT_BINARY_DIR}/${target}_suites.cmake)
  set(include_file ${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND}
      -D TEST_EXECUTABLE=$<TARGET_FILE:${target}>
      -D TEST_PREFIX=${ARG_PREFIX}
      -D OUTPUT=${list_file}
      -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/ListGTestSuites.cmake
    BYPRODUCTS ${list_file}
    VERBATIM)
  file(WRITE ${include_file}
    "if(EXISTS \"${list_file}\")\n"
    "  include(\"${list_file}\")\n"
    "else()\n"
    "  add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${include_file})
endfunction()
