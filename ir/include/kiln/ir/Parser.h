//===- Parser.h - IR text to Module -----------------------------*- C++ -*-===//
#pragma once

#include "kiln/ir/Function.h"

#include <string>
#include <string_view>

namespace kiln::ir {

/// Limits that keep hostile input from exhausting time or memory.
struct ParseLimits {
  size_t maxBytes = size_t(256) << 20; ///< input size
  size_t maxNesting = 64;              ///< bracket depth in literals
  size_t maxDenseElements = size_t(1) << 26;
};

/// Parses IR text. `fileName` appears in diagnostics. Throws Error(Parse) at
/// the first problem, located as file:line:col. Does not verify types beyond
/// what is needed to build the graph: run verify() on the result.
Module parseModule(std::string_view text, std::string fileName = "<input>",
                   const ParseLimits &limits = {});

/// Reads and parses a file ("-" is standard input). Throws Error(Io/Parse).
Module parseFile(const std::string &path, const ParseLimits &limits = {});

} // namespace kiln::ir
