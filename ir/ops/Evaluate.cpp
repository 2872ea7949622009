//===- Evaluate.cpp - Reference evaluation of one node --------------------===//
//
// Elementwise ops have no hand-written reference kernel: their scalar
// expression is evaluated here in double, element by element, with numpy
// broadcasting. Other ops run their EvalFn.
//
//===----------------------------------------------------------------------===//
#include "OpHelpers.h"

#include <cmath>

namespace kiln::ir {
namespace {

/// Evaluates scalar expressions on numbers. Results are exact in double and
/// rounded to the result dtype when stored.
class NumberScalarBuilder final : public ScalarBuilder {
public:
  SV constant(double v, DType t) override { return {t, v}; }
  SV add(SV a, SV b) override { return {a.dtype, a.num + b.num}; }
  SV sub(SV a, SV b) override { return {a.dtype, a.num - b.num}; }
  SV mul(SV a, SV b) override { return {a.dtype, a.num * b.num}; }
  SV div(SV a, SV b) override {
    if (isFloat(a.dtype))
      return {a.dtype, a.num / b.num};
    // Integer division truncates; dividing by zero gives 0 rather than a trap.
    return {a.dtype, b.num == 0 ? 0 : std::trunc(a.num / b.num)};
  }
  SV neg(SV a) override { return {a.dtype, -a.num}; }
  SV max(SV a, SV b) override { return {a.dtype, std::isnan(a.num) || a.num >= b.num ? a.num : b.num}; }
  SV min(SV a, SV b) override { return {a.dtype, std::isnan(a.num) || a.num <= b.num ? a.num : b.num}; }
  SV exp(SV a) override { return {a.dtype, std::exp(a.num)}; }
  SV log(SV a) override { return {a.dtype, std::log(a.num)}; }
  SV sqrt(SV a) override { return {a.dtype, std::sqrt(a.num)}; }
  SV tanh(SV a) override { return {a.dtype, std::tanh(a.num)}; }
  SV pow(SV a, double p) override { return {a.dtype, std::pow(a.num, p)}; }
  SV cmp(Cmp c, SV a, SV b) override {
    bool r = false;
    switch (c) {
    case Cmp::Eq: r = a.num == b.num; break;
    case Cmp::Ne: r = a.num != b.num; break;
    case Cmp::Lt: r = a.num < b.num; break;
    case Cmp::Le: r = a.num <= b.num; break;
    case Cmp::Gt: r = a.num > b.num; break;
    case Cmp::Ge: r = a.num >= b.num; break;
    }
    return {DType::Bool, r ? 1.0 : 0.0};
  }
  SV select(SV c, SV a, SV b) override { return c.num != 0 ? a : b; }
  SV cast(SV a, DType to) override { return {to, convertTo(to, a.num)}; }
};

void evalElementwise(const Node &node, std::span<const HostTensor *const> operands,
                     HostTensor &result) {
  const OpDef &def = opDef(node.op);
  std::vector<ops::BroadcastIndex> index;
  for (const HostTensor *t : operands)
    index.emplace_back(t->shape(), result.shape());
  NumberScalarBuilder b;
  std::vector<SV> args(operands.size());
  for (int64_t i = 0; i < result.numel(); ++i) {
    for (size_t k = 0; k < operands.size(); ++k)
      args[k] = SV{operands[k]->dtype(), operands[k]->get(index[k](i))};
    result.set(i, def.scalar(b, args, node.attrs, result.dtype()).num);
  }
}

} // namespace

void evalNode(const Node &node, std::span<const HostTensor *const> operands,
              HostTensor &result) {
  const OpDef &def = opDef(node.op);
  check(!node.body, "evalNode: a fused node is evaluated through its body");
  if (def.eval)
    def.eval(node, operands, result);
  else
    evalElementwise(node, operands, result);
}

} // namespace kiln::ir
