//===- Backward.cpp - backward(): autodiff on the recorded IR -------------===//
//
// backward() walks the history of a tensor into a StructureKey, finds its
// gradient function in a cache by that exact key (on a miss it builds the
// history's ir::Function and asks the autodiff pass), and accumulates the
// results into the leaves' .grad; a lazy step that repeats the last one
// takes the history and its gradient function from the step's recording
// instead (HistoryPlan.h). In lazy mode the gradient function becomes
// one recorded region (RecordedRegion.h) on top of the leaves' values and the
// forward values it reads, so that forward, backward and the optimizer's
// update run as one program at the next flush; in eager mode the interpreter
// runs it at once.
//
//===----------------------------------------------------------------------===//
#include "HistoryPlan.h"
#include "Lazy.h"
#include "RecordedRegion.h"
#include "TensorImpl.h"
#include "kiln/Autograd.h"
#include "kiln/compiler/Autodiff.h"
#include "kiln/runtime/Interpreter.h"

#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

namespace kiln {

using detail::RecordedGraph;
using detail::StructureKey;
using detail::TensorImpl;

namespace {

// ---- The cache of gradient functions -------------------------------------------

struct CacheEntry {
  /// The exact history, wrt and seeding (see StructureKey): a hit proves
  /// the same structure, types, attributes and requires_grad (literals are
  /// inputs, so their values are not part of it).
  StructureKey key;
  std::shared_ptr<const compiler::GradientFunction> gradient;
};

/// Bounded: a program that builds ever new graphs must not grow it forever.
constexpr size_t kMaxCacheEntries = 512;

struct BackwardCache {
  std::mutex mutex;
  /// By the key's hash; a collision compares unequal and derives again.
  std::unordered_map<uint64_t, CacheEntry> entries;
  /// Atomic: a hit on a thread's last entry takes no lock.
  std::atomic<uint64_t> hits{0}, misses{0};
  /// Bumped by clear_backward_cache(): every thread's last entry is gone too.
  std::atomic<uint64_t> generation{0};
};

BackwardCache &cache() {
  static BackwardCache c;
  return c;
}

/// The gradient function this thread used last, with its key: a training
/// loop asks for the same one at every step, found by comparing keys,
/// without hashing the key or taking the cache's lock.
struct LastGradient {
  CacheEntry entry;
  uint64_t generation = ~uint64_t(0);

  const compiler::GradientFunction *find(const StructureKey &key, uint64_t now) const {
    return generation == now && entry.key == key ? entry.gradient.get() : nullptr;
  }
  void remember(const StructureKey &key, std::shared_ptr<const compiler::GradientFunction> gradient,
                uint64_t now) {
    entry.key = key; // reuses the key's memory once it has grown
    entry.gradient = std::move(gradient);
    generation = now;
  }
};

/// Runs the autodiff pass: gradients of the output with respect to the
/// parameters at positions `wrt`. Simplified once here, as every lazy step
/// records each of its nodes again: a linreg step's twelve backward nodes
/// become six.
compiler::GradientFunction derive(const RecordedGraph &g, const std::vector<size_t> &wrt,
                                  bool seeded) {
  std::vector<ir::ValueId> values;
  for (size_t i : wrt)
    values.push_back(g.fn.params()[i]);
  compiler::GradientOptions options;
  options.seedParam = seeded;
  options.simplify = true;
  compiler::GradientFunction gradient = compiler::differentiate(g.fn, g.output, values, options);
  // Forward values by their place in the history, which holdForwardValues
  // reads them from; one inside a recorded function is computed again.
  for (ir::ValueId &forward : gradient.forwardValues)
    if (forward.valid())
      forward = g.walkIndex[size_t(forward.id)] >= 0 ? ir::ValueId{g.walkIndex[size_t(forward.id)]}
                                                     : ir::ValueId{};
  return gradient;
}

/// derive(), through the cache. `history` is the walk of `root`'s history;
/// its key is extended with `wrt` and `seeded`. Builds the IR of the history
/// only on a miss. The function stays alive until this thread's next
/// backward() (which never nests).
const compiler::GradientFunction &gradientFunction(const std::shared_ptr<TensorImpl> &root,
                                                   detail::HistoryKey &history,
                                                   const std::vector<size_t> &wrt, bool seeded,
                                                   LastGradient &last) {
  StructureKey &key = history.key;
  key.word(wrt.size());
  for (size_t i : wrt)
    key.word(i);
  key.word(seeded);
  BackwardCache &c = cache();
  uint64_t generation = c.generation.load(std::memory_order_acquire);
  if (const compiler::GradientFunction *same = last.find(key, generation)) {
    c.hits.fetch_add(1, std::memory_order_relaxed);
    return *same;
  }
  std::shared_ptr<const compiler::GradientFunction> gradient;
  {
    std::lock_guard lock(c.mutex);
    auto it = c.entries.find(key.hash());
    if (it != c.entries.end() && it->second.key == key)
      gradient = it->second.gradient;
  }
  if (gradient) {
    c.hits.fetch_add(1, std::memory_order_relaxed);
  } else {
    c.misses.fetch_add(1, std::memory_order_relaxed);
    RecordedGraph g = detail::recordGraph(history, *root);
    gradient = std::make_shared<const compiler::GradientFunction>(derive(g, wrt, seeded));
    std::lock_guard lock(c.mutex);
    if (c.entries.size() >= kMaxCacheEntries)
      c.entries.clear();
    c.entries[key.hash()] = CacheEntry{key, gradient};
  }
  last.remember(key, std::move(gradient), generation);
  return *last.entry.gradient;
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

void leavesRequiringGrad(const std::vector<std::shared_ptr<TensorImpl>> &inputs,
                         std::vector<size_t> &wrt) {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i]->requiresGrad)
      wrt.push_back(i);
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
                    std::shared_ptr<detail::GraphNode> grad) {
  if (auto *observer = detail::traceObserver())
    observer->onGradAccess(leaf);
  if (!leaf->grad) {
    leaf->grad = detail::makePending(std::move(grad));
    // Named after the leaf, not after the cached gradient function's values,
    // which may come from another graph of the same structure.
    if (leaf->name) {
      leaf->grad->name = detail::derivedName(leaf->name, "_grad");
      if (detail::Name &valueName = leaf->grad->storage->pending->name; !valueName)
        valueName = leaf->grad->name;
    }
    return;
  }
  TensorImpl &acc = *leaf->grad;
  check(acc.type() == grad->type, "accumulate: gradient of another type");
  ir::TensorType type = acc.type();
  // new + old, not old + new: the same sum, and the fused matmul kernel of
  // the runtime expects the matmul as the add's first operand.
  auto sum = detail::makeOp(ir::OpKind::Add, {}, {std::move(grad), detail::operandValue(acc)},
                            std::move(type));
  sum->name = acc.name;
  detail::setPending(acc.storage, std::move(sum));
  ++acc.storage->version;
}

/// The value of forward tensor `t` when its op was recorded, if it still
/// holds it: a tensor an op made is at version 0 until it is changed in
/// place (with grad disabled, or through a detach()ed alias).
std::shared_ptr<detail::GraphNode> recordedValue(const TensorImpl &t) {
  if (t.version() != 0)
    return nullptr;
  return detail::operandValue(t);
}

/// The gradient function as a recorded region: its nodes without the
/// forward nodes whose values the history still holds (those enter as
/// operands) and without what no gradient needs, so that the step gets the
/// nodes that recording them one by one would give it.
struct GradientRegion {
  std::shared_ptr<const detail::RegionBody> body;
  /// Per parameter of the body: the value of the gradient function it
  /// stands for (a parameter, or a forward node whose value is held).
  std::vector<ir::ValueId> sources;
  /// Per result of the body: the wrt index whose gradient it is.
  std::vector<size_t> gradients;
};

/// `g`'s region when the forward nodes marked in `held` (by value id) are
/// operands.
GradientRegion gradientRegion(const compiler::GradientFunction &g, const std::vector<char> &held) {
  const ir::Function &f = g.fn;
  GradientRegion out;
  std::vector<char> live(f.numValues(), 0);
  for (size_t i = 0; i < g.hasGradient.size(); ++i)
    if (g.hasGradient[i]) {
      live[size_t(f.results()[i].id)] = 1;
      out.gradients.push_back(i);
    }
  for (size_t k = f.nodes().size(); k-- > 0;) {
    const ir::Node &n = f.nodes()[k];
    check(n.results.size() == 1 && !n.body, "backward: a gradient node with several results");
    if (live[size_t(n.result().id)] && !held[size_t(n.result().id)])
      for (ir::ValueId o : n.operands)
        live[size_t(o.id)] = 1;
  }
  ir::Function body("backward");
  std::vector<ir::ValueId> map(f.numValues());
  auto addParam = [&](ir::ValueId v) {
    map[size_t(v.id)] = body.addParam(f.type(v));
    out.sources.push_back(v);
  };
  for (ir::ValueId p : f.params())
    if (live[size_t(p.id)])
      addParam(p);
  for (const ir::Node &n : f.nodes())
    if (live[size_t(n.result().id)] && held[size_t(n.result().id)])
      addParam(n.result());
  for (const ir::Node &n : f.nodes()) {
    ir::ValueId r = n.result();
    if (!live[size_t(r.id)] || held[size_t(r.id)])
      continue;
    std::vector<ir::ValueId> operands;
    for (ir::ValueId o : n.operands)
      operands.push_back(map[size_t(o.id)]);
    size_t k = body.appendNode(n.op, std::move(operands), n.attrs, {f.type(r)});
    map[size_t(r.id)] = body.nodes()[k].result();
  }
  std::vector<ir::ValueId> results;
  for (size_t i : out.gradients)
    results.push_back(map[size_t(f.results()[i].id)]);
  body.setResults(std::move(results));
  out.body = detail::makeRegionBody(std::move(body));
  return out;
}

/// The region of the gradient function used last, for the forward values
/// held then: a training loop asks for the same at every step.
struct LastRegion {
  std::shared_ptr<const compiler::GradientFunction> gradient;
  std::vector<char> held;
  GradientRegion region;
};

/// The lists one backward() fills, kept per thread and emptied (not freed)
/// after each, so that a steady step allocates none for them.
struct BackwardLists {
  std::vector<size_t> wrt;
  /// The values the gradient function's region reads, by ValueId.
  std::vector<std::shared_ptr<detail::GraphNode>> values;
  /// Which forward nodes of the gradient function have their value held.
  std::vector<char> held;
  void clear() {
    wrt.clear();
    values.clear();
    held.clear();
  }
};

/// What backward() keeps per thread (ir::threadOwned): the history walk's
/// and the gradient's lists, the last gradient function and its region,
/// and where the last history lay in the recording.
struct BackwardScratch {
  detail::HistoryKey history;
  BackwardLists lists;
  LastGradient last;
  LastRegion region;
  detail::HistoryPlan plan;
};
struct BackwardScratchTag;

/// Marks in `lists.held`, and puts into `lists.values`, the forward nodes of
/// `g` whose values the history still holds: the pending forward of this
/// step, or the computed values of an earlier flush (a loss read before
/// backward()), read instead of computed a second time.
void holdForwardValues(const compiler::GradientFunction &g, const detail::HistoryKey &history,
                       BackwardLists &lists) {
  const ir::Function &f = g.fn;
  lists.held.assign(f.numValues(), 0);
  for (const ir::Node &n : f.nodes()) {
    ir::ValueId forward = g.forwardValues[size_t(n.result().id)];
    if (!forward.valid())
      continue;
    check(size_t(forward.id) < history.values.size(),
          "backward: a forward value past the history");
    std::shared_ptr<detail::GraphNode> &value = lists.values[size_t(n.result().id)];
    if ((value = recordedValue(*history.values[size_t(forward.id)])))
      lists.held[size_t(n.result().id)] = 1;
  }
}

/// The eager backward: the interpreter runs the gradient function now.
void runEager(const std::vector<std::shared_ptr<TensorImpl>> &leaves,
              const std::vector<size_t> &wrt, const compiler::GradientFunction &fn,
              const Tensor &gradient) {
  std::vector<ir::HostTensor> inputs;
  for (const auto &leaf : leaves)
    inputs.push_back(leaf->values());
  if (gradient.defined())
    inputs.push_back(gradient.host());
  std::vector<ir::HostTensor> grads = runtime::interpret(fn.fn, inputs);
  for (size_t i = 0; i < wrt.size(); ++i)
    if (fn.hasGradient[i])
      accumulate(*leaves[wrt[i]], std::move(grads[i]), inputs);
}

/// The lazy backward: the gradient function becomes one recorded region,
/// its gradients pending values.
void recordLazy(const detail::HistoryKey &history, BackwardLists &lists, LastRegion &last,
                const std::shared_ptr<const compiler::GradientFunction> &gradientFn,
                const Tensor &gradient) {
  const compiler::GradientFunction &fn = *gradientFn;
  const ir::Function &f = fn.fn;
  const std::vector<std::shared_ptr<TensorImpl>> &leaves = history.inputs;
  std::vector<std::shared_ptr<detail::GraphNode>> &values = lists.values;
  values.resize(f.numValues());
  for (size_t i = 0; i < leaves.size(); ++i)
    values[size_t(f.params()[i].id)] = detail::operandValue(*leaves[i]);
  if (gradient.defined())
    values[size_t(f.params()[leaves.size()].id)] = detail::operandValue(*gradient.impl());
  holdForwardValues(fn, history, lists);
  if (last.gradient != gradientFn || last.held != lists.held) {
    last.region = gradientRegion(fn, lists.held);
    last.gradient = gradientFn;
    last.held = lists.held;
  }
  const GradientRegion &region = last.region;
  if (region.gradients.empty())
    return;
  detail::OperandList operands;
  operands.reserve(region.sources.size());
  for (ir::ValueId source : region.sources)
    operands.push_back(values[size_t(source.id)]);
  std::shared_ptr<detail::GraphNode> first = detail::makeRegion(region.body, std::move(operands));
  for (size_t k = 0; k < region.gradients.size(); ++k)
    accumulateLazy(leaves[lists.wrt[region.gradients[k]]],
                   k == 0 ? first : detail::makeRegionResult(first, int32_t(k)));
}

/// Root's history into `scratch.history` (from the plan of the last one
/// where it can be, walked otherwise) and the wrt list, and its gradient
/// function.
const std::shared_ptr<const compiler::GradientFunction> &
historyAndGradient(const std::shared_ptr<TensorImpl> &root, bool seeded, BackwardScratch &scratch) {
  BackwardCache &c = cache();
  uint64_t generation = c.generation.load(std::memory_order_acquire);
  detail::HistoryKey &history = scratch.history;
  std::vector<size_t> &wrt = scratch.lists.wrt;
  if (const auto *planned = scratch.plan.take(root, seeded, generation, history)) {
    leavesRequiringGrad(history.inputs, wrt);
    c.hits.fetch_add(1, std::memory_order_relaxed);
    return *planned;
  }
  detail::walkHistory(root, history);
  leavesRequiringGrad(history.inputs, wrt);
  gradientFunction(root, history, wrt, seeded, scratch.last);
  scratch.plan.remember(*root, history, scratch.last.entry.gradient, seeded, generation);
  return scratch.last.entry.gradient;
}

} // namespace

void Tensor::backward(const Tensor &gradient, bool retain_graph) const {
  TensorImpl &root = self();
  checkBackward(root, gradient.defined() ? &gradient.impl()->type() : nullptr);
  // The walk's and the gradient's lists are the thread's, emptied (not
  // freed) after each backward, so that a steady step allocates none for
  // them. backward() runs no user code, so it never nests. A backward() in
  // a destructor run at the thread's exit, after the scratch is gone, gets
  // a scratch of its own.
  BackwardScratch *scratch = ir::threadOwned<BackwardScratch, BackwardScratchTag>();
  std::unique_ptr<BackwardScratch> atExit;
  if (!scratch)
    scratch = (atExit = std::make_unique<BackwardScratch>()).get();
  detail::HistoryKey &history = scratch->history;
  BackwardLists &lists = scratch->lists;
  struct Empty {
    detail::HistoryKey &h;
    BackwardLists &l;
    ~Empty() {
      h.clear();
      l.clear();
    }
  } empty{history, lists};
  const std::shared_ptr<const compiler::GradientFunction> &fn =
      historyAndGradient(impl_, gradient.defined(), *scratch);
  if (detail::lazyMode())
    recordLazy(history, lists, scratch->region, fn, gradient);
  else
    runEager(history.inputs, lists.wrt, *fn, gradient);

  if (!retain_graph)
    detail::releaseNodes(history.nodes);
}

ir::Function backward_graph(const Tensor &t, bool with_gradient_param) {
  if (!t.defined())
    throw Error(ErrorKind::Usage, "backward_graph: the tensor is undefined");
  checkBackward(*t.impl(), with_gradient_param ? &t.impl()->type() : nullptr);
  RecordedGraph g = detail::recordGraph(t.impl());
  // Not from the cache: a cached function carries the value names of the
  // graph it was derived from, and this one is for people to read.
  std::vector<size_t> wrt;
  leavesRequiringGrad(g.inputs, wrt);
  return derive(g, wrt, with_gradient_param).fn;
}

BackwardCacheStats backward_cache_stats() {
  BackwardCache &c = cache();
  std::lock_guard lock(c.mutex);
  return {c.hits.load(), c.misses.load(), c.entries.size()};
}

void clear_backward_cache() {
  BackwardCache &c = cache();
  std::lock_guard lock(c.mutex);
  c.entries.clear();
  c.hits = 0;
  c.misses = 0;
  c.generation.fetch_add(1, std::memory_order_release);
}

} // namespace kiln
