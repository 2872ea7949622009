//===- Simplify.h - Graph simplification passes -----------------*- C++ -*-===//
#pragma once

#include "kiln/ir/Function.h"

#include <vector>

namespace kiln::compiler {

/// Options of the simplify pass.
struct SimplifyOptions {
  /// Constant folding materialises at most this many elements per result, so
  /// that folding never turns a cheap broadcast into a huge literal.
  int64_t maxFoldElements = 4096;
};

/// Common-subexpression elimination: identical nodes (op, operands,
/// attributes, types) are computed once.
ir::Function eliminateCommonSubexpressions(const ir::Function &f);

/// Constant folding, algebraic identities (x+0, x*1, x/1, neg(neg x), cast to
/// the same type, reshape of reshape, reshape to the same shape, transpose
/// of transpose, broadcast of a scalar constant), CSE and dead-code
/// elimination, repeated until nothing changes.
ir::Function simplify(const ir::Function &f, const SimplifyOptions &options = {});
/// The same, and in `map` the new value of each value of `f`: one that
/// computes the same numbers (itself, a replacement or a folded constant),
/// or invalid where nothing needs it any more.
ir::Function simplifyMapping(const ir::Function &f, std::vector<ir::ValueId> &map,
                             const SimplifyOptions &options = {});

} // namespace kiln::compiler
