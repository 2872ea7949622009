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
#include "TensorImpl.h"
#include "kiln/Autograd.h"

#include <fmt/format.h>

namespace kiln {

using ir::OpKind;

namespace {

/// Checks that `self` may be updated in place with operands `others`, runs
/// `f` (the out-of-place computation) without recording, and stores its
/// result into `self`, whose shape it must have and whose dtype must be able
/// to hold it.
template <class F>
Tensor &updateInPlace(Tensor &self, std::string_view what, std::initializer_list<Tensor> others,
                      F &&f) {
  detail::checkInPlace(self, what);
  if (is_grad_enabled())
    for (const Tensor &o : others)
      if (o.defined() && o.requires_grad())
        throw Error(ErrorKind::Autograd,
                    fmt::format("{}: an in-place update with an operand that requires grad is "
                                "not supported; use the out-of-place op",
                                what));
  Tensor result;
  {
    NoGradGuard noGrad;
    result = f();
  }
  const ir::TensorType &type = self.impl()->type();
  if (!ir::canCast(result.dtype(), type.dtype))
    throw Error(ErrorKind::Shape,
                fmt::format("{}: the result type {} can't be cast to the desired output type {} "
                            "(as in PyTorch)",
                            what, ir::dtypeName(result.dtype()), ir::dtypeName(type.dtype)));
  {
    NoGradGuard noGrad;
    result = result.to(type.dtype);
  }
  const ir::TensorType &got = result.impl()->type();
  if (got != type)
    throw Error(ErrorKind::Shape,
                fmt::format("{}: the result {} does not fit in place into the tensor {}", what,
                            got.str(), type.str()));
  detail::assignInPlace(self, result);
  return self;
}

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
