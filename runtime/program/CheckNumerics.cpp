//===- CheckNumerics.cpp - Finding the first op that makes NaN or Inf -----===//
#include "CheckNumerics.h"
#include "kiln/ir/Error.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <optional>

namespace kiln::runtime {

using namespace kiln::ir;

namespace {

/// The first NaN or Inf among `count` values of type T.
template <class T> std::optional<int64_t> firstNonFinite(const void *data, int64_t count) {
  const T *values = static_cast<const T *>(data);
  for (int64_t i = 0; i < count; ++i)
    if (!std::isfinite(values[i]))
      return i;
  return std::nullopt;
}

struct NonFinite {
  int64_t index;
  double value;
};

/// The first NaN or Inf of a tensor of type `t` at `data`; integer and bool
/// tensors have none.
std::optional<NonFinite> findNonFinite(const TensorType &t, const void *data) {
  std::optional<int64_t> i;
  if (t.dtype == DType::F32)
    i = firstNonFinite<float>(data, t.shape.numel());
  else if (t.dtype == DType::F64)
    i = firstNonFinite<double>(data, t.shape.numel());
  if (!i)
    return std::nullopt;
  double v = t.dtype == DType::F32 ? double(static_cast<const float *>(data)[*i])
                                   : static_cast<const double *>(data)[*i];
  return NonFinite{*i, v};
}

/// The name of the value that the op `op` at `loc` defines in `source`, or "".
std::string sourceName(const Function &source, OpKind op, const Location &loc) {
  if (!loc.known())
    return "";
  for (const Node &n : source.nodes())
    if (n.op == op && n.loc.line == loc.line && n.loc.col == loc.col && !n.results.empty())
      return source.value(n.result()).name;
  return "";
}

std::string describe(double v) { return std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"; }

/// "%name: f32[3]", or just the type when the value has no name.
std::string valueLabel(const std::string &name, const TensorType &t) {
  return name.empty() ? t.str() : fmt::format("%{}: {}", name, t.str());
}

[[noreturn]] void report(const Node &n, const std::string &name, const TensorType &t,
                         const NonFinite &bad, const std::string &kernel, const Location &loc) {
  std::string in = kernel.empty() ? "" : fmt::format(" (in kernel {})", kernel);
  throw Error(ErrorKind::Runtime,
              fmt::format("{} produced {} at element {} of {}{}: the first non-finite value "
                          "of the run",
                          opName(n.op), describe(bad.value), bad.index, valueLabel(name, t), in),
              loc);
}

/// Replays the body of the fused node `n` op by op with reference kernels
/// and reports the first op whose result is not finite. Returns when the
/// reference finds none (the compiled kernel and the reference disagree).
void locateInBody(const Function &source, const Function &fn, const Node &n,
                  const std::vector<HostTensor> &operands) {
  const Function &body = *n.body;
  if (operands.size() != body.params().size())
    return;
  std::vector<HostTensor> values(body.numValues());
  for (size_t i = 0; i < operands.size(); ++i)
    values[size_t(body.params()[i].id)] = operands[i];
  for (const Node &m : body.nodes()) {
    if (m.results.size() != 1)
      return;
    std::vector<const HostTensor *> in;
    for (ValueId v : m.operands)
      in.push_back(&values[size_t(v.id)]);
    HostTensor out(body.type(m.result()));
    evalNode(m, in, out);
    if (auto bad = findNonFinite(out.type(), out.raw())) {
      // Otherwise a body result carries the name of the kernel's result.
      std::string name = sourceName(source, m.op, m.loc);
      for (size_t j = 0; j < body.results().size() && name.empty(); ++j)
        if (body.results()[j] == m.result() && j < n.results.size())
          name = fn.value(n.results[j]).name;
      report(m, name, out.type(), *bad, body.name(), m.loc.known() ? m.loc : n.loc);
    }
    values[size_t(m.result().id)] = std::move(out);
  }
}

} // namespace

void checkInputNumerics(const Function &fn, const ValueAddress &address) {
  for (ValueId v : fn.params())
    if (std::optional<NonFinite> bad = findNonFinite(fn.type(v), address(v)))
      throw Error(ErrorKind::Runtime,
                  fmt::format("input {} holds {} at element {} before any op ran",
                              valueLabel(fn.value(v).name, fn.type(v)), describe(bad->value),
                              bad->index),
                  fn.loc.known() ? fn.loc.str() : "@" + fn.name());
}

std::vector<HostTensor> saveOperands(const Function &fn, const Node &n,
                                     const ValueAddress &address) {
  std::vector<HostTensor> saved;
  if (!n.body)
    return saved; // only fused kernels are replayed
  for (ValueId v : n.operands) {
    HostTensor t(fn.type(v));
    if (t.bytes())
      std::memcpy(t.raw(), address(v), t.bytes());
    saved.push_back(std::move(t));
  }
  return saved;
}

void checkNodeNumerics(const Function &source, const Function &fn, const Node &n,
                       const ValueAddress &address, const std::vector<HostTensor> &operands) {
  for (ValueId r : n.results) {
    std::optional<NonFinite> bad = findNonFinite(fn.type(r), address(r));
    if (!bad)
      continue;
    if (n.body)
      locateInBody(source, fn, n, operands);
    std::string name = n.body ? "" : sourceName(source, n.op, n.loc);
    report(n, name.empty() ? fn.value(r).name : name, fn.type(r), *bad, "", n.loc);
  }
}

} // namespace kiln::runtime
