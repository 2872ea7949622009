//===- Step.h - Lazy execution and step boundaries --------------*- C++ -*-===//
//
// By default (Execution::Compiled) tensor ops are recorded, not computed: a
// pending value is materialised when it is read (item, to_vector, host(),
// printing) or at a step boundary, sync(), which optimizers call at the end
// of step(). Everything pending then runs as ONE function -- forward,
// backward and update of a training step -- looked up in a program cache by
// its structure, so that later steps replay the compiled program.
//
// A new structure is compiled the first time it runs, unless the reference
// interpreter would run it in well under the time a compile takes: such a
// cheap one is interpreted once and compiled when it comes back, so one-off
// graphs (tests, printing a small value) do not pay for LLVM (see
// compile_after). KILN_LOG=recompile logs every compilation with its reason.
//
// Buffers are read when the step runs: a HostTensor wrapped in a Tensor must
// not be changed behind kiln's back while values computed from it are
// pending (call sync() first).
//
// Threads: each thread records and flushes its own steps, with its own
// program cache and its own settings below (a new thread starts from the
// environment's defaults); the compiled kernels are shared. Several threads
// may each train their own model at once. A tensor pending in one thread's
// step is an Error(Usage) in another: sync() in the thread that made it
// before handing it over. A tensor used by several threads at once must be
// only read (item, to_vector, an operand of ops that do not update it).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <cstddef>
#include <cstdint>

namespace kiln {

/// Materialises every pending value still held by a tensor: the recorded ops
/// since the last step boundary run as one program (compiled and cached by
/// structure). A step boundary; a no-op when nothing is pending.
void sync();

/// How tensor ops execute.
enum class Execution {
  Eager,       ///< each op runs at once with the op table's reference kernel
  Interpreted, ///< lazy; each flush runs in the reference interpreter
  Compiled,    ///< lazy; flushes run as cached compiled programs (default)
};
/// The mode; initially from KILN_BACKEND (eager, interp, jit; default jit).
Execution execution();
/// Changes the mode (after a sync()).
void set_execution(Execution mode);

/// Sets the execution mode for a scope and restores it on exit.
class ExecutionGuard {
public:
  explicit ExecutionGuard(Execution mode) : previous_(execution()) { set_execution(mode); }
  ~ExecutionGuard() { set_execution(previous_); }
  ExecutionGuard(const ExecutionGuard &) = delete;
  ExecutionGuard &operator=(const ExecutionGuard &) = delete;

private:
  Execution previous_;
};

/// compile_after() of the default policy: a structure is compiled the first
/// time it runs, unless the reference interpreter's estimated time for it
/// (runtime::estimatedInterpretSeconds, from its sizes) is under
/// kInterpretFirstSeconds; such a structure is interpreted once and compiled
/// when it comes back.
inline constexpr int kCompileAfterAuto = -1;
/// 1 ms: at most what interpreting a structure once adds to a loop that runs
/// it again, and well under a compile (3 ms for the smallest step with every
/// kernel in the disk cache, 20-100 ms cold; docs/architecture.md).
inline constexpr double kInterpretFirstSeconds = 1e-3;

/// Compiled mode interprets a step structure the first `n` times it runs and
/// compiles it on the next run (0: compile at once), or, for
/// kCompileAfterAuto, by the estimate above. Initially from
/// KILN_COMPILE_AFTER (a count, or `auto`), default kCompileAfterAuto.
/// Throws Error(Usage) below kCompileAfterAuto.
int compile_after();
void set_compile_after(int n);

/// Whether steps check every kernel's results for NaN and Inf: the first one
/// stops the step with an Error naming the op and its IR location (as `kiln
/// run --check-numerics`). Checked steps are always compiled, never
/// interpreted. Initially from KILN_CHECK_NUMERICS (set and not 0 = on);
/// changing it syncs and empties the program cache.
bool check_numerics();
void set_check_numerics(bool on);

/// The most threads one kernel of a step runs on, the calling thread
/// included; a kernel uses fewer where its measured time does not pay for
/// more, and its results do not depend on how many (docs/threads.md).
/// Process-wide, like torch.set_num_threads. Initially from
/// KILN_NUM_THREADS, else OMP_NUM_THREADS, else the cores available;
/// set_num_threads(0) returns to that. Throws Error(Usage) for n < 0.
int num_threads();
void set_num_threads(int n);

/// Counters of the step program cache.
struct StepCacheStats {
  int64_t flushes = 0;      ///< steps run (flushes and compiled-step calls)
  int64_t recognised = 0;   ///< flushes whose step was the last one, matched as recorded
  int64_t interpreted = 0;  ///< of which by the reference interpreter
  int64_t compilations = 0; ///< programs compiled (cache misses)
  size_t entries = 0;       ///< structures in the cache
  int64_t evictions = 0;    ///< structures evicted, least recently used first
};
StepCacheStats step_cache_stats();
/// The most step structures the program cache holds (default 256). Past it
/// the least recently used is evicted with its compiled program, whose JIT
/// kernels are unloaded unless another program uses them. A structure seen
/// again after its eviction compiles at once (its sightings are kept).
size_t step_cache_capacity();
void set_step_cache_capacity(size_t n);
/// Empties the program cache and resets its counters.
void clear_step_cache();

/// The function of the most recent step: as recorded (forward, backward and
/// update in one function), or as optimised by the compiler when
/// `optimized` (requires the step to have been compiled). An empty function
/// when no step ran yet.
ir::Function last_step_ir(bool optimized = false);

} // namespace kiln
