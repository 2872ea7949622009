//===- StepTestSupport.h - Tests that change the step settings -*- C++ -*-===//
#pragma once

#include "kiln/kiln.h"
#include "kiln/runtime/Program.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace kiln::test {

/// A fixture that starts from a synced step and restores the execution
/// mode, compile_after, the compilation switch and KILN_LOG afterwards.
class StepSettingsTest : public ::testing::Test {
protected:
  void SetUp() override {
    kiln::sync();
    previousMode_ = execution();
    previousAfter_ = compile_after();
  }
  void TearDown() override {
    runtime::setCompilationForbidden(false);
    set_execution(previousMode_);
    set_compile_after(previousAfter_);
    unsetenv("KILN_LOG");
  }

private:
  Execution previousMode_ = Execution::Compiled;
  int previousAfter_ = 1;
};

} // namespace kiln::test
