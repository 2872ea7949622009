//===- Interpreter.cpp - The reference interpreter ------------------------===//
#include "kiln/runtime/Interpreter.h"
#include "kiln/ir/Limits.h"
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

namespace {

/// Index of the last node that reads each value; results are read after
/// every node (a value read by none keeps -1 and is dropped at once).
std::vector<int64_t> lastUses(const Function &f) {
  std::vector<int64_t> last(f.numValues(), -1);
  for (size_t i = 0; i < f.nodes().size(); ++i)
    for (ValueId v : f.nodes()[i].operands)
      last[size_t(v.id)] = int64_t(i);
  for (ValueId r : f.results())
    last[size_t(r.id)] = int64_t(f.nodes().size());
  return last;
}

/// The bytes of values a run holds, bounded by maxArenaBytes() before each
/// allocation, as a compiled program's arena is.
class LiveBytes {
public:
  explicit LiveBytes(const Function &f) : f_(f) {}
  void add(const TensorType &t) {
    if (t.bytes() > maxArenaBytes() - live_)
      throw Error(ErrorKind::Resource,
                  fmt::format("@{} holds more than {} bytes of intermediate values at once "
                              "(KILN_MAX_ARENA_BYTES, default KILN_MAX_TENSOR_BYTES)",
                              f_.name(), maxArenaBytes()));
    live_ += t.bytes();
  }
  void release(const TensorType &t) { live_ -= t.bytes(); }

private:
  const Function &f_;
  int64_t live_ = 0;
};

} // namespace

std::vector<HostTensor> interpret(const Function &f, std::span<const HostTensor> inputs) {
  checkInputs(f, inputs);
  std::vector<HostTensor> env(f.numValues());
  for (size_t i = 0; i < inputs.size(); ++i)
    env[size_t(f.params()[i].id)] = inputs[i];
  std::vector<int64_t> last = lastUses(f);
  LiveBytes live(f);
  std::vector<const HostTensor *> operands;
  for (size_t i = 0; i < f.nodes().size(); ++i) {
    const Node &n = f.nodes()[i];
    operands.clear();
    for (ValueId v : n.operands)
      operands.push_back(&env[size_t(v.id)]);
    for (ValueId r : n.results)
      live.add(f.type(r));
    if (n.body) {
      std::vector<HostTensor> args;
      for (const HostTensor *t : operands)
        args.push_back(*t);
      std::vector<HostTensor> results = interpret(*n.body, args);
      for (size_t k = 0; k < results.size(); ++k)
        env[size_t(n.results[k].id)] = std::move(results[k]);
    } else {
      HostTensor result(f.type(n.result()));
      evalNode(n, operands, result);
      env[size_t(n.result().id)] = std::move(result);
    }
    // Values nobody reads again are freed: the run holds only live ones.
    auto releaseIfDead = [&](ValueId v) {
      if (last[size_t(v.id)] <= int64_t(i) && env[size_t(v.id)].defined() && !f.isParam(v)) {
        env[size_t(v.id)] = HostTensor();
        live.release(f.type(v));
      }
    };
    for (ValueId v : n.operands)
      releaseIfDead(v);
    for (ValueId r : n.results)
      releaseIfDead(r);
  }
  std::vector<HostTensor> results;
  for (ValueId r : f.results())
    results.push_back(env[size_t(r.id)]);
  return results;
}

} // namespace kiln::runtime
