//===- Timing.h - A small timing harness for kiln's benchmarks --*- C++ -*-===//
//
// Warm up, then time many repetitions one by one with steady_clock (ns
// resolution) until both a minimum count and a minimum total time are
// reached; report the median (typical) and the minimum (best case, least
// disturbed by other processes on a shared machine).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace kiln::bench {

struct Sample {
  double medianNs = 0;
  double minNs = 0;
  int64_t reps = 0;
};

inline int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Median and minimum of `times` (nanoseconds); `times` must not be empty.
inline Sample summarize(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  size_t n = times.size();
  double median = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  return {median, times.front(), int64_t(n)};
}

struct TimingOptions {
  int warmup = 5;
  int minReps = 20;
  int maxReps = 100000;
  double minTotalSeconds = 0.5;
};

/// Times `fn()` after `warmup` untimed calls.
template <class Fn> Sample measure(Fn &&fn, const TimingOptions &o = {}) {
  for (int i = 0; i < o.warmup; ++i)
    fn();
  std::vector<double> times;
  int64_t start = nowNs();
  while (int(times.size()) < o.maxReps &&
         (int(times.size()) < o.minReps || double(nowNs() - start) < o.minTotalSeconds * 1e9)) {
    int64_t t0 = nowNs();
    fn();
    times.push_back(double(nowNs() - t0));
  }
  return summarize(std::move(times));
}

/// Like measure, for an `fn` that times itself: it returns the nanoseconds
/// to count (e.g. the kernels' share of a call, from a profile).
template <class Fn> Sample measureReported(Fn &&fn, const TimingOptions &o = {}) {
  for (int i = 0; i < o.warmup; ++i)
    fn();
  std::vector<double> times;
  int64_t start = nowNs();
  while (int(times.size()) < o.maxReps &&
         (int(times.size()) < o.minReps || double(nowNs() - start) < o.minTotalSeconds * 1e9))
    times.push_back(double(fn()));
  return summarize(std::move(times));
}

} // namespace kiln::bench
