//===- RecordedRegion.h - Ops recorded as one node (internal) -*- C++ -*-===//
//
// An optimizer runs the same few elementwise ops on every parameter at
// every step. Recorded op by op, each op costs a node, a tensor and a
// storage of host work, made and freed again: for the seed's linreg, SGD's
// four ops were a fifth of the whole step. A RecordedRegion records such an
// in-place update as one node instead (op Fused, with a body): the body is
// captured once per operand types by running the update's own tensor code
// on placeholders, apart from the step, and the flush inlines it where the
// node was recorded when it builds the step's IR. The program is the one
// the ops would have made (the same nodes in the same order), for a
// fraction of the host work; a step that is recognised builds no IR at all.
//
// The region is for updates that do not need gradients (optimizers run
// under NoGradGuard); in eager mode, with grad mode on, or when the update's
// result is not of the target's type, the update runs op by op
// (updateInPlace), with the same checks and errors as Tensor::sub_. The
// update's numbers must be operands (named tensors, such as SGD's %lr): a
// number written inside it would be fixed at its capture.
//
// A RecordedFunction records a layer's few ops (nn::Linear's matmul of the
// transposed weight and its bias add, a loss's square and reduction) as one
// region the same way, with grad mode on too: the node is then the result's
// grad_fn over the operand tensors, and backward() differentiates the
// inlined body (Autograd.cpp), so the gradients are the ops' own. A value
// the body computes inside is held by no tensor: a gradient that reads it
// (the cross-entropy's log-softmax) computes it again in the gradient
// region, and the program's simplify pass (CSE) merges the two.
//
// backward() records its gradient function as a region too, with a body it
// builds from the gradient function (Backward.cpp); regions with several
// results have a node per further result (makeRegionResult, Lazy.h).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Tensor.h"
#include "kiln/ir/Function.h"

#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::detail {

/// A recorded region's function, with the number that names its structure.
struct RegionBody {
  ir::Function fn;
  /// fn's result types, at hand for each node recorded.
  std::vector<ir::TensorType> resultTypes;
  /// The same for every body of this structure and name in the process,
  /// however far apart they live: a step's key names a body by it
  /// (StepRecording.cpp), and keys outlive bodies (the program cache
  /// remembers an evicted step's sightings by its key). Never 0.
  uint64_t id;
};
/// `fn` as a region body: the one object of its structure and name while
/// any user holds it, so that two optimizers making the same update share
/// their bodies and programs.
std::shared_ptr<const RegionBody> makeRegionBody(ir::Function fn);

/// Tensor code that a region captures: a value from the operands.
using RegionCode = std::function<Tensor(std::span<const Tensor> operands)>;

/// The body `code` makes for one list of operand types.
struct CapturedBody {
  /// Captures `code` (named `name`) for the types of `operands`.
  static CapturedBody capture(const std::string &name, std::span<const Tensor> operands,
                              const RegionCode &code);
  /// Whether it was captured for operands of these types.
  bool fits(std::span<const Tensor> operands) const;

  std::vector<ir::TensorType> types;
  /// Null when the code did not capture (it computed no new value or read
  /// one), or when its region cannot serve (see RecordedRegion).
  std::shared_ptr<const RegionBody> body;
};

class RecordedRegion {
public:
  /// The update: the new value of the target from the operands.
  using Update = RegionCode;
  /// `name` names the region in KILN_LOG=recompile's reasons.
  RecordedRegion(std::string name, Update update);

  /// target = update(operands), in place (`what` names it in errors), as
  /// one recorded node where it can be (see above). `slot` is the caller's
  /// index of the target (a parameter's), which keeps the body captured for
  /// its operand types.
  void assign(size_t slot, Tensor &target, std::span<const Tensor> operands, std::string_view what);

private:
  /// Its body is null also when the update's result does not fit the
  /// target as is.
  const CapturedBody &captured(size_t slot, const Tensor &target, std::span<const Tensor> operands);

  std::string name_;
  Update update_;
  std::vector<CapturedBody> slots_;
};

/// A function of tensors recorded as one node in lazy mode (see above). The
/// function must make the same ops for all operands of the same types: it
/// is captured once per operand types, and must not read values (a capture
/// that flushes is not kept: the function then runs op by op).
class RecordedFunction {
public:
  using Function = RegionCode;
  /// `name` names the region in the step's key and KILN_LOG=recompile.
  RecordedFunction(std::string name, Function function);

  /// function(operands): one recorded node in lazy mode, the function's
  /// ops one by one otherwise (eager mode, or a capture that did not work).
  Tensor operator()(std::span<const Tensor> operands);
  Tensor operator()(std::initializer_list<Tensor> operands) {
    return (*this)(std::span<const Tensor>(operands.begin(), operands.size()));
  }

private:
  const CapturedBody &captured(std::span<const Tensor> operands);

  std::string name_;
  Function function_;
  /// By operand types; a layer sees one or two (training and evaluation batch sizes).
  std::vector<CapturedBody> known_;
};

} // namespace kiln::detail
