//===- Lazy.h - Pending values and the flush (internal) ---------*- C++ -*-===//
//
// In lazy mode an op does not compute: it makes a GraphNode (op, attributes,
// operand values, result type; GraphNode.h) and a Storage that holds it as
// pending. A flush turns every pending value still held by a tensor into
// one step (parameters: the buffers read; results: the pending values),
// finds its program by its exact structure (the last step's, recognised
// while recorded, or the cached step of its StructureKey: a hit builds no
// ir::Function), runs it (compiled, or interpreted once first where that is
// cheap: see compile_after) and stores the results: into the existing
// buffer for in-place updates, into a fresh one otherwise.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "GraphNode.h"
#include "TensorImpl.h"
#include "kiln/Step.h"

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kiln::detail {

class CachedStep;

/// Ops are recorded instead of computed (Interpreted or Compiled execution).
bool lazyMode();

/// Throws Error(Usage) when `s` is pending in another thread's step: each
/// thread flushes only its own.
void checkPendingHere(const Storage &s);
/// The current value of `impl` as an operand of a pending op.
std::shared_ptr<GraphNode> operandValue(const TensorImpl &impl);
/// The current values of `operands` (defined) as the operands of a pending
/// op; a tracing kiln::compile is told of those without history.
OperandList operandValues(std::span<const Tensor> operands);
/// A pending op value (the type must be the op's result type).
/// `expected`: the recording's expectedType() matched this op just now.
std::shared_ptr<GraphNode> makeOp(ir::OpKind op, ir::AttrList attrs, OperandList operands,
                                  ir::TensorType type, bool expected = false);
/// A pending recorded region (RecordedRegion.h): `body` on `operands`. Its
/// value is the body's first result.
std::shared_ptr<GraphNode> makeRegion(std::shared_ptr<const RegionBody> body,
                                      OperandList operands);
/// The pending value of result `result` (> 0) of a region with several.
std::shared_ptr<GraphNode> makeRegionResult(const std::shared_ptr<GraphNode> &region,
                                            int32_t result);
/// A grad_fn for an eager op's result: a node that is never pending.
std::shared_ptr<GraphNode> makeGradFn(ir::OpKind op, ir::AttrList attrs, ir::TensorType type);
/// A new tensor whose value is `value` (pending until the next flush).
std::shared_ptr<TensorImpl> makePending(std::shared_ptr<GraphNode> value);
/// Gives `storage` the new value `value` (an in-place update, written into
/// its buffer at the next flush). Does not bump the version.
void setPending(const std::shared_ptr<Storage> &storage, std::shared_ptr<GraphNode> value);
/// The values of `s` change: they are no longer a constant of kiln's code
/// (Storage::constant), for the storage and its leaf value.
void markNotConstant(Storage &s);
struct RecordedValues;
/// The function of a recording with the values at `results` as its results,
/// value by value in recording order without the values no result needs
/// (recorded regions inlined); the recorded position of each of its
/// parameters; and a hash of its structure without types and attributes
/// (CachedStep::structureKey).
struct StepFunction {
  ir::Function fn{"step"};
  std::vector<int32_t> paramPositions;
  uint64_t structure = 14695981039346656037ull;
};
StepFunction buildStepFunction(const RecordedValues &recorded, const std::vector<int32_t> &results);
/// Appends a recorded region's body to `fn`, its parameters bound to
/// `operands`; returns the values of its results.
std::vector<ir::ValueId> inlineRegion(ir::Function &fn, const ir::Function &body,
                                      const std::vector<ir::ValueId> &operands);

/// Computes every pending value that is still held by a tensor.
/// `interpretOnly` for flushes that cut a long computation at an arbitrary
/// point (the pending-op limit): not worth compiling.
void flushPending(bool interpretOnly = false);
/// Pending values exist.
bool anyPending();

// ---- Hooks for traces (Compile.cpp) ---------------------------------------------

/// What a flush did, for a trace to replay.
struct FlushRecord {
  /// The leaf value behind each parameter of the step's function.
  std::vector<std::shared_ptr<GraphNode>> params;
  /// The storage behind each result of the function, and whether its buffer existed
  /// before (an in-place update written back) or was fresh.
  std::vector<std::shared_ptr<Storage>> results;
  std::vector<bool> writeBack;
  /// The program that ran it (null when interpreted).
  std::shared_ptr<CachedStep> step;
};

/// Watches the lazy machinery while a kiln::compile step is traced.
class TraceObserver {
public:
  virtual ~TraceObserver() = default;
  /// A flush is about to run (sync() is deferred while tracing; reads flush).
  /// Returns true to let it run.
  virtual bool onFlush() = 0;
  /// A flush ran; `record` is what it computed.
  virtual void onFlushed(const FlushRecord &record) = 0;
  /// A leaf's .grad is read or changed by the step: `impl` before the change.
  /// `discards`: the old .grad does not matter (zero_grad(set_to_none), set_grad).
  virtual void onGradAccess(const std::shared_ptr<TensorImpl> &impl, bool discards = false) = 0;
  /// A tensor's values were written eagerly (e.g. uniform_).
  virtual void onEagerWrite() = 0;
  /// A tensor without history is an operand of a recorded op.
  virtual void onLeafUse(const std::shared_ptr<TensorImpl> &impl) = 0;
};
void setTraceObserver(TraceObserver *observer);
/// The serial number of the newest Storage.
uint64_t lastStorageSerial();
TraceObserver *traceObserver();
/// Runs a flushed step again on new buffers: `inputs` per parameter,
/// `outputs` per result (fresh or the write-back targets). Compiles when
/// the step has no program yet.
void replayStep(CachedStep &step, std::vector<ir::HostTensor> &inputs,
                std::vector<ir::HostTensor> &outputs, bool interpretOnly = false);

} // namespace kiln::detail
