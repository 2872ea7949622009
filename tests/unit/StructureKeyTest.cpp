//===- StructureKeyTest.cpp - Cache hits prove the structure --------------===//
//
// A flush and a backward() find their cached program / gradient function by
// walking the pending graph or history into an exact structure key, without
// building IR. These tests pin down that a hit replays only the same
// structure: steps that differ in an op, an operand order, an attribute, a
// shape, a dtype, a buffer shared or not, a constant or requires_grad never
// run each other's program, and replays bind the new buffers.
//
//===----------------------------------------------------------------------===//
#include "kiln/kiln.h"
#include "kiln/runtime/Program.h"

#include <gtest/gtest.h>

using namespace kiln;

namespace {

/// Compiles every new structure at once, so that a hit can be proven by
/// forbidding compilation.
class LazyStepKey : public ::testing::Test {
protected:
  void SetUp() override {
    kiln::sync();
    clear_step_cache();
    clear_backward_cache();
    previousMode_ = execution();
    previousAfter_ = compile_after();
    set_execution(Execution::Compiled);
    set_compile_after(0);
  }
  void TearDown() override {
    runtime::setCompilationForbidden(false);
    set_execution(previousMode_);
    set_compile_after(previousAfter_);
  }

  /// Runs `f` as its own step and returns the compilations it caused.
  template <class F> int64_t compilationsOf(F &&f) {
    kiln::sync();
    int64_t before = runtime::compilationCount();
    f();
    kiln::sync();
    return runtime::compilationCount() - before;
  }

private:
  Execution previousMode_ = Execution::Compiled;
  int previousAfter_ = 0;
};

using AutogradBackwardKey = LazyStepKey;

Tensor square(double a, double b, double c, double d) { return tensor({{a, b}, {c, d}}); }

} // namespace

// ---- Hits -----------------------------------------------------------------------------

TEST_F(LazyStepKey, TheSameStructureReplaysOnNewBuffers) {
  EXPECT_EQ(compilationsOf([] {
              EXPECT_EQ((tensor({1.0, 2.0}) * tensor({3.0, 4.0})).to_vector(),
                        (std::vector<double>{3, 8}));
            }),
            1);
  runtime::setCompilationForbidden(true);
  EXPECT_EQ((tensor({5.0, 6.0}) * tensor({7.0, 8.0})).to_vector(), (std::vector<double>{35, 48}));
}

TEST_F(LazyStepKey, NumbersInExpressionsAreInputsNotStructure) {
  Tensor a = tensor({1.0, 2.0});
  EXPECT_EQ((a * 2).to_vector(), (std::vector<double>{2, 4}));
  runtime::setCompilationForbidden(true);
  EXPECT_EQ((a * 3).to_vector(), (std::vector<double>{3, 6}));
}

// ---- Misses: each difference recompiles and computes its own result -------------------

TEST_F(LazyStepKey, AnotherOpMisses) {
  Tensor a = tensor({5.0, 7.0}), b = tensor({1.0, 2.0});
  EXPECT_EQ((a + b).to_vector(), (std::vector<double>{6, 9}));
  Tensor d;
  EXPECT_EQ(compilationsOf([&] { d = a - b; }), 1);
  EXPECT_EQ(d.to_vector(), (std::vector<double>{4, 5}));
}

TEST_F(LazyStepKey, AnotherOperandOrderMisses) {
  Tensor a = tensor({5.0, 7.0});
  EXPECT_EQ(((a * 2) - a).to_vector(), (std::vector<double>{5, 7}));
  // The same ops over the same buffer, the sub's operands swapped.
  Tensor d;
  EXPECT_EQ(compilationsOf([&] { d = a - (a * 2); }), 1);
  EXPECT_EQ(d.to_vector(), (std::vector<double>{-5, -7}));
}

TEST_F(LazyStepKey, AnotherAttributeMisses) {
  Tensor m = square(1, 2, 3, 4);
  EXPECT_EQ(m.sum(0).to_vector(), (std::vector<double>{4, 6}));
  Tensor rows;
  EXPECT_EQ(compilationsOf([&] { rows = m.sum(1); }), 1) << "same types, other axes";
  EXPECT_EQ(rows.to_vector(), (std::vector<double>{3, 7}));
}

TEST_F(LazyStepKey, AnotherShapeMisses) {
  Tensor a = ones({2, 3});
  EXPECT_EQ((a + a).sum().item(), 12);
  Tensor s;
  EXPECT_EQ(compilationsOf([&] { s = (ones({3, 2}) + ones({3, 2})).sum(); }), 1);
  EXPECT_EQ(s.item(), 12);
}

TEST_F(LazyStepKey, AnotherDtypeMisses) {
  EXPECT_EQ((tensor({0.5}) * tensor({3.0})).item(), 1.5);
  Tensor p;
  EXPECT_EQ(compilationsOf([&] { p = tensor({0.1}, f64) * tensor({3.0}, f64); }), 1);
  EXPECT_EQ(p.item(), 0.1 * 3.0) << "computed in f64, not in the f32 program";
}

TEST_F(LazyStepKey, ABufferReadTwiceIsNotTwoBuffers) {
  Tensor a = tensor({1.0, 2.0}), b = tensor({10.0, 20.0});
  EXPECT_EQ((a * b).to_vector(), (std::vector<double>{10, 40}));
  // a * a reads one buffer: one parameter, another structure than a * b.
  Tensor sq;
  EXPECT_EQ(compilationsOf([&] { sq = a * a; }), 1);
  EXPECT_EQ(sq.to_vector(), (std::vector<double>{1, 4}));
  // An alias reads the same buffer as well: a hit of the a * a program.
  runtime::setCompilationForbidden(true);
  EXPECT_EQ((b * b.detach()).to_vector(), (std::vector<double>{100, 400}));
}

TEST_F(LazyStepKey, ManyBuffersAreBoundByIdentity) {
  // More buffers than the walk scans linearly: it switches to an index.
  auto sumOf = [](const std::vector<Tensor> &xs, const Tensor &again) {
    Tensor total = again;
    for (const Tensor &x : xs)
      total = total + x + again;
    return total;
  };
  std::vector<Tensor> xs;
  for (int i = 0; i < 40; ++i)
    xs.push_back(tensor({double(i)}));
  EXPECT_EQ(sumOf(xs, xs[3]).item(), 780 + 41 * 3);
  std::vector<Tensor> ys;
  for (int i = 0; i < 40; ++i)
    ys.push_back(tensor({double(2 * i)}));
  runtime::setCompilationForbidden(true);
  EXPECT_EQ(sumOf(ys, ys[3]).item(), 1560 + 41 * 6) << "a replay on new buffers";
  runtime::setCompilationForbidden(false);
  Tensor other;
  EXPECT_EQ(compilationsOf([&] { other = sumOf(ys, ys[5]); }), 1)
      << "another buffer read twice is another structure";
  EXPECT_EQ(other.item(), 1560 + 41 * 10);
  EXPECT_EQ(compilationsOf([&] { other = sumOf(ys, tensor({1.0})); }), 1)
      << "a 41st buffer is another structure";
  EXPECT_EQ(other.item(), 1560 + 41);
}

TEST_F(LazyStepKey, InPlaceUpdatesAreNotFreshResults) {
  // The same ops once written into an existing buffer and once into a new
  // tensor: both must land where they belong.
  Tensor a = tensor({1.0, 2.0});
  a.add_(1);
  kiln::sync();
  Tensor fresh = a + 1;
  EXPECT_EQ(fresh.to_vector(), (std::vector<double>{3, 4}));
  EXPECT_EQ(a.to_vector(), (std::vector<double>{2, 3}));
  a.add_(1);
  EXPECT_EQ(a.to_vector(), (std::vector<double>{3, 4}));
  EXPECT_EQ(fresh.to_vector(), (std::vector<double>{3, 4})) << "not aliased with a";
}

// ---- backward(): the gradient function cache ------------------------------------------

TEST_F(AutogradBackwardKey, AnotherNumberReusesTheGradientFunctionWithItsValue) {
  Tensor x = tensor({1.0, 2.0}, f32, true);
  (x * 2).sum().backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 2}));
  x.zero_grad();
  (x * 3).sum().backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{3, 3}))
      << "the number is an input of the gradient function, read at each backward";
  EXPECT_EQ(backward_cache_stats().misses, 1u);
  x.zero_grad();
  (x * int64_t(3)).sum().backward(); // another type: another gradient function
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{3, 3}));
  EXPECT_EQ(backward_cache_stats().misses, 1u);
}

TEST_F(AutogradBackwardKey, TheSameHistoryHitsTheCache) {
  Tensor x = tensor({1.0, 2.0}, f32, true);
  for (int i = 0; i < 3; ++i) {
    x.zero_grad();
    (x * x).sum().backward();
  }
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 4}));
  BackwardCacheStats stats = backward_cache_stats();
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 2u);
}

TEST_F(AutogradBackwardKey, RequiresGradIsPartOfTheKey) {
  Tensor a = tensor({1.0, 2.0}, f32, true), b = tensor({3.0, 4.0}, f32, true);
  (a * b).sum().backward();
  EXPECT_EQ(a.grad().to_vector(), (std::vector<double>{3, 4}));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{1, 2}));
  Tensor c = tensor({5.0, 6.0}, f32, true), d = tensor({7.0, 8.0}); // d wants no gradient
  (c * d).sum().backward();
  EXPECT_EQ(c.grad().to_vector(), (std::vector<double>{7, 8}));
  EXPECT_FALSE(d.grad().defined());
  EXPECT_EQ(backward_cache_stats().misses, 2u);
}

TEST_F(AutogradBackwardKey, AnotherOperandOrderGivesItsOwnGradient) {
  Tensor a = tensor({6.0}, f32, true), b = tensor({2.0}, f32, true);
  (a / b).sum().backward();
  EXPECT_FLOAT_EQ(float(a.grad().item()), 0.5f);
  EXPECT_FLOAT_EQ(float(b.grad().item()), -1.5f);
  Tensor c = tensor({6.0}, f32, true), d = tensor({2.0}, f32, true);
  (d / c).sum().backward();
  EXPECT_FLOAT_EQ(float(d.grad().item()), 1.0f / 6);
  EXPECT_FLOAT_EQ(float(c.grad().item()), -2.0f / 36);
}

TEST_F(AutogradBackwardKey, AnotherShapeGivesItsOwnGradient) {
  Tensor a = ones({2, 3}, f32, true);
  a.sum().backward();
  Tensor b = ones({3, 2}, f32, true);
  b.sum().backward();
  EXPECT_EQ(b.grad().shape(), (Shape{3, 2}));
  EXPECT_EQ(backward_cache_stats().misses, 2u);
}

TEST_F(AutogradBackwardKey, FreedAndChangedHistoriesStillFail) {
  Tensor x = tensor({1.0, 2.0}, f32, true);
  Tensor y = (x * x).sum();
  y.backward();
  EXPECT_THROW(y.backward(), Error) << "freed by the first backward";
  Tensor h = x * 2;
  Tensor z = (h * h).sum();
  {
    NoGradGuard noGrad;
    h.detach().add_(1);
  }
  EXPECT_THROW(z.backward(), Error) << "h changed in place after it was recorded";
}
