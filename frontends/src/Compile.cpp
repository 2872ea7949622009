//===- Compile.cpp - Traced steps: guards and replay ----------------------===//
//
// A trace runs the step function with a TraceObserver installed: sync() is
// deferred to the end, and the observer notes what the step depends on (the
// leaves it used, the .grad fields it touched) and anything that makes a
// replay wrong (a read, an eager write, random values, new tensors that
// outlive the step). The one flush at the end of the trace is the program;
// its parameters and results are classified so that a replay can bind the
// new inputs and apply the same effects.
//
//===----------------------------------------------------------------------===//
#include "kiln/Compile.h"
#include "Lazy.h"
#include "LazyState.h"
#include "kiln/Step.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <unordered_map>

namespace kiln {

namespace detail {

void checkArity(size_t expected, size_t got) {
  if (expected != got)
    throw Error(ErrorKind::Usage,
                fmt::format("compiled step: takes {} inputs, got {}", expected, got));
}

namespace {

bool logRecompiles() {
  const char *v = std::getenv("KILN_LOG");
  return v && std::strstr(v, "recompile");
}

/// Where a parameter of the step program comes from on a replay.
struct ParamSource {
  enum Kind { Input, Storage, Constant } kind;
  size_t input = 0;
  std::weak_ptr<detail::Storage> storage;
  ir::HostTensor constant;
};

/// Where a result of the step program goes on a replay.
struct ResultTarget {
  enum Kind { WriteBack, Return, GradOf } kind;
  std::weak_ptr<detail::Storage> storage;
  std::weak_ptr<TensorImpl> impl;
};

/// A tensor whose requires_grad (and, if touched, .grad) the trace relied on.
struct LeafGuard {
  std::weak_ptr<TensorImpl> impl;
  bool requiresGrad;
  bool gradTouched = false;
  /// The step discards the old .grad first (zero_grad(set_to_none)).
  bool gradAny = false;
  /// The storage of its .grad before the step (null = none).
  std::shared_ptr<detail::Storage> gradBefore;
};

struct Trace {
  std::vector<ir::TensorType> inputTypes;
  std::vector<bool> inputRequiresGrad;
  std::vector<LeafGuard> leaves;
  std::vector<ParamSource> params;
  std::vector<ResultTarget> results;
  std::shared_ptr<CachedStep> step;
};

/// Watches one trace (see the file comment).
class Tracer : public TraceObserver {
public:
  bool finishing = false;
  std::string unreplayable;
  std::optional<FlushRecord> record;
  std::vector<LeafGuard> leaves;
  std::unordered_map<const TensorImpl *, size_t> leafIndex;

  bool onFlush() override {
    if (!finishing)
      notReplayable("the step reads a value while it is traced (item, printing, host)");
    return true;
  }
  void onFlushed(const FlushRecord &r) override {
    if (finishing)
      record = r;
  }
  void onGradAccess(const std::shared_ptr<TensorImpl> &impl, bool discards) override {
    LeafGuard &g = guard(impl);
    if (g.gradTouched)
      return;
    g.gradTouched = true;
    g.gradAny = discards;
    if (impl->grad && !discards)
      g.gradBefore = impl->grad->storage;
  }
  void onEagerWrite() override {
    notReplayable("the step writes values eagerly (uniform_, normal_)");
  }
  void onLeafUse(const std::shared_ptr<TensorImpl> &impl) override {
    // Values the step computes (pending) are not state it depends on.
    if (!impl->literal && !impl->storage->pending)
      guard(impl);
  }

  void notReplayable(std::string why) {
    if (unreplayable.empty())
      unreplayable = std::move(why);
  }

private:
  LeafGuard &guard(const std::shared_ptr<TensorImpl> &impl) {
    auto [it, fresh] = leafIndex.try_emplace(impl.get(), leaves.size());
    if (fresh)
      leaves.push_back({impl, impl->requiresGrad});
    return leaves[it->second];
  }
};

/// Installs a tracer for a scope.
class TracerScope {
public:
  explicit TracerScope(Tracer &t) {
    if (traceObserver())
      throw Error(ErrorKind::Usage, "compiled steps cannot be nested");
    setTraceObserver(&t);
  }
  ~TracerScope() { setTraceObserver(nullptr); }
};

/// Where a replay finds the value of the step parameter `leaf`: an input of
/// the call; a tensor that outlives the call, re-read at every replay (a
/// weight, an optimizer's %lr); or a constant of kiln's own code. A value
/// the step made from host numbers while it ran (`p * 0.01` with a number
/// that may be a captured variable, tensor({...})) has none: a replay would
/// reuse a stale value, so the step runs again at every call instead.
ParamSource paramSource(Tracer &tracer, const LazyValue &leaf, std::span<const Tensor> inputs,
                        uint64_t firstSerial) {
  std::shared_ptr<detail::Storage> owner = leaf.owner.lock();
  for (size_t i = 0; i < inputs.size(); ++i)
    if (owner && owner == inputs[i].impl()->storage)
      return {ParamSource::Input, i, {}, {}};
  if (owner && owner->serial <= firstSerial)
    return {ParamSource::Storage, 0, owner, {}};
  if (owner && owner->random)
    tracer.notReplayable("the step uses random values");
  else if (!leaf.constant)
    tracer.notReplayable(fmt::format(
        "the step uses {} {}, which a replay could not re-read; keep values that may change "
        "in tensors made outside the step, or pass them as arguments",
        leaf.literal ? "a number written in an expression, as" : "a tensor it made from host values,",
        leaf.type.str()));
  return {ParamSource::Constant, 0, {}, leaf.buffer.clone()};
}

} // namespace

struct CompiledStepState {
  static constexpr size_t kMaxTraces = 8;
  CompiledStep::Body body;
  std::vector<Trace> traces;
  int64_t replays = 0, traced = 0;
  std::string lastReason;
  /// Why the last trace could not be kept ("" if it was).
  std::string unreplayable;

  /// "" if `t` may replay for `inputs`, else why not.
  std::string guardMiss(const Trace &t, std::span<const Tensor> inputs) const;
  Tensor replay(const Trace &t, std::span<const Tensor> inputs);
  Tensor trace(std::span<const Tensor> inputs);
  /// Builds the replay plan of a finished trace, or says why there is none.
  std::optional<Trace> plan(Tracer &tracer, std::span<const Tensor> inputs, const Tensor &result,
                            uint64_t firstSerial);
};

std::string CompiledStepState::guardMiss(const Trace &t, std::span<const Tensor> inputs) const {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ir::TensorType &type = inputs[i].impl()->type();
    if (type != t.inputTypes[i])
      return fmt::format("input {} changed from {} to {}", i, t.inputTypes[i].str(), type.str());
    if (inputs[i].requires_grad() != t.inputRequiresGrad[i])
      return fmt::format("input {} changed requires_grad", i);
  }
  for (const LeafGuard &g : t.leaves) {
    auto impl = g.impl.lock();
    if (!impl && g.gradTouched)
      return "a tensor whose .grad the step uses was destroyed";
    if (!impl)
      continue; // e.g. a detach() made by the step; the buffers are guarded below
    if (impl->requiresGrad != g.requiresGrad)
      return fmt::format("a {} tensor the step used changed requires_grad", impl->type().str());
    if (g.gradTouched && !g.gradAny && (impl->grad ? impl->grad->storage : nullptr) != g.gradBefore)
      return fmt::format("the .grad of a {} tensor changed (to {})", impl->type().str(),
                         impl->grad ? impl->grad->type().str() : "none");
  }
  for (const ParamSource &p : t.params)
    if (p.kind == ParamSource::Storage && p.storage.expired())
      return "a tensor the step read was destroyed";
  for (const ResultTarget &r : t.results)
    if ((r.kind == ResultTarget::WriteBack && r.storage.expired()) ||
        (r.kind == ResultTarget::GradOf && r.impl.expired()))
      return "a tensor the step updates was destroyed";
  return "";
}

Tensor CompiledStepState::replay(const Trace &t, std::span<const Tensor> inputs) {
  std::vector<ir::HostTensor> in, out;
  in.reserve(t.params.size());
  for (const ParamSource &p : t.params) {
    switch (p.kind) {
    case ParamSource::Input:
      in.push_back(inputs[p.input].host());
      break;
    case ParamSource::Storage:
      in.push_back(p.storage.lock()->data);
      break;
    case ParamSource::Constant:
      in.push_back(p.constant);
      break;
    }
  }
  out.reserve(t.results.size());
  for (const ResultTarget &r : t.results)
    out.push_back(r.kind == ResultTarget::WriteBack ? r.storage.lock()->data : ir::HostTensor());
  replayStep(*t.step, in, out);
  Tensor result;
  for (size_t k = 0; k < t.results.size(); ++k) {
    const ResultTarget &r = t.results[k];
    if (r.kind == ResultTarget::WriteBack) {
      ++r.storage.lock()->version;
    } else if (r.kind == ResultTarget::GradOf) {
      r.impl.lock()->grad = makeLeaf(std::move(out[k]));
    } else {
      result = Tensor(makeLeaf(std::move(out[k])));
    }
  }
  ++replays;
  lastReason.clear();
  return result;
}

Tensor CompiledStepState::trace(std::span<const Tensor> inputs) {
  ++traced;
  uint64_t firstSerial = lastStorageSerial();
  Tracer tracer;
  Tensor result;
  {
    TracerScope scope(tracer);
    result = body(inputs);
    tracer.finishing = true;
    flushPending();
  }
  std::optional<Trace> t = plan(tracer, inputs, result, firstSerial);
  if (!t) {
    if (logRecompiles() && tracer.unreplayable != unreplayable) // once, not every call
      fmt::print(stderr, "kiln: recompile: compiled step not replayable: {}\n",
                 tracer.unreplayable);
    unreplayable = std::move(tracer.unreplayable);
    return result;
  }
  unreplayable.clear();
  if (traces.size() >= kMaxTraces)
    traces.erase(traces.begin());
  traces.push_back(std::move(*t));
  return result;
}

std::optional<Trace> CompiledStepState::plan(Tracer &tracer, std::span<const Tensor> inputs,
                                             const Tensor &result, uint64_t firstSerial) {
  if (!result.defined())
    tracer.notReplayable("the step returned an undefined tensor");
  if (!tracer.record)
    tracer.notReplayable("the step computed nothing");
  if (!tracer.unreplayable.empty())
    return std::nullopt;
  const FlushRecord &r = *tracer.record;
  Trace t;
  t.step = r.step;
  for (const Tensor &x : inputs) {
    t.inputTypes.push_back(x.impl()->type());
    t.inputRequiresGrad.push_back(x.requires_grad());
  }
  for (const auto &leaf : r.params)
    t.params.push_back(paramSource(tracer, *leaf, inputs, firstSerial));
  for (size_t k = 0; k < r.results.size(); ++k) {
    const auto &s = r.results[k];
    ResultTarget target{ResultTarget::WriteBack};
    if (r.writeBack[k]) {
      if (s->serial > firstSerial)
        tracer.notReplayable("the step updates a tensor it created");
      target.storage = s;
    } else if (s == result.impl()->storage) {
      target.kind = ResultTarget::Return;
    } else {
      target.kind = ResultTarget::GradOf;
      for (const LeafGuard &g : tracer.leaves)
        if (auto impl = g.impl.lock();
            impl && g.gradTouched && impl->grad && impl->grad->storage == s)
          target.impl = impl;
      if (target.impl.expired())
        tracer.notReplayable("the step keeps new tensors alive besides its result and .grad "
                             "(e.g. optimizer state made on the first call)");
    }
    t.results.push_back(std::move(target));
  }
  bool returns = false;
  for (const ResultTarget &x : t.results)
    returns = returns || x.kind == ResultTarget::Return;
  if (!returns)
    tracer.notReplayable("the step's result is not a value it computed");
  // Inputs are guarded by type, not identity: each call passes new ones.
  for (LeafGuard &g : tracer.leaves) {
    auto impl = g.impl.lock();
    bool isInput = false;
    for (const Tensor &x : inputs)
      isInput = isInput || impl == x.impl();
    if (impl && (!isInput || g.gradTouched))
      t.leaves.push_back(std::move(g));
  }
  if (!tracer.unreplayable.empty())
    return std::nullopt;
  return t;
}

} // namespace detail

CompiledStep::CompiledStep(Body body) : state_(std::make_shared<detail::CompiledStepState>()) {
  state_->body = std::move(body);
}

Tensor CompiledStep::call(std::span<const Tensor> inputs) {
  if (!detail::lazyMode())
    return state_->body(inputs); // eager: a plain call
  for (const Tensor &x : inputs)
    if (!x.defined())
      throw Error(ErrorKind::Usage, "compiled step: an input is an undefined tensor");
  sync();
  std::string firstMiss;
  for (const detail::Trace &t : state_->traces) {
    std::string miss = state_->guardMiss(t, inputs);
    if (miss.empty())
      return state_->replay(t, inputs);
    if (firstMiss.empty())
      firstMiss = std::move(miss);
  }
  if (!state_->traces.empty())
    state_->lastReason = firstMiss;
  else if (!state_->unreplayable.empty())
    state_->lastReason = "not replayable: " + state_->unreplayable;
  else
    state_->lastReason = "first call";
  if (!state_->traces.empty() && detail::logRecompiles())
    fmt::print(stderr, "kiln: recompile: compiled step traced again: {}\n", state_->lastReason);
  return state_->trace(inputs);
}

int64_t CompiledStep::replays() const { return state_->replays; }
int64_t CompiledStep::traces() const { return state_->traced; }
const std::string &CompiledStep::last_trace_reason() const { return state_->lastReason; }

} // namespace kiln
