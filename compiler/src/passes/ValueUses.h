//===- ValueUses.h - Who reads each value (internal to passes) --*- C++ -*-===//
#pragma once

#include "kiln/ir/Function.h"

#include <optional>
#include <vector>

namespace kiln::compiler {

/// Who uses each value of a function: the distinct nodes reading it
/// (ascending), how many operand slots read it, and whether it is returned.
struct ValueUses {
  std::vector<std::vector<size_t>> users;
  std::vector<int> operandUses;
  std::vector<bool> returned;

  explicit ValueUses(const ir::Function &f)
      : users(f.numValues()), operandUses(f.numValues(), 0), returned(f.numValues(), false) {
    for (size_t i = 0; i < f.nodes().size(); ++i)
      for (ir::ValueId v : f.nodes()[i].operands) {
        auto &u = users[size_t(v.id)];
        if (u.empty() || u.back() != i)
          u.push_back(i);
        ++operandUses[size_t(v.id)];
      }
    for (ir::ValueId r : f.results())
      returned[size_t(r.id)] = true;
  }

  /// The node reading v, if v is not returned and that node reads it once.
  std::optional<size_t> soleUse(ir::ValueId v) const {
    if (operandUses[size_t(v.id)] != 1)
      return std::nullopt;
    return soleUser(v);
  }
  /// The node reading v (through any number of its operands), if v is not
  /// returned and no other node reads it.
  std::optional<size_t> soleUser(ir::ValueId v) const {
    const auto &u = users[size_t(v.id)];
    if (returned[size_t(v.id)] || u.size() != 1)
      return std::nullopt;
    return u[0];
  }
};

} // namespace kiln::compiler
