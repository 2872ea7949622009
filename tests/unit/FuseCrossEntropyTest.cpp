//===- FuseCrossEntropyTest.cpp - Fused softmax cross-entropy -------------===//
//
// The fuse-xent pass and its native kernel: compiled programs against the
// reference interpreter on the unfused graph (loss and logits gradient,
// large logits, batches of 1, 7 and 100), and the gradients of a Linear
// layer trained through the frontend against finite differences.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/FuseCrossEntropy.h"
#include "kiln/compiler/Autodiff.h"
#include "kiln/ir/Builder.h"
#include "kiln/kiln.h"
#include "kiln/nn/nn.h"
#include "kiln/runtime/Interpreter.h"
#include "kiln/runtime/Program.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace kiln;
using namespace kiln::ir;

namespace {

constexpr int64_t kClasses = 10;

struct Loss {
  bool mean = true;
  /// Also the gradient for the logits (a training step), else the loss only.
  bool grad = true;
  /// Multiply the loss by a scalar parameter %s before differentiating, so
  /// the incoming gradient is an input rather than a folded constant.
  bool scaled = false;
};

/// Cross-entropy of logits [n, kClasses] against labels [n], recorded as
/// nn::CrossEntropyLoss records it, with autodiff's logits gradient.
Function crossEntropy(int64_t n, Loss how) {
  Function f("xent");
  Builder b(f);
  ValueId z = b.param("z", {DType::F32, Shape{n, kClasses}});
  ValueId y = b.param("y", {DType::I64, Shape{n}});
  ValueId logp = b.create(OpKind::LogSoftmax, {z}, {{"axis", int64_t(1)}});
  ValueId onehot = b.create(OpKind::OneHot, {y}, {}, TensorType{DType::F32, Shape{n, kClasses}});
  ValueId rows = b.neg(b.reduceSum(b.mul(logp, onehot), {1}));
  ValueId loss = how.mean ? b.reduceMean(rows, {0}) : b.reduceSum(rows, {0});
  if (how.scaled)
    loss = b.mul(loss, b.param("s", {DType::F32, Shape{}}));
  f.setResults({loss});
  if (!how.grad)
    return f;
  return compiler::differentiate(f, loss, std::vector{z}, {.keepForwardResults = true}).fn;
}

/// Logits of mixed magnitude: every third row within +-80 (softmax
/// saturates), the others within +-3; labels in range; %s = -1.5.
std::vector<HostTensor> inputsFor(const Function &f, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<HostTensor> inputs;
  for (ValueId p : f.params()) {
    HostTensor t(f.type(p));
    if (f.value(p).name == "z") {
      for (int64_t i = 0; i < t.numel(); ++i)
        t.set(i, u(rng) * ((i / kClasses) % 3 == 0 ? 80.0 : 3.0));
    } else if (f.value(p).name == "y") {
      for (int64_t i = 0; i < t.numel(); ++i)
        t.set(i, double(rng() % kClasses));
    } else {
      t.set(0, -1.5);
    }
    inputs.push_back(std::move(t));
  }
  return inputs;
}

bool hasFusedKernel(const runtime::Program &p) {
  for (const runtime::KernelInfo &k : p.kernels())
    if (k.name == compiler::kSoftmaxCrossEntropyKernel)
      return k.kind == runtime::KernelKind::Native;
  return false;
}

/// Compiles f with the default pipeline, checks that the cross-entropy runs
/// as the fused kernel, and compares every result with the interpreter on
/// the unfused f (relative 1e-5, absolute 1e-6).
void expectFusedMatchesInterpreter(const Function &f, uint64_t seed) {
  auto program = runtime::Program::compile(f);
  EXPECT_TRUE(hasFusedKernel(*program)) << "not fused:\n" << program->optimized().name();
  for (const runtime::KernelInfo &k : program->kernels())
    EXPECT_NE(k.name, "log_softmax");
  std::vector<HostTensor> inputs = inputsFor(f, seed);
  auto want = runtime::interpret(f, inputs);
  auto got = program->run(inputs);
  ASSERT_EQ(got.size(), want.size());
  for (size_t r = 0; r < want.size(); ++r)
    for (int64_t i = 0; i < want[r].numel(); ++i)
      EXPECT_NEAR(got[r].get(i), want[r].get(i), 1e-6 + 1e-5 * std::fabs(want[r].get(i)))
          << "result " << r << ", element " << i;
}

} // namespace

TEST(FuseCrossEntropy, TrainingStepMatchesTheInterpreter) {
  for (int64_t n : {1, 7, 100})
    for (bool mean : {true, false}) {
      SCOPED_TRACE(testing::Message() << "batch " << n << (mean ? ", mean" : ", sum"));
      expectFusedMatchesInterpreter(crossEntropy(n, {.mean = mean}), uint64_t(n));
    }
}

TEST(FuseCrossEntropy, LossAloneMatchesTheInterpreter) {
  for (int64_t n : {1, 7, 100})
    for (bool mean : {true, false}) {
      SCOPED_TRACE(testing::Message() << "batch " << n << (mean ? ", mean" : ", sum"));
      expectFusedMatchesInterpreter(crossEntropy(n, {.mean = mean, .grad = false}),
                                    uint64_t(n) + 1);
    }
}

TEST(FuseCrossEntropy, IncomingGradientFromAnInputMatchesTheInterpreter) {
  for (int64_t n : {1, 7, 100})
    expectFusedMatchesInterpreter(crossEntropy(n, {.scaled = true}), uint64_t(n) + 2);
}

TEST(FuseCrossEntropy, PassLeavesOneFusedNodeWithBothResults) {
  Function step = crossEntropy(7, {});
  Function fused = compiler::fuseCrossEntropy(step);
  int kernels = 0;
  for (const Node &n : fused.nodes()) {
    EXPECT_NE(n.op, OpKind::LogSoftmax);
    if (n.body && n.body->name() == compiler::kSoftmaxCrossEntropyKernel) {
      ++kernels;
      auto k = compiler::describeSoftmaxCrossEntropy(*n.body);
      ASSERT_TRUE(k.has_value());
      EXPECT_EQ(n.results.size(), 2u);
      EXPECT_EQ(k->rows, 7);
      EXPECT_EQ(k->cols, kClasses);
      EXPECT_TRUE(k->mean);
      EXPECT_EQ(k->lossResult, 0);
      EXPECT_EQ(k->gradResult, 1);
    }
  }
  EXPECT_EQ(kernels, 1);
}

TEST(FuseCrossEntropy, OnlyTheCanonicalBodyRunsAsTheKernel) {
  Function body{std::string(compiler::kSoftmaxCrossEntropyKernel)};
  Builder b(body);
  ValueId z = b.param("logits", {DType::F32, Shape{2, 3}});
  b.param("labels", {DType::I64, Shape{2}});
  body.setResults({b.create(OpKind::Softmax, {z}, {{"axis", int64_t(1)}})});
  EXPECT_FALSE(compiler::describeSoftmaxCrossEntropy(body).has_value());
}

TEST(FuseCrossEntropy, ALabelOutOfRangeIsARuntimeError) {
  Function f = crossEntropy(3, {});
  auto program = runtime::Program::compile(f);
  ASSERT_TRUE(hasFusedKernel(*program));
  std::vector<HostTensor> inputs = inputsFor(f, 5);
  inputs[1].set(2, double(kClasses));
  try {
    program->run(inputs);
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(e.message().find("label 10 at index 2 is out of range [0, 10)"), std::string::npos)
        << e.message();
  }
}

namespace {

/// Restores the frontend's step settings after a test.
class FuseCrossEntropyFrontend : public ::testing::Test {
protected:
  void SetUp() override {
    kiln::sync();
    clear_step_cache();
    previousAfter_ = compile_after();
    set_compile_after(0); // compile every step, so the fused kernel runs
  }
  void TearDown() override { set_compile_after(previousAfter_); }

private:
  int previousAfter_ = 1;
};

/// CrossEntropyLoss of a Linear layer's scores on fixed inputs.
struct Classifier {
  kiln::Generator gen{3};
  nn::Linear layer{5, 4, /*bias=*/true, gen};
  Tensor x = randn({7, 5}, f32, false, gen);
  Tensor y = tensor({0, 3, 1, 2, 3, 3, 0});

  double loss() { return nn::CrossEntropyLoss()(layer(x), y).item(); }
};

bool stepWasFused() {
  Function f = last_step_ir(/*optimized=*/true);
  for (const Node &n : f.nodes())
    if (n.body && n.body->name() == compiler::kSoftmaxCrossEntropyKernel)
      return true;
  return false;
}

/// Central differences of the loss for every element of `param`, computed
/// through the frontend in f32 (eps = 1e-2).
std::vector<double> finiteDifferences(Classifier &c, Tensor &param) {
  const double eps = 1e-2;
  std::vector<double> values = param.to_vector(), grads;
  for (size_t i = 0; i < values.size(); ++i) {
    auto lossWith = [&](double v) {
      std::vector<double> changed = values;
      changed[i] = v;
      NoGradGuard noGrad;
      param.copy_(from_vector(changed, param.shape()));
      return c.loss();
    };
    grads.push_back((lossWith(values[i] + eps) - lossWith(values[i] - eps)) / (2 * eps));
    NoGradGuard noGrad;
    param.copy_(from_vector(values, param.shape()));
  }
  return grads;
}

} // namespace

TEST_F(FuseCrossEntropyFrontend, LinearGradientsMatchFiniteDifferences) {
  Classifier c;
  Tensor loss = nn::CrossEntropyLoss()(c.layer(c.x), c.y);
  loss.backward();
  kiln::sync();
  std::vector<double> weightGrad = c.layer.weight.grad().to_vector();
  std::vector<double> biasGrad = c.layer.bias.grad().to_vector();
  EXPECT_TRUE(stepWasFused()) << "the training step did not use the fused kernel";

  std::vector<double> numericWeight = finiteDifferences(c, c.layer.weight);
  EXPECT_TRUE(stepWasFused()) << "the loss-only step did not use the fused kernel";
  std::vector<double> numericBias = finiteDifferences(c, c.layer.bias);
  ASSERT_EQ(numericWeight.size(), weightGrad.size());
  for (size_t i = 0; i < weightGrad.size(); ++i)
    EXPECT_NEAR(weightGrad[i], numericWeight[i], 2e-4 + 1e-2 * std::fabs(numericWeight[i]))
        << "weight element " << i;
  ASSERT_EQ(numericBias.size(), biasGrad.size());
  for (size_t i = 0; i < biasGrad.size(); ++i)
    EXPECT_NEAR(biasGrad[i], numericBias[i], 2e-4 + 1e-2 * std::fabs(numericBias[i]))
        << "bias element " << i;
}
