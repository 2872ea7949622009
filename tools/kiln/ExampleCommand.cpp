//===- ExampleCommand.cpp - kiln example ----------------------------------===//
//
// `kiln example NAME [options]`: runs one of the textbook's programs
// (docs/textbook.md). The examples live in examples/NAME.cpp and register themselves
// with KILN_EXAMPLE (examples/support/Example.h); the same code is built as
// the programs example_NAME. Options after NAME belong to the example
// (`kiln example linreg --help` lists them).
//
//===----------------------------------------------------------------------===//
#include "Command.h"

#include "support/Example.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <iostream>

namespace kiln::tool {
namespace {

constexpr int kExitUsage = 2;

std::string exampleList() {
  std::string list;
  for (const examples::ExampleInfo &e : examples::registeredExamples())
    list += fmt::format("\n  {:<12} {}", e.name, e.summary);
  return list;
}

std::string exampleNames() {
  std::string names;
  for (const examples::ExampleInfo &e : examples::registeredExamples())
    names += (names.empty() ? "" : ", ") + std::string(e.name);
  return names;
}

class ExampleCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    // Everything after the first positional (NAME) is passed to the example.
    app.prefix_command();
    app.footer("Examples:" + exampleList() +
               "\n\nRun 'kiln example NAME --help' for the options of an example.");
    app_ = &app;
  }

  int run() override {
    std::vector<std::string> rest = app_->remaining();
    if (rest.empty())
      return usageError("missing the example NAME (one of: " + exampleNames() + ")");
    const examples::ExampleInfo *example = examples::findExample(rest.front());
    if (!example)
      return usageError(
          fmt::format("unknown example '{}' (one of: {})", rest.front(), exampleNames()));
    std::string program = "kiln example " + rest.front();
    rest.erase(rest.begin());
    try {
      return examples::runExample(*example, program, std::move(rest));
    } catch (const Error &e) {
      if (e.kind() != ErrorKind::Usage)
        throw;
      return usageError(e.message(), program);
    }
  }

private:
  static int usageError(const std::string &message, const std::string &program = "kiln example") {
    std::cerr << "kiln: error: " << message << "\nRun '" << program << " --help' for usage.\n";
    return kExitUsage;
  }

  CLI::App *app_ = nullptr;
};

KILN_REGISTER_COMMAND(ExampleCommand, "example", "Run a program of the textbook chapter");

} // namespace
} // namespace kiln::tool
