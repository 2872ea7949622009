//===- StepPhases.cpp - Where a plain training step's host time goes ------===//
//
// kiln-bench-step-phases: the seed's linreg loop (Linear(1,1), MSELoss, SGD
// with lr 0.01 and no momentum, ten points) in lazy mode, each step cut into
// the phases a user's loop goes through, each timed on its own:
//
//   zero_grad   opt.zero_grad()
//   forward     model(x) and the loss: recording six ops
//   backward    loss.backward(): the history walk, the gradient function's
//               lookup, its nodes recorded as pending values
//   update      the optimizer's update per parameter, p.sub_(p.grad() * lr),
//               as SGD::update records it, without the step's flush
//   flush       kiln::sync(): the step program found, run and its results
//               stored (the end of SGD::step())
//   item        loss.item() (computed by the flush: a read)
//
// The phases add up to a step of the same loop plus the clock reads between
// them. They say where a step's time goes without a sampling profiler, whose
// call graphs through kiln's libraries (no frame pointers) cannot tell which
// phase a sample belongs to.
//
//===----------------------------------------------------------------------===//
#include "Timing.h"

#include <kiln/kiln.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <array>
#include <cmath>

namespace {

using namespace kiln;

struct LinearModel : nn::Module {
  std::shared_ptr<nn::Linear> linear =
      register_module("linear", std::make_shared<nn::Linear>(1, 1));
  Tensor forward(const Tensor &x) override { return (*linear)(x); }
  std::string name() const override { return "LinearModel"; }
};

enum Phase { ZeroGrad, Forward, Backward, Update, Flush, Item, kPhases };
constexpr std::array<const char *, kPhases> kPhaseNames = {"zero_grad", "forward", "backward",
                                                           "update",    "flush",   "item"};

/// Nanoseconds per step of each phase, over `steps` steps after `warmup`.
std::array<double, kPhases> timePhases(int64_t warmup, int64_t steps) {
  Tensor x = arange(1, 11).to(f32).reshape({10, 1});
  Tensor y = x * 3 + 5;
  x.set_name("x");
  y.set_name("y");
  LinearModel model;
  optim::SGD optimiser(model.parameters(), 0.01);
  nn::MSELoss criterion;
  Tensor lr = scalar_tensor(0.01, f32);
  lr.set_name("lr");
  std::vector<Tensor> params = model.parameters();
  std::array<int64_t, kPhases> total{};
  double checksum = 0;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    std::array<int64_t, kPhases + 1> at;
    at[0] = bench::nowNs();
    optimiser.zero_grad();
    at[1] = bench::nowNs();
    Tensor loss = criterion(model(x), y);
    at[2] = bench::nowNs();
    loss.backward();
    at[3] = bench::nowNs();
    {
      NoGradGuard noGrad;
      for (Tensor &p : params)
        p.sub_(p.grad() * lr);
    }
    at[4] = bench::nowNs();
    kiln::sync();
    at[5] = bench::nowNs();
    checksum += loss.item();
    at[6] = bench::nowNs();
    if (step >= warmup)
      for (int k = 0; k < kPhases; ++k)
        total[size_t(k)] += at[size_t(k) + 1] - at[size_t(k)];
  }
  if (!std::isfinite(checksum))
    throw Error(ErrorKind::Runtime, "kiln-bench-step-phases: the loss diverged");
  std::array<double, kPhases> perStep{};
  for (int k = 0; k < kPhases; ++k)
    perStep[size_t(k)] = double(total[size_t(k)]) / double(steps);
  return perStep;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"Times the phases of the seed's linreg training step (lazy mode, one thread)"};
  int64_t steps = 200000, warmup = 1000;
  app.add_option("--steps", steps, "Timed steps")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "Untimed steps first (recording, compiling)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    set_num_threads(1);
    set_execution(Execution::Compiled);
    std::array<double, kPhases> ns = timePhases(warmup, steps);
    double sum = 0;
    for (double v : ns)
      sum += v;
    fmt::print("| phase | ns/step | share |\n|---|---|---|\n");
    for (int k = 0; k < kPhases; ++k)
      fmt::print("| {} | {:.0f} | {:.1f} % |\n", kPhaseNames[size_t(k)], ns[size_t(k)],
                 100 * ns[size_t(k)] / sum);
    fmt::print("| all | {:.0f} | |\n", sum);
  } catch (const Error &e) {
    fmt::print(stderr, "kiln-bench-step-phases: {}\n", e.what());
    return 1;
  }
  return 0;
}
