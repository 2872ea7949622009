//===- Adam.cpp - Adam ----------------------------------------------------===//
#include "kiln/optim/Adam.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <cmath>

namespace kiln::optim {

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Optimizer(std::move(params)), options_(options), state_(this->params().size()) {
  auto isBeta = [](double b) { return b >= 0 && b < 1; };
  if (options.lr < 0 || options.eps < 0 || options.weight_decay < 0 || !isBeta(options.beta1) ||
      !isBeta(options.beta2))
    throw Error(ErrorKind::Usage,
                fmt::format("Adam: invalid options lr={} betas=({}, {}) eps={} weight_decay={}",
                            options.lr, options.beta1, options.beta2, options.eps,
                            options.weight_decay));
}

void Adam::set_lr(double lr) {
  if (lr < 0)
    throw Error(ErrorKind::Usage, fmt::format("Adam: lr ({}) must be >= 0", lr));
  options_.lr = lr;
}

void Adam::update(size_t index, Tensor &param, const Tensor &grad) {
  State &s = state_[index];
  if (!s.expAvg.defined()) {
    s.expAvg = zeros_like(param);
    s.expAvgSq = zeros_like(param);
  }
  ++s.step;
  Tensor g = grad;
  if (options_.weight_decay != 0)
    g = g + param * options_.weight_decay;
  s.expAvg.mul_(options_.beta1).add_(g, 1 - options_.beta1);
  s.expAvgSq.mul_(options_.beta2).add_(g * g, 1 - options_.beta2);
  // The bias corrections are host numbers, as in PyTorch; numbers become
  // parameters of the step program, so a new step count does not recompile.
  double biasCorrection1 = 1 - std::pow(options_.beta1, double(s.step));
  double biasCorrection2 = 1 - std::pow(options_.beta2, double(s.step));
  double stepSize = options_.lr / biasCorrection1;
  Tensor denom = s.expAvgSq.sqrt() / std::sqrt(biasCorrection2) + options_.eps;
  param.sub_(s.expAvg / denom, stepSize);
}

} // namespace kiln::optim
