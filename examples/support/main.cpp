//===- main.cpp - The program example_NAME --------------------------------===//
//
// One main for every example program: KILN_EXAMPLE_NAME (a compile
// definition) picks the registered example to run.
//
//===----------------------------------------------------------------------===//
#include "Example.h"

int main(int argc, char **argv) {
  return kiln::examples::exampleMain(KILN_EXAMPLE_NAME, argc, argv);
}
