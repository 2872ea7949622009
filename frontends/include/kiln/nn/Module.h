//===- Module.h - The base of layers and models -----------------*- C++ -*-===//
//
// kiln::nn::Module is PyTorch's nn.Module: a tree of modules that own
// parameters. A model registers its parameters and submodules by name, so
// that parameters(), named_parameters() ("linear.weight"), state_dict() and
// load_state_dict() see the whole tree:
//
//   struct LinearModel : nn::Module {
//     std::shared_ptr<nn::Linear> linear =
//         register_module("linear", std::make_shared<nn::Linear>(1, 1));
//     Tensor forward(const Tensor &x) override { return (*linear)(x); }
//   };
//
// Parameters are kiln::Tensor handles, shared with whoever holds them (an
// optimizer), so updates in place are seen by the model.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Tensor.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kiln::nn {

/// Named tensors in registration order (the type of kiln::NamedTensors, so
/// that a state_dict goes straight to save_safetensors()).
using StateDict = std::vector<std::pair<std::string, Tensor>>;

class Module {
public:
  Module() = default;
  virtual ~Module() = default;
  /// Modules own their parameters: they are not copied (hold them by shared_ptr).
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;

  /// The forward pass of modules with one input and one output. The base
  /// version throws Error(Usage): a module without it cannot be called.
  virtual Tensor forward(const Tensor &input);
  /// forward(input).
  Tensor operator()(const Tensor &input) { return forward(input); }

  /// The class name shown in errors and printouts ("Linear").
  virtual std::string name() const { return "Module"; }

  /// Every parameter of this module and its submodules, depth first in
  /// registration order (this module's own first).
  std::vector<Tensor> parameters() const;
  /// The same, with dotted names as in PyTorch ("0.weight", "linear.bias").
  StateDict named_parameters() const;
  /// The direct submodules, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>> &children() const {
    return children_;
  }

  /// The parameters by dotted name, detached from autograd but sharing their
  /// values (as PyTorch's state_dict()).
  StateDict state_dict() const;
  /// Copies `state` into the parameters. Checks first that every parameter
  /// has an entry of the same shape and dtype and that there are no other
  /// entries; the first problem (missing key, unexpected key, shape, dtype)
  /// is an Error(Format) naming it, and nothing has been changed then.
  void load_state_dict(const StateDict &state);

  /// Sets training mode on this module and its submodules (train(false) is eval()).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Clears (set_to_none) or zeroes every parameter's gradient.
  void zero_grad(bool set_to_none = true);

protected:
  /// Adds a parameter named `name` (no dots; unique in this module) and
  /// returns it; it is made to require grad. Throws Error(Usage) otherwise.
  Tensor register_parameter(std::string name, Tensor parameter);
  /// Adds a submodule and returns it, typed as given.
  template <class M> std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> m) {
    addChild(std::move(name), m);
    return m;
  }

private:
  void addChild(std::string name, std::shared_ptr<Module> module);
  void checkNewName(const std::string &name) const;
  void collect(const std::string &prefix, StateDict &out) const;

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

} // namespace kiln::nn
