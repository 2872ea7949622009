//===- CompetingLoad.h - A busy process for measuring under load -*- C++ -*-===//
//
// kiln-bench-train measures thread scaling on an idle machine and on a busy
// one. The busy machine is made here: one process that spins, pinned to one
// core, for as long as the CompetingLoad object lives (a shared CI or
// developer machine, where another build or test holds a core).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <sys/types.h>

namespace kiln::bench {

class CompetingLoad {
public:
  /// Starts the busy process on core `cpu` (of those this process may use).
  /// Throws kiln::Error when it cannot fork.
  explicit CompetingLoad(int cpu = 0);
  /// Kills and reaps it.
  ~CompetingLoad();
  CompetingLoad(const CompetingLoad &) = delete;
  CompetingLoad &operator=(const CompetingLoad &) = delete;

  int cpu() const { return cpu_; }

private:
  pid_t pid_ = -1;
  int cpu_ = 0;
};

} // namespace kiln::bench
