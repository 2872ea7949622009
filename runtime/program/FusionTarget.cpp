//===- FusionTarget.cpp - What kiln's runtime runs as one kernel ----------===//
#include "kiln/runtime/Jit.h"
#include "kiln/runtime/OneDnn.h"
#include "kiln/runtime/Program.h"

namespace kiln::runtime {

namespace {

/// Loop kernels and reductions are JIT kernels (runtime/jit), matmul
/// epilogues oneDNN post-ops (runtime/onednn, f32 only).
class RuntimeFusionTarget final : public compiler::FusionTarget {
public:
  bool fusesReduction(const ir::Function &f, const ir::Node &n) const override {
    return jitReduces(n.op, f.type(n.result()).dtype);
  }
  bool fusesMatmulEpilogue(const ir::Function &f, const ir::Node &n) const override {
    return n.op == ir::OpKind::Matmul && f.type(n.result()).dtype == ir::DType::F32;
  }
  bool isEpilogueActivation(ir::OpKind op) const override {
    return onednn::activationFor(op).has_value();
  }
};

} // namespace

const compiler::FusionTarget &fusionTarget() {
  static const RuntimeFusionTarget target;
  return target;
}

} // namespace kiln::runtime
