//===- OpDef.h - The op table -----------------------------------*- C++ -*-===//
//
// Every op is one OpDef (see ir/ops/): its name, signature, shape rule,
// fusion class, reference kernel, gradient rule and, for elementwise ops,
// scalar expression. Nothing else in kiln switches over the set of ops to
// learn these facts; it asks the table.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"
#include "kiln/ir/ScalarBuilder.h"

#include <limits>
#include <optional>
#include <span>
#include <string_view>

namespace kiln::ir {

class Builder;

/// Fusion lattice, after TVM: a kernel may absorb producers of a lower class.
enum class FusionClass {
  Elementwise,   ///< same shape in and out, one scalar expression
  Broadcast,     ///< elementwise with numpy broadcasting of operands
  Injective,     ///< pure data movement (reshape, transpose, broadcast_to)
  Reduction,     ///< reduces axes
  OutputFusable, ///< matmul-class: elementwise epilogues can ride along (oneDNN post-ops)
  Opaque,        ///< never fused
};
std::string_view fusionClassName(FusionClass c);

/// The declared signature of one attribute.
struct AttrSpec {
  std::string_view name;
  AttrKind kind;
  bool required = true;
};

/// What a shape rule sees.
struct InferContext {
  std::string_view opName;
  std::span<const TensorType> operands;
  const AttrList &attrs;
  /// The result type written in the IR (or passed to the builder); only ops
  /// with `declaresResultType` may rely on it.
  const std::optional<TensorType> &declared;
};
/// Returns the result type, or throws Error(Verify) with a message naming the
/// op and the offending shapes.
using InferFn = TensorType (*)(const InferContext &cx);

/// Reference kernel: one obvious loop nest, computing in double.
using EvalFn = void (*)(const Node &node, std::span<const HostTensor *const> operands,
                        HostTensor &result);

/// What a gradient rule sees. The rule adds nodes through `b` (the joint
/// forward+backward function) and sets `grads[i]` for each operand i with
/// wants(i). A gradient may have the result's (broadcast) shape: autodiff
/// reduces it to the operand's shape.
struct GradContext {
  Builder &b;
  const Node &node;
  /// d(loss)/d(result).
  ValueId grad;
  std::span<const bool> wanted;
  std::vector<std::optional<ValueId>> grads;

  ValueId operand(int i) const { return node.operands.at(size_t(i)); }
  ValueId result() const { return node.result(); }
  bool wants(int i) const { return wanted[size_t(i)]; }
  void set(int i, ValueId g) {
    if (wants(i))
      grads[size_t(i)] = g;
  }
};
using GradFn = void (*)(GradContext &cx);

/// A reduction as a fold, which the interpreter and the JIT both evaluate:
/// each result starts at `identity`, takes its elements through `combine`
/// in the accumulator's dtype (f64 for floats, i64 for integers), and is
/// `finish`ed over the element count (or is the accumulator when null).
struct ReductionDef {
  double identity;
  SV (*combine)(ScalarBuilder &b, SV acc, SV x);
  SV (*finish)(ScalarBuilder &b, SV acc, SV count) = nullptr;
  /// combine is associative and commutative up to rounding, so that the
  /// JIT may keep several partial results (vectorize) along a row.
  bool reassociates = true;
};

/// A closed interval of numbers; a bound may be infinite.
struct Interval {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
};

struct OpDef {
  OpKind kind;
  std::string_view name;
  /// Number of operands; -1 for any number (fused).
  int arity;
  std::span<const AttrSpec> attrs;
  FusionClass fusion;
  /// Shape rule; null only for `fused`, whose result types are its body's.
  InferFn infer;
  /// Reference kernel; null for elementwise ops, which evaluate `scalar`,
  /// and for folds, which evaluate `reduction`.
  EvalFn eval = nullptr;
  /// Scalar expression; set exactly for Elementwise and Broadcast ops.
  ScalarFn scalar = nullptr;
  /// Set for reductions that fold values (reduce_sum, reduce_mean, reduce_max).
  const ReductionDef *reduction = nullptr;
  /// Gradient rule; null for ops that are not differentiable.
  GradFn grad = nullptr;
  /// The result type is given in the IR, not derived (reshape, cast, constant...).
  bool declaresResultType = false;
  /// Integer/boolean-valued ops (compare, argmax) have no gradient by nature.
  bool differentiable = true;
  /// Where generated tests (gradcheck, `kiln fuzz-graphs`) draw the float
  /// operands from: inside the op's domain, away from its finite bounds
  /// (log: above 0), and where its result stays moderate (exp: |x| <= 4).
  Interval testRange = {};
  /// One line of documentation, shown by `kiln ops`.
  std::string_view summary = {};
  /// Takes a region (Node::body) that defines its semantics; it has no shape
  /// rule or kernel of its own (only `fused`).
  bool region = false;
};

/// Checks a node's arity and attributes against `def` and returns its result
/// type from the op's shape rule, comparing it with `declared` when given.
/// Throws Error(Verify) with an unlocated message naming the op and shapes.
/// Builder and verifier both go through here, so they agree by construction.
TensorType checkAndInfer(const OpDef &def, std::span<const TensorType> operands,
                         const AttrList &attrs, const std::optional<TensorType> &declared);

/// Runs the reference kernel of `node`: its EvalFn, for elementwise ops its
/// scalar expression evaluated in double with numpy broadcasting, for folds
/// its ReductionDef.
void evalNode(const Node &node, std::span<const HostTensor *const> operands, HostTensor &result);

/// The scalar expression of elementwise `def` on numbers of dtype `t`, as
/// the reference interpreter computes it (floats in double).
double evalScalar(const OpDef &def, std::span<const double> operands, const AttrList &attrs,
                  DType t);

/// Whether elementwise `def`'s formula, with `attrs` and operands of the
/// given dtypes, calls only correctly rounded primitives (no exp, tanh,
/// pow...), so that every evaluator computes it to the same bits: the
/// interpreter in double and the JIT, in a vector lane or in scalar code.
/// False for an op without a formula.
bool isExactFormula(const OpDef &def, const AttrList &attrs, std::span<const DType> operands,
                    DType result);

/// Throws one_hot's Error(Runtime) unless every label is in [0, classes).
void checkOneHotLabels(const HostTensor &labels, int64_t classes);

/// The definition of `op`.
const OpDef &opDef(OpKind op);
/// The op spelled `name` in IR text, or null.
const OpDef *findOp(std::string_view name);
/// Every op, in Ops.def order.
std::span<const OpDef *const> allOps();

/// Shorthand for opDef(op).name.
inline std::string_view opName(OpKind op) { return opDef(op).name; }

} // namespace kiln::ir
