//===- MeasuredSplit.cpp --------------------------------------------------===//
#include "MeasuredSplit.h"
#include "kiln/runtime/Threads.h"

#include <algorithm>

namespace kiln::runtime::parallel {

int MeasuredSplit::threads() const {
  if (calls_.load(std::memory_order_acquire) < kCalibrationRuns)
    return 0;
  int64_t affordable = fastestNs_.load(std::memory_order_relaxed) / kWorkPerThread.count();
  return int(std::clamp<int64_t>(std::min<int64_t>(affordable, tasks_), 1, maxThreads()));
}

void MeasuredSplit::run(TaskRef task, const TaskRef *whole) const {
  if (tasks_ <= 1) {
    if (tasks_ == 1)
      task(0);
    return;
  }
  auto serial = [&] {
    if (whole)
      return (*whole)(0);
    for (int64_t i = 0; i < tasks_; ++i)
      task(i);
  };
  if (int n = threads())
    return n == 1 ? serial() : runTasks(tasks_, n, task);
  auto start = std::chrono::steady_clock::now();
  serial();
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count();
  int64_t fastest = fastestNs_.load(std::memory_order_relaxed);
  while (ns < fastest && !fastestNs_.compare_exchange_weak(fastest, ns, std::memory_order_relaxed))
    ;
  calls_.fetch_add(1, std::memory_order_release);
}

} // namespace kiln::runtime::parallel
