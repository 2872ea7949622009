//===- InPlace.h - The common path of in-place updates (internal) -*- C++ -*-===//
//
// In-place ops compute the out-of-place result with the same op-table
// kernels (and type promotion), convert it to the tensor's dtype when
// PyTorch's can_cast allows, then overwrite the tensor's values and bump its
// version (see InPlace.cpp). Shared with RecordedRegion, whose per-op path
// is this one.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "TensorImpl.h"
#include "kiln/Autograd.h"

#include <fmt/format.h>

#include <initializer_list>
#include <span>
#include <string_view>
#include <utility>

namespace kiln::detail {

/// Checks that `self` may be updated in place with operands `others`, runs
/// `f` (the out-of-place computation) without recording, and stores its
/// result into `self`, whose shape it must have and whose dtype must be able
/// to hold it.
template <class F>
Tensor &updateInPlace(Tensor &self, std::string_view what, std::span<const Tensor> others, F &&f) {
  checkInPlace(self, what);
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
  assignInPlace(self, result);
  return self;
}
template <class F>
Tensor &updateInPlace(Tensor &self, std::string_view what, std::initializer_list<Tensor> others,
                      F &&f) {
  return updateInPlace(self, what, std::span<const Tensor>(others.begin(), others.size()),
                       std::forward<F>(f));
}

} // namespace kiln::detail
