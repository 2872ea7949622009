//===- Fuse.h - Kernel fusion -----------------------------------*- C++ -*-===//
#pragma once

#include "kiln/compiler/FusionTarget.h"
#include "kiln/ir/Function.h"

namespace kiln::compiler {

/// Groups nodes into `fused` kernels, following the op table's fusion
/// classes and what `target` can run:
///  - loop kernels: connected elementwise/broadcast ops over the same
///    iteration shape become one region (the JIT emits one loop); splat
///    constants they use are copied in;
///  - reductions the target fuses absorb the loop kernel computing their
///    input;
///  - matmul epilogues: a matmul the target fuses absorbs transposes of its
///    operands, a following bias add ([n] or [1,n]) and an activation the
///    target accepts (oneDNN post-ops).
/// A value stays materialised (a kernel output) when anything outside its
/// kernel uses it or the function returns it. Fusion never creates a cycle:
/// a node joins a kernel only if none of its other operands depends on it.
ir::Function fuse(const ir::Function &f, const FusionTarget &target);

} // namespace kiln::compiler
