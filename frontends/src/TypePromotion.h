//===- TypePromotion.h - PyTorch's result_type (internal) -------*- C++ -*-===//
//
// The dtype an op computes in when its operands differ, by PyTorch's rules
// (c10's ResultTypeState): operands are ranked by category (bool < integer
// < float); tensors with dimensions decide within a category, a zero-dim
// tensor or a number only when it is of a higher category than they are,
// and then a number gives its category's default (i64, f32), a zero-dim
// tensor its own dtype.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Scalar.h"
#include "kiln/Tensor.h"

#include <optional>

namespace kiln::detail {

class ResultType {
public:
  ResultType &operator<<(const Tensor &t);
  ResultType &operator<<(const Scalar &s);
  /// The promoted dtype of every operand given so far (at least one).
  ir::DType dtype() const;

private:
  std::optional<ir::DType> dimensioned_, zeroDim_, number_;
};

/// The dtype of PyTorch's `a op b` for two tensors or a tensor and a number.
template <class A, class B> ir::DType resultType(const A &a, const B &b) {
  return (ResultType() << a << b).dtype();
}

} // namespace kiln::detail
