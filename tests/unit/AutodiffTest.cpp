//===- AutodiffTest.cpp - The autodiff pass ---------------------------------===//
#include "kiln/compiler/Autodiff.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "kiln/runtime/Interpreter.h"

#include <gtest/gtest.h>

using namespace kiln;
using namespace kiln::ir;

namespace {

HostTensor values(TensorType t, std::vector<double> v) { return HostTensor::fromDoubles(t, v); }
std::vector<double> toVector(const HostTensor &t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.numel(); ++i)
    v.push_back(t.get(i));
  return v;
}

size_t countOps(const Function &f, OpKind op) {
  size_t n = 0;
  for (const Node &node : f.nodes())
    n += node.op == op;
  return n;
}

} // namespace

// docs/textbook.md §1: out = mean((a + 2)^2 * 2) has gradient 4 (a + 2) / 6.
TEST(Autodiff, TextbookAutogradExample) {
  Function f("autograd");
  Builder b(f);
  TensorType t{DType::F32, Shape{2, 3}};
  ValueId a = b.param("a", t);
  ValueId c = b.mul(b.pow(b.add(a, b.scalar(2)), 2), b.scalar(2));
  ValueId out = b.reduceMean(c, {0, 1});
  f.setResults({out});

  auto g = compiler::differentiate(f, out, std::vector{a});
  auto grads = runtime::interpret(g.fn, std::vector{values(t, {1, 2, 3, 4, 5, 6})});
  std::vector<double> expected = {2, 2.6666667, 3.3333333, 4, 4.6666667, 5.3333333};
  std::vector<double> got = toVector(grads[0]);
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 1e-6);
}

TEST(Autodiff, MultiUseSumsContributions) {
  Function f("square");
  Builder b(f);
  TensorType t{DType::F64, Shape{3}};
  ValueId x = b.param("x", t);
  ValueId loss = b.reduceSum(b.mul(x, x), {0});
  f.setResults({loss});
  auto g = compiler::differentiate(f, loss, std::vector{x});
  auto grads = runtime::interpret(g.fn, std::vector{values(t, {1, -2, 3})});
  EXPECT_EQ(toVector(grads[0]), (std::vector<double>{2, -4, 6}));
}

TEST(Autodiff, BroadcastOperandGetsSummedGradient) {
  Function f("bias");
  Builder b(f);
  ValueId x = b.param("x", {DType::F64, Shape{2, 3}});
  ValueId bias = b.param("b", {DType::F64, Shape{3}});
  ValueId loss = b.reduceSum(b.add(x, bias), {0, 1});
  f.setResults({loss});
  auto g = compiler::differentiate(f, loss, std::vector{bias});
  EXPECT_EQ(g.fn.type(g.fn.results()[0]), (TensorType{DType::F64, Shape{3}}));
  auto grads =
      runtime::interpret(g.fn, std::vector{values({DType::F64, Shape{2, 3}}, {0, 0, 0, 0, 0, 0}),
                                           values({DType::F64, Shape{3}}, {0, 0, 0})});
  EXPECT_EQ(toVector(grads[0]), (std::vector<double>{2, 2, 2}));
}

TEST(Autodiff, PrunesWhatNobodyNeeds) {
  // loss = mean(x @ w): only dw is wanted, so no matmul computes dx.
  Function f("prune");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{4, 3}});
  ValueId w = b.param("w", {DType::F32, Shape{3, 2}});
  ValueId loss = b.reduceMean(b.matmul(x, w), {0, 1});
  f.setResults({loss});
  auto g = compiler::differentiate(f, loss, std::vector{w});
  // The forward matmul is dead (only the loss used it) and dx is never built.
  EXPECT_EQ(countOps(g.fn, OpKind::Matmul), 1u);
  EXPECT_EQ(g.fn.params().size(), 2u);
}

TEST(Autodiff, KeepsForwardResultsWhenAsked) {
  Function f("keep");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{}});
  ValueId y = b.mul(x, x);
  f.setResults({y});
  auto g = compiler::differentiate(f, y, std::vector{x}, {.keepForwardResults = true});
  ASSERT_EQ(g.fn.results().size(), 2u);
  auto out = runtime::interpret(g.fn, std::vector{HostTensor::scalar(3)});
  EXPECT_EQ(out[0].get(0), 9);
  EXPECT_EQ(out[1].get(0), 6);
}

TEST(Autodiff, SaysWhichOfItsValuesAreTheForwards) {
  // loss = sum(tanh(x * w)): the gradient function keeps the forward's x * w
  // and tanh, which tanh's gradient rule reads; the sum is dead there.
  Function f("forward");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{4}});
  ValueId w = b.param("w", {DType::F32, Shape{4}});
  ValueId xw = b.mul(x, w);
  ValueId y = b.create(OpKind::Tanh, {xw});
  ValueId loss = b.reduceSum(y, {0});
  f.setResults({loss});
  auto g = compiler::differentiate(f, loss, std::vector{w});
  ASSERT_EQ(g.forwardValues.size(), g.fn.numValues());
  std::vector<ValueId> forwardNodes;
  for (const Node &n : g.fn.nodes())
    if (ValueId v = g.forwardValues[size_t(n.result().id)]; v.valid()) {
      forwardNodes.push_back(v);
      EXPECT_EQ(n.op, f.defOf(v).op) << "a forward value is the same op";
    }
  EXPECT_EQ(forwardNodes, (std::vector<ValueId>{xw, y})) << "the dead sum is not among them";
  EXPECT_EQ(g.forwardValues[size_t(g.fn.params()[1].id)], w);
}

/// What backward() asks for: the same gradients from fewer nodes, and
/// forwardValues still naming the forward's values.
TEST(Autodiff, SimplifiedGradientFunctionComputesTheSameGradients) {
  // loss = mean((x * w) * (x * w)): mul's rule makes g * (x * w) twice.
  Function f("square");
  Builder b(f);
  TensorType t{DType::F32, Shape{4}};
  ValueId x = b.param("x", t);
  ValueId w = b.param("w", t);
  ValueId xw = b.mul(x, w);
  ValueId loss = b.reduceMean(b.mul(xw, xw), {0});
  f.setResults({loss});
  auto plain = compiler::differentiate(f, loss, std::vector{w});
  auto simple = compiler::differentiate(f, loss, std::vector{w}, {.simplify = true});
  EXPECT_LT(simple.fn.nodes().size(), plain.fn.nodes().size());
  EXPECT_EQ(countOps(simple.fn, OpKind::Constant), 1u) << "seed and 1/4 fold into one";

  std::vector<HostTensor> in{values(t, {0.5, -1, 2, 3}), values(t, {1.5, 0.25, -2, 1})};
  auto want = runtime::interpret(plain.fn, in), got = runtime::interpret(simple.fn, in);
  EXPECT_TRUE(want[0].identical(got[0]));

  ASSERT_EQ(simple.forwardValues.size(), simple.fn.numValues());
  std::vector<ValueId> forwardNodes;
  for (const Node &n : simple.fn.nodes())
    if (ValueId v = simple.forwardValues[size_t(n.result().id)]; v.valid())
      forwardNodes.push_back(v);
  EXPECT_EQ(forwardNodes, (std::vector<ValueId>{xw}));
}

TEST(Autodiff, SeedParamForNonScalarOutputs) {
  Function f("vec");
  Builder b(f);
  TensorType t{DType::F32, Shape{2}};
  ValueId x = b.param("x", t);
  ValueId y = b.mul(x, b.scalar(3));
  f.setResults({y});
  EXPECT_THROW(compiler::differentiate(f, y, std::vector{x}), Error);
  auto g = compiler::differentiate(f, y, std::vector{x}, {.seedParam = true});
  ASSERT_EQ(g.fn.params().size(), 2u);
  EXPECT_EQ(g.fn.value(g.fn.params()[1]).name, "grad_output");
  auto out = runtime::interpret(g.fn, std::vector{values(t, {1, 2}), values(t, {1, 10})});
  EXPECT_EQ(toVector(out[0]), (std::vector<double>{3, 30}));
}

TEST(Autodiff, UnreachedInputGetsZerosAndIsReported) {
  Function f("unused");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{2}});
  ValueId unused = b.param("u", {DType::F32, Shape{2}});
  ValueId loss = b.reduceSum(x, {0});
  f.setResults({loss});
  auto g = compiler::differentiate(f, loss, std::vector{x, unused});
  EXPECT_EQ(g.hasGradient, (std::vector<bool>{true, false}));
  auto out = runtime::interpret(g.fn, std::vector{values({DType::F32, Shape{2}}, {1, 2}),
                                                  values({DType::F32, Shape{2}}, {3, 4})});
  EXPECT_EQ(toVector(out[1]), (std::vector<double>{0, 0}));
}

TEST(Autodiff, GradientStopsAtNonDifferentiableUses) {
  // relu-like: select(x > 0, x, 0): the comparison contributes nothing.
  Function f("select");
  Builder b(f);
  TensorType t{DType::F64, Shape{3}};
  ValueId x = b.param("x", t);
  ValueId mask = b.create(OpKind::Gt, {x, b.scalar(0, DType::F64)});
  ValueId y = b.select(mask, x, b.scalar(0, DType::F64));
  ValueId loss = b.reduceSum(y, {0});
  f.setResults({loss});
  auto g = compiler::differentiate(f, loss, std::vector{x});
  auto out = runtime::interpret(g.fn, std::vector{values(t, {-1, 2, 3})});
  EXPECT_EQ(toVector(out[0]), (std::vector<double>{0, 1, 1}));
}

TEST(Autodiff, ErrorsAreClear) {
  Function f("errors");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{2, 3}});
  ValueId idx = b.create(OpKind::Argmax, {x}, {{"axis", int64_t(1)}});
  f.setResults({idx});
  try {
    compiler::differentiate(f, idx, std::vector{x});
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Autograd);
    EXPECT_NE(std::string(e.what()).find("only float values have gradients"), std::string::npos);
  }
}
