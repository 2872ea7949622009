//===- CloneNode.h - Copying nodes between functions ------------*- C++ -*-===//
//
// Passes rebuild a function front to back into a new one; every node they
// keep is cloned with its operands and results mapped (value of the old
// function -> value of the new one), its result names kept.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <vector>

namespace kiln::compiler {

/// Appends to `to` a copy of node `n` of `from` with the given operands
/// (values of `to`), keeping result names, and records its results in `map`.
/// Returns the index of the copy.
size_t cloneNode(ir::Function &to, const ir::Function &from, const ir::Node &n,
                 std::vector<ir::ValueId> operands, std::vector<ir::ValueId> &map);

/// The same, with the operands mapped through `map`.
size_t cloneNode(ir::Function &to, const ir::Function &from, const ir::Node &n,
                 std::vector<ir::ValueId> &map);

} // namespace kiln::compiler
