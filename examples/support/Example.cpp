//===- Example.cpp - The registry of example programs ---------------------===//
#include "Example.h"

#include <kiln/ir/Error.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iostream>
#include <map>
#include <sstream>

namespace kiln::examples {

// ---- Args ------------------------------------------------------------------------

Args::Args(std::string program, std::string summary, std::vector<std::string> args)
    : program_(std::move(program)), summary_(std::move(summary)), args_(std::move(args)),
      used_(args_.size(), false) {}

void Args::declare(std::string_view name, std::string_view valueName, std::string_view help,
                   std::string_view defaultValue) {
  std::string left = std::string(name) + (valueName.empty() ? "" : " " + std::string(valueName));
  // Help in a column; after a long option name, on the next line.
  std::string line = "  " + left;
  line += left.size() < 22 ? std::string(24 - left.size(), ' ') : "\n" + std::string(26, ' ');
  line += help;
  if (!defaultValue.empty())
    line += " (default: " + std::string(defaultValue) + ")";
  helpLines_.push_back(line);
}

/// The value of the last `--name` (or true-ish "" for a flag), marking the
/// words used.
std::optional<std::string> Args::take(std::string_view name, bool hasValue) {
  std::optional<std::string> value;
  for (size_t i = 0; i < args_.size(); ++i) {
    const std::string &a = args_[i];
    if (a == name) {
      used_[i] = true;
      if (!hasValue) {
        value = "";
        continue;
      }
      if (i + 1 >= args_.size())
        throw Error(ErrorKind::Usage, std::string(name) + " needs a value");
      used_[++i] = true;
      value = args_[i];
    } else if (hasValue && a.size() > name.size() && a.compare(0, name.size(), name) == 0 &&
               a[name.size()] == '=') {
      used_[i] = true;
      value = a.substr(name.size() + 1);
    }
  }
  return value;
}

bool Args::flag(std::string_view name, std::string_view help) {
  declare(name, "", help, "");
  return take(name, false).has_value();
}

std::string Args::string(std::string_view name, std::string defaultValue, std::string_view help,
                         std::string_view valueName) {
  declare(name, valueName, help, defaultValue);
  return take(name, true).value_or(std::move(defaultValue));
}

std::string Args::choice(std::string_view name, std::string defaultValue,
                         const std::vector<std::string> &choices, std::string_view help) {
  std::string list;
  for (const std::string &c : choices)
    list += (list.empty() ? "" : "|") + c;
  declare(name, list, help, defaultValue);
  std::string value = take(name, true).value_or(defaultValue);
  if (std::find(choices.begin(), choices.end(), value) == choices.end())
    throw Error(ErrorKind::Usage, std::string(name) + ": '" + value + "' is not one of " + list);
  return value;
}

int64_t Args::integer(std::string_view name, int64_t defaultValue, std::string_view help,
                      int64_t min) {
  declare(name, "N", help, std::to_string(defaultValue));
  std::optional<std::string> text = take(name, true);
  if (!text)
    return defaultValue;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size())
    throw Error(ErrorKind::Usage, std::string(name) + ": '" + *text + "' is not an integer");
  if (value < min)
    throw Error(ErrorKind::Usage,
                std::string(name) + ": " + *text + " is below the minimum " + std::to_string(min));
  return value;
}

double Args::number(std::string_view name, double defaultValue, std::string_view help) {
  std::ostringstream def;
  def << defaultValue;
  declare(name, "X", help, def.str());
  std::optional<std::string> text = take(name, true);
  if (!text)
    return defaultValue;
  double value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || !std::isfinite(value))
    throw Error(ErrorKind::Usage, std::string(name) + ": '" + *text + "' is not a number");
  return value;
}

std::string Args::help() const {
  std::string out = "Usage: " + program_ + " [options]\n\n" + summary_ + "\n\nOptions:\n";
  out += "  --help                  Print this help\n";
  for (const std::string &line : helpLines_)
    out += line + "\n";
  return out;
}

void Args::finish() {
  for (size_t i = 0; i < args_.size(); ++i)
    if (args_[i] == "--help" || args_[i] == "-h") {
      std::cout << help();
      throw HelpShown{};
    }
  for (size_t i = 0; i < args_.size(); ++i)
    if (!used_[i])
      throw Error(ErrorKind::Usage, args_[i].starts_with("-")
                                        ? "unknown option '" + args_[i] + "'"
                                        : "unexpected argument '" + args_[i] + "'");
}

// ---- Registry --------------------------------------------------------------------

namespace {

std::map<std::string_view, ExampleInfo> &registry() {
  static std::map<std::string_view, ExampleInfo> examples;
  return examples;
}

} // namespace

ExampleRegistration::ExampleRegistration(ExampleInfo info) { registry().emplace(info.name, info); }

std::vector<ExampleInfo> registeredExamples() {
  std::vector<ExampleInfo> out;
  for (const auto &[name, info] : registry())
    out.push_back(info);
  return out;
}

const ExampleInfo *findExample(std::string_view name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

int runExample(const ExampleInfo &example, std::string program, std::vector<std::string> args) {
  Args parsed(std::move(program), std::string(example.summary), std::move(args));
  try {
    return example.run(parsed);
  } catch (const Args::HelpShown &) {
    return 0;
  }
}

int exampleMain(std::string_view name, int argc, char **argv) {
  std::string program = argc > 0 ? argv[0] : "example";
  program = program.substr(program.find_last_of('/') + 1);
  const ExampleInfo *example = findExample(name);
  if (!example) {
    std::cerr << program << ": error: example '" << name << "' is not linked in\n";
    return 1;
  }
  try {
    return runExample(*example, program, std::vector<std::string>(argv + 1, argv + argc));
  } catch (const Error &e) {
    std::cerr << program << ": error: " << (e.where().empty() ? "" : e.where() + ": ")
              << e.message() << "\n";
    if (e.kind() == ErrorKind::Usage) {
      std::cerr << "Run '" << program << " --help' for usage.\n";
      return 2;
    }
    return 1;
  } catch (const std::exception &e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 1;
  }
}

} // namespace kiln::examples
