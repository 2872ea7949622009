//===- Pass.h - Compiler passes and the pass manager ------------*- C++ -*-===//
//
// A pass maps a function to a new function (passes rebuild rather than
// mutate, so a failed pass never leaves a half-rewritten graph). Passes are
// registered by name and run as a pipeline, `--passes=simplify,fuse`,
// with the IR verified after each pass and printable after any of them, as
// in LLVM's `opt`.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/compiler/FusionTarget.h"
#include "kiln/ir/Function.h"

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::compiler {

class Pass {
public:
  virtual ~Pass() = default;
  /// The name used in --passes= lists.
  virtual std::string_view name() const = 0;
  virtual ir::Function run(const ir::Function &f) = 0;
};

/// What passes may need from whoever compiles.
struct PassContext {
  /// The backend's fusion capabilities; the fuse pass needs them
  /// (runtime::fusionTarget() for kiln's runtime).
  const FusionTarget *fusionTarget = nullptr;
};

/// Every pass kiln knows, by name.
struct PassInfo {
  std::string_view name;
  std::string_view summary;
  std::function<std::unique_ptr<Pass>(const PassContext &)> create;
};
const std::vector<PassInfo> &registeredPasses();

struct PassManagerOptions {
  PassContext context;
  /// Verify after every pass (cheap; on by default).
  bool verifyEach = true;
  bool printAfterAll = false;
  std::set<std::string> printAfter;
  /// If set, each pass's output is also written to DIR/NN-pass.kir.
  std::string dumpDir;
  /// Receives "// -----// IR Dump After NAME //----- //" and the IR text.
  std::function<void(const std::string &)> print;
};

class PassManager {
public:
  explicit PassManager(PassManagerOptions options = {}) : options_(std::move(options)) {}

  void add(std::unique_ptr<Pass> pass) { passes_.push_back(std::move(pass)); }
  /// Appends the passes of a comma-separated list; throws Error(Usage) for an
  /// unknown name, listing the known ones.
  void addPipeline(std::string_view list);

  ir::Function run(ir::Function f);
  ir::Module run(ir::Module m);

private:
  PassManagerOptions options_;
  std::vector<std::unique_ptr<Pass>> passes_;
  int dumpCounter_ = 0;
};

} // namespace kiln::compiler
