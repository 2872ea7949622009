//===- Fused.cpp - fused, the region op made by the fuse pass -------------===//
//
// A fused node's semantics are its body's: the verifier, interpreter and
// printer treat it structurally (Node::body), so its table entry carries
// only the facts the rest of kiln asks for.
//
//===----------------------------------------------------------------------===//
#include "OpFamilies.h"

namespace kiln::ir::ops {
namespace {

constexpr AttrSpec kFusedAttrs[] = {{"kind", AttrKind::Fusion}};

constexpr OpDef kOps[] = {
    {.kind = OpKind::Fused, .name = "fused", .arity = -1, .attrs = kFusedAttrs,
     .fusion = FusionClass::Opaque,
     .infer = nullptr, .differentiable = false,
     .summary = "a kernel made by the fuse pass; computes its body on its operands",
     .region = true},
};

} // namespace

std::span<const OpDef> regionOps() { return kOps; }

} // namespace kiln::ir::ops
