//===- Optimizer.cpp - The base of optimizers -----------------------------===//
#include "kiln/optim/Optimizer.h"

#include "kiln/Autograd.h"
#include "kiln/Step.h"
#include "kiln/ir/Error.h"

#include <fmt/format.h>

namespace kiln::optim {

Optimizer::Optimizer(std::vector<Tensor> params) : params_(std::move(params)) {
  if (params_.empty())
    throw Error(ErrorKind::Usage, "optimizer got an empty parameter list");
  for (size_t i = 0; i < params_.size(); ++i)
    if (!params_[i].defined() || !params_[i].requires_grad())
      throw Error(ErrorKind::Usage, fmt::format("optimizer parameter {} does not require grad", i));
}

void Optimizer::zero_grad(bool set_to_none) {
  for (Tensor &p : params_)
    p.zero_grad(set_to_none);
}

void Optimizer::updateAll() {
  NoGradGuard noGrad;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor grad = params_[i].grad();
    if (grad.defined())
      update(i, params_[i], grad);
  }
}

void Optimizer::step() {
  updateAll();
  ++steps_;
  sync(); // the step boundary: forward, backward and this update run as one program
}

} // namespace kiln::optim
