//===- Training.cpp - What every training example shares ------------------===//
#include "Training.h"

#include <kiln/Autograd.h>
#include <kiln/Random.h>
#include <kiln/Step.h>
#include <kiln/ir/Dot.h>
#include <kiln/ir/Error.h>
#include <kiln/ir/Printer.h>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

namespace kiln::examples {

using Clock = std::chrono::steady_clock;

namespace {

double secondsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void writeText(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out)
    throw Error(ErrorKind::Io, "cannot write", path);
}

} // namespace

TrainingOptions TrainingOptions::parse(Args &args, uint64_t defaultSeed,
                                       std::string defaultPlotDir) {
  TrainingOptions o;
  o.json = args.flag("--json", "Print the results as one JSON object");
  o.seed = uint64_t(args.integer("--seed", int64_t(defaultSeed),
                                 "Seed of the initial weights and the shuffling", 0));
  o.emitIr = args.choice("--emit-ir", "", {"", "recorded", "autodiff", "optimized"},
                         "Print the IR of the training step at this stage instead of results: "
                         "the recorded forward, the step (forward, backward and update), or the "
                         "step as optimised by the compiler");
  o.dotFile =
      args.string("--dot", "", "Write the training step's graph as Graphviz to FILE", "FILE");
  o.plotDir = args.string("--plot", std::move(defaultPlotDir),
                          "Write SVG plots (the loss curve, ...) to directory DIR", "DIR");
  manual_seed(o.seed);
  return o;
}

TrainingRun::TrainingRun(const TrainingOptions &options, std::string name, int64_t totalSteps)
    : options_(options), name_(std::move(name)), total_(totalSteps) {
  progress_ = isatty(STDERR_FILENO) && options.text();
  losses_.reserve(size_t(std::max<int64_t>(totalSteps, 0)));
  compilations_ = step_cache_stats().compilations;
  if (!options.emitIr.empty() || !options.dotFile.empty()) {
    if (execution() == Execution::Eager)
      throw Error(ErrorKind::Usage, "--emit-ir and --dot need lazy execution (KILN_BACKEND is "
                                    "eager: no step program is recorded)");
    if (options.emitIr == "optimized")
      set_compile_after(0); // compile the first step, so that even one epoch has optimised IR
  }
  start_ = lastProgress_ = Clock::now();
  stepStart_ = start_;
}

void TrainingRun::beforeBackward(const Tensor &loss) {
  if (steps_ == 0 && options_.emitIr == "recorded")
    recorded_ = recorded_graph(loss);
}

void TrainingRun::afterStep(const Tensor &loss) {
  ++steps_;
  losses_.push_back(loss.item()); // materialised by the step: no extra work
  // One clock read per step, after the loss is read, as the libtorch and
  // PyTorch peers time theirs (bench/libtorch_train.cpp, StepClock).
  Clock::time_point now = Clock::now();
  int64_t compilations = step_cache_stats().compilations;
  if (compilations != compilations_)
    compileMs_ += 1000 * secondsBetween(stepStart_, now);
  compilations_ = compilations;
  if (steps_ == 1 && options_.emitIr != "recorded" &&
      (!options_.emitIr.empty() || !options_.dotFile.empty()))
    stepIr_ = last_step_ir(options_.emitIr == "optimized");
  if (!std::isfinite(losses_.back()))
    stopDiverged();
  if (steps_ == 2)
    warmEnd_ = now;
  stepStart_ = now;
  if (progress_ && (secondsBetween(lastProgress_, stepStart_) > 0.1 || steps_ == total_))
    showProgress(steps_ == total_);
}

// Training on after a NaN or Inf loss only prints nan for the remaining
// epochs: stop at once and say where it went wrong instead.
void TrainingRun::stopDiverged() {
  if (progressShown_)
    fmt::print(stderr, "\n");
  progressShown_ = false;
  auto lastFinite =
      std::find_if(losses_.rbegin(), losses_.rend(), [](double l) { return std::isfinite(l); });
  std::string before = lastFinite == losses_.rend()
                           ? "no step had a finite loss"
                           : fmt::format("the last finite loss was {:.6g}, at step {}", *lastFinite,
                                         losses_.rend() - lastFinite);
  throw Error(ErrorKind::Runtime,
              fmt::format("{}: the loss diverged: it is {} at step {} of {} ({}); lower the "
                          "learning rate, or run with KILN_CHECK_NUMERICS=1 to name the first "
                          "op that produces NaN or Inf",
                          name_, losses_.back(), steps_, total_, before));
}

void TrainingRun::showProgress(bool last) {
  lastProgress_ = Clock::now();
  double elapsed = secondsBetween(start_, lastProgress_);
  double rate = elapsed > 0 ? double(steps_) / elapsed : 0;
  double eta = rate > 0 ? double(total_ - steps_) / rate : 0;
  int width = 30;
  int filled = total_ > 0 ? int(width * steps_ / total_) : width;
  fmt::print(stderr, "\r{} [{}{}] {}/{} steps  {:.0f} steps/s  ETA {:.1f}s  loss {:.4g}\033[K{}",
             name_, std::string(size_t(filled), '#'), std::string(size_t(width - filled), ' '),
             steps_, total_, rate, eta, losses_.empty() ? 0.0 : losses_.back(), last ? "\n" : "");
  progressShown_ = !last;
  std::fflush(stderr);
}

void TrainingRun::println(const std::string &line) {
  if (progressShown_) {
    fmt::print(stderr, "\r\033[K"); // the progress line is redrawn below
    std::fflush(stderr);
    progressShown_ = false;
  }
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

double TrainingRun::usPerStep() const {
  if (steps_ <= 2)
    return steps_ > 0 ? 1e6 * seconds_ / double(steps_) : 0;
  return 1e6 * secondsBetween(warmEnd_, stepStart_) / double(steps_ - 2);
}

void TrainingRun::skip(Clock::duration pause) {
  start_ += pause;
  stepStart_ += pause;
  if (steps_ >= 2)
    warmEnd_ += pause;
  // What the untimed work compiled is not the next step's compilation.
  compilations_ = step_cache_stats().compilations;
}

void TrainingRun::addToLossPlot(Series curve, std::string axisTitle) {
  curve.rightAxis = true;
  lossPlotExtras_.push_back(std::move(curve));
  rightAxisTitle_ = std::move(axisTitle);
}

void TrainingRun::plot(const std::string &file, const PlotSpec &spec) const {
  if (!options_.plotDir.empty())
    writePlot(options_.plotDir / file, spec);
}

void TrainingRun::finish() {
  if (finished_)
    return;
  finished_ = true;
  seconds_ = secondsBetween(start_, stepStart_);
  if (!options_.emitIr.empty() || !options_.dotFile.empty()) {
    std::optional<ir::Function> &kept = options_.emitIr == "recorded" ? recorded_ : stepIr_;
    ir::Function fn = kept ? *kept : ir::Function("step");
    if (!options_.emitIr.empty())
      std::cout << ir::print(fn);
    if (!options_.dotFile.empty())
      writeText(options_.dotFile, ir::toDot(fn));
  }
  std::vector<double> stepNumbers(losses_.size());
  for (size_t i = 0; i < stepNumbers.size(); ++i)
    stepNumbers[i] = double(i + 1);
  PlotSpec spec{.title = name_ + ": training loss",
                .xLabel = "step",
                .yLabel = "loss",
                .series = {{.label = "loss", .x = stepNumbers, .y = losses_}},
                .logY = true,
                .yRightLabel = rightAxisTitle_};
  spec.series.insert(spec.series.end(), lossPlotExtras_.begin(), lossPlotExtras_.end());
  plot(name_ + "-loss.svg", spec);
}

double peakRssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmHWM:"))
      return std::stod(line.substr(6)) / 1024.0; // kB
  return 0;
}

} // namespace kiln::examples
