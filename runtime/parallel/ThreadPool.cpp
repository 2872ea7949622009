//===- ThreadPool.cpp - kiln's worker threads ------------------------------===//
//
// One process-wide pool runs one job at a time (runTasks, Threads.h). Idle
// workers poll briefly, then sleep on a futex (std::atomic::wait): nothing
// spins for long into a busy machine. Workers are woken one by one, only as
// many as the job asks for; a short job may ask only for workers that are
// still polling (tryRunTasksOnAwakeWorkers) and never wakes a sleeping one.
//
// A job is published through one pointer. A worker announces itself in
// `inside_` before it reads the pointer, and the caller clears the pointer
// before it waits for `inside_` to drain, so no worker touches a job (which
// lives on the caller's stack) after the caller returns.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Threads.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace kiln::runtime {

namespace {

using Clock = std::chrono::steady_clock;

/// How long an idle worker polls for the next job before it sleeps. A polling
/// worker starts a job within 1 us, a sleeping one after a futex wake (2.7 us
/// of the caller's time) and the scheduler's delay (150-190 us on the CI's
/// VM); polling longer than this measured no faster idle and 22 % slower
/// beside a busy process (docs/threads.md).
constexpr auto kWorkerSpin = std::chrono::microseconds(30);

/// Spins while `keepWaiting()` for at most `limit`; returns whether it stopped
/// because the condition turned false.
template <class Predicate> bool spinWhile(Predicate keepWaiting, Clock::duration limit) {
  Clock::time_point deadline = Clock::now() + limit;
  for (int i = 0;; ++i) {
    if (!keepWaiting())
      return true;
    _mm_pause();
    if ((i & 63) == 63 && Clock::now() > deadline)
      return false;
  }
}

struct Job {
  TaskRef task;
  int64_t tasks;
  std::atomic<int64_t> next{0}, done{0};
  std::mutex errorMutex;
  std::exception_ptr error;

  /// Claims and runs tasks until none is left.
  void work() {
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      try {
        task(i);
      } catch (...) {
        std::lock_guard lock(errorMutex);
        if (!error)
          error = std::current_exception();
      }
      done.fetch_add(1, std::memory_order_release);
    }
  }
};

class Pool {
public:
  ~Pool() {
    stop_.store(true);
    for (Worker &w : workers_) {
      w.signal.fetch_add(1);
      w.signal.notify_one();
    }
    for (Worker &w : workers_)
      w.thread.join();
  }

  /// Runs the job on the caller and on up to `threads - 1` workers, started
  /// if needed.
  void run(int64_t tasks, int threads, TaskRef task) {
    if (!acquire(tasks, threads))
      return runHere(tasks, task);
    pickWorkers(startWorkers(wanted(tasks, threads)));
    runShared(tasks, task);
  }

  /// Runs the job on the caller and on up to `threads - 1` workers that are
  /// polling now; returns false, having run nothing, when there are none.
  bool tryRunOnAwake(int64_t tasks, int threads, TaskRef task) {
    if (!acquire(tasks, threads))
      return false;
    pickPollingWorkers(wanted(tasks, threads));
    if (helpers_.empty()) {
      busy_.store(false);
      return false;
    }
    runShared(tasks, task);
    return true;
  }

  PoolStats stats() const {
    return {.workers = started_.load(), .sharedJobs = sharedJobs_.load(std::memory_order_relaxed)};
  }

private:
  struct Worker {
    std::atomic<uint32_t> signal{0};
    std::atomic<bool> polling{false}; ///< waiting for a job without sleeping
    std::thread thread;
  };

  /// Takes the pool for a job worth sharing (then helpers_ is empty); false
  /// when the job is too small or the pool is taken (by another thread's
  /// job, or by this one's from inside a task).
  bool acquire(int64_t tasks, int threads) {
    bool idle = false;
    if (threads <= 1 || tasks <= 1 || !busy_.compare_exchange_strong(idle, true))
      return false;
    helpers_.clear();
    return true;
  }

  static int wanted(int64_t tasks, int threads) {
    return int(std::min<int64_t>(threads, tasks)) - 1;
  }

  /// Runs the job with helpers_ (called with busy_ held, which it releases).
  void runShared(int64_t tasks, TaskRef task) {
    sharedJobs_.fetch_add(1, std::memory_order_relaxed);
    Job job{task, tasks};
    job_.store(&job);
    for (Worker *w : helpers_) {
      w->signal.fetch_add(1);
      w->signal.notify_one();
    }
    job.work();
    waitUntil([&] { return job.done.load(std::memory_order_acquire) == tasks; });
    job_.store(nullptr);
    waitUntil([&] { return inside_.load() == 0; });
    busy_.store(false);
    if (job.error)
      std::rethrow_exception(job.error);
  }

  static void runHere(int64_t tasks, TaskRef task) {
    for (int64_t i = 0; i < tasks; ++i)
      task(i);
  }

  /// Waits for tasks that workers have claimed: they are short, so spin, and
  /// yield once it takes long (the worker may share this core).
  template <class Predicate> static void waitUntil(Predicate ready) {
    if (spinWhile([&] { return !ready(); }, std::chrono::microseconds(50)))
      return;
    while (!ready())
      std::this_thread::yield();
  }

  /// Grows the pool to `count` workers if it has fewer (called with busy_
  /// held), and returns how many of them it has: fewer where the system
  /// refuses another thread, which the job then does without.
  int startWorkers(int count) {
    while (int(workers_.size()) < count) {
      Worker &w = workers_.emplace_back();
      try {
        w.thread = std::thread([this, &w] { workerLoop(w); });
      } catch (const std::system_error &) {
        workers_.pop_back();
        break;
      }
      started_.fetch_add(1);
    }
    return std::min(count, int(workers_.size()));
  }

  /// The first `count` workers (called with busy_ held).
  void pickWorkers(int count) {
    for (int i = 0; i < count; ++i)
      helpers_.push_back(&workers_[size_t(i)]);
  }

  /// Up to `count` workers that are polling now (called with busy_ held). One
  /// that falls asleep meanwhile is woken by the signal: slower, not wrong.
  void pickPollingWorkers(int count) {
    for (Worker &w : workers_)
      if (int(helpers_.size()) < count && w.polling.load(std::memory_order_relaxed))
        helpers_.push_back(&w);
  }

  void workerLoop(Worker &w) {
    uint32_t seen = 0;
    for (;;) {
      w.polling.store(true, std::memory_order_relaxed);
      bool signalled =
          spinWhile([&] { return w.signal.load(std::memory_order_acquire) == seen; }, kWorkerSpin);
      w.polling.store(false, std::memory_order_relaxed);
      if (!signalled)
        w.signal.wait(seen);
      seen = w.signal.load(std::memory_order_acquire);
      if (stop_.load())
        return;
      inside_.fetch_add(1);
      if (Job *job = job_.load())
        job->work();
      inside_.fetch_sub(1);
    }
  }

  std::atomic<bool> busy_{false};
  std::atomic<Job *> job_{nullptr};
  std::atomic<int> inside_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> started_{0};
  std::atomic<int64_t> sharedJobs_{0};
  std::deque<Worker> workers_; // deque: a Worker never moves once its thread runs
  std::vector<Worker *> helpers_; // the workers of the current job (guarded by busy_)
};

Pool &pool() {
  static Pool p;
  return p;
}

} // namespace

void runTasks(int64_t tasks, int threads, TaskRef task) { pool().run(tasks, threads, task); }

bool tryRunTasksOnAwakeWorkers(int64_t tasks, int threads, TaskRef task) {
  return pool().tryRunOnAwake(tasks, threads, task);
}

PoolStats poolStats() { return pool().stats(); }

} // namespace kiln::runtime
