//===- CompileStepTest.cpp - kiln::compile: trace, guards, replay ---------===//
#include "ErrorTestSupport.h"
#include "StepTestSupport.h"
#include "kiln/optim/optim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using namespace kiln;

namespace {

/// Compiled mode, compiling a step's structure when first seen.
class CompileStep : public test::StepSettingsTest {
protected:
  void SetUp() override {
    StepSettingsTest::SetUp();
    set_execution(Execution::Compiled);
    set_compile_after(1);
  }
};

Tensor column(int n, double scale, double shift) {
  std::vector<double> v;
  for (int i = 1; i <= n; ++i)
    v.push_back(scale * i + shift);
  return from_vector(v, {n, 1});
}

/// The linreg step, with zero_grad in place (grads kept between steps) or
/// set to none.
struct Model {
  Tensor w = zeros({1, 1}, f32, true);
  Tensor b = zeros({1}, f32, true);
  /// A tensor, not a number: a replay re-reads it (a number written in the
  /// step would make every call run the step again).
  Tensor lr = scalar_tensor(0.01);
  bool setToNone = false;

  Tensor step(const Tensor &x, const Tensor &y) {
    w.zero_grad(setToNone);
    b.zero_grad(setToNone);
    Tensor loss = (x.matmul(w) + b - y).pow(2).mean();
    loss.backward();
    {
      NoGradGuard noGrad;
      for (Tensor *p : {&w, &b}) // like PyTorch's optimizers: skip params without grad
        if (p->grad().defined())
          p->sub_(p->grad() * lr);
    }
    kiln::sync();
    return loss;
  }
};

/// Losses and final parameters of `steps` steps, plain or compiled.
std::vector<double> train(bool compiled, bool setToNone, int steps, CompiledStep *out = nullptr) {
  Model m;
  m.setToNone = setToNone;
  auto step = compile([&](Tensor x, Tensor y) { return m.step(x, y); });
  Tensor x = column(10, 1, 0), y = column(10, 3, 5);
  std::vector<double> r;
  for (int i = 0; i < steps; ++i)
    r.push_back((compiled ? step(x, y) : m.step(x, y)).item());
  r.push_back(m.w.item());
  r.push_back(m.b.item());
  if (out)
    *out = step;
  return r;
}

void expectAllNear(const std::vector<double> &got, const std::vector<double> &want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-5 * (1 + std::abs(want[i]))) << "at " << i;
}

} // namespace

TEST_F(CompileStep, ReplaysGiveTheNumbersOfTheUncompiledLoop) {
  for (bool setToNone : {false, true}) {
    std::vector<double> plain = train(false, setToNone, 8);
    CompiledStep step = compile([](Tensor x) { return x; });
    expectAllNear(train(true, setToNone, 8, &step), plain);
    // Kept grads: call 1 makes them, call 2 traces the accumulating form.
    EXPECT_LE(step.traces(), 2) << "set_to_none=" << setToNone;
    EXPECT_GE(step.replays(), 6) << "set_to_none=" << setToNone;
  }
}

TEST_F(CompileStep, AReplayRunsTheCachedProgramWithoutCompiling) {
  Model m;
  auto step = compile([&](Tensor x, Tensor y) { return m.step(x, y); });
  Tensor x = column(10, 1, 0), y = column(10, 3, 5);
  for (int i = 0; i < 3; ++i)
    step(x, y);
  runtime::setCompilationForbidden(true);
  int64_t replays = step.replays();
  for (int i = 0; i < 5; ++i)
    EXPECT_NO_THROW(step(column(10, 1, i), y)) << "new input buffers, same program";
  EXPECT_EQ(step.replays(), replays + 5);
}

TEST_F(CompileStep, GuardsTraceAgainWithAReason) {
  Model m;
  auto step = compile([&](Tensor x, Tensor y) { return m.step(x, y); });
  for (int i = 0; i < 3; ++i)
    step(column(10, 1, 0), column(10, 3, 5));
  int64_t traces = step.traces();

  setenv("KILN_LOG", "recompile", 1);
  testing::internal::CaptureStderr();
  step(column(7, 1, 0), column(7, 3, 5)); // a smaller last batch
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(step.traces(), traces + 1);
  EXPECT_EQ(step.last_trace_reason(), "input 0 changed from f32[10,1] to f32[7,1]");
  EXPECT_NE(log.find("changed from f32[10,1] to f32[7,1]"), std::string::npos) << log;

  step(column(10, 1, 0), column(10, 3, 5)); // the first trace still holds
  EXPECT_EQ(step.traces(), traces + 1);

  m.b.requires_grad_(false); // the step used b: its flags are guarded
  m.b.zero_grad(true);
  step(column(10, 1, 0), column(10, 3, 5));
  EXPECT_EQ(step.traces(), traces + 2);
  EXPECT_NE(step.last_trace_reason().find("requires_grad"), std::string::npos)
      << step.last_trace_reason();
}

/// A tensor the step reads is re-read by every replay: a learning rate kept
/// in a tensor and changed between calls is used at once.
TEST_F(CompileStep, ATensorChangedBetweenCallsIsReadByTheReplay) {
  auto run = [](bool compiled) {
    Model m;
    auto step = compile([&](Tensor x, Tensor y) { return m.step(x, y); });
    Tensor x = column(10, 1, 0), y = column(10, 3, 5);
    for (int i = 0; i < 6; ++i) {
      if (i == 3)
        m.lr.fill_(0.002);
      compiled ? step(x, y) : m.step(x, y);
    }
    EXPECT_GE(step.replays(), compiled ? 3 : 0);
    return std::vector<double>{m.w.item(), m.b.item()};
  };
  expectAllNear(run(true), run(false));
}

namespace {
/// w after four calls of the step `makeBody(w)`, compiled or plain; each
/// call takes w -= lr * dloss/dw with dloss/dw = -1.
template <class MakeBody> double climb(bool compiled, MakeBody makeBody) {
  Tensor w = zeros({1}, f32, true);
  Tensor x = tensor({-1.0});
  auto body = makeBody(w);
  auto step = compile(body);
  for (int i = 0; i < 4; ++i)
    compiled ? step(x) : body(x);
  return w.item();
}

/// The step a new user writes: the learning rate is a number in the update.
Tensor climbStep(Tensor &w, const Tensor &x, double lr) {
  w.zero_grad();
  Tensor loss = (w * x).sum();
  loss.backward();
  {
    NoGradGuard noGrad;
    w.sub_(w.grad() * lr);
  }
  kiln::sync();
  return loss;
}
} // namespace

/// A number the step reads from a captured variable is never replayed
/// stale: it is written in an expression, which a replay cannot re-read, so
/// the step runs at every call (one program, compiled once). Before, the
/// first call's number was baked in: w = 0.4 where the loop gives 1.5.
TEST_F(CompileStep, ANumberCapturedByReferenceIsNeverStale) {
  double lr = 0.1;
  auto byReference = [&lr](Tensor &w) {
    return [&w, &lr](Tensor x) {
      Tensor loss = climbStep(w, x, lr);
      lr *= 2;
      return loss;
    };
  };
  double plain = climb(false, byReference);
  lr = 0.1;
  int64_t compiled = runtime::compilationCount();
  EXPECT_NEAR(climb(true, byReference), plain, 1e-6);
  EXPECT_NEAR(plain, 0.1 + 0.2 + 0.4 + 0.8, 1e-6);
  EXPECT_EQ(runtime::compilationCount() - compiled, 1) << "one program for every call";
}

TEST_F(CompileStep, ANumberCapturedByValueInAMutableStepIsNeverStale) {
  auto byValue = [](Tensor &w) {
    return [&w, lr = 0.1](Tensor x) mutable {
      Tensor loss = climbStep(w, x, lr);
      lr *= 2;
      return loss;
    };
  };
  EXPECT_NEAR(climb(true, byValue), climb(false, byValue), 1e-6);
}

TEST_F(CompileStep, AStepWithANumberInAnExpressionSaysWhyItRunsEveryCall) {
  Tensor w = zeros({1}, f32, true);
  auto step = compile([&](Tensor x) { return climbStep(w, x, 0.1); });
  setenv("KILN_LOG", "recompile", 1);
  testing::internal::CaptureStderr();
  for (int i = 0; i < 3; ++i)
    step(tensor({-1.0}));
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(step.replays(), 0);
  EXPECT_EQ(step.traces(), 3);
  EXPECT_NE(step.last_trace_reason().find("a number written in an expression"), std::string::npos)
      << step.last_trace_reason();
  EXPECT_NE(log.find("not replayable"), std::string::npos) << log;
  EXPECT_EQ(log.find("not replayable"), log.rfind("not replayable")) << "logged once: " << log;
}

namespace {
/// The linreg step of `m` with its update made by `opt`.
Tensor optimizerStep(Model &m, optim::Optimizer &opt, const Tensor &x, const Tensor &y) {
  opt.zero_grad();
  Tensor loss = (x.matmul(m.w) + m.b - y).pow(2).mean();
  loss.backward();
  opt.step();
  return loss;
}
} // namespace

/// An optimizer keeps its learning rate in a tensor: set_lr between calls
/// is read by the next replay, and the step is replayed, not run again.
TEST_F(CompileStep, AnOptimizersNewLearningRateIsReadByTheReplay) {
  auto run = [](bool compiled) {
    Model m;
    optim::SGD opt({m.w, m.b}, optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
    auto body = [&](Tensor x, Tensor y) { return optimizerStep(m, opt, x, y); };
    auto step = compile(body);
    Tensor x = column(10, 1, 0), y = column(10, 3, 5);
    for (int i = 0; i < 8; ++i) {
      if (i == 4)
        opt.set_lr(0.001);
      compiled ? step(x, y) : body(x, y);
    }
    EXPECT_GE(step.replays(), compiled ? 5 : 0) << step.last_trace_reason();
    EXPECT_EQ(opt.lr(), 0.001);
    return std::vector<double>{m.w.item(), m.b.item()};
  };
  expectAllNear(run(true), run(false));
}

/// Adam's bias corrections are host numbers that change every step: a
/// replay of the first step's numbers trained differently from the loop.
TEST_F(CompileStep, AdamUnderCompileTrainsAsTheLoop) {
  auto run = [](bool compiled) {
    Model m;
    optim::Adam opt({m.w, m.b}, optim::AdamOptions{.lr = 0.1});
    auto body = [&](Tensor x, Tensor y) { return optimizerStep(m, opt, x, y); };
    auto step = compile(body);
    Tensor x = column(10, 1, 0), y = column(10, 3, 5);
    for (int i = 0; i < 6; ++i)
      compiled ? step(x, y) : body(x, y);
    return std::vector<double>{m.w.item(), m.b.item()};
  };
  expectAllNear(run(true), run(false));
}

TEST_F(CompileStep, AStepThatReadsValuesIsTracedEveryCall) {
  Tensor w = tensor({1.0, 2.0});
  auto step = compile([&](Tensor x) {
    double first = (x * w).sum().item(); // a read inside the step
    return x * first;
  });
  Tensor x = tensor({1.0, 1.0});
  EXPECT_EQ(step(x).to_vector(), (std::vector<double>{3, 3}));
  EXPECT_EQ(step(x).to_vector(), (std::vector<double>{3, 3}));
  EXPECT_EQ(step.replays(), 0);
  EXPECT_EQ(step.traces(), 2);
}

/// A number passed for a Tensor parameter is a rank-0 input: a learning
/// rate new at every call is replayed, not traced again.
TEST_F(CompileStep, ANumberForATensorParameterIsAnInputOfEveryReplay) {
  auto run = [](bool compiled) {
    Model m;
    auto body = [&](Tensor x, Tensor y, Tensor lr) {
      m.lr = lr;
      return m.step(x, y);
    };
    auto step = compile(body);
    Tensor x = column(10, 1, 0), y = column(10, 3, 5);
    for (int i = 0; i < 8; ++i) {
      double lr = 0.02 / (1 + i);
      compiled ? step(x, y, lr) : body(x, y, scalar_tensor(lr));
    }
    EXPECT_GE(step.replays(), compiled ? 6 : 0) << step.last_trace_reason();
    return std::vector<double>{m.w.item(), m.b.item()};
  };
  expectAllNear(run(true), run(false));
}

/// A number parameter receives the number; the host code may branch on it,
/// so a trace holds for that value only.
TEST_F(CompileStep, ANumberParameterIsGuardedByItsValue) {
  auto step = compile([](Tensor x, int64_t n) {
    Tensor y = x;
    for (int64_t i = 0; i < n; ++i)
      y = y + x;
    return y;
  });
  Tensor x = tensor({1.0, 2.0});
  EXPECT_EQ(step(x, 1).to_vector(), (std::vector<double>{2, 4}));
  EXPECT_EQ(step(x, 1).to_vector(), (std::vector<double>{2, 4}));
  EXPECT_EQ(step.replays(), 1);
  EXPECT_EQ(step(x, 2).to_vector(), (std::vector<double>{3, 6}));
  EXPECT_EQ(step.last_trace_reason(), "argument 1 changed from 1 to 2");
  EXPECT_EQ(step(x, 1).to_vector(), (std::vector<double>{2, 4})) << "the first trace holds";
  EXPECT_EQ(step.replays(), 2);
}

/// A step returns a tuple: every result is a value of the program, fresh at
/// each replay (a second result kept in a variable outside the step would
/// make it run every call instead).
TEST_F(CompileStep, ATupleOfResultsIsReplayed) {
  auto run = [](bool compiled) {
    Model m;
    auto body = [&](Tensor x, Tensor y) {
      // Detached, as a result that kept its history would keep the step's
      // intermediate tensors alive.
      Tensor pred = (x.matmul(m.w) + m.b).detach();
      Tensor loss = m.step(x, y);
      return std::make_tuple(loss, pred, loss);
    };
    auto step = compile(body);
    Tensor x = column(10, 1, 0), y = column(10, 3, 5);
    std::vector<double> r;
    for (int i = 0; i < 6; ++i) {
      auto [loss, pred, again] = compiled ? step(x, y) : body(x, y);
      r.push_back(loss.item());
      r.push_back(pred.to_vector()[9]);
      EXPECT_TRUE(again.is_same(loss));
    }
    EXPECT_GE(step.replays(), compiled ? 4 : 0) << step.last_trace_reason();
    return r;
  };
  expectAllNear(run(true), run(false));
}

TEST_F(CompileStep, AnOutputKeptOutsideTheStepIsNeverStale) {
  auto run = [](bool compiled) {
    Model m;
    Tensor kept;
    auto body = [&](Tensor x, Tensor y) {
      kept = x.matmul(m.w) + m.b;
      return m.step(x, y);
    };
    auto step = compile(body);
    Tensor x = column(10, 1, 0), y = column(10, 3, 5);
    std::vector<double> r;
    for (int i = 0; i < 4; ++i) {
      compiled ? step(x, y) : body(x, y);
      r.push_back(kept.to_vector()[9]);
    }
    EXPECT_EQ(step.replays(), 0);
    return r;
  };
  expectAllNear(run(true), run(false));
}

/// A replay writes a result into the buffer of the last replay's result
/// when nobody holds that any more, and never into one that is kept.
TEST_F(CompileStep, AReplayReusesOnlyResultsNobodyKept) {
  Model m;
  auto step = compile([&](Tensor x, Tensor y) { return m.step(x, y); });
  Tensor x = column(10, 1, 0), y = column(10, 3, 5);
  for (int i = 0; i < 3; ++i)
    step(x, y);
  ASSERT_GE(step.replays(), 1);
  const void *dropped = step(x, y).host().raw();
  const void *grad = m.w.grad().host().raw();
  EXPECT_EQ(step(x, y).host().raw(), dropped) << "the dropped loss's buffer is reused";
  EXPECT_EQ(m.w.grad().host().raw(), grad) << "so is the .grad's";

  Tensor keptLoss = step(x, y);
  Tensor keptGrad = m.w.grad();
  double loss = keptLoss.item(), g = keptGrad.item();
  Tensor next = step(x, y);
  EXPECT_NE(next.host().raw(), keptLoss.host().raw());
  EXPECT_NE(m.w.grad().host().raw(), keptGrad.host().raw());
  EXPECT_EQ(keptLoss.item(), loss) << "a kept result keeps its value";
  EXPECT_EQ(keptGrad.item(), g) << "a kept .grad keeps its value";
  EXPECT_NE(next.item(), loss) << "the step moved on";
}

TEST_F(CompileStep, ATensorForANumberParameterIsAUsageError) {
  auto step = compile([](Tensor x, double s) { return x * s; });
  Tensor a = tensor({1.0});
  EXPECT_THROW(step(a, a), Error);
  EXPECT_EQ(step(a, 2.5).item(), 2.5);
}

TEST_F(CompileStep, WrongInputCountIsAUsageError) {
  auto step = compile([](Tensor x, Tensor y) { return x + y; });
  Tensor a = tensor({1.0});
  EXPECT_THROW(step(a), Error);
  EXPECT_EQ(step(a, a).item(), 2);
}

// A step whose body calls the same compiled step (recursion on a number
// argument), now that a step keeps its argument and result lists between
// calls: in eager mode a plain call with each call's own arguments and
// results; traced, a usage error that leaves the step usable.
TEST_F(CompileStep, AStepThatCallsItselfGetsEachCallsArgumentsAndResults) {
  std::function<Tensor(Tensor, int64_t)> body;
  auto step = compile([&](Tensor x, int64_t depth) { return body(x, depth); });
  body = [&](Tensor x, int64_t depth) { return depth == 0 ? x + 1 : step(x * 2, depth - 1); };
  Tensor x = from_vector({1.0, -3.0}, {2});
  set_execution(Execution::Eager);
  for (int call = 0; call < 3; ++call) {
    EXPECT_EQ(step(x, int64_t(0)).to_vector(), (std::vector<double>{2, -2}));
    EXPECT_EQ(step(x, int64_t(2)).to_vector(), (std::vector<double>{5, -11}));
  }
  set_execution(Execution::Compiled);
  EXPECT_TRUE(test::contains(test::errorOf([&] { step(x, int64_t(1)); }, ErrorKind::Usage),
                             "cannot be nested"));
  EXPECT_EQ(step(x, int64_t(0)).to_vector(), (std::vector<double>{2, -2}));
}
