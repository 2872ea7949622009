//===- GraphNode.h - One node of the recorded graph (internal) --*- C++ -*-===//
//
// Every op a program runs through the tensor API is recorded as one node,
// which serves both consumers of the recording: the flush (Lazy.h) reads it
// as an SSA value over other values, and backward() (Autograd.cpp) reads it
// as the grad_fn of the tensor it made, over that op's operand tensors.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "SmallList.h"
#include "TensorImpl.h"

#include <memory>

namespace kiln::detail {

struct RegionBody;

/// A pending op's operands, four inline: nearly every op has one to three,
/// and SGD's update with weight decay four (RecordedRegion.h).
using OperandList = SmallList<std::shared_ptr<GraphNode>, 4>;

/// One node of the recorded graph. For the flush, an SSA value of the
/// pending graph: an op over other values (`operands`), or a leaf reading a
/// buffer. For autograd, the grad_fn of the tensor the op made (PyTorch's
/// grad_fn): the same op, attributes and type, over the operand tensors
/// (`inputs`). In eager mode a grad_fn is a node that is never pending.
struct GraphNode {
  ir::TensorType type;
  ir::OpKind op = ir::OpKind::Constant;
  ir::AttrList attrs;
  OperandList operands;
  /// For a recorded region (op Fused, RecordedRegion.h): the function it
  /// computes from `operands`, inlined when the step's IR is built. The
  /// node's value is the body's first result; a body with several has
  /// a node per further result that reads it (op Fused without a body, its
  /// region the one operand).
  std::shared_ptr<const RegionBody> body;
  /// For a node that is a result of a region: which one.
  int32_t result = 0;
  /// For a leaf: the buffer it reads (shared, not copied).
  ir::HostTensor buffer;
  bool isLeaf = false;
  /// A leaf that is a number written in an expression.
  bool literal = false;
  /// A leaf whose values are a constant of kiln's code (Storage::constant),
  /// kept here as the storage may be gone when a trace is planned.
  bool constant = false;
  /// The value's name in the flushed IR (null = generated): a leaf's
  /// parameter name, or an op's result name (a parameter's new value or
  /// gradient, a tensor named by set_name), so that the step reads as the
  /// program that made it. Shared (sharedName): a steady step names the
  /// same values at every step.
  Name name;
  /// For a leaf: the storage whose buffer it reads (traces replay it).
  std::weak_ptr<Storage> owner;
  /// For a grad_fn: the operand tensors (empty for a node that no tensor's
  /// gradient goes through).
  SmallList<GradInput, 3> inputs;
  /// Set by a backward() without retain_graph; `inputs` are dropped then.
  bool released = false;
  /// Ends the node's grad_fn role: releases the operand tensors (a long
  /// history iteratively, not by recursion) and empties `inputs`.
  void dropInputs();
  /// The IR name of the op that makes the node's value: for a region, of
  /// the body's op that makes its result (what grad_fn_name() says).
  std::string_view opName() const;
  /// `walkId` is this value's position in the recording (StepRecording.h)
  /// whose epoch `walkMark` holds (no per-step maps).
  uint64_t walkMark = 0;
  int32_t walkId = 0;

  /// User-provided, so that makeRecycled's value-initialisation does not
  /// zero the whole object first (a `rep stos` over it was half of makeOp's
  /// time in a linreg step's profile): every member has its own initialiser.
  GraphNode() {}
  /// Tears down long chains (of operands and of inputs) iteratively, not by
  /// recursion.
  ~GraphNode();
  GraphNode(const GraphNode &) = delete;
  GraphNode &operator=(const GraphNode &) = delete;
};

} // namespace kiln::detail
