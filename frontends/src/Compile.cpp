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

namespace {

void checkArity(size_t expected, size_t got) {
  if (expected != got)
    throw Error(ErrorKind::Usage,
                fmt::format("compiled step: takes {} arguments, got {}", expected, got));
}

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

/// Where a result of the step program goes on a replay: into the buffer of
/// a tensor the step updated in place, or into a new tensor that becomes
/// the .grad of a leaf and/or some of the step's results.
struct ResultTarget {
  enum Kind { WriteBack, Fresh } kind;
  std::weak_ptr<detail::Storage> storage;
  std::weak_ptr<TensorImpl> gradOf;
  std::vector<size_t> outputs;
  /// A Fresh result's tensor of the last replay, whose buffer the next
  /// replay writes into when nobody else holds it any more.
  std::shared_ptr<TensorImpl> last;
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
  /// Per argument: the tensor's type and requires_grad, or the number.
  std::vector<ir::TensorType> inputTypes;
  std::vector<bool> inputRequiresGrad;
  std::vector<Scalar> numbers;
  /// How many results the step function returns.
  size_t outputs = 0;
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
ParamSource paramSource(Tracer &tracer, const GraphNode &leaf, std::span<const Tensor> inputs,
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
        "the step uses {}, which a replay could not re-read; keep values that may change in "
        "tensors made outside the step, or pass them as arguments",
        leaf.literal ? fmt::format("a number written in an expression (an {} literal)",
                                   ir::dtypeName(leaf.type.dtype))
                     : fmt::format("a {} tensor it made from host values", leaf.type.str())));
  return {ParamSource::Constant, 0, {}, leaf.buffer.clone()};
}

/// The tensor `r` made at the last replay (a .grad, or a result the step
/// returned) when nothing but kiln holds it any more, so that its buffer can
/// take the new value unseen instead of a new allocation; else null.
std::shared_ptr<TensorImpl> reusableResult(const ResultTarget &r) {
  std::shared_ptr<TensorImpl> candidate = r.last;
  if (!candidate)
    return nullptr;
  std::shared_ptr<TensorImpl> leaf = r.gradOf.lock();
  long holders = 2 + (leaf && leaf->grad == candidate ? 1 : 0); // r.last, candidate, .grad
  const detail::Storage &s = *candidate->storage;
  bool alone = candidate.use_count() == holders && candidate->storage.use_count() == 1 &&
               s.data.storageUnshared() && !s.pending && !s.leaf && !candidate->gradFn &&
               !candidate->grad;
  return alone ? candidate : nullptr;
}

} // namespace

struct CompiledStepState {
  static constexpr size_t kMaxTraces = 8;
  CompiledStep::Body body;
  std::vector<bool> numberParams;
  std::vector<Trace> traces;
  int64_t replays = 0, traced = 0;
  std::string lastReason;
  /// Why the last trace could not be kept ("" if it was).
  std::string unreplayable;
  /// A replay's buffer lists, emptied (not freed) after each replay. No user
  /// code runs in a replay, so it never nests.
  std::vector<ir::HostTensor> in, out;
  std::vector<std::shared_ptr<TensorImpl>> reused;
  /// The normalised arguments of the running call, kept between calls; a
  /// call made by the body while it traces uses a list of its own.
  std::vector<StepArgument> args;
  bool argsInUse = false;

  /// The arguments as the body takes them, into `out`: a number for a Tensor
  /// parameter becomes a rank-0 tensor.
  void normalize(std::span<const StepArgument> args, std::vector<StepArgument> &out) const;
  /// "" if `t` may replay for `args`, else why not.
  std::string guardMiss(const Trace &t, std::span<const StepArgument> args) const;
  void replay(Trace &t, std::span<const StepArgument> args, std::vector<Tensor> &results);
  std::vector<Tensor> trace(std::span<const StepArgument> args);
  /// Builds the replay plan of a finished trace, or says why there is none.
  std::optional<Trace> plan(Tracer &tracer, std::span<const StepArgument> args,
                            const std::vector<Tensor> &results, uint64_t firstSerial);
};

namespace {

bool sameNumber(const Scalar &a, const Scalar &b) {
  if (a.kind() != b.kind())
    return false;
  if (!a.isFloat())
    return a.toInt() == b.toInt();
  double x = a.toDouble(), y = b.toDouble();
  return std::memcmp(&x, &y, sizeof x) == 0; // NaN equals NaN; 0.0 differs from -0.0
}

std::string numberText(const Scalar &n) {
  switch (n.kind()) {
  case Scalar::Kind::Bool:
    return n.toInt() ? "true" : "false";
  case Scalar::Kind::Integer:
    return fmt::format("{}", n.toInt());
  case Scalar::Kind::Float:
    break;
  }
  return fmt::format("{}", n.toDouble());
}

} // namespace

void CompiledStepState::normalize(std::span<const StepArgument> args,
                                  std::vector<StepArgument> &out) const {
  checkArity(numberParams.size(), args.size());
  out.assign(args.begin(), args.end());
  for (size_t i = 0; i < args.size(); ++i) {
    if (numberParams[i] && !args[i].is_number())
      throw Error(ErrorKind::Usage,
                  fmt::format("compiled step: argument {} is a number parameter, got a tensor", i));
    if (!numberParams[i] && args[i].is_number())
      out[i] = Tensor(scalarData(args[i].number(), args[i].number().dtype()));
    else if (!numberParams[i] && !args[i].tensor().defined())
      throw Error(ErrorKind::Usage,
                  fmt::format("compiled step: argument {} is an undefined tensor", i));
  }
}

std::string CompiledStepState::guardMiss(const Trace &t, std::span<const StepArgument> args) const {
  for (size_t i = 0; i < args.size(); ++i) {
    if (numberParams[i]) {
      if (!sameNumber(args[i].number(), t.numbers[i]))
        return fmt::format("argument {} changed from {} to {}", i, numberText(t.numbers[i]),
                           numberText(args[i].number()));
      continue;
    }
    const Tensor &x = args[i].tensor();
    const ir::TensorType &type = x.impl()->type();
    if (type != t.inputTypes[i])
      return fmt::format("input {} changed from {} to {}", i, t.inputTypes[i].str(), type.str());
    if (x.requires_grad() != t.inputRequiresGrad[i])
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
        (r.outputs.empty() && r.kind == ResultTarget::Fresh && r.gradOf.expired()))
      return "a tensor the step updates was destroyed";
  return "";
}

void CompiledStepState::replay(Trace &t, std::span<const StepArgument> args,
                               std::vector<Tensor> &results) {
  struct Empty {
    CompiledStepState &s;
    ~Empty() {
      s.in.clear();
      s.out.clear();
      s.reused.clear();
    }
  } empty{*this};
  for (const ParamSource &p : t.params) {
    switch (p.kind) {
    case ParamSource::Input:
      in.push_back(args[p.input].tensor().host());
      break;
    case ParamSource::Storage:
      in.push_back(p.storage.lock()->data);
      break;
    case ParamSource::Constant:
      in.push_back(p.constant);
      break;
    }
  }
  reused.resize(t.results.size());
  for (size_t k = 0; k < t.results.size(); ++k) {
    ResultTarget &r = t.results[k];
    if (r.kind == ResultTarget::WriteBack) {
      out.push_back(r.storage.lock()->data);
      continue;
    }
    reused[k] = reusableResult(r);
    out.push_back(reused[k] ? reused[k]->storage->data : ir::HostTensor());
  }
  replayStep(*t.step, in, out);
  results.clear();
  results.resize(t.outputs);
  for (size_t k = 0; k < t.results.size(); ++k) {
    ResultTarget &r = t.results[k];
    if (r.kind == ResultTarget::WriteBack) {
      ++r.storage.lock()->version;
      continue;
    }
    std::shared_ptr<TensorImpl> fresh;
    if (reused[k]) {
      fresh = std::move(reused[k]);
      ++fresh->storage->version; // a new value in the same buffer
    } else {
      fresh = makeLeaf(std::move(out[k]));
    }
    if (auto leaf = r.gradOf.lock())
      leaf->grad = fresh;
    for (size_t o : r.outputs)
      results[o] = Tensor(fresh);
    r.last = std::move(fresh);
  }
  ++replays;
  lastReason.clear();
}

std::vector<Tensor> CompiledStepState::trace(std::span<const StepArgument> args) {
  ++traced;
  uint64_t firstSerial = lastStorageSerial();
  Tracer tracer;
  std::vector<Tensor> results;
  {
    TracerScope scope(tracer);
    results = body(args);
    tracer.finishing = true;
    flushPending();
  }
  std::optional<Trace> t = plan(tracer, args, results, firstSerial);
  if (!t) {
    if (logRecompiles() && tracer.unreplayable != unreplayable) // once, not every call
      fmt::print(stderr, "kiln: recompile: compiled step not replayable: {}\n",
                 tracer.unreplayable);
    unreplayable = std::move(tracer.unreplayable);
    return results;
  }
  unreplayable.clear();
  if (traces.size() >= kMaxTraces)
    traces.erase(traces.begin());
  traces.push_back(std::move(*t));
  return results;
}

std::optional<Trace> CompiledStepState::plan(Tracer &tracer, std::span<const StepArgument> args,
                                             const std::vector<Tensor> &results,
                                             uint64_t firstSerial) {
  for (size_t o = 0; o < results.size(); ++o)
    if (!results[o].defined())
      tracer.notReplayable(fmt::format("the step's result {} is an undefined tensor", o));
  if (!tracer.record)
    tracer.notReplayable("the step computed nothing");
  if (!tracer.unreplayable.empty())
    return std::nullopt;
  const FlushRecord &r = *tracer.record;
  Trace t;
  t.step = r.step;
  t.outputs = results.size();
  std::vector<Tensor> inputs;
  for (const StepArgument &a : args) {
    inputs.push_back(a.tensor()); // undefined for a number parameter
    t.inputTypes.push_back(a.is_number() ? ir::TensorType{} : a.tensor().impl()->type());
    t.inputRequiresGrad.push_back(!a.is_number() && a.tensor().requires_grad());
    t.numbers.push_back(a.is_number() ? a.number() : Scalar(0));
  }
  for (const auto &leaf : r.params)
    t.params.push_back(paramSource(tracer, *leaf, inputs, firstSerial));
  std::vector<bool> returned(results.size(), false);
  for (size_t k = 0; k < r.results.size(); ++k) {
    const auto &s = r.results[k];
    ResultTarget target{r.writeBack[k] ? ResultTarget::WriteBack : ResultTarget::Fresh};
    if (r.writeBack[k]) {
      if (s->serial > firstSerial)
        tracer.notReplayable("the step updates a tensor it created");
      target.storage = s;
      t.results.push_back(std::move(target));
      continue;
    }
    for (size_t o = 0; o < results.size(); ++o)
      if (results[o].impl()->storage == s) {
        target.outputs.push_back(o);
        returned[o] = true;
      }
    for (const LeafGuard &g : tracer.leaves)
      if (auto impl = g.impl.lock(); impl && g.gradTouched && impl->grad && impl->grad->storage == s)
        target.gradOf = impl;
    if (target.outputs.empty() && target.gradOf.expired())
      tracer.notReplayable("the step keeps new tensors alive besides its results and .grad "
                           "(e.g. optimizer state made on the first call)");
    t.results.push_back(std::move(target));
  }
  for (size_t o = 0; o < results.size(); ++o)
    if (!returned[o])
      tracer.notReplayable(fmt::format("the step's result {} is not a value it computed", o));
  // Inputs are guarded by type, not identity: each call passes new ones.
  for (LeafGuard &g : tracer.leaves) {
    auto impl = g.impl.lock();
    bool isInput = false;
    for (const Tensor &x : inputs)
      isInput = isInput || (x.defined() && impl == x.impl());
    if (impl && (!isInput || g.gradTouched))
      t.leaves.push_back(std::move(g));
  }
  if (!tracer.unreplayable.empty())
    return std::nullopt;
  return t;
}

} // namespace detail

CompiledStep::CompiledStep(Body body, std::vector<bool> numberParams)
    : state_(std::make_shared<detail::CompiledStepState>()) {
  state_->body = std::move(body);
  state_->numberParams = std::move(numberParams);
}

std::vector<Tensor> CompiledStep::call(std::span<const StepArgument> arguments) {
  std::vector<Tensor> results;
  call(arguments, results);
  return results;
}

void CompiledStep::call(std::span<const StepArgument> arguments, std::vector<Tensor> &results) {
  detail::CompiledStepState &s = *state_;
  // The kept list, unless an outer call of this step (its body, tracing) holds it.
  std::vector<StepArgument> own;
  bool outer = !s.argsInUse;
  std::vector<StepArgument> &args = outer ? s.args : own;
  struct Release {
    detail::CompiledStepState &s;
    std::vector<StepArgument> &args;
    bool outer;
    ~Release() {
      args.clear();
      if (outer)
        s.argsInUse = false;
    }
  } release{s, args, outer};
  s.argsInUse = true;
  s.normalize(arguments, args);
  if (!detail::lazyMode()) {
    results = s.body(args); // eager: a plain call
    return;
  }
  sync();
  std::string firstMiss;
  for (detail::Trace &t : s.traces) {
    std::string miss = s.guardMiss(t, args);
    if (miss.empty())
      return s.replay(t, args, results);
    if (firstMiss.empty())
      firstMiss = std::move(miss);
  }
  if (!s.traces.empty())
    s.lastReason = firstMiss;
  else if (!s.unreplayable.empty())
    s.lastReason = "not replayable: " + s.unreplayable;
  else
    s.lastReason = "first call";
  if (!s.traces.empty() && detail::logRecompiles())
    fmt::print(stderr, "kiln: recompile: compiled step traced again: {}\n", s.lastReason);
  results = s.trace(args);
}

int64_t CompiledStep::replays() const { return state_->replays; }
int64_t CompiledStep::traces() const { return state_->traced; }
const std::string &CompiledStep::last_trace_reason() const { return state_->lastReason; }

} // namespace kiln
