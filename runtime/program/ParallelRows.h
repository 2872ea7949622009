//===- ParallelRows.h - Splitting a loop kernel across cores ----*- C++ -*-===//
#pragma once

#include "kiln/runtime/Jit.h"

namespace kiln::runtime {

/// Runs all rows of `k` on `args`. A kernel of at least
/// kParallelElements elements whose rows are independent is split into one
/// contiguous row range per OpenMP thread (the pool oneDNN already uses, so
/// OMP_NUM_THREADS limits both); smaller ones run on the calling thread,
/// where waking the pool would cost more than it saves.
void runRows(const LoopKernel &k, void **args);

/// Elements (rows x cols) from which a kernel is split: 256K floats = 1 MiB
/// per operand, well beyond the L2 cache of one core.
inline constexpr int64_t kParallelElements = int64_t(1) << 18;

} // namespace kiln::runtime
