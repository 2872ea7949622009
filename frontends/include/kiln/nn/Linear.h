//===- Linear.h - Fully connected layer -------------------------*- C++ -*-===//
#pragma once

#include "kiln/Random.h"
#include "kiln/nn/Module.h"

#include <cstdint>

namespace kiln::nn {

/// y = x W^T + b, with W of shape [out_features, in_features] and b of shape
/// [out_features], as PyTorch's nn.Linear. Input [N, in] gives [N, out].
class Linear : public Module {
public:
  /// Initialised as PyTorch does: W ~ U(-1/sqrt(in), 1/sqrt(in)) (its
  /// kaiming_uniform_(a=sqrt(5))) and b ~ U(-1/sqrt(in), 1/sqrt(in)), drawn
  /// from `gen` (weight first, row-major, then bias). Throws Error(Usage)
  /// for a non-positive size.
  Linear(int64_t in_features, int64_t out_features, bool bias = true,
         Generator &gen = default_generator());

  Tensor forward(const Tensor &input) override;
  std::string name() const override { return "Linear"; }

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  /// [out_features, in_features].
  Tensor weight;
  /// [out_features], or undefined without bias.
  Tensor bias;

private:
  int64_t in_;
  int64_t out_;
};

} // namespace kiln::nn
