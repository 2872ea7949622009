//===- PrintCommand.cpp - kiln print --------------------------------------===//
#include "Command.h"
#include "support/IrInput.h"

#include "kiln/ir/Printer.h"

namespace kiln::tool {
namespace {

/// `kiln print FILE`: parse, verify, print canonically. Printing the output
/// again gives the same text.
class PrintCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    app.add_option("file", file_, "IR file to read ('-' for standard input)")
        ->required()
        ->type_name("FILE");
    app.add_option("-o,--output", output_, "Write to OUT instead of standard output")
        ->type_name("OUT");
    app.add_option("-f,--func", func_, "Print only the function NAME")->type_name("NAME");
  }

  int run() override {
    ir::Module m = loadModule(file_);
    writeOutput(output_, func_.empty() ? ir::print(m) : ir::print(selectFunction(m, func_)));
    return 0;
  }

private:
  std::string file_, output_, func_;
};

KILN_REGISTER_COMMAND(PrintCommand, "print", "Parse, verify and print IR in canonical form");

} // namespace
} // namespace kiln::tool
