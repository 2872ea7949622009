//===- main.cpp - The kiln command-line tool ------------------------------===//
//
// `kiln COMMAND ...`: every subcommand registered with KILN_REGISTER_COMMAND
// (see Command.h). Exit status: 0 on success, 1 on an error (printed as
// `FILE:LINE:COL: error: ...` or `kiln: error: ...`), 2 on a usage error.
//
//===----------------------------------------------------------------------===//
#include "Command.h"

#include "kiln/ir/Error.h"

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <new>

#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif

namespace {

using kiln::tool::Command;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

/// A diagnostic at a place in a file reads `FILE:LINE:COL: error: ...`, as
/// compilers print them; an I/O error names its file after `kiln: error:`,
/// as compilers do for a file they cannot read.
int reportError(const kiln::Error &e) {
  if (e.where().empty())
    std::cerr << "kiln: error: " << e.message() << "\n";
  else if (e.kind() == kiln::ErrorKind::Io)
    std::cerr << "kiln: error: " << e.where() << ": " << e.message() << "\n";
  else
    std::cerr << e.where() << ": error: " << e.message() << "\n";
  return kExitError;
}

/// Prints help or version (exit 0) or a usage error (exit 2).
int reportParseError(const CLI::App &app, const CLI::ParseError &e) {
  if (e.get_exit_code() == 0)
    return app.exit(e); // --help, --version: printed to stdout
  std::cerr << "kiln: error: " << e.what() << "\n";
  std::vector<CLI::App *> selected = app.get_subcommands();
  std::string scope = selected.empty() ? "" : " " + selected.front()->get_name();
  std::cerr << "Run 'kiln" << scope << " --help' for usage.\n";
  return kExitUsage;
}

bool isCommand(std::string_view name) {
  for (const kiln::tool::CommandInfo &info : kiln::tool::registeredCommands())
    if (info.name == name)
      return true;
  return false;
}

int runKiln(int argc, char **argv) {
  CLI::App app{"kiln: a deep-learning graph compiler. Inspect, check and run kiln IR.", "kiln"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("kiln ") + KILN_VERSION);

  std::vector<std::pair<CLI::App *, std::unique_ptr<Command>>> commands;
  for (const kiln::tool::CommandInfo &info : kiln::tool::registeredCommands()) {
    CLI::App *sub = app.add_subcommand(std::string(info.name), std::string(info.summary));
    std::unique_ptr<Command> command = info.create();
    command->configure(*sub);
    commands.emplace_back(sub, std::move(command));
  }
  // After the subcommands, which would inherit it.
  app.footer("Run 'kiln COMMAND --help' for the options of a command.");

  // CLI11 would report a mistyped command as a missing one.
  if (argc > 1 && argv[1][0] != '-' && !isCommand(argv[1])) {
    std::cerr << "kiln: error: unknown command '" << argv[1] << "'\n"
              << "Run 'kiln --help' for the list of commands.\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return reportParseError(app, e);
  }
  for (auto &[sub, command] : commands)
    if (sub->parsed())
      return command->run();
  return kExitUsage; // unreachable: a subcommand is required
}

} // namespace

int main(int argc, char **argv) {
  try {
    return runKiln(argc, argv);
  } catch (const kiln::Error &e) {
    return reportError(e);
  } catch (const std::bad_alloc &) {
    std::cerr << "kiln: error: out of memory\n";
  } catch (const std::exception &e) {
    std::cerr << "kiln: error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "kiln: error: unknown exception\n";
  }
  return kExitError;
}
