//===- CompileStepTest.cpp - kiln::compile: trace, guards, replay ---------===//
#include "StepTestSupport.h"

#include <gtest/gtest.h>

#include <cstdlib>

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
          p->sub_(p->grad() * 0.01);
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
    CompiledStep step([](std::span<const Tensor>) { return Tensor(); });
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

TEST_F(CompileStep, WrongInputCountIsAUsageError) {
  auto step = compile([](Tensor x, Tensor y) { return x + y; });
  Tensor a = tensor({1.0});
  EXPECT_THROW(step(a), Error);
  EXPECT_EQ(step(a, a).item(), 2);
}
