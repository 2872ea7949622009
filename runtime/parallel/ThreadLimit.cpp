//===- ThreadLimit.cpp - The process's thread limit -----------------------===//
#include "kiln/ir/Error.h"
#include "kiln/runtime/Threads.h"

#include <fmt/format.h>
#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <string_view>
#include <thread>

namespace kiln::runtime {

namespace {

constexpr int kMostThreads = 1024;

/// The positive count that `text` starts with, up to the first ',' (OpenMP's
/// nested list), or 0 when malformed.
int parseCount(std::string_view text) {
  text = text.substr(0, text.find(','));
  int n = 0;
  if (text.empty())
    return 0;
  for (char c : text) {
    if (c < '0' || c > '9' || n > kMostThreads)
      return 0;
    n = n * 10 + (c - '0');
  }
  return n <= kMostThreads ? n : 0;
}

/// The count in environment variable `name`, or 0 when unset or malformed (a
/// malformed one is reported).
int countFromEnvironment(const char *name) {
  const char *v = std::getenv(name);
  if (!v || !*v)
    return 0;
  int n = parseCount(v);
  if (n == 0)
    fmt::print(stderr, "kiln: warning: {}={} is not a thread count from 1 to {}; ignored\n", name,
               v, kMostThreads);
  return n;
}

int coresAvailable() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

int defaultLimit() {
  static const int limit = [] {
    for (const char *name : {"KILN_NUM_THREADS", "OMP_NUM_THREADS"})
      if (int n = countFromEnvironment(name))
        return n;
    return coresAvailable();
  }();
  return limit;
}

std::atomic<int> gLimit{0}; // setMaxThreads's, 0 = defaultLimit()

} // namespace

int maxThreads() {
  int n = gLimit.load(std::memory_order_relaxed);
  return n > 0 ? n : defaultLimit();
}

void setMaxThreads(int n) {
  if (n < 0)
    throw Error(ErrorKind::Usage, fmt::format("thread limit {} is negative", n));
  gLimit.store(std::min(n, kMostThreads), std::memory_order_relaxed);
}

} // namespace kiln::runtime
