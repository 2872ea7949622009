//===- FusionTarget.h - What a backend can run as one kernel ----*- C++ -*-===//
//
// The fuse pass decides from the op table's fusion classes which nodes could
// share a kernel, and asks the backend that will run the function whether it
// can: passed in by whoever compiles (runtime::fusionTarget() is kiln's), so
// that no pass keeps a list of ops a backend happens to support.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

namespace kiln::compiler {

class FusionTarget {
public:
  virtual ~FusionTarget() = default;
  /// Whether the backend computes reduction `n` (of fusion class Reduction)
  /// in one kernel with the loop that produces its input.
  virtual bool fusesReduction(const ir::Function &f, const ir::Node &n) const = 0;
  /// Whether matmul `n` (of fusion class OutputFusable) may carry an epilogue:
  /// transposed operands, a bias row added, an activation.
  virtual bool fusesMatmulEpilogue(const ir::Function &f, const ir::Node &n) const = 0;
  /// Whether elementwise `op` may end a matmul epilogue as its activation.
  virtual bool isEpilogueActivation(ir::OpKind op) const = 0;
};

} // namespace kiln::compiler
