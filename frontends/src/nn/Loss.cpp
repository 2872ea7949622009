//===- Loss.cpp - Loss functions from IR ops ------------------------------===//
#include "kiln/nn/Loss.h"

#include "../RecordedRegion.h"
#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <initializer_list>
#include <span>
#include <string>

namespace kiln::nn {

namespace {

std::string typeText(const Tensor &t) { return ir::TensorType{t.dtype(), t.shape()}.str(); }

void checkSameType(const char *loss, const Tensor &input, const Tensor &target) {
  if (input.shape() != target.shape() || input.dtype() != target.dtype())
    throw Error(ErrorKind::Shape, fmt::format("{}: input {} and target {} must have the same type",
                                              loss, typeText(input), typeText(target)));
}

/// A loss: its per-element losses, reduced as the loss's Reduction says.
/// With a reduction, the losses and their mean or sum are one recorded node
/// in lazy mode (RecordedRegion.h); each thread has its own, as a recording
/// is the thread's.
class ReducedLoss {
public:
  using Losses = Tensor (*)(std::span<const Tensor> operands);
  ReducedLoss(const std::string &name, Losses losses)
      : losses_(losses),
        mean_(name, [losses](std::span<const Tensor> o) { return losses(o).mean(); }),
        sum_(name, [losses](std::span<const Tensor> o) { return losses(o).sum(); }) {}

  Tensor operator()(std::initializer_list<Tensor> operands, Reduction reduction) {
    switch (reduction) {
    case Reduction::Mean:
      return mean_(operands);
    case Reduction::Sum:
      return sum_(operands);
    case Reduction::None:
      break;
    }
    return losses_(std::span<const Tensor>(operands.begin(), operands.size()));
  }

private:
  Losses losses_;
  detail::RecordedFunction mean_, sum_;
};

} // namespace

Tensor MSELoss::operator()(const Tensor &input, const Tensor &target) const {
  checkSameType("MSELoss", input, target);
  // The difference stays an op of its own: the gradient reads it.
  thread_local ReducedLoss squares("mse_loss",
                                   [](std::span<const Tensor> o) { return o[0] * o[0]; });
  return squares({input - target}, reduction_);
}

Tensor BCELoss::operator()(const Tensor &input, const Tensor &target) const {
  checkSameType("BCELoss", input, target);
  // One op with PyTorch's clamped logs and its gradient rule: composed of
  // log and a clamp, the gradient at p = 0 or 1 was 0 * inf = NaN.
  thread_local ReducedLoss losses("bce_loss", [](std::span<const Tensor> o) {
    return apply(ir::OpKind::BinaryCrossEntropy, {o[0], o[1]});
  });
  return losses({input, target}, reduction_);
}

Tensor CrossEntropyLoss::operator()(const Tensor &input, const Tensor &target) const {
  if (input.dim() != 2 || target.dim() != 1 || target.size(0) != input.size(0) ||
      target.dtype() != i64)
    throw Error(ErrorKind::Shape,
                fmt::format("CrossEntropyLoss: expects scores [N, C] and i64 labels [N], got {} "
                            "and {}",
                            typeText(input), typeText(target)));
  // one_hot stays an op of its own: it checks the labels when they are
  // known, which a capture on placeholders cannot. The gradient reads the
  // log-softmax computed inside the recorded node: the gradient region
  // computes it again in the step's IR, and the program's simplify pass
  // (CSE) makes the two one.
  thread_local ReducedLoss losses("cross_entropy", [](std::span<const Tensor> o) {
    return -(o[0].log_softmax(1) * o[1]).sum(1);
  });
  return losses({input, one_hot(target, input.size(1), input.dtype())}, reduction_);
}

} // namespace kiln::nn
