//===- Printer.h - Module to IR text ----------------------------*- C++ -*-===//
#pragma once

#include "kiln/ir/Function.h"

#include <string>

namespace kiln::ir {

/// Canonical text: one line per node, a type on every line; named values
/// keep their names, the others are numbered %0, %1, ... in order.
/// print(parse(print(m))) == print(m).
std::string print(const Function &f);
std::string print(const Module &m);
/// The attribute's text, as in {name=TEXT}.
std::string printAttr(const Attr &a);

} // namespace kiln::ir
