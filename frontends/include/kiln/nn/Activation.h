//===- Activation.h - Activation functions as modules -----------*- C++ -*-===//
//
// Parameterless modules that apply one function elementwise (softmax along a
// dimension), for use in Sequential.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/nn/Module.h"

#include <cstdint>

namespace kiln::nn {

/// max(x, 0).
class ReLU : public Module {
public:
  Tensor forward(const Tensor &input) override { return input.relu(); }
  std::string name() const override { return "ReLU"; }
};

/// 1 / (1 + e^-x).
class Sigmoid : public Module {
public:
  Tensor forward(const Tensor &input) override { return input.sigmoid(); }
  std::string name() const override { return "Sigmoid"; }
};

/// tanh(x).
class Tanh : public Module {
public:
  Tensor forward(const Tensor &input) override { return input.tanh(); }
  std::string name() const override { return "Tanh"; }
};

/// e^x / sum(e^x) along `dim` (negative counts from the end).
class Softmax : public Module {
public:
  explicit Softmax(int64_t dim) : dim_(dim) {}
  Tensor forward(const Tensor &input) override { return input.softmax(dim_); }
  std::string name() const override { return "Softmax"; }
  int64_t dim() const { return dim_; }

private:
  int64_t dim_;
};

} // namespace kiln::nn
