//===- Module.cpp - Parameter trees, state_dict ---------------------------===//
#include "kiln/nn/Module.h"

#include "kiln/Autograd.h"
#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace kiln::nn {

Tensor Module::forward(const Tensor &) {
  throw Error(ErrorKind::Usage, fmt::format("{} has no forward(Tensor)", name()));
}

void Module::checkNewName(const std::string &name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw Error(ErrorKind::Usage,
                fmt::format("{}: invalid name '{}' (non-empty, without dots)", this->name(), name));
  for (const auto &[n, p] : parameters_)
    if (n == name)
      throw Error(ErrorKind::Usage, fmt::format("{}: '{}' registered twice", this->name(), name));
  for (const auto &[n, m] : children_)
    if (n == name)
      throw Error(ErrorKind::Usage, fmt::format("{}: '{}' registered twice", this->name(), name));
}

Tensor Module::register_parameter(std::string name, Tensor parameter) {
  checkNewName(name);
  if (!parameter.defined())
    throw Error(ErrorKind::Usage,
                fmt::format("{}: parameter '{}' is undefined", this->name(), name));
  parameter.requires_grad_(true);
  if (parameter.name().empty()) // IR of its steps calls it %weight, as an FX graph would
    parameter.set_name(name);
  parameters_.emplace_back(std::move(name), parameter);
  return parameter;
}

void Module::addChild(std::string name, std::shared_ptr<Module> module) {
  checkNewName(name);
  if (!module)
    throw Error(ErrorKind::Usage, fmt::format("{}: submodule '{}' is null", this->name(), name));
  // Parameters still called as their module calls them get the qualified
  // name of named_parameters() (%linear.weight); names a user gave stay.
  for (auto &[qualified, parameter] : module->named_parameters())
    if (parameter.name() == qualified)
      parameter.set_name(name + "." + qualified);
  children_.emplace_back(std::move(name), std::move(module));
}

void Module::collect(const std::string &prefix, StateDict &out) const {
  for (const auto &[name, p] : parameters_)
    out.emplace_back(prefix + name, p);
  for (const auto &[name, child] : children_)
    child->collect(prefix + name + ".", out);
}

StateDict Module::named_parameters() const {
  StateDict out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto &[name, p] : named_parameters())
    out.push_back(p);
  return out;
}

StateDict Module::state_dict() const {
  StateDict out = named_parameters();
  for (auto &[name, p] : out)
    p = p.detach();
  return out;
}

namespace {

std::string typeText(const Tensor &t) { return ir::TensorType{t.dtype(), t.shape()}.str(); }

} // namespace

void Module::load_state_dict(const StateDict &state) {
  std::map<std::string, const Tensor *> given;
  for (const auto &[name, t] : state)
    if (!given.emplace(name, &t).second)
      throw Error(ErrorKind::Format, fmt::format("state_dict: key '{}' appears twice", name));
  // Check everything before changing anything.
  StateDict own = named_parameters();
  for (const auto &[name, p] : own) {
    auto it = given.find(name);
    if (it == given.end())
      throw Error(ErrorKind::Format, fmt::format("state_dict: missing key '{}'", name));
    const Tensor &t = *it->second;
    if (!t.defined() || t.dtype() != p.dtype() || t.shape() != p.shape())
      throw Error(ErrorKind::Format,
                  fmt::format("state_dict: '{}' is {}, the model's parameter is {}", name,
                              t.defined() ? typeText(t) : "undefined", typeText(p)));
  }
  if (given.size() != own.size())
    for (const auto &[name, t] : state)
      if (std::find_if(own.begin(), own.end(), [&](const auto &e) { return e.first == name; }) ==
          own.end())
        throw Error(ErrorKind::Format, fmt::format("state_dict: unexpected key '{}'", name));
  NoGradGuard noGrad;
  for (auto &[name, p] : own)
    p.copy_(*given.at(name));
}

void Module::train(bool on) {
  training_ = on;
  for (auto &[name, child] : children_)
    child->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor &p : parameters())
    p.zero_grad(set_to_none);
}

} // namespace kiln::nn
