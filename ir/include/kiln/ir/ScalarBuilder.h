//===- ScalarBuilder.h - One scalar formula, many evaluators ----*- C++ -*-===//
//
// Elementwise ops describe their math once, as a function over this
// interface. The reference interpreter evaluates it on doubles; the JIT
// emits LLVM IR from the same function. So an elementwise op's semantics
// live in exactly one place.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/DType.h"

#include <cstdint>
#include <span>
#include <string_view>

namespace kiln::ir {

/// An opaque scalar: the evaluator that made it decides which fields it uses
/// (for the interpreter a double for floats and an exact int64 for integers
/// and bool, which double cannot hold past 2^53; an llvm::Value* for the JIT).
struct SV {
  DType dtype = DType::F32;
  double num = 0;
  int64_t bits = 0;
  void *handle = nullptr;
};

/// A C library function of one float (MathFunctions.def).
enum class MathFn {
#define KILN_MATH_FN(Enum, name, intrinsic, vectorized, exact) Enum,
#include "kiln/ir/MathFunctions.def"
};

/// How each evaluator computes a MathFn; see MathFunctions.def.
struct MathFnInfo {
  MathFn fn;
  std::string_view name; ///< the C library's name of the double version
  bool intrinsic;        ///< the JIT emits llvm.<name>
  bool vectorized;       ///< libmvec has vector variants
  bool exact;            ///< correctly rounded
};
inline constexpr MathFnInfo kMathFns[] = {
#define KILN_MATH_FN(Enum, name, intrinsic, vectorized, exact)                                     \
  {MathFn::Enum, #name, intrinsic, vectorized, exact},
#include "kiln/ir/MathFunctions.def"
};
inline constexpr const MathFnInfo &mathFnInfo(MathFn f) { return kMathFns[int(f)]; }

class ScalarBuilder {
public:
  virtual ~ScalarBuilder() = default;
  virtual SV constant(double v, DType t) = 0;
  virtual SV add(SV a, SV b) = 0;
  virtual SV sub(SV a, SV b) = 0;
  virtual SV mul(SV a, SV b) = 0;
  virtual SV div(SV a, SV b) = 0;
  virtual SV neg(SV a) = 0;
  /// PyTorch's maximum/minimum: a NaN wins, and on a tie the first operand.
  virtual SV max(SV a, SV b) = 0;
  virtual SV min(SV a, SV b) = 0;
  /// IEEE 754-2019 maximum: NaN when either is NaN, +0 above -0; the
  /// combine of reduce_max, which every backend can then vectorize
  /// (llvm.maximum) without the tie rule of max.
  virtual SV maximum(SV a, SV b) = 0;
  /// A float function of the C library; b.exp(a) etc. below are shorthands.
  virtual SV math(MathFn f, SV a) = 0;
#define KILN_MATH_FN(Enum, name, intrinsic, vectorized, exact)                                     \
  SV name(SV a) { return math(MathFn::Enum, a); }
#include "kiln/ir/MathFunctions.def"
  /// a ** p for a compile-time exponent.
  virtual SV pow(SV a, double p) = 0;
  enum class Cmp { Eq, Ne, Lt, Le, Gt, Ge };
  /// Returns a bool scalar.
  virtual SV cmp(Cmp c, SV a, SV b) = 0;
  virtual SV select(SV cond, SV a, SV b) = 0;
  /// Conversion with C semantics (float->int truncates, x->bool is x != 0).
  virtual SV cast(SV a, DType to) = 0;

  SV constantLike(double v, SV like) { return constant(v, like.dtype); }
};

/// The scalar expression of an elementwise op: operands in, result out.
/// `attrs` gives the op's attributes (e.g. pow's exponent); `resultType` its dtype.
class AttrList;
using ScalarFn = SV (*)(ScalarBuilder &b, std::span<const SV> args, const AttrList &attrs,
                        DType resultType);

} // namespace kiln::ir
