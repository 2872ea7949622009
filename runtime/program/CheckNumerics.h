//===- CheckNumerics.h - The first op that makes NaN or Inf ---*- C++ -*-===//
//
// With CompileOptions::checkNumerics a program checks every kernel's results
// after it runs. The first non-finite value stops the run with an Error that
// names the op, its result and its IR location; inside a fused kernel the
// kernel's body is replayed op by op (reference kernels, on copies of the
// kernel's inputs) to name the op within it.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"
#include "kiln/ir/HostTensor.h"

#include <functional>
#include <vector>

namespace kiln::runtime {

/// Where a value of a program lives during a run.
using ValueAddress = std::function<void *(ir::ValueId)>;

/// Throws Error(Runtime) when an input of `fn` (bound at `address`) already
/// holds NaN or Inf: an op that only passes it on did not produce it.
void checkInputNumerics(const ir::Function &fn, const ValueAddress &address);

/// Copies of the operands of `n` (read from `address`), taken before its
/// kernel runs; a fused kernel may overwrite an input buffer in place.
std::vector<ir::HostTensor> saveOperands(const ir::Function &fn, const ir::Node &n,
                                         const ValueAddress &address);

/// Throws Error(Runtime) when a floating-point result of `n` (a node of `fn`
/// whose kernel just ran) holds NaN or Inf. `operands` are the inputs the
/// kernel read (saveOperands); they locate the op inside a fused kernel.
/// `source` is the function before the passes: the op's value is named as
/// there (the node at the same location).
void checkNodeNumerics(const ir::Function &source, const ir::Function &fn, const ir::Node &n,
                       const ValueAddress &address, const std::vector<ir::HostTensor> &operands);

} // namespace kiln::runtime
