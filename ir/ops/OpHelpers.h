//===- OpHelpers.h - Shared pieces of op definitions (internal) -*- C++ -*-===//
#pragma once

#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln::ir::ops {

/// Throws the shape-rule error of an op: "'add': <message>".
template <class... Args>
[[noreturn]] void fail(const InferContext &cx, fmt::format_string<Args...> f, Args &&...args) {
  throw Error(ErrorKind::Verify,
              fmt::format("'{}': {}", cx.opName, fmt::format(f, std::forward<Args>(args)...)));
}

/// The declared result type (present for ops with declaresResultType).
inline const TensorType &declaredType(const InferContext &cx) { return *cx.declared; }

void requireFloat(const InferContext &cx, int operand);
void requireSameDType(const InferContext &cx, int a, int b);
void requireNotBool(const InferContext &cx, int operand);
/// Broadcast shape of all operands, or a shape error naming them.
Shape broadcastAll(const InferContext &cx);
/// Checks that `axes` is sorted, unique and within [0, rank).
void requireCanonicalAxes(const InferContext &cx, const IntList &axes, int rank);
/// Checks 0 <= axis < rank.
void requireAxis(const InferContext &cx, int64_t axis, int rank);
/// `shape` with `axes` removed (or kept as 1 when keepdims).
Shape reducedShape(const Shape &shape, const IntList &axes, bool keepdims);

/// Maps a flat index of a broadcast result to the flat index of an operand
/// of shape `from` (numpy rules: missing or size-1 dims repeat).
class BroadcastIndex {
public:
  BroadcastIndex(const Shape &from, const Shape &to);
  int64_t operator()(int64_t flat) const;

private:
  std::vector<int64_t> toDims_;
  std::vector<int64_t> fromStrides_; // per result dim; 0 where broadcast
};

/// Maps a flat index of a reduction's operand to the flat index of its result.
class ReduceIndex {
public:
  ReduceIndex(const Shape &in, const IntList &axes);
  int64_t operator()(int64_t flat) const;

private:
  std::vector<int64_t> inDims_;
  std::vector<int64_t> outStrides_; // per input dim; 0 on reduced axes
};

/// For kernels that work along one axis: the number of rows `outer`, the
/// axis length `n` and the stride between its elements `inner`. Element j of
/// row r is at (r / inner) * n * inner + (r % inner) + j * inner.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
  AxisView(const Shape &s, int axis);
  int64_t at(int64_t row, int64_t j) const { return (row / inner) * n * inner + row % inner + j * inner; }
};

/// The gradient of a reduction over `axes`: g (of the reduced shape) reshaped
/// to keep the reduced axes as 1, then broadcast back to `shape`.
ValueId expandReduced(Builder &b, ValueId g, const Shape &shape, const IntList &axes);

} // namespace kiln::ir::ops
