//===- Threads.h - How many threads kiln's kernels may use ------*- C++ -*-===//
//
// kiln runs a kernel on as many threads as its work pays for (measured, see
// docs/threads.md), up to one limit for the process. The threads are kiln's
// own pool, whose idle workers sleep rather than spin; oneDNN primitives run
// on it with one OpenMP thread each, so no OpenMP team ever spins.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <type_traits>

namespace kiln::runtime {

/// The most threads one kernel runs on, the calling thread included: the last
/// setMaxThreads(n > 0), else $KILN_NUM_THREADS, else $OMP_NUM_THREADS (its
/// first entry), else the cores this process may run on (its CPU affinity).
/// A malformed variable is reported on stderr once and skipped.
int maxThreads();

/// Caps every later kernel at `n` threads; 0 returns to the default above.
/// Throws Error(Usage) for a negative `n`.
void setMaxThreads(int n);

/// A non-owning reference to a callable `void(int64_t)`: a job's task, which
/// lives on the caller's stack for the job's duration (no allocation).
class TaskRef {
public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, TaskRef>)
  TaskRef(F &&f) // implicit, as std::function's
      : object_(const_cast<void *>(static_cast<const void *>(&f))),
        call_([](void *o, int64_t i) { (*static_cast<std::remove_reference_t<F> *>(o))(i); }) {}

  void operator()(int64_t i) const { call_(object_, i); }

private:
  void *object_;
  void (*call_)(void *, int64_t);
};

/// Elements a task of a split job gets at least (whole rows): 16K floats,
/// some microseconds of work, so that claiming a task (one atomic add) or
/// handing it to a worker (about a microsecond) is noise.
inline constexpr int64_t kMinTaskElements = int64_t(1) << 14;

/// Calls task(i) once for every i in [0, tasks): on the calling thread and on
/// up to `threads - 1` workers of kiln's pool, each taking the next unclaimed
/// index, so a worker that the OS schedules late claims nothing and never
/// holds the caller up. Returns when every call has returned, and rethrows
/// the first exception a task threw (the other tasks still run). Runs
/// everything on the calling thread when `threads` or `tasks` is at most 1,
/// or when the pool is already running a job (another thread's, or this
/// one's from inside a task). `threads` is not capped here: kernels pass
/// at most maxThreads().
void runTasks(int64_t tasks, int threads, TaskRef task);

/// runTasks for a short job (a few to tens of microseconds), shared only with
/// workers that are awake, still polling after their last job: a sleeping
/// worker is never woken (that costs the caller about 3 us, and on a virtual
/// machine the worker may start after such a job is done). Returns false,
/// having run nothing, when no worker is awake: the caller then runs the job
/// its own way (for instance as one call instead of its tasks).
bool tryRunTasksOnAwakeWorkers(int64_t tasks, int threads, TaskRef task);

/// Counters of the pool, for tests and `kiln run --stats`.
struct PoolStats {
  int workers = 0;        ///< worker threads started so far (they start on first use)
  int64_t sharedJobs = 0; ///< runTasks calls handed to workers
};
PoolStats poolStats();

} // namespace kiln::runtime
