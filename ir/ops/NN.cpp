//===- NN.cpp - matmul, softmax, log_softmax, one_hot ---------------------===//
#include "OpFamilies.h"
#include "OpHelpers.h"

#include <cmath>
#include <limits>

namespace kiln::ir::ops {
namespace {

// matmul: [m,k] x [k,n] -> [m,n].
TensorType inferMatmul(const InferContext &cx) {
  const TensorType &a = cx.operands[0], &b = cx.operands[1];
  requireFloat(cx, 0);
  requireSameDType(cx, 0, 1);
  if (a.shape.rank() != 2 || b.shape.rank() != 2)
    fail(cx, "operands must be matrices, got {} and {}", a.str(), b.str());
  if (a.shape[1] != b.shape[0])
    fail(cx, "inner dimensions differ: {} and {}", a.str(), b.str());
  return {a.dtype, Shape{a.shape[0], b.shape[1]}};
}
void evalMatmul(const Node &, std::span<const HostTensor *const> in, HostTensor &out) {
  const HostTensor &a = *in[0], &b = *in[1];
  int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  if (!isFloat(a.type().dtype)) { // exact, wrapping as the elementwise ops
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        uint64_t sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum += uint64_t(a.getInt(i * k + p)) * uint64_t(b.getInt(p * n + j));
        out.setInt(i * n + j, wrapInt(out.type().dtype, __int128(int64_t(sum))));
      }
    return;
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p)
        sum += a.get(i * k + p) * b.get(p * n + j);
      out.set(i * n + j, sum);
    }
}
void gradMatmul(GradContext &g) {
  if (g.wants(0))
    g.set(0, g.b.matmul(g.grad, g.b.transpose(g.operand(1))));
  if (g.wants(1))
    g.set(1, g.b.matmul(g.b.transpose(g.operand(0)), g.grad));
}

// softmax / log_softmax {axis}.
TensorType inferSoftmax(const InferContext &cx) {
  requireFloat(cx, 0);
  requireAxis(cx, cx.attrs.getInt("axis"), cx.operands[0].shape.rank());
  return cx.operands[0];
}
/// Numerically stable softmax along the axis: subtract the row max first.
void softmaxRows(const Node &n, const HostTensor &in, HostTensor &out, bool log) {
  AxisView view(in.shape(), int(n.attrs.getInt("axis")));
  for (int64_t row = 0; row < view.outer; ++row) {
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < view.n; ++j)
      max = std::max(max, in.get(view.at(row, j)));
    double sum = 0;
    for (int64_t j = 0; j < view.n; ++j)
      sum += std::exp(in.get(view.at(row, j)) - max);
    for (int64_t j = 0; j < view.n; ++j) {
      double shifted = in.get(view.at(row, j)) - max;
      out.set(view.at(row, j), log ? shifted - std::log(sum) : std::exp(shifted) / sum);
    }
  }
}
void evalSoftmax(const Node &n, std::span<const HostTensor *const> in, HostTensor &out) {
  softmaxRows(n, *in[0], out, /*log=*/false);
}
void evalLogSoftmax(const Node &n, std::span<const HostTensor *const> in, HostTensor &out) {
  softmaxRows(n, *in[0], out, /*log=*/true);
}
ValueId sumKeep(GradContext &g, ValueId v) {
  return g.b.reduceSum(v, {g.node.attrs.getInt("axis")}, /*keepdims=*/true);
}
void gradSoftmax(GradContext &g) { // y * (g - sum(g * y))
  ValueId y = g.result();
  g.set(0, g.b.mul(y, g.b.sub(g.grad, sumKeep(g, g.b.mul(g.grad, y)))));
}
void gradLogSoftmax(GradContext &g) { // g - exp(y) * sum(g)
  g.set(0, g.b.sub(g.grad, g.b.mul(g.b.exp(g.result()), sumKeep(g, g.grad))));
}

// one_hot: integer labels [...] -> [..., classes], classes from the result type.
TensorType inferOneHot(const InferContext &cx) {
  const TensorType &labels = cx.operands[0], &to = declaredType(cx);
  if (!isInteger(labels.dtype))
    fail(cx, "labels must be integers, got {}", labels.str());
  Shape dims = labels.shape;
  if (to.shape.rank() != labels.shape.rank() + 1 || to.shape[to.shape.rank() - 1] < 1)
    fail(cx, "result {} must be the labels' shape {} plus a class axis", to.str(),
         labels.shape.str());
  dims.append(to.shape[to.shape.rank() - 1]);
  if (dims != to.shape)
    fail(cx, "result {} must be the labels' shape {} plus a class axis", to.str(),
         labels.shape.str());
  return to;
}
void evalOneHot(const Node &, std::span<const HostTensor *const> in, HostTensor &out) {
  int64_t classes = out.shape()[out.shape().rank() - 1];
  checkOneHotLabels(*in[0], classes);
  for (int64_t i = 0; i < in[0]->numel(); ++i)
    out.set(i * classes + int64_t(in[0]->get(i)), 1);
}

constexpr AttrSpec kAxisAttrs[] = {{"axis", AttrKind::Int}};

constexpr OpDef kOps[] = {
    {.kind = OpKind::Matmul, .name = "matmul", .arity = 2, .fusion = FusionClass::OutputFusable,
     .infer = inferMatmul, .eval = evalMatmul, .grad = gradMatmul,
     .summary = "matrix product [m,k] x [k,n] -> [m,n]"},
    {.kind = OpKind::Softmax, .name = "softmax", .arity = 1, .attrs = kAxisAttrs,
     .fusion = FusionClass::Opaque, .infer = inferSoftmax, .eval = evalSoftmax,
     .grad = gradSoftmax, .summary = "e^x / sum(e^x) along axis"},
    {.kind = OpKind::LogSoftmax, .name = "log_softmax", .arity = 1, .attrs = kAxisAttrs,
     .fusion = FusionClass::Opaque, .infer = inferSoftmax, .eval = evalLogSoftmax,
     .grad = gradLogSoftmax, .summary = "x - log(sum(e^x)) along axis"},
    {.kind = OpKind::OneHot, .name = "one_hot", .arity = 1, .fusion = FusionClass::Injective,
     .infer = inferOneHot, .eval = evalOneHot, .declaresResultType = true,
     .differentiable = false,
     .summary = "integer labels to one-hot rows; classes = last dim of the result type"},
};

} // namespace

std::span<const OpDef> nnOps() { return kOps; }

} // namespace kiln::ir::ops

namespace kiln::ir {
void checkOneHotLabels(const HostTensor &labels, int64_t classes) {
  for (int64_t i = 0; i < labels.numel(); ++i) {
    double label = labels.get(i);
    if (label < 0 || label >= double(classes))
      throw Error(ErrorKind::Runtime, fmt::format("one_hot: label {} at index {} is out of "
                                                  "range [0, {})",
                                                  label, i, classes));
  }
}
} // namespace kiln::ir
