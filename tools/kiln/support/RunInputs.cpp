//===- RunInputs.cpp ------------------------------------------------------===//
#include "RunInputs.h"

#include "Npy.h"
#include "TensorText.h"

#include "kiln/ir/ValueNames.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>

namespace kiln::tool {

std::string checkInputArg(std::string_view arg) {
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos)
    return fmt::format("--input '{}' is not NAME=VALUES", arg);
  std::string_view name = arg.substr(0, eq);
  if (!name.empty() && name.front() == '%')
    name.remove_prefix(1);
  if (name.empty())
    return fmt::format("--input '{}' has no parameter name before '='", arg);
  return "";
}

InputArg splitInputArg(std::string_view arg) {
  size_t eq = arg.find('=');
  std::string_view name = arg.substr(0, eq);
  if (!name.empty() && name.front() == '%')
    name.remove_prefix(1);
  return {std::string(name), eq == std::string_view::npos ? "" : std::string(arg.substr(eq + 1))};
}

std::vector<std::string> valueLabels(const ir::Function &f) {
  // The printer's own naming rule (internal to ir/, shared with the tool so
  // that the two can never disagree).
  return ir::text::valueNames(f);
}

namespace {

using Labels = std::vector<std::string>;

const std::string &label(const Labels &labels, ir::ValueId v) { return labels.at(size_t(v.id)); }

std::string paramList(const ir::Function &f, const Labels &labels) {
  std::string out;
  for (ir::ValueId p : f.params())
    out += fmt::format("{}%{}: {}", out.empty() ? "" : ", ", label(labels, p), f.type(p).str());
  return out.empty() ? "no parameters" : out;
}

/// `t` converted to `type`: same shape required; values must survive the
/// conversion unless the target is a float type.
ir::HostTensor conform(const ir::HostTensor &t, const ir::TensorType &type, const std::string &what,
                       const std::string &path) {
  if (t.shape() != type.shape)
    throw Error(ErrorKind::Usage, fmt::format("{}: '{}' holds shape {}, expected {}", what, path,
                                              t.shape().str(), type.shape.str()));
  if (t.dtype() == type.dtype)
    return t;
  ir::HostTensor out(type);
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.get(i);
    if (!ir::isFloat(type.dtype) && ir::convertTo(type.dtype, v) != v)
      throw Error(ErrorKind::Usage,
                  fmt::format("{}: element {} of '{}' ({} '{}') is {}, which {} cannot hold", what,
                              i, path, t.shape().str(), npyDescr(t.dtype()), v,
                              ir::dtypeName(type.dtype)));
    out.set(i, v);
  }
  return out;
}

bool isNpyPath(std::string_view value) {
  return value.size() > 4 && value.substr(value.size() - 4) == ".npy";
}

ir::HostTensor makeInput(const ir::Function &f, const Labels &labels, ir::ValueId param,
                         const InputArg &arg) {
  const ir::TensorType &type = f.type(param);
  std::string what = fmt::format("input %{} ({})", label(labels, param), type.str());
  if (isNpyPath(arg.value))
    return conform(readNpy(arg.value), type, what, arg.value);
  try {
    return parseTensorLiteral(arg.value, type, what);
  } catch (const Error &) {
    std::error_code ec;
    if (std::filesystem::exists(arg.value, ec))
      throw Error(ErrorKind::Usage,
                  fmt::format("{}: '{}' is neither a literal nor a .npy file (input files "
                              "must be .npy, with a name ending in .npy)",
                              what, arg.value));
    throw;
  }
}

} // namespace

std::vector<ir::HostTensor> bindInputs(const ir::Function &f, const std::vector<InputArg> &args) {
  Labels labels = valueLabels(f);
  std::map<std::string, const InputArg *, std::less<>> byName;
  for (const InputArg &arg : args)
    if (!byName.emplace(arg.name, &arg).second)
      throw Error(ErrorKind::Usage, fmt::format("input %{} is given more than once", arg.name));
  for (const InputArg &arg : args) {
    bool known = false;
    for (ir::ValueId p : f.params())
      known |= label(labels, p) == arg.name;
    if (!known)
      throw Error(ErrorKind::Usage, fmt::format("@{} has no parameter %{}; it takes {}", f.name(),
                                                arg.name, paramList(f, labels)));
  }
  std::string missing;
  int numMissing = 0;
  for (ir::ValueId p : f.params()) {
    if (byName.count(label(labels, p)))
      continue;
    missing +=
        fmt::format("{}%{}: {}", missing.empty() ? "" : ", ", label(labels, p), f.type(p).str());
    ++numMissing;
  }
  if (numMissing)
    throw Error(ErrorKind::Usage,
                fmt::format("missing input{} for @{}: {} (give each with --input NAME=VALUES)",
                            numMissing == 1 ? "" : "s", f.name(), missing));
  std::vector<ir::HostTensor> inputs;
  for (ir::ValueId p : f.params())
    inputs.push_back(makeInput(f, labels, p, *byName.find(label(labels, p))->second));
  return inputs;
}

} // namespace kiln::tool
