//===- ExactFormula.cpp - Which scalar formulas every backend computes alike -===//
#include "kiln/ir/OpDef.h"
#include "kiln/ir/ScalarBuilder.h"

#include <vector>

namespace kiln::ir {

namespace {

/// Computes nothing: follows dtypes through a formula and notes a call of a
/// C library function that is not correctly rounded, or of pow (which the
/// JIT computes exactly only for some exponents).
class ExactnessProbe final : public ScalarBuilder {
public:
  bool exact = true;

  SV constant(double, DType t) override { return {t}; }
  SV add(SV a, SV) override { return a; }
  SV sub(SV a, SV) override { return a; }
  SV mul(SV a, SV) override { return a; }
  SV div(SV a, SV) override { return a; }
  SV neg(SV a) override { return a; }
  SV max(SV a, SV) override { return a; }
  SV min(SV a, SV) override { return a; }
  SV maximum(SV a, SV) override { return a; }
  SV math(MathFn f, SV a) override {
    exact = exact && mathFnInfo(f).exact;
    return a;
  }
  SV pow(SV a, double) override {
    exact = false;
    return a;
  }
  SV cmp(Cmp, SV, SV) override { return {DType::Bool}; }
  SV select(SV, SV a, SV) override { return a; }
  SV cast(SV, DType to) override { return {to}; }
};

} // namespace

bool isExactFormula(const OpDef &def, const AttrList &attrs, std::span<const DType> operands,
                    DType result) {
  if (!def.scalar)
    return false;
  ExactnessProbe probe;
  std::vector<SV> args;
  for (DType t : operands)
    args.push_back({t});
  def.scalar(probe, args, attrs, result);
  return probe.exact;
}

} // namespace kiln::ir
