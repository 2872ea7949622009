//===- GradCommand.cpp - kiln grad ----------------------------------------===//
#include "Command.h"
#include "support/IrInput.h"
#include "support/ValueLookup.h"

#include "kiln/compiler/Autodiff.h"
#include "kiln/compiler/Simplify.h"
#include "kiln/ir/Printer.h"

#include <fmt/format.h>

namespace kiln::tool {
namespace {

/// `kiln grad FILE --wrt %a,%b`: prints the function that computes the
/// gradients of a result with respect to the given values, as derived by the
/// autodiff pass from the op table's gradient rules.
class GradCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    app.add_option("file", file_, "IR file to read ('-' for standard input)")
        ->required()
        ->type_name("FILE");
    app.add_option("--wrt", wrt_, "Values to differentiate with respect to, e.g. %w,%b")
        ->required()
        ->type_name("VALUES");
    app.add_option("--of", of_,
                   "The value to differentiate (default: the function's only result)")
        ->type_name("VALUE");
    app.add_option("-f,--func", func_, "The function to differentiate")->type_name("NAME");
    app.add_flag("--seed", seed_,
                 "Take d(output) as a parameter %grad_output (for non-scalar outputs)");
    app.add_flag("--keep-forward", keepForward_, "Also return the forward results first");
    app.add_flag("--simplify", simplify_, "Run the simplify pass on the result");
    app.add_option("-o,--output", output_, "Write to OUT instead of standard output")
        ->type_name("OUT");
  }

  int run() override {
    ir::Module m = loadModule(file_);
    const ir::Function &f = selectFunction(m, func_);
    ir::ValueId output = outputValue(f);
    std::vector<ir::ValueId> wrt = findValues(f, wrt_);
    compiler::GradientFunction g = compiler::differentiate(
        f, output, wrt, {.seedParam = seed_, .keepForwardResults = keepForward_});
    writeOutput(output_, ir::print(simplify_ ? compiler::simplify(g.fn) : g.fn));
    return 0;
  }

private:
  ir::ValueId outputValue(const ir::Function &f) const {
    if (!of_.empty())
      return findValue(f, of_);
    if (f.results().size() != 1)
      throw Error(ErrorKind::Usage, fmt::format("@{} returns {} values: choose one with --of",
                                                f.name(), f.results().size()));
    return f.results()[0];
  }

  std::string file_, wrt_, of_, func_, output_;
  bool seed_ = false, keepForward_ = false, simplify_ = false;
};

KILN_REGISTER_COMMAND(GradCommand, "grad", "Derive the gradient (backward) function of IR");

} // namespace
} // namespace kiln::tool
