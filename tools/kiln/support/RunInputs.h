//===- RunInputs.h - Binding command-line inputs to parameters --*- C++ -*-===//
#pragma once

#include "kiln/ir/Function.h"
#include "kiln/ir/HostTensor.h"

#include <string>
#include <string_view>
#include <vector>

namespace kiln::tool {

/// One `--input NAME=VALUES` argument, split.
struct InputArg {
  std::string name;  ///< without a leading '%'
  std::string value; ///< a literal, or a path ending in ".npy"
};

/// Splits "NAME=VALUES" ("%NAME=VALUES" also works). Returns an error
/// message for a malformed argument, or "" when it is well-formed.
std::string checkInputArg(std::string_view arg);
InputArg splitInputArg(std::string_view arg);

/// The names (without '%') that `kiln print` gives the values of `f`,
/// indexed by value id, so that `--input` and printed results use the names
/// the user sees in the printed IR (`x`, `arg1`, `3`...).
std::vector<std::string> valueLabels(const ir::Function &f);

/// One tensor per parameter of `f`, in order, from the given arguments.
/// Throws Error(Usage) naming the parameter and its type when an input is
/// missing, given twice, unknown, or does not fit the parameter; .npy files
/// of another dtype are converted when every value is representable (float
/// targets round); their shape must match.
std::vector<ir::HostTensor> bindInputs(const ir::Function &f, const std::vector<InputArg> &args);

} // namespace kiln::tool
