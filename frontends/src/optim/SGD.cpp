//===- SGD.cpp - Stochastic gradient descent ------------------------------===//
#include "kiln/optim/SGD.h"

#include "../RecordedRegion.h"
#include "../TensorImpl.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <array>
#include <span>

namespace kiln::optim {

namespace {

/// The gradient with weight decay.
Tensor decayed(const Tensor &grad, const Tensor &p, const Tensor &weightDecay) {
  return grad + p * weightDecay;
}

/// The new value of a parameter from the operands (p, g[, weight_decay],
/// lr): p - decayed(g, p, weight_decay) * lr, or p - g * lr. (In the order
/// the ops first read them, so that the step's parameters are in the order
/// the ops alone would give them.)
Tensor descended(std::span<const Tensor> operands) {
  const Tensor &p = operands[0], &g = operands[1], &lr = operands.back();
  return p - (operands.size() > 3 ? decayed(g, p, operands[2]) : g) * lr;
}

} // namespace

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : Optimizer(std::move(params)), options_(options),
      descent_(std::make_shared<detail::RecordedRegion>("sgd", descended)),
      momentumBuffers_(this->params().size()) {
  if (options.lr < 0 || options.momentum < 0 || options.weight_decay < 0)
    throw Error(ErrorKind::Usage,
                fmt::format("SGD: lr ({}), momentum ({}) and weight_decay ({}) must be >= 0",
                            options.lr, options.momentum, options.weight_decay));
  if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
    throw Error(ErrorKind::Usage, "SGD: nesterov needs momentum > 0 and no dampening");
}

const Tensor &SGD::number(std::string_view name, double value, DType dtype) {
  auto [it, fresh] = numbers_.try_emplace({name, dtype});
  if (fresh) {
    it->second = scalar_tensor(value, dtype);
    it->second.set_name(std::string(name));
  }
  return it->second;
}

void SGD::set_lr(double lr) {
  if (lr < 0)
    throw Error(ErrorKind::Usage, fmt::format("SGD: lr ({}) must be >= 0", lr));
  options_.lr = lr;
  for (auto &[key, number] : numbers_)
    if (key.first == "lr")
      detail::assignInPlace(number, ir::HostTensor::scalar(lr, key.second));
}

/// The hyperparameters enter the step as named inputs (%lr, %momentum,
/// %weight_decay).
void SGD::update(size_t index, Tensor &param, const Tensor &grad) {
  DType dtype = param.dtype();
  // The descent itself is one recorded node per parameter (see
  // RecordedRegion.h), with the weight decay in it when there is no momentum.
  std::array<Tensor, 4> operands = {param, grad};
  size_t n = 2;
  if (options_.momentum == 0) {
    if (options_.weight_decay != 0)
      operands[n++] = number("weight_decay", options_.weight_decay, dtype);
  } else {
    Tensor g = options_.weight_decay != 0
                   ? decayed(grad, param, number("weight_decay", options_.weight_decay, dtype))
                   : grad;
    Tensor &buffer = momentumBuffers_[index];
    const Tensor &momentum = number("momentum", options_.momentum, dtype);
    if (!buffer.defined())
      buffer = g.clone();
    else
      buffer.mul_(momentum).add_(g, 1 - options_.dampening);
    operands[1] = options_.nesterov ? g + buffer * momentum : buffer;
  }
  operands[n++] = number("lr", options_.lr, dtype);
  descent_->assign(index, param, std::span<const Tensor>(operands.data(), n), "sub_");
}

} // namespace kiln::optim
