//===- LazyStepTest.cpp - Lazy recording, whole-step programs, replay -----===//
#include "ErrorTestSupport.h"
#include "StepTestSupport.h"
#include "kiln/ir/OpDef.h"
#include "kiln/runtime/Jit.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>

using namespace kiln;

namespace {

/// Starts from an empty step cache; restores the step settings afterwards.
class LazyStep : public test::StepSettingsTest {
protected:
  void SetUp() override {
    StepSettingsTest::SetUp();
    clear_step_cache();
  }
};

/// Linear regression y = 3x + 5 on 10 points: w, b and the SGD update
/// written with Tensor ops, as the textbook does.
struct Linreg {
  Tensor w = zeros({1, 1}, f32, true);
  Tensor b = zeros({1}, f32, true);
  double lr = 0.01;

  static Tensor inputs(int n) {
    std::vector<double> v;
    for (int i = 1; i <= n; ++i)
      v.push_back(i);
    return from_vector(v, {n, 1});
  }
  static Tensor targets(int n) {
    std::vector<double> v;
    for (int i = 1; i <= n; ++i)
      v.push_back(3 * i + 5);
    return from_vector(v, {n, 1});
  }

  Tensor loss(const Tensor &x, const Tensor &y) const {
    return (x.matmul(w) + b - y).pow(2).mean();
  }

  /// One step; the optimizer's sync() is the step boundary.
  Tensor step(const Tensor &x, const Tensor &y) {
    w.zero_grad();
    b.zero_grad();
    Tensor l = loss(x, y);
    l.backward();
    {
      NoGradGuard noGrad;
      w.sub_(w.grad() * lr);
      b.sub_(b.grad() * lr);
    }
    kiln::sync();
    return l;
  }
};

/// Runs `steps` linreg steps in `mode`; returns the losses, then w and b.
std::vector<double> trainLinreg(Execution mode, int steps) {
  ExecutionGuard guard(mode);
  Linreg m;
  Tensor x = Linreg::inputs(10), y = Linreg::targets(10);
  std::vector<double> out;
  for (int i = 0; i < steps; ++i)
    out.push_back(m.step(x, y).item());
  out.push_back(m.w.item());
  out.push_back(m.b.item());
  return out;
}

void expectAllNear(const std::vector<double> &got, const std::vector<double> &want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-5 * (1 + std::abs(want[i]))) << "at " << i;
}

/// A small MNIST-like linear classifier step: log_softmax + one_hot
/// cross-entropy, SGD lr 0.1. Returns the losses, then W's values.
std::vector<double> trainClassifier(Execution mode, int steps) {
  ExecutionGuard guard(mode);
  Generator gen(7);
  Tensor x = rand({8, 16}, f32, false, gen);
  Tensor labels = randint(0, 4, {8}, gen);
  Tensor w = (randn({16, 4}, f32, false, gen) * 0.1).detach().requires_grad_();
  Tensor b = zeros({4}, f32, true);
  std::vector<double> out;
  for (int i = 0; i < steps; ++i) {
    w.zero_grad(true);
    b.zero_grad(true);
    Tensor logp = (x.matmul(w) + b).log_softmax(1);
    Tensor loss = -(logp * one_hot(labels, 4, f32)).sum(1).mean();
    loss.backward();
    {
      NoGradGuard noGrad;
      w.sub_(w.grad() * 0.1);
      b.sub_(b.grad() * 0.1);
    }
    kiln::sync();
    out.push_back(loss.item());
  }
  for (double v : w.to_vector())
    out.push_back(v);
  return out;
}

} // namespace

// ---- Same numbers in every mode --------------------------------------------------------

TEST_F(LazyStep, LinregTrainsTheSameEagerInterpretedAndCompiled) {
  std::vector<double> eager = trainLinreg(Execution::Eager, 6);
  set_compile_after(0);
  expectAllNear(trainLinreg(Execution::Compiled, 6), eager);
  set_compile_after(2);
  expectAllNear(trainLinreg(Execution::Compiled, 6), eager);
  expectAllNear(trainLinreg(Execution::Interpreted, 6), eager);
  EXPECT_NEAR(eager[0], 536.5, 1e-3); // the CLI's linreg_step: loss at w=b=0
}

TEST_F(LazyStep, ClassifierTrainsTheSameEagerAndCompiled) {
  std::vector<double> eager = trainClassifier(Execution::Eager, 4);
  set_compile_after(0);
  expectAllNear(trainClassifier(Execution::Compiled, 4), eager);
}

// ---- One program per step, replayed ------------------------------------------------------

TEST_F(LazyStep, ReplayedStepsCompileNothing) {
  set_execution(Execution::Compiled);
  set_compile_after(1);
  Linreg m;
  Tensor x = Linreg::inputs(10), y = Linreg::targets(10);
  // Step 1 makes the grads, later steps accumulate into them: a second
  // structure, interpreted when first seen (step 2), compiled at step 3.
  int64_t before = runtime::compilationCount();
  m.step(x, y);
  m.step(x, y);
  EXPECT_EQ(runtime::compilationCount(), before);
  m.step(x, y);
  EXPECT_EQ(runtime::compilationCount(), before + 1);
  // Forward, backward and update are one function.
  ir::Function f = last_step_ir();
  bool hasMatmul = false, hasSub = false;
  for (const ir::Node &n : f.nodes()) {
    hasMatmul = hasMatmul || n.op == ir::OpKind::Matmul;
    hasSub = hasSub || n.op == ir::OpKind::Sub;
  }
  EXPECT_TRUE(hasMatmul && hasSub) << "one step function holds forward and update";

  runtime::setCompilationForbidden(true);
  for (int i = 0; i < 5; ++i)
    EXPECT_NO_THROW(m.step(x, y));
  runtime::setCompilationForbidden(false);
  EXPECT_EQ(runtime::compilationCount(), before + 1);
}

/// A step that repeats the last one is recognised while it is recorded:
/// each value is compared with the last step's, no key is built. A step
/// of another structure is not, and gets its own program.
TEST_F(LazyStep, ARepeatedStepIsRecognisedAsItIsRecorded) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Linreg m;
  Tensor x = Linreg::inputs(10), y = Linreg::targets(10);
  m.step(x, y); // makes the grads
  m.step(x, y); // accumulates into them: the structure of every later step
  EXPECT_EQ(step_cache_stats().recognised, 0);
  for (int i = 0; i < 4; ++i)
    m.step(x, y);
  EXPECT_EQ(step_cache_stats().recognised, 4);
  EXPECT_EQ(step_cache_stats().compilations, 2);

  m.step(Linreg::inputs(7), Linreg::targets(7));
  EXPECT_EQ(step_cache_stats().recognised, 4) << "another batch size is another step";
  EXPECT_EQ(step_cache_stats().compilations, 3);
  m.step(x, y); // found by its key, not recognised: the last step was the other one
  m.step(x, y);
  EXPECT_EQ(step_cache_stats().recognised, 5);
  EXPECT_EQ(step_cache_stats().compilations, 3);
}

/// The same values recorded with another tensor still held are another
/// step (one more result): not taken for the last one.
TEST_F(LazyStep, AStepWithOtherResultsIsNotTakenForTheLast) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Tensor x = from_vector({1, 2, 3, 4}, {4});
  Tensor kept;
  for (int step = 1; step <= 4; ++step) {
    Tensor doubled = x * 2;
    Tensor sum = (doubled + 1).sum();
    if (step == 3)
      kept = doubled;
    doubled = Tensor(); // only `kept` holds it at the read
    EXPECT_DOUBLE_EQ(sum.item(), 24.0);
  }
  EXPECT_EQ(kept.to_vector(), (std::vector<double>{2, 4, 6, 8}));
  EXPECT_EQ(step_cache_stats().compilations, 2);
  EXPECT_EQ(step_cache_stats().recognised, 1) << "step 2 only";
}

/// Ops whose results no tensor holds at the flush are part of the
/// recording (so the next step is compared with them too) but not of the
/// step's function.
TEST_F(LazyStep, DeadValuesAreRecordedButNotComputed) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Tensor x = from_vector({1, 2, 3}, {3});
  for (int step = 0; step < 3; ++step) {
    { Tensor dropped = x.exp(); }
    EXPECT_DOUBLE_EQ((x * 2).sum().item(), 12.0);
  }
  ir::Function step = last_step_ir();
  for (const ir::Node &n : step.nodes())
    EXPECT_NE(n.op, ir::OpKind::Exp) << "a value no result needs is not in the function";
  EXPECT_EQ(step_cache_stats().recognised, 2);
  EXPECT_EQ(step_cache_stats().compilations, 1);
}

/// A recording that matched the last step so far takes the result types
/// from it without asking the op table; an operand of another shape ends
/// the match, so the op table still reports the mistake.
TEST_F(LazyStep, AStepThatMatchedSoFarStillChecksItsShapes) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Tensor a = ones({3}), b = ones({3}), c = ones({4});
  EXPECT_DOUBLE_EQ((a + b).sum().item(), 6.0);
  EXPECT_DOUBLE_EQ((a + b).sum().item(), 6.0);
  EXPECT_EQ(step_cache_stats().recognised, 1);
  std::string message = test::errorOf([&] { (void)(a + c); }, ErrorKind::Shape);
  EXPECT_TRUE(test::contains(message, "broadcast")) << message;
  kiln::sync();
  EXPECT_DOUBLE_EQ((a + b).sum().item(), 6.0);
}

/// A user reading KILN_LOG=step-ir or --emit-ir sees their own names:
/// parameters, their gradients and new values, and tensors named with
/// set_name, also after the optimiser's rewrites.
TEST_F(LazyStep, TheStepNamesValuesAfterTheProgram) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Linreg m;
  m.w.set_name("w");
  m.b.set_name("b");
  Tensor x = Linreg::inputs(10), y = Linreg::targets(10);
  m.w.zero_grad();
  m.b.zero_grad();
  Tensor l = m.loss(x, y).set_name("loss");
  l.backward();
  {
    NoGradGuard noGrad;
    m.w.sub_(m.w.grad() * m.lr);
    m.b.sub_(m.b.grad() * m.lr);
  }
  kiln::sync();
  auto resultNames = [](const ir::Function &f) {
    std::vector<std::string> names;
    for (ir::ValueId r : f.results())
      names.push_back(f.value(r).name);
    return names;
  };
  std::vector<std::string> want = {"loss", "w_grad", "b_grad", "w_new", "b_new"};
  EXPECT_EQ(resultNames(last_step_ir(false)), want);
  EXPECT_EQ(resultNames(last_step_ir(true)), want);
  EXPECT_EQ(m.w.grad().name(), "w_grad") << "the .grad tensor is named too";
}

/// An op's autograd record (its operand tensors) dies with the tensor it
/// made, as PyTorch's grad_fn does, even while its pending value lives on
/// (read through a detach()ed alias): otherwise the intermediate tensors
/// would stay alive and each be a result of the flush. (The pending value is
/// the grad_fn: the dying tensor drops the node's operand tensors.)
TEST_F(LazyStep, ADetachedValueDoesNotKeepItsHistoryAlive) {
  set_execution(Execution::Compiled);
  Tensor w = ones({3}, f32, true), x = full({3}, 2.0);
  Tensor kept;
  {
    Tensor y = x * w + 1;
    kept = y.detach();
  }
  EXPECT_EQ(kept.to_vector(), (std::vector<double>{3, 3, 3}));
  EXPECT_EQ(last_step_ir().results().size(), 1u) << "x * w is not a result of the step";
}

/// A loss kept after its step (as a training loop's `loss` variable, until
/// the next step replaces it) holds its grad_fn, which is the node that was
/// its pending value: once the step ran, that node must not hold the values
/// it was computed from, or the step's input buffers (a batch the loader
/// would gather the next one into) stay in use.
TEST_F(LazyStep, AKeptLossDoesNotHoldItsStepsBuffers) {
  set_execution(Execution::Compiled);
  Tensor w = ones({3}, f32, true);
  ir::HostTensor batch = full({3}, 2.0).host();
  Tensor loss;
  {
    Tensor x(batch);
    loss = (x * w + 1).sum();
    loss.backward();
    kiln::sync();
  }
  EXPECT_EQ(loss.item(), 9.0);
  EXPECT_EQ(loss.grad_fn_name(), "reduce_sum");
  EXPECT_TRUE(batch.storageUnshared()) << "the kept loss holds the batch's buffer";
}

/// backward() uses the forward's own values, as PyTorch's saved tensors:
/// when the loss was read first (its own flush), the backward's step reads
/// the computed activations instead of running the forward again.
TEST_F(LazyStep, BackwardAfterAReadUsesTheComputedForward) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Linreg m;
  Tensor x = Linreg::inputs(10), y = Linreg::targets(10);
  Tensor l = m.loss(x, y);
  double value = l.item(); // the forward runs here
  l.backward();
  kiln::sync();
  int matmuls = 0;
  ir::Function backwardStep = last_step_ir(false);
  for (const ir::Node &n : backwardStep.nodes())
    matmuls += n.op == ir::OpKind::Matmul;
  EXPECT_EQ(matmuls, 1) << "only the weight gradient's matmul, no forward x @ w";
  EXPECT_NEAR(value, 536.5, 1e-3); // mean((3i + 5)^2), i = 1..10
  // d/dw mean((xw + b - y)^2) at w = b = 0: -2 mean(x y)
  EXPECT_NEAR(m.w.grad().item(), -2 * 143.0, 1e-3);
}

/// backward() records its gradient function simplified (once, when derived):
/// the mean's seed and scale are one constant, and the two equal products
/// that the gradient rule of d * d makes are one node, so that every step
/// records fewer ops.
TEST_F(LazyStep, BackwardRecordsItsGradientSimplified) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Linreg m;
  Tensor x = Linreg::inputs(10), y = Linreg::targets(10);
  Tensor d = x.matmul(m.w) + m.b - y;
  (d * d).mean().backward();
  kiln::sync();
  ir::Function step = last_step_ir();
  int constants = 0;
  for (const ir::Node &n : step.nodes()) {
    constants += n.op == ir::OpKind::Constant;
    for (const ir::Node &earlier : step.nodes()) {
      if (&earlier == &n)
        break;
      EXPECT_FALSE(earlier.op == n.op && earlier.operands == n.operands &&
                   earlier.attrs == n.attrs)
          << "two '" << ir::opName(n.op) << "' nodes of the same operands";
    }
  }
  EXPECT_EQ(constants, 1) << "the seed, its broadcast and the 1/10 of the mean fold";
  // d/dw mean((xw + b - y)^2) at w = b = 0: -2 mean(x y)
  EXPECT_NEAR(m.w.grad().item(), -2 * 143.0, 1e-3);
}

/// A forward value changed in place after it was recorded (under no_grad) is
/// not used: the gradient of exp is exp(x), computed again, not the new 0.
TEST_F(LazyStep, AForwardValueChangedInPlaceIsComputedAgain) {
  set_execution(Execution::Compiled);
  Tensor x = tensor({0.5, 1.0}, f32, true);
  Tensor e = x.exp();
  {
    NoGradGuard noGrad;
    e.mul_(0);
  }
  e.sum().backward();
  EXPECT_NEAR(x.grad().to_vector()[0], std::exp(0.5), 1e-6);
  EXPECT_NEAR(x.grad().to_vector()[1], std::exp(1.0), 1e-6);
}

/// A repeated step takes the last step's nodes again where nothing else
/// holds them; the grad_fn of a tensor kept from an earlier step is held,
/// so it keeps its history and the later steps' values do not reach it.
TEST_F(LazyStep, ANodeKeptFromAnEarlierStepIsNotTakenAgain) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Tensor w = tensor({1.0, 2.0}, f32, true);
  Tensor kept;
  for (int step = 0; step < 5; ++step) {
    Tensor scaled = (w * double(step + 1)).sum();
    if (step == 1)
      kept = scaled;
    EXPECT_DOUBLE_EQ(scaled.item(), 3.0 * (step + 1));
  }
  EXPECT_DOUBLE_EQ(kept.item(), 6.0);
  kept.backward();
  EXPECT_EQ(w.grad().to_vector(), (std::vector<double>{2.0, 2.0})) << "step 1's history";
}

// ---- backward() from the recording (frontends/src/HistoryPlan.h) ----------------------------

/// Steps with the same recorded values but another autograd graph: the same
/// buffer read through one tensor twice, or through two tensors (a detached
/// alias that requires grad). The recording cannot tell them apart; the
/// history taken from it checks which tensor each input is.
TEST_F(LazyStep, AHistoryThroughOtherTensorsIsWalkedAgain) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Tensor x = tensor({1.0, 2.0}, f32, true);
  Tensor alias = x.detach().requires_grad_();
  for (int step = 0; step < 6; ++step) {
    x.zero_grad(true);
    alias.zero_grad(true);
    bool twice = step % 3 != 2; // two steps through x alone, then one through both
    (x * (twice ? x : alias)).sum().backward();
    kiln::sync();
    if (twice) {
      EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 4})) << "step " << step;
      EXPECT_FALSE(alias.grad().defined()) << "step " << step;
    } else {
      EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{1, 2})) << "step " << step;
      EXPECT_EQ(alias.grad().to_vector(), (std::vector<double>{1, 2})) << "step " << step;
    }
  }
}

/// A leaf that stops requiring grad between two steps that record the same
/// values gets no gradient any more.
TEST_F(LazyStep, ALeafThatStopsRequiringGradGetsNoGradient) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Linreg m;
  Tensor x = Linreg::inputs(10), y = Linreg::targets(10);
  for (int step = 0; step < 6; ++step) {
    if (step == 3)
      m.b.requires_grad_(false);
    m.w.zero_grad(true);
    m.b.zero_grad(true);
    m.loss(x, y).backward();
    kiln::sync();
    EXPECT_TRUE(m.w.grad().defined()) << "step " << step;
    EXPECT_EQ(m.b.grad().defined(), step < 3) << "step " << step;
  }
}

/// An input changed in place after it was recorded is an error in a
/// repeated step too.
TEST_F(LazyStep, AnInputChangedInPlaceIsAnErrorInARepeatedStep) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Tensor w = tensor({1.0, 2.0}, f32, true);
  for (int step = 0; step < 4; ++step) {
    w.zero_grad(true);
    Tensor e = w.exp();
    Tensor loss = (e * e).sum();
    if (step == 3) {
      NoGradGuard noGrad;
      e.mul_(2);
      std::string message = test::errorOf([&] { loss.backward(); }, ErrorKind::Autograd);
      EXPECT_TRUE(test::contains(message, "modified by an inplace operation")) << message;
      break;
    }
    loss.backward();
    kiln::sync();
    EXPECT_NEAR(w.grad().to_vector()[0], 2 * std::exp(2.0), 1e-4);
  }
}

/// The gradient function is recorded as one region whose operands are the
/// forward values it can read: steps that alternate between holding a
/// forward value and having changed it in place get a region each, and the
/// right gradient every time.
TEST_F(LazyStep, StepsThatChangeAForwardValueOrNotEachGetTheirGradient) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Tensor x = tensor({0.5, 1.0}, f32, true);
  for (int step = 0; step < 6; ++step) {
    x.zero_grad(true);
    Tensor e = x.exp();
    if (step % 2 == 1) {
      NoGradGuard noGrad;
      e.mul_(0); // gone: the region computes exp again
    }
    (e * 3).sum().backward();
    std::vector<double> grad = x.grad().to_vector();
    EXPECT_NEAR(grad[0], 3 * std::exp(0.5), 1e-5) << "step " << step;
    EXPECT_NEAR(grad[1], 3 * std::exp(1.0), 1e-5) << "step " << step;
  }
  EXPECT_EQ(step_cache_stats().compilations, 2) << "one program per kind of step";
}

// ---- When a structure compiles (compile_after) -------------------------------------------

/// By default a structure the interpreter runs in well under a millisecond
/// (a reduction of 100 numbers) is interpreted once and compiled when it
/// comes back; one whose estimate is tens of milliseconds (a 256^3 matmul)
/// compiles the first time.
TEST_F(LazyStep, ByDefaultOnlyACheapStructureIsInterpretedFirst) {
  set_execution(Execution::Compiled);
  set_compile_after(kCompileAfterAuto);
  clear_step_cache();
  Tensor small = ones({100});
  EXPECT_DOUBLE_EQ((small * 2).sum().item(), 200.0);
  EXPECT_EQ(step_cache_stats().interpreted, 1);
  EXPECT_EQ(step_cache_stats().compilations, 0);
  EXPECT_DOUBLE_EQ((small * 2).sum().item(), 200.0);
  EXPECT_EQ(step_cache_stats().compilations, 1) << "a cheap structure compiles when it is back";

  Tensor a = ones({256, 256});
  EXPECT_DOUBLE_EQ(a.matmul(a).sum().item(), 256.0 * 256 * 256);
  EXPECT_EQ(step_cache_stats().interpreted, 1) << "an expensive structure is not interpreted";
  EXPECT_EQ(step_cache_stats().compilations, 2);
}

/// A flush compares its structure with the last step's before hashing it:
/// two structures taking turns must each run their own program.
TEST_F(LazyStep, StructuresTakingTurnsEachRunTheirOwnProgram) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  clear_step_cache();
  Tensor x = ones({4});
  for (int step = 1; step <= 3; ++step) {
    EXPECT_DOUBLE_EQ((x * step).sum().item(), 4.0 * step);
    EXPECT_DOUBLE_EQ((x * step).max().item(), double(step));
  }
  EXPECT_EQ(step_cache_stats().compilations, 2);
}

TEST_F(LazyStep, CompileAfterAcceptsCountsAndAuto) {
  set_compile_after(kCompileAfterAuto);
  EXPECT_EQ(compile_after(), kCompileAfterAuto);
  set_compile_after(3);
  EXPECT_EQ(compile_after(), 3);
  EXPECT_THROW(set_compile_after(-2), Error);
  EXPECT_EQ(compile_after(), 3);
}

/// The seed's loop with its loss scaled by a number new every step: the
/// number is an input of the step and of the gradient function, so 20 steps
/// derive one gradient function and compile one program, and train as the
/// eager loop does. (It was a constant of the gradient function, whose key
/// held its bytes: every step ran autodiff again and ran interpreted.)
TEST_F(LazyStep, ANumberNewEveryStepIsAnInputNotANewStructure) {
  auto train = [](Execution mode) {
    ExecutionGuard guard(mode);
    Linreg m;
    Tensor x = Linreg::inputs(10), y = Linreg::targets(10);
    for (int i = 0; i < 20; ++i) {
      m.w.zero_grad();
      m.b.zero_grad();
      (m.loss(x, y) * (1 + i * 0.001)).backward();
      NoGradGuard noGrad;
      m.w.sub_(m.w.grad() * m.lr);
      m.b.sub_(m.b.grad() * m.lr);
      kiln::sync();
    }
    return std::vector<double>{m.w.item(), m.b.item()};
  };
  std::vector<double> eager = train(Execution::Eager);
  set_compile_after(1);
  clear_backward_cache();
  int64_t compiled = runtime::compilationCount();
  std::vector<double> lazy = train(Execution::Compiled);
  EXPECT_EQ(backward_cache_stats().misses, 1u);
  EXPECT_EQ(runtime::compilationCount() - compiled, 1);
  EXPECT_LE(step_cache_stats().interpreted, 2);
  expectAllNear(lazy, eager);
}

TEST_F(LazyStep, ASmallerLastBatchRecompilesWithAReason) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  setenv("KILN_LOG", "recompile", 1);
  Linreg m;
  m.step(Linreg::inputs(10), Linreg::targets(10)); // makes the grads
  m.step(Linreg::inputs(10), Linreg::targets(10)); // accumulates into them
  testing::internal::CaptureStderr();
  m.step(Linreg::inputs(10), Linreg::targets(10)); // cached
  m.step(Linreg::inputs(7), Linreg::targets(7));
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("kiln: recompile: input %"), std::string::npos) << log;
  EXPECT_NE(log.find("changed from f32[10,1] to f32[7,1]"), std::string::npos) << log;
  // Where the recording left the last step: the first input of the new shape.
  EXPECT_NE(log.find("as recorded, it left the step before it at: value 4 is an input f32[7,1], "
                     "was an input f32[10,1]"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find('\n'), log.size() - 1) << "one line: " << log;
}

/// A step of the same structure with another attribute recompiles, and the
/// reason names the op and the attribute (not just "attributes changed").
TEST_F(LazyStep, AChangedAttributeRecompilesNamingTheOp) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  setenv("KILN_LOG", "recompile", 1);
  Tensor x = ones({3, 3});
  (void)x.sum(0).to_vector();
  testing::internal::CaptureStderr();
  (void)x.sum(1).to_vector();
  std::string log = testing::internal::GetCapturedStderr();
  unsetenv("KILN_LOG");
  EXPECT_NE(log.find("kiln: recompile: 'reduce_sum'"), std::string::npos) << log;
  EXPECT_NE(log.find("axes = [1], was [0]"), std::string::npos) << log;
}

// ---- A bounded cache -------------------------------------------------------------------------

/// Restores the capacity of this thread's step cache.
struct CapacityGuard {
  size_t previous = step_cache_capacity();
  explicit CapacityGuard(size_t n) { set_step_cache_capacity(n); }
  ~CapacityGuard() { set_step_cache_capacity(previous); }
};

TEST_F(LazyStep, ACycleLongerThanTheCacheStillCompiles) {
  // Batch sizes 1..6 in turn with room for 4 structures: each is evicted
  // before it comes back. Seen a second time it compiles (its sightings
  // outlive the eviction), instead of being a one-off interpreted forever.
  set_execution(Execution::Compiled);
  set_compile_after(1);
  CapacityGuard capacity(4);
  Linreg m;
  for (int round = 0; round < 3; ++round)
    for (int n = 1; n <= 6; ++n)
      m.step(Linreg::inputs(n), Linreg::targets(n));
  StepCacheStats s = step_cache_stats();
  EXPECT_EQ(s.entries, 4u);
  EXPECT_GE(s.evictions, 14);
  EXPECT_LE(s.interpreted, 8) << "only first sightings run in the interpreter";
}

TEST_F(LazyStep, EvictedProgramsUnloadTheirKernels) {
  // Random batch sizes, each a structure of its own: with 8 programs cached,
  // the JIT holds the kernels of 8 programs, not of every size ever seen.
  set_execution(Execution::Compiled);
  set_compile_after(0);
  CapacityGuard capacity(8);
  runtime::Jit &jit = runtime::Jit::instance();
  Linreg m;
  m.step(Linreg::inputs(9), Linreg::targets(9)); // makes the grads
  int64_t baseline = jit.stats().loaded;          // kernels other live programs hold too
  m.step(Linreg::inputs(10), Linreg::targets(10));
  int64_t perProgram = jit.stats().loaded - baseline;
  ASSERT_GT(perProgram, 0);
  for (int n = 11; n < 70; ++n)
    m.step(Linreg::inputs(n), Linreg::targets(n));
  runtime::JitStats s = jit.stats();
  EXPECT_GT(s.unloaded, 0);
  EXPECT_LE(s.loaded, baseline + 8 * perProgram) << "kernels loaded after 60 sizes";
}

// ---- In-place updates -------------------------------------------------------------------------

TEST_F(LazyStep, InPlaceUpdatesWriteThroughToAliases) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Tensor a = tensor({1.0, 2.0});
  const void *buffer = a.host().raw();
  Tensor alias = a.detach();
  a.add_(10);
  a.mul_(2);
  EXPECT_EQ(alias.to_vector(), (std::vector<double>{22, 24}));
  EXPECT_EQ(a.host().raw(), buffer) << "updated in its own buffer";
  EXPECT_EQ(alias.host().raw(), buffer);
}

TEST_F(LazyStep, AnOutputBufferMayBeAnInputBuffer) {
  set_execution(Execution::Compiled);
  set_compile_after(0);
  Tensor p = tensor({4.0, 8.0});
  p.sub_(p * 0.5); // reads p and writes p in one program
  EXPECT_EQ(p.to_vector(), (std::vector<double>{2, 4}));

  // A swap: each result is the other's input buffer.
  Tensor a = tensor({1.0, 2.0}), b = tensor({3.0, 4.0});
  Tensor oldA = a.clone();
  a.copy_(b);
  b.copy_(oldA);
  kiln::sync();
  EXPECT_EQ(a.to_vector(), (std::vector<double>{3, 4}));
  EXPECT_EQ(b.to_vector(), (std::vector<double>{1, 2}));
  EXPECT_EQ(oldA.to_vector(), (std::vector<double>{1, 2}));
}

TEST_F(LazyStep, ValuesReadBeforeAnUpdateKeepTheirOldValue) {
  set_execution(Execution::Compiled);
  Tensor w = tensor({1.0, 2.0});
  Tensor twice = w * 2; // pending, reads w's buffer
  w.add_(100);          // pending update of that buffer
  EXPECT_EQ(twice.to_vector(), (std::vector<double>{2, 4}));
  EXPECT_EQ(w.to_vector(), (std::vector<double>{101, 102}));
}

// ---- Execution modes ------------------------------------------------------------------------

TEST_F(LazyStep, InterpretedModeNeverCompiles) {
  set_execution(Execution::Interpreted);
  set_compile_after(0);
  StepCacheStats before = step_cache_stats();
  int64_t compiled = runtime::compilationCount();
  Linreg m;
  for (int i = 0; i < 3; ++i)
    m.step(Linreg::inputs(10), Linreg::targets(10));
  EXPECT_EQ(runtime::compilationCount(), compiled);
  EXPECT_GE(step_cache_stats().interpreted - before.interpreted, 3);
}

TEST_F(LazyStep, EagerModeComputesAtOnce) {
  set_execution(Execution::Eager);
  StepCacheStats before = step_cache_stats();
  Tensor t = tensor({1.0, 2.0}) * 3;
  EXPECT_EQ(t.to_vector(), (std::vector<double>{3, 6}));
  EXPECT_EQ(step_cache_stats().flushes, before.flushes);
}

TEST_F(LazyStep, AFailingStepReportsItsErrorOnRead) {
  set_execution(Execution::Compiled);
  Tensor labels = tensor({0, 1}, i64) + 5; // pending: checked when it runs
  Tensor hot = one_hot(labels, 3, f32);
  EXPECT_THROW(hot.to_vector(), Error);
  EXPECT_THROW(hot.item(), Error) << "the failure sticks to the value";
  Tensor fine = tensor({1.0}) + 1;
  EXPECT_EQ(fine.item(), 2) << "other values are not affected";
}

TEST_F(LazyStep, CheckNumericsStopsAtTheFirstNonFiniteKernel) {
  set_check_numerics(true);
  struct Off {
    ~Off() { set_check_numerics(false); }
  } off;
  Tensor x = tensor({1.0, 0.0, 2.0});
  Tensor y = x.log() * 2; // log(0) = -inf: compiled at once (no interpreted first run)
  try {
    y.to_vector();
    FAIL() << "expected an error naming the non-finite value";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("-Inf"), std::string::npos) << e.what();
  }
  EXPECT_EQ(step_cache_stats().interpreted, 0);
  set_check_numerics(false);
  Tensor z = x.log() * 2; // the same structure, now unchecked: -inf is a value
  EXPECT_EQ(z.to_vector()[1], -std::numeric_limits<double>::infinity());
}
