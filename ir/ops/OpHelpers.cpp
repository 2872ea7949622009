//===- OpHelpers.cpp ------------------------------------------------------===//
#include "OpHelpers.h"

#include <algorithm>

namespace kiln::ir::ops {

void requireFloat(const InferContext &cx, int i) {
  const TensorType &t = cx.operands[size_t(i)];
  if (!isFloat(t.dtype))
    fail(cx, "operand {} must be a float tensor, got {}", i, t.str());
}

void requireSameDType(const InferContext &cx, int a, int b) {
  const TensorType &ta = cx.operands[size_t(a)], &tb = cx.operands[size_t(b)];
  if (ta.dtype != tb.dtype)
    fail(cx, "operands have different dtypes: {} and {}", ta.str(), tb.str());
}

void requireNotBool(const InferContext &cx, int i) {
  if (cx.operands[size_t(i)].dtype == DType::Bool)
    fail(cx, "operand {} must be numeric, got {}", i, cx.operands[size_t(i)].str());
}

Shape broadcastAll(const InferContext &cx) {
  Shape s = cx.operands[0].shape;
  for (size_t i = 1; i < cx.operands.size(); ++i) {
    auto b = broadcastShapes(s, cx.operands[i].shape);
    if (!b) {
      std::string list;
      for (size_t j = 0; j < cx.operands.size(); ++j)
        list += (j ? " and " : "") + cx.operands[j].str();
      fail(cx, "shapes cannot be broadcast together: {}", list);
    }
    s = *b;
  }
  return s;
}

void requireCanonicalAxes(const InferContext &cx, const IntList &axes, int rank) {
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= rank)
      fail(cx, "axis {} is out of range for rank {}", axes[i], rank);
    if (i > 0 && axes[i] <= axes[i - 1])
      fail(cx, "axes must be sorted and unique, got [{}]", fmt::join(axes, ","));
  }
}

void requireAxis(const InferContext &cx, int64_t axis, int rank) {
  if (axis < 0 || axis >= rank)
    fail(cx, "axis {} is out of range for rank {}", axis, rank);
}

Shape reducedShape(const Shape &shape, const IntList &axes, bool keepdims) {
  Shape dims;
  for (int i = 0; i < shape.rank(); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced)
      dims.append(shape[i]);
    else if (keepdims)
      dims.append(1);
  }
  return dims;
}

BroadcastIndex::BroadcastIndex(const Shape &from, const Shape &to) : toDims_(to.toVector()) {
  std::vector<int64_t> strides = from.strides();
  fromStrides_.assign(toDims_.size(), 0);
  int offset = to.rank() - from.rank();
  for (int i = 0; i < from.rank(); ++i)
    if (from[i] != 1)
      fromStrides_[size_t(i + offset)] = strides[size_t(i)];
}

int64_t BroadcastIndex::operator()(int64_t flat) const {
  int64_t out = 0;
  for (size_t i = toDims_.size(); i-- > 0;) {
    out += (flat % toDims_[i]) * fromStrides_[i];
    flat /= toDims_[i];
  }
  return out;
}

ReduceIndex::ReduceIndex(const Shape &in, const IntList &axes) : inDims_(in.toVector()) {
  Shape out = reducedShape(in, axes, /*keepdims=*/true);
  outStrides_ = out.strides();
  for (int64_t a : axes)
    outStrides_[size_t(a)] = 0;
}

int64_t ReduceIndex::operator()(int64_t flat) const {
  int64_t out = 0;
  for (size_t i = inDims_.size(); i-- > 0;) {
    out += (flat % inDims_[i]) * outStrides_[i];
    flat /= inDims_[i];
  }
  return out;
}

AxisView::AxisView(const Shape &s, int axis) {
  for (int i = 0; i < s.rank(); ++i) {
    if (i < axis)
      outer *= s[i];
    else if (i > axis)
      inner *= s[i];
  }
  n = s[axis];
  outer *= inner; // rows = every index but the axis
}

ValueId expandReduced(Builder &b, ValueId g, const Shape &shape, const IntList &axes) {
  ValueId kept = b.reshape(g, reducedShape(shape, axes, /*keepdims=*/true));
  return b.broadcastTo(kept, shape);
}

} // namespace kiln::ir::ops
