//===- OptimizerRecordingTest.cpp - SGD's update as one recorded node ----===//
//
// In lazy mode SGD records each parameter's descent as one node whose body
// is the update's ops (without momentum, the whole update), inlined when
// the step's IR is built
// (frontends/src/RecordedRegion.h). Specified here: the step is the one the
// ops make, a steady step is recognised, equal updates share one program,
// and the other modes still compute it op by op.
//
//===----------------------------------------------------------------------===//
#include "StepTestSupport.h"
#include "kiln/ir/Printer.h"
#include "kiln/nn/nn.h"
#include "kiln/optim/optim.h"

#include <gtest/gtest.h>

using namespace kiln;

namespace {

class OptimizerRecording : public test::StepSettingsTest {
protected:
  void SetUp() override {
    StepSettingsTest::SetUp();
    clear_step_cache();
    set_execution(Execution::Compiled);
    set_compile_after(0);
  }
};

/// A Linear(2, 2) with fixed weights, so that two instances compute the same.
struct Model : nn::Linear {
  Model() : nn::Linear(2, 2) {
    NoGradGuard noGrad;
    weight.copy_(from_vector({0.5, -1, 2, 0.25}, {2, 2}));
    bias.copy_(from_vector({0.1, -0.2}, {2}));
    kiln::sync();
  }
};

/// One step's recording up to the update (the caller updates and syncs),
/// on fixed data.
Tensor forwardBackward(nn::Linear &m, const Tensor &x, const Tensor &y) {
  m.zero_grad();
  Tensor loss = nn::MSELoss()(m(x), y);
  loss.backward();
  return loss;
}
Tensor forwardBackward(nn::Linear &m) {
  return forwardBackward(m, from_vector({1, 2, 3, 4, 5, 6}, {3, 2}),
                         from_vector({1, 0, 0, 1, 2, -1}, {3, 2}));
}

/// The step function of `steps` steps of SGD(lr, weight_decay), as printed.
std::string sgdStep(int steps, double weightDecay) {
  Model m;
  optim::SGD opt(m.parameters(), optim::SGDOptions{.lr = 0.1, .weight_decay = weightDecay});
  for (int i = 0; i < steps; ++i) {
    forwardBackward(m);
    opt.step();
  }
  return ir::print(last_step_ir());
}

/// The same steps with SGD's update written op by op, as the per-op path
/// (and an earlier kiln) records it.
std::string opByOpStep(int steps, double weightDecay) {
  Model m;
  Tensor lr = scalar_tensor(0.1, f32).set_name("lr");
  Tensor wd = scalar_tensor(weightDecay, f32).set_name("weight_decay");
  for (int i = 0; i < steps; ++i) {
    forwardBackward(m);
    {
      NoGradGuard noGrad;
      for (Tensor &p : m.parameters()) {
        Tensor g = weightDecay != 0 ? p.grad() + p * wd : p.grad();
        p.sub_(g * lr);
      }
    }
    kiln::sync();
  }
  return ir::print(last_step_ir());
}

} // namespace

TEST_F(OptimizerRecording, TheStepIsTheOneItsOpsMake) {
  for (double weightDecay : {0.0, 0.01}) {
    std::string recorded = sgdStep(3, weightDecay);
    EXPECT_EQ(recorded, opByOpStep(3, weightDecay)) << "weight_decay " << weightDecay;
    EXPECT_NE(recorded.find("%weight_new"), std::string::npos) << recorded;
  }
}

TEST_F(OptimizerRecording, ASteadyStepIsRecognisedAndCompiledOnce) {
  Model m;
  optim::SGD opt(m.parameters(), 0.1);
  StepCacheStats before = step_cache_stats();
  for (int i = 0; i < 6; ++i) {
    forwardBackward(m);
    opt.step();
  }
  // zero_grad() sets the grads to none: every step has the first one's
  // structure, recognised as it is recorded.
  EXPECT_EQ(step_cache_stats().compilations - before.compilations, 1);
  EXPECT_EQ(step_cache_stats().recognised - before.recognised, 5);
}

TEST_F(OptimizerRecording, EqualUpdatesShareOneProgram) {
  Model m;
  {
    optim::SGD first(m.parameters(), 0.1);
    for (int i = 0; i < 3; ++i) {
      forwardBackward(m);
      first.step();
    }
  }
  int64_t compiled = step_cache_stats().compilations;
  optim::SGD second(m.parameters(), 0.1); // its own regions, of the same structure
  for (int i = 0; i < 3; ++i) {
    forwardBackward(m);
    second.step();
  }
  EXPECT_EQ(step_cache_stats().compilations, compiled) << "found by the step's key";
}

TEST_F(OptimizerRecording, EveryModeComputesTheSameUpdate) {
  auto train = [](Execution mode) {
    ExecutionGuard guard(mode);
    Model m;
    optim::SGD opt(m.parameters(), optim::SGDOptions{.lr = 0.1, .weight_decay = 0.01});
    for (int i = 0; i < 4; ++i) {
      forwardBackward(m);
      opt.step();
    }
    std::vector<double> out = m.weight.to_vector();
    for (double b : m.bias.to_vector())
      out.push_back(b);
    return out;
  };
  std::vector<double> compiled = train(Execution::Compiled);
  std::vector<double> eager = train(Execution::Eager);
  std::vector<double> interpreted = train(Execution::Interpreted);
  ASSERT_EQ(compiled.size(), eager.size());
  for (size_t i = 0; i < compiled.size(); ++i) {
    EXPECT_NEAR(compiled[i], eager[i], 1e-6) << i;
    EXPECT_NEAR(interpreted[i], eager[i], 1e-6) << i;
  }
}

TEST_F(OptimizerRecording, AReplayedCompiledStepReadsTheNewLearningRate) {
  Model m;
  optim::SGD opt(m.parameters(), 0.1);
  auto step = kiln::compile([&](Tensor x, Tensor y) {
    Tensor loss = forwardBackward(m, x, y);
    opt.step();
    return loss;
  });
  Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {3, 2}), y = from_vector({1, 0, 0, 1, 2, -1}, {3, 2});
  for (int i = 0; i < 3; ++i)
    step(x, y);
  opt.set_lr(0);
  std::vector<double> before = m.weight.to_vector();
  step(x, y);
  EXPECT_EQ(m.weight.to_vector(), before) << "lr 0 leaves the weights";
  EXPECT_GE(step.replays(), 1);
}
