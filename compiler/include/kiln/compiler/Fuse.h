//===- Fuse.h - Kernel fusion -----------------------------------*- C++ -*-===//
#pragma once

#include "kiln/ir/Function.h"

namespace kiln::compiler {

/// Groups nodes into `fused` kernels, following the op table's fusion
/// classes:
///  - loop kernels: connected elementwise/broadcast ops over the same
///    iteration shape become one region (the JIT emits one loop); splat
///    constants they use are copied in;
///  - matmul epilogues: a 2-D f32 matmul absorbs transposes of its operands,
///    a following bias add ([n] or [1,n]) and relu/sigmoid/tanh (oneDNN
///    post-ops).
/// A value stays materialised (a kernel output) when anything outside its
/// kernel uses it or the function returns it. Fusion never creates a cycle:
/// a node joins a kernel only if none of its other operands depends on it.
ir::Function fuse(const ir::Function &f);

} // namespace kiln::compiler
