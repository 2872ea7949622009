//===- SoftmaxCrossEntropy.h - Fused softmax cross-entropy (internal) -*- C++ -*-===//
//
// The kernel of a `fused_softmax_cross_entropy` node (compiler/FuseCrossEntropy.h):
// for each row, its max, one f32 exp per element summed in double (as
// LogSoftmax.cpp sums), the row's loss and, when wanted, its logits gradient:
// the softmax is computed once for the loss and the gradient.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/DType.h"

#include <cstdint>

namespace kiln::runtime {

struct SoftmaxCrossEntropyArgs {
  int64_t rows = 0, cols = 0;
  const float *logits = nullptr; ///< [rows, cols]
  const void *labels = nullptr;  ///< [rows] of `labelType` (i64 or u8)
  ir::DType labelType = ir::DType::I64;
  /// The incoming gradient dy, broadcast to [rows, cols] by these strides (0
  /// along a broadcast axis); only dy[r, label[r]] matters. Null: no gradient.
  const float *dy = nullptr;
  int64_t dyRowStride = 0, dyColStride = 0;
  /// The loss (a scalar): mean or sum over rows of -log softmax[label]. Null:
  /// not wanted.
  float *loss = nullptr;
  bool mean = true;
  /// The logits gradient [rows, cols]: dy[r, label] * (softmax - one_hot).
  /// It may be the logits' own buffer: each row is read before it is written.
  float *grad = nullptr;
};

/// Runs the kernel. Throws Error(Runtime), as one_hot does, for a label
/// outside [0, cols).
void softmaxCrossEntropy(const SoftmaxCrossEntropyArgs &a);

} // namespace kiln::runtime
