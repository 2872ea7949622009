//===- TensorImpl.h - What a Tensor handle points to (internal) -*- C++ -*-===//
//
// A tensor is a Storage (its values, shared with detach()ed aliases) plus
// autograd state: for the result of a recorded op, its grad_fn (the op, its
// attributes, its operand tensors and the result type). backward() turns the
// grad_fns reachable from a tensor into an ir::Function.
//
// In lazy mode (see Lazy.h) a Storage's value may be pending: an op over
// other values, computed at the next flush together with everything else
// that is pending. An op records one node (GraphNode) for both: the pending
// value of its result's storage and, when it is differentiated, the result's
// grad_fn.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "SmallList.h"
#include "StructureKey.h"
#include "kiln/Tensor.h"
#include "kiln/ir/Function.h"
#include "kiln/ir/Recycled.h"

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::detail {

using ir::makeRecycled;

struct TensorImpl;
struct GraphNode;

/// A tensor's or a recorded value's name: shared, not copied (see sharedName).
using Name = std::shared_ptr<const std::string>;

/// `base` followed by `suffix` as a Name, the same one as every earlier use
/// of that text on this thread: a steady step names the same values at every
/// step (a parameter's `<name>_new` and `<name>_grad`), and a DataLoader
/// names every batch, without allocating for a name seen before. Null for
/// an empty name. The thread's table keeps at most kMaxSharedNames; past
/// that, a new name is made each time (not kept).
Name sharedName(std::string_view base, std::string_view suffix = {});
inline constexpr size_t kMaxSharedNames = size_t(1) << 16;
/// sharedName(*base, suffix) for a suffix that is a string literal,
/// remembered by the two pointers: a steady step asks for the same few
/// (`<name>_grad`, `<name>_new` per parameter) at every step, and hashing
/// their text showed in its profile.
Name derivedName(const Name &base, const char *suffix);
struct LazyState;

/// An operand of a recorded op.
struct GradInput {
  std::shared_ptr<TensorImpl> impl;
  /// Its version when the op ran; backward() checks it, so that values
  /// changed in place since then are an error, not a wrong gradient.
  uint64_t version = 0;
};

/// The values of a tensor, shared by the tensor and its detach()ed aliases.
struct Storage {
  explicit Storage(ir::TensorType type);
  explicit Storage(ir::HostTensor data);
  ~Storage();
  Storage(const Storage &) = delete;
  Storage &operator=(const Storage &) = delete;

  ir::TensorType type;
  /// The buffer. Undefined while a fresh pending value was never computed;
  /// when `pending` is set too, the flush writes the new value into it.
  ir::HostTensor data;
  /// The value not computed yet (lazy mode), or null.
  std::shared_ptr<GraphNode> pending;
  /// The recording state (one per thread) whose flush computes `pending`.
  const LazyState *owner = nullptr;
  /// `data` as an operand of pending ops (made on first use).
  std::shared_ptr<GraphNode> leaf;
  /// Set when the flush that was to compute `pending` failed; reads rethrow it.
  std::shared_ptr<const Error> error;
  /// In the list of pending storages of the next flush.
  bool queued = false;
  /// Bumped by every in-place update.
  uint64_t version = 0;
  /// Creation order, so that a trace knows which storages it made.
  uint64_t serial;
  /// Filled by a random generator: a trace cannot replay it.
  bool random = false;
  /// Values fixed by kiln's own code, not by the program's numbers (the 0 of
  /// zero_(), zeros()): a trace may keep them. Cleared by a pending update.
  bool constant = false;
};

struct TensorImpl {
  /// User-provided for the reason of GraphNode's (GraphNode.h).
  TensorImpl() {}
  /// Ends the grad_fn role of its node, which may live on as a pending value
  /// (read through a detach()ed alias): as PyTorch's grad_fn, an op's
  /// autograd record dies with the tensor it made, so that it does not keep
  /// the operand tensors (and their pending values, results of the flush)
  /// alive.
  ~TensorImpl();
  TensorImpl(const TensorImpl &) = delete;
  TensorImpl &operator=(const TensorImpl &) = delete;

  std::shared_ptr<Storage> storage;
  bool requiresGrad = false;
  /// A number written in an expression (`a + 2`): recorded IR bakes it in as
  /// a constant instead of passing it as a parameter.
  bool literal = false;
  /// The op that made this tensor (its node's `inputs` are set); null for
  /// leaves.
  std::shared_ptr<GraphNode> gradFn;
  std::shared_ptr<TensorImpl> grad;
  /// Tensor::name() (null: none).
  Name name;
  /// Scratch of walkHistory: `walkId` is this tensor's position when
  /// `walkMark` equals the walk's epoch (no per-backward maps).
  uint64_t walkMark = 0;
  int32_t walkId = 0;

  const ir::TensorType &type() const { return storage->type; }
  uint64_t version() const { return storage->version; }
  /// The values, computed first if pending (a flush in lazy mode).
  const ir::HostTensor &values() const;
};

/// A new leaf holding `data`.
std::shared_ptr<TensorImpl> makeLeaf(ir::HostTensor data, bool requiresGrad = false);
/// `value` as a rank-0 tensor of `dtype` (integers exactly).
ir::HostTensor scalarData(const Scalar &value, DType dtype);
/// A rank-0 literal of `dtype` (see TensorImpl::literal).
Tensor literal(const Scalar &value, DType dtype);
/// A literal that is a constant of kiln's own code (Storage::constant), such
/// as the 0 of zero_(): not a number the program chose.
Tensor constantLiteral(const Scalar &value, DType dtype);

/// Whether the result (of dtype `result`) of a differentiable op on
/// `operands` gets a grad_fn: grad mode is on, the result is a float
/// tensor and an operand requires grad.
bool wantsGradFn(std::span<const Tensor> operands, DType result);
/// Makes `node`, the op that made `impl`, impl's grad_fn over `operands`
/// (at their current versions); `impl` then requires grad.
void setGradFn(TensorImpl &impl, std::shared_ptr<GraphNode> node, std::span<const Tensor> operands);

/// Computes op on operands with the reference kernel, without recording.
/// Checks operands against the op table; mismatches are Error(Shape).
ir::HostTensor compute(ir::OpKind op, std::span<const Tensor> operands, const ir::AttrList &attrs,
                       const std::optional<ir::TensorType> &declared);

/// Throws Error(Autograd) unless an in-place update of `t` is allowed now:
/// its values are not part of a recorded computation that wants gradients.
void checkInPlace(const Tensor &t, std::string_view what);
/// Overwrites t's values in place with `values` (same type) and bumps its
/// version. In lazy mode, flushes what is pending first.
void assignInPlace(const Tensor &t, const ir::HostTensor &values);
/// Makes `value`'s current value the new value of `t` (an in-place update):
/// pending in lazy mode, copied at once otherwise. Bumps t's version.
void assignInPlace(const Tensor &t, const Tensor &value);
/// The lazy part of assignInPlace: `value` (of impl's type) becomes the
/// pending new value of `impl`, named after it.
void assignPending(TensorImpl &impl, std::shared_ptr<GraphNode> value);

/// The one walk of a history: its exact structure (StructureKey), its
/// inputs (leaves and literals, the function's parameters) and nodes, and
/// every tensor in topological order. backward() needs only this on a hit;
/// a miss builds the IR from it (recordGraph).
struct HistoryKey {
  StructureKey key;
  std::vector<std::shared_ptr<TensorImpl>> inputs;
  std::vector<std::shared_ptr<GraphNode>> nodes;
  /// Every tensor of the history: values[i] is value i of the recorded
  /// function (and has walkId i until the next walk).
  std::vector<std::shared_ptr<TensorImpl>> values;
  /// Empties the lists, keeping their memory.
  void clear() {
    key.clear();
    inputs.clear();
    nodes.clear();
    values.clear();
  }
};
/// Throws Error(Autograd) unless the history through `node` can be
/// differentiated: it was not released, and its inputs were not changed in
/// place since it was recorded.
void checkNodeUsable(const GraphNode &node);
/// A new mark for TensorImpl::walkMark (one counter for every walk).
uint64_t newWalkEpoch();
/// Walks the history of `root` (iteratively, in topological order) into
/// `out`. Throws Error(Autograd) if part of it was released or an input was
/// changed in place after being recorded.
void walkHistory(const std::shared_ptr<TensorImpl> &root, HistoryKey &out);

/// The history reachable from a tensor, as IR.
struct RecordedGraph {
  ir::Function fn{"forward"};
  /// The tensor behind each parameter of fn, in order.
  std::vector<std::shared_ptr<TensorImpl>> inputs;
  /// Every grad_fn reached, so that backward() can release them.
  std::vector<std::shared_ptr<GraphNode>> nodes;
  ir::ValueId output;
  /// Per value of fn: the history's value it is (HistoryKey::values), or
  /// -1 for a value computed inside a recorded function's ops.
  std::vector<int32_t> walkIndex;
};
/// The IR of `root`'s history (walked first; same checks as walkHistory).
RecordedGraph recordGraph(const std::shared_ptr<TensorImpl> &root);
/// The IR of a history just walked from `root`, without walking it again.
RecordedGraph recordGraph(const HistoryKey &history, const TensorImpl &root);
/// Frees a graph after backward(): marks its nodes released, drops inputs.
void releaseGraph(RecordedGraph &graph);
/// Frees the nodes of a history after backward() (see releaseGraph).
void releaseNodes(const std::vector<std::shared_ptr<GraphNode>> &nodes);

/// PyTorch's error for a backward through a freed graph.
extern const char *const kGraphFreedMessage;

} // namespace kiln::detail
