//===- Verifier.h - IR well-formedness --------------------------*- C++ -*-===//
#pragma once

#include "kiln/ir/Function.h"

namespace kiln::ir {

/// Checks arity, attributes (names, kinds, required), result types against
/// each op's shape rule, SSA dominance (operands defined before use), unique
/// value names, and returned values. Throws Error(Verify) at the first
/// problem, located at the offending node when it has a location.
void verify(const Function &f);
void verify(const Module &m);

} // namespace kiln::ir
