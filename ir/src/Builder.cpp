//===- Builder.cpp --------------------------------------------------------===//
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <algorithm>

namespace kiln::ir {

ValueId Builder::param(std::string name, TensorType type) {
  if (auto problem = type.shape.validate())
    throw Error(ErrorKind::Verify, *problem);
  return f_.addParam(std::move(type), std::move(name));
}

ValueId Builder::create(OpKind op, std::vector<ValueId> operands, AttrList attrs,
                        std::optional<TensorType> declared) {
  const OpDef &def = opDef(op);
  std::vector<TensorType> types;
  for (ValueId v : operands) {
    check(v.valid() && size_t(v.id) < f_.numValues(), "Builder: operand from another function");
    types.push_back(f_.type(v));
  }
  TensorType t = checkAndInfer(def, types, attrs, declared);
  size_t node = f_.appendNode(op, std::move(operands), std::move(attrs), {std::move(t)}, loc_);
  return f_.nodes()[node].result();
}

std::vector<ValueId> Builder::fused(FusionKind kind, std::vector<ValueId> operands,
                                    Function body) {
  if (operands.size() != body.params().size())
    throw Error(ErrorKind::Verify, fmt::format("'fused': @{} takes {} operands, got {}",
                                               body.name(), body.params().size(),
                                               operands.size()));
  for (size_t i = 0; i < operands.size(); ++i)
    if (f_.type(operands[i]) != body.type(body.params()[i]))
      throw Error(ErrorKind::Verify,
                  fmt::format("'fused': operand {} is {} but @{} expects {}", i,
                              f_.type(operands[i]).str(), body.name(),
                              body.type(body.params()[i]).str()));
  std::vector<TensorType> types;
  for (ValueId r : body.results())
    types.push_back(body.type(r));
  auto region = std::make_shared<const Function>(std::move(body));
  size_t k = f_.appendNode(OpKind::Fused, std::move(operands), {{"kind", kind}},
                           std::move(types), loc_, std::move(region));
  return f_.nodes()[k].results;
}

ValueId Builder::constant(HostTensor value) {
  TensorType t = value.type();
  return create(OpKind::Constant, {}, {{"value", std::move(value)}}, t);
}

ValueId Builder::scalar(double v, DType dtype) { return constant(HostTensor::scalar(v, dtype)); }

ValueId Builder::pow(ValueId a, double p) {
  return create(OpKind::Pow, {a}, {{"exponent", p}});
}

ValueId Builder::cast(ValueId a, DType to) {
  if (dtype(a) == to)
    return a;
  return create(OpKind::Cast, {a}, {}, TensorType{to, shape(a)});
}

ValueId Builder::transpose(ValueId a, IntList perm) {
  return create(OpKind::Transpose, {a}, {{"perm", std::move(perm)}});
}

ValueId Builder::transpose(ValueId a) {
  int r = shape(a).rank();
  check(r >= 2, "Builder::transpose of a value of rank < 2");
  IntList perm(static_cast<size_t>(r));
  for (int i = 0; i < r; ++i)
    perm[size_t(i)] = i;
  std::swap(perm[size_t(r - 2)], perm[size_t(r - 1)]);
  return transpose(a, std::move(perm));
}

ValueId Builder::reshape(ValueId a, Shape s) {
  if (shape(a) == s)
    return a;
  return create(OpKind::Reshape, {a}, {}, TensorType{dtype(a), std::move(s)});
}

ValueId Builder::broadcastTo(ValueId a, Shape s) {
  if (shape(a) == s)
    return a;
  return create(OpKind::BroadcastTo, {a}, {}, TensorType{dtype(a), std::move(s)});
}

ValueId Builder::reduceSum(ValueId a, IntList axes, bool keepdims) {
  return create(OpKind::ReduceSum, {a},
                {{"axes", normalizeAxes(axes, shape(a).rank(), "reduce_sum")},
                 {"keepdims", keepdims}});
}

ValueId Builder::reduceMean(ValueId a, IntList axes, bool keepdims) {
  return create(OpKind::ReduceMean, {a},
                {{"axes", normalizeAxes(axes, shape(a).rank(), "reduce_mean")},
                 {"keepdims", keepdims}});
}

ValueId Builder::unbroadcast(ValueId g, const Shape &to) {
  const Shape &from = shape(g);
  if (from == to)
    return g;
  if (!broadcastsTo(to, from))
    throw Error(ErrorKind::Verify, fmt::format("cannot reduce a gradient of shape {} to shape {}",
                                               from.str(), to.str()));
  // Sum the leading axes that broadcasting added and the axes where `to` is 1.
  IntList axes;
  int lead = from.rank() - to.rank();
  for (int i = 0; i < from.rank(); ++i)
    if (i < lead || (to[i - lead] == 1 && from[i] != 1))
      axes.push_back(i);
  ValueId summed = axes.empty() ? g : reduceSum(g, axes, /*keepdims=*/false);
  return reshape(summed, to);
}

IntList normalizeAxes(const IntList &axes, int rank, std::string_view opName) {
  IntList out;
  for (int64_t a : axes) {
    int64_t n = a < 0 ? a + rank : a;
    if (n < 0 || n >= rank)
      throw Error(ErrorKind::Verify,
                  fmt::format("'{}': axis {} is out of range for rank {}", opName, a, rank));
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw Error(ErrorKind::Verify, fmt::format("'{}': repeated axis", opName));
  return out;
}

} // namespace kiln::ir
