//===- Autodiff.cpp - Reverse-mode differentiation of IR ------------------===//
#include "kiln/compiler/Autodiff.h"
#include "kiln/compiler/DeadCode.h"
#include "kiln/compiler/Rebuild.h"
#include "kiln/compiler/Simplify.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <map>

namespace kiln::compiler {

using namespace kiln::ir;

namespace {

std::string describe(const Function &f, ValueId v) {
  const std::string &name = f.value(v).name;
  return name.empty() ? fmt::format("value #{} ({})", v.id, f.type(v).str())
                      : fmt::format("%{} ({})", name, f.type(v).str());
}

/// The values that lie on a path from some wrt value to the output: only
/// their gradients are ever computed.
std::vector<bool> valuesOnPath(const Function &f, ValueId output, std::span<const ValueId> wrt) {
  std::vector<bool> fromWrt(f.numValues(), false), toOutput(f.numValues(), false);
  for (ValueId v : wrt)
    fromWrt[size_t(v.id)] = true;
  for (const Node &n : f.nodes())
    for (ValueId v : n.operands)
      if (fromWrt[size_t(v.id)])
        for (ValueId r : n.results)
          fromWrt[size_t(r.id)] = true;
  toOutput[size_t(output.id)] = true;
  for (size_t i = f.nodes().size(); i-- > 0;) {
    const Node &n = f.nodes()[i];
    bool reaches = false;
    for (ValueId r : n.results)
      reaches = reaches || toOutput[size_t(r.id)];
    if (reaches)
      for (ValueId v : n.operands)
        toOutput[size_t(v.id)] = true;
  }
  std::vector<bool> onPath(f.numValues());
  for (size_t i = 0; i < onPath.size(); ++i)
    onPath[i] = fromWrt[i] && toOutput[i];
  return onPath;
}

void checkRequest(const Function &f, ValueId output, std::span<const ValueId> wrt,
                  const GradientOptions &options) {
  auto validValue = [&](ValueId v) { return v.valid() && size_t(v.id) < f.numValues(); };
  if (!validValue(output))
    throw Error(ErrorKind::Autograd, "differentiate: the output is not a value of the function");
  const TensorType &t = f.type(output);
  if (!isFloat(t.dtype))
    throw Error(ErrorKind::Autograd,
                fmt::format("cannot differentiate {}: only float values have gradients",
                            describe(f, output)));
  if (!options.seedParam && t.shape.numel() != 1)
    throw Error(ErrorKind::Autograd,
                fmt::format("grad can be implicitly created only for scalar outputs, and {} "
                            "is not a scalar",
                            describe(f, output)));
  for (ValueId v : wrt) {
    if (!validValue(v))
      throw Error(ErrorKind::Autograd, "differentiate: a wrt value is not a value of the function");
    if (!isFloat(f.type(v).dtype))
      throw Error(ErrorKind::Autograd,
                  fmt::format("cannot differentiate with respect to {}: not a float value",
                              describe(f, v)));
  }
}

/// Reverse sweep state: the adjoint (d output / d value) of each value reached.
class ReverseSweep {
public:
  ReverseSweep(const Function &forward, Builder &b, std::vector<bool> onPath)
      : f_(forward), b_(b), onPath_(std::move(onPath)) {}

  void seed(ValueId v, ValueId g) { adjoint_[v.id] = g; }
  std::optional<ValueId> adjoint(ValueId v) const {
    auto it = adjoint_.find(v.id);
    return it == adjoint_.end() ? std::nullopt : std::optional(it->second);
  }

  void run() {
    for (size_t i = f_.nodes().size(); i-- > 0;)
      visit(f_.nodes()[i]);
  }

private:
  void visit(const Node &n) {
    auto g = adjoint(n.result());
    if (!g)
      return;
    std::vector<bool> wanted(n.operands.size());
    bool any = false;
    for (size_t i = 0; i < n.operands.size(); ++i) {
      ValueId v = n.operands[i];
      wanted[i] = onPath_[size_t(v.id)] && isFloat(f_.type(v).dtype);
      any = any || wanted[i];
    }
    if (!any)
      return;
    const OpDef &def = opDef(n.op);
    if (!def.grad)
      throw Error(ErrorKind::Autograd,
                  fmt::format("'{}' has no gradient rule, but the gradient of {} flows through "
                              "it",
                              def.name, describe(f_, n.result())),
                  n.loc);
    std::unique_ptr<bool[]> wantedFlags(new bool[wanted.size()]);
    for (size_t i = 0; i < wanted.size(); ++i)
      wantedFlags[i] = wanted[i];
    GradContext cx{b_, n, *g, std::span<const bool>(wantedFlags.get(), wanted.size()),
                   std::vector<std::optional<ValueId>>(n.operands.size())};
    def.grad(cx);
    for (size_t i = 0; i < n.operands.size(); ++i)
      if (cx.grads[i])
        accumulate(n.operands[i], *cx.grads[i]);
  }

  /// Adds a contribution, reduced to the value's shape and dtype (fan-in sums).
  void accumulate(ValueId v, ValueId g) {
    const TensorType &t = f_.type(v);
    g = b_.cast(b_.unbroadcast(g, t.shape), t.dtype);
    auto it = adjoint_.find(v.id);
    if (it == adjoint_.end())
      adjoint_[v.id] = g;
    else
      it->second = b_.add(it->second, g);
  }

  const Function &f_;
  Builder &b_;
  std::vector<bool> onPath_;
  std::map<int32_t, ValueId> adjoint_;
};

ValueId zerosOf(Builder &b, const TensorType &t) {
  return b.broadcastTo(b.scalar(0, t.dtype), t.shape);
}

} // namespace

GradientFunction differentiate(const Function &f, ValueId output, std::span<const ValueId> wrt,
                               const GradientOptions &options) {
  checkRequest(f, output, wrt, options);
  const TensorType &outType = f.type(output);

  GradientFunction result;
  Function &g = result.fn;
  g = f; // the joint function starts as the forward one; value ids carry over
  g.setName(f.name() + "_grad");
  Builder b(g);
  b.setLoc({});

  ValueId seed = options.seedParam ? g.addParam(outType, "grad_output")
                                   : b.reshape(b.scalar(1, outType.dtype), outType.shape);
  ReverseSweep sweep(f, b, valuesOnPath(f, output, wrt));
  sweep.seed(output, seed);
  sweep.run();

  std::vector<ValueId> results;
  if (options.keepForwardResults)
    results = f.results();
  for (ValueId v : wrt) {
    auto adj = sweep.adjoint(v);
    result.hasGradient.push_back(adj.has_value());
    ValueId grad = adj ? *adj : zerosOf(b, f.type(v));
    ValueInfo &info = g.value(grad);
    if (info.name.empty() && !g.isParam(grad) && !f.value(v).name.empty())
      info.name = f.value(v).name + "_grad";
    results.push_back(grad);
  }
  g.setResults(std::move(results));
  g.resultLocs.clear();
  std::vector<ValueId> map;
  g = eliminateDeadCodeMapping(g, map);
  if (options.simplify) {
    std::vector<ValueId> simplified;
    g = simplifyMapping(g, simplified);
    composeMapping(map, simplified);
  }
  // The joint function began as a copy of f: f's values kept their ids.
  // Where simplify merged two forward values, either one will do.
  result.forwardValues.assign(g.numValues(), ValueId{});
  for (size_t v = 0; v < f.numValues(); ++v)
    if (map[v].valid())
      result.forwardValues[size_t(map[v].id)] = ValueId{int32_t(v)};
  return result;
}

} // namespace kiln::compiler
