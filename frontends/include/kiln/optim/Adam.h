//===- Adam.h - Adam --------------------------------------------*- C++ -*-===//
#pragma once

#include "kiln/optim/Optimizer.h"

#include <cstdint>

namespace kiln::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
};

/// PyTorch 1.13's torch.optim.Adam (amsgrad off), the same formula:
///   g = grad + weight_decay * p;  t += 1
///   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
///   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
class Adam : public Optimizer {
public:
  /// Throws Error(Usage) for lr < 0, eps < 0, a beta outside [0, 1) or a
  /// negative weight decay.
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  Adam(std::vector<Tensor> params, double lr, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8, double weight_decay = 0)
      : Adam(std::move(params), AdamOptions{lr, beta1, beta2, eps, weight_decay}) {}

  const AdamOptions &options() const { return options_; }
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override;

protected:
  void update(size_t index, Tensor &param, const Tensor &grad) override;

private:
  struct State {
    int64_t step = 0;
    Tensor expAvg;   ///< m
    Tensor expAvgSq; ///< v
  };
  AdamOptions options_;
  std::vector<State> state_;
};

} // namespace kiln::optim
