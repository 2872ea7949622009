//===- RunCommand.cpp - kiln run ------------------------------------------===//
#include "Command.h"
#include "support/IrInput.h"
#include "support/Npy.h"
#include "support/RunInputs.h"
#include "support/TensorText.h"

#include "kiln/runtime/Interpreter.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <limits>

namespace kiln::tool {
namespace {

/// A file name for the result called `label`: characters other than
/// [A-Za-z0-9_.-] become '_'.
std::string npyFileName(const std::string &label) {
  std::string name = label;
  for (char &c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
      c = '_';
  return name + ".npy";
}

/// Creates `dir` (before running, so that a bad path fails early).
void makeDirectory(const std::string &dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw Error(ErrorKind::Io, fmt::format("cannot create directory '{}': {}", dir, ec.message()));
}

void writeResultFiles(const std::string &dir, const ir::Function &f,
                      const std::vector<ir::HostTensor> &results) {
  std::vector<std::string> labels = valueLabels(f);
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string &label = labels.at(size_t(f.results()[i].id));
    writeNpy((std::filesystem::path(dir) / npyFileName(label)).string(), results[i]);
  }
}

/// `kiln run FILE --input NAME=VALUES...`: evaluates a function with the
/// reference interpreter and prints its results.
class RunCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    app.add_option("file", file_, "IR file to run ('-' for standard input)")
        ->required()
        ->type_name("FILE");
    app.add_option("-f,--func", func_, "Function to run (default: the module's only one)")
        ->type_name("NAME");
    app.add_option("-i,--input", inputs_,
                   "A parameter's value: a literal such as 1,2,3 or [[1,2],[3,4]] (row-major; "
                   "one value fills the tensor) or a .npy file. Repeat for each parameter.")
        ->type_name("NAME=VALUES")
        ->allow_extra_args(false)
        ->check(CLI::Validator([](std::string &arg) { return checkInputArg(arg); }, "", "input"));
    app.add_option("--output-npy", npyDir_, "Also write each result to DIR/NAME.npy")
        ->type_name("DIR");
    app.add_flag("--full", full_,
                 "Print every element (by default, tensors of more than "
                 "1000 elements are summarised with ...)");
  }

  int run() override {
    ir::Module m = loadModule(file_);
    const ir::Function &f = selectFunction(m, func_);
    std::vector<InputArg> args;
    for (const std::string &arg : inputs_)
      args.push_back(splitInputArg(arg));
    std::vector<ir::HostTensor> inputs = bindInputs(f, args);
    if (!npyDir_.empty())
      makeDirectory(npyDir_);
    std::vector<ir::HostTensor> results = runtime::interpret(f, inputs);
    printResults(f, results);
    if (!npyDir_.empty())
      writeResultFiles(npyDir_, f, results);
    return 0;
  }

private:
  void printResults(const ir::Function &f, const std::vector<ir::HostTensor> &results) const {
    FormatOptions opts;
    if (full_)
      opts.summarizeAbove = std::numeric_limits<int64_t>::max();
    std::vector<std::string> labels = valueLabels(f);
    std::string out;
    for (size_t i = 0; i < results.size(); ++i)
      out += fmt::format("%{}: {} = {}\n", labels.at(size_t(f.results()[i].id)),
                         results[i].type().str(), formatTensor(results[i], opts));
    writeOutput("-", out);
  }

  std::string file_, func_, npyDir_;
  std::vector<std::string> inputs_;
  bool full_ = false;
};

KILN_REGISTER_COMMAND(RunCommand, "run", "Run a function with the reference interpreter");

} // namespace
} // namespace kiln::tool
