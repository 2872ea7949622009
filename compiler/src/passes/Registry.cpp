//===- Registry.cpp - The passes that --passes= can name ------------------===//
#include "kiln/compiler/DeadCode.h"
#include "kiln/compiler/Fuse.h"
#include "kiln/compiler/FuseCrossEntropy.h"
#include "kiln/compiler/Pass.h"
#include "kiln/compiler/Simplify.h"

namespace kiln::compiler {

namespace {
/// Adapts a function-to-function transformation to the Pass interface.
class FunctionPass final : public Pass {
public:
  using Fn = ir::Function (*)(const ir::Function &);
  FunctionPass(std::string_view name, Fn fn) : name_(name), fn_(fn) {}
  std::string_view name() const override { return name_; }
  ir::Function run(const ir::Function &f) override { return fn_(f); }

private:
  std::string_view name_;
  Fn fn_;
};

template <ir::Function (*Fn)(const ir::Function &)>
PassInfo functionPass(std::string_view name, std::string_view summary) {
  return {name, summary,
          [name](const PassContext &) { return std::make_unique<FunctionPass>(name, Fn); }};
}

/// fuse, for the backend the context names.
class FusePass final : public Pass {
public:
  explicit FusePass(const FusionTarget &target) : target_(target) {}
  std::string_view name() const override { return "fuse"; }
  ir::Function run(const ir::Function &f) override { return fuse(f, target_); }

private:
  const FusionTarget &target_;
};

std::unique_ptr<Pass> createFusePass(const PassContext &cx) {
  if (!cx.fusionTarget)
    throw Error(ErrorKind::Usage, "pass 'fuse' needs the fusion capabilities of the backend "
                                  "that runs the function (PassContext::fusionTarget)");
  return std::make_unique<FusePass>(*cx.fusionTarget);
}

ir::Function simplifyDefault(const ir::Function &f) { return simplify(f); }
} // namespace

const std::vector<PassInfo> &registeredPasses() {
  static const std::vector<PassInfo> passes = {
      functionPass<eliminateDeadCode>("dce", "removes nodes that no result depends on"),
      functionPass<eliminateCommonSubexpressions>("cse", "computes identical nodes once"),
      functionPass<simplifyDefault>(
          "simplify", "constant folding, algebraic identities, CSE and DCE to a fixed point"),
      functionPass<fuseCrossEntropy>(
          "fuse-xent", "fuses softmax cross-entropy and its logits gradient into one kernel"),
      {"fuse", "groups elementwise chains, reductions and matmul epilogues into kernels",
       createFusePass},
  };
  return passes;
}

} // namespace kiln::compiler
