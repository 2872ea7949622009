//===- MeasuredSplit.h - Threads from a kernel's measured time --*- C++ -*-===//
//
// Private to runtime/. The cost model of kiln's thread policy: a kernel is cut
// into tasks whose boundaries depend only on its sizes (so its results do not
// depend on the thread count), and it runs on as many threads as its own
// measured time pays for on this machine.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/runtime/Threads.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

namespace kiln::runtime::parallel {

/// ceil(a / b) for b > 0: how many tasks of b units cover a units.
inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// The least work, in serial wall time, that one more thread must get to pay
/// off: handing a job out costs the caller 0.8-2.7 us, and a worker that
/// slept starts late (docs/threads.md; 10 us measured the same on the MLP).
inline constexpr std::chrono::nanoseconds kWorkPerThread = std::chrono::microseconds(25);

/// Runs a kernel's `tasks` tasks. Its first kCalibrationRuns calls run on the
/// calling thread and are timed; later calls use
/// min(maxThreads(), tasks, fastest serial time / kWorkPerThread) threads, so
/// small kernels stay on the calling thread. Thread-safe; copies start over.
class MeasuredSplit {
public:
  static constexpr int kCalibrationRuns = 2;

  explicit MeasuredSplit(int64_t tasks) : tasks_(tasks) {}
  MeasuredSplit(const MeasuredSplit &other) : tasks_(other.tasks_) {}

  void run(TaskRef task) const { run(task, nullptr); }
  /// As run(task), but a call on one thread makes the single call whole(0),
  /// which must do what all the tasks do, with the same results.
  void run(TaskRef task, TaskRef whole) const { run(task, &whole); }

  int64_t tasks() const { return tasks_; }
  /// The threads later calls use, or 0 while still timing.
  int threads() const;

private:
  void run(TaskRef task, const TaskRef *whole) const;

  int64_t tasks_;
  mutable std::atomic<int> calls_{0};
  mutable std::atomic<int64_t> fastestNs_{std::numeric_limits<int64_t>::max()};
};

} // namespace kiln::runtime::parallel
