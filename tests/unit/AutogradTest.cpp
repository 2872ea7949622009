//===- AutogradTest.cpp - PyTorch's autograd semantics in kiln ------------===//
//
// One test per semantic of issue 3 item 2, with the values PyTorch 1.13
// gives (docs/textbook.md §1) and PyTorch's error messages.
//
//===----------------------------------------------------------------------===//
#include "ErrorTestSupport.h"
#include "kiln/ir/OpDef.h"
#include "kiln/kiln.h"

#include <gtest/gtest.h>

#include <thread>

using namespace kiln;
using kiln::test::errorOf;

namespace {

const std::vector<double> kGrad1 = {2, 8.0 / 3, 10.0 / 3, 4, 14.0 / 3, 16.0 / 3};

void expectNear(const Tensor &t, const std::vector<double> &expected, double tol = 1e-5) {
  ASSERT_TRUE(t.defined());
  std::vector<double> got = t.to_vector();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tol) << "element " << i;
}

std::vector<double> times(std::vector<double> v, double k) {
  for (double &x : v)
    x *= k;
  return v;
}


const char *const kFreed =
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward.";

struct TextbookGraph {
  Tensor a = tensor({{1, 2, 3}, {4, 5, 6}}, f32, /*requires_grad=*/true);
  Tensor b = a + 2;
  Tensor c = b.pow(2) * 2;
  Tensor out = c.mean();
};

} // namespace

// docs/textbook.md §1, step by step.
TEST(Autograd, TextbookRetainAccumulateAndFree) {
  TextbookGraph g;
  EXPECT_TRUE(g.out.requires_grad());
  EXPECT_FALSE(g.out.is_leaf());
  EXPECT_FALSE(g.a.grad().defined());

  g.out.backward({}, /*retain_graph=*/true);
  expectNear(g.a.grad(), kGrad1);

  g.out.backward(); // gradients accumulate
  expectNear(g.a.grad(), times(kGrad1, 2));

  EXPECT_EQ(errorOf([&] { g.out.backward(); }, ErrorKind::Autograd), kFreed);
  expectNear(g.a.grad(), times(kGrad1, 2)); // a failed backward changes nothing
}

TEST(Autograd, NonLeafTensorsHaveNoGrad) {
  TextbookGraph g;
  g.out.backward();
  EXPECT_FALSE(g.b.grad().defined());
  EXPECT_FALSE(g.c.grad().defined());
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor a = tensor({{1, 2, 3}, {4, 5, 6}}, f32, true);
  EXPECT_TRUE(is_grad_enabled());
  Tensor d;
  {
    NoGradGuard guard;
    EXPECT_FALSE(is_grad_enabled());
    d = a * 2;
    { NoGradGuard nested; }
    EXPECT_FALSE(is_grad_enabled());
  }
  EXPECT_TRUE(is_grad_enabled());
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.to_vector(), (std::vector<double>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ(errorOf([&] { d.sum().backward(); }, ErrorKind::Autograd),
            "element 0 of tensors does not require grad and does not have a grad_fn");
}

TEST(Autograd, NoGradFunctionReturnsTheLambdasValue) {
  Tensor a = ones({2}, f32, true);
  Tensor d = no_grad([&] { return a * 2; });
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(is_grad_enabled());
}

TEST(Autograd, GradModeIsPerThread) {
  NoGradGuard guard;
  bool otherThread = false;
  std::thread([&] { otherThread = is_grad_enabled(); }).join();
  EXPECT_TRUE(otherThread);
  EXPECT_FALSE(is_grad_enabled());
}

TEST(Autograd, DetachCutsHistoryAndSharesValues) {
  Tensor a = tensor({1.0, 2.0}, f32, true);
  Tensor e = (a * 2).detach();
  EXPECT_FALSE(e.requires_grad());
  EXPECT_TRUE(e.is_leaf());
  EXPECT_EQ(e.grad_fn_name(), "");
  EXPECT_EQ(e.to_vector(), (std::vector<double>{2, 4}));

  Tensor alias = a.detach();
  alias.add_(1); // shares a's values, as in PyTorch
  EXPECT_EQ(a.to_vector(), (std::vector<double>{2, 3}));
}

TEST(Autograd, BackwardNeedsAScalarOrAGradient) {
  Tensor a = tensor({{1, 2, 3}, {4, 5, 6}}, f32, true);
  Tensor y = a * 3;
  EXPECT_EQ(errorOf([&] { y.backward(); }, ErrorKind::Autograd),
            "grad can be implicitly created only for scalar outputs");
  std::string shape = errorOf([&] { y.backward(ones({3})); }, ErrorKind::Shape);
  EXPECT_NE(shape.find("Mismatch in shape"), std::string::npos) << shape;

  y.backward(tensor({{1, 1, 1}, {2, 2, 2}}, f32));
  expectNear(a.grad(), {3, 3, 3, 6, 6, 6});
}

TEST(Autograd, OneElementNonScalarNeedsNoGradient) {
  Tensor w = tensor({{2.0}}, f32, true);
  (w * w).backward();
  expectNear(w.grad(), {4});
}

TEST(Autograd, BackwardOnALeaf) {
  Tensor a = tensor({1.0, 2.0}, f32, true);
  Tensor g = tensor({5.0, 6.0});
  a.backward(g);
  expectNear(a.grad(), {5, 6});
  g.fill_(0); // the stored gradient is a copy, not the argument
  expectNear(a.grad(), {5, 6});
}

TEST(Autograd, AccumulatesAcrossDifferentGraphs) {
  Tensor w = tensor({1.0, -1.0}, f32, true);
  (w * 2).sum().backward();
  (w * 3).sum().backward();
  expectNear(w.grad(), {5, 5});

  Tensor g = w.grad();
  w.zero_grad();
  expectNear(g, {0, 0}); // zeroed in place, like optimizer.zero_grad()
  (w * w).sum().backward();
  expectNear(w.grad(), {2, -2});

  w.grad().zero_();
  expectNear(w.grad(), {0, 0});
  w.set_grad(Tensor());
  EXPECT_FALSE(w.grad().defined());
  w.zero_grad(/*set_to_none=*/true);
  EXPECT_FALSE(w.grad().defined());
  EXPECT_THROW(w.set_grad(zeros({3})), Error);
}

TEST(Autograd, BroadcastBiasGetsSummedGradient) {
  Tensor x = tensor({{1, 2, 3}, {4, 5, 6}}, f32, true);
  Tensor bias = tensor({10, 20, 30}, f32, true);
  ((x + bias) * x).sum().backward();
  expectNear(bias.grad(), {5, 7, 9});             // column sums of x
  expectNear(x.grad(), {12, 24, 36, 18, 30, 42}); // 2x + bias
}

TEST(Autograd, MultiUseSumsContributions) {
  Tensor x = tensor({1.0, -2.0, 3.0}, f32, true);
  (x * x).sum().backward();
  expectNear(x.grad(), {2, -4, 6});
}

TEST(Autograd, OnlyLeavesThatRequireGradGetGradients) {
  Tensor x = tensor({{1.0, 2.0}}, f32); // data
  Tensor w = tensor({{3.0}, {4.0}}, f32, true);
  Tensor unused = ones({2}, f32, true);
  Tensor loss = x.matmul(w).sum();
  loss.backward();
  expectNear(w.grad(), {1, 2});
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(unused.grad().defined());
}

TEST(Autograd, GradientsFlowThroughActivationsAndCasts) {
  Tensor x = tensor({-1.0, 2.0}, f32, true);
  Tensor y = x.relu().to(f64).sum() + x.sigmoid().sum().to(f64);
  y.backward();
  double s = 1 / (1 + std::exp(1.0)), s2 = 1 / (1 + std::exp(-2.0));
  expectNear(x.grad(), {s * (1 - s), 1 + s2 * (1 - s2)});
}

TEST(Autograd, NonDifferentiableResultsDoNotRequireGrad) {
  Tensor x = tensor({{1.0, 3.0}, {2.0, 0.0}}, f32, true);
  EXPECT_FALSE(x.argmax(1).requires_grad());
  EXPECT_FALSE(x.gt(1).requires_grad());
  EXPECT_FALSE(x.to(i64).requires_grad());
  // A mask from a comparison selects where the gradient flows.
  where(x.gt(1), x, 0.0).sum().backward();
  expectNear(x.grad(), {0, 1, 1, 0});
}

TEST(Autograd, RetainGraphAllowsAnyNumberOfBackwards) {
  TextbookGraph g;
  for (int i = 0; i < 3; ++i)
    g.out.backward({}, true);
  expectNear(g.a.grad(), times(kGrad1, 3));
  g.out.backward();
  EXPECT_EQ(errorOf([&] { g.out.backward({}, true); }, ErrorKind::Autograd), kFreed);
}

TEST(Autograd, FreedSharedHistoryIsAnErrorForOtherOutputs) {
  // As in PyTorch: l1.backward() frees y's node, which l2 needs too.
  Tensor a = tensor({1.0, 2.0}, f32, true);
  Tensor y = a * a;
  Tensor l1 = y.sum(), l2 = y.mean();
  l1.backward();
  EXPECT_EQ(errorOf([&] { l2.backward(); }, ErrorKind::Autograd), kFreed);
  EXPECT_EQ(errorOf([&] { recorded_graph(l2); }, ErrorKind::Autograd), kFreed);
  EXPECT_EQ(y.grad_fn_name(), "mul"); // still a non-leaf after the graph was freed
}

TEST(Autograd, InPlaceOnLeavesThatRequireGrad) {
  Tensor w = tensor({1.0, 2.0}, f32, true);
  std::string leaf = errorOf([&] { w.sub_(1); }, ErrorKind::Autograd);
  EXPECT_NE(leaf.find("a leaf Variable that requires grad is being used in an in-place "
                      "operation."),
            std::string::npos)
      << leaf;
  EXPECT_THROW((w * 2).add_(1), Error);    // non-leaf with history
  EXPECT_THROW(zeros({2}).add_(w), Error); // operand that requires grad

  (w * w).sum().backward();
  {
    NoGradGuard guard; // an optimizer step
    w.sub_(w.grad(), /*alpha=*/0.5);
  }
  EXPECT_EQ(w.to_vector(), (std::vector<double>{0, 0}));
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
}

TEST(Autograd, ChangingRecordedValuesInPlaceIsDetected) {
  Tensor w = tensor({1.0, 2.0}, f32, true);
  Tensor loss = (w * w).sum();
  loss.backward({}, true);
  no_grad([&] { w.sub_(0.1); });
  std::string msg = errorOf([&] { loss.backward(); }, ErrorKind::Autograd);
  EXPECT_NE(msg.find("modified by an inplace operation"), std::string::npos) << msg;
}

TEST(Autograd, RequiresGradFlags) {
  Tensor a = tensor({1.0, 2.0});
  EXPECT_FALSE(a.requires_grad());
  a.requires_grad_();
  EXPECT_TRUE(a.requires_grad());
  Tensor b = a * 2;
  b.requires_grad_(); // a no-op: it already requires grad
  EXPECT_NE(errorOf([&] { b.requires_grad_(false); }, ErrorKind::Autograd)
                .find("you can only change requires_grad flags of leaf variables"),
            std::string::npos);
  Tensor i = tensor({1, 2});
  EXPECT_THROW(i.requires_grad_(), Error);
  EXPECT_FALSE((i * 2).requires_grad());
}

TEST(Autograd, GradFnNamesTheRecordedOp) {
  TextbookGraph g;
  EXPECT_EQ(g.a.grad_fn_name(), "");
  EXPECT_EQ(g.b.grad_fn_name(), "add");
  EXPECT_EQ(g.c.grad_fn_name(), "mul");
  EXPECT_EQ(g.out.grad_fn_name(), "reduce_mean");
}

TEST(Autograd, RecordedGraphIsTheHistoryAsIR) {
  TextbookGraph g;
  g.a.set_name("a");
  g.out.set_name("out");
  ir::Function f = recorded_graph(g.out);
  // The numbers 2 and 3 are inputs, as in the lazy step: a new number is a
  // new input value, not a new graph.
  ASSERT_EQ(f.params().size(), 3u);
  EXPECT_EQ(f.value(f.params()[0]).name, "a");
  EXPECT_EQ(f.value(f.params()[1]).name, "lit");
  std::vector<std::string> ops;
  for (const ir::Node &n : f.nodes())
    ops.emplace_back(ir::opName(n.op));
  EXPECT_EQ(ops, (std::vector<std::string>{"add", "pow", "mul", "reduce_mean"}));
  EXPECT_EQ(f.value(f.results()[0]).name, "out");

  ir::Function grad = backward_graph(g.out);
  ASSERT_EQ(grad.results().size(), 1u);
  EXPECT_EQ(grad.type(grad.results()[0]), (ir::TensorType{f32, Shape{2, 3}}));
  EXPECT_EQ(grad.value(grad.results()[0]).name, "a_grad");
}

TEST(Autograd, IdenticalGraphsAreDifferentiatedOnce) {
  clear_backward_cache();
  Tensor w = tensor({{0.5}}, f32, true);
  for (int step = 0; step < 4; ++step) {
    Tensor x = full({4, 1}, step); // new data, same shapes
    Tensor loss = (x.matmul(w) - x).pow(2).mean();
    loss.backward();
  }
  BackwardCacheStats stats = backward_cache_stats();
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 3u);
  EXPECT_EQ(stats.entries, 1u);

  (full({8, 1}, 1).matmul(w)).sum().backward(); // another graph
  EXPECT_EQ(backward_cache_stats().misses, 2u);

  // Same graph, but now x requires grad too: a different gradient function.
  Tensor x = full({8, 1}, 1, f32, true);
  (x.matmul(w)).sum().backward();
  EXPECT_EQ(backward_cache_stats().misses, 3u);
  expectNear(x.grad(), std::vector<double>(8, 0.5));
}

TEST(Autograd, AlternatingGraphsEachGetTheirOwnGradient) {
  // A thread's last gradient function is found without the cache's map:
  // a different graph in between must not be given it.
  clear_backward_cache();
  Tensor w = tensor({{2.0}}, f32, true);
  for (int step = 0; step < 3; ++step) {
    w.zero_grad();
    (full({3, 1}, 1).matmul(w)).sum().backward(); // d/dw = 3
    expectNear(w.grad(), {3.0});
    w.zero_grad();
    (full({3, 1}, 1).matmul(w)).pow(2).sum().backward(); // d/dw = 3 * 2 * 2 = 12
    expectNear(w.grad(), {12.0});
  }
  BackwardCacheStats stats = backward_cache_stats();
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.hits, 4u);
}

TEST(Autograd, ClearingTheCacheForgetsTheLastGradientFunction) {
  Tensor w = tensor({{2.0}}, f32, true);
  (full({3, 1}, 1).matmul(w)).sum().backward();
  clear_backward_cache();
  (full({3, 1}, 1).matmul(w)).sum().backward();
  EXPECT_EQ(backward_cache_stats().misses, 1u) << "derived again after the clear";
  EXPECT_EQ(backward_cache_stats().hits, 0u);
}

TEST(Autograd, DeepHistoriesNeedNoDeepRecursion) {
  Tensor x = tensor({1.0}, f32, true);
  Tensor y = x;
  for (int i = 0; i < 5000; ++i)
    y = y * 1.0;
  y.sum().backward();
  expectNear(x.grad(), {1});

  Tensor z = x;
  for (int i = 0; i < 100000; ++i)
    z = z + 0.0;
  z = Tensor(); // dropping the history must not overflow the stack
  SUCCEED();
}
