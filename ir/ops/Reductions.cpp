//===- Reductions.cpp - reduce_sum, reduce_mean, reduce_max, argmax -------===//
#include "OpFamilies.h"
#include "OpHelpers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

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

/// Folds every operand element into its result element with `step`,
/// starting from `init`, and stores `finish(acc, count)`. An int64_t
/// accumulator reads and stores integers exactly, never through a double.
template <class Acc, class Step, class Finish>
void reduceInto(const Node &n, const HostTensor &in, HostTensor &out, Acc init, Step step,
                Finish finish) {
  constexpr bool exact = std::is_same_v<Acc, int64_t>;
  ReduceIndex index(in.shape(), n.attrs.getInts("axes"));
  std::vector<Acc> acc(size_t(out.numel()), init);
  for (int64_t i = 0; i < in.numel(); ++i) {
    Acc &a = acc[size_t(index(i))];
    if constexpr (exact)
      a = step(a, in.getInt(i));
    else
      a = step(a, in.get(i));
  }
  int64_t count = out.numel() ? in.numel() / out.numel() : 0;
  for (int64_t o = 0; o < out.numel(); ++o) {
    if constexpr (exact)
      out.setInt(o, finish(acc[size_t(o)], count));
    else
      out.set(o, finish(acc[size_t(o)], count));
  }
}

/// The finish of sum and max: the accumulator itself.
constexpr auto accumulated = [](auto a, int64_t) { return a; };

void evalSum(const Node &n, std::span<const HostTensor *const> in, HostTensor &out) {
  if (!isFloat(in[0]->type().dtype)) // wraps on overflow, as the elementwise add
    return reduceInto(
        n, *in[0], out, int64_t(0),
        [](int64_t a, int64_t v) { return int64_t(uint64_t(a) + uint64_t(v)); }, accumulated);
  reduceInto(n, *in[0], out, 0.0, [](double a, double v) { return a + v; }, accumulated);
}
void evalMean(const Node &n, std::span<const HostTensor *const> in, HostTensor &out) {
  reduceInto(n, *in[0], out, 0.0, [](double a, double v) { return a + v; },
             [](double a, int64_t count) { return a / double(count); });
}
void evalMax(const Node &n, std::span<const HostTensor *const> in, HostTensor &out) {
  if (!isFloat(in[0]->type().dtype))
    return reduceInto(n, *in[0], out, std::numeric_limits<int64_t>::min(),
                      [](int64_t a, int64_t v) { return std::max(a, v); }, accumulated);
  // NaN wins, as in PyTorch: a max over data containing NaN is NaN.
  reduceInto(n, *in[0], out, -std::numeric_limits<double>::infinity(),
             [](double a, double v) { return std::isnan(a) || !(std::isnan(v) || v > a) ? a : v; },
             accumulated);
}

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
     .fusion = FusionClass::Reduction, .infer = inferReduce, .eval = evalSum, .grad = gradSum,
     .summary = "sum over axes"},
    {.kind = OpKind::ReduceMean, .name = "reduce_mean", .arity = 1, .attrs = kReduceAttrs,
     .fusion = FusionClass::Reduction, .infer = inferReduce, .eval = evalMean, .grad = gradMean,
     .summary = "mean over axes"},
    {.kind = OpKind::ReduceMax, .name = "reduce_max", .arity = 1, .attrs = kReduceAttrs,
     .fusion = FusionClass::Reduction, .infer = inferReduce, .eval = evalMax, .grad = gradMax,
     .summary = "max over axes; the gradient is shared between ties"},
    {.kind = OpKind::Argmax, .name = "argmax", .arity = 1, .attrs = kArgmaxAttrs,
     .fusion = FusionClass::Reduction, .infer = inferArgmax, .eval = evalArgmax,
     .differentiable = false, .summary = "index of the first maximum along axis, i64"},
};

} // namespace

std::span<const OpDef> reductionOps() { return kOps; }

} // namespace kiln::ir::ops
