//===- Loss.cpp - Loss functions from IR ops ------------------------------===//
#include "kiln/nn/Loss.h"

#include "../RecordedRegion.h"
#include "kiln/ir/Error.h"

#include <fmt/format.h>

namespace kiln::nn {

namespace {

std::string typeText(const Tensor &t) { return ir::TensorType{t.dtype(), t.shape()}.str(); }

void checkSameType(const char *loss, const Tensor &input, const Tensor &target) {
  if (input.shape() != target.shape() || input.dtype() != target.dtype())
    throw Error(ErrorKind::Shape, fmt::format("{}: input {} and target {} must have the same type",
                                              loss, typeText(input), typeText(target)));
}

Tensor reduce(const Tensor &losses, Reduction reduction) {
  switch (reduction) {
  case Reduction::Mean:
    return losses.mean();
  case Reduction::Sum:
    return losses.sum();
  case Reduction::None:
    return losses;
  }
  return losses;
}

} // namespace

Tensor MSELoss::operator()(const Tensor &input, const Tensor &target) const {
  checkSameType("MSELoss", input, target);
  Tensor diff = input - target;
  if (reduction_ == Reduction::None)
    return diff * diff;
  // The square and its reduction as one recorded node (RecordedRegion.h);
  // the difference stays an op of its own, as the gradient reads it.
  thread_local detail::RecordedFunction squaredMean(
      "mse_loss", [](std::span<const Tensor> o) { return (o[0] * o[0]).mean(); });
  thread_local detail::RecordedFunction squaredSum(
      "mse_loss", [](std::span<const Tensor> o) { return (o[0] * o[0]).sum(); });
  return reduction_ == Reduction::Mean ? squaredMean({diff}) : squaredSum({diff});
}

Tensor BCELoss::operator()(const Tensor &input, const Tensor &target) const {
  checkSameType("BCELoss", input, target);
  // One op with PyTorch's clamped logs and its gradient rule: composed of
  // log and a clamp, the gradient at p = 0 or 1 was 0 * inf = NaN.
  return reduce(apply(ir::OpKind::BinaryCrossEntropy, {input, target}), reduction_);
}

Tensor CrossEntropyLoss::operator()(const Tensor &input, const Tensor &target) const {
  if (input.dim() != 2 || target.dim() != 1 || target.size(0) != input.size(0) ||
      target.dtype() != i64)
    throw Error(ErrorKind::Shape,
                fmt::format("CrossEntropyLoss: expects scores [N, C] and i64 labels [N], got {} "
                            "and {}",
                            typeText(input), typeText(target)));
  // one_hot stays an op of its own: it checks the labels when they are known.
  Tensor picked = one_hot(target, input.size(1), input.dtype());
  if (reduction_ == Reduction::None)
    return -(input.log_softmax(1) * picked).sum(1);
  // The rest as one recorded node (RecordedRegion.h). Its gradient reads
  // the log-softmax computed inside: the gradient region computes it again
  // in the step's IR, and the program's simplify pass (CSE) makes it one.
  thread_local detail::RecordedFunction mean("cross_entropy", [](std::span<const Tensor> o) {
    return (-(o[0].log_softmax(1) * o[1]).sum(1)).mean();
  });
  thread_local detail::RecordedFunction sum("cross_entropy", [](std::span<const Tensor> o) {
    return (-(o[0].log_softmax(1) * o[1]).sum(1)).sum();
  });
  return reduction_ == Reduction::Mean ? mean({input, picked}) : sum({input, picked});
}

} // namespace kiln::nn
