//===- HistoryPlan.h - A backward()'s history by recorded position -*- C++ -*-===//
//
// A training loop calls backward() on a history of the same structure at
// every step, and walking it into a StructureKey (walkHistory) was a third
// of backward()'s time in the seed's linreg. In lazy mode the history of a
// step's loss lies in the step's recording, which is compared value by
// value with the last step's as it is recorded (StepRecording.h): a step
// that matches so far has the same ops, types and attributes at the same
// positions. A HistoryPlan remembers where the last history lay -- the
// recorded position of each grad_fn, and for each of their inputs which
// value of the walk it is -- and the next backward() takes the history from
// the recording instead, checking every edge on the way: each input is the
// tensor of the grad_fn at its position, or a leaf with the same flags and
// the same identity as before, and no input changed in place. What the
// recording does not compare (which ops have a grad_fn, which tensor an op
// read, requires_grad) is exactly what these checks cover; a check that
// fails walks the history as before.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "TensorImpl.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace kiln::compiler {
struct GradientFunction;
}

namespace kiln::detail {

class HistoryPlan {
public:
  /// Makes `history`, just walked from `root`, the plan, with the gradient
  /// function it led to (for `seeded`, at the backward cache's generation
  /// `generation`), if it lies wholly in this thread's recording; forgets
  /// the plan otherwise.
  void remember(const TensorImpl &root, const HistoryKey &history,
                std::shared_ptr<const compiler::GradientFunction> gradient, bool seeded,
                uint64_t generation);
  /// Fills `out` with root's history (its key left empty) and returns the
  /// plan's gradient function if the history is the plan's (see above);
  /// else null, and `out` is to be walked. Throws what walkHistory throws
  /// for an input changed in place.
  const std::shared_ptr<const compiler::GradientFunction> *
  take(const std::shared_ptr<TensorImpl> &root, bool seeded, uint64_t generation, HistoryKey &out);

private:
  /// A value of the walk: a tensor with a grad_fn (recorded at `position`),
  /// or a leaf (position -1).
  struct Value {
    int32_t position = -1;
    bool requiresGrad = false;
    bool literal = false;
    /// For a value with a grad_fn: its inputs' values are
    /// targets[firstInput ...], one per input.
    int32_t firstInput = 0;
    int32_t inputs = 0;
  };
  bool check(const std::shared_ptr<TensorImpl> &root);
  void fill(HistoryKey &out) const;

  /// The recording the plan was made in or last taken from (its epoch).
  uint64_t recording_ = 0;
  std::vector<Value> values_;
  std::vector<int32_t> targets_;
  std::shared_ptr<const compiler::GradientFunction> gradient_;
  bool seeded_ = false;
  uint64_t generation_ = 0;
  /// Scratch of take(): the tensor of each value.
  std::vector<const std::shared_ptr<TensorImpl> *> tensors_;
};

} // namespace kiln::detail
