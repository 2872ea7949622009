//===- Builder.h - Checked construction of IR -------------------*- C++ -*-===//
//
// Builder appends nodes to a Function, inferring and checking each result
// type with the op's shape rule as it goes, so a mistake surfaces where it
// is made, naming the op and the shapes.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <optional>

namespace kiln::ir {

class Builder {
public:
  explicit Builder(Function &f) : f_(f) {}

  Function &function() { return f_; }
  const TensorType &type(ValueId v) const { return f_.type(v); }
  const Shape &shape(ValueId v) const { return f_.type(v).shape; }
  DType dtype(ValueId v) const { return f_.type(v).dtype; }

  /// Location given to the nodes created from now on.
  void setLoc(Location loc) { loc_ = std::move(loc); }

  ValueId param(std::string name, TensorType type);
  /// A `fused` node of `kind` computing `body` on `operands` (whose types
  /// must be the body's parameter types); returns one value per body result.
  std::vector<ValueId> fused(FusionKind kind, std::vector<ValueId> operands, Function body);
  /// Creates a node of `op`. `declared` is the result type for ops whose
  /// result type is not derived from operands (reshape, cast, constant...).
  /// Throws Error(Verify) when the operands do not fit the op.
  ValueId create(OpKind op, std::vector<ValueId> operands, AttrList attrs = {},
                 std::optional<TensorType> declared = std::nullopt);

  // Sugar for the ops that gradient rules and frontends use most.
  ValueId constant(HostTensor value);
  /// A rank-0 constant of the given dtype; broadcasts in binary ops.
  ValueId scalar(double v, DType dtype = DType::F32);
  ValueId add(ValueId a, ValueId b) { return create(OpKind::Add, {a, b}); }
  ValueId sub(ValueId a, ValueId b) { return create(OpKind::Sub, {a, b}); }
  ValueId mul(ValueId a, ValueId b) { return create(OpKind::Mul, {a, b}); }
  ValueId div(ValueId a, ValueId b) { return create(OpKind::Div, {a, b}); }
  ValueId neg(ValueId a) { return create(OpKind::Neg, {a}); }
  ValueId exp(ValueId a) { return create(OpKind::Exp, {a}); }
  ValueId pow(ValueId a, double p);
  ValueId select(ValueId c, ValueId a, ValueId b) { return create(OpKind::Select, {c, a, b}); }
  ValueId cast(ValueId a, DType to);
  ValueId matmul(ValueId a, ValueId b) { return create(OpKind::Matmul, {a, b}); }
  ValueId transpose(ValueId a, IntList perm);
  /// Swaps the last two axes.
  ValueId transpose(ValueId a);
  ValueId reshape(ValueId a, Shape s);
  ValueId broadcastTo(ValueId a, Shape s);
  ValueId reduceSum(ValueId a, IntList axes, bool keepdims = false);
  ValueId reduceMean(ValueId a, IntList axes, bool keepdims = false);
  /// Sums `g` down to `to`, undoing numpy broadcasting (the gradient of an
  /// implicit broadcast). Returns g itself when shapes already match.
  ValueId unbroadcast(ValueId g, const Shape &to);

private:
  Function &f_;
  Location loc_;
};

/// Normalises possibly-negative axes against `rank`, sorted and unique;
/// throws Error(Verify) on an out-of-range or repeated axis.
IntList normalizeAxes(const IntList &axes, int rank, std::string_view opName);

} // namespace kiln::ir
