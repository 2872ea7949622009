//===- TensorImpl.h - What a Tensor handle points to (internal) -*- C++ -*-===//
//
// A tensor is its values plus, for the result of a recorded op, a GradNode:
// the op, its attributes, its operand tensors and the result type. backward()
// turns the GradNodes reachable from a tensor into an ir::Function.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Tensor.h"
#include "kiln/ir/Function.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln::detail {

struct TensorImpl;

/// One recorded op (PyTorch's grad_fn).
struct GradNode {
  ir::OpKind op;
  ir::AttrList attrs;
  std::vector<std::shared_ptr<TensorImpl>> inputs;
  /// The inputs' versions when the op ran; backward() checks them, so that
  /// values changed in place since then are an error, not a wrong gradient.
  std::vector<uint64_t> inputVersions;
  ir::TensorType type;
  /// Set by a backward() without retain_graph; `inputs` are dropped then.
  bool released = false;

  GradNode(ir::OpKind op, ir::AttrList attrs, ir::TensorType type)
      : op(op), attrs(std::move(attrs)), type(std::move(type)) {}
  /// Tears down long chains of history iteratively, not by recursion.
  ~GradNode();
  GradNode(const GradNode &) = delete;
  GradNode &operator=(const GradNode &) = delete;
};

struct TensorImpl {
  ir::HostTensor data;
  /// Bumped by every in-place update; shared with detach()ed aliases.
  std::shared_ptr<uint64_t> version = std::make_shared<uint64_t>(0);
  bool requiresGrad = false;
  /// A number written in an expression (`a + 2`): recorded IR bakes it in as
  /// a constant instead of passing it as a parameter.
  bool literal = false;
  /// The op that made this tensor; null for leaves.
  std::shared_ptr<GradNode> gradFn;
  std::shared_ptr<TensorImpl> grad;
  std::string name;
};

/// A new leaf holding `data`.
std::shared_ptr<TensorImpl> makeLeaf(ir::HostTensor data, bool requiresGrad = false);
/// A rank-0 literal of `dtype` (see TensorImpl::literal).
Tensor literal(double value, DType dtype);

/// Computes op on operands with the reference kernel, without recording.
/// Checks operands against the op table; mismatches are Error(Shape).
ir::HostTensor compute(ir::OpKind op, const std::vector<Tensor> &operands,
                       const ir::AttrList &attrs, const std::optional<ir::TensorType> &declared);

/// Throws Error(Autograd) unless an in-place update of `t` is allowed now:
/// its values are not part of a recorded computation that wants gradients.
void checkInPlace(const Tensor &t, std::string_view what);
/// Overwrites t's values in place with `values` (same type) and bumps its version.
void assignInPlace(const Tensor &t, const ir::HostTensor &values);

/// The history reachable from a tensor, as IR.
struct RecordedGraph {
  ir::Function fn{"forward"};
  /// The tensor behind each parameter of fn, in order.
  std::vector<std::shared_ptr<TensorImpl>> inputs;
  /// Every GradNode reached, so that backward() can release them.
  std::vector<std::shared_ptr<GradNode>> nodes;
  ir::ValueId output;
};

/// Collects the history of `root` (iteratively, in topological order).
/// Throws Error(Autograd) if part of it was released or an input was changed
/// in place after being recorded.
RecordedGraph recordGraph(const std::shared_ptr<TensorImpl> &root);
/// Frees a graph after backward(): marks its nodes released, drops inputs.
void releaseGraph(RecordedGraph &graph);

/// PyTorch's error for a backward through a freed graph.
extern const char *const kGraphFreedMessage;

} // namespace kiln::detail
