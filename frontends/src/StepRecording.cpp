//===- StepRecording.cpp - The pending graph in recording order -----------===//
#include "StepRecording.h"

#include "RecordedRegion.h"

#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <atomic>

namespace kiln::detail {

namespace {

ScriptValue scriptValue(const GraphNode &v) {
  ScriptValue s;
  s.op = v.op;
  s.isLeaf = v.isLeaf;
  s.literal = v.literal;
  s.type = v.type;
  s.attrs = v.attrs;
  s.body = v.body;
  s.result = v.result;
  s.operands.reserve(v.operands.size());
  for (const auto &o : v.operands)
    s.operands.push_back(o->walkId);
  return s;
}

/// Whether the script's value `s` is the op `op` with these attributes on
/// operands at the same positions (its type aside).
bool sameOp(const ScriptValue &s, ir::OpKind op, const ir::AttrList &attrs,
            const OperandList &operands) {
  if (s.isLeaf || s.op != op || s.operands.size() != operands.size())
    return false;
  for (size_t i = 0; i < operands.size(); ++i)
    if (s.operands[i] != operands[i]->walkId)
      return false;
  return s.attrs == attrs;
}

/// Region bodies of the same structure (the same id), or none.
bool sameBody(const RegionBody *a, const RegionBody *b) {
  return a == b || (a && b && a->id == b->id);
}

bool sameValue(const ScriptValue &s, const GraphNode &v) {
  if (s.isLeaf != v.isLeaf)
    return false;
  if (v.isLeaf)
    return s.type == v.type && s.literal == v.literal;
  if (v.op == ir::OpKind::Fused) // a region's types follow from its body's structure
    return sameBody(s.body.get(), v.body.get()) && s.result == v.result &&
           sameOp(s, v.op, v.attrs, v.operands);
  return s.type == v.type && sameOp(s, v.op, v.attrs, v.operands);
}

std::string describeValue(const ScriptValue &s) {
  if (s.isLeaf)
    return fmt::format("{} {}", s.literal ? "a number" : "an input", s.type.str());
  if (s.body)
    return fmt::format("the region '{}' of {}", s.body->fn.name(), s.type.str());
  if (s.op == ir::OpKind::Fused)
    return fmt::format("result {} of a region, {}", s.result, s.type.str());
  return fmt::format("'{}' of {}", ir::opName(s.op), s.type.str());
}

} // namespace

std::string Divergence::describe() const {
  if (results)
    return "the step's values are the last step's, its results (the tensors still held) are not";
  if (recorded && expected)
    return fmt::format("value {} is {}, was {}", position, describeValue(*recorded),
                       describeValue(*expected));
  if (recorded)
    return fmt::format("the step goes on past the last step's {} values with {}", expectedSize,
                       describeValue(*recorded));
  return fmt::format("the step ends after {} values, the last step had {}", position, expectedSize);
}

void RecordedValues::clear() {
  values.clear();
  expected.reset();
  matches = false;
  divergence.reset();
}

uint64_t StepRecording::newEpoch() {
  // Unique in the process, so that one thread's marks never read as
  // current in another thread's recording.
  static std::atomic<uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

void StepRecording::addOp(const std::shared_ptr<GraphNode> &v, bool expected) {
  for (const auto &o : v->operands)
    position(o);
  v->walkId = int32_t(values_.size());
  v->walkMark = epoch_;
  values_.push_back(v);
  if (matches_ && !expected)
    compare(*v);
}

const ir::TensorType *StepRecording::expectedType(ir::OpKind op, const ir::AttrList &attrs,
                                                  const OperandList &operands) {
  if (!matches_)
    return nullptr;
  for (const auto &o : operands)
    position(o);
  const std::vector<ScriptValue> &script = expected_->script;
  if (!matches_ || values_.size() >= script.size())
    return nullptr;
  const ScriptValue &next = script[values_.size()];
  return sameOp(next, op, attrs, operands) ? &next.type : nullptr;
}

int32_t StepRecording::position(const std::shared_ptr<GraphNode> &operand) {
  if (operand->walkMark == epoch_)
    return operand->walkId;
  // Every op pending now was made since the last flush, so only a leaf
  // can be read for the first time.
  check(operand->isLeaf, "lazy: an operand that is an op of an earlier step");
  return addLeaf(operand);
}

int32_t StepRecording::addLeaf(const std::shared_ptr<GraphNode> &leaf) {
  // One buffer read as one type is one leaf (one parameter of the step).
  int32_t *same = nullptr;
  if (!leaf->literal) {
    same = findBuffer(leaf->buffer.raw());
    if (same && values_[size_t(*same)]->type == leaf->type) {
      leaf->walkId = *same;
      leaf->walkMark = epoch_;
      return *same;
    }
  }
  auto at = int32_t(values_.size());
  if (!leaf->literal) {
    if (same)
      *same = at;
    else
      addBuffer(leaf->buffer.raw(), at);
  }
  leaf->walkId = at;
  leaf->walkMark = epoch_;
  values_.push_back(leaf);
  if (matches_)
    compare(*leaf);
  return at;
}

void StepRecording::compare(const GraphNode &v) {
  const std::vector<ScriptValue> &script = expected_->script;
  auto at = size_t(v.walkId);
  if (at >= script.size() || !sameValue(script[at], v))
    diverge(v);
}

void StepRecording::diverge(const GraphNode &v) {
  matches_ = false;
  const std::vector<ScriptValue> &script = expected_->script;
  auto at = size_t(v.walkId);
  divergence_ = Divergence{.position = at,
                           .expectedSize = script.size(),
                           .expected = at < script.size() ? &script[at] : nullptr,
                           .recorded = scriptValue(v)};
}

int32_t *StepRecording::findBuffer(const void *buffer) {
  if (buffers_.size() > kLinearScan) {
    auto it = index_.find(buffer);
    return it == index_.end() ? nullptr : &buffers_[it->second].position;
  }
  for (BufferLeaf &b : buffers_)
    if (b.buffer == buffer)
      return &b.position;
  return nullptr;
}

void StepRecording::addBuffer(const void *buffer, int32_t position) {
  buffers_.push_back({buffer, position});
  if (buffers_.size() == kLinearScan + 1)
    for (size_t i = 0; i < buffers_.size(); ++i)
      index_[buffers_[i].buffer] = i;
  else if (buffers_.size() > kLinearScan + 1)
    index_[buffer] = buffers_.size() - 1;
}

void StepRecording::takeInto(RecordedValues &out) {
  out.clear();
  std::swap(out.values, values_); // values_ keeps the emptied list's memory
  out.epoch = epoch_;
  out.expected = std::move(expected_);
  out.matches = matches_;
  out.divergence = std::move(divergence_);
  forgetScript();
  buffers_.clear();
  if (!index_.empty())
    index_.clear();
  epoch_ = newEpoch();
}

void StepRecording::keepSpares(std::vector<std::shared_ptr<GraphNode>> &values) {
  // The values are computed: an op no longer holds its operands (the other
  // values of the step, the buffers of its leaves).
  for (const std::shared_ptr<GraphNode> &v : values)
    if (!v->isLeaf)
      v->operands.clear();
  // A leaf belongs to its storage; a node held elsewhere (a live tensor's
  // grad_fn) is not free to take.
  for (std::shared_ptr<GraphNode> &v : values)
    if (v->isLeaf || v.use_count() > 1)
      v.reset();
  spares_.swap(values);
  values.clear(); // the spares of the step before, not taken
}

void StepRecording::expect(std::shared_ptr<CachedStep> step) {
  if (!values_.empty())
    return;
  matches_ = step != nullptr;
  expected_ = std::move(step);
}

void StepRecording::discard(std::shared_ptr<CachedStep> step) {
  RecordedValues dropped;
  takeInto(dropped);
  expect(std::move(step));
}

void StepRecording::forgetScript() {
  expected_.reset();
  matches_ = false;
  divergence_.reset();
}

void resultPositions(const RecordedValues &recorded,
                     const std::vector<std::shared_ptr<Storage>> &targets,
                     std::vector<int32_t> &out) {
  out.clear();
  for (const auto &s : targets) {
    const GraphNode &v = *s->pending;
    check(v.walkMark == recorded.epoch, "lazy: a pending value that was not recorded");
    out.push_back(v.walkId);
  }
}

bool matchesStep(RecordedValues &recorded, const std::vector<int32_t> &results) {
  if (!recorded.matches)
    return false;
  const CachedStep &step = *recorded.expected;
  if (recorded.values.size() < step.script.size()) {
    size_t at = recorded.values.size();
    recorded.divergence = Divergence{
        .position = at, .expectedSize = step.script.size(), .expected = &step.script[at]};
    return false;
  }
  if (results != step.resultPositions) {
    recorded.divergence = Divergence{.expectedSize = step.script.size(), .results = true};
    return false;
  }
  return true;
}

void structureKey(const RecordedValues &recorded, const std::vector<int32_t> &results,
                  StructureKey &key) {
  key.clear();
  for (const auto &v : recorded.values) {
    if (v->isLeaf) {
      key.word(uint64_t(v->literal ? KeyTag::Literal : KeyTag::Leaf));
      key.type(v->type);
      continue;
    }
    key.word(uint64_t(KeyTag::Op));
    key.word(uint64_t(v->op));
    key.word(v->operands.size());
    for (const auto &o : v->operands)
      key.word(uint64_t(o->walkId));
    key.type(v->type);
    key.attrs(v->attrs);
    if (v->op == ir::OpKind::Fused) { // a region by its body's id, or a result of one
      key.word(v->body ? v->body->id : 0);
      key.word(uint64_t(v->result));
    }
  }
  key.word(uint64_t(KeyTag::Results));
  key.word(results.size());
  for (int32_t r : results)
    key.word(uint64_t(r));
}

std::vector<ScriptValue> scriptOf(const RecordedValues &recorded) {
  std::vector<ScriptValue> script;
  script.reserve(recorded.values.size());
  for (const auto &v : recorded.values)
    script.push_back(scriptValue(*v));
  return script;
}

} // namespace kiln::detail
