//===- StepRecording.h - The pending graph in recording order (internal) -*- C++ -*-===//
//
// Every value of a step gets its position as it is recorded: an op when it
// is made, a leaf at its first use as an operand (a buffer read twice is one
// leaf). Position i of the recording is value i of the step function, dead
// values included (the function leaves those out, see buildStepFunction),
// so the recording is the step's structure without a walk at the flush.
//
// A training loop records the same step again and again. The recording
// compares each value, as it is recorded, with the value at the same
// position of the step that ran last (its script, CachedStep::script): a
// step that matches to its end is that step, found with a comparison per
// value and no key. At the first difference the recording only goes on;
// the flush then builds the step's StructureKey and looks it up (the full
// path), and KILN_LOG=recompile says where the step left the last one.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Lazy.h"
#include "StepCache.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace kiln::detail {

/// Where a recording first differed from the script it was compared with.
struct Divergence {
  size_t position = 0;
  /// The values of the script.
  size_t expectedSize = 0;
  /// What the script had there (null: the step went on past its end).
  const ScriptValue *expected = nullptr;
  /// What was recorded there (none: the step ended before it).
  std::optional<ScriptValue> recorded;
  /// The values matched; the results (the tensors still held) differ.
  bool results = false;
  std::string describe() const;
};

/// What a flush takes from the recording: the values since the last flush.
struct RecordedValues {
  /// By position (leaves once, at their first use).
  std::vector<std::shared_ptr<GraphNode>> values;
  /// The recording's mark (GraphNode::walkMark of its values).
  uint64_t epoch = 0;
  /// The script this recording was compared with, and whether every value
  /// matched it so far.
  std::shared_ptr<CachedStep> expected;
  bool matches = false;
  std::optional<Divergence> divergence;
  /// Empties the lists, keeping their memory.
  void clear();
};

/// One thread's recording (LazyState::recording).
class StepRecording {
public:
  /// Gives the op `v`, just made, the next position, after giving its
  /// operands that are leaves read for the first time theirs. `expected`:
  /// expectedType() matched `v` there already.
  void addOp(const std::shared_ptr<GraphNode> &v, bool expected = false);
  /// The result type of `op` on `operands` when the recording still matches
  /// its script and the script's next value is that op (the op table then
  /// has nothing new to check or infer); else null.
  const ir::TensorType *expectedType(ir::OpKind op, const ir::AttrList &attrs,
                                     const OperandList &operands);
  /// Hands the values recorded so far to a flush (into `out`, emptied
  /// first) and starts the next recording, compared with no script.
  void takeInto(RecordedValues &out);
  /// Compares the recording, if nothing is recorded yet, with `step`'s
  /// script (the step that ran last).
  void expect(std::shared_ptr<CachedStep> step);
  /// Drops what was recorded (values no tensor holds) and starts again,
  /// compared with `step`'s script.
  void discard(std::shared_ptr<CachedStep> step);
  /// Compares the recording with no script (the cached steps were dropped).
  void forgetScript();
  /// Ends a flush of `values` (computed, or failed for all): every op
  /// drops its operands, so that a node living on as a tensor's grad_fn
  /// does not keep the values it was computed from (their buffers: a
  /// batch's, a parameter's old one) alive as long as that tensor; and the
  /// op nodes that nothing else holds are kept by position (`values` is
  /// emptied), so that a repeated step takes the node at each position again
  /// (takeSpare) instead of freeing one node and making another.
  void keepSpares(std::vector<std::shared_ptr<GraphNode>> &values);
  /// The node kept at the next position, if any (nothing else holds a kept
  /// node): an op node whose every field the caller sets again. Else null.
  std::shared_ptr<GraphNode> takeSpare() {
    size_t at = values_.size();
    return at < spares_.size() ? std::move(spares_[at]) : nullptr;
  }
  bool empty() const { return values_.empty(); }
  size_t size() const { return values_.size(); }
  /// The mark of this recording's values (GraphNode::walkMark).
  uint64_t epoch() const { return epoch_; }
  /// Whether everything recorded so far matches `step`'s script.
  bool matchesSoFar(const CachedStep *step) const { return matches_ && expected_.get() == step; }
  /// The value at `position` (recorded already).
  const std::shared_ptr<GraphNode> &at(int32_t position) const { return values_[size_t(position)]; }

private:
  int32_t position(const std::shared_ptr<GraphNode> &operand);
  int32_t addLeaf(const std::shared_ptr<GraphNode> &leaf);
  void compare(const GraphNode &v);
  void diverge(const GraphNode &v);

  struct BufferLeaf {
    const void *buffer;
    int32_t position;
  };
  int32_t *findBuffer(const void *buffer);
  void addBuffer(const void *buffer, int32_t position);

  uint64_t epoch_ = newEpoch();
  static uint64_t newEpoch();
  std::vector<std::shared_ptr<GraphNode>> values_;
  /// See keepSpares.
  std::vector<std::shared_ptr<GraphNode>> spares_;
  std::shared_ptr<CachedStep> expected_;
  bool matches_ = false;
  std::optional<Divergence> divergence_;
  /// The leaves read so far, by buffer: a linear scan up to a point, then
  /// a map as well.
  static constexpr size_t kLinearScan = 32;
  std::vector<BufferLeaf> buffers_;
  std::unordered_map<const void *, size_t> index_;
};

/// Positions of the targets' pending values (values of `recorded`).
void resultPositions(const RecordedValues &recorded,
                     const std::vector<std::shared_ptr<Storage>> &targets,
                     std::vector<int32_t> &out);
/// Whether `recorded` is its expected step, these results included; if
/// not, says where they differ (RecordedValues::divergence).
bool matchesStep(RecordedValues &recorded, const std::vector<int32_t> &results);
/// The exact structure of a recording with these results (see StructureKey).
void structureKey(const RecordedValues &recorded, const std::vector<int32_t> &results,
                  StructureKey &key);
/// The script of a recording (CachedStep::script).
std::vector<ScriptValue> scriptOf(const RecordedValues &recorded);

} // namespace kiln::detail
