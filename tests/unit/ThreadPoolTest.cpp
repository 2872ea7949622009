//===- ThreadPoolTest.cpp - kiln's worker pool and thread limit -----------===//
//
// Specification of kiln/runtime/Threads.h: runTasks calls every task exactly
// once whoever runs it, hands exceptions to the caller, never deadlocks on a
// nested or concurrent job; the thread limit is the process's, settable and
// validated. The sanitize stage runs this suite under
// ThreadSanitizer too (scripts/test).
//
//===----------------------------------------------------------------------===//
#include "ErrorTestSupport.h"
#include "kiln/runtime/Threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace kiln;
using namespace kiln::runtime;

namespace {

/// Restores the thread limit at the end of a test.
class ThreadLimitGuard {
public:
  explicit ThreadLimitGuard(int n) { setMaxThreads(n); }
  ~ThreadLimitGuard() { setMaxThreads(0); }
};

TEST(ThreadPool, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    std::vector<std::atomic<int>> runs(1000);
    runTasks(int64_t(runs.size()), threads, [&](int64_t i) { runs[size_t(i)]++; });
    for (size_t i = 0; i < runs.size(); ++i)
      ASSERT_EQ(runs[i].load(), 1) << "task " << i << " on " << threads << " threads";
  }
}

TEST(ThreadPool, NoTaskIsNoCall) {
  int calls = 0;
  runTasks(0, 4, [&](int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPool, ATaskExceptionReachesTheCallerAfterEveryTaskRan) {
  std::atomic<int> ran{0};
  auto job = [&] {
    runTasks(64, 4, [&](int64_t i) {
      ran++;
      if (i == 10)
        throw std::runtime_error("task 10 failed");
    });
  };
  EXPECT_THROW(job(), std::runtime_error);
  EXPECT_EQ(ran.load(), 64);
  // The pool is usable afterwards.
  std::atomic<int> again{0};
  runTasks(8, 4, [&](int64_t) { again++; });
  EXPECT_EQ(again.load(), 8);
}

TEST(ThreadPool, AJobStartedInsideATaskRunsOnTheCallingThread) {
  std::atomic<int> inner{0};
  runTasks(4, 2, [&](int64_t) {
    std::thread::id self = std::this_thread::get_id();
    runTasks(16, 2, [&](int64_t) {
      EXPECT_EQ(std::this_thread::get_id(), self);
      inner++;
    });
  });
  EXPECT_EQ(inner.load(), 64);
}

TEST(ThreadPool, ConcurrentCallersEachRunAllTheirTasks) {
  constexpr int kCallers = 4, kJobs = 100, kTasks = 32;
  std::vector<int64_t> sums(kCallers, 0);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c)
    callers.emplace_back([&, c] {
      for (int j = 0; j < kJobs; ++j) {
        std::atomic<int64_t> sum{0};
        runTasks(kTasks, 3, [&](int64_t i) { sum += i; });
        sums[size_t(c)] += sum.load();
      }
    });
  for (std::thread &t : callers)
    t.join();
  for (int c = 0; c < kCallers; ++c)
    EXPECT_EQ(sums[size_t(c)], int64_t(kJobs) * kTasks * (kTasks - 1) / 2) << "caller " << c;
}

TEST(ThreadLimit, IsSettableAndValidated) {
  int initial = maxThreads();
  EXPECT_GE(initial, 1);
  {
    ThreadLimitGuard three(3);
    EXPECT_EQ(maxThreads(), 3);
  }
  EXPECT_EQ(maxThreads(), initial) << "0 returns to the default";
  EXPECT_TRUE(test::contains(test::errorOf([] { setMaxThreads(-1); }, ErrorKind::Usage),
                             "negative"));
  EXPECT_EQ(maxThreads(), initial);
}

} // namespace
