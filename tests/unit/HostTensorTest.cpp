//===- HostTensorTest.cpp - Dense tensors in host memory ------------------===//
//
// Specification of kiln/ir/HostTensor.h: zero-filled construction, element
// conversion per dtype, shallow copies vs clone(), reshaped views, bitwise
// identity, splats, and the allocation limit.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/HostTensor.h"
#include "kiln/ir/Error.h"
#include "ErrorTestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace kiln;
using namespace kiln::ir;

namespace {

using kiln::test::errorFrom;
using kiln::test::contains;

TensorType f32(Shape s) { return {DType::F32, std::move(s)}; }

/// The value `v` reads back as after being stored in a one-element tensor of `t`.
double roundTrip(DType t, double v) {
  HostTensor x(TensorType{t, Shape{1}});
  x.set(0, v);
  return x.get(0);
}

std::vector<double> elements(const HostTensor &t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.numel(); ++i)
    v.push_back(t.get(i));
  return v;
}

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

} // namespace

//===----------------------------------------------------------------------===//
// Construction
//===----------------------------------------------------------------------===//

TEST(HostTensorConstruct, DefaultIsUndefined) {
  HostTensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_EQ(t.numel(), 0);
  EXPECT_EQ(t.raw(), nullptr);
}

TEST(HostTensorConstruct, IsZeroFilledForEveryDType) {
  for (DType dt : {DType::F32, DType::F64, DType::I64, DType::U8, DType::Bool}) {
    HostTensor t(TensorType{dt, Shape{3, 5}});
    ASSERT_TRUE(t.defined());
    EXPECT_EQ(t.numel(), 15);
    EXPECT_EQ(t.bytes(), 15 * dtypeSize(dt));
    EXPECT_EQ(t.dtype(), dt);
    EXPECT_EQ(t.shape(), (Shape{3, 5}));
    for (int64_t i = 0; i < t.numel(); ++i)
      EXPECT_EQ(t.get(i), 0.0) << dtypeName(dt) << " element " << i;
    const auto *bytes = static_cast<const unsigned char *>(t.raw());
    for (size_t i = 0; i < t.bytes(); ++i)
      EXPECT_EQ(bytes[i], 0) << dtypeName(dt) << " byte " << i;
  }
}

TEST(HostTensorConstruct, StorageIs64ByteAligned) {
  for (int64_t n : {1, 3, 17, 1000}) {
    HostTensor t(f32(Shape{n}));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u) << n;
  }
}

/// A buffer past the TLB's reach in 4 KiB pages starts on a 2 MiB boundary,
/// so that the kernel can back it with huge pages (BufferCache.h); its
/// elements are usable to the last.
TEST(HostTensorConstruct, LargeStorageStartsOnAHugePageBoundary) {
  HostTensor big = HostTensor::uninitialized({DType::U8, Shape{int64_t(24) << 20}});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.raw()) % (uintptr_t(2) << 20), 0u);
  big.data<uint8_t>()[big.numel() - 1] = 7;
  EXPECT_EQ(big.get(big.numel() - 1), 7);
}

TEST(HostTensorConstruct, ScalarHasOneElement) {
  HostTensor t(f32(Shape{}));
  EXPECT_EQ(t.numel(), 1);
  EXPECT_EQ(t.bytes(), 4u);
}

TEST(HostTensorConstruct, EmptyTensorIsDefinedWithNoElements) {
  HostTensor t(f32(Shape{0, 4}));
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.numel(), 0);
  EXPECT_EQ(t.bytes(), 0u);
}

TEST(HostTensorConstruct, ScalarFactory) {
  HostTensor a = HostTensor::scalar(2.5);
  EXPECT_EQ(a.type(), f32(Shape{}));
  EXPECT_EQ(a.get(0), 2.5);

  HostTensor b = HostTensor::scalar(7.9, DType::I64);
  EXPECT_EQ(b.type(), (TensorType{DType::I64, Shape{}}));
  EXPECT_EQ(b.get(0), 7.0);
}

TEST(HostTensorConstruct, FromDoublesStoresRowMajor) {
  HostTensor t = HostTensor::fromDoubles(f32(Shape{2, 3}), std::vector<double>{1, 2, 3, 4, 5, 6});
  EXPECT_EQ(elements(t), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(t.data<float>()[4], 5.0f);
}

TEST(HostTensorConstruct, FromDoublesConvertsToTheDType) {
  HostTensor t =
      HostTensor::fromDoubles(TensorType{DType::I64, Shape{3}}, std::vector<double>{1.9, -1.9, 4});
  EXPECT_EQ(elements(t), (std::vector<double>{1, -1, 4}));
}

TEST(HostTensorConstruct, FromDoublesCountMismatchIsAShapeError) {
  Error tooFew = errorFrom([] {
    HostTensor::fromDoubles(f32(Shape{2, 3}), std::vector<double>{1, 2, 3, 4, 5});
  });
  EXPECT_EQ(tooFew.kind(), ErrorKind::Shape);
  EXPECT_TRUE(contains(tooFew.message(), "5")) << tooFew.message();
  EXPECT_TRUE(contains(tooFew.message(), "f32[2,3]")) << tooFew.message();

  Error tooMany = errorFrom([] {
    HostTensor::fromDoubles(f32(Shape{}), std::vector<double>{1, 2});
  });
  EXPECT_EQ(tooMany.kind(), ErrorKind::Shape);
}

TEST(HostTensorConstruct, NegativeDimIsAnError) {
  EXPECT_THROW(HostTensor(f32(Shape{2, -1})), Error);
}

//===----------------------------------------------------------------------===//
// Allocation limit
//===----------------------------------------------------------------------===//

TEST(HostTensorLimit, DefaultLimitIsPositive) { EXPECT_GT(maxTensorBytes(), 0); }

TEST(HostTensorLimit, OverLimitIsAResourceErrorNotAnAllocation) {
  // 3e9 f32 elements = 12 GB, over the default 8 GiB limit (and well within
  // kMaxElements, so it is the byte limit that refuses it).
  if (maxTensorBytes() < int64_t(12'000'000'000)) {
    TensorType huge = f32(Shape{3, 1'000'000'000});
    Error e = errorFrom([&] { HostTensor t(huge); });
    EXPECT_EQ(e.kind(), ErrorKind::Resource);
    EXPECT_TRUE(contains(e.message(), "f32[3,1000000000]")) << e.message();
    EXPECT_TRUE(contains(e.message(), "KILN_MAX_TENSOR_BYTES")) << e.message();
  } else {
    GTEST_SKIP() << "KILN_MAX_TENSOR_BYTES raises the limit above 12 GB";
  }
}

TEST(HostTensorLimit, ByteLimitCountsTheElementSize) {
  // Just over the limit in f64 elements, although the element count alone is fine.
  int64_t n = maxTensorBytes() / 8 + 1;
  Error e = errorFrom([&] { HostTensor t(TensorType{DType::F64, Shape{n}}); });
  EXPECT_EQ(e.kind(), ErrorKind::Resource);
}

TEST(HostTensorLimit, BeyondMaxElementsIsAResourceError) {
  Error e = errorFrom([] { HostTensor t(f32(Shape{int64_t(1) << 30, int64_t(1) << 30})); });
  EXPECT_EQ(e.kind(), ErrorKind::Resource);
}

TEST(HostTensorLimit, OverflowingShapeIsAResourceError) {
  int64_t big = std::numeric_limits<int64_t>::max();
  Error e = errorFrom([&] { HostTensor t(TensorType{DType::U8, Shape{big, big, 4}}); });
  EXPECT_EQ(e.kind(), ErrorKind::Resource);
}

//===----------------------------------------------------------------------===//
// Element conversion
//===----------------------------------------------------------------------===//

TEST(HostTensorConvert, F32RoundsToNearestFloat) {
  EXPECT_EQ(roundTrip(DType::F32, 0.1), double(0.1f));
  EXPECT_NE(roundTrip(DType::F32, 0.1), 0.1);
  EXPECT_EQ(roundTrip(DType::F32, 1.5), 1.5);
  EXPECT_EQ(roundTrip(DType::F32, 16777217.0), 16777216.0); // 2^24 + 1 is not a float
  EXPECT_EQ(roundTrip(DType::F32, -kInf), -kInf);
  EXPECT_TRUE(std::isnan(roundTrip(DType::F32, kNaN)));
}

TEST(HostTensorConvert, F64IsExact) {
  EXPECT_EQ(roundTrip(DType::F64, 0.1), 0.1);
  EXPECT_EQ(roundTrip(DType::F64, 1e300), 1e300);
  EXPECT_EQ(roundTrip(DType::F64, kInf), kInf);
  EXPECT_TRUE(std::isnan(roundTrip(DType::F64, kNaN)));
}

TEST(HostTensorConvert, I64TruncatesTowardZero) {
  EXPECT_EQ(roundTrip(DType::I64, 2.7), 2);
  EXPECT_EQ(roundTrip(DType::I64, -2.7), -2);
  EXPECT_EQ(roundTrip(DType::I64, 0.999), 0);
  EXPECT_EQ(roundTrip(DType::I64, -0.5), 0);
  EXPECT_EQ(roundTrip(DType::I64, 42), 42);
}

TEST(HostTensorConvert, I64SaturatesAndMapsNaNToZero) {
  HostTensor t(TensorType{DType::I64, Shape{4}});
  t.set(0, 1e30);
  t.set(1, -1e30);
  t.set(2, kNaN);
  t.set(3, kInf);
  EXPECT_EQ(t.data<int64_t>()[0], std::numeric_limits<int64_t>::max());
  EXPECT_EQ(t.data<int64_t>()[1], std::numeric_limits<int64_t>::min());
  EXPECT_EQ(t.data<int64_t>()[2], 0);
  EXPECT_EQ(t.data<int64_t>()[3], std::numeric_limits<int64_t>::max());
}

TEST(HostTensorConvert, U8TruncatesAndSaturates) {
  EXPECT_EQ(roundTrip(DType::U8, 3.9), 3);
  EXPECT_EQ(roundTrip(DType::U8, 255), 255);
  EXPECT_EQ(roundTrip(DType::U8, 300), 255);
  EXPECT_EQ(roundTrip(DType::U8, 256), 255);
  EXPECT_EQ(roundTrip(DType::U8, -1), 0);
  EXPECT_EQ(roundTrip(DType::U8, -1e9), 0);
  EXPECT_EQ(roundTrip(DType::U8, kNaN), 0);
  EXPECT_EQ(roundTrip(DType::U8, kInf), 255);
}

TEST(HostTensorConvert, BoolIsNonZero) {
  EXPECT_EQ(roundTrip(DType::Bool, 0), 0);
  EXPECT_EQ(roundTrip(DType::Bool, 1), 1);
  EXPECT_EQ(roundTrip(DType::Bool, 0.5), 1);
  EXPECT_EQ(roundTrip(DType::Bool, -3), 1);
  EXPECT_EQ(roundTrip(DType::Bool, -0.0), 0);
  EXPECT_EQ(roundTrip(DType::Bool, kNaN), 1) << "NaN != 0, as in C";
}

TEST(HostTensorConvert, BoolIsStoredAsOneByteZeroOrOne) {
  HostTensor t(TensorType{DType::Bool, Shape{2}});
  t.set(0, 7);
  t.set(1, 0);
  EXPECT_EQ(t.data<uint8_t>()[0], 1);
  EXPECT_EQ(t.data<uint8_t>()[1], 0);
}

TEST(HostTensorConvert, ConvertToAgreesWithSet) {
  std::vector<double> samples = {0, -0.0, 0.1, -2.7, 2.5, 255.9, 300, -1, 1e30, -1e30, kInf, -kInf};
  for (DType dt : {DType::F32, DType::F64, DType::I64, DType::U8, DType::Bool})
    for (double v : samples)
      EXPECT_EQ(convertTo(dt, v), roundTrip(dt, v)) << dtypeName(dt) << " " << v;
}

TEST(HostTensorConvert, ConvertToMapsNaN) {
  EXPECT_TRUE(std::isnan(convertTo(DType::F32, kNaN)));
  EXPECT_TRUE(std::isnan(convertTo(DType::F64, kNaN)));
  EXPECT_EQ(convertTo(DType::I64, kNaN), 0);
  EXPECT_EQ(convertTo(DType::U8, kNaN), 0);
  EXPECT_EQ(convertTo(DType::Bool, kNaN), 1);
}

//===----------------------------------------------------------------------===//
// Copies, clones, views
//===----------------------------------------------------------------------===//

TEST(HostTensorCopy, CopyIsShallowAndSharesStorage) {
  HostTensor a = HostTensor::fromDoubles(f32(Shape{3}), std::vector<double>{1, 2, 3});
  HostTensor b = a;
  EXPECT_EQ(a.raw(), b.raw());
  b.set(0, 100);
  EXPECT_EQ(a.get(0), 100) << "a copy writes through to the original";
}

TEST(HostTensorCopy, CloneIsDeep) {
  HostTensor a = HostTensor::fromDoubles(f32(Shape{3}), std::vector<double>{1, 2, 3});
  HostTensor c = a.clone();
  EXPECT_NE(a.raw(), c.raw());
  EXPECT_TRUE(c.identical(a));
  c.set(0, 100);
  EXPECT_EQ(a.get(0), 1) << "a clone does not write through";
  EXPECT_EQ(c.get(0), 100);
}

TEST(HostTensorCopy, CloneOfUndefinedIsUndefined) { EXPECT_FALSE(HostTensor().clone().defined()); }

TEST(HostTensorCopy, CloneKeepsTypeForEveryDType) {
  for (DType dt : {DType::F32, DType::F64, DType::I64, DType::U8, DType::Bool}) {
    HostTensor a =
        HostTensor::fromDoubles(TensorType{dt, Shape{2, 2}}, std::vector<double>{1, 0, 1, 1});
    HostTensor c = a.clone();
    EXPECT_EQ(c.type(), a.type());
    EXPECT_EQ(elements(c), elements(a));
  }
}

TEST(HostTensorReshaped, SharesStorageWithANewShape) {
  HostTensor a = HostTensor::fromDoubles(f32(Shape{2, 3}), std::vector<double>{1, 2, 3, 4, 5, 6});
  HostTensor r = a.reshaped(Shape{3, 2});
  EXPECT_EQ(r.type(), f32(Shape{3, 2}));
  EXPECT_EQ(r.raw(), a.raw());
  EXPECT_EQ(elements(r), elements(a));
  EXPECT_EQ(a.shape(), (Shape{2, 3})) << "the original keeps its shape";
  r.set(5, 60);
  EXPECT_EQ(a.get(5), 60);
}

TEST(HostTensorReshaped, ToScalarAndBack) {
  HostTensor a = HostTensor::fromDoubles(f32(Shape{1, 1}), std::vector<double>{9});
  EXPECT_EQ(a.reshaped(Shape{}).shape(), Shape{});
  EXPECT_EQ(a.reshaped(Shape{}).reshaped(Shape{1}).get(0), 9);
}

TEST(HostTensorReshaped, ElementCountMismatchIsAShapeError) {
  HostTensor a(f32(Shape{2, 3}));
  Error e = errorFrom([&] { a.reshaped(Shape{4}); });
  EXPECT_EQ(e.kind(), ErrorKind::Shape);
  EXPECT_TRUE(contains(e.message(), "f32[2,3]")) << e.message();
  EXPECT_TRUE(contains(e.message(), "[4]")) << e.message();
}

TEST(HostTensorReshaped, InvalidShapeIsAShapeError) {
  HostTensor a(f32(Shape{0}));
  EXPECT_EQ(errorFrom([&] { a.reshaped(Shape{-1, 0}); }).kind(), ErrorKind::Shape);
}

//===----------------------------------------------------------------------===//
// identical, isSplat
//===----------------------------------------------------------------------===//

TEST(HostTensorIdentical, SameTypeAndBytes) {
  auto a = HostTensor::fromDoubles(f32(Shape{2}), std::vector<double>{1, 2});
  auto b = HostTensor::fromDoubles(f32(Shape{2}), std::vector<double>{1, 2});
  EXPECT_TRUE(a.identical(b));
  EXPECT_TRUE(a.identical(a));
}

TEST(HostTensorIdentical, DifferentValuesDiffer) {
  auto a = HostTensor::fromDoubles(f32(Shape{2}), std::vector<double>{1, 2});
  auto b = HostTensor::fromDoubles(f32(Shape{2}), std::vector<double>{1, 3});
  EXPECT_FALSE(a.identical(b));
}

TEST(HostTensorIdentical, TypeMatters) {
  auto a = HostTensor::fromDoubles(f32(Shape{2}), std::vector<double>{1, 2});
  EXPECT_FALSE(a.identical(a.reshaped(Shape{1, 2})));
  EXPECT_FALSE(a.identical(
      HostTensor::fromDoubles(TensorType{DType::F64, Shape{2}}, std::vector<double>{1, 2})));
  // u8 and bool share the byte representation, but not the type.
  auto u = HostTensor::fromDoubles(TensorType{DType::U8, Shape{2}}, std::vector<double>{1, 0});
  auto b = HostTensor::fromDoubles(TensorType{DType::Bool, Shape{2}}, std::vector<double>{1, 0});
  EXPECT_FALSE(u.identical(b));
}

TEST(HostTensorIdentical, IsBitwise) {
  // NaN is identical to the same NaN; -0 is not identical to +0.
  auto nan1 = HostTensor::scalar(kNaN, DType::F64);
  auto nan2 = HostTensor::scalar(kNaN, DType::F64);
  EXPECT_TRUE(nan1.identical(nan2));
  EXPECT_FALSE(HostTensor::scalar(0.0).identical(HostTensor::scalar(-0.0)));
}

TEST(HostTensorIdentical, UndefinedOnlyMatchesUndefined) {
  EXPECT_TRUE(HostTensor().identical(HostTensor()));
  EXPECT_FALSE(HostTensor().identical(HostTensor(f32(Shape{}))));
  EXPECT_FALSE(HostTensor(f32(Shape{})).identical(HostTensor()));
}

TEST(HostTensorSplat, AllElementsEqual) {
  EXPECT_TRUE(HostTensor::fromDoubles(f32(Shape{2, 2}), std::vector<double>{3, 3, 3, 3}).isSplat());
  EXPECT_TRUE(HostTensor(TensorType{DType::I64, Shape{100}}).isSplat()) << "all zeros";
  EXPECT_TRUE(HostTensor::scalar(5).isSplat()) << "one element is a splat";
}

TEST(HostTensorSplat, AnyDifferentElementIsNotASplat) {
  EXPECT_FALSE(HostTensor::fromDoubles(f32(Shape{4}), std::vector<double>{3, 3, 3, 4}).isSplat());
  EXPECT_FALSE(HostTensor::fromDoubles(f32(Shape{2}), std::vector<double>{0.0, -0.0}).isSplat());
}

TEST(HostTensorSplat, EmptyTensorIsNotASplat) {
  EXPECT_FALSE(HostTensor(f32(Shape{0})).isSplat());
  EXPECT_FALSE(HostTensor().isSplat());
}
