//===- Interpreter.h - The reference interpreter ----------------*- C++ -*-===//
//
// Runs any verified function naively, node by node, with each op's
// reference kernel from the op table. It is the oracle that every compiled
// result is tested against: clarity over speed.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"
#include "kiln/ir/HostTensor.h"

#include <span>
#include <vector>

namespace kiln::runtime {

/// Evaluates `f` on `inputs` (one per parameter, with exactly the parameter's
/// type) and returns one tensor per result. Throws Error(Usage) on a wrong
/// input count or type, Error(Runtime) when a kernel fails (e.g. a label out
/// of range).
std::vector<ir::HostTensor> interpret(const ir::Function &f,
                                      std::span<const ir::HostTensor> inputs);

/// About how long interpret() takes to run `f` once, in seconds, from its
/// sizes alone: every element a node reads or writes, and every
/// multiply-add of a matmul, at a cost measured on this interpreter
/// (docs/architecture.md, "When a step compiles"). Compiled mode uses it to
/// interpret a cheap structure the first time instead of compiling it.
double estimatedInterpretSeconds(const ir::Function &f);

} // namespace kiln::runtime
