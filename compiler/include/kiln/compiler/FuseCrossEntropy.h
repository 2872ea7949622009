//===- FuseCrossEntropy.h - Softmax cross-entropy as one kernel -*- C++ -*-===//
//
// The `fuse-xent` pass finds softmax cross-entropy -- log_softmax over the
// last axis, one_hot labels, mul, a row sum, neg and a mean or sum -- and the
// logits gradient that autodiff derives for it, and replaces them with one
// `fused` node whose body is the canonical form below. The runtime runs that
// node as one native kernel that computes each row's softmax once.
//
//   func @fused_softmax_cross_entropy(%logits: f32[N,C], %labels: i64[N]
//                                     [, %dy: f32[...]]) -> (f32[] [, f32[N,C]]) {
//     %0 = log_softmax %logits {axis=1}
//     %1 = one_hot %labels : f32[N,C]
//     ; the loss (when it is wanted)
//     %2 = mul %0, %1
//     %3 = reduce_sum %2 {axes=[1]}
//     %4 = neg %3
//     %5 = reduce_mean %4 {axes=[0]}     (or reduce_sum)
//     ; the logits gradient (when it is wanted), for an incoming row-wise
//     ; gradient %dy that broadcasts to [N,C]
//     %6 = mul %dy, %1
//     %7 = reduce_sum %6 {axes=[1], keepdims=true}
//     %8 = exp %0
//     %9 = mul %8, %7
//     %10 = sub %6, %9
//     return %5, %10
//   }
//
// The pass also accepts the loss negated after the last reduction
// (neg(mean(sum(...)))), which the canonical body computes equally. Interpreting
// the body gives the kernel's meaning, so the reference interpreter needs no
// knowledge of the kernel.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <optional>
#include <string_view>

namespace kiln::compiler {

/// Fuses softmax cross-entropy (forward, backward, or both) into
/// `fused_softmax_cross_entropy` nodes. Leaves the graph alone where the
/// pattern is not exact: another axis or rank, a dtype other than f32, an
/// intermediate used elsewhere or returned, another reduction. Expects CSE'd
/// input (run after simplify), where the backward reuses the forward's
/// log_softmax.
ir::Function fuseCrossEntropy(const ir::Function &f);

/// The name of the fused kernel's body.
inline constexpr std::string_view kSoftmaxCrossEntropyKernel = "fused_softmax_cross_entropy";

/// What the runtime needs to run a fused softmax cross-entropy body.
struct SoftmaxCrossEntropyKernel {
  int64_t rows = 0, cols = 0;
  /// The loss is the mean over rows (else the sum).
  bool mean = true;
  /// Result index of the loss / the logits gradient, or -1 when absent.
  int lossResult = -1, gradResult = -1;
  /// Operand index of the incoming gradient %dy, or -1 (no gradient).
  int dyOperand = -1;
  /// The labels' integer type.
  ir::DType labels = ir::DType::I64;
};

/// Describes `body` when it is exactly the canonical form written by
/// fuseCrossEntropy (checked node by node), else nullopt.
std::optional<SoftmaxCrossEntropyKernel> describeSoftmaxCrossEntropy(const ir::Function &body);

} // namespace kiln::compiler
