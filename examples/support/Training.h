//===- Training.h - What every training example shares ---------*- C++ -*-===//
//
// The options every training example takes (--json, --seed, --emit-ir,
// --dot, --plot) and a TrainingRun that times the loop, keeps the loss
// curve, shows progress on a terminal, and captures the IR of the compiled
// step:
//
//   TrainingRun run(options, "linreg", epochs);
//   for (...) {
//     opt.zero_grad(); Tensor loss = criterion(model(x), y);
//     run.beforeBackward(loss);
//     loss.backward(); opt.step();
//     run.afterStep(loss);
//   }
//   run.finish(); // prints --emit-ir, writes --dot and the loss curve
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Example.h"
#include "Plot.h"

#include <kiln/Tensor.h>
#include <kiln/ir/Function.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kiln::examples {

struct TrainingOptions {
  bool json = false;
  uint64_t seed = 0;
  /// "", "recorded", "autodiff" or "optimized".
  std::string emitIr;
  std::string dotFile;
  /// Where plots go ("" = no plots).
  std::filesystem::path plotDir;

  /// Declares and reads the options, and seeds the default generator with --seed.
  static TrainingOptions parse(Args &args, uint64_t defaultSeed = 0,
                               std::string defaultPlotDir = "");
  /// Whether plain-text output should be printed (not --json, not --emit-ir).
  bool text() const { return !json && emitIr.empty(); }
};

class TrainingRun {
public:
  TrainingRun(const TrainingOptions &options, std::string name, int64_t totalSteps);

  /// On the first step, keeps the recorded forward graph of `loss` (for
  /// --emit-ir=recorded). Call before loss.backward().
  void beforeBackward(const Tensor &loss);
  /// Counts a step (after optimizer.step()) and records its loss. Throws an
  /// Error naming the step when the loss is NaN or Inf (training diverged).
  void afterStep(const Tensor &loss);
  /// After the loop: prints the --emit-ir stage, writes --dot and the loss
  /// curve to --plot DIR/NAME-loss.svg. Call before running other tensor code.
  void finish();

  int64_t steps() const { return steps_; }
  const std::vector<double> &losses() const { return losses_; }
  /// Wall time of the whole loop.
  double seconds() const { return seconds_; }
  /// Mean wall time of a step after the first two (which record, interpret
  /// and compile the step program), in microseconds.
  double usPerStep() const;
  /// Wall time of the steps during which a step program was compiled
  /// (compilation plus one run), in milliseconds.
  double compileMs() const { return compileMs_; }
  /// Prints `line` and a newline to stdout, above the progress line.
  void println(const std::string &line);
  /// Writes a plot to the plot directory (no-op without --plot).
  void plot(const std::string &file, const PlotSpec &spec) const;
  /// A curve drawn on the loss plot against the step count, on a right-hand
  /// axis titled `axisTitle` (e.g. the test accuracy after each epoch).
  void addToLossPlot(Series curve, std::string axisTitle);
  /// Runs `work` (an evaluation between steps) without counting its time in
  /// seconds() or usPerStep(); returns what it returns.
  template <typename Work> auto untimed(Work &&work) {
    Clock::time_point begin = Clock::now();
    struct Shift { // also when `work` throws
      TrainingRun &run;
      Clock::time_point begin;
      ~Shift() { run.skip(Clock::now() - begin); }
    } shift{*this, begin};
    return work();
  }

private:
  using Clock = std::chrono::steady_clock;
  /// Moves the loop's clocks past `pause`, so that no interval counts it.
  void skip(Clock::duration pause);
  void showProgress(bool last);
  [[noreturn]] void stopDiverged();

  TrainingOptions options_;
  std::string name_;
  int64_t total_;
  int64_t steps_ = 0;
  std::vector<double> losses_;
  std::vector<Series> lossPlotExtras_;
  std::string rightAxisTitle_;
  std::optional<ir::Function> recorded_;
  /// The first training step's IR (--emit-ir, --dot), kept when it ran:
  /// later flushes (an evaluation) are other steps.
  std::optional<ir::Function> stepIr_;
  std::chrono::steady_clock::time_point start_, stepStart_, warmEnd_, lastProgress_;
  double seconds_ = 0;
  double compileMs_ = 0;
  int64_t compilations_ = 0;
  bool progress_ = false;
  bool progressShown_ = false;
  bool finished_ = false;
};

/// The peak resident set size of this process in MB (VmHWM), or 0 when unknown.
double peakRssMb();

} // namespace kiln::examples
