//===- Interpreter.cpp - The reference interpreter ------------------------===//
#include "kiln/runtime/Interpreter.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

namespace kiln::runtime {

using namespace kiln::ir;

static void checkInputs(const Function &f, std::span<const HostTensor> inputs) {
  if (inputs.size() != f.params().size())
    throw Error(ErrorKind::Usage, fmt::format("@{} takes {} inputs, got {}", f.name(),
                                              f.params().size(), inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo &p = f.value(f.params()[i]);
    if (!inputs[i].defined() || inputs[i].type() != p.type)
      throw Error(ErrorKind::Usage,
                  fmt::format("input {} (%{}) of @{} must be {}, got {}", i,
                              p.name.empty() ? fmt::format("arg{}", i) : p.name, f.name(),
                              p.type.str(),
                              inputs[i].defined() ? inputs[i].type().str() : "nothing"));
  }
}

std::vector<HostTensor> interpret(const Function &f, std::span<const HostTensor> inputs) {
  checkInputs(f, inputs);
  std::vector<HostTensor> env(f.numValues());
  for (size_t i = 0; i < inputs.size(); ++i)
    env[size_t(f.params()[i].id)] = inputs[i];
  std::vector<const HostTensor *> operands;
  for (const Node &n : f.nodes()) {
    operands.clear();
    for (ValueId v : n.operands)
      operands.push_back(&env[size_t(v.id)]);
    if (n.body) {
      std::vector<HostTensor> args;
      for (const HostTensor *t : operands)
        args.push_back(*t);
      std::vector<HostTensor> results = interpret(*n.body, args);
      for (size_t i = 0; i < results.size(); ++i)
        env[size_t(n.results[i].id)] = std::move(results[i]);
      continue;
    }
    HostTensor result(f.type(n.result()));
    evalNode(n, operands, result);
    env[size_t(n.result().id)] = std::move(result);
  }
  std::vector<HostTensor> results;
  for (ValueId r : f.results())
    results.push_back(env[size_t(r.id)]);
  return results;
}

} // namespace kiln::runtime
