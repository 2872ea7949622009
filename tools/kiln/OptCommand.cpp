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
/// opt, printing the result; --print-after-all shows every step on stderr.
class OptCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    app.add_option("file", file_, "IR file to read ('-' for standard input)")
        ->required()
        ->type_name("FILE");
    app.add_option("-p,--passes", passes_, passList())->required()->type_name("LIST");
    app.add_flag("--print-after-all", options_.printAfterAll,
                 "Print the IR after every pass (to stderr)");
    app.add_option("--print-after", printAfter_, "Print the IR after the named passes")
        ->type_name("PASS")
        ->delimiter(',');
    app.add_option("--dump-dir", options_.dumpDir, "Write the IR after each pass to DIR")
        ->type_name("DIR");
    app.add_flag("!--no-verify-each", options_.verifyEach, "Do not verify after each pass");
    app.add_flag("--print-memory-plan", printPlan_,
                 "After the IR, print the buffer plan made by each 'plan' pass");
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
    std::string plans;
    addPasses(pm, plans);
    if (func_.empty()) {
      writeOutput(output_, ir::print(pm.run(std::move(m))) + plans);
    } else {
      ir::Function f = selectFunction(m, func_);
      writeOutput(output_, ir::print(pm.run(std::move(f))) + plans);
    }
    return 0;
  }

private:
  /// Adds the --passes list; with --print-memory-plan, each `plan` pass
  /// appends its table to `plans`.
  void addPasses(compiler::PassManager &pm, std::string &plans) const {
    if (!printPlan_)
      return pm.addPipeline(passes_);
    compiler::PassManager(options_).addPipeline(passes_); // the whole list's errors first
    bool planned = false;
    std::string_view list = passes_;
    for (size_t start = 0; start <= list.size();) {
      size_t end = std::min(list.find(',', start), list.size());
      std::string_view name = list.substr(start, end - start);
      start = end + 1;
      if (name != "plan") {
        pm.addPipeline(name);
        continue;
      }
      planned = true;
      pm.add(std::make_unique<compiler::PlanPass>(
          [&plans](const ir::Function &f, const compiler::MemoryPlan &plan) {
            plans += compiler::printMemoryPlan(f, plan);
          }));
    }
    if (!planned)
      throw Error(ErrorKind::Usage, "--print-memory-plan needs the 'plan' pass in --passes");
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
