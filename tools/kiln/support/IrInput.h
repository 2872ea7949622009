//===- IrInput.h - Reading IR for the kiln tool -----------------*- C++ -*-===//
//
// What every subcommand that takes a .kir file does first: read it (a path,
// or "-" for standard input) with a size limit, parse, verify, and pick the
// function to work on.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <string>
#include <string_view>

namespace kiln::tool {

/// The whole of `path` ("-" = standard input), refusing more than `maxBytes`.
/// Throws Error(Io) naming the path when it cannot be opened or read, and
/// Error(Resource) when it is too large; never reads an unbounded amount.
std::string readInput(const std::string &path, size_t maxBytes);

/// Reads, parses and verifies `path`. Diagnostics are located in the file
/// ("<stdin>" for "-").
ir::Module loadModule(const std::string &path);

/// The function called `name` ("@f" or "f"); when `name` is empty, the
/// module's only function. Throws Error(Usage) listing the available
/// functions when there is no such function or the choice is ambiguous.
const ir::Function &selectFunction(const ir::Module &m, std::string_view name);

/// Writes `text` to `path` ("-" or "" = standard output). Throws Error(Io).
void writeOutput(const std::string &path, std::string_view text);

} // namespace kiln::tool
