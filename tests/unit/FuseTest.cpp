//===- FuseTest.cpp - The fuse pass ---------------------------------------===//
#include "kiln/compiler/Fuse.h"
#include "kiln/compiler/Pass.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "kiln/ir/Verifier.h"
#include "kiln/runtime/Interpreter.h"
#include "kiln/runtime/Program.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>

using namespace kiln;
using namespace kiln::ir;

namespace {

std::vector<std::string> opNames(const Function &f) {
  std::vector<std::string> names;
  for (const Node &n : f.nodes())
    names.emplace_back(n.body ? "fused:" + n.body->name() : std::string(opName(n.op)));
  return names;
}
using Names = std::vector<std::string>;

HostTensor random(const TensorType &t, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  HostTensor h(t);
  for (int64_t i = 0; i < h.numel(); ++i)
    h.set(i, u(rng));
  return h;
}

/// Fusing must not change what the function computes.
void expectSameResults(const Function &f, const Function &g) {
  verify(g);
  std::vector<HostTensor> inputs;
  for (ValueId p : f.params())
    inputs.push_back(random(f.type(p), uint64_t(p.id) + 1));
  auto a = runtime::interpret(f, inputs), b = runtime::interpret(g, inputs);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(a[i].identical(b[i])) << "result " << i;
}

const TensorType kMat{DType::F32, Shape{4, 3}};

} // namespace

TEST(Fuse, ElementwiseChainBecomesOneKernel) {
  Function f("chain");
  Builder b(f);
  ValueId x = b.param("x", kMat), y = b.param("y", kMat);
  ValueId t = b.create(OpKind::Tanh, {b.mul(b.add(x, y), b.scalar(2))});
  f.setResults({t});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  // The splat constant is copied into the kernel, not passed in.
  EXPECT_EQ(opNames(g), (Names{"fused:fused_add_mul_tanh"}));
  EXPECT_EQ(g.nodes()[0].operands.size(), 2u);
  expectSameResults(f, g);
}

TEST(Fuse, BroadcastOperandsAreKernelInputs) {
  Function f("bias");
  Builder b(f);
  ValueId x = b.param("x", kMat), bias = b.param("b", {DType::F32, Shape{3}});
  f.setResults({b.create(OpKind::Relu, {b.add(x, bias)})});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  EXPECT_EQ(opNames(g), (Names{"fused:fused_add_relu"}));
  expectSameResults(f, g);
}

TEST(Fuse, IntermediateUsedOutsideIsAnExtraOutput) {
  Function f("shared");
  Builder b(f);
  ValueId x = b.param("x", kMat);
  ValueId e = b.exp(x);
  ValueId s = b.reduceSum(e, {1}, true); // not elementwise: outside the kernel
  ValueId y = b.div(e, s);
  f.setResults({y});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  // exp feeds the reduction, so it is materialised; div is its own kernel
  // because joining exp's kernel would make that kernel wait for the sum.
  EXPECT_EQ(opNames(g), (Names{"exp", "reduce_sum", "div"}));
  expectSameResults(f, g);
}

TEST(Fuse, ReturnedIntermediateStaysMaterialised) {
  Function f("returned");
  Builder b(f);
  ValueId x = b.param("x", kMat);
  ValueId a = b.add(x, x);
  ValueId m = b.mul(a, a);
  f.setResults({a, m});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  ASSERT_EQ(opNames(g), (Names{"fused:fused_add_mul"}));
  EXPECT_EQ(g.nodes()[0].results.size(), 2u);
  expectSameResults(f, g);
}

TEST(Fuse, DifferentIterationShapesAreSeparateKernels) {
  Function f("shapes");
  Builder b(f);
  ValueId v = b.param("v", {DType::F32, Shape{3}}), x = b.param("x", kMat);
  ValueId small = b.exp(b.neg(v));
  f.setResults({b.mul(x, small)});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  EXPECT_EQ(opNames(g), (Names{"fused:fused_neg_exp", "mul"}));
  expectSameResults(f, g);
}

TEST(Fuse, MatmulAbsorbsTransposeBiasAndActivation) {
  // relu(x @ w^T + b): the shape of nn.Linear followed by ReLU.
  Function f("linear");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{5, 4}});
  ValueId w = b.param("w", {DType::F32, Shape{3, 4}});
  ValueId bias = b.param("b", {DType::F32, Shape{3}});
  ValueId y = b.create(OpKind::Relu, {b.add(b.matmul(x, b.transpose(w)), bias)});
  f.setResults({y});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  EXPECT_EQ(opNames(g), (Names{"fused:fused_transpose_matmul_add_relu"}));
  expectSameResults(f, g);
}

TEST(Fuse, MatmulWhoseProductIsReusedKeepsItsEpilogueApart) {
  Function f("reused");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{2, 4}});
  ValueId w = b.param("w", {DType::F32, Shape{4, 3}});
  ValueId bias = b.param("b", {DType::F32, Shape{3}});
  ValueId p = b.matmul(x, w);
  f.setResults({b.add(p, bias), p});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  EXPECT_EQ(opNames(g), (Names{"matmul", "add"}));
}

TEST(Fuse, SumOfTwoRowMatmulsGivesTheAddToOneOfThem) {
  // An RNN cell at batch 1: x@W + h@U with [1,n] products, each of which
  // looks like the other's bias row. The add used to join both groups.
  Function f("rnn_cell");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{1, 4}});
  ValueId w = b.param("w", {DType::F32, Shape{4, 3}});
  ValueId h = b.param("h", {DType::F32, Shape{1, 5}});
  ValueId u = b.param("u", {DType::F32, Shape{5, 3}});
  ValueId y = b.create(OpKind::Tanh, {b.add(b.matmul(x, w), b.matmul(h, u))});
  f.setResults({y});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  EXPECT_EQ(opNames(g), (Names{"matmul", "fused:fused_matmul_add_tanh"}));
  expectSameResults(f, g);
}

TEST(Fuse, MatmulOfAValueWithItselfFuses) {
  // The gradient of sum(x@x) for a 1x1 x: products of shared operands.
  Function f("square");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{1, 1}});
  ValueId y = b.add(b.matmul(x, x), b.matmul(b.transpose(x), x));
  f.setResults({y});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  expectSameResults(f, g);
}

TEST(Fuse, ALoopKernelReadsAtMost64Inputs) {
  // A sum of 200 parameters: one kernel would take 200 pointers, and LLVM's
  // time grows with their square. It is split into kernels of <= 64 inputs.
  Function f("wide_sum");
  Builder b(f);
  ValueId sum = b.param("p0", kMat);
  for (int i = 1; i < 200; ++i)
    sum = b.add(sum, b.param(fmt::format("p{}", i), kMat));
  f.setResults({sum});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  size_t kernels = 0;
  for (const Node &n : g.nodes()) {
    ASSERT_TRUE(n.body) << opName(n.op);
    EXPECT_LE(n.operands.size(), 64u);
    ++kernels;
  }
  EXPECT_EQ(kernels, 4u); // 64 + 63 + 63 + 13 inputs (each later one reads the partial sum)
  expectSameResults(f, g);
}

TEST(Fuse, NeverCreatesACycle) {
  // a = exp(x); s = sum(a); c = a * broadcast(s): c cannot join a's kernel.
  Function f("cycle");
  Builder b(f);
  ValueId x = b.param("x", kMat);
  ValueId a = b.exp(x);
  ValueId s = b.broadcastTo(b.reduceSum(a, {0, 1}), kMat.shape);
  ValueId c = b.mul(b.neg(a), s);
  f.setResults({c});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  expectSameResults(f, g);
}

// ---- The backend decides what it can run as one kernel --------------------------------------

namespace {
/// A backend without reduction kernels or matmul epilogues.
struct LoopsOnly final : compiler::FusionTarget {
  bool fusesReduction(const Function &, const Node &) const override { return false; }
  bool fusesMatmulEpilogue(const Function &, const Node &) const override { return false; }
  bool isEpilogueActivation(OpKind) const override { return false; }
};

/// relu(x @ w + b) and sum(x * x): a matmul epilogue and a fusable reduction.
Function epilogueAndReduction() {
  Function f("f");
  Builder b(f);
  ValueId x = b.param("x", kMat), w = b.param("w", {DType::F32, Shape{3, 2}});
  ValueId bias = b.param("b", {DType::F32, Shape{2}});
  ValueId h = b.create(OpKind::Relu, {b.add(b.matmul(x, w), bias)});
  ValueId s = b.create(OpKind::ReduceSum, {b.mul(x, x)}, {{"axes", IntList{0, 1}}});
  f.setResults({h, s});
  return f;
}
} // namespace

TEST(Fuse, TheTargetDecidesReductionsAndEpilogues) {
  Function f = epilogueAndReduction();
  Function runtimeFused = compiler::fuse(f, runtime::fusionTarget());
  EXPECT_EQ(opNames(runtimeFused),
            (Names{"fused:fused_matmul_add_relu", "fused:fused_mul_reduce_sum"}));
  Function loopsOnly = compiler::fuse(f, LoopsOnly());
  EXPECT_EQ(opNames(loopsOnly), (Names{"matmul", "fused:fused_add_relu", "mul", "reduce_sum"}));
  expectSameResults(f, loopsOnly);
}

TEST(Fuse, ThePassNeedsATarget) {
  compiler::PassManager pm; // no PassContext::fusionTarget
  try {
    pm.addPipeline("simplify,fuse");
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(e.message().find("pass 'fuse' needs the fusion capabilities"), std::string::npos);
  }
}
