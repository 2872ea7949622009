//===- DeadCode.h - Dead-code elimination -----------------------*- C++ -*-===//
#pragma once

#include "kiln/ir/Function.h"

namespace kiln::compiler {

/// A copy of `f` without the nodes that no result depends on. Parameters are
/// kept (they are the function's interface), names and locations too.
ir::Function eliminateDeadCode(const ir::Function &f);
/// The same, and in `map` the new value of each value of `f` (invalid for
/// the removed ones).
ir::Function eliminateDeadCodeMapping(const ir::Function &f, std::vector<ir::ValueId> &map);

} // namespace kiln::compiler
