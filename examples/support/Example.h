//===- Example.h - The registry of example programs -------------*- C++ -*-===//
//
// Every program of the textbook chapter is one file examples/NAME.cpp that
// registers itself:
//
//   KILN_EXAMPLE(linreg, "linreg", "textbook §2: linear regression") {
//     int epochs = args.integer("--epochs", 1000, "training epochs");
//     args.finish(); // --help, unknown options
//     ...
//     return 0;
//   }
//
// The same registration is used twice: each file is built as its own program
// `example_NAME` (support/main.cpp picks it by name), and all of them are
// linked into the `kiln` tool as `kiln example NAME [options]`.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::examples {

/// The command line of an example. Options are declared and read in one
/// call, then finish() rejects what was not declared. Accepted spellings:
/// `--name value`, `--name=value`, and `--flag`.
class Args {
public:
  /// `program` is how usage messages name the example ("kiln example linreg").
  Args(std::string program, std::string summary, std::vector<std::string> args);

  /// True when `--name` is given.
  bool flag(std::string_view name, std::string_view help);
  /// `valueName` names the value in the help (FILE, DIR).
  std::string string(std::string_view name, std::string defaultValue, std::string_view help,
                     std::string_view valueName = "TEXT");
  /// A value from `choices`; another one is an Error(Usage) listing them.
  std::string choice(std::string_view name, std::string defaultValue,
                     const std::vector<std::string> &choices, std::string_view help);
  int64_t integer(std::string_view name, int64_t defaultValue, std::string_view help,
                  int64_t min = INT64_MIN);
  double number(std::string_view name, double defaultValue, std::string_view help);

  /// After the declarations: prints the help and throws HelpShown for
  /// `--help`; throws Error(Usage) for an option that was not declared or a
  /// positional argument.
  void finish();
  /// The help text (usage, summary and every declared option).
  std::string help() const;
  const std::string &program() const { return program_; }

  /// Thrown by finish() after printing --help: the example exits with 0.
  struct HelpShown {};

private:
  std::optional<std::string> take(std::string_view name, bool hasValue);
  void declare(std::string_view name, std::string_view valueName, std::string_view help,
               std::string_view defaultValue);

  std::string program_;
  std::string summary_;
  std::vector<std::string> args_;
  std::vector<bool> used_;
  std::vector<std::string> helpLines_;
};

/// The signature of an example's body.
using ExampleFunction = int (*)(Args &args);

struct ExampleInfo {
  std::string_view name;
  /// One line, shown by `kiln example --help`.
  std::string_view summary;
  ExampleFunction run;
};

/// Adds an example during static initialisation.
struct ExampleRegistration {
  explicit ExampleRegistration(ExampleInfo info);
};

/// Every registered example, sorted by name.
std::vector<ExampleInfo> registeredExamples();
/// The example called `name`, or nullptr.
const ExampleInfo *findExample(std::string_view name);

/// Runs example `name` with `args` and returns its exit status. `program`
/// prefixes usage messages. Errors propagate as kiln::Error, except that
/// --help returns 0.
int runExample(const ExampleInfo &example, std::string program, std::vector<std::string> args);

/// The main() of a program `example_NAME`: runs it, prints a kiln::Error as
/// `PROGRAM: error: ...` and exits 1 (2 for a usage error).
int exampleMain(std::string_view name, int argc, char **argv);

} // namespace kiln::examples

/// Registers the example `name` (a string: "save-load") whose body follows;
/// `ident` is a C++ identifier unique among the examples.
#define KILN_EXAMPLE(ident, name, summary)                                                         \
  static int kilnExample_##ident(::kiln::examples::Args &args);                                    \
  static const ::kiln::examples::ExampleRegistration kilnExampleRegistration_##ident(              \
      {name, summary, kilnExample_##ident});                                                       \
  static int kilnExample_##ident(::kiln::examples::Args &args)
