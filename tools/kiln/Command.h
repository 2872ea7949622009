//===- Command.h - kiln subcommands -----------------------------*- C++ -*-===//
//
// Each `kiln` subcommand is one class in one file that registers itself:
//
//   class GradCommand final : public Command { ... };
//   KILN_REGISTER_COMMAND(GradCommand, "grad", "Derive the backward graph");
//
// main() adds every registered command to the command line, so adding a
// subcommand means adding one file (tools/CMakeLists.txt globs *Command.cpp).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string_view>
#include <vector>

namespace kiln::tool {

/// One subcommand: declares its options, then runs once they are parsed.
class Command {
public:
  virtual ~Command() = default;
  /// Declares options and positionals on the subcommand's parser, binding
  /// them to members of this object.
  virtual void configure(CLI::App &app) = 0;
  /// Does the work after a successful parse and returns the exit status.
  /// Reports failures by throwing kiln::Error (main prints it, exits 1).
  virtual int run() = 0;
};

/// What the registry knows about a subcommand before creating it.
struct CommandInfo {
  std::string_view name;
  /// One line, shown by `kiln --help`.
  std::string_view summary;
  std::unique_ptr<Command> (*create)();
};

/// Adds a subcommand to the registry during static initialisation.
struct CommandRegistration {
  explicit CommandRegistration(CommandInfo info);
};

/// Every registered subcommand, sorted by name.
std::vector<CommandInfo> registeredCommands();

} // namespace kiln::tool

/// Registers `Class` (default-constructible, derived from Command) as the
/// subcommand `name`.
#define KILN_REGISTER_COMMAND(Class, name, summary)                                                \
  static const ::kiln::tool::CommandRegistration kilnRegister##Class(                              \
      {name, summary,                                                                              \
       []() -> std::unique_ptr<::kiln::tool::Command> { return std::make_unique<Class>(); }})
