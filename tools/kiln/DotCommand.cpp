//===- DotCommand.cpp - kiln dot ------------------------------------------===//
#include "Command.h"
#include "support/IrInput.h"

#include "kiln/ir/Dot.h"

namespace kiln::tool {
namespace {

/// `kiln dot FILE`: the dataflow graph in Graphviz format
/// (`kiln dot f.kir | dot -Tsvg > f.svg`).
class DotCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    app.add_option("file", file_, "IR file to read ('-' for standard input)")
        ->required()
        ->type_name("FILE");
    app.add_option("-o,--output", output_, "Write to OUT instead of standard output")
        ->type_name("OUT");
    app.add_option("-f,--func", func_, "Draw only the function NAME")->type_name("NAME");
  }

  int run() override {
    ir::Module m = loadModule(file_);
    writeOutput(output_, func_.empty() ? ir::toDot(m) : ir::toDot(selectFunction(m, func_)));
    return 0;
  }

private:
  std::string file_, output_, func_;
};

KILN_REGISTER_COMMAND(DotCommand, "dot", "Export the dataflow graph as Graphviz dot");

} // namespace
} // namespace kiln::tool
