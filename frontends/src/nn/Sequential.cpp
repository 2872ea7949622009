//===- Sequential.cpp - A chain of modules --------------------------------===//
#include "kiln/nn/Sequential.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

namespace kiln::nn {

void Sequential::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
}

Module &Sequential::operator[](size_t index) const {
  if (index >= size())
    throw Error(ErrorKind::Usage,
                fmt::format("Sequential: index {} out of range (size {})", index, size()));
  return *children()[index].second;
}

Tensor Sequential::forward(const Tensor &input) {
  Tensor x = input;
  for (const auto &[name, module] : children())
    x = module->forward(x);
  return x;
}

} // namespace kiln::nn
