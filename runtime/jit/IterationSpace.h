//===- IterationSpace.h - Loop nest of a loop kernel (internal) -*- C++ -*-===//
//
// Shapes are static, so the loop nest of a kernel is decided at compile time:
// the iteration shape S and every input's broadcast strides are coalesced
// into `rows x cols`, where the inner (cols) loop walks each input either
// contiguously or not at all. Pure C++: no LLVM here, so the analysis can be
// unit-tested on its own.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <cstdint>
#include <vector>

namespace kiln::runtime::jit {

/// How one kernel input is addressed inside the loop nest.
struct InputAccess {
  /// The input has one element: it is loaded once, before the loops.
  bool splat = false;
  /// Stride along the inner loop: 1 (contiguous) or 0 (same element for the
  /// whole row, loaded once per row).
  int64_t innerStride = 0;
  /// Stride in elements of each outer dimension (parallel to
  /// IterationSpace::outerDims).
  std::vector<int64_t> outerStrides;
};

/// The loop nest of a kernel: rows x cols elements. Row r is split into the
/// multi-index of `outerDims` (row-major; its product is `rows`), from which
/// each input's row offset is sum(index[j] * outerStrides[j]). Outputs are
/// contiguous: row r starts at element r * cols.
struct IterationSpace {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> outerDims;
  /// One per parameter of the body, in order.
  std::vector<InputAccess> inputs;
};

/// Inner rows of fully contiguous kernels are at most this many elements:
/// a flat kernel of N elements is cut into rows of a divisor of N in
/// [kMinBlock, kMaxBlock] when there is one, so that callers can split it
/// across threads (LoopKernel::rows). 16K floats = 64 KiB per row.
inline constexpr int64_t kMaxBlock = 16384;
inline constexpr int64_t kMinBlock = 2048;

/// The loop nest of a body accepted by checkLoopKernelBody.
IterationSpace analyzeIterationSpace(const ir::Function &body);

} // namespace kiln::runtime::jit
