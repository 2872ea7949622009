//===- SGD.cpp - Stochastic gradient descent ------------------------------===//
#include "kiln/optim/SGD.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

namespace kiln::optim {

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : Optimizer(std::move(params)), options_(options), momentumBuffers_(this->params().size()) {
  if (options.lr < 0 || options.momentum < 0 || options.weight_decay < 0)
    throw Error(ErrorKind::Usage,
                fmt::format("SGD: lr ({}), momentum ({}) and weight_decay ({}) must be >= 0",
                            options.lr, options.momentum, options.weight_decay));
  if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
    throw Error(ErrorKind::Usage, "SGD: nesterov needs momentum > 0 and no dampening");
}

void SGD::update(size_t index, Tensor &param, const Tensor &grad) {
  Tensor g = grad;
  if (options_.weight_decay != 0)
    g = g + param * options_.weight_decay;
  if (options_.momentum != 0) {
    Tensor &buffer = momentumBuffers_[index];
    if (!buffer.defined())
      buffer = g.clone();
    else
      buffer.mul_(options_.momentum).add_(g, 1 - options_.dampening);
    g = options_.nesterov ? g + buffer * options_.momentum : buffer;
  }
  param.sub_(g, options_.lr);
}

} // namespace kiln::optim
