//===- VerifyCommand.cpp - kiln verify ------------------------------------===//
#include "Command.h"
#include "support/IrInput.h"

namespace kiln::tool {
namespace {

/// `kiln verify FILE`: parse and verify; silent on success.
class VerifyCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    app.add_option("file", file_, "IR file to check ('-' for standard input)")
        ->required()
        ->type_name("FILE");
  }

  int run() override {
    loadModule(file_);
    return 0;
  }

private:
  std::string file_;
};

KILN_REGISTER_COMMAND(VerifyCommand, "verify",
                      "Parse and verify IR; print nothing and exit 0 when it is valid");

} // namespace
} // namespace kiln::tool
