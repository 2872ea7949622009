//===- HistoryPlan.cpp - A backward()'s history by recorded position ------===//
#include "HistoryPlan.h"

#include "LazyState.h"

namespace kiln::detail {

void HistoryPlan::remember(const TensorImpl &root, const HistoryKey &history,
                           std::shared_ptr<const compiler::GradientFunction> gradient, bool seeded,
                           uint64_t generation) {
  values_.clear();
  targets_.clear();
  gradient_.reset();
  if (!lazyMode() || !root.gradFn)
    return;
  uint64_t recording = lazyState().recording.epoch();
  for (const std::shared_ptr<TensorImpl> &t : history.values) {
    Value v{.requiresGrad = t->requiresGrad, .literal = t->literal};
    if (t->gradFn && !t->literal) { // an input otherwise (encodeHistoryValue)
      const GraphNode &node = *t->gradFn;
      if (node.walkMark != recording) { // recorded before the last flush
        values_.clear();
        targets_.clear();
        return;
      }
      v.position = node.walkId;
      v.firstInput = int32_t(targets_.size());
      v.inputs = int32_t(node.inputs.size());
      for (const GradInput &input : node.inputs)
        targets_.push_back(input.impl->walkId); // its value of the walk just made
    }
    values_.push_back(v);
  }
  recording_ = recording;
  gradient_ = std::move(gradient);
  seeded_ = seeded;
  generation_ = generation;
}

const std::shared_ptr<const compiler::GradientFunction> *
HistoryPlan::take(const std::shared_ptr<TensorImpl> &root, bool seeded, uint64_t generation,
                  HistoryKey &out) {
  if (values_.empty() || seeded != seeded_ || generation != generation_ || !lazyMode())
    return nullptr;
  // The plan's recording was flushed last, and this one matches its step so
  // far: the recorded values up to now are the plan's, position by position.
  LazyState &st = lazyState();
  if (recording_ != st.lastEpoch || !st.recording.matchesSoFar(st.last.get()))
    return nullptr;
  if (!check(root))
    return nullptr;
  fill(out);
  recording_ = st.recording.epoch();
  return &gradient_;
}

bool HistoryPlan::check(const std::shared_ptr<TensorImpl> &root) {
  const StepRecording &recording = lazyState().recording;
  size_t n = values_.size();
  tensors_.assign(n, nullptr);
  tensors_[n - 1] = &root; // the walk ends at its root
  uint64_t mark = newWalkEpoch();
  root->walkMark = mark;
  root->walkId = int32_t(n - 1);
  // Parents before children: every value is reached before it is checked.
  for (size_t k = n; k-- > 0;) {
    if (!tensors_[k])
      return false;
    const TensorImpl &t = **tensors_[k];
    const Value &v = values_[k];
    if (t.literal != v.literal || t.requiresGrad != v.requiresGrad)
      return false;
    if (v.position < 0) {
      if (t.gradFn && !t.literal)
        return false;
      continue;
    }
    // The grad_fn recorded at the plan's position, whose op, type and
    // attributes the recording compared with the plan's step.
    if (!t.gradFn || size_t(v.position) >= recording.size() ||
        t.gradFn.get() != recording.at(v.position).get() ||
        t.gradFn->inputs.size() != size_t(v.inputs))
      return false;
    checkNodeUsable(*t.gradFn); // the walk's errors
    for (int32_t i = 0; i < v.inputs; ++i) {
      const std::shared_ptr<TensorImpl> &input = t.gradFn->inputs[size_t(i)].impl;
      auto target = size_t(targets_[size_t(v.firstInput + i)]);
      if (tensors_[target]) {
        if (tensors_[target]->get() != input.get())
          return false; // another tensor where the walk met the same one
        continue;
      }
      if (input->walkMark == mark)
        return false; // one tensor where the walk met two
      input->walkMark = mark;
      input->walkId = int32_t(target);
      tensors_[target] = &input;
    }
  }
  return true;
}

void HistoryPlan::fill(HistoryKey &out) const {
  out.clear();
  for (size_t k = 0; k < values_.size(); ++k) {
    const std::shared_ptr<TensorImpl> &t = *tensors_[k];
    out.values.push_back(t);
    if (values_[k].position < 0)
      out.inputs.push_back(t);
    else
      out.nodes.push_back(t->gradFn);
  }
}

} // namespace kiln::detail
