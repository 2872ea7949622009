//===- Backward.cpp - backward(): autodiff on the recorded IR -------------===//
//
// backward() turns the history of a tensor into an ir::Function, asks the
// autodiff pass for its gradient function (cached by the function's
// structural hash), and accumulates its results into the leaves' .grad. In
// lazy mode the gradient function's nodes become pending values on top of
// the leaves' values, so that forward, backward and the optimizer's update
// run as one program at the next flush; in eager mode the interpreter runs
// it at once.
//
//===----------------------------------------------------------------------===//
#include "Lazy.h"
#include "TensorImpl.h"
#include "kiln/Autograd.h"
#include "kiln/compiler/Autodiff.h"
#include "kiln/runtime/Interpreter.h"

#include <fmt/format.h>

#include <map>
#include <mutex>

namespace kiln {

using detail::RecordedGraph;
using detail::TensorImpl;

namespace {

// ---- The cache of gradient functions -------------------------------------------

struct CacheKey {
  uint64_t forwardHash;
  /// Parameter positions of the leaves that require grad.
  std::vector<size_t> wrt;
  bool seeded;
  auto operator<=>(const CacheKey &) const = default;
};

struct CacheEntry {
  std::shared_ptr<const compiler::GradientFunction> gradient;
  /// Checked on a hit, so that a hash collision recompiles instead of
  /// silently running the wrong function.
  std::vector<ir::TensorType> paramTypes;
  size_t numNodes = 0;
};

/// Bounded: a program that builds ever new graphs must not grow it forever.
constexpr size_t kMaxCacheEntries = 512;

struct BackwardCache {
  std::mutex mutex;
  std::map<CacheKey, CacheEntry> entries;
  uint64_t hits = 0, misses = 0;
};

BackwardCache &cache() {
  static BackwardCache c;
  return c;
}

std::vector<ir::TensorType> paramTypes(const ir::Function &f) {
  std::vector<ir::TensorType> types;
  for (ir::ValueId p : f.params())
    types.push_back(f.type(p));
  return types;
}

/// Runs the autodiff pass: gradients of the output with respect to the
/// parameters at positions `wrt`.
compiler::GradientFunction derive(const RecordedGraph &g, const std::vector<size_t> &wrt,
                                  bool seeded) {
  std::vector<ir::ValueId> values;
  for (size_t i : wrt)
    values.push_back(g.fn.params()[i]);
  compiler::GradientOptions options;
  options.seedParam = seeded;
  return compiler::differentiate(g.fn, g.output, values, options);
}

/// derive(), through the cache.
std::shared_ptr<const compiler::GradientFunction>
gradientFunction(const RecordedGraph &g, const std::vector<size_t> &wrt, bool seeded) {
  CacheKey key{g.fn.structuralHash(), wrt, seeded};
  std::vector<ir::TensorType> types = paramTypes(g.fn);
  BackwardCache &c = cache();
  {
    std::lock_guard lock(c.mutex);
    auto it = c.entries.find(key);
    if (it != c.entries.end() && it->second.paramTypes == types &&
        it->second.numNodes == g.fn.nodes().size()) {
      ++c.hits;
      return it->second.gradient;
    }
    ++c.misses;
  }
  auto gradient = std::make_shared<const compiler::GradientFunction>(derive(g, wrt, seeded));
  std::lock_guard lock(c.mutex);
  if (c.entries.size() >= kMaxCacheEntries)
    c.entries.clear();
  c.entries[key] = CacheEntry{gradient, std::move(types), g.fn.nodes().size()};
  return gradient;
}

// ---- backward() ---------------------------------------------------------------------

/// PyTorch's checks before any work, with PyTorch's messages.
/// `gradient` is the type of the explicit gradient, if any.
void checkBackward(const TensorImpl &root, const ir::TensorType *gradient) {
  if (!root.requiresGrad)
    throw Error(ErrorKind::Autograd,
                "element 0 of tensors does not require grad and does not have a grad_fn");
  if (!gradient) {
    if (root.type().shape.numel() != 1)
      throw Error(ErrorKind::Autograd, "grad can be implicitly created only for scalar outputs");
    return;
  }
  const ir::TensorType &want = root.type(), &got = *gradient;
  if (got.shape != want.shape)
    throw Error(ErrorKind::Shape,
                fmt::format("Mismatch in shape: grad_output[0] has a shape of {} and output[0] "
                            "has a shape of {}.",
                            got.shape.str(), want.shape.str()));
  if (got.dtype != want.dtype)
    throw Error(ErrorKind::Shape,
                fmt::format("Mismatch in dtype: grad_output[0] is {} and output[0] is {}.",
                            ir::dtypeName(got.dtype), ir::dtypeName(want.dtype)));
}

std::vector<size_t> leavesRequiringGrad(const RecordedGraph &g) {
  std::vector<size_t> wrt;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    if (g.inputs[i]->requiresGrad)
      wrt.push_back(i);
  return wrt;
}

/// PyTorch semantics: the first gradient is stored, later ones are added in place.
void accumulate(TensorImpl &leaf, ir::HostTensor grad, const std::vector<ir::HostTensor> &inputs) {
  for (const ir::HostTensor &in : inputs)
    if (in.raw() == grad.raw()) { // the interpreter may return an input as is
      grad = grad.clone();
      break;
    }
  if (!leaf.grad) {
    leaf.grad = detail::makeLeaf(std::move(grad));
    return;
  }
  ir::HostTensor acc = leaf.grad->values();
  check(acc.type() == grad.type(), "accumulate: gradient of another type");
  for (int64_t i = 0; i < acc.numel(); ++i)
    acc.set(i, acc.get(i) + grad.get(i));
  ++leaf.grad->storage->version;
}

/// accumulate(), pending: the new .grad, or an add onto the old one.
void accumulateLazy(const std::shared_ptr<TensorImpl> &leaf,
                    std::shared_ptr<detail::LazyValue> grad) {
  if (auto *observer = detail::traceObserver())
    observer->onGradAccess(leaf);
  if (!leaf->grad) {
    leaf->grad = detail::makePending(std::move(grad));
    return;
  }
  TensorImpl &acc = *leaf->grad;
  check(acc.type() == grad->type, "accumulate: gradient of another type");
  ir::TensorType type = acc.type();
  // new + old, not old + new: the same sum, and the fused matmul kernel of
  // the runtime expects the matmul as the add's first operand.
  detail::setPending(acc.storage, detail::makeOp(ir::OpKind::Add, {},
                                                 {std::move(grad), detail::operandValue(acc)},
                                                 std::move(type)));
  ++acc.storage->version;
}

/// The nodes of `f` as pending values over `params`; returns its results.
std::vector<std::shared_ptr<detail::LazyValue>>
inlineFunction(const ir::Function &f, std::vector<std::shared_ptr<detail::LazyValue>> params) {
  std::vector<std::shared_ptr<detail::LazyValue>> values(f.numValues());
  for (size_t i = 0; i < params.size(); ++i)
    values[size_t(f.params()[i].id)] = std::move(params[i]);
  for (const ir::Node &n : f.nodes()) {
    check(n.results.size() == 1 && !n.body, "backward: a gradient node with several results");
    std::vector<std::shared_ptr<detail::LazyValue>> operands;
    for (ir::ValueId v : n.operands)
      operands.push_back(values[size_t(v.id)]);
    values[size_t(n.result().id)] =
        detail::makeOp(n.op, n.attrs, std::move(operands), f.type(n.result()));
  }
  std::vector<std::shared_ptr<detail::LazyValue>> results;
  for (ir::ValueId r : f.results())
    results.push_back(values[size_t(r.id)]);
  return results;
}

/// The eager backward: the interpreter runs the gradient function now.
void runEager(const RecordedGraph &g, const std::vector<size_t> &wrt,
              const compiler::GradientFunction &fn, const Tensor &gradient) {
  std::vector<ir::HostTensor> inputs;
  for (const auto &leaf : g.inputs)
    inputs.push_back(leaf->values());
  if (gradient.defined())
    inputs.push_back(gradient.host());
  std::vector<ir::HostTensor> grads = runtime::interpret(fn.fn, inputs);
  for (size_t i = 0; i < wrt.size(); ++i)
    if (fn.hasGradient[i])
      accumulate(*g.inputs[wrt[i]], std::move(grads[i]), inputs);
}

/// The lazy backward: the gradient function becomes pending values.
void recordLazy(const RecordedGraph &g, const std::vector<size_t> &wrt,
                const compiler::GradientFunction &fn, const Tensor &gradient) {
  std::vector<std::shared_ptr<detail::LazyValue>> params;
  for (const auto &leaf : g.inputs)
    params.push_back(detail::operandValue(*leaf));
  if (gradient.defined())
    params.push_back(detail::operandValue(*gradient.impl()));
  std::vector<std::shared_ptr<detail::LazyValue>> grads = inlineFunction(fn.fn, std::move(params));
  for (size_t i = 0; i < wrt.size(); ++i)
    if (fn.hasGradient[i])
      accumulateLazy(g.inputs[wrt[i]], std::move(grads[i]));
}

} // namespace

void Tensor::backward(const Tensor &gradient, bool retain_graph) const {
  TensorImpl &root = self();
  checkBackward(root, gradient.defined() ? &gradient.impl()->type() : nullptr);
  RecordedGraph g = detail::recordGraph(impl_);
  std::vector<size_t> wrt = leavesRequiringGrad(g);
  auto fn = gradientFunction(g, wrt, gradient.defined());
  if (detail::lazyMode())
    recordLazy(g, wrt, *fn, gradient);
  else
    runEager(g, wrt, *fn, gradient);

  if (!retain_graph)
    detail::releaseGraph(g);
}

ir::Function backward_graph(const Tensor &t, bool with_gradient_param) {
  if (!t.defined())
    throw Error(ErrorKind::Usage, "backward_graph: the tensor is undefined");
  checkBackward(*t.impl(), with_gradient_param ? &t.impl()->type() : nullptr);
  RecordedGraph g = detail::recordGraph(t.impl());
  // Not from the cache: a cached function carries the value names of the
  // graph it was derived from, and this one is for people to read.
  return derive(g, leavesRequiringGrad(g), with_gradient_param).fn;
}

BackwardCacheStats backward_cache_stats() {
  BackwardCache &c = cache();
  std::lock_guard lock(c.mutex);
  return {c.hits, c.misses, c.entries.size()};
}

void clear_backward_cache() {
  BackwardCache &c = cache();
  std::lock_guard lock(c.mutex);
  c.entries.clear();
  c.hits = c.misses = 0;
}

} // namespace kiln
