//===- Sources.cpp - constant ---------------------------------------------===//
#include "OpFamilies.h"
#include "OpHelpers.h"

#include <cstring>

namespace kiln::ir::ops {
namespace {

// constant {value=dense<...>}: the attribute's type is the result type.
TensorType inferConstant(const InferContext &cx) {
  const TensorType &to = declaredType(cx);
  const HostTensor &value = cx.attrs.getDense("value");
  if (!value.defined())
    fail(cx, "value is an undefined tensor");
  if (value.type() != to)
    fail(cx, "value of type {} does not match the result type {}", value.type().str(), to.str());
  return to;
}
void evalConstant(const Node &n, std::span<const HostTensor *const>, HostTensor &out) {
  const HostTensor &value = n.attrs.getDense("value");
  std::memcpy(out.raw(), value.raw(), value.bytes());
}

constexpr AttrSpec kConstantAttrs[] = {{"value", AttrKind::Dense}};

constexpr OpDef kOps[] = {
    {.kind = OpKind::Constant, .name = "constant", .arity = 0, .attrs = kConstantAttrs,
     .fusion = FusionClass::Opaque, .infer = inferConstant, .eval = evalConstant,
     .declaresResultType = true, .differentiable = false,
     .summary = "a dense tensor literal of the result type"},
};

} // namespace

std::span<const OpDef> sourceOps() { return kOps; }

} // namespace kiln::ir::ops
