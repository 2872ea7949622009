//===- CompileCommand.cpp - kiln compile ----------------------------------===//
#include "Command.h"
#include "support/IrInput.h"

#include "kiln/compiler/MemoryPlan.h"
#include "kiln/compiler/Pass.h"
#include "kiln/runtime/Jit.h"
#include "kiln/runtime/Program.h"

#include <fmt/format.h>

namespace kiln::tool {
namespace {

/// A Unix `ar` archive of `members` (named k0.o, k1.o, ...), which nm, objdump
/// and the linkers read: the object output when there are several kernels.
std::string arArchive(const std::vector<std::vector<char>> &members) {
  std::string out = "!<arch>\n";
  for (size_t i = 0; i < members.size(); ++i) {
    const std::vector<char> &m = members[i];
    out += fmt::format("{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n", fmt::format("k{}.o/", i), 0, 0, 0,
                       644, m.size());
    out.append(m.begin(), m.end());
    if (m.size() % 2)
      out += '\n';
  }
  return out;
}

/// `kiln compile FILE --emit=llvm|asm|obj|plan`: runs the pass pipeline and
/// emits what the JIT makes of the loop kernels, or the memory plan.
class CompileCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    app.add_option("file", file_, "IR file to read ('-' for standard input)")
        ->required()
        ->type_name("FILE");
    app.add_option("--emit", emit_,
                   "What to write: llvm (optimised LLVM IR of the JIT loop kernels), asm (their "
                   "host assembly), obj (an ELF object; an ar archive of one object per kernel "
                   "when there are several), plan (the memory plan)")
        ->required()
        ->check(CLI::IsMember({"llvm", "asm", "obj", "plan"}))
        ->type_name("KIND");
    app.add_option("-o,--output", output_, "Write to OUT ('-' = standard output, text kinds only)")
        ->type_name("OUT");
    app.add_option("-p,--passes", passes_, "Passes run first (default: simplify,fuse-xent,fuse)")
        ->type_name("LIST");
    app.add_option("-f,--func", func_, "Compile the function NAME")->type_name("NAME");
  }

  int run() override {
    if (emit_ == "obj" && (output_.empty() || output_ == "-"))
      throw Error(ErrorKind::Usage, "--emit=obj writes a binary file: give it with -o FILE");
    ir::Module m = loadModule(file_);
    compiler::PassManager pm({.context = {.fusionTarget = &runtime::fusionTarget()}});
    pm.addPipeline(passes_);
    ir::Function f = pm.run(selectFunction(m, func_));
    if (emit_ == "plan")
      writeOutput(output_, compiler::printMemoryPlan(f, compiler::planMemory(f)));
    else if (emit_ == "obj")
      writeOutput(output_, objects(f));
    else
      writeOutput(output_, text(f));
    return 0;
  }

private:
  /// Every loop kernel's IR or assembly, each under a comment naming it.
  std::string text(const ir::Function &f) const {
    std::vector<runtime::KernelBody> bodies = runtime::loopKernelBodies(f);
    std::string_view comment = emit_ == "llvm" ? ";" : "#";
    std::string out;
    if (bodies.empty())
      out += fmt::format("{} @{} has no JIT loop kernels\n", comment, f.name());
    runtime::Jit &jit = runtime::Jit::instance();
    for (size_t i = 0; i < bodies.size(); ++i) {
      const auto &[body, kind] = bodies[i];
      out += fmt::format("{} kernel {} of {}: {}\n", comment, i + 1, bodies.size(), body.name());
      out += emit_ == "llvm" ? jit.emitLLVM(body, body.name(), kind)
                             : jit.emitAssembly(body, body.name(), kind);
    }
    return out;
  }

  std::string objects(const ir::Function &f) const {
    std::vector<runtime::KernelBody> bodies = runtime::loopKernelBodies(f);
    if (bodies.empty())
      throw Error(ErrorKind::Usage, fmt::format("@{} has no JIT loop kernels to emit", f.name()));
    std::vector<std::vector<char>> members;
    for (const auto &[body, kind] : bodies)
      members.push_back(runtime::Jit::instance().emitObject(body, body.name(), kind));
    if (members.size() == 1)
      return std::string(members[0].begin(), members[0].end());
    return arArchive(members);
  }

  std::string file_, emit_, output_ = "-", passes_ = "simplify,fuse-xent,fuse", func_;
};

KILN_REGISTER_COMMAND(CompileCommand, "compile",
                      "Compile IR and emit the kernels' LLVM IR, assembly or object, or the "
                      "memory plan");

} // namespace
} // namespace kiln::tool
