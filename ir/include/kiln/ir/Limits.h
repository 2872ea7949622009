//===- Limits.h - Memory limits of a program run ----------------*- C++ -*-===//
#pragma once

#include <cstdint>

namespace kiln::ir {

/// Upper bound on the bytes of intermediate tensors one run of a function
/// holds at once -- a compiled program's buffer arena, the interpreter's live
/// values -- checked before allocating: the per-tensor limit
/// (maxTensorBytes(), HostTensor.h) alone let many large tensors take the
/// machine. KILN_MAX_ARENA_BYTES, else the per-tensor limit.
int64_t maxArenaBytes();

} // namespace kiln::ir
