# Included by ctest after the unit suites are listed (tests/CMakeLists.txt):
# the tests that read or hide the build tree's embedded MNIST sample run one
# at a time.
set_tests_properties(install.consumer unit.DataLoader PROPERTIES RESOURCE_LOCK kiln_mnist_sample)
