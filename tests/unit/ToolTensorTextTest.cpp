//===- ToolTensorTextTest.cpp - Tensor literals and printing of kiln run --===//
#include "support/RunInputs.h"
#include "support/TensorText.h"

#include "kiln/ir/Builder.h"
#include "kiln/ir/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace kiln;
using tool::formatElement;
using tool::formatTensor;
using tool::parseTensorLiteral;

namespace {

ir::TensorType f32(ir::Shape s) { return {ir::DType::F32, std::move(s)}; }

std::string usageError(std::string_view text, const ir::TensorType &type) {
  try {
    parseTensorLiteral(text, type, "input %x");
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    return e.message();
  }
  ADD_FAILURE() << "no error for '" << text << "'";
  return "";
}

} // namespace

TEST(TensorLiteral, FlatAndNestedAreRowMajor) {
  ir::HostTensor a = parseTensorLiteral("1,2,3,4", f32({2, 2}), "x");
  ir::HostTensor b = parseTensorLiteral("[[1, 2], [3, 4]]", f32({2, 2}), "x");
  EXPECT_TRUE(a.identical(b));
  EXPECT_EQ(a.get(2), 3);
}

TEST(TensorLiteral, OneValueFillsTheTensor) {
  ir::HostTensor t = parseTensorLiteral("0.5", f32({3}), "x");
  EXPECT_EQ(t.get(0), 0.5);
  EXPECT_EQ(t.get(2), 0.5);
}

TEST(TensorLiteral, SpecialValues) {
  ir::HostTensor t = parseTensorLiteral("-inf, nan, +2.5e1, true", f32({4}), "x");
  EXPECT_EQ(t.get(0), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(t.get(1)));
  EXPECT_EQ(t.get(2), 25);
  EXPECT_EQ(t.get(3), 1);
  EXPECT_EQ(parseTensorLiteral("1e-400", f32({}), "x").get(0), 0);
}

TEST(TensorLiteral, IntegersAreExact) {
  ir::HostTensor t =
      parseTensorLiteral("9007199254740993", ir::TensorType{ir::DType::I64, ir::Shape{}}, "x");
  EXPECT_EQ(t.data<int64_t>()[0], 9007199254740993);
}

TEST(TensorLiteral, Errors) {
  EXPECT_EQ(usageError("1,2,3", f32({2, 2})),
            "input %x: 3 values given, expected 4 (or one value to fill it)");
  EXPECT_EQ(usageError("[1,2", f32({2})), "input %x: unbalanced '[': missing ']'");
  EXPECT_EQ(usageError("1]", f32({})), "input %x: unbalanced ']' at character 2");
  EXPECT_EQ(usageError("abc", f32({})), "input %x: 'abc' is not a number");
  EXPECT_EQ(usageError("1e400", f32({})),
            "input %x: '1e400' is out of range (write inf for infinity)");
  // Finite in double but not in f32: an error, not a silent inf.
  EXPECT_EQ(usageError("1e300", f32({})),
            "input %x: '1e300' is out of range for f32 (largest 3.4028235e38; write inf for "
            "infinity)");
  EXPECT_EQ(usageError("3.5e38", f32({})),
            "input %x: '3.5e38' is out of range for f32 (largest 3.4028235e38; write inf for "
            "infinity)");
  EXPECT_NO_THROW(parseTensorLiteral("1e300", ir::TensorType{ir::DType::F64, ir::Shape{}}, "x"));
  EXPECT_NO_THROW(parseTensorLiteral("3.4028235e38", f32({}), "x"));
  EXPECT_EQ(usageError("1.5", ir::TensorType{ir::DType::I64, ir::Shape{}}),
            "input %x: '1.5' is not an integer, as i64 needs");
  EXPECT_EQ(usageError("256", ir::TensorType{ir::DType::U8, ir::Shape{}}),
            "input %x: '256' is out of range for u8");
  EXPECT_EQ(usageError("2", ir::TensorType{ir::DType::Bool, ir::Shape{}}),
            "input %x: '2' is not a boolean (use true, false, 1 or 0)");
}

TEST(TensorFormat, Elements) {
  EXPECT_EQ(formatElement(3, ir::DType::F32), "3");
  EXPECT_EQ(formatElement(-0.5, ir::DType::F32), "-0.5");
  EXPECT_EQ(formatElement(2.0 / 3.0, ir::DType::F64), "0.6667");
  EXPECT_EQ(formatElement(1e-7, ir::DType::F64), "1e-07");
  EXPECT_EQ(formatElement(1.23456e-5, ir::DType::F64), "1.2346e-05");
  EXPECT_EQ(formatElement(std::nan(""), ir::DType::F32), "nan");
  EXPECT_EQ(formatElement(-INFINITY, ir::DType::F32), "-inf");
  EXPECT_EQ(formatElement(1, ir::DType::Bool), "true");
  EXPECT_EQ(formatElement(255, ir::DType::U8), "255");
}

TEST(TensorFormat, NestedAndSummarised) {
  ir::HostTensor t = parseTensorLiteral("1,2,3,4", f32({2, 2}), "x");
  EXPECT_EQ(formatTensor(t), "[[1, 2], [3, 4]]");
  EXPECT_EQ(formatTensor(ir::HostTensor::scalar(7)), "7");
  ir::HostTensor big(f32({2000}));
  big.set(1999, 5);
  EXPECT_EQ(formatTensor(big), "[0, 0, 0, ..., 0, 0, 5]");
}

TEST(RunInputs, MissingUnknownAndDuplicateInputsNameTheParameter) {
  ir::Function f("f");
  ir::Builder b(f);
  ir::ValueId x = b.param("x", f32({2}));
  b.param("y", f32({}));
  f.setResults({x});
  auto message = [&](std::vector<tool::InputArg> args) {
    try {
      tool::bindInputs(f, args);
    } catch (const Error &e) {
      return e.message();
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({{"x", "1,2"}}),
            "missing input for @f: %y: f32[] (give each with --input NAME=VALUES)");
  EXPECT_EQ(message({{"x", "1,2"}, {"y", "1"}, {"z", "1"}}),
            "@f has no parameter %z; it takes %x: f32[2], %y: f32[]");
  EXPECT_EQ(message({{"x", "1,2"}, {"x", "1"}}), "input %x is given more than once");
  EXPECT_EQ(tool::bindInputs(f, {{"x", "1,2"}, {"y", "3"}}).size(), 2u);
}

TEST(RunInputs, ArgumentSyntax) {
  EXPECT_EQ(tool::checkInputArg("x=1"), "");
  EXPECT_EQ(tool::checkInputArg("%x=[1]"), "");
  EXPECT_NE(tool::checkInputArg("x"), "");
  EXPECT_NE(tool::checkInputArg("=1"), "");
  EXPECT_EQ(tool::splitInputArg("%x=a=b").name, "x");
  EXPECT_EQ(tool::splitInputArg("%x=a=b").value, "a=b");
}
