//===- SGD.h - Stochastic gradient descent ----------------------*- C++ -*-===//
#pragma once

#include "kiln/optim/Optimizer.h"

#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace kiln::detail {
class RecordedRegion;
}

namespace kiln::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

/// PyTorch's torch.optim.SGD, the same formula:
///   g = grad + weight_decay * p
///   b = momentum ? (first step ? g : momentum * b + (1 - dampening) * g) : g
///   g = nesterov ? g + momentum * b : b
///   p -= lr * g
class SGD : public Optimizer {
public:
  /// Throws Error(Usage) for a negative lr, momentum or weight decay, or
  /// nesterov without momentum or with dampening.
  SGD(std::vector<Tensor> params, SGDOptions options);
  SGD(std::vector<Tensor> params, double lr, double momentum = 0, double weight_decay = 0)
      : SGD(std::move(params),
            SGDOptions{.lr = lr, .momentum = momentum, .weight_decay = weight_decay}) {}

  const SGDOptions &options() const { return options_; }
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override;

protected:
  void update(size_t index, Tensor &param, const Tensor &grad) override;

private:
  /// The hyperparameter `name` as a named rank-0 tensor of `dtype` (%lr in
  /// step IR), made once and shared by every parameter and step: a tensor,
  /// not a number, so that a replayed compiled step re-reads it.
  const Tensor &number(std::string_view name, double value, DType dtype);

  SGDOptions options_;
  /// The descent, p -= lr * g (with the weight decay, without momentum), one
  /// recorded node per parameter.
  std::shared_ptr<detail::RecordedRegion> descent_;
  std::vector<Tensor> momentumBuffers_;
  std::map<std::pair<std::string_view, DType>, Tensor> numbers_;
};

} // namespace kiln::optim
