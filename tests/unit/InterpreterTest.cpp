//===- InterpreterTest.cpp - The reference interpreter, op by op ----------===//
//
// The interpreter is the oracle every compiled kernel is compared with, so
// each op of the table is checked here against values worked out by hand.
// The last test fails when an op of the table has no test in this file.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Interpreter.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "ErrorTestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

using namespace kiln;
using namespace kiln::ir;

namespace {

using kiln::test::errorFrom;
using kiln::test::contains;

/// Ops that have a test below. Add a name here only with its test.
const std::set<std::string_view> kCoveredOps = {
    "constant",   "add",    "sub",     "mul",       "div",          "maximum",    "minimum",
    "neg",        "abs",    "exp",     "log",       "sqrt",         "pow",        "relu",
    "sigmoid",    "binary_cross_entropy",
    "tanh",       "sin",    "cos",     "log1p",     "expm1",        "softplus",   "clamp",
    "cast",   "eq",      "ne",        "lt",           "le",         "gt",
    "ge",         "select", "reshape", "transpose", "broadcast_to", "reduce_sum", "reduce_mean",
    "reduce_max", "argmax", "matmul",  "softmax",   "log_softmax",  "one_hot",    "fused",
};

constexpr double kInf = std::numeric_limits<double>::infinity();

TensorType f32(Shape s) { return {DType::F32, std::move(s)}; }
TensorType f64(Shape s) { return {DType::F64, std::move(s)}; }
TensorType i64(Shape s) { return {DType::I64, std::move(s)}; }
TensorType u8(Shape s) { return {DType::U8, std::move(s)}; }
TensorType boolean(Shape s) { return {DType::Bool, std::move(s)}; }

HostTensor tensor(TensorType t, std::vector<double> v) { return HostTensor::fromDoubles(t, v); }

std::vector<double> elements(const HostTensor &t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.numel(); ++i)
    v.push_back(t.get(i));
  return v;
}

/// Checks type and values; `tol` = 0 means exactly (NaN matches NaN).
::testing::AssertionResult is(const HostTensor &got, const TensorType &type,
                              const std::vector<double> &want, double tol = 0) {
  if (!got.defined())
    return ::testing::AssertionFailure() << "result is undefined";
  if (got.type() != type)
    return ::testing::AssertionFailure() << "type " << got.type().str() << ", want " << type.str();
  std::vector<double> v = elements(got);
  if (v.size() != want.size())
    return ::testing::AssertionFailure() << v.size() << " elements, want " << want.size();
  for (size_t i = 0; i < v.size(); ++i) {
    bool ok = (std::isnan(v[i]) && std::isnan(want[i])) || v[i] == want[i] ||
              (tol > 0 && std::abs(v[i] - want[i]) <= tol);
    if (!ok)
      return ::testing::AssertionFailure()
             << "element " << i << " is " << v[i] << ", want " << want[i] << " (tol " << tol << ")";
  }
  return ::testing::AssertionSuccess();
}

/// Builds @f(%x0, %x1, ...) = op(%x0, %x1, ...) for the inputs' types and
/// interprets it on them.
HostTensor apply(OpKind op, std::vector<HostTensor> inputs, AttrList attrs = {},
                 std::optional<TensorType> declared = std::nullopt) {
  Function f("f");
  Builder b(f);
  std::vector<ValueId> params;
  for (size_t i = 0; i < inputs.size(); ++i)
    params.push_back(b.param("x" + std::to_string(i), inputs[i].type()));
  f.setResults({b.create(op, params, std::move(attrs), std::move(declared))});
  std::vector<HostTensor> out = runtime::interpret(f, inputs);
  EXPECT_EQ(out.size(), 1u);
  return out.at(0);
}

// A 2x3 matrix [[1, 2, 3], [4, 5, 6]] that many tests start from.
HostTensor m23() { return tensor(f32({2, 3}), {1, 2, 3, 4, 5, 6}); }

} // namespace

//===----------------------------------------------------------------------===//
// Binary arithmetic with numpy broadcasting
//===----------------------------------------------------------------------===//

TEST(InterpretArith, AddSameShape) {
  EXPECT_TRUE(is(apply(OpKind::Add, {m23(), tensor(f32({2, 3}), {10, 20, 30, 40, 50, 60})}),
                 f32({2, 3}), {11, 22, 33, 44, 55, 66}));
}

TEST(InterpretArith, AddBroadcastsARowOverEveryRow) {
  // [2,3] + [3]
  EXPECT_TRUE(is(apply(OpKind::Add, {m23(), tensor(f32({3}), {10, 20, 30})}), f32({2, 3}),
                 {11, 22, 33, 14, 25, 36}));
}

TEST(InterpretArith, SubBroadcastsAColumnAgainstARow) {
  // [2,1] - [1,3] -> [2,3]: out[i][j] = col[i] - row[j]
  EXPECT_TRUE(
      is(apply(OpKind::Sub, {tensor(f32({2, 1}), {1, 2}), tensor(f32({1, 3}), {10, 20, 30})}),
         f32({2, 3}), {-9, -19, -29, -8, -18, -28}));
}

TEST(InterpretArith, MulByAScalar) {
  EXPECT_TRUE(
      is(apply(OpKind::Mul, {m23(), tensor(f32({}), {2})}), f32({2, 3}), {2, 4, 6, 8, 10, 12}));
  EXPECT_TRUE(is(apply(OpKind::Mul, {tensor(f32({}), {-1}), m23()}), f32({2, 3}),
                 {-1, -2, -3, -4, -5, -6}));
}

TEST(InterpretArith, ScalarWithScalar) {
  EXPECT_TRUE(is(apply(OpKind::Sub, {tensor(f64({}), {5}), tensor(f64({}), {7})}), f64({}), {-2}));
}

TEST(InterpretArith, DivOfFloats) {
  EXPECT_TRUE(
      is(apply(OpKind::Div, {tensor(f32({4}), {1, -3, 7, 1}), tensor(f32({4}), {2, 2, 4, 0})}),
         f32({4}), {0.5, -1.5, 1.75, kInf}));
}

TEST(InterpretArith, DivBroadcastsAColumn) {
  // [2,3] / [2,1]: row i divided by col[i]
  EXPECT_TRUE(is(apply(OpKind::Div, {m23(), tensor(f32({2, 1}), {2, 4})}), f32({2, 3}),
                 {0.5, 1, 1.5, 1, 1.25, 1.5}));
}

TEST(InterpretArith, IntegerDivTruncatesTowardZero) {
  EXPECT_TRUE(
      is(apply(OpKind::Div, {tensor(i64({4}), {7, -7, 7, -7}), tensor(i64({4}), {2, 2, -2, -2})}),
         i64({4}), {3, -3, -3, 3}));
  EXPECT_TRUE(is(apply(OpKind::Div, {tensor(u8({2}), {200, 9}), tensor(u8({2}), {3, 10})}), u8({2}),
                 {66, 0}));
}

TEST(InterpretArith, IntegerDivByZeroGivesZero) {
  EXPECT_TRUE(is(apply(OpKind::Div, {tensor(i64({2}), {5, -5}), tensor(i64({2}), {0, 0})}),
                 i64({2}), {0, 0}));
}

TEST(InterpretArith, IntegerArithmeticIsExact) {
  EXPECT_TRUE(is(apply(OpKind::Mul, {tensor(i64({2}), {123456, -3}), tensor(i64({}), {1000})}),
                 i64({2}), {123456000, -3000}));
  EXPECT_TRUE(is(apply(OpKind::Add, {tensor(u8({2}), {250, 1}), tensor(u8({2}), {3, 2})}), u8({2}),
                 {253, 3}));
}

TEST(InterpretArith, MaximumAndMinimum) {
  HostTensor a = tensor(f32({3}), {1, 5, -2}), b = tensor(f32({3}), {3, 4, -2});
  EXPECT_TRUE(is(apply(OpKind::Maximum, {a, b}), f32({3}), {3, 5, -2}));
  EXPECT_TRUE(is(apply(OpKind::Minimum, {a, b}), f32({3}), {1, 4, -2}));
}

TEST(InterpretArith, MaximumWithAScalarClamps) {
  EXPECT_TRUE(is(apply(OpKind::Maximum, {m23(), tensor(f32({}), {3.5})}), f32({2, 3}),
                 {3.5, 3.5, 3.5, 4, 5, 6}));
  EXPECT_TRUE(is(apply(OpKind::Minimum, {tensor(i64({3}), {-4, 0, 9}), tensor(i64({}), {2})}),
                 i64({3}), {-4, 0, 2}));
}

TEST(InterpretArith, MaximumAndMinimumPropagateNaN) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  HostTensor a = tensor(f64({2}), {nan, 1}), b = tensor(f64({2}), {1, nan});
  EXPECT_TRUE(is(apply(OpKind::Maximum, {a, b}), f64({2}), {nan, nan}));
  EXPECT_TRUE(is(apply(OpKind::Minimum, {a, b}), f64({2}), {nan, nan}));
}

TEST(InterpretArith, ZeroSizedBroadcast) {
  EXPECT_TRUE(is(apply(OpKind::Add, {HostTensor(f32({0, 3})), tensor(f32({3}), {1, 2, 3})}),
                 f32({0, 3}), {}));
}

//===----------------------------------------------------------------------===//
// Unary math
//===----------------------------------------------------------------------===//

TEST(InterpretUnary, Neg) {
  EXPECT_TRUE(is(apply(OpKind::Neg, {tensor(f32({3}), {1, -2.5, 0})}), f32({3}), {-1, 2.5, 0}));
  EXPECT_TRUE(is(apply(OpKind::Neg, {tensor(i64({2}), {7, -8})}), i64({2}), {-7, 8}));
}

TEST(InterpretUnary, Abs) {
  EXPECT_TRUE(is(apply(OpKind::Abs, {tensor(f32({4}), {-2.5, 0, 3, -kInf})}), f32({4}),
                 {2.5, 0, 3, kInf}));
  EXPECT_TRUE(is(apply(OpKind::Abs, {tensor(i64({2}), {-7, 7})}), i64({2}), {7, 7}));
}

TEST(InterpretUnary, Exp) {
  EXPECT_TRUE(is(apply(OpKind::Exp, {tensor(f64({4}), {0, 1, -1, 2})}), f64({4}),
                 {1, 2.718281828459045, 0.36787944117144233, 7.38905609893065}, 1e-14));
  EXPECT_TRUE(is(apply(OpKind::Exp, {tensor(f32({2}), {0, 1})}), f32({2}), {1, 2.7182817}, 1e-6));
}

TEST(InterpretUnary, Log) {
  EXPECT_TRUE(is(apply(OpKind::Log, {tensor(f64({4}), {1, 100, 0.5, 0})}), f64({4}),
                 {0, 4.605170185988092, -0.6931471805599453, -kInf}, 1e-14));
  EXPECT_TRUE(std::isnan(apply(OpKind::Log, {tensor(f32({1}), {-1})}).get(0)));
}

TEST(InterpretUnary, Sqrt) {
  EXPECT_TRUE(is(apply(OpKind::Sqrt, {tensor(f64({4}), {4, 2, 0, 0.25})}), f64({4}),
                 {2, 1.4142135623730951, 0, 0.5}, 1e-15));
}

TEST(InterpretUnary, PowWithIntegerExponents) {
  EXPECT_TRUE(is(apply(OpKind::Pow, {tensor(f32({3}), {3, -2, 0.5})}, {{"exponent", 2.0}}),
                 f32({3}), {9, 4, 0.25}));
  EXPECT_TRUE(
      is(apply(OpKind::Pow, {tensor(f32({2}), {-2, 3})}, {{"exponent", 3.0}}), f32({2}), {-8, 27}));
  EXPECT_TRUE(
      is(apply(OpKind::Pow, {tensor(f32({2}), {4, 5})}, {{"exponent", 0.0}}), f32({2}), {1, 1}));
  EXPECT_TRUE(is(apply(OpKind::Pow, {tensor(f32({2}), {4, -0.5})}, {{"exponent", -1.0}}), f32({2}),
                 {0.25, -2}));
}

TEST(InterpretUnary, PowWithFractionalExponents) {
  EXPECT_TRUE(is(apply(OpKind::Pow, {tensor(f64({3}), {9, 2, 0})}, {{"exponent", 0.5}}), f64({3}),
                 {3, 1.4142135623730951, 0}, 1e-15));
  EXPECT_TRUE(is(apply(OpKind::Pow, {tensor(f64({2}), {4, 8})}, {{"exponent", 1.5}}), f64({2}),
                 {8, 22.627416997969522}, 1e-13));
  // A negative base has no real fractional power.
  EXPECT_TRUE(std::isnan(apply(OpKind::Pow, {tensor(f64({1}), {-8})}, {{"exponent", 0.5}}).get(0)));
}

TEST(InterpretUnary, PowAcceptsAnIntegerExponentAttribute) {
  EXPECT_TRUE(is(apply(OpKind::Pow, {tensor(f32({2}), {2, 3})}, {{"exponent", int64_t(2)}}),
                 f32({2}), {4, 9}));
}

TEST(InterpretUnary, Relu) {
  EXPECT_TRUE(is(apply(OpKind::Relu, {tensor(f32({5}), {-1, 0, 2.5, -1e-3, 7})}), f32({5}),
                 {0, 0, 2.5, 0, 7}));
}

TEST(InterpretArith, BinaryCrossEntropyClampsItsLogsAtMinus100) {
  // PyTorch 1.13, torch.nn.functional.binary_cross_entropy(p, y, reduction='none'):
  // p = 1, y = 0 and p = 0, y = 1 are 100, not inf.
  HostTensor p = tensor(f64({4}), {1, 0.5, 0, 0.3}), y = tensor(f64({4}), {0, 0.25, 1, 0.7});
  HostTensor out = apply(OpKind::BinaryCrossEntropy, {p, y});
  const double expected[] = {100, 0.6931471805599453, 100, -0.7 * std::log(0.3) - 0.3 * std::log(0.7)};
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(out.get(i), expected[i], 1e-12) << i;
}

TEST(InterpretUnary, Sigmoid) {
  EXPECT_TRUE(is(apply(OpKind::Sigmoid, {tensor(f64({3}), {0, 2, -2})}), f64({3}),
                 {0.5, 0.8807970779778823, 0.11920292202211755}, 1e-15));
}

TEST(InterpretUnary, SigmoidSaturatesWithoutNaN) {
  EXPECT_TRUE(is(apply(OpKind::Sigmoid, {tensor(f32({2}), {1000, -1000})}), f32({2}), {1, 0}));
}

TEST(InterpretUnary, Tanh) {
  EXPECT_TRUE(is(apply(OpKind::Tanh, {tensor(f64({4}), {0, 1, -0.5, 20})}), f64({4}),
                 {0, 0.7615941559557649, -0.46211715726000974, 1}, 1e-15));
}

TEST(InterpretUnary, SinAndCos) {
  EXPECT_TRUE(is(apply(OpKind::Sin, {tensor(f64({3}), {0.5, -2, 3})}), f64({3}),
                 {0.479425538604203, -0.9092974268256817, 0.1411200080598672}, 1e-15));
  EXPECT_TRUE(is(apply(OpKind::Cos, {tensor(f64({3}), {0.5, -2, 3})}), f64({3}),
                 {0.8775825618903728, -0.4161468365471424, -0.9899924966004454}, 1e-15));
}

TEST(InterpretUnary, Log1pAndExpm1KeepSmallArguments) {
  // log(1 + 1e-10) in double loses 7 digits; log1p keeps them.
  EXPECT_TRUE(is(apply(OpKind::Log1p, {tensor(f64({4}), {1e-10, 1, -0.5, -1})}), f64({4}),
                 {9.999999999500001e-11, 0.6931471805599453, -0.6931471805599453, -kInf}, 1e-15));
  EXPECT_TRUE(is(apply(OpKind::Expm1, {tensor(f64({3}), {1e-10, 1, -1})}), f64({3}),
                 {1.00000000005e-10, 1.718281828459045, -0.6321205588285577}, 1e-15));
}

TEST(InterpretUnary, SoftplusIsLinearAboveTwenty) {
  // Values from PyTorch 1.13's softplus in f64.
  EXPECT_TRUE(is(apply(OpKind::Softplus, {tensor(f64({5}), {-30, 0, 1, 20, 21})}), f64({5}),
                 {9.357622968839737e-14, 0.6931471805599453, 1.3132616875182228,
                  20.000000002061153, 21},
                 1e-15));
}

TEST(InterpretUnary, ClampKeepsNaNAndEitherBoundMayBeLeftOut) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  HostTensor x = tensor(f32({5}), {-2, 0.25, 3, kNaN, -kInf});
  EXPECT_TRUE(is(apply(OpKind::Clamp, {x}, {{"min", -1.0}, {"max", 1.0}}), f32({5}),
                 {-1, 0.25, 1, kNaN, -1}));
  EXPECT_TRUE(is(apply(OpKind::Clamp, {x}, {{"min", 0.0}}), f32({5}), {0, 0.25, 3, kNaN, 0}));
  EXPECT_TRUE(is(apply(OpKind::Clamp, {x}, {{"max", 0.0}}), f32({5}), {-2, 0, 0, kNaN, -kInf}));
  // min > max gives max everywhere, as torch.clamp.
  EXPECT_TRUE(is(apply(OpKind::Clamp, {x}, {{"min", 2.0}, {"max", 1.0}}), f32({5}),
                 {1, 1, 1, kNaN, 1}));
  EXPECT_TRUE(is(apply(OpKind::Clamp, {tensor(i64({3}), {-5, 4, 9})}, {{"min", 0.0}, {"max", 5.0}}),
                 i64({3}), {0, 4, 5}));
  Error none = errorFrom([&] { apply(OpKind::Clamp, {x}); });
  EXPECT_TRUE(contains(none.what(), "needs a min or a max")) << none.what();
}

//===----------------------------------------------------------------------===//
// cast
//===----------------------------------------------------------------------===//

TEST(InterpretCast, FloatToI64Truncates) {
  EXPECT_TRUE(is(apply(OpKind::Cast, {tensor(f32({5}), {2.7, -2.7, 0.5, -0.5, 3})}, {}, i64({5})),
                 i64({5}), {2, -2, 0, 0, 3}));
}

TEST(InterpretCast, ToBoolIsNonZero) {
  EXPECT_TRUE(is(apply(OpKind::Cast, {tensor(f32({4}), {0, 0.5, -3, 1})}, {}, boolean({4})),
                 boolean({4}), {0, 1, 1, 1}));
  EXPECT_TRUE(is(apply(OpKind::Cast, {tensor(i64({3}), {0, 2, -1})}, {}, boolean({3})),
                 boolean({3}), {0, 1, 1}));
}

TEST(InterpretCast, ToU8TruncatesAndSaturates) {
  EXPECT_TRUE(is(apply(OpKind::Cast, {tensor(f32({4}), {7.9, 255, 300, -4})}, {}, u8({4})), u8({4}),
                 {7, 255, 255, 0}));
}

TEST(InterpretCast, FromU8AndBoolToFloat) {
  EXPECT_TRUE(is(apply(OpKind::Cast, {tensor(u8({3}), {0, 128, 255})}, {}, f32({3})), f32({3}),
                 {0, 128, 255}));
  EXPECT_TRUE(
      is(apply(OpKind::Cast, {tensor(boolean({2}), {1, 0})}, {}, f64({2})), f64({2}), {1, 0}));
}

TEST(InterpretCast, F64ToF32Rounds) {
  EXPECT_TRUE(
      is(apply(OpKind::Cast, {tensor(f64({1}), {0.1})}, {}, f32({1})), f32({1}), {double(0.1f)}));
}

//===----------------------------------------------------------------------===//
// Comparisons and select
//===----------------------------------------------------------------------===//

TEST(InterpretCompare, AllSixAgainstTheSameOperands) {
  HostTensor a = tensor(f32({3}), {1, 2, 3}), b = tensor(f32({3}), {2, 2, 2});
  EXPECT_TRUE(is(apply(OpKind::Eq, {a, b}), boolean({3}), {0, 1, 0}));
  EXPECT_TRUE(is(apply(OpKind::Ne, {a, b}), boolean({3}), {1, 0, 1}));
  EXPECT_TRUE(is(apply(OpKind::Lt, {a, b}), boolean({3}), {1, 0, 0}));
  EXPECT_TRUE(is(apply(OpKind::Le, {a, b}), boolean({3}), {1, 1, 0}));
  EXPECT_TRUE(is(apply(OpKind::Gt, {a, b}), boolean({3}), {0, 0, 1}));
  EXPECT_TRUE(is(apply(OpKind::Ge, {a, b}), boolean({3}), {0, 1, 1}));
}

TEST(InterpretCompare, Broadcasts) {
  // [2,1] vs [3]: out[i][j] = col[i] < row[j]
  HostTensor col = tensor(i64({2, 1}), {1, 3}), row = tensor(i64({3}), {0, 2, 4});
  EXPECT_TRUE(is(apply(OpKind::Lt, {col, row}), boolean({2, 3}), {0, 1, 1, 0, 0, 1}));
  EXPECT_TRUE(is(apply(OpKind::Ge, {col, tensor(i64({}), {3})}), boolean({2, 1}), {0, 1}));
}

TEST(InterpretCompare, NaNIsUnequalToEverything) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  HostTensor a = tensor(f64({1}), {nan});
  EXPECT_TRUE(is(apply(OpKind::Eq, {a, a}), boolean({1}), {0}));
  EXPECT_TRUE(is(apply(OpKind::Ne, {a, a}), boolean({1}), {1}));
  EXPECT_TRUE(is(apply(OpKind::Le, {a, a}), boolean({1}), {0}));
}

TEST(InterpretCompare, BoolOperands) {
  HostTensor a = tensor(boolean({2}), {1, 0}), b = tensor(boolean({2}), {1, 1});
  EXPECT_TRUE(is(apply(OpKind::Eq, {a, b}), boolean({2}), {1, 0}));
}

TEST(InterpretSelect, PicksElementwise) {
  HostTensor c = tensor(boolean({3}), {1, 0, 1});
  EXPECT_TRUE(
      is(apply(OpKind::Select, {c, tensor(f32({3}), {1, 2, 3}), tensor(f32({3}), {-1, -2, -3})}),
         f32({3}), {1, -2, 3}));
}

TEST(InterpretSelect, BroadcastsAllThreeOperands) {
  // cond [2,1], a [2,3], b scalar: row 0 keeps a, row 1 becomes b.
  HostTensor c = tensor(boolean({2, 1}), {1, 0});
  EXPECT_TRUE(
      is(apply(OpKind::Select, {c, m23(), tensor(f32({}), {0})}), f32({2, 3}), {1, 2, 3, 0, 0, 0}));
  // cond [3], a [2,1], b [2,3]
  HostTensor c3 = tensor(boolean({3}), {0, 1, 0});
  EXPECT_TRUE(is(apply(OpKind::Select, {c3, tensor(f32({2, 1}), {7, 8}), m23()}), f32({2, 3}),
                 {1, 7, 3, 4, 8, 6}));
}

//===----------------------------------------------------------------------===//
// Layout
//===----------------------------------------------------------------------===//

TEST(InterpretLayout, ReshapeKeepsRowMajorOrder) {
  EXPECT_TRUE(
      is(apply(OpKind::Reshape, {m23()}, {}, f32({3, 2})), f32({3, 2}), {1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(is(apply(OpKind::Reshape, {m23()}, {}, f32({6})), f32({6}), {1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(is(apply(OpKind::Reshape, {tensor(i64({1, 1}), {9})}, {}, i64({})), i64({}), {9}));
}

TEST(InterpretLayout, Transpose2D) {
  // [[1,2,3],[4,5,6]]^T = [[1,4],[2,5],[3,6]]
  EXPECT_TRUE(is(apply(OpKind::Transpose, {m23()}, {{"perm", IntList{1, 0}}}), f32({3, 2}),
                 {1, 4, 2, 5, 3, 6}));
}

TEST(InterpretLayout, TransposeIdentityPermCopies) {
  EXPECT_TRUE(is(apply(OpKind::Transpose, {m23()}, {{"perm", IntList{0, 1}}}), f32({2, 3}),
                 {1, 2, 3, 4, 5, 6}));
}

TEST(InterpretLayout, Transpose3D) {
  // in[a][b][c] = 6a + 3b + c, shape [2,2,3]; perm [1,2,0] gives shape
  // [2,3,2] with out[i][j][k] = in[k][i][j] = 6k + 3i + j.
  std::vector<double> in;
  for (int v = 0; v < 12; ++v)
    in.push_back(v);
  EXPECT_TRUE(
      is(apply(OpKind::Transpose, {tensor(f32({2, 2, 3}), in)}, {{"perm", IntList{1, 2, 0}}}),
         f32({2, 3, 2}), {0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11}));
  // perm [2,0,1]: shape [3,2,2], out[i][j][k] = in[j][k][i] = 6j + 3k + i.
  EXPECT_TRUE(
      is(apply(OpKind::Transpose, {tensor(f32({2, 2, 3}), in)}, {{"perm", IntList{2, 0, 1}}}),
         f32({3, 2, 2}), {0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11}));
}

TEST(InterpretLayout, BroadcastToRepeatsRowsColumnsAndScalars) {
  EXPECT_TRUE(is(apply(OpKind::BroadcastTo, {tensor(f32({3}), {1, 2, 3})}, {}, f32({2, 3})),
                 f32({2, 3}), {1, 2, 3, 1, 2, 3}));
  EXPECT_TRUE(is(apply(OpKind::BroadcastTo, {tensor(f32({2, 1}), {1, 2})}, {}, f32({2, 3})),
                 f32({2, 3}), {1, 1, 1, 2, 2, 2}));
  EXPECT_TRUE(is(apply(OpKind::BroadcastTo, {tensor(i64({}), {7})}, {}, i64({2, 2})), i64({2, 2}),
                 {7, 7, 7, 7}));
  EXPECT_TRUE(is(apply(OpKind::BroadcastTo, {tensor(f32({2, 1}), {1, 2})}, {}, f32({2, 2, 2})),
                 f32({2, 2, 2}), {1, 1, 2, 2, 1, 1, 2, 2}));
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

TEST(InterpretReduce, SumOverOneAxis) {
  EXPECT_TRUE(is(apply(OpKind::ReduceSum, {m23()}, {{"axes", IntList{0}}}), f32({3}), {5, 7, 9}));
  EXPECT_TRUE(is(apply(OpKind::ReduceSum, {m23()}, {{"axes", IntList{1}}}), f32({2}), {6, 15}));
}

TEST(InterpretReduce, SumKeepDims) {
  EXPECT_TRUE(is(apply(OpKind::ReduceSum, {m23()}, {{"axes", IntList{1}}, {"keepdims", true}}),
                 f32({2, 1}), {6, 15}));
  EXPECT_TRUE(is(apply(OpKind::ReduceSum, {m23()}, {{"axes", IntList{0, 1}}, {"keepdims", true}}),
                 f32({1, 1}), {21}));
}

TEST(InterpretReduce, SumOverAllAxesGivesAScalar) {
  EXPECT_TRUE(is(apply(OpKind::ReduceSum, {m23()}, {{"axes", IntList{0, 1}}}), f32({}), {21}));
}

TEST(InterpretReduce, SumOverSeveralAxes) {
  // in[a][b][c] = 6a + 3b + c over [2,2,3]; summing axes 0 and 2 leaves b:
  // b=0: (0+1+2) + (6+7+8) = 24; b=1: (3+4+5) + (9+10+11) = 42.
  std::vector<double> in;
  for (int v = 0; v < 12; ++v)
    in.push_back(v);
  EXPECT_TRUE(is(apply(OpKind::ReduceSum, {tensor(i64({2, 2, 3}), in)}, {{"axes", IntList{0, 2}}}),
                 i64({2}), {24, 42}));
}

TEST(InterpretReduce, SumOverNoAxesIsTheIdentity) {
  EXPECT_TRUE(is(apply(OpKind::ReduceSum, {m23()}, {{"axes", IntList{}}}), f32({2, 3}),
                 {1, 2, 3, 4, 5, 6}));
}

TEST(InterpretReduce, Mean) {
  EXPECT_TRUE(is(apply(OpKind::ReduceMean, {m23()}, {{"axes", IntList{1}}}), f32({2}), {2, 5}));
  EXPECT_TRUE(is(apply(OpKind::ReduceMean, {m23()}, {{"axes", IntList{0}}, {"keepdims", true}}),
                 f32({1, 3}), {2.5, 3.5, 4.5}));
  EXPECT_TRUE(is(apply(OpKind::ReduceMean, {m23()}, {{"axes", IntList{0, 1}}}), f32({}), {3.5}));
}

TEST(InterpretReduce, MeanOfIntegersTruncates) {
  EXPECT_TRUE(
      is(apply(OpKind::ReduceMean, {tensor(i64({2, 2}), {1, 2, 3, 5})}, {{"axes", IntList{1}}}),
         i64({2}), {1, 4}));
}

TEST(InterpretReduce, Max) {
  HostTensor x = tensor(f32({2, 3}), {1, 5, 3, 4, 2, 6});
  EXPECT_TRUE(is(apply(OpKind::ReduceMax, {x}, {{"axes", IntList{1}}}), f32({2}), {5, 6}));
  EXPECT_TRUE(is(apply(OpKind::ReduceMax, {x}, {{"axes", IntList{0}}}), f32({3}), {4, 5, 6}));
  EXPECT_TRUE(is(apply(OpKind::ReduceMax, {x}, {{"axes", IntList{0, 1}}}), f32({}), {6}));
  EXPECT_TRUE(is(apply(OpKind::ReduceMax, {x}, {{"axes", IntList{1}}, {"keepdims", true}}),
                 f32({2, 1}), {5, 6}));
}

TEST(InterpretReduce, MaxOfNegativeNumbers) {
  EXPECT_TRUE(is(apply(OpKind::ReduceMax, {tensor(f32({3}), {-7, -2, -9})}, {{"axes", IntList{0}}}),
                 f32({}), {-2}));
}

TEST(InterpretReduce, MaxPropagatesNaN) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(is(
      apply(OpKind::ReduceMax, {tensor(f64({2, 3}), {1, nan, 3, 4, 5, 6})}, {{"axes", IntList{1}}}),
      f64({2}), {nan, 6}));
}

/// reduce_max folds with IEEE maximum, as the JIT's llvm.maximum: +0 above
/// -0 in either order (unlike the elementwise maximum, where the first wins).
TEST(InterpretReduce, MaxPrefersPositiveZeroInEitherOrder) {
  HostTensor zeros = tensor(f32({2, 2}), {-0.0, 0.0, 0.0, -0.0});
  HostTensor max = apply(OpKind::ReduceMax, {zeros}, {{"axes", IntList{1}}});
  EXPECT_FALSE(std::signbit(max.get(0)));
  EXPECT_FALSE(std::signbit(max.get(1)));
}

TEST(InterpretArgmax, IndexOfTheMaximumAlongAnAxis) {
  HostTensor x = tensor(f32({2, 3}), {1, 5, 3, 7, 2, 0});
  EXPECT_TRUE(is(apply(OpKind::Argmax, {x}, {{"axis", int64_t(1)}}), i64({2}), {1, 0}));
  EXPECT_TRUE(is(apply(OpKind::Argmax, {x}, {{"axis", int64_t(0)}}), i64({3}), {1, 0, 0}));
}

TEST(InterpretArgmax, TiesGoToTheFirstIndex) {
  HostTensor x = tensor(f32({2, 3}), {1, 5, 5, 7, 2, 7});
  EXPECT_TRUE(is(apply(OpKind::Argmax, {x}, {{"axis", int64_t(1)}}), i64({2}), {1, 0}));
  EXPECT_TRUE(is(apply(OpKind::Argmax, {tensor(f32({4}), {3, 3, 3, 3})}, {{"axis", int64_t(0)}}),
                 i64({}), {0}));
}

TEST(InterpretArgmax, KeepDims) {
  HostTensor x = tensor(f32({2, 3}), {1, 5, 3, 7, 2, 0});
  EXPECT_TRUE(is(apply(OpKind::Argmax, {x}, {{"axis", int64_t(1)}, {"keepdims", true}}),
                 i64({2, 1}), {1, 0}));
  EXPECT_TRUE(is(apply(OpKind::Argmax, {x}, {{"axis", int64_t(0)}, {"keepdims", true}}),
                 i64({1, 3}), {1, 0, 0}));
}

TEST(InterpretArgmax, MiddleAxisOfA3DTensor) {
  // [2,3,2]; along axis 1 for each (a, c).
  HostTensor x = tensor(i64({2, 3, 2}), {0, 9,   //
                                         5, 1,   //
                                         2, 9,   //
                                         -1, -5, //
                                         -3, -4, //
                                         -2, -6});
  EXPECT_TRUE(is(apply(OpKind::Argmax, {x}, {{"axis", int64_t(1)}}), i64({2, 2}), {1, 0, 0, 1}));
}

TEST(InterpretArgmax, OverAnEmptyAxisIsAnError) {
  // numpy: "attempt to get argmax of an empty sequence". Either the shape
  // rule or the kernel must refuse; reading element 0 of nothing is a bug.
  Error e = errorFrom([] {
    apply(OpKind::Argmax, {HostTensor(f32({2, 0}))}, {{"axis", int64_t(1)}});
  });
  EXPECT_TRUE(e.kind() == ErrorKind::Verify || e.kind() == ErrorKind::Runtime) << e.what();
}

//===----------------------------------------------------------------------===//
// Linear algebra and neural-network ops
//===----------------------------------------------------------------------===//

TEST(InterpretNN, Matmul) {
  // [[1,2,3],[4,5,6]] . [[7,8],[9,10],[11,12]]
  //   = [[1*7+2*9+3*11, 1*8+2*10+3*12], [4*7+5*9+6*11, 4*8+5*10+6*12]]
  HostTensor b = tensor(f32({3, 2}), {7, 8, 9, 10, 11, 12});
  EXPECT_TRUE(is(apply(OpKind::Matmul, {m23(), b}), f32({2, 2}), {58, 64, 139, 154}));
}

TEST(InterpretNN, MatmulWithAColumnVector) {
  HostTensor w = tensor(f64({3, 1}), {1, 0, -1});
  EXPECT_TRUE(is(apply(OpKind::Matmul, {tensor(f64({2, 3}), {1, 2, 3, 4, 5, 6}), w}), f64({2, 1}),
                 {-2, -2}));
}

TEST(InterpretNN, MatmulWithAnEmptyInnerDimIsZero) {
  EXPECT_TRUE(is(apply(OpKind::Matmul, {HostTensor(f32({2, 0})), HostTensor(f32({0, 2}))}),
                 f32({2, 2}), {0, 0, 0, 0}));
}

TEST(InterpretNN, SoftmaxAlongAxis1) {
  // Row [1,2,3]: e^k / (e + e^2 + e^3). Row [1001,1002,1003] is the same
  // distribution (softmax is shift invariant; a naive e^1001 overflows).
  // Row [0,0,0] is uniform.
  HostTensor x = tensor(f64({3, 3}), {1, 2, 3, 1001, 1002, 1003, 0, 0, 0});
  double third = 1.0 / 3;
  EXPECT_TRUE(is(apply(OpKind::Softmax, {x}, {{"axis", int64_t(1)}}), f64({3, 3}),
                 {0.09003057317038046, 0.24472847105479764, 0.6652409557748218, //
                  0.09003057317038046, 0.24472847105479764, 0.6652409557748218, //
                  third, third, third},
                 1e-15));
}

TEST(InterpretNN, SoftmaxAlongAxis0) {
  // [[1,0],[3,0]]: column 0 is softmax([1,3]) = [1/(1+e^2), e^2/(1+e^2)];
  // column 1 is uniform.
  HostTensor x = tensor(f32({2, 2}), {1, 0, 3, 0});
  EXPECT_TRUE(is(apply(OpKind::Softmax, {x}, {{"axis", int64_t(0)}}), f32({2, 2}),
                 {0.11920292, 0.5, 0.88079708, 0.5}, 1e-7));
}

TEST(InterpretNN, SoftmaxRowsSumToOne) {
  HostTensor x = tensor(f32({2, 4}), {0.3, -1.2, 4.0, 2.2, -5, 0, 5, 10});
  HostTensor y = apply(OpKind::Softmax, {x}, {{"axis", int64_t(1)}});
  for (int r = 0; r < 2; ++r) {
    double sum = 0;
    for (int j = 0; j < 4; ++j) {
      EXPECT_GT(y.get(r * 4 + j), 0);
      sum += y.get(r * 4 + j);
    }
    EXPECT_NEAR(sum, 1, 1e-6) << "row " << r;
  }
}

TEST(InterpretNN, SoftmaxOfARank3TensorAlongTheMiddleAxis) {
  // [2,2,2]: along axis 1, pairs (x[a][0][c], x[a][1][c]).
  // Pair (0, 0) -> 1/2 each; pair (1, 3) -> [0.1192.., 0.8807..].
  HostTensor x = tensor(f64({2, 2, 2}), {0, 1, 0, 3, 5, 5, 5, 5});
  EXPECT_TRUE(is(apply(OpKind::Softmax, {x}, {{"axis", int64_t(1)}}), f64({2, 2, 2}),
                 {0.5, 0.11920292202211755, 0.5, 0.8807970779778823, 0.5, 0.5, 0.5, 0.5}, 1e-15));
}

TEST(InterpretNN, LogSoftmaxAlongAxis1) {
  // log_softmax(x) = x - log(e^1 + e^2 + e^3) = x - 3.4076059644443806;
  // for the zero row, -log(3).
  HostTensor x = tensor(f64({2, 3}), {1, 2, 3, 0, 0, 0});
  EXPECT_TRUE(is(apply(OpKind::LogSoftmax, {x}, {{"axis", int64_t(1)}}), f64({2, 3}),
                 {-2.4076059644443806, -1.4076059644443804, -0.4076059644443804, //
                  -1.0986122886681098, -1.0986122886681098, -1.0986122886681098},
                 1e-14));
}

TEST(InterpretNN, LogSoftmaxAlongAxis0) {
  // Column 0: [1,3] - log(e + e^3); column 1: -log 2.
  HostTensor x = tensor(f64({2, 2}), {1, 0, 3, 0});
  EXPECT_TRUE(is(
      apply(OpKind::LogSoftmax, {x}, {{"axis", int64_t(0)}}), f64({2, 2}),
      {-2.1269280110429727, -0.6931471805599453, -0.1269280110429726, -0.6931471805599453}, 1e-14));
}

TEST(InterpretNN, LogSoftmaxIsStableForLargeInputs) {
  HostTensor x = tensor(f32({1, 2}), {1000, 0});
  // log(1 + e^-1000) is 0 in f32; the other entry is -1000.
  EXPECT_TRUE(is(apply(OpKind::LogSoftmax, {x}, {{"axis", int64_t(1)}}), f32({1, 2}), {0, -1000}));
}

TEST(InterpretNN, OneHot) {
  HostTensor labels = tensor(i64({3}), {2, 0, 1});
  EXPECT_TRUE(is(apply(OpKind::OneHot, {labels}, {}, f32({3, 3})), f32({3, 3}),
                 {0, 0, 1, //
                  1, 0, 0, //
                  0, 1, 0}));
}

TEST(InterpretNN, OneHotOfU8LabelsWithMoreClasses) {
  HostTensor labels = tensor(u8({2, 2}), {3, 0, 1, 3});
  EXPECT_TRUE(is(apply(OpKind::OneHot, {labels}, {}, i64({2, 2, 4})), i64({2, 2, 4}),
                 {0, 0, 0, 1, 1, 0, 0, 0, //
                  0, 1, 0, 0, 0, 0, 0, 1}));
}

TEST(InterpretNN, OneHotLabelOutOfRangeIsARuntimeError) {
  Error high = errorFrom([] {
    apply(OpKind::OneHot, {tensor(i64({3}), {0, 3, 1})}, {}, f32({3, 3}));
  });
  EXPECT_EQ(high.kind(), ErrorKind::Runtime);
  EXPECT_TRUE(contains(high.message(), "one_hot")) << high.message();
  EXPECT_TRUE(contains(high.message(), "3")) << high.message();

  Error negative = errorFrom([] {
    apply(OpKind::OneHot, {tensor(i64({1}), {-1})}, {}, f32({1, 3}));
  });
  EXPECT_EQ(negative.kind(), ErrorKind::Runtime);
}

TEST(InterpretSources, ConstantSplat) {
  Function f("c");
  Builder b(f);
  HostTensor seven = tensor(f32({2, 2}), {7, 7, 7, 7});
  f.setResults({b.constant(seven)});
  std::vector<HostTensor> out = runtime::interpret(f, {});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is(out[0], f32({2, 2}), {7, 7, 7, 7}));
}

TEST(InterpretSources, ConstantDense) {
  Function f("c");
  Builder b(f);
  f.setResults({b.constant(tensor(i64({3}), {4, -5, 6})), b.scalar(0.25, DType::F64)});
  std::vector<HostTensor> out = runtime::interpret(f, {});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(is(out[0], i64({3}), {4, -5, 6}));
  EXPECT_TRUE(is(out[1], f64({}), {0.25}));
}

TEST(InterpretSources, ConstantResultDoesNotAliasTheAttribute) {
  Function f("c");
  Builder b(f);
  HostTensor value = tensor(f32({2}), {1, 2});
  f.setResults({b.constant(value)});
  HostTensor out = runtime::interpret(f, {})[0];
  out.set(0, 100);
  EXPECT_EQ(f.defOf(f.results()[0]).attrs.getDense("value").get(0), 1);
}

//===----------------------------------------------------------------------===//
// Whole functions
//===----------------------------------------------------------------------===//

TEST(InterpretFunction, LinearRegressionStepFromTheDesign) {
  // loss = mean((x w + b - y)^2) with x = [[1],[2],[3]], w = [[2]], b = [1],
  // y = [[3],[4],[8]]: predictions [3,5,7], errors [0,1,-1], loss 2/3.
  Function f("linreg_step");
  Builder bl(f);
  ValueId x = bl.param("x", f32({3, 1}));
  ValueId y = bl.param("y", f32({3, 1}));
  ValueId w = bl.param("w", f32({1, 1}));
  ValueId b = bl.param("b", f32({1}));
  ValueId d = bl.sub(bl.add(bl.matmul(x, w), b), y);
  f.setResults({bl.reduceMean(bl.mul(d, d), {0, 1})});
  std::vector<HostTensor> out = runtime::interpret(
      f, std::vector{tensor(f32({3, 1}), {1, 2, 3}), tensor(f32({3, 1}), {3, 4, 8}),
                     tensor(f32({1, 1}), {2}), tensor(f32({1}), {1})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is(out[0], f32({}), {2.0 / 3}, 1e-7));
}

TEST(InterpretFunction, F64AndF32DifferInPrecision) {
  // 0.1 + 0.2 is 0.30000000000000004 in double; in float it rounds to 0.3f.
  auto sum = [](DType dt) {
    Function f("sum");
    Builder b(f);
    ValueId x = b.param("x", TensorType{dt, Shape{}});
    f.setResults({b.add(x, b.scalar(0.2, dt))});
    return runtime::interpret(f, std::vector{HostTensor::scalar(0.1, dt)})[0];
  };
  HostTensor d = sum(DType::F64), s = sum(DType::F32);
  EXPECT_EQ(d.dtype(), DType::F64);
  EXPECT_EQ(s.dtype(), DType::F32);
  EXPECT_EQ(d.get(0), 0.1 + 0.2);
  EXPECT_NE(d.get(0), 0.3);
  EXPECT_EQ(s.get(0), double(0.3f));
}

TEST(InterpretFunction, F32ResultsAreRoundedAfterEveryOp) {
  // (1 + 2^-30) - 1: the sum rounds to 1 in f32, so the difference is 0;
  // in f64 it is exactly 2^-30.
  auto run = [](DType dt) {
    Function f("round");
    Builder b(f);
    ValueId x = b.param("x", TensorType{dt, Shape{}});
    ValueId one = b.scalar(1, dt);
    f.setResults({b.sub(b.add(x, one), one)});
    return runtime::interpret(f, std::vector{HostTensor::scalar(std::ldexp(1.0, -30), dt)})[0].get(
        0);
  };
  EXPECT_EQ(run(DType::F32), 0);
  EXPECT_EQ(run(DType::F64), std::ldexp(1.0, -30));
}

TEST(InterpretFunction, ResultMayBeAParameter) {
  Function f("id");
  Builder b(f);
  ValueId x = b.param("x", f32({2}));
  f.setResults({x});
  std::vector<HostTensor> out = runtime::interpret(f, std::vector{tensor(f32({2}), {3, 4})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is(out[0], f32({2}), {3, 4}));
}

TEST(InterpretFunction, SeveralResultsInOrder) {
  Function f("two");
  Builder b(f);
  ValueId x = b.param("x", f32({2}));
  ValueId twice = b.add(x, x);
  f.setResults({twice, x, twice});
  std::vector<HostTensor> out = runtime::interpret(f, std::vector{tensor(f32({2}), {1, 2})});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(is(out[0], f32({2}), {2, 4}));
  EXPECT_TRUE(is(out[1], f32({2}), {1, 2}));
  EXPECT_TRUE(is(out[2], f32({2}), {2, 4}));
}

TEST(InterpretFunction, NoResults) {
  Function f("nothing");
  Builder b(f);
  b.param("x", f32({2}));
  EXPECT_TRUE(runtime::interpret(f, std::vector{tensor(f32({2}), {1, 2})}).empty());
}

TEST(InterpretFunction, InputsAreNotModified) {
  Function f("neg");
  Builder b(f);
  ValueId x = b.param("x", f32({2}));
  f.setResults({b.neg(x)});
  HostTensor in = tensor(f32({2}), {1, 2});
  runtime::interpret(f, std::vector{in});
  EXPECT_TRUE(is(in, f32({2}), {1, 2}));
}

//===----------------------------------------------------------------------===//
// Wrong inputs
//===----------------------------------------------------------------------===//

namespace {
Function twoParams() {
  Function f("pair");
  Builder b(f);
  ValueId x = b.param("x", f32({2, 3}));
  ValueId y = b.param("y", f32({3}));
  f.setResults({b.add(x, y)});
  return f;
}
} // namespace

TEST(InterpretInputs, WrongCountIsAUsageError) {
  Function f = twoParams();
  Error e = errorFrom([&] { runtime::interpret(f, std::vector{m23()}); });
  EXPECT_EQ(e.kind(), ErrorKind::Usage);
  EXPECT_TRUE(contains(e.message(), "@pair")) << e.message();
  EXPECT_TRUE(contains(e.message(), "2")) << e.message();
  EXPECT_TRUE(contains(e.message(), "1")) << e.message();

  HostTensor y = tensor(f32({3}), {1, 2, 3});
  EXPECT_EQ(errorFrom([&] {
              runtime::interpret(f, std::vector{m23(), y, y});
            }).kind(),
            ErrorKind::Usage);
}

TEST(InterpretInputs, WrongShapeNamesTheParameterAndBothTypes) {
  Function f = twoParams();
  Error e = errorFrom([&] { runtime::interpret(f, std::vector{m23(), tensor(f32({2}), {1, 2})}); });
  EXPECT_EQ(e.kind(), ErrorKind::Usage);
  EXPECT_TRUE(contains(e.message(), "%y")) << e.message();
  EXPECT_TRUE(contains(e.message(), "f32[3]")) << e.message();
  EXPECT_TRUE(contains(e.message(), "f32[2]")) << e.message();
}

TEST(InterpretInputs, WrongDTypeNamesTheParameter) {
  Function f = twoParams();
  HostTensor x64 = tensor(f64({2, 3}), {1, 2, 3, 4, 5, 6});
  Error e = errorFrom([&] {
    runtime::interpret(f, std::vector{x64, tensor(f32({3}), {1, 2, 3})});
  });
  EXPECT_EQ(e.kind(), ErrorKind::Usage);
  EXPECT_TRUE(contains(e.message(), "%x")) << e.message();
  EXPECT_TRUE(contains(e.message(), "f64[2,3]")) << e.message();
}

TEST(InterpretInputs, UndefinedInputIsAUsageError) {
  Function f = twoParams();
  Error e = errorFrom([&] { runtime::interpret(f, std::vector{m23(), HostTensor()}); });
  EXPECT_EQ(e.kind(), ErrorKind::Usage);
  EXPECT_TRUE(contains(e.message(), "%y")) << e.message();
}

//===----------------------------------------------------------------------===//
// Coverage of the op table
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// Regions
//===----------------------------------------------------------------------===//

TEST(InterpretFused, RunsItsBodyAndReturnsEveryResult) {
  // @body(a, b) = (a + b, (a + b) * b), fused into one node of @f.
  Function body("fused_add_mul");
  Builder bb(body);
  ValueId a = bb.param("a", f32({2, 3})), b = bb.param("b", f32({3}));
  ValueId sum = bb.add(a, b);
  body.setResults({sum, bb.mul(sum, b)});

  Function f("f");
  Builder fb(f);
  ValueId x = fb.param("x", f32({2, 3})), y = fb.param("y", f32({3}));
  std::vector<ValueId> r = fb.fused(FusionKind::Loop, {x, y}, body);
  ASSERT_EQ(r.size(), 2u);
  f.setResults(r);
  auto out = runtime::interpret(f, std::vector{m23(), tensor(f32({3}), {1, 2, 3})});
  EXPECT_TRUE(is(out[0], f32({2, 3}), {2, 4, 6, 5, 7, 9}));
  EXPECT_TRUE(is(out[1], f32({2, 3}), {2, 8, 18, 5, 14, 27}));
}

TEST(InterpretFused, OperandTypesMustMatchTheBody) {
  Function body("neg");
  Builder bb(body);
  body.setResults({bb.neg(bb.param("a", f32({2})))});
  Function f("f");
  Builder fb(f);
  ValueId x = fb.param("x", f32({3}));
  Error e = errorFrom([&] { fb.fused(FusionKind::Loop, {x}, body); });
  EXPECT_TRUE(contains(e.message(), "f32[3]")) << e.message();
  EXPECT_TRUE(contains(e.message(), "f32[2]")) << e.message();
}

TEST(InterpretCoverage, EveryOpOfTheTableHasAnInterpreterTest) {
  for (const OpDef *def : allOps())
    EXPECT_TRUE(kCoveredOps.count(def->name))
        << "op '" << def->name << "' has no test in InterpreterTest.cpp: add one with "
        << "hand-computed values, then add its name to kCoveredOps";
}

TEST(InterpretCoverage, CoveredNamesAreRealOps) {
  for (std::string_view name : kCoveredOps)
    EXPECT_NE(findOp(name), nullptr) << "kCoveredOps lists '" << name << "', which is not an op";
}
