//===- RecordedRegion.cpp - Ops recorded as one node ------------------===//
#include "RecordedRegion.h"

#include "InPlace.h"
#include "LazyState.h"
#include "kiln/ir/Function.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace kiln::detail {

std::shared_ptr<const RegionBody> makeRegionBody(ir::Function fn) {
  struct Known {
    uint64_t id;
    std::weak_ptr<const RegionBody> body;
  };
  // Ids are never reused: past kMaxKnown structures the table starts over
  // and the structures it forgot get new ids (their steps new keys).
  constexpr size_t kMaxKnown = size_t(1) << 14;
  static std::mutex mutex;
  static std::unordered_map<std::string, Known> known;
  static uint64_t lastId = 0;
  std::string key = fn.name() + '\n' + fn.structuralKey();
  std::lock_guard lock(mutex);
  if (known.size() >= kMaxKnown && !known.contains(key))
    known.clear();
  auto [it, fresh] = known.try_emplace(std::move(key), Known{0, {}});
  if (fresh)
    it->second.id = ++lastId;
  if (std::shared_ptr<const RegionBody> same = it->second.body.lock())
    return same;
  std::vector<ir::TensorType> resultTypes;
  for (ir::ValueId r : fn.results())
    resultTypes.push_back(fn.type(r));
  auto made = std::make_shared<const RegionBody>(
      RegionBody{std::move(fn), std::move(resultTypes), it->second.id});
  it->second.body = made;
  return made;
}

namespace {

/// The thread's recording, pending values and trace observer, set aside
/// while a body is captured: the capture records apart from the step and
/// tells a kiln::compile trace nothing.
class SetAside {
public:
  explicit SetAside(LazyState &st) : st_(st), observer_(traceObserver()), last_(st.last) {
    std::swap(recording_, st.recording);
    std::swap(queue_, st.queue);
    std::swap(opsSinceFlush_, st.opsSinceFlush);
    setTraceObserver(nullptr);
  }
  ~SetAside() {
    std::swap(recording_, st_.recording);
    std::swap(queue_, st_.queue);
    std::swap(opsSinceFlush_, st_.opsSinceFlush);
    st_.last = std::move(last_);
    setTraceObserver(observer_);
  }
  SetAside(const SetAside &) = delete;
  SetAside &operator=(const SetAside &) = delete;

private:
  LazyState &st_;
  TraceObserver *observer_;
  std::shared_ptr<CachedStep> last_;
  StepRecording recording_;
  std::vector<std::shared_ptr<Storage>> queue_;
  int64_t opsSinceFlush_ = 0;
};

/// `update` on placeholders of the operands' types, recorded apart and
/// made a function of them; null when it computes no new value (it
/// returns an operand, or it read a value and so flushed).
std::shared_ptr<const RegionBody>
captureBody(const std::string &name, std::span<const Tensor> operands, const RegionCode &update) {
  SetAside aside(lazyState());
  std::vector<Tensor> placeholders;
  for (const Tensor &o : operands)
    placeholders.emplace_back(ir::HostTensor::uninitialized(o.impl()->type())); // never read
  Tensor result;
  {
    NoGradGuard noGrad;
    result = update(placeholders);
  }
  LazyState &st = lazyState();
  const std::shared_ptr<GraphNode> &value = result.impl()->storage->pending;
  RecordedValues recorded;
  st.recording.takeInto(recorded);
  if (!value || value->walkMark != recorded.epoch)
    return nullptr;
  StepFunction recordedFn = buildStepFunction(recorded, {value->walkId});
  ir::Function body(name);
  std::vector<ir::ValueId> params, args;
  for (const Tensor &p : placeholders)
    params.push_back(body.addParam(p.impl()->type()));
  for (int32_t position : recordedFn.paramPositions) {
    const GraphNode *leaf = recorded.values[size_t(position)].get();
    auto operand = std::find_if(placeholders.begin(), placeholders.end(), [&](const Tensor &p) {
      return p.impl()->storage->leaf.get() == leaf;
    });
    check(operand != placeholders.end(),
          "a recorded region reads a number or tensor that is not one of its operands");
    args.push_back(params[size_t(operand - placeholders.begin())]);
  }
  body.setResults(inlineRegion(body, recordedFn.fn, args));
  return makeRegionBody(std::move(body));
}

} // namespace

CapturedBody CapturedBody::capture(const std::string &name, std::span<const Tensor> operands,
                                   const RegionCode &code) {
  CapturedBody c;
  c.body = captureBody(name, operands, code);
  for (const Tensor &o : operands)
    c.types.push_back(o.impl()->type());
  return c;
}

bool CapturedBody::fits(std::span<const Tensor> operands) const {
  return std::equal(types.begin(), types.end(), operands.begin(), operands.end(),
                    [](const ir::TensorType &t, const Tensor &o) { return t == o.impl()->type(); });
}

RecordedRegion::RecordedRegion(std::string name, Update update)
    : name_(std::move(name)), update_(std::move(update)) {}

const CapturedBody &RecordedRegion::captured(size_t slot, const Tensor &target,
                                             std::span<const Tensor> operands) {
  if (slot >= slots_.size())
    slots_.resize(slot + 1);
  CapturedBody &c = slots_[slot];
  if (c.fits(operands))
    return c;
  c = CapturedBody::capture(name_, operands, update_);
  if (c.body && c.body->resultTypes[0] != target.impl()->type())
    c.body = nullptr; // converted on the per-op path (or refused there)
  return c;
}

void RecordedRegion::assign(size_t slot, Tensor &target, std::span<const Tensor> operands,
                            std::string_view what) {
  check(target.defined() && std::all_of(operands.begin(), operands.end(),
                                        [](const Tensor &o) { return o.defined(); }),
        "a recorded region's target or operand is undefined");
  if (lazyMode() && !is_grad_enabled()) {
    if (const CapturedBody &c = captured(slot, target, operands); c.body) {
      assignPending(*target.impl(), makeRegion(c.body, operandValues(operands)));
      return;
    }
  }
  updateInPlace(target, what, operands, [&] { return update_(operands); });
}

RecordedFunction::RecordedFunction(std::string name, Function function)
    : name_(std::move(name)), function_(std::move(function)) {}

const CapturedBody &RecordedFunction::captured(std::span<const Tensor> operands) {
  for (const CapturedBody &c : known_)
    if (c.fits(operands))
      return c;
  // Bounded: a function called on ever new types must not grow it forever.
  constexpr size_t kMaxKnown = 16;
  if (known_.size() >= kMaxKnown)
    known_.clear();
  return known_.emplace_back(CapturedBody::capture(name_, operands, function_));
}

Tensor RecordedFunction::operator()(std::span<const Tensor> operands) {
  check(std::all_of(operands.begin(), operands.end(), [](const Tensor &o) { return o.defined(); }),
        "a recorded function's operand is undefined");
  if (!lazyMode())
    return function_(operands);
  const CapturedBody &c = captured(operands);
  if (!c.body)
    return function_(operands);
  std::shared_ptr<TensorImpl> impl = makePending(makeRegion(c.body, operandValues(operands)));
  if (wantsGradFn(operands, impl->type().dtype))
    setGradFn(*impl, impl->storage->pending, operands);
  return Tensor(std::move(impl));
}

} // namespace kiln::detail
