//===- Rebuild.h - Rebuilding a function into a new one --------*- C++ -*-===//
//
// Passes rebuild a function front to back into a new one rather than mutate
// it: startRebuild gives the new function the old one's name, location and
// parameters; every node kept is cloned with its operands and results
// mapped (value of the old function -> value of the new one, `map`), its
// result names kept; finishRebuild returns the mapped results with their
// locations. (MLIR's IRMapping with OpBuilder::clone, LLVM's
// CloneFunctionInto.)
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <vector>

namespace kiln::compiler {

/// A function named and located as `from`, with its parameters (types and
/// names), which `map` sizes for `from` and records.
ir::Function startRebuild(const ir::Function &from, std::vector<ir::ValueId> &map);

/// Sets the results of `to` to those of `from` through `map`, with their
/// locations.
void finishRebuild(ir::Function &to, const ir::Function &from,
                   const std::vector<ir::ValueId> &map);

/// Appends to `to` a copy of node `n` of `from` with the given operands
/// (values of `to`), keeping result names, and records its results in `map`.
/// Returns the index of the copy.
size_t cloneNode(ir::Function &to, const ir::Function &from, const ir::Node &n,
                 std::vector<ir::ValueId> operands, std::vector<ir::ValueId> &map);

/// The same, with the operands mapped through `map`.
size_t cloneNode(ir::Function &to, const ir::Function &from, const ir::Node &n,
                 std::vector<ir::ValueId> &map);

/// Follows `map` (values of A -> values of B) by `next` (values of B ->
/// values of C), in place; invalid entries stay invalid.
void composeMapping(std::vector<ir::ValueId> &map, const std::vector<ir::ValueId> &next);

} // namespace kiln::compiler
