//===- Layout.cpp - reshape, transpose, broadcast_to ----------------------===//
#include "OpFamilies.h"
#include "OpHelpers.h"

#include <algorithm>

namespace kiln::ir::ops {
namespace {

// reshape: same elements, new shape (given as the result type).
TensorType inferReshape(const InferContext &cx) {
  const TensorType &in = cx.operands[0], &to = declaredType(cx);
  if (to.dtype != in.dtype)
    fail(cx, "cannot change the dtype from {} to {}", in.str(), to.str());
  if (to.shape.numel() != in.shape.numel())
    fail(cx, "cannot reshape {} ({} elements) to {} ({} elements)", in.str(), in.shape.numel(),
         to.str(), to.shape.numel());
  return to;
}
void evalCopy(const Node &, std::span<const HostTensor *const> in, HostTensor &out) {
  for (int64_t i = 0; i < out.numel(); ++i)
    out.set(i, in[0]->get(i));
}
void gradReshape(GradContext &g) { g.set(0, g.b.reshape(g.grad, g.b.shape(g.operand(0)))); }

// transpose {perm}: result dim i is operand dim perm[i].
TensorType inferTranspose(const InferContext &cx) {
  const TensorType &in = cx.operands[0];
  const IntList &perm = cx.attrs.getInts("perm");
  if (int(perm.size()) != in.shape.rank())
    fail(cx, "perm has {} entries for an operand of rank {}", perm.size(), in.shape.rank());
  Shape dims;
  for (auto p = perm.begin(); p != perm.end(); ++p) {
    if (*p < 0 || *p >= int64_t(perm.size()) || std::find(perm.begin(), p, *p) != p)
      fail(cx, "perm [{}] is not a permutation of 0..{}", fmt::join(perm, ","), perm.size() - 1);
    dims.append(in.shape[int(*p)]);
  }
  return {in.dtype, std::move(dims)};
}
void evalTranspose(const Node &n, std::span<const HostTensor *const> in, HostTensor &out) {
  const IntList &perm = n.attrs.getInts("perm");
  std::vector<int64_t> inStrides = in[0]->shape().strides();
  const Shape &outShape = out.shape();
  for (int64_t flat = 0; flat < out.numel(); ++flat) {
    int64_t rest = flat, src = 0;
    for (int i = outShape.rank() - 1; i >= 0; --i) {
      src += (rest % outShape[i]) * inStrides[size_t(perm[size_t(i)])];
      rest /= outShape[i];
    }
    out.set(flat, in[0]->get(src));
  }
}
void gradTranspose(GradContext &g) {
  const IntList &perm = g.node.attrs.getInts("perm");
  IntList inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[size_t(perm[i])] = int64_t(i);
  g.set(0, g.b.transpose(g.grad, inverse));
}

// broadcast_to: numpy broadcasting to the result type's shape.
TensorType inferBroadcastTo(const InferContext &cx) {
  const TensorType &in = cx.operands[0], &to = declaredType(cx);
  if (to.dtype != in.dtype)
    fail(cx, "cannot change the dtype from {} to {}", in.str(), to.str());
  if (!broadcastsTo(in.shape, to.shape))
    fail(cx, "cannot broadcast {} to {}", in.str(), to.str());
  return to;
}
void evalBroadcastTo(const Node &, std::span<const HostTensor *const> in, HostTensor &out) {
  BroadcastIndex index(in[0]->shape(), out.shape());
  for (int64_t i = 0; i < out.numel(); ++i)
    out.set(i, in[0]->get(index(i)));
}
void gradBroadcastTo(GradContext &g) {
  g.set(0, g.b.unbroadcast(g.grad, g.b.shape(g.operand(0))));
}

constexpr AttrSpec kTransposeAttrs[] = {{"perm", AttrKind::Ints}};

constexpr OpDef kOps[] = {
    {.kind = OpKind::Reshape, .name = "reshape", .arity = 1, .fusion = FusionClass::Injective,
     .infer = inferReshape, .eval = evalCopy, .grad = gradReshape, .declaresResultType = true,
     .summary = "same elements in row-major order, shape of the result type"},
    {.kind = OpKind::Transpose, .name = "transpose", .arity = 1, .attrs = kTransposeAttrs,
     .fusion = FusionClass::Injective, .infer = inferTranspose, .eval = evalTranspose,
     .grad = gradTranspose, .summary = "permutes axes: result dim i is operand dim perm[i]"},
    {.kind = OpKind::BroadcastTo, .name = "broadcast_to", .arity = 1,
     .fusion = FusionClass::Injective, .infer = inferBroadcastTo, .eval = evalBroadcastTo,
     .grad = gradBroadcastTo, .declaresResultType = true,
     .summary = "numpy broadcasting to the result type's shape"},
};

} // namespace

std::span<const OpDef> layoutOps() { return kOps; }

} // namespace kiln::ir::ops
