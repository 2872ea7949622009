//===- Sequential.h - A chain of modules ------------------------*- C++ -*-===//
#pragma once

#include "kiln/nn/Module.h"

#include <memory>
#include <vector>

namespace kiln::nn {

/// Applies its modules in order; they are registered as "0", "1", ..., so
/// parameters are named "0.weight" as in PyTorch.
///
///   auto mlp = std::make_shared<nn::Sequential>(
///       std::make_shared<nn::Linear>(784, 128), std::make_shared<nn::ReLU>(),
///       std::make_shared<nn::Linear>(128, 10));
class Sequential : public Module {
public:
  Sequential() = default;
  template <class... M>
  requires(sizeof...(M) > 0) explicit Sequential(std::shared_ptr<M>... modules) {
    (push_back(std::move(modules)), ...);
  }

  /// Appends a module (named by its position).
  void push_back(std::shared_ptr<Module> module);
  size_t size() const { return children().size(); }
  /// The module at `index`; throws Error(Usage) when out of range.
  Module &operator[](size_t index) const;

  Tensor forward(const Tensor &input) override;
  std::string name() const override { return "Sequential"; }
};

} // namespace kiln::nn
