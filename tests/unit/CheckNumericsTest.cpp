//===- CheckNumericsTest.cpp - CompileOptions::checkNumerics --------------===//
#include "kiln/ir/Error.h"
#include "kiln/ir/Parser.h"
#include "kiln/runtime/Program.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace kiln;
using namespace kiln::ir;

namespace {

// matmul (oneDNN), then an elementwise chain that the fuse pass makes one JIT
// kernel: sqrt of a negative value is NaN on line 4.
constexpr const char *kProgram =
    R"(func @f(%a: f32[2,2], %b: f32[2,2], %c: f32[2,2]) -> (f32[2,2]) {
  %m = matmul %a, %b : f32[2,2]
  %s = sub %m, %c : f32[2,2]
  %r = sqrt %s : f32[2,2]
  %t = tanh %r : f32[2,2]
  return %t
}
)";

Function parseProgram() { return parseModule(kProgram, "check.kir").functions.at(0); }

HostTensor matrix(std::vector<double> values) {
  return HostTensor::fromDoubles(TensorType{DType::F32, Shape{2, 2}}, values);
}

/// a = identity, b = [1, 2, 3, 4], and `c`: the sqrt sees b - c.
std::vector<HostTensor> inputs(std::vector<double> c) {
  return {matrix({1, 0, 0, 1}), matrix({1, 2, 3, 4}), matrix(std::move(c))};
}

/// The Error that a checked run of kProgram on `in` throws.
Error checkedRunError(const std::vector<HostTensor> &in) {
  auto program = runtime::Program::compile(parseProgram(), {.checkNumerics = true});
  try {
    program->run(in);
  } catch (const Error &e) {
    return e;
  }
  ADD_FAILURE() << "no Error";
  return Error(ErrorKind::Internal, "none");
}

} // namespace

TEST(CheckNumerics, NamesTheFirstOpInsideAFusedKernelWithItsLocation) {
  Error e = checkedRunError(inputs({0, 0, 9, 0})); // sqrt([1, 2, -6, 4])
  EXPECT_EQ(e.kind(), ErrorKind::Runtime);
  EXPECT_EQ(e.where(), "check.kir:4:3");
  EXPECT_NE(e.message().find("sqrt produced NaN at element 2 of %r: f32[2,2]"), std::string::npos)
      << e.message();
}

TEST(CheckNumerics, ReportsInfFromAOneDnnKernel) {
  std::vector<HostTensor> in = inputs({0, 0, 0, 0});
  in[0].set(0, 3e38);
  in[1].set(0, 10); // 3e38 * 10 overflows f32
  Error e = checkedRunError(in);
  EXPECT_EQ(e.where(), "check.kir:2:3");
  EXPECT_NE(e.message().find("matmul produced +Inf at element 0 of %m"), std::string::npos)
      << e.message();
}

TEST(CheckNumerics, AnInputHoldingNaNIsReportedBeforeAnyOp) {
  std::vector<HostTensor> in = inputs({0, 0, 0, 0});
  in[1].set(3, std::numeric_limits<double>::quiet_NaN());
  Error e = checkedRunError(in);
  EXPECT_EQ(e.where(), "check.kir:1:1");
  EXPECT_EQ(e.message(), "input %b: f32[2,2] holds NaN at element 3 before any op ran");
}

TEST(CheckNumerics, FiniteRunsGiveTheUncheckedResults) {
  std::vector<HostTensor> in = inputs({0, 0, 0, 0});
  auto checked = runtime::Program::compile(parseProgram(), {.checkNumerics = true})->run(in);
  auto unchecked = runtime::Program::compile(parseProgram())->run(in);
  ASSERT_EQ(checked.size(), 1u);
  EXPECT_TRUE(checked[0].identical(unchecked[0]));
}

TEST(CheckNumerics, IsOffByDefault) {
  auto out = runtime::Program::compile(parseProgram())->run(inputs({0, 0, 9, 0}));
  EXPECT_TRUE(std::isnan(out[0].get(2)));
}
