//===- BuilderTest.cpp - Checked construction of IR -----------------------===//
//
// Specification of kiln/ir/Builder.h: every node the builder creates is typed
// by its op's shape rule, and every mistake is an Error(Verify) that names the
// op and the offending types. Also normalizeAxes, unbroadcast and the
// structural hash of functions.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "ErrorTestSupport.h"

#include <gtest/gtest.h>

#include <limits>

using namespace kiln;
using namespace kiln::ir;

namespace {

using kiln::test::errorFrom;

TensorType f32(Shape s) { return {DType::F32, std::move(s)}; }
TensorType f64(Shape s) { return {DType::F64, std::move(s)}; }
TensorType i64(Shape s) { return {DType::I64, std::move(s)}; }
TensorType boolean(Shape s) { return {DType::Bool, std::move(s)}; }

/// The error is a Verify error whose message contains every one of `parts`.
::testing::AssertionResult verifyErrorMentions(const Error &e,
                                               std::initializer_list<std::string_view> parts) {
  if (e.kind() != ErrorKind::Verify)
    return ::testing::AssertionFailure() << "kind is not Verify: " << e.what();
  for (std::string_view p : parts)
    if (e.message().find(p) == std::string::npos)
      return ::testing::AssertionFailure() << "\"" << e.message() << "\" lacks \"" << p << "\"";
  return ::testing::AssertionSuccess();
}

/// A function with a builder, for tests that build one function.
struct Fixture {
  Function f{"test"};
  Builder b{f};
};

} // namespace

//===----------------------------------------------------------------------===//
// Typed nodes
//===----------------------------------------------------------------------===//

TEST(BuilderNodes, ParamsAreTypedAndNamed) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{10, 1}));
  ValueId y = t.b.param("y", i64(Shape{}));
  ASSERT_EQ(t.f.params().size(), 2u);
  EXPECT_EQ(t.f.params()[0], x);
  EXPECT_EQ(t.f.params()[1], y);
  EXPECT_TRUE(t.f.isParam(x));
  EXPECT_EQ(t.f.value(x).name, "x");
  EXPECT_EQ(t.f.value(y).index, 1);
  EXPECT_EQ(t.b.type(x), f32(Shape{10, 1}));
  EXPECT_EQ(t.b.shape(y), Shape{});
  EXPECT_EQ(t.b.dtype(y), DType::I64);
}

TEST(BuilderNodes, ParamWithInvalidShapeIsRejected) {
  Fixture t;
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.param("x", f32(Shape{2, -1}));
                                  }),
                                  {"negative"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.param("x", f32(Shape{kMaxElements, 2}));
                                  }),
                                  {"exceeds"}));
  EXPECT_TRUE(t.f.params().empty());
}

TEST(BuilderNodes, CreateAppendsOneNodeWithTheInferredType) {
  Fixture t;
  ValueId a = t.b.param("a", f32(Shape{2, 3}));
  ValueId w = t.b.param("w", f32(Shape{3, 4}));
  ValueId m = t.b.matmul(a, w);
  ASSERT_EQ(t.f.nodes().size(), 1u);
  const Node &n = t.f.nodes()[0];
  EXPECT_EQ(n.op, OpKind::Matmul);
  EXPECT_EQ(n.operands, (std::vector<ValueId>{a, w}));
  EXPECT_EQ(n.result(), m);
  EXPECT_FALSE(t.f.isParam(m));
  EXPECT_EQ(&t.f.defOf(m), &t.f.nodes()[0]);
  EXPECT_EQ(t.b.type(m), f32(Shape{2, 4}));
}

TEST(BuilderNodes, ResultTypesFollowTheShapeRules) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  ValueId row = t.b.param("row", f32(Shape{3}));
  ValueId col = t.b.param("col", f32(Shape{2, 1}));
  EXPECT_EQ(t.b.type(t.b.add(x, row)), f32(Shape{2, 3}));
  EXPECT_EQ(t.b.type(t.b.mul(col, row)), f32(Shape{2, 3}));
  EXPECT_EQ(t.b.type(t.b.sub(x, t.b.scalar(1))), f32(Shape{2, 3}));
  EXPECT_EQ(t.b.type(t.b.create(OpKind::Lt, {x, row})), boolean(Shape{2, 3}));
  EXPECT_EQ(t.b.type(t.b.create(OpKind::Argmax, {x}, {{"axis", int64_t(1)}})), i64(Shape{2}));
  EXPECT_EQ(t.b.type(t.b.reduceSum(x, {0})), f32(Shape{3}));
  EXPECT_EQ(t.b.type(t.b.reduceMean(x, {0, 1})), f32(Shape{}));
  EXPECT_EQ(t.b.type(t.b.reduceSum(x, {1}, /*keepdims=*/true)), f32(Shape{2, 1}));
  EXPECT_EQ(t.b.type(t.b.transpose(x)), f32(Shape{3, 2}));
  EXPECT_EQ(t.b.type(t.b.pow(x, 2)), f32(Shape{2, 3}));
  EXPECT_EQ(t.b.type(t.b.create(OpKind::Softmax, {x}, {{"axis", int64_t(1)}})), f32(Shape{2, 3}));
}

TEST(BuilderNodes, NodesGetTheCurrentLocation) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2}));
  Location loc{std::make_shared<const std::string>("m.kir"), 3, 7};
  t.b.setLoc(loc);
  t.b.neg(x);
  EXPECT_EQ(t.f.nodes()[0].loc.str(), "m.kir:3:7");
}

TEST(BuilderNodes, ScalarIsARankZeroConstant) {
  Fixture t;
  ValueId s = t.b.scalar(2.5, DType::F64);
  EXPECT_EQ(t.b.type(s), f64(Shape{}));
  const Node &n = t.f.defOf(s);
  EXPECT_EQ(n.op, OpKind::Constant);
  EXPECT_EQ(n.attrs.getDense("value").get(0), 2.5);
}

TEST(BuilderNodes, ConstantTakesItsTypeFromTheValue) {
  Fixture t;
  HostTensor v = HostTensor::fromDoubles(i64(Shape{2}), std::vector<double>{4, 5});
  ValueId c = t.b.constant(v);
  EXPECT_EQ(t.b.type(c), i64(Shape{2}));
  EXPECT_TRUE(t.f.defOf(c).attrs.getDense("value").identical(v));
}

TEST(BuilderNodes, NoOpSugarAddsNoNode) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  EXPECT_EQ(t.b.cast(x, DType::F32), x);
  EXPECT_EQ(t.b.reshape(x, Shape{2, 3}), x);
  EXPECT_EQ(t.b.broadcastTo(x, Shape{2, 3}), x);
  EXPECT_EQ(t.b.unbroadcast(x, Shape{2, 3}), x);
  EXPECT_TRUE(t.f.nodes().empty());
}

TEST(BuilderNodes, OperandFromAnotherFunctionIsAnInternalError) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2}));
  Fixture other;
  EXPECT_EQ(errorFrom([&] { other.b.neg(x); }).kind(), ErrorKind::Internal);
  EXPECT_EQ(errorFrom([&] { t.b.neg(ValueId{}); }).kind(), ErrorKind::Internal);
}

//===----------------------------------------------------------------------===//
// Shape and dtype errors name the op and the types
//===----------------------------------------------------------------------===//

TEST(BuilderErrors, IncompatibleShapesNameTheOpAndBothTypes) {
  Fixture t;
  ValueId a = t.b.param("a", f32(Shape{2, 3}));
  ValueId b = t.b.param("b", f32(Shape{4}));
  Error e = errorFrom([&] { t.b.add(a, b); });
  EXPECT_TRUE(verifyErrorMentions(e, {"'add'", "f32[2,3]", "f32[4]"}));
  EXPECT_TRUE(t.f.nodes().empty()) << "a rejected node is not appended";
}

TEST(BuilderErrors, DTypeMismatchNamesBothTypes) {
  Fixture t;
  ValueId a = t.b.param("a", f32(Shape{2}));
  ValueId b = t.b.param("b", f64(Shape{2}));
  EXPECT_TRUE(
      verifyErrorMentions(errorFrom([&] { t.b.mul(a, b); }), {"'mul'", "f32[2]", "f64[2]"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.create(OpKind::Eq, {a, b}); }), {"'eq'"}));
}

TEST(BuilderErrors, ArithmeticOnBoolIsRejected) {
  Fixture t;
  ValueId a = t.b.param("a", boolean(Shape{2}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.add(a, a); }), {"'add'", "bool[2]"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.reduceSum(a, {0}); }), {"'reduce_sum'"}));
}

TEST(BuilderErrors, FloatOnlyOpsRejectIntegers) {
  Fixture t;
  ValueId n = t.b.param("n", i64(Shape{3}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.exp(n); }), {"'exp'", "i64[3]"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.pow(n, 2); }), {"'pow'", "i64[3]"}));
  EXPECT_TRUE(
      verifyErrorMentions(errorFrom([&] { t.b.create(OpKind::Sigmoid, {n}); }), {"'sigmoid'"}));
}

TEST(BuilderErrors, MatmulNeedsMatchingMatrices) {
  Fixture t;
  ValueId a = t.b.param("a", f32(Shape{2, 3}));
  ValueId b = t.b.param("b", f32(Shape{4, 2}));
  ValueId v = t.b.param("v", f32(Shape{3}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.matmul(a, b); }),
                                  {"'matmul'", "f32[2,3]", "f32[4,2]"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.matmul(a, v); }), {"'matmul'", "f32[3]"}));
}

TEST(BuilderErrors, SelectNeedsABoolCondition) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.select(x, x, x); }), {"'select'", "f32[2]"}));
}

TEST(BuilderErrors, TransposePermMustBeAPermutation) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.transpose(x, {0}); }), {"'transpose'"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.transpose(x, {0, 0}); }), {"'transpose'"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.transpose(x, {1, 2}); }), {"'transpose'"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.transpose(x, {-1, 0}); }), {"'transpose'"}));
}

TEST(BuilderErrors, ReductionAxesGivenToCreateMustBeCanonical) {
  // The sugar normalises axes; a raw node must carry sorted, unique, in-range ones.
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  for (IntList axes : {IntList{1, 0}, IntList{0, 0}, IntList{2}, IntList{-1}})
    EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                      t.b.create(OpKind::ReduceSum, {x}, {{"axes", axes}});
                                    }),
                                    {"'reduce_sum'"}));
}

TEST(BuilderErrors, AxisOfSoftmaxAndArgmaxMustBeInRange) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.create(OpKind::Softmax, {x}, {{"axis", int64_t(2)}});
                                  }),
                                  {"'softmax'", "2"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.create(OpKind::Argmax, {x}, {{"axis", int64_t(-1)}});
                                  }),
                                  {"'argmax'"}));
}

TEST(BuilderErrors, ResultShapesBeyondMaxElementsAreRejected) {
  // Each operand is a valid shape, but the broadcast or product result would
  // have 2^80 elements: its numel() overflows int64. Shape.h promises that
  // such shapes are rejected.
  Fixture t;
  int64_t big = int64_t(1) << 40;
  ValueId col = t.b.param("col", f32(Shape{big, 1}));
  ValueId row = t.b.param("row", f32(Shape{1, big}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.add(col, row); }), {"exceeds"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.matmul(col, row); }), {"exceeds"}));
}

//===----------------------------------------------------------------------===//
// Arity and attributes
//===----------------------------------------------------------------------===//

TEST(BuilderErrors, WrongArityNamesTheOpAndCounts) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2}));
  EXPECT_TRUE(
      verifyErrorMentions(errorFrom([&] { t.b.create(OpKind::Add, {x}); }), {"'add'", "2", "1"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.create(OpKind::Neg, {x, x});
                                  }),
                                  {"'neg'", "1", "2"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.create(OpKind::Select, {x, x});
                                  }),
                                  {"'select'", "3"}));
}

TEST(BuilderErrors, UnknownAttributeIsNamed) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.create(OpKind::Add, {x, x}, {{"alpha", 2.0}});
                                  }),
                                  {"'add'", "'alpha'"}));
  EXPECT_TRUE(verifyErrorMentions(
      errorFrom([&] {
        t.b.create(OpKind::Softmax, {x}, {{"axis", int64_t(0)}, {"dim", int64_t(0)}});
      }),
      {"'softmax'", "'dim'"}));
}

TEST(BuilderErrors, MissingRequiredAttributeIsNamed) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.create(OpKind::Transpose, {x}); }),
                                  {"'transpose'", "'perm'"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.create(OpKind::Pow, {x}); }),
                                  {"'pow'", "'exponent'"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.create(OpKind::ReduceMax, {x}, {{"keepdims", true}});
                                  }),
                                  {"'reduce_max'", "'axes'"}));
}

TEST(BuilderErrors, OptionalAttributeMayBeLeftOut) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  ValueId r = t.b.create(OpKind::ReduceMax, {x}, {{"axes", IntList{1}}});
  EXPECT_EQ(t.b.type(r), f32(Shape{2})) << "keepdims defaults to false";
}

TEST(BuilderErrors, AttributeOfTheWrongKindIsNamed) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.create(OpKind::Transpose, {x}, {{"perm", int64_t(1)}});
                                  }),
                                  {"'perm'", "'transpose'", "integer list"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.create(OpKind::Softmax, {x}, {{"axis", 1.0}});
                                  }),
                                  {"'axis'", "'softmax'"}));
  EXPECT_TRUE(verifyErrorMentions(
      errorFrom([&] {
        t.b.create(OpKind::ReduceSum, {x}, {{"axes", IntList{0}}, {"keepdims", int64_t(1)}});
      }),
      {"'keepdims'", "bool"}));
}

TEST(BuilderErrors, IntegerIsAcceptedWhereAFloatAttributeIsExpected) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2}));
  ValueId p = t.b.create(OpKind::Pow, {x}, {{"exponent", int64_t(3)}});
  EXPECT_EQ(t.f.defOf(p).attrs.getFloat("exponent"), 3.0);
}

//===----------------------------------------------------------------------===//
// Ops with a declared result type
//===----------------------------------------------------------------------===//

TEST(BuilderDeclared, DeclaredTypeOpsNeedOne) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.create(OpKind::Reshape, {x}); }),
                                  {"'reshape'", "result type"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.create(OpKind::Cast, {x}); }),
                                  {"'cast'", "result type"}));
}

TEST(BuilderDeclared, DeclaredTypeMustMatchTheInferredOne) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  Error e = errorFrom([&] { t.b.create(OpKind::Add, {x, x}, {}, f32(Shape{6})); });
  EXPECT_TRUE(verifyErrorMentions(e, {"'add'", "f32[6]", "f32[2,3]"}));
}

TEST(BuilderDeclared, DeclaredTypeMustBeAValidShape) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{0}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.create(OpKind::Reshape, {x}, {}, f32(Shape{-1, 0}));
                                  }),
                                  {"negative"}));
}

TEST(BuilderDeclared, ReshapeKeepsTheElementCount) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  EXPECT_EQ(t.b.type(t.b.reshape(x, Shape{3, 2})), f32(Shape{3, 2}));
  EXPECT_EQ(t.b.type(t.b.reshape(x, Shape{6})), f32(Shape{6}));
  Error e = errorFrom([&] { t.b.reshape(x, Shape{4}); });
  EXPECT_TRUE(verifyErrorMentions(e, {"'reshape'", "f32[2,3]", "f32[4]", "6", "4"}));
}

TEST(BuilderDeclared, ReshapeCannotChangeTheDType) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  EXPECT_TRUE(verifyErrorMentions(
      errorFrom([&] { t.b.create(OpKind::Reshape, {x}, {}, f64(Shape{6})); }), {"'reshape'"}));
}

TEST(BuilderDeclared, CastChangesTheDTypeButNotTheShape) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3}));
  EXPECT_EQ(t.b.type(t.b.cast(x, DType::I64)), i64(Shape{2, 3}));
  EXPECT_EQ(t.b.type(t.b.cast(x, DType::Bool)), boolean(Shape{2, 3}));
  Error e = errorFrom([&] { t.b.create(OpKind::Cast, {x}, {}, i64(Shape{6})); });
  EXPECT_TRUE(verifyErrorMentions(e, {"'cast'", "f32[2,3]", "i64[6]"}));
}

TEST(BuilderDeclared, BroadcastToFollowsNumpyRules) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 1}));
  EXPECT_EQ(t.b.type(t.b.broadcastTo(x, Shape{4, 2, 3})), f32(Shape{4, 2, 3}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.broadcastTo(x, Shape{3, 3});
                                  }),
                                  {"'broadcast_to'", "f32[2,1]", "f32[3,3]"}));
  EXPECT_TRUE(
      verifyErrorMentions(errorFrom([&] { t.b.broadcastTo(x, Shape{2}); }), {"'broadcast_to'"}));
}

TEST(BuilderDeclared, ConstantValueMustHaveTheResultType) {
  Fixture t;
  HostTensor v(f32(Shape{2}));
  Error e = errorFrom([&] { t.b.create(OpKind::Constant, {}, {{"value", v}}, f32(Shape{3})); });
  EXPECT_TRUE(verifyErrorMentions(e, {"'constant'", "f32[2]", "f32[3]"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] {
                                    t.b.create(OpKind::Constant, {}, {{"value", v}}, f64(Shape{2}));
                                  }),
                                  {"'constant'"}));
  EXPECT_TRUE(
      verifyErrorMentions(errorFrom([&] { t.b.create(OpKind::Constant, {}, {}, f32(Shape{2})); }),
                          {"'constant'", "'value'"}));
}

TEST(BuilderDeclared, ConstantOfAnUndefinedTensorIsRejected) {
  // A default HostTensor has no storage; a constant made of it would claim
  // one f32 element that does not exist.
  Fixture t;
  EXPECT_THROW(t.b.constant(HostTensor()), Error);
}

TEST(BuilderDeclared, OneHotAppendsAClassAxis) {
  Fixture t;
  ValueId labels = t.b.param("labels", i64(Shape{4}));
  ValueId oh = t.b.create(OpKind::OneHot, {labels}, {}, f32(Shape{4, 10}));
  EXPECT_EQ(t.b.type(oh), f32(Shape{4, 10}));

  ValueId grid = t.b.param("grid", TensorType{DType::U8, Shape{2, 3}});
  EXPECT_EQ(t.b.type(t.b.create(OpKind::OneHot, {grid}, {}, f64(Shape{2, 3, 5}))),
            f64(Shape{2, 3, 5}));
}

TEST(BuilderDeclared, OneHotShapeRule) {
  Fixture t;
  ValueId labels = t.b.param("labels", i64(Shape{4}));
  ValueId floats = t.b.param("floats", f32(Shape{4}));
  auto oneHot = [&](ValueId l, TensorType to) {
    return errorFrom([&] { t.b.create(OpKind::OneHot, {l}, {}, to); });
  };
  EXPECT_TRUE(verifyErrorMentions(oneHot(floats, f32(Shape{4, 10})), {"'one_hot'", "f32[4]"}));
  EXPECT_TRUE(verifyErrorMentions(oneHot(labels, f32(Shape{10, 4})), {"'one_hot'", "f32[10,4]"}));
  EXPECT_TRUE(verifyErrorMentions(oneHot(labels, f32(Shape{4})), {"'one_hot'"}));
  EXPECT_TRUE(verifyErrorMentions(oneHot(labels, f32(Shape{4, 10, 1})), {"'one_hot'"}));
  EXPECT_TRUE(verifyErrorMentions(oneHot(labels, f32(Shape{4, 0})), {"'one_hot'"}))
      << "at least one class";
}

//===----------------------------------------------------------------------===//
// normalizeAxes
//===----------------------------------------------------------------------===//

TEST(NormalizeAxes, NegativeAxesCountFromTheEnd) {
  EXPECT_EQ(normalizeAxes({-1}, 3, "reduce_sum"), (IntList{2}));
  EXPECT_EQ(normalizeAxes({-3}, 3, "reduce_sum"), (IntList{0}));
  EXPECT_EQ(normalizeAxes({0, -1}, 2, "reduce_sum"), (IntList{0, 1}));
}

TEST(NormalizeAxes, ResultIsSorted) {
  EXPECT_EQ(normalizeAxes({2, 0}, 3, "reduce_sum"), (IntList{0, 2}));
  EXPECT_EQ(normalizeAxes({-1, 0, 1}, 3, "reduce_sum"), (IntList{0, 1, 2}));
}

TEST(NormalizeAxes, EmptyStaysEmpty) {
  EXPECT_EQ(normalizeAxes({}, 3, "reduce_sum"), IntList{});
  EXPECT_EQ(normalizeAxes({}, 0, "reduce_sum"), IntList{});
}

TEST(NormalizeAxes, OutOfRangeNamesTheOpAxisAndRank) {
  EXPECT_TRUE(verifyErrorMentions(errorFrom([] { normalizeAxes({3}, 3, "reduce_mean"); }),
                                  {"'reduce_mean'", "3"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([] { normalizeAxes({-4}, 3, "reduce_sum"); }),
                                  {"'reduce_sum'", "-4", "3"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([] { normalizeAxes({0}, 0, "reduce_sum"); }),
                                  {"'reduce_sum'"}));
}

TEST(NormalizeAxes, RepeatedAxisIsRejectedAlsoWhenSpelledDifferently) {
  EXPECT_TRUE(verifyErrorMentions(errorFrom([] {
                                    normalizeAxes({1, 1}, 3, "reduce_sum");
                                  }),
                                  {"'reduce_sum'", "repeated"}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([] {
                                    normalizeAxes({2, -1}, 3, "reduce_sum");
                                  }),
                                  {"repeated"}));
}

TEST(NormalizeAxes, BuilderSugarNormalises) {
  Fixture t;
  ValueId x = t.b.param("x", f32(Shape{2, 3, 4}));
  ValueId r = t.b.reduceSum(x, {-1, 0});
  EXPECT_EQ(t.f.defOf(r).attrs.getInts("axes"), (IntList{0, 2}));
  EXPECT_EQ(t.b.type(r), f32(Shape{3}));
  EXPECT_TRUE(verifyErrorMentions(errorFrom([&] { t.b.reduceMean(x, {3}); }), {"'reduce_mean'"}));
}

//===----------------------------------------------------------------------===//
// unbroadcast: the gradient of an implicit broadcast
//===----------------------------------------------------------------------===//

namespace {
/// The reduce_sum node that produced `v` (looking through a reshape), or null.
const Node *sumBehind(const Function &f, ValueId v) {
  if (f.isParam(v))
    return nullptr;
  const Node *n = &f.defOf(v);
  if (n->op == OpKind::Reshape)
    n = f.isParam(n->operands[0]) ? nullptr : &f.defOf(n->operands[0]);
  return n && n->op == OpKind::ReduceSum ? n : nullptr;
}
} // namespace

TEST(Unbroadcast, SameShapeIsTheIdentity) {
  Fixture t;
  ValueId g = t.b.param("g", f32(Shape{2, 3}));
  EXPECT_EQ(t.b.unbroadcast(g, Shape{2, 3}), g);
  ValueId s = t.b.param("s", f32(Shape{}));
  EXPECT_EQ(t.b.unbroadcast(s, Shape{}), s);
  EXPECT_TRUE(t.f.nodes().empty());
}

TEST(Unbroadcast, LeadingAxesAreSummedAway) {
  Fixture t;
  ValueId g = t.b.param("g", f32(Shape{2, 3}));
  ValueId r = t.b.unbroadcast(g, Shape{3});
  EXPECT_EQ(t.b.type(r), f32(Shape{3}));
  const Node *sum = sumBehind(t.f, r);
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(sum->attrs.getInts("axes"), (IntList{0}));
}

TEST(Unbroadcast, StretchedAxesAreSummedAndKept) {
  Fixture t;
  ValueId g = t.b.param("g", f32(Shape{2, 3}));
  ValueId r = t.b.unbroadcast(g, Shape{2, 1});
  EXPECT_EQ(t.b.type(r), f32(Shape{2, 1}));
  const Node *sum = sumBehind(t.f, r);
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(sum->attrs.getInts("axes"), (IntList{1}));
}

TEST(Unbroadcast, BothKindsAtOnce) {
  Fixture t;
  ValueId g = t.b.param("g", f32(Shape{4, 2, 3}));
  ValueId r = t.b.unbroadcast(g, Shape{1, 3});
  EXPECT_EQ(t.b.type(r), f32(Shape{1, 3}));
  const Node *sum = sumBehind(t.f, r);
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(sum->attrs.getInts("axes"), (IntList{0, 1}));
}

TEST(Unbroadcast, ToAScalarSumsEverything) {
  Fixture t;
  ValueId g = t.b.param("g", f32(Shape{2, 3}));
  ValueId r = t.b.unbroadcast(g, Shape{});
  EXPECT_EQ(t.b.type(r), f32(Shape{}));
  const Node *sum = sumBehind(t.f, r);
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(sum->attrs.getInts("axes"), (IntList{0, 1}));
}

TEST(Unbroadcast, SizeOneAxesThatWereNotStretchedAreNotSummed) {
  Fixture t;
  ValueId g = t.b.param("g", f32(Shape{5, 1, 3}));
  ValueId r = t.b.unbroadcast(g, Shape{1, 3});
  EXPECT_EQ(t.b.type(r), f32(Shape{1, 3}));
  const Node *sum = sumBehind(t.f, r);
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(sum->attrs.getInts("axes"), (IntList{0}));
}

TEST(Unbroadcast, ShapeThatDoesNotBroadcastIsAnError) {
  Fixture t;
  ValueId g = t.b.param("g", f32(Shape{2, 3}));
  EXPECT_TRUE(
      verifyErrorMentions(errorFrom([&] { t.b.unbroadcast(g, Shape{4}); }), {"[2,3]", "[4]"}));
  EXPECT_THROW(t.b.unbroadcast(g, Shape{2, 3, 1}), Error) << "cannot add axes";
  EXPECT_THROW(t.b.unbroadcast(g, Shape{3, 1}), Error);
}

//===----------------------------------------------------------------------===//
// structuralHash
//===----------------------------------------------------------------------===//

namespace {
struct HashCase {
  std::string xName = "x", yName = "y", fnName = "f";
  Shape xShape{2, 3};
  double exponent = 2;
  IntList axes{1};
  bool swapSub = false;
};

/// loss = reduce_sum((x - y) ^ p, axes)
Function buildHashCase(const HashCase &c) {
  Function f(c.fnName);
  Builder b(f);
  ValueId x = b.param(c.xName, f32(c.xShape));
  ValueId y = b.param(c.yName, f32(Shape{3}));
  ValueId d = c.swapSub ? b.sub(y, x) : b.sub(x, y);
  ValueId loss = b.reduceSum(b.pow(d, c.exponent), c.axes);
  f.value(loss).name = "loss";
  f.setResults({loss});
  return f;
}
} // namespace

TEST(StructuralHash, IsDeterministic) {
  EXPECT_EQ(buildHashCase({}).structuralHash(), buildHashCase({}).structuralHash());
  Function f = buildHashCase({});
  EXPECT_EQ(f.structuralHash(), Function(f).structuralHash());
}

TEST(StructuralHash, IgnoresNamesAndLocations) {
  HashCase renamed;
  renamed.xName = "input";
  renamed.yName = "target";
  renamed.fnName = "other";
  Function f = buildHashCase({});
  Function g = buildHashCase(renamed);
  EXPECT_EQ(f.structuralHash(), g.structuralHash());
  g.value(g.results()[0]).name = "renamed";
  EXPECT_EQ(f.structuralHash(), g.structuralHash());

  Function h("located");
  Builder b(h);
  b.setLoc(Location{std::make_shared<const std::string>("a.kir"), 9, 1});
  ValueId x = b.param("p", f32(Shape{2, 3}));
  ValueId y = b.param("q", f32(Shape{3}));
  h.setResults({b.reduceSum(b.pow(b.sub(x, y), 2), {1})});
  EXPECT_EQ(f.structuralHash(), h.structuralHash());
}

TEST(StructuralHash, ChangesWithAnAttribute) {
  HashCase cube;
  cube.exponent = 3;
  EXPECT_NE(buildHashCase({}).structuralHash(), buildHashCase(cube).structuralHash());
  HashCase otherAxes;
  otherAxes.axes = {0};
  EXPECT_NE(buildHashCase({}).structuralHash(), buildHashCase(otherAxes).structuralHash());
}

TEST(StructuralHash, ChangesWithAShape) {
  HashCase wider;
  wider.xShape = Shape{4, 3};
  EXPECT_NE(buildHashCase({}).structuralHash(), buildHashCase(wider).structuralHash());
}

TEST(StructuralHash, ChangesWithTheDataflow) {
  HashCase swapped;
  swapped.swapSub = true;
  EXPECT_NE(buildHashCase({}).structuralHash(), buildHashCase(swapped).structuralHash());
}

TEST(StructuralHash, ChangesWithTheResults) {
  Function f = buildHashCase({});
  Function g = f;
  g.setResults({g.params()[0]});
  EXPECT_NE(f.structuralHash(), g.structuralHash());
}

TEST(StructuralHash, ChangesWithConstantContents) {
  auto withConstant = [](double v) {
    Function f("c");
    Builder b(f);
    ValueId x = b.param("x", f32(Shape{2}));
    f.setResults({b.mul(x, b.scalar(v))});
    return f.structuralHash();
  };
  EXPECT_EQ(withConstant(2), withConstant(2));
  EXPECT_NE(withConstant(2), withConstant(3));
}
