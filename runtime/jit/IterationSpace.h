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
#include <optional>
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

/// How a reduction kernel's output is addressed, with the same coalesced
/// dims as the inputs: the output has stride 0 along every reduced dim, so
/// each element of the input space adds to out[row offset + col * stride].
struct ReductionAccess {
  ir::OpKind op = ir::OpKind::ReduceSum; ///< ReduceSum, ReduceMean or ReduceMax
  /// 0: the inner loop is reduced (the row folds into a register); 1: kept.
  int64_t innerStride = 0;
  /// Output stride of each outer dimension (parallel to outerDims).
  std::vector<int64_t> outerStrides;
  /// Elements of the output, and input elements folded into each of them.
  int64_t outputs = 0, count = 0;
  /// Some outer dim is reduced, so rows meet in the same output elements:
  /// they accumulate into a double scratch array, finished after the rows.
  bool acrossRows = false;
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
  /// Set for a reduction kernel, whose rows x cols is the reduction's input.
  std::optional<ReductionAccess> reduction;
  /// A length-generic kernel (lengthGenericBody): one loop over the elements
  /// [begin, end), each input a splat or read at the element's index; rows
  /// is the number of elements, cols 1, and the code does not depend on it.
  bool elementRange = false;
};

/// Inner rows of fully contiguous kernels are at most this many elements:
/// a flat kernel of N elements is cut into rows of a divisor of N in
/// [kMinBlock, kMaxBlock] when there is one, so that callers can split it
/// across threads (LoopKernel::rows). 16K floats = 64 KiB per row.
inline constexpr int64_t kMaxBlock = 16384;
inline constexpr int64_t kMinBlock = 2048;

/// The loop nest of a body accepted by checkLoopKernelBody or
/// checkReductionKernelBody.
IterationSpace analyzeIterationSpace(const ir::Function &body);

/// A loop kernel body whose code can serve every length, or nullopt: each
/// value is a splat or has the iteration shape (of two elements or more), and
/// every op is exact arithmetic, so an element's result does not depend on
/// where it falls in the loop (a C library function's vector and scalar
/// versions may differ in the last bit, and the tail of a loop runs the
/// scalar one). The body returned has the same nodes, its splats of rank 0
/// and its other values of shape [0]: equal for every length, so that one
/// compiled kernel serves them all (the four SGD updates of a two-layer
/// model, a last batch of another size).
std::optional<ir::Function> lengthGenericBody(const ir::Function &body);

/// The loop of a length-generic kernel over `elements` elements, for a body
/// that lengthGenericBody accepts or the body it returned.
IterationSpace elementSpace(const ir::Function &body, int64_t elements);

/// The reduction node of a reduction kernel body (its last node), or null.
const ir::Node *reductionNode(const ir::Function &body);

/// The rows a caller launches: the loop rows, or 1 for a reduction whose rows
/// meet in the same outputs (or whose input is empty but output is not).
int64_t launchRows(const IterationSpace &space);

} // namespace kiln::runtime::jit
