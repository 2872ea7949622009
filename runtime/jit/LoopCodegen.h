//===- LoopCodegen.h - LLVM IR for a loop kernel (internal) -----*- C++ -*-===//
#pragma once

#include "IterationSpace.h"

#include <llvm/ADT/StringRef.h>
#include <llvm/IR/Module.h>

#include <memory>

namespace kiln::runtime::jit {

/// Emits the unoptimised module that defines the kernel `symbol` for `body`
/// (checked by checkLoopKernelBody or checkReductionKernelBody), looping
/// over `space`:
///
///   void symbol(ptr noalias %buffers, i64 %begin, i64 %end)
///
/// (a reduction kernel with space.reduction->acrossRows takes its double
/// scratch array as the last buffer, and runs whole when begin < end);
/// loads the buffer pointers once and calls `symbol.body`, an always-inline
/// function whose pointer parameters are noalias, so that after inlining
/// every load and store carries alias scopes and the loop vectorizer needs
/// no run-time overlap checks.
std::unique_ptr<llvm::Module> emitLoopKernel(llvm::LLVMContext &ctx, const ir::Function &body,
                                             const IterationSpace &space, llvm::StringRef symbol);

} // namespace kiln::runtime::jit
