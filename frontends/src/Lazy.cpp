//===- Lazy.cpp - Pending values, the flush and the step program cache ----===//
//
// A flush builds one function from everything pending: parameters are the
// buffers read (deduplicated, in first-visit order, so that the same code
// gives the same function every step), results are the pending storages.
// Numbers written in expressions become parameters too, not constants: a
// learning-rate schedule or Adam's bias correction then reuses the program.
//
//===----------------------------------------------------------------------===//
#include "Lazy.h"
#include "ChainTeardown.h"
#include "LazyState.h"
#include "RecordedRegion.h"
#include "kiln/compiler/Rebuild.h"
#include "kiln/ir/OpDef.h"
#include "kiln/ir/Printer.h"
#include "kiln/ir/StructureEncoding.h"
#include "kiln/runtime/Interpreter.h"
#include "kiln/runtime/Program.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace kiln::detail {

using ir::HostTensor;
using ir::ValueId;

GraphNode::~GraphNode() {
  ChainTeardown<GraphNode>::release(operands,
                                    [](std::shared_ptr<GraphNode> &o) { return std::move(o); });
  dropInputs();
}

void GraphNode::dropInputs() {
  ChainTeardown<TensorImpl>::release(inputs,
                                     [](GradInput &input) { return std::move(input.impl); });
  inputs.clear();
}

std::string_view GraphNode::opName() const {
  if (!body)
    return ir::opName(op);
  const ir::Function &fn = body->fn;
  ir::ValueId r = fn.results().at(size_t(result));
  return fn.isParam(r) ? ir::opName(op) : ir::opName(fn.defOf(r).op);
}

namespace {
/// This thread's LazyState, reached with one thread-pointer-relative load:
/// initial-exec TLS (8 bytes of the static TLS block) instead of a
/// __tls_get_addr call per read, which showed in the per-op profile.
[[gnu::tls_model("initial-exec")]] thread_local LazyState *tCurrentState = nullptr;

/// Owns the state and ends it with its thread.
struct LazyStateOwner {
  LazyState state;
  ~LazyStateOwner() { tCurrentState = nullptr; }
};
} // namespace

LazyState &lazyState() {
  // One per thread: each thread records and flushes its own steps, with its
  // own program cache (a Program's buffers serve one run at a time); the JIT
  // and oneDNN caches under the programs are shared and locked.
  if (LazyState *s = tCurrentState)
    return *s;
  thread_local LazyStateOwner owner;
  tCurrentState = &owner.state;
  return owner.state;
}

bool lazyMode() { return execution() != Execution::Eager; }

namespace {
[[gnu::tls_model("initial-exec")]] thread_local TraceObserver *gObserver = nullptr;
} // namespace

void setTraceObserver(TraceObserver *observer) { gObserver = observer; }
TraceObserver *traceObserver() { return gObserver; }

// ---- Recording ----------------------------------------------------------------------

void checkPendingHere(const Storage &s) {
  if (s.pending && s.owner != &lazyState())
    throw Error(ErrorKind::Usage,
                "a tensor computed by another thread's pending step is used before that thread "
                "finished it; call kiln::sync() in the thread that made it before sharing it");
}

std::shared_ptr<GraphNode> operandValue(const TensorImpl &impl) {
  Storage &s = *impl.storage;
  if (s.error)
    throw *s.error;
  checkPendingHere(s);
  if (s.pending)
    return s.pending;
  if (!s.leaf) {
    auto leaf = makeRecycled<GraphNode>();
    leaf->type = s.type;
    leaf->buffer = s.data;
    leaf->isLeaf = true;
    leaf->literal = impl.literal;
    leaf->constant = s.constant;
    leaf->name = impl.name;
    leaf->owner = impl.storage;
    s.leaf = std::move(leaf);
  }
  return s.leaf;
}

OperandList operandValues(std::span<const Tensor> operands) {
  OperandList values;
  values.reserve(operands.size());
  TraceObserver *observer = traceObserver();
  for (const Tensor &t : operands) {
    values.push_back(operandValue(*t.impl()));
    if (observer && !t.impl()->gradFn)
      observer->onLeafUse(t.impl());
  }
  return values;
}

namespace {
/// A node for the op recorded next: the last step's at this position when
/// it is free (StepRecording::takeSpare), its fields set again; else a new
/// one. The fields an op node's later life sets, reset.
std::shared_ptr<GraphNode> nextNode(StepRecording &recording, ir::OpKind op,
                                    std::shared_ptr<const RegionBody> body, int32_t result) {
  std::shared_ptr<GraphNode> v = recording.takeSpare();
  if (!v)
    v = makeRecycled<GraphNode>();
  else {
    v->name.reset();
    v->inputs.clear();
    v->released = false;
  }
  v->op = op;
  v->body = std::move(body);
  v->result = result;
  return v;
}
} // namespace

std::shared_ptr<GraphNode> makeOp(ir::OpKind op, ir::AttrList attrs, OperandList operands,
                                  ir::TensorType type, bool expected) {
  StepRecording &recording = lazyState().recording;
  std::shared_ptr<GraphNode> v = nextNode(recording, op, nullptr, 0);
  v->attrs = std::move(attrs);
  v->operands = std::move(operands);
  v->type = std::move(type);
  recording.addOp(v, expected);
  return v;
}

std::shared_ptr<GraphNode> makeRegion(std::shared_ptr<const RegionBody> body,
                                      OperandList operands) {
  StepRecording &recording = lazyState().recording;
  const ir::TensorType &type = body->resultTypes[0];
  std::shared_ptr<GraphNode> v = nextNode(recording, ir::OpKind::Fused, std::move(body), 0);
  v->attrs = {};
  v->type = type;
  v->operands = std::move(operands);
  recording.addOp(v);
  return v;
}

std::shared_ptr<GraphNode> makeRegionResult(const std::shared_ptr<GraphNode> &region,
                                            int32_t result) {
  StepRecording &recording = lazyState().recording;
  std::shared_ptr<GraphNode> v = nextNode(recording, ir::OpKind::Fused, nullptr, result);
  v->attrs = {};
  v->type = region->body->resultTypes.at(size_t(result));
  v->operands.clear();
  v->operands.push_back(region);
  recording.addOp(v);
  return v;
}

std::shared_ptr<GraphNode> makeGradFn(ir::OpKind op, ir::AttrList attrs, ir::TensorType type) {
  auto v = makeRecycled<GraphNode>();
  v->op = op;
  v->attrs = std::move(attrs);
  v->type = std::move(type);
  return v;
}

void markNotConstant(Storage &s) {
  s.constant = false;
  if (s.leaf) // conservative for a pending op that read the old values
    s.leaf->constant = false;
}

namespace {
/// A storage's pending value is always an op, so that it has its own result
/// (an identity reshape copies a buffer read as is).
std::shared_ptr<GraphNode> asOp(std::shared_ptr<GraphNode> value) {
  if (!value->isLeaf)
    return value;
  ir::TensorType type = value->type;
  return makeOp(ir::OpKind::Reshape, {}, {std::move(value)}, std::move(type));
}
} // namespace

void setPending(const std::shared_ptr<Storage> &storage, std::shared_ptr<GraphNode> value) {
  LazyState &st = lazyState();
  checkPendingHere(*storage); // an in-place update of another thread's pending tensor
  storage->pending = asOp(std::move(value));
  markNotConstant(*storage);
  storage->owner = &st;
  storage->error.reset();
  ++st.opsSinceFlush;
  if (storage->queued)
    return;
  storage->queued = true;
  st.queue.push_back(storage);
  if (st.queue.size() >= st.compactAt) {
    std::erase_if(st.queue, [](const std::shared_ptr<Storage> &s) { return s.use_count() == 1; });
    st.compactAt = std::max<size_t>(1024, 2 * st.queue.size());
  }
}

std::shared_ptr<TensorImpl> makePending(std::shared_ptr<GraphNode> value) {
  auto impl = makeRecycled<TensorImpl>();
  impl->storage = makeRecycled<Storage>(value->type);
  setPending(impl->storage, std::move(value));
  return impl;
}

bool anyPending() { return !lazyState().queue.empty(); }

// ---- Building the step function -------------------------------------------------------

namespace {

/// Value names of a step function: the program's own where it gave them
/// (a parameter's, a named tensor's), `arg`/`lit` for other parameters,
/// numbered where they repeat.
class StepValueNames {
public:
  std::string forLeaf(const GraphNode &v) {
    return unique(v.name ? *v.name : v.literal ? "lit" : "arg");
  }
  std::string unique(const std::string &base) {
    int &next = counters_[base];
    std::string name = next == 0 ? base : fmt::format("{}{}", base, next);
    ++next;
    while (!names_.insert(name).second)
      name = fmt::format("{}{}", base, next++);
    return name;
  }

private:
  std::unordered_set<std::string> names_;
  std::unordered_map<std::string, int> counters_;
};

/// Marks the recorded values the results need (operands come before
/// their users in the recording).
void liveValues(const RecordedValues &recorded, const std::vector<int32_t> &results,
                std::vector<bool> &live) {
  live.assign(recorded.values.size(), false);
  for (int32_t r : results)
    live[size_t(r)] = true;
  for (size_t i = recorded.values.size(); i-- > 0;)
    if (live[i])
      for (const auto &o : recorded.values[i]->operands)
        live[size_t(o->walkId)] = true;
}

} // namespace

std::vector<ValueId> inlineRegion(ir::Function &fn, const ir::Function &body,
                                  const std::vector<ValueId> &operands) {
  std::vector<ValueId> map(body.numValues());
  for (size_t i = 0; i < operands.size(); ++i)
    map[size_t(body.params()[i].id)] = operands[i];
  for (const ir::Node &n : body.nodes())
    compiler::cloneNode(fn, body, n, map);
  std::vector<ValueId> results;
  for (ValueId r : body.results())
    results.push_back(map[size_t(r.id)]);
  return results;
}

StepFunction buildStepFunction(const RecordedValues &recorded,
                               const std::vector<int32_t> &results) {
  StepFunction out;
  ir::Function &fn = out.fn;
  StepValueNames names;
  auto mix = [&](uint64_t w) { out.structure = (out.structure ^ w) * 1099511628211ull; };
  std::vector<bool> live;
  liveValues(recorded, results, live);
  std::vector<ValueId> ids(recorded.values.size());
  // The results of regions with several, by the region's position.
  std::unordered_map<size_t, std::vector<ValueId>> regionResults;
  for (size_t i = 0; i < recorded.values.size(); ++i) {
    if (!live[i])
      continue;
    const GraphNode *v = recorded.values[i].get();
    if (v->isLeaf) {
      ids[i] = fn.addParam(v->type, names.forLeaf(*v));
      out.paramPositions.push_back(int32_t(i));
      mix(v->literal ? 0xA11 : 0xB0F);
      continue;
    }
    std::vector<ValueId> operands;
    mix(uint64_t(v->op));
    for (const auto &o : v->operands) {
      operands.push_back(ids[size_t(o->walkId)]);
      mix(uint64_t(o->walkId));
    }
    if (v->body) {
      for (const ir::Node &n : v->body->fn.nodes())
        mix(uint64_t(n.op));
      std::vector<ValueId> results = inlineRegion(fn, v->body->fn, operands);
      ids[i] = results[0];
      if (results.size() > 1)
        regionResults[i] = std::move(results);
    } else if (v->op == ir::OpKind::Fused) { // a further result of a region
      mix(uint64_t(v->result));
      ids[i] = regionResults.at(size_t(v->operands[0]->walkId)).at(size_t(v->result));
    } else {
      size_t k = fn.appendNode(v->op, std::move(operands), v->attrs, {v->type});
      ids[i] = fn.nodes()[k].result();
    }
    if (v->name)
      fn.value(ids[i]).name = names.unique(*v->name);
  }
  std::vector<ValueId> resultIds;
  for (int32_t r : results)
    resultIds.push_back(ids[size_t(r)]);
  fn.setResults(resultIds);
  mix(results.size());
  return out;
}

// ---- Running a step -------------------------------------------------------------------

namespace {

/// Read on every compile (rare), so that tests and tools can set it late.
bool logRecompiles() {
  const char *v = std::getenv("KILN_LOG");
  return v && std::strstr(v, "recompile");
}

/// Exact equality of attribute values (dense ones by type and bytes), as
/// the step key sees them.
bool sameAttr(const ir::Attr &a, const ir::Attr &b) {
  StructureKey x, y;
  ir::encodeAttr(x, a);
  ir::encodeAttr(y, b);
  return x == y;
}

/// The first node of `now` whose attributes or result type differ from the
/// same node of `was` (the same untyped structure), said as a reason.
std::optional<std::string> changedNode(const ir::Function &now, const ir::Function &was) {
  if (now.nodes().size() != was.nodes().size())
    return std::nullopt;
  for (size_t i = 0; i < now.nodes().size(); ++i) {
    const ir::Node &a = now.nodes()[i], &b = was.nodes()[i];
    if (a.op != b.op || a.results.size() != b.results.size())
      return std::nullopt;
    const std::string &name = now.value(a.result()).name;
    std::string what = name.empty() ? fmt::format("'{}' (node {})", ir::opName(a.op), i)
                                    : fmt::format("'{}' (%{})", ir::opName(a.op), name);
    if (now.type(a.result()) != was.type(b.result()))
      return fmt::format("{} now gives {}, was {}", what, now.type(a.result()).str(),
                         was.type(b.result()).str());
    for (const auto &[attr, value] : a.attrs.entries()) {
      const ir::Attr *old = b.attrs.find(attr);
      if (!old || !sameAttr(*old, value))
        return fmt::format("{} has {} = {}, was {}", what, attr, ir::printAttr(value),
                           old ? ir::printAttr(*old) : "absent");
    }
    if (a.attrs.entries().size() != b.attrs.entries().size())
      return fmt::format("{} lost an attribute", what);
  }
  return std::nullopt;
}

/// Why a step is compiled, for KILN_LOG=recompile.
std::string compileReason(const CachedStep &step) {
  LazyState &st = lazyState();
  auto it = st.byStructure.find(step.structureKey);
  std::shared_ptr<CachedStep> previous = it == st.byStructure.end() ? nullptr : it->second.lock();
  if (!previous || previous.get() == &step)
    return fmt::format("first compile of this step ({} ops, {} inputs)", step.fn.nodes().size(),
                       step.fn.params().size());
  const ir::Function &before = previous->fn;
  for (size_t i = 0; i < step.fn.params().size() && i < before.params().size(); ++i) {
    const ir::TensorType &now = step.fn.type(step.fn.params()[i]);
    const ir::TensorType &was = before.type(before.params()[i]);
    if (now != was)
      return fmt::format("input %{} changed from {} to {}", step.fn.value(step.fn.params()[i]).name,
                         was.str(), now.str());
  }
  return changedNode(step.fn, before).value_or("attributes or constants changed");
}

void compile(CachedStep &step) {
  LazyState &st = lazyState();
  if (const char *v = std::getenv("KILN_LOG"); v && std::strstr(v, "step-ir"))
    fmt::print(stderr, "kiln: compiling step:\n{}", ir::print(step.fn));
  std::string reason = logRecompiles() ? compileReason(step) : std::string();
  if (!step.leftLastStep.empty())
    reason += fmt::format("; as recorded, it left the step before it at: {}", step.leftLastStep);
  step.program = runtime::Program::compile(step.fn, {.checkNumerics = check_numerics()});
  ++st.stats.compilations;
  if (logRecompiles())
    fmt::print(stderr, "kiln: recompile: {}\n", reason);
  const ir::Function &opt = step.program->optimized();
  for (ValueId r : opt.results()) {
    while (!opt.isParam(r) && opt.defOf(r).op == ir::OpKind::Reshape)
      r = opt.defOf(r).operands[0];
    step.resultParam.push_back(opt.isParam(r) ? opt.value(r).index : -1);
  }
}

/// Program::run copies results one by one after all kernels ran; a result
/// that is (a view of) an input must not be read after another result was
/// copied into that input's buffer.
bool copyOrderMatters(const CachedStep &step, const std::vector<HostTensor> &inputs,
                      const std::vector<HostTensor> &outputs) {
  for (size_t k = 0; k < step.resultParam.size(); ++k) {
    int p = step.resultParam[k];
    if (p < 0)
      continue;
    for (size_t i = 0; i < outputs.size(); ++i)
      if (i != k && outputs[i].raw() == inputs[size_t(p)].raw())
        return true;
  }
  return false;
}

void runCompiled(CachedStep &step, const std::vector<HostTensor> &inputs,
                 std::vector<HostTensor> &outputs) {
  for (size_t k = 0; k < outputs.size(); ++k) // the program writes every element
    if (!outputs[k].defined())
      outputs[k] = HostTensor::uninitialized(step.fn.type(step.fn.results()[k]));
  if (!copyOrderMatters(step, inputs, outputs)) {
    step.program->run(inputs, outputs);
    return;
  }
  std::vector<HostTensor> fresh = step.program->run(inputs);
  for (size_t k = 0; k < outputs.size(); ++k)
    std::memcpy(outputs[k].raw(), fresh[k].raw(), fresh[k].bytes());
}

void runInterpreted(const CachedStep &step, const std::vector<HostTensor> &inputs,
                    std::vector<HostTensor> &outputs) {
  std::vector<HostTensor> results = runtime::interpret(step.fn, inputs);
  // The interpreter may return an input (or one value twice) as is: copy
  // those, so that no two storages share a buffer.
  std::unordered_set<const void *> taken;
  for (const HostTensor &in : inputs)
    taken.insert(in.raw());
  for (HostTensor &r : results)
    if (!taken.insert(r.raw()).second)
      r = r.clone();
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (outputs[k].defined())
      std::memcpy(outputs[k].raw(), results[k].raw(), results[k].bytes());
    else
      outputs[k] = std::move(results[k]);
  }
}

/// On a miss: a new cache entry for the recording in `scratch`, whose key
/// is built.
std::shared_ptr<CachedStep> buildStep(FlushScratch &scratch) {
  StepFunction built = buildStepFunction(scratch.recorded, scratch.resultPositions);
  auto step = std::make_shared<CachedStep>();
  step->fn = std::move(built.fn);
  step->structureKey = built.structure;
  step->key = scratch.key;
  step->script = scriptOf(scratch.recorded);
  step->paramPositions = std::move(built.paramPositions);
  step->resultPositions = scratch.resultPositions;
  if (logRecompiles() && scratch.recorded.divergence)
    step->leftLastStep = scratch.recorded.divergence->describe();
  lazyState().cache.add(step);
  return step;
}

/// The step the recording in `scratch` is: the last one, recognised while
/// recorded; or, on the full path, the cached step of its key, or a new one.
std::shared_ptr<CachedStep> findStep(LazyState &st, FlushScratch &scratch) {
  RecordedValues &recorded = scratch.recorded;
  resultPositions(recorded, scratch.record.results, scratch.resultPositions);
  if (matchesStep(recorded, scratch.resultPositions)) {
    ++st.stats.recognised;
    return recorded.expected;
  }
  structureKey(recorded, scratch.resultPositions, scratch.key);
  if (std::shared_ptr<CachedStep> step = st.cache.find(scratch.key))
    return step;
  return buildStep(scratch);
}

/// Whether a structure not compiled yet is interpreted this time
/// (compile_after()).
bool interpretBeforeCompiling(CachedStep &step) {
  int after = compile_after();
  if (after != kCompileAfterAuto)
    return step.sightings <= int64_t(after);
  if (step.sightings > 1)
    return false;
  if (!step.interpretSeconds)
    step.interpretSeconds = runtime::estimatedInterpretSeconds(step.fn);
  return *step.interpretSeconds < kInterpretFirstSeconds;
}

} // namespace

void replayStep(CachedStep &step, std::vector<HostTensor> &inputs, std::vector<HostTensor> &outputs,
                bool interpretOnly) {
  LazyState &st = lazyState();
  ++st.stats.flushes;
  ++step.sightings;
  bool interpret = interpretOnly || execution() == Execution::Interpreted ||
                   (!step.program && !check_numerics() && interpretBeforeCompiling(step));
  if (interpret) {
    ++st.stats.interpreted;
    runInterpreted(step, inputs, outputs);
    return;
  }
  if (!step.program) {
    compile(step);
    st.byStructure[step.structureKey] = step.weak_from_this();
    if (st.byStructure.size() > 4 * st.cache.capacity()) // forget evicted structures
      std::erase_if(st.byStructure, [](const auto &entry) { return entry.second.expired(); });
  }
  runCompiled(step, inputs, outputs);
}

namespace {

/// Fills `scratch.record.results` with the storages to compute (the queue's
/// live, still pending entries) and empties the queue.
void takeTargets(LazyState &st, FlushScratch &scratch) {
  for (std::shared_ptr<Storage> &s : st.queue) {
    s->queued = false;
    if (s.use_count() > 1 && s->pending) // not a temporary that no tensor holds
      scratch.record.results.push_back(std::move(s));
  }
  st.queue.clear();
  st.opsSinceFlush = 0;
}

/// Runs the flush whose targets `scratch` holds.
void flushTargets(LazyState &st, FlushScratch &scratch, bool interpretOnly) {
  FlushRecord &record = scratch.record;
  const std::vector<std::shared_ptr<Storage>> &targets = record.results;
  std::shared_ptr<CachedStep> step = findStep(st, scratch);
  st.last = step;
  st.lastEpoch = scratch.recorded.epoch;
  for (int32_t position : step->paramPositions) {
    const std::shared_ptr<GraphNode> &leaf = scratch.recorded.values[size_t(position)];
    record.params.push_back(leaf);
    scratch.inputs.push_back(leaf->buffer);
  }
  for (const auto &s : targets) {
    record.writeBack.push_back(s->data.defined());
    scratch.outputs.push_back(s->data);
  }
  try {
    replayStep(*step, scratch.inputs, scratch.outputs, interpretOnly);
  } catch (const Error &e) {
    auto error = std::make_shared<const Error>(e);
    for (const auto &s : targets) {
      s->pending.reset();
      s->error = error;
    }
    st.recording.keepSpares(scratch.recorded.values);
    throw;
  }
  for (size_t k = 0; k < targets.size(); ++k) {
    Storage &s = *targets[k];
    if (!record.writeBack[k]) {
      s.data = std::move(scratch.outputs[k]);
      s.leaf.reset();
    }
    s.pending.reset();
  }
  st.recording.keepSpares(scratch.recorded.values);
  record.step = std::move(step);
  if (gObserver)
    gObserver->onFlushed(record);
}

} // namespace

void FlushScratch::clear() {
  recorded.clear();
  record.params.clear();
  record.results.clear();
  record.writeBack.clear();
  record.step.reset();
  inputs.clear();
  outputs.clear();
}

void flushPending(bool interpretOnly) {
  LazyState &st = lazyState();
  if (st.queue.empty()) {
    if (!st.recording.empty()) // values no tensor holds (nor ever will)
      st.recording.discard(st.last);
    return;
  }
  if (gObserver && !gObserver->onFlush())
    return;
  // The thread's lists, emptied (not freed) after each flush; a flush that
  // starts while one runs, if ever, gets its own.
  FlushScratch nested;
  FlushScratch &scratch = st.scratch.inUse ? nested : st.scratch;
  scratch.inUse = true;
  struct Release {
    FlushScratch &s;
    ~Release() {
      s.clear();
      s.inUse = false;
    }
  } release{scratch};
  takeTargets(st, scratch);
  // The values recorded since the last flush are this step's; the next
  // recording is compared with the step that runs now.
  st.recording.takeInto(scratch.recorded);
  struct Expect {
    LazyState &st;
    ~Expect() { st.recording.expect(st.last); }
  } expect{st};
  if (!scratch.record.results.empty())
    flushTargets(st, scratch, interpretOnly);
}

} // namespace kiln::detail
