//===- InPlace.cpp - In-place updates (zero_, add_, sub_, ...) ------------===//
//
// In-place ops compute the out-of-place result with the same op-table
// kernels (and type promotion), convert it to the tensor's dtype when
// PyTorch's can_cast allows, then overwrite the tensor's values and bump its
// version, which lets backward() detect values that changed after they were
// recorded. In lazy mode the result is pending and written into the tensor's
// existing buffer at the next flush (detach()ed aliases share that buffer).
//
//===----------------------------------------------------------------------===//
#include "InPlace.h"

namespace kiln {

using ir::OpKind;

namespace {

using detail::updateInPlace;

bool isOne(const Scalar &s) { return s.isFloat() ? s.toDouble() == 1 : s.toInt() == 1; }

} // namespace

Tensor &Tensor::zero_() {
  return updateInPlace(*this, "zero_", {}, [&] {
    return kiln::broadcast_to(detail::constantLiteral(0, dtype()), shape().toVector());
  });
}

Tensor &Tensor::fill_(Scalar value) {
  return updateInPlace(*this, "fill_", {}, [&] {
    return kiln::broadcast_to(detail::literal(value, dtype()), shape().toVector());
  });
}

Tensor &Tensor::copy_(const Tensor &src) {
  return updateInPlace(*this, "copy_", {src},
                       [&] { return kiln::broadcast_to(src.to(dtype()), shape().toVector()); });
}

Tensor &Tensor::add_(const Tensor &other, Scalar alpha) {
  return updateInPlace(*this, "add_", {other},
                       [&] { return isOne(alpha) ? *this + other : *this + other * alpha; });
}
Tensor &Tensor::add_(Scalar other) {
  return updateInPlace(*this, "add_", {}, [&] { return *this + other; });
}
Tensor &Tensor::sub_(const Tensor &other, Scalar alpha) {
  return updateInPlace(*this, "sub_", {other},
                       [&] { return isOne(alpha) ? *this - other : *this - other * alpha; });
}
Tensor &Tensor::sub_(Scalar other) {
  return updateInPlace(*this, "sub_", {}, [&] { return *this - other; });
}
Tensor &Tensor::mul_(const Tensor &other) {
  return updateInPlace(*this, "mul_", {other}, [&] { return *this * other; });
}
Tensor &Tensor::mul_(Scalar other) {
  return updateInPlace(*this, "mul_", {}, [&] { return *this * other; });
}
Tensor &Tensor::div_(const Tensor &other) {
  return updateInPlace(*this, "div_", {other}, [&] { return *this / other; });
}
Tensor &Tensor::div_(Scalar other) {
  return updateInPlace(*this, "div_", {}, [&] { return *this / other; });
}

Tensor &operator+=(Tensor &a, const Tensor &b) { return a.add_(b); }
Tensor &operator+=(Tensor &a, Scalar b) { return a.add_(b); }
Tensor &operator-=(Tensor &a, const Tensor &b) { return a.sub_(b); }
Tensor &operator-=(Tensor &a, Scalar b) { return a.sub_(b); }
Tensor &operator*=(Tensor &a, const Tensor &b) { return a.mul_(b); }
Tensor &operator*=(Tensor &a, Scalar b) { return a.mul_(b); }
Tensor &operator/=(Tensor &a, const Tensor &b) { return a.div_(b); }
Tensor &operator/=(Tensor &a, Scalar b) { return a.div_(b); }

} // namespace kiln
