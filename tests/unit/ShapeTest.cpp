//===- ShapeTest.cpp - Shapes, broadcasting, tensor types, dtypes ---------===//
//
// Specification of kiln/ir/Shape.h and kiln/ir/DType.h: what a shape is, how
// numpy broadcasting combines two shapes, how types print, and the five
// element types.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/Shape.h"
#include "kiln/ir/DType.h"

#include <gtest/gtest.h>

#include <limits>

using namespace kiln::ir;

namespace {

/// True if the validation message `problem` exists and mentions `what`.
::testing::AssertionResult rejectedMentioning(const std::optional<std::string> &problem,
                                              std::string_view what) {
  if (!problem)
    return ::testing::AssertionFailure() << "the shape was accepted";
  if (problem->find(what) == std::string::npos)
    return ::testing::AssertionFailure()
           << "message \"" << *problem << "\" lacks \"" << what << "\"";
  return ::testing::AssertionSuccess();
}

constexpr int64_t kTwoTo20 = int64_t(1) << 20;
constexpr int64_t kTwoTo40 = int64_t(1) << 40;

} // namespace

//===----------------------------------------------------------------------===//
// Shape
//===----------------------------------------------------------------------===//

TEST(ShapeSpec, RankIsTheNumberOfDims) {
  EXPECT_EQ(Shape{}.rank(), 0);
  EXPECT_EQ((Shape{5}).rank(), 1);
  EXPECT_EQ((Shape{2, 3, 4}).rank(), 3);
  EXPECT_EQ((Shape{2, 3, 4})[1], 3);
  EXPECT_EQ((Shape{2, 3, 4}).toVector(), (std::vector<int64_t>{2, 3, 4}));
}

/// Ranks up to kInlineRank are stored inline, larger ones on the heap: every
/// copy, move and assignment between the two keeps the dims.
TEST(ShapeSpec, InlineAndHeapShapesCopyMoveAndCompare) {
  std::vector<int64_t> big{1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_GT(int(big.size()), Shape::kInlineRank);
  Shape small{2, 3}, large(big);
  EXPECT_EQ(large.toVector(), big);
  EXPECT_EQ(large.rank(), 8);
  EXPECT_EQ(large.numel(), 40320);

  Shape copy = large;
  EXPECT_EQ(copy, large);
  EXPECT_NE(copy.begin(), large.begin()) << "a copy owns its dims";
  Shape moved = std::move(copy);
  EXPECT_EQ(moved, large);
  EXPECT_EQ(copy.rank(), 0) << "a moved-from shape is a scalar";

  Shape s = small;
  s = large; // inline -> heap
  EXPECT_EQ(s, large);
  s = small; // heap -> inline
  EXPECT_EQ(s, small);
  EXPECT_EQ(s.toVector(), (std::vector<int64_t>{2, 3}));
  s = Shape(std::vector<int64_t>{9, 8, 7, 6, 5, 4, 3}); // heap, moved in
  EXPECT_EQ(s.toVector(), (std::vector<int64_t>{9, 8, 7, 6, 5, 4, 3}));
  s = s; // NOLINT: self-assignment keeps the dims
  EXPECT_EQ(s.rank(), 7);
  EXPECT_NE(Shape({1, 2, 3, 4, 5, 6, 7}), Shape({1, 2, 3, 4, 5, 6, 8}));
  EXPECT_NE(Shape({1, 2}), Shape({1, 2, 1}));
  EXPECT_EQ(broadcastShapes(large, Shape{1, 8})->toVector(), big);
  EXPECT_EQ(broadcastShapes(Shape{4, 1}, Shape{1, 5, 1, 3})->toVector(),
            (std::vector<int64_t>{1, 5, 4, 3}));
}

TEST(ShapeSpec, AppendGrowsInlineThenOnTheHeap) {
  Shape s;
  std::vector<int64_t> want;
  for (int64_t d = 1; d <= Shape::kInlineRank + 3; ++d) {
    s.append(d);
    want.push_back(d);
    ASSERT_EQ(s.toVector(), want) << "after appending " << d;
  }
  EXPECT_EQ(s, Shape(want));
}

TEST(ShapeSpec, NumelIsTheProductOfDims) {
  EXPECT_EQ((Shape{2, 3, 4}).numel(), 24);
  EXPECT_EQ((Shape{7}).numel(), 7);
  EXPECT_EQ((Shape{1, 1, 1}).numel(), 1);
}

TEST(ShapeSpec, ScalarHasOneElement) { EXPECT_EQ(Shape{}.numel(), 1); }

TEST(ShapeSpec, ZeroSizedDimMeansNoElements) {
  EXPECT_EQ((Shape{0}).numel(), 0);
  EXPECT_EQ((Shape{2, 0, 3}).numel(), 0);
}

TEST(ShapeSpec, StridesAreRowMajorInElements) {
  EXPECT_EQ((Shape{2, 3, 4}).strides(), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ((Shape{10, 1}).strides(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ((Shape{5}).strides(), (std::vector<int64_t>{1}));
}

TEST(ShapeSpec, ScalarHasNoStrides) { EXPECT_TRUE(Shape{}.strides().empty()); }

TEST(ShapeSpec, StridesAcrossAZeroDim) {
  // The innermost stride is always 1; a zero dim makes the ones outside it 0.
  EXPECT_EQ((Shape{2, 0, 3}).strides(), (std::vector<int64_t>{0, 3, 1}));
}

TEST(ShapeSpec, EqualityComparesDims) {
  EXPECT_EQ((Shape{2, 3}), (Shape{2, 3}));
  EXPECT_NE((Shape{2, 3}), (Shape{3, 2}));
  EXPECT_NE((Shape{6}), (Shape{6, 1}));
  EXPECT_NE(Shape{}, (Shape{1}));
  EXPECT_EQ(Shape(std::vector<int64_t>{4, 5}), (Shape{4, 5}));
}

TEST(ShapeSpec, StrPrintsDimsInBracketsWithoutSpaces) {
  EXPECT_EQ((Shape{10, 1}).str(), "[10,1]");
  EXPECT_EQ((Shape{3}).str(), "[3]");
  EXPECT_EQ(Shape{}.str(), "[]");
  EXPECT_EQ((Shape{2, 0}).str(), "[2,0]");
}

TEST(ShapeValidate, OrdinaryShapesAreValid) {
  EXPECT_FALSE(Shape{}.validate());
  EXPECT_FALSE((Shape{0}).validate());
  EXPECT_FALSE((Shape{2, 3}).validate());
  EXPECT_FALSE((Shape{60000, 28, 28}).validate());
}

TEST(ShapeValidate, NegativeDimIsRejected) {
  EXPECT_TRUE(rejectedMentioning((Shape{-1}).validate(), "negative"));
  EXPECT_TRUE(rejectedMentioning((Shape{2, -3}).validate(), "[2,-3]"));
  EXPECT_TRUE(
      rejectedMentioning((Shape{std::numeric_limits<int64_t>::min()}).validate(), "negative"));
}

TEST(ShapeValidate, ExactlyMaxElementsIsAllowed) {
  EXPECT_FALSE((Shape{kMaxElements}).validate());
  EXPECT_FALSE((Shape{kTwoTo20, kTwoTo20}).validate());
  EXPECT_FALSE((Shape{1, kTwoTo40, 1}).validate());
}

TEST(ShapeValidate, MoreThanMaxElementsIsRejected) {
  EXPECT_TRUE(rejectedMentioning((Shape{kMaxElements + 1}).validate(), "exceeds"));
  EXPECT_TRUE(rejectedMentioning((Shape{kTwoTo20, kTwoTo20, 2}).validate(), "exceeds"));
}

TEST(ShapeValidate, ProductThatWouldOverflowInt64IsRejectedNotWrapped) {
  // 2^40 * 2^40 * 2^40 wraps to 0 in int64 arithmetic; validate must not be fooled.
  EXPECT_TRUE(rejectedMentioning((Shape{kTwoTo40, kTwoTo40, kTwoTo40}).validate(), "exceeds"));
  int64_t big = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(rejectedMentioning((Shape{big, big}).validate(), "exceeds"));
  EXPECT_TRUE(rejectedMentioning((Shape{3, big}).validate(), "exceeds"));
}

TEST(ShapeValidate, ZeroDimAnywhereDoesNotMakeOversizedDimsValid) {
  // A valid shape must have computable (non-overflowing) strides, whatever
  // the position of a zero dim: [0, 2^40, 2^40] has an outer stride of 2^80.
  auto leading = (Shape{0, kTwoTo40, kTwoTo40}).validate();
  auto trailing = (Shape{kTwoTo40, kTwoTo40, 0}).validate();
  EXPECT_TRUE(trailing.has_value());
  EXPECT_EQ(leading.has_value(), trailing.has_value())
      << "validation of a zero-element shape depends on where the zero dim is";
}

//===----------------------------------------------------------------------===//
// Broadcasting (numpy rules)
//===----------------------------------------------------------------------===//

TEST(BroadcastShapes, EqualShapesBroadcastToThemselves) {
  EXPECT_EQ(broadcastShapes(Shape{2, 3}, Shape{2, 3}), (Shape{2, 3}));
}

TEST(BroadcastShapes, ScalarBroadcastsToAnything) {
  EXPECT_EQ(broadcastShapes(Shape{}, Shape{2, 3}), (Shape{2, 3}));
  EXPECT_EQ(broadcastShapes(Shape{2, 3}, Shape{}), (Shape{2, 3}));
  EXPECT_EQ(broadcastShapes(Shape{}, Shape{}), Shape{});
}

TEST(BroadcastShapes, LowerRankIsExtendedWithLeadingOnes) {
  EXPECT_EQ(broadcastShapes(Shape{2, 3}, Shape{3}), (Shape{2, 3}));
  EXPECT_EQ(broadcastShapes(Shape{3}, Shape{4, 2, 3}), (Shape{4, 2, 3}));
  EXPECT_EQ(broadcastShapes(Shape{5, 1, 3}, Shape{4, 1}), (Shape{5, 4, 3}));
}

TEST(BroadcastShapes, SizeOneDimsStretch) {
  EXPECT_EQ(broadcastShapes(Shape{2, 1}, Shape{1, 3}), (Shape{2, 3}));
  EXPECT_EQ(broadcastShapes(Shape{1}, Shape{7}), (Shape{7}));
  EXPECT_EQ(broadcastShapes(Shape{10, 1}, Shape{1}), (Shape{10, 1}));
}

TEST(BroadcastShapes, ZeroDimBroadcastsOnlyAgainstOneOrZero) {
  EXPECT_EQ(broadcastShapes(Shape{0}, Shape{1}), (Shape{0}));
  EXPECT_EQ(broadcastShapes(Shape{1}, Shape{0}), (Shape{0}));
  EXPECT_EQ(broadcastShapes(Shape{0, 3}, Shape{3}), (Shape{0, 3}));
  EXPECT_FALSE(broadcastShapes(Shape{0}, Shape{2}));
}

TEST(BroadcastShapes, IncompatibleDimsGiveNothing) {
  EXPECT_FALSE(broadcastShapes(Shape{2, 3}, Shape{4}));
  EXPECT_FALSE(broadcastShapes(Shape{2, 3}, Shape{3, 2}));
  EXPECT_FALSE(broadcastShapes(Shape{2}, Shape{3}));
  EXPECT_FALSE(broadcastShapes(Shape{2, 1}, Shape{8, 4, 3}));
}

TEST(BroadcastShapes, IsSymmetric) {
  std::vector<Shape> shapes = {Shape{},     Shape{1},    Shape{3},       Shape{2, 1},
                               Shape{2, 3}, Shape{1, 3}, Shape{4, 2, 3}, Shape{0, 3}};
  for (const Shape &a : shapes)
    for (const Shape &b : shapes)
      EXPECT_EQ(broadcastShapes(a, b), broadcastShapes(b, a)) << a.str() << " " << b.str();
}

TEST(BroadcastsTo, HoldsWhenBroadcastingGivesExactlyTheTarget) {
  EXPECT_TRUE(broadcastsTo(Shape{3}, Shape{2, 3}));
  EXPECT_TRUE(broadcastsTo(Shape{2, 1}, Shape{2, 3}));
  EXPECT_TRUE(broadcastsTo(Shape{}, Shape{4, 5}));
  EXPECT_TRUE(broadcastsTo(Shape{2, 3}, Shape{2, 3}));
  EXPECT_TRUE(broadcastsTo(Shape{}, Shape{}));
  EXPECT_TRUE(broadcastsTo(Shape{1}, Shape{0}));
}

TEST(BroadcastsTo, NeverShrinks) {
  EXPECT_FALSE(broadcastsTo(Shape{2, 3}, Shape{3}));
  EXPECT_FALSE(broadcastsTo(Shape{2, 3}, Shape{}));
  EXPECT_FALSE(broadcastsTo(Shape{2, 3}, Shape{1, 3}));
  EXPECT_FALSE(broadcastsTo(Shape{1}, Shape{}));
}

TEST(BroadcastsTo, BothWaysCompatibleIsNotEnough) {
  // [2,1] and [1,3] broadcast together to [2,3], but neither becomes the other.
  EXPECT_FALSE(broadcastsTo(Shape{2, 1}, Shape{1, 3}));
  EXPECT_FALSE(broadcastsTo(Shape{1, 3}, Shape{2, 1}));
  EXPECT_FALSE(broadcastsTo(Shape{2}, Shape{3}));
}

//===----------------------------------------------------------------------===//
// TensorType
//===----------------------------------------------------------------------===//

TEST(TensorTypeSpec, StrIsDTypeThenShape) {
  EXPECT_EQ((TensorType{DType::F32, Shape{10, 1}}).str(), "f32[10,1]");
  EXPECT_EQ((TensorType{DType::F64, Shape{}}).str(), "f64[]");
  EXPECT_EQ((TensorType{DType::I64, Shape{3}}).str(), "i64[3]");
  EXPECT_EQ((TensorType{DType::U8, Shape{60000, 28, 28}}).str(), "u8[60000,28,28]");
  EXPECT_EQ((TensorType{DType::Bool, Shape{2, 0}}).str(), "bool[2,0]");
}

TEST(TensorTypeSpec, DefaultIsF32Scalar) {
  TensorType t;
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_EQ(t.shape, Shape{});
  EXPECT_EQ(t.str(), "f32[]");
}

TEST(TensorTypeSpec, EqualityNeedsSameDTypeAndShape) {
  TensorType a{DType::F32, Shape{2, 3}};
  EXPECT_EQ(a, (TensorType{DType::F32, Shape{2, 3}}));
  EXPECT_NE(a, (TensorType{DType::F64, Shape{2, 3}}));
  EXPECT_NE(a, (TensorType{DType::F32, Shape{3, 2}}));
}

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

TEST(DTypeSpec, NamesAsPrintedInIR) {
  EXPECT_EQ(dtypeName(DType::F32), "f32");
  EXPECT_EQ(dtypeName(DType::F64), "f64");
  EXPECT_EQ(dtypeName(DType::I64), "i64");
  EXPECT_EQ(dtypeName(DType::U8), "u8");
  EXPECT_EQ(dtypeName(DType::Bool), "bool");
}

TEST(DTypeSpec, ParseIsTheInverseOfName) {
  for (DType t : {DType::F32, DType::F64, DType::I64, DType::U8, DType::Bool})
    EXPECT_EQ(parseDType(dtypeName(t)), t) << dtypeName(t);
}

TEST(DTypeSpec, ParseRejectsOtherSpellings) {
  EXPECT_FALSE(parseDType(""));
  EXPECT_FALSE(parseDType("F32"));
  EXPECT_FALSE(parseDType("float"));
  EXPECT_FALSE(parseDType("f16"));
  EXPECT_FALSE(parseDType("i32"));
  EXPECT_FALSE(parseDType("f32 "));
  EXPECT_FALSE(parseDType("boo"));
  EXPECT_FALSE(parseDType("bool8"));
}

TEST(DTypeSpec, SizesInBytes) {
  EXPECT_EQ(dtypeSize(DType::F32), 4u);
  EXPECT_EQ(dtypeSize(DType::F64), 8u);
  EXPECT_EQ(dtypeSize(DType::I64), 8u);
  EXPECT_EQ(dtypeSize(DType::U8), 1u);
  EXPECT_EQ(dtypeSize(DType::Bool), 1u);
}

TEST(DTypeSpec, Categories) {
  EXPECT_TRUE(isFloat(DType::F32));
  EXPECT_TRUE(isFloat(DType::F64));
  EXPECT_FALSE(isFloat(DType::I64));
  EXPECT_FALSE(isFloat(DType::U8));
  EXPECT_FALSE(isFloat(DType::Bool));

  EXPECT_TRUE(isInteger(DType::I64));
  EXPECT_TRUE(isInteger(DType::U8));
  EXPECT_FALSE(isInteger(DType::F32));
  EXPECT_FALSE(isInteger(DType::F64));
  EXPECT_FALSE(isInteger(DType::Bool)) << "bool is its own category, not an integer";
}
