//===- OptCommand.cpp - kiln opt ------------------------------------------===//
#include "Command.h"
#include "support/IrInput.h"

#include "kiln/compiler/MemoryPlan.h"
#include "kiln/compiler/Pass.h"
#include "kiln/ir/Printer.h"
#include "kiln/runtime/Program.h"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>

namespace kiln::tool {
namespace {

/// `kiln opt FILE --passes=simplify,fuse`: runs a pass pipeline, like LLVM's
/// opt, printing the result; --print-after-all shows every step on stderr,
/// --print-memory-plan the memory plan (an analysis) of each result.
class OptCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    app.add_option("file", file_, "IR file to read ('-' for standard input)")
        ->required()
        ->type_name("FILE");
    app.add_option("-p,--passes", passes_, passList())->type_name("LIST");
    app.add_flag("--print-after-all", options_.printAfterAll,
                 "Print the IR after every pass (to stderr)");
    app.add_option("--print-after", printAfter_, "Print the IR after the named passes")
        ->type_name("PASS")
        ->delimiter(',');
    app.add_option("--dump-dir", options_.dumpDir, "Write the IR after each pass to DIR")
        ->type_name("DIR");
    app.add_flag("!--no-verify-each", options_.verifyEach, "Do not verify after each pass");
    app.add_flag("--print-memory-plan", printPlan_,
                 "After the IR, print the verified buffer plan of each function");
    app.add_option("-f,--func", func_, "Transform only the function NAME")->type_name("NAME");
    app.add_option("-o,--output", output_, "Write to OUT instead of standard output")
        ->type_name("OUT");
  }

  int run() override {
    ir::Module m = loadModule(file_);
    options_.printAfter.insert(printAfter_.begin(), printAfter_.end());
    options_.context.fusionTarget = &runtime::fusionTarget(); // kiln run's backend
    options_.print = [](const std::string &text) { std::cerr << text << std::flush; };
    if (!options_.dumpDir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(options_.dumpDir, ec);
      if (ec)
        throw Error(ErrorKind::Io,
                    fmt::format("cannot create '{}': {}", options_.dumpDir, ec.message()));
    }
    compiler::PassManager pm(options_);
    pm.addPipeline(passes_);
    if (func_.empty()) {
      ir::Module out = pm.run(std::move(m));
      std::string plans;
      for (const ir::Function &f : out.functions)
        plans += memoryPlan(f);
      writeOutput(output_, ir::print(out) + plans);
    } else {
      ir::Function f = pm.run(selectFunction(m, func_));
      writeOutput(output_, ir::print(f) + memoryPlan(f));
    }
    return 0;
  }

private:
  /// With --print-memory-plan, the plan of `f`, verified, as comment lines.
  std::string memoryPlan(const ir::Function &f) const {
    if (!printPlan_)
      return "";
    compiler::MemoryPlan plan = compiler::planMemory(f);
    compiler::verifyMemoryPlan(f, plan);
    return compiler::printMemoryPlan(f, plan);
  }

  static std::string passList() {
    std::string text = "Comma-separated passes to run:";
    for (const compiler::PassInfo &p : compiler::registeredPasses())
      text += fmt::format("\n  {:<10} {}", p.name, p.summary);
    return text;
  }

  std::string file_, passes_, func_, output_;
  bool printPlan_ = false;
  std::vector<std::string> printAfter_;
  compiler::PassManagerOptions options_;
};

KILN_REGISTER_COMMAND(OptCommand, "opt", "Run compiler passes on IR and print the result");

} // namespace
} // namespace kiln::tool
