//===- ValueLookup.h - Values named on the command line ---------*- C++ -*-===//
#pragma once

#include "kiln/ir/Function.h"

#include <string>
#include <string_view>
#include <vector>

namespace kiln::tool {

/// The value of `f` that the printed IR calls `name` ("%w", "w" or "%3").
/// Throws Error(Usage) listing the parameters when there is none.
ir::ValueId findValue(const ir::Function &f, std::string_view name);

/// findValue for each entry of a comma-separated list ("%a,%b").
std::vector<ir::ValueId> findValues(const ir::Function &f, std::string_view list);

} // namespace kiln::tool
