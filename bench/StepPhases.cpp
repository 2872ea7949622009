//===- StepPhases.cpp - Where a plain training step's host time goes ------===//
//
// kiln-bench-step-phases: a plain training loop in lazy mode (one thread),
// each step cut into the phases a user's loop goes through, each timed on
// its own:
//
//   data        the next batch from the DataLoader (mnist only)
//   zero_grad   opt.zero_grad()
//   forward     the model and the loss: recording their ops
//   backward    loss.backward(): the history walk, the gradient function's
//               lookup, its nodes recorded as pending values
//   update      SGD's update of each parameter (SGD::update), recorded:
//               SGD::step() without its flush
//   flush       kiln::sync(): the step program found, run and its results
//               stored (the end of SGD::step())
//   item        loss.item() (computed by the flush: a read)
//
// Workloads: the seed's linreg loop (Linear(1,1), MSELoss, ten points, SGD
// with lr 0.01), and with --data DIR the MNIST linear one (Linear(784,10),
// CrossEntropyLoss, shuffled batches of 100, SGD with lr 1e-4); no momentum.
//
// The phases add up to a step of the same loop plus the clock reads between
// them. They say where a step's time goes without a sampling profiler, whose
// call graphs through kiln's libraries (no frame pointers) cannot tell which
// phase a sample belongs to.
//
//===----------------------------------------------------------------------===//
#include "Timing.h"

#include <kiln/data/DataLoader.h>
#include <kiln/kiln.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <optional>

namespace {

using namespace kiln;

enum Phase { Data, ZeroGrad, Forward, Backward, Update, Flush, Item, kPhases };
constexpr std::array<const char *, kPhases> kPhaseNames = {
    "data", "zero_grad", "forward", "backward", "update", "flush", "item"};

/// Sums each phase's time over the timed steps.
class PhaseClock {
public:
  /// Starts a step; `timed` is false for warm-up steps.
  void start(bool timed) {
    timed_ = timed;
    last_ = bench::nowNs();
  }
  /// Ends `phase`, which ran since the last call.
  void end(Phase phase) {
    int64_t now = bench::nowNs();
    if (timed_) {
      total_[size_t(phase)] += now - last_;
      used_[size_t(phase)] = true;
    }
    last_ = now;
  }
  /// Prints ns per step of each phase used, over `steps` timed steps.
  void print(int64_t steps) const {
    double sum = 0;
    for (size_t k = 0; k < kPhases; ++k)
      sum += double(total_[k]) / double(steps);
    fmt::print("| phase | ns/step | share |\n|---|---|---|\n");
    for (size_t k = 0; k < kPhases; ++k) {
      if (!used_[k])
        continue;
      double ns = double(total_[k]) / double(steps);
      fmt::print("| {} | {:.0f} | {:.1f} % |\n", kPhaseNames[k], ns, 100 * ns / sum);
    }
    fmt::print("| all | {:.0f} | |\n", sum);
  }

private:
  std::array<int64_t, kPhases> total_{};
  std::array<bool, kPhases> used_{};
  int64_t last_ = 0;
  bool timed_ = false;
};

/// SGD whose step() is cut in two: the updates, then the flush.
class PhasedSGD : public optim::SGD {
public:
  using SGD::SGD;
  /// What SGD::step() records before its sync().
  void updates() { updateAll(); }
};

/// One step after the data: zero_grad, forward, backward, the updates and
/// the flush, each ended on `clock`.
template <class LossFn> void trainStep(PhaseClock &clock, PhasedSGD &optimiser, LossFn &&lossOf) {
  optimiser.zero_grad();
  clock.end(ZeroGrad);
  Tensor loss = lossOf();
  clock.end(Forward);
  loss.backward();
  clock.end(Backward);
  optimiser.updates();
  clock.end(Update);
  kiln::sync();
  clock.end(Flush);
  double value = loss.item();
  clock.end(Item);
  if (!std::isfinite(value))
    throw Error(ErrorKind::Runtime, "the loss diverged (not finite)");
}

void linreg(PhaseClock &clock, int64_t warmup, int64_t steps) {
  Tensor x = arange(1, 11).to(f32).reshape({10, 1});
  Tensor y = x * 3 + 5;
  x.set_name("x");
  y.set_name("y");
  nn::Linear model(1, 1);
  nn::MSELoss criterion;
  PhasedSGD optimiser(model.parameters(), 0.01);
  for (int64_t step = 0; step < warmup + steps; ++step) {
    clock.start(step >= warmup);
    trainStep(clock, optimiser, [&] { return criterion(model(x), y); });
  }
}

void mnistLinear(PhaseClock &clock, const std::string &dir, int64_t warmup, int64_t steps) {
  data::DataLoader loader(data::MnistDataset::load(dir, data::Split::Train), 100,
                          /*shuffle=*/true, /*seed=*/0);
  nn::Linear model(784, data::kMnistClasses);
  nn::CrossEntropyLoss criterion;
  PhasedSGD optimiser(model.parameters(), 1e-4);
  std::optional<data::DataLoader::iterator> at;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    clock.start(step >= warmup);
    if (!at || *at == loader.end())
      at = loader.begin(); // a new epoch, reshuffled
    const data::Batch &batch = **at;
    clock.end(Data);
    trainStep(clock, optimiser, [&] { return criterion(model(batch.x), batch.y); });
    clock.start(step >= warmup); // the iterator's step to the next batch is data
    ++*at;
    clock.end(Data);
  }
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"Times the phases of a plain training step (lazy mode, one thread): the seed's "
               "linreg, or MNIST linear with --data"};
  int64_t steps = 200000, warmup = 1000;
  std::string data;
  app.add_option("--steps", steps, "Timed steps")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "Untimed steps first (recording, compiling)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--data", data, "An MNIST-format directory: time the MNIST linear step");
  CLI11_PARSE(app, argc, argv);
  try {
    set_num_threads(1);
    set_execution(Execution::Compiled);
    PhaseClock clock;
    if (data.empty())
      linreg(clock, warmup, steps);
    else
      mnistLinear(clock, data, warmup, steps);
    clock.print(steps);
  } catch (const Error &e) {
    fmt::print(stderr, "kiln-bench-step-phases: {}\n", e.what());
    return 1;
  }
  return 0;
}
