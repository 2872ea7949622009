//===- ErrorTestSupport.h - Checking the errors kiln throws -----*- C++ -*-===//
#pragma once

#include "kiln/ir/Error.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace kiln::test {

/// The kiln::Error that `f` throws; a test failure (and an Internal error
/// saying so) when it throws none.
template <class F> Error errorFrom(F &&f) {
  try {
    f();
  } catch (const Error &e) {
    return e;
  }
  ADD_FAILURE() << "expected a kiln::Error";
  return Error(ErrorKind::Internal, "<no error was thrown>");
}

/// The message of the kiln::Error that `f` throws, checking its kind; empty
/// (and a test failure) when it throws none.
template <class F> std::string errorOf(F &&f, ErrorKind kind) {
  try {
    f();
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), kind) << e.message();
    return e.message();
  }
  ADD_FAILURE() << "no error thrown";
  return {};
}

inline bool contains(const std::string &s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

} // namespace kiln::test
