//===- ValueNames.h - How values are named in IR text ------------*- C++ -*-===//
//
// The naming rules shared by the printer, the parser, the verifier and the
// dot exporter, so that a diagnostic says `%3` exactly where the printed IR
// says `%3`; and by tools that name values as `kiln print` does (`kiln run`'s
// inputs and results).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <string>
#include <string_view>
#include <vector>

namespace kiln::ir::text {

/// Characters allowed in `%name` and `@name`: [A-Za-z0-9_.].
inline bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

/// A name made only of digits is a number, which the printer reassigns.
inline bool isNumericName(std::string_view s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (c < '0' || c > '9')
      return false;
  return true;
}

/// `name` with every character that cannot appear in IR text replaced by '_',
/// or "" when it is empty or numeric (an unnamed value).
std::string sanitizeName(std::string_view name);

/// The printed name (without '%') of every value of `f`, indexed by value id:
/// named values keep their (sanitized) name, unnamed parameters are `argN`
/// (N = position), unnamed node results are numbered 0, 1, ... in order of
/// definition. Later duplicates get a `.1`, `.2`, ... suffix, so that all
/// names are distinct.
std::vector<std::string> valueNames(const Function &f);

/// The printed name (without '@') of a function.
std::string functionName(const Function &f);

} // namespace kiln::ir::text
