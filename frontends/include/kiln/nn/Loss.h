//===- Loss.h - Loss functions ----------------------------------*- C++ -*-===//
//
// PyTorch's losses, composed from IR ops (so that autodiff and fusion see
// through them). Each reduces with the mean (default) or the sum over all
// elements, or not at all.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Tensor.h"

namespace kiln::nn {

enum class Reduction {
  Mean, ///< the mean over all elements (over the batch for CrossEntropyLoss)
  Sum,  ///< the sum
  None, ///< the per-element (per-sample) losses
};

/// (input - target)^2. Input and target must have the same shape (PyTorch
/// would broadcast with a warning; here it is an Error(Shape)).
class MSELoss {
public:
  explicit MSELoss(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}
  Tensor operator()(const Tensor &input, const Tensor &target) const;

private:
  Reduction reduction_;
};

/// Binary cross-entropy of probabilities: -(t log p + (1 - t) log(1 - p)),
/// with each log clamped to >= -100 as PyTorch does. Same shapes required.
class BCELoss {
public:
  explicit BCELoss(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}
  Tensor operator()(const Tensor &input, const Tensor &target) const;

private:
  Reduction reduction_;
};

/// Cross-entropy of raw scores [N, C] against integer class labels [N]
/// (i64): -log_softmax(scores)[n, label[n]]. Labels must be in [0, C); one
/// out of range is an Error(Runtime) when the loss is computed.
class CrossEntropyLoss {
public:
  explicit CrossEntropyLoss(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}
  Tensor operator()(const Tensor &input, const Tensor &target) const;

private:
  Reduction reduction_;
};

} // namespace kiln::nn
