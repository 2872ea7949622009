//===- ThreadPoolTest.cpp - kiln's worker pool and thread limit -----------===//
//
// Specification of kiln/runtime/Threads.h: runTasks calls every task exactly
// once whoever runs it, hands exceptions to the caller, never deadlocks on a
// nested or concurrent job; the thread limit is the process's, settable and
// validated; kernels cut into tasks (matmul tiles, row ranges) give the same
// bits on any number of threads. The sanitize stage runs this suite under
// ThreadSanitizer too (scripts/test).
//
//===----------------------------------------------------------------------===//
#include "ErrorTestSupport.h"
#include "kiln/Step.h"
#include "kiln/runtime/OneDnn.h"
#include "kiln/runtime/Threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
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

TEST(ThreadPool, AShortJobNeverWakesASleepingWorker) {
  runTasks(8, 2, [](int64_t) {});                              // starts a worker
  std::this_thread::sleep_for(std::chrono::milliseconds(100)); // it polls for 30 us, then sleeps
  int64_t shared = poolStats().sharedJobs;
  std::atomic<int> calls{0};
  EXPECT_FALSE(tryRunTasksOnAwakeWorkers(64, 2, [&](int64_t) { calls++; }));
  EXPECT_EQ(calls.load(), 0) << "the caller runs the job its own way";
  EXPECT_EQ(poolStats().sharedJobs, shared);
}

/// Runs a job of two tasks on two threads whose caller waits (up to a second)
/// for a worker to take one; returns whether one did.
bool aWorkerRanATask() {
  std::thread::id self = std::this_thread::get_id();
  std::atomic<bool> workerRan{false};
  runTasks(2, 2, [&](int64_t) {
    if (std::this_thread::get_id() != self) {
      workerRan = true;
      return;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!workerRan && std::chrono::steady_clock::now() < deadline) {
    }
  });
  return workerRan;
}

TEST(ThreadPool, AShortJobIsSharedWithAWorkerStillPolling) {
  if (std::thread::hardware_concurrency() < 2)
    GTEST_SKIP() << "a polling worker needs a second core";
  // A worker that ran a task of a job polls for the next one (30 us); the
  // scheduler may take its core away meanwhile, which on a loaded machine
  // (ctest -j) happens to hundreds of tries in a row: try for some seconds.
  bool sharedOnce = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!sharedOnce && std::chrono::steady_clock::now() < deadline) {
    if (!aWorkerRanATask())
      continue;
    int64_t shared = poolStats().sharedJobs;
    std::atomic<int> calls{0};
    bool ran = tryRunTasksOnAwakeWorkers(64, 2, [&](int64_t) { calls++; });
    ASSERT_EQ(calls.load(), ran ? 64 : 0);
    sharedOnce = ran && poolStats().sharedJobs > shared;
  }
  EXPECT_TRUE(sharedOnce);
}

TEST(ThreadLimit, IsSettableAndValidated) {
  int initial = maxThreads();
  EXPECT_GE(initial, 1);
  {
    ThreadLimitGuard three(3);
    EXPECT_EQ(maxThreads(), 3);
    EXPECT_EQ(num_threads(), 3) << "the tensor API's view of the same limit";
  }
  EXPECT_EQ(maxThreads(), initial) << "0 returns to the default";
  set_num_threads(5);
  EXPECT_EQ(maxThreads(), 5);
  set_num_threads(0);
  EXPECT_TRUE(test::contains(test::errorOf([] { set_num_threads(-1); }, ErrorKind::Usage),
                             "negative"));
  EXPECT_EQ(maxThreads(), initial);
}

//===----------------------------------------------------------------------===//
// Kernels cut into tasks
//===----------------------------------------------------------------------===//

std::vector<float> randomValues(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// C of `d` on random operands, after `runs` runs (the first ones time the
/// matmul on one thread; later ones share its tiles when that pays).
std::vector<float> matmulAfterRuns(const onednn::MatmulDesc &d, int runs) {
  std::vector<float> a = randomValues(size_t(d.m * d.k), 1), b = randomValues(size_t(d.k * d.n), 2);
  std::vector<float> bias = randomValues(size_t(d.n), 3), c0 = randomValues(size_t(d.m * d.n), 4);
  std::vector<float> c;
  auto mm = onednn::Matmul::get(d);
  for (int i = 0; i < runs; ++i) {
    c = c0;
    mm->run(a.data(), b.data(), bias.data(), c.data());
  }
  return c;
}

bool sameBits(const std::vector<float> &x, const std::vector<float> &y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// The MLP's matmuls (forward with a transposed weight, weight gradient with a
// transposed activation) and a plain one, each with an epilogue that needs
// the product in scratch first (tanh, then accumulate).
TEST(ThreadPool, MatmulTilesGiveTheSameBitsOnAnyNumberOfThreads) {
  using onednn::Activation;
  const onednn::MatmulDesc descs[] = {
      {.m = 100, .k = 784, .n = 128, .transposeB = true, .bias = true,
       .activation = Activation::Relu},
      {.m = 128, .k = 100, .n = 784, .transposeA = true},
      {.m = 100, .k = 784, .n = 130, .bias = true, .activation = Activation::Tanh,
       .accumulate = true, .beta = 0.5f},
  };
  for (const onednn::MatmulDesc &d : descs) {
    ASSERT_GT(onednn::Matmul::get(d)->tiles(), 2) << d.m << "x" << d.k << "x" << d.n;
    std::vector<float> one, four;
    {
      ThreadLimitGuard limit(1);
      one = matmulAfterRuns(d, 4);
    }
    int64_t shared = poolStats().sharedJobs;
    {
      ThreadLimitGuard limit(4);
      four = matmulAfterRuns(d, 4);
    }
    EXPECT_GT(poolStats().sharedJobs, shared) << "10M multiply-adds pay for a second thread";
    EXPECT_TRUE(sameBits(one, four)) << d.m << "x" << d.k << "x" << d.n;
  }
}

} // namespace
