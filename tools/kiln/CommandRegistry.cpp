//===- CommandRegistry.cpp - The subcommand registry ----------------------===//
#include "Command.h"

#include <algorithm>

namespace kiln::tool {

/// Function-local so that registrations from any translation unit's static
/// initialisers find it constructed.
static std::vector<CommandInfo> &registry() {
  static std::vector<CommandInfo> commands;
  return commands;
}

CommandRegistration::CommandRegistration(CommandInfo info) { registry().push_back(info); }

std::vector<CommandInfo> registeredCommands() {
  std::vector<CommandInfo> sorted = registry();
  std::sort(sorted.begin(), sorted.end(),
            [](const CommandInfo &a, const CommandInfo &b) { return a.name < b.name; });
  return sorted;
}

} // namespace kiln::tool
