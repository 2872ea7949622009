//===- Optimizer.h - The base of optimizers ---------------------*- C++ -*-===//
//
// An optimizer updates parameters in place from their gradients. Updates are
// ordinary in-place tensor ops under NoGradGuard, so in lazy mode they are
// recorded into the same step program as the forward and backward; step()
// ends with kiln::sync(), the step boundary that runs it.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Tensor.h"

#include <cstdint>
#include <vector>

namespace kiln::optim {

class Optimizer {
public:
  /// Throws Error(Usage) for an empty list or a parameter that does not
  /// require grad.
  explicit Optimizer(std::vector<Tensor> params);
  virtual ~Optimizer() = default;

  /// Clears (set_to_none, the default as in PyTorch 2) or zeroes every
  /// parameter's gradient.
  void zero_grad(bool set_to_none = true);
  /// One update of every parameter that has a gradient, then kiln::sync().
  void step();

  const std::vector<Tensor> &params() const { return params_; }
  /// The learning rate, and a new one for the following steps (what a
  /// schedule sets; a compiled step replayed after it uses the new one).
  /// set_lr throws Error(Usage) for a negative rate.
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  /// Updates run so far.
  int64_t steps() const { return steps_; }

protected:
  /// Updates `params()[index]` from `grad` (defined). Runs under NoGradGuard.
  virtual void update(size_t index, Tensor &param, const Tensor &grad) = 0;
  /// What step() does before its kiln::sync(): update() of every parameter
  /// that has a gradient, under NoGradGuard.
  void updateAll();

private:
  std::vector<Tensor> params_;
  int64_t steps_ = 0;
};

} // namespace kiln::optim
