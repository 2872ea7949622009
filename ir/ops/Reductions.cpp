//===- Reductions.cpp - reduce_sum, reduce_mean, reduce_max, argmax -------===//
#include "OpFamilies.h"
#include "OpHelpers.h"

#include <cmath>
#include <limits>

namespace kiln::ir::ops {
namespace {

bool keepdims(const AttrList &attrs) { return attrs.has("keepdims") && attrs.getBool("keepdims"); }

// reduce_* {axes, keepdims=false}: axes sorted, unique, non-negative.
TensorType inferReduce(const InferContext &cx) {
  const TensorType &in = cx.operands[0];
  requireNotBool(cx, 0);
  const IntList &axes = cx.attrs.getInts("axes");
  requireCanonicalAxes(cx, axes, in.shape.rank());
  return {in.dtype, reducedShape(in.shape, axes, keepdims(cx.attrs))};
}

// ---- Folds: evaluated by the interpreter (evalNode) and the JIT alike ------

using SB = ScalarBuilder;

SV addTo(SB &b, SV acc, SV x) { return b.add(acc, x); }

constexpr ReductionDef kSum = {.identity = 0, .combine = addTo};
constexpr ReductionDef kMean = {
    .identity = 0,
    .combine = addTo,
    .finish = [](SB &b, SV acc, SV count) { return b.div(acc, count); }};
/// NaN wins, as in PyTorch: a max over data containing NaN is NaN.
constexpr ReductionDef kMax = {.identity = -std::numeric_limits<double>::infinity(),
                               .combine = [](SB &b, SV acc, SV x) { return b.maximum(acc, x); }};

void gradSum(GradContext &g) {
  const IntList &axes = g.node.attrs.getInts("axes");
  g.set(0, expandReduced(g.b, g.grad, g.b.shape(g.operand(0)), axes));
}
void gradMean(GradContext &g) {
  const IntList &axes = g.node.attrs.getInts("axes");
  const Shape &shape = g.b.shape(g.operand(0));
  int64_t count = 1;
  for (int64_t a : axes)
    count *= shape[int(a)];
  ValueId spread = expandReduced(g.b, g.grad, shape, axes);
  g.set(0, g.b.div(spread, g.b.scalar(double(count), g.b.dtype(g.grad))));
}
/// The gradient flows to the maxima, split evenly between ties.
void gradMax(GradContext &g) {
  const IntList &axes = g.node.attrs.getInts("axes");
  ValueId x = g.operand(0);
  const Shape &shape = g.b.shape(x);
  DType dt = g.b.dtype(x);
  ValueId isMax = g.b.cast(g.b.create(OpKind::Eq, {x, expandReduced(g.b, g.result(), shape, axes)}), dt);
  ValueId ties = expandReduced(g.b, g.b.reduceSum(isMax, axes), shape, axes);
  ValueId spread = expandReduced(g.b, g.grad, shape, axes);
  g.set(0, g.b.div(g.b.mul(spread, isMax), ties));
}

// argmax {axis, keepdims=false}: index of the first maximum, as i64.
TensorType inferArgmax(const InferContext &cx) {
  const TensorType &in = cx.operands[0];
  requireNotBool(cx, 0);
  int64_t axis = cx.attrs.getInt("axis");
  requireAxis(cx, axis, in.shape.rank());
  if (in.shape[int(axis)] == 0)
    fail(cx, "cannot take argmax over the empty axis {} of {}", axis, in.str());
  return {DType::I64, reducedShape(in.shape, {axis}, keepdims(cx.attrs))};
}
void evalArgmax(const Node &n, std::span<const HostTensor *const> in, HostTensor &out) {
  AxisView view(in[0]->shape(), int(n.attrs.getInt("axis")));
  for (int64_t row = 0; row < view.outer; ++row) {
    int64_t best = 0;
    double bestValue = in[0]->get(view.at(row, 0));
    for (int64_t j = 1; j < view.n && !std::isnan(bestValue); ++j) {
      double v = in[0]->get(view.at(row, j));
      if (v > bestValue || std::isnan(v)) {
        best = j;
        bestValue = v;
      }
    }
    out.set(row, double(best));
  }
}

constexpr AttrSpec kReduceAttrs[] = {{"axes", AttrKind::Ints}, {"keepdims", AttrKind::Bool, false}};
constexpr AttrSpec kArgmaxAttrs[] = {{"axis", AttrKind::Int}, {"keepdims", AttrKind::Bool, false}};

constexpr OpDef kOps[] = {
    {.kind = OpKind::ReduceSum, .name = "reduce_sum", .arity = 1, .attrs = kReduceAttrs,
     .fusion = FusionClass::Reduction, .infer = inferReduce, .reduction = &kSum, .grad = gradSum,
     .summary = "sum over axes (integers wrap, as the elementwise add)"},
    {.kind = OpKind::ReduceMean, .name = "reduce_mean", .arity = 1, .attrs = kReduceAttrs,
     .fusion = FusionClass::Reduction, .infer = inferReduce, .reduction = &kMean,
     .grad = gradMean,
     .summary = "mean over axes"},
    {.kind = OpKind::ReduceMax, .name = "reduce_max", .arity = 1, .attrs = kReduceAttrs,
     .fusion = FusionClass::Reduction, .infer = inferReduce, .reduction = &kMax, .grad = gradMax,
     .summary = "max over axes; the gradient is shared between ties"},
    {.kind = OpKind::Argmax, .name = "argmax", .arity = 1, .attrs = kArgmaxAttrs,
     .fusion = FusionClass::Reduction, .infer = inferArgmax, .eval = evalArgmax,
     .differentiable = false, .summary = "index of the first maximum along axis, i64"},
};

} // namespace

std::span<const OpDef> reductionOps() { return kOps; }

} // namespace kiln::ir::ops
