//===- ParallelRows.h - Splitting a loop kernel across cores ----*- C++ -*-===//
#pragma once

#include "../parallel/MeasuredSplit.h"
#include "kiln/runtime/Jit.h"

namespace kiln::runtime {

/// Most tasks a loop kernel is cut into: enough to balance 16 cores.
inline constexpr int64_t kMostTasks = 64;

/// A loop kernel cut into tasks of contiguous rows (LoopKernel::rows are
/// independent). The cut depends only on the kernel's sizes, and every
/// element is computed by the same code whichever thread runs its row, so the
/// results do not depend on the threads; how many run it is the
/// parallel::MeasuredSplit's choice.
class RowKernel {
public:
  explicit RowKernel(LoopKernel k);

  /// Runs all rows of the kernel on `args` (see KernelFn).
  void run(void **args) const;
  const LoopKernel &kernel() const { return k_; }
  int64_t rowsPerTask() const { return rowsPerTask_; }

private:
  LoopKernel k_;
  int64_t rowsPerTask_;
  parallel::MeasuredSplit split_;
};

} // namespace kiln::runtime
