//===- Evaluate.cpp - Reference evaluation of one node --------------------===//
//
// Elementwise ops have no hand-written reference kernel: their scalar
// expression is evaluated here element by element, with numpy broadcasting:
// floats in double, integers in int64 (exactly). Folds (reduce_sum ...)
// evaluate their ReductionDef here too. Other ops run their EvalFn.
//
//===----------------------------------------------------------------------===//
#include "OpHelpers.h"

#include <cmath>

namespace kiln::ir {
namespace {

/// An integer or bool scalar: exact bits, and the same value as a double.
SV integer(DType t, __int128 v) {
  int64_t bits = wrapInt(t, v);
  return {t, double(bits), bits};
}
SV floating(DType t, double v) { return {t, v}; }
bool isInt(const SV &v) { return !isFloat(v.dtype); }

/// Evaluates scalar expressions on numbers: floats in double (rounded to the
/// result dtype when stored), integers exactly and wrapping in two's
/// complement as PyTorch and the JIT (runtime/jit/LlvmScalarBuilder.cpp) do,
/// never through a double.
class NumberScalarBuilder final : public ScalarBuilder {
public:
  SV constant(double v, DType t) override {
    return isFloat(t) ? floating(t, v) : integer(t, convertToInt(t, v));
  }
  SV add(SV a, SV b) override {
    return isInt(a) ? integer(a.dtype, __int128(a.bits) + b.bits)
                    : floating(a.dtype, a.num + b.num);
  }
  SV sub(SV a, SV b) override {
    return isInt(a) ? integer(a.dtype, __int128(a.bits) - b.bits)
                    : floating(a.dtype, a.num - b.num);
  }
  SV mul(SV a, SV b) override {
    return isInt(a) ? integer(a.dtype, __int128(a.bits) * b.bits)
                    : floating(a.dtype, a.num * b.num);
  }
  SV div(SV a, SV b) override {
    if (!isInt(a))
      return floating(a.dtype, a.num / b.num);
    // Integer division truncates; dividing by zero gives 0 rather than a trap,
    // INT64_MIN / -1 wraps to INT64_MIN.
    return integer(a.dtype, b.bits == 0 ? 0 : __int128(a.bits) / b.bits);
  }
  SV neg(SV a) override {
    return isInt(a) ? integer(a.dtype, -__int128(a.bits)) : floating(a.dtype, -a.num);
  }
  SV max(SV a, SV b) override {
    if (isInt(a))
      return a.bits >= b.bits ? a : b;
    return floating(a.dtype, std::isnan(a.num) || a.num >= b.num ? a.num : b.num);
  }
  SV min(SV a, SV b) override {
    if (isInt(a))
      return a.bits <= b.bits ? a : b;
    return floating(a.dtype, std::isnan(a.num) || a.num <= b.num ? a.num : b.num);
  }
  SV maximum(SV a, SV b) override {
    if (isInt(a))
      return a.bits >= b.bits ? a : b;
    if (std::isnan(a.num) || std::isnan(b.num))
      return floating(a.dtype, std::nan(""));
    if (a.num == b.num) // +0 above -0
      return std::signbit(a.num) ? b : a;
    return a.num > b.num ? a : b;
  }
  SV math(MathFn f, SV a) override { return transcendental(a, evalMath(f, a.num)); }
  SV pow(SV a, double p) override { return transcendental(a, std::pow(a.num, p)); }
  SV cmp(Cmp c, SV a, SV b) override {
    bool r = isInt(a) ? compare(c, a.bits, b.bits) : compare(c, a.num, b.num);
    return integer(DType::Bool, r ? 1 : 0);
  }
  SV select(SV c, SV a, SV b) override { return c.bits != 0 ? a : b; }
  SV cast(SV a, DType to) override {
    if (isFloat(to)) {
      if (!isInt(a))
        return floating(to, to == DType::F32 ? double(float(a.num)) : a.num);
      return floating(to, to == DType::F32 ? double(float(a.bits)) : double(a.bits));
    }
    return isInt(a) ? integer(to, a.bits) : integer(to, convertToInt(to, a.num));
  }

private:
  static double evalMath(MathFn f, double x) {
    switch (f) {
#define KILN_MATH_FN(Enum, name, intrinsic, vectorized, exact)                                     \
  case MathFn::Enum:                                                                               \
    return std::name(x);
#include "kiln/ir/MathFunctions.def"
    }
    return std::nan("");
  }
  /// A transcendental function: defined on floats; on integers (no op
  /// allows it today) the result converted like a cast.
  static SV transcendental(SV a, double v) {
    return isInt(a) ? integer(a.dtype, convertToInt(a.dtype, v)) : floating(a.dtype, v);
  }
  template <class T> static bool compare(Cmp c, T a, T b) {
    switch (c) {
    case Cmp::Eq:
      return a == b;
    case Cmp::Ne:
      return a != b;
    case Cmp::Lt:
      return a < b;
    case Cmp::Le:
      return a <= b;
    case Cmp::Gt:
      return a > b;
    case Cmp::Ge:
      return a >= b;
    }
    return false;
  }
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
    for (size_t k = 0; k < operands.size(); ++k) {
      const HostTensor &t = *operands[k];
      int64_t at = index[k](i);
      args[k] =
          isFloat(t.dtype()) ? floating(t.dtype(), t.get(at)) : integer(t.dtype(), t.getInt(at));
    }
    SV r = def.scalar(b, args, node.attrs, result.dtype());
    if (isFloat(r.dtype))
      result.set(i, r.num);
    else
      result.setInt(i, r.bits);
  }
}

/// Folds each input element into its output element's accumulator, then
/// finishes each: floats in double, integers exactly in int64 (wrapping).
void evalReduction(const Node &node, const HostTensor &in, HostTensor &out) {
  const ReductionDef &r = *opDef(node.op).reduction;
  bool floats = isFloat(in.dtype());
  DType acc = floats ? DType::F64 : DType::I64;
  NumberScalarBuilder b;
  ops::ReduceIndex index(in.shape(), node.attrs.getInts("axes"));
  std::vector<SV> accs(size_t(out.numel()), b.constant(r.identity, acc));
  for (int64_t i = 0; i < in.numel(); ++i) {
    SV &a = accs[size_t(index(i))];
    a = r.combine(b, a, floats ? floating(acc, in.get(i)) : integer(acc, in.getInt(i)));
  }
  SV count = b.constant(out.numel() ? double(in.numel() / out.numel()) : 0, acc);
  for (int64_t o = 0; o < out.numel(); ++o) {
    SV v = r.finish ? r.finish(b, accs[size_t(o)], count) : accs[size_t(o)];
    if (floats)
      out.set(o, v.num);
    else
      out.setInt(o, v.bits);
  }
}

} // namespace

double evalScalar(const OpDef &def, std::span<const double> operands, const AttrList &attrs,
                  DType t) {
  check(def.scalar != nullptr, "evalScalar: the op has no scalar expression");
  NumberScalarBuilder b;
  std::vector<SV> args;
  for (double v : operands)
    args.push_back(isFloat(t) ? floating(t, v) : integer(t, convertToInt(t, v)));
  SV r = def.scalar(b, args, attrs, t);
  return isFloat(r.dtype) ? r.num : double(r.bits);
}

void evalNode(const Node &node, std::span<const HostTensor *const> operands, HostTensor &result) {
  const OpDef &def = opDef(node.op);
  check(!node.body, "evalNode: a fused node is evaluated through its body");
  if (def.eval)
    def.eval(node, operands, result);
  else if (def.reduction)
    evalReduction(node, *operands[0], result);
  else
    evalElementwise(node, operands, result);
}

} // namespace kiln::ir
