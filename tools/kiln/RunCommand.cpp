//===- RunCommand.cpp - kiln run ------------------------------------------===//
#include "Command.h"
#include "support/IrInput.h"
#include "support/Npy.h"
#include "support/RunInputs.h"
#include "support/TensorText.h"

#include "kiln/runtime/Interpreter.h"
#include "kiln/runtime/Jit.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/Threads.h"

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <cstdio>
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

/// `%a, %b`: the values a kernel computes, named as `--emit-ir` prints them.
std::string valueList(const std::vector<std::string> &labels, const std::vector<ir::ValueId> &vs) {
  std::string out;
  for (ir::ValueId v : vs)
    out += fmt::format("{}%{}", out.empty() ? "" : ", ", labels.at(size_t(v.id)));
  return out;
}

/// The per-kernel table of `--profile`: what ran, how often, for how long,
/// and which values of the optimised function it computed.
std::string profileTable(const runtime::Program &program, int64_t runs, int64_t runNanos) {
  std::string out = fmt::format("{:<40} {:<9} {:>7} {:>12} {:>12}  {}\n", "kernel", "kind", "calls",
                                "total ms", "mean us", "computes");
  std::vector<std::string> labels = valueLabels(program.optimized());
  int64_t kernelNanos = 0;
  for (const runtime::KernelInfo &k : program.kernels()) {
    if (k.kind == runtime::KernelKind::Constant) // filled at compile time, never runs
      continue;
    kernelNanos += k.nanos;
    out += fmt::format("{:<40} {:<9} {:>7} {:>12.3f} {:>12.3f}  {}\n", k.name,
                       runtime::kernelKindName(k.kind), k.calls, double(k.nanos) * 1e-6,
                       k.calls ? double(k.nanos) * 1e-3 / double(k.calls) : 0.0,
                       valueList(labels, k.results));
  }
  out += fmt::format("{:<40} {:<9} {:>7} {:>12.3f} {:>12.3f}\n", "all kernels", "", runs,
                     double(kernelNanos) * 1e-6, double(kernelNanos) * 1e-3 / double(runs));
  out += fmt::format("{:<40} {:<9} {:>7} {:>12.3f} {:>12.3f}\n", "run (kernels, binding, copies)",
                     "", runs, double(runNanos) * 1e-6, double(runNanos) * 1e-3 / double(runs));
  return out;
}

/// `kiln run FILE --input NAME=VALUES...`: evaluates a function, compiled
/// (runtime::Program) or with the reference interpreter, and prints its
/// results.
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
    app.add_option("--backend", backend_,
                   "jit: compile with runtime::Program (LLVM loop kernels, oneDNN); "
                   "interp: the reference interpreter")
        ->type_name("jit|interp")
        ->check(CLI::IsMember({"jit", "interp"}))
        ->capture_default_str();
    app.add_option("--repeat", repeat_, "Run N times (results are the last run's)")
        ->type_name("N")
        ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
    app.add_flag("--profile", profile_,
                 "Print a table of the kernels' calls and times to standard error (jit only)");
    app.add_flag("--stats", stats_,
                 "Print the JIT's kernel counts to standard error: compiled by LLVM, loaded "
                 "from the disk cache ($KILN_CACHE_DIR), found in memory; and the thread limit "
                 "and pool");
    app.add_option("--threads", threads_,
                   "Most threads a kernel runs on (default: $KILN_NUM_THREADS, else "
                   "$OMP_NUM_THREADS, else the cores available)")
        ->type_name("N")
        ->check(CLI::Range(1, 1024));
    app.add_flag("--check-numerics", checkNumerics_,
                 "Stop at the first op whose result holds NaN or Inf and name it, with its "
                 "IR location (jit only)");
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
    if ((profile_ || stats_) && backend_ != "jit")
      throw Error(ErrorKind::Usage,
                  fmt::format("{} needs --backend=jit", profile_ ? "--profile" : "--stats"));
    if (checkNumerics_ && backend_ != "jit")
      throw Error(ErrorKind::Usage, "--check-numerics needs --backend=jit");
    std::vector<ir::HostTensor> results =
        backend_ == "jit" ? runCompiled(f, inputs) : runInterpreted(f, inputs);
    printResults(f, results);
    if (!npyDir_.empty())
      writeResultFiles(npyDir_, f, results);
    return 0;
  }

private:
  std::vector<ir::HostTensor> runInterpreted(const ir::Function &f,
                                             const std::vector<ir::HostTensor> &inputs) const {
    std::vector<ir::HostTensor> results;
    for (int64_t i = 0; i < repeat_; ++i)
      results = runtime::interpret(f, inputs);
    return results;
  }

  std::vector<ir::HostTensor> runCompiled(const ir::Function &f,
                                          const std::vector<ir::HostTensor> &inputs) const {
    if (threads_ > 0)
      runtime::setMaxThreads(threads_);
    auto program = runtime::Program::compile(
        f, {.profile = profile_, .checkNumerics = checkNumerics_});
    std::vector<ir::HostTensor> results;
    auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < repeat_; ++i)
      results = program->run(inputs);
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
    if (stats_) {
      runtime::JitStats s = runtime::Jit::instance().stats();
      std::fputs(fmt::format("jit: {} kernels compiled, {} loaded from the disk cache, {} found "
                             "in memory\n",
                             s.compiled, s.diskHits, s.memoryHits)
                     .c_str(),
                 stderr);
      runtime::PoolStats pool = runtime::poolStats();
      std::fputs(fmt::format("threads: at most {} per kernel; pool: {} workers started, {} jobs "
                             "shared\n",
                             runtime::maxThreads(), pool.workers, pool.sharedJobs)
                     .c_str(),
                 stderr);
    }
    if (profile_)
      std::fputs(profileTable(*program, repeat_, nanos).c_str(), stderr);
    return results;
  }

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
  std::string backend_ = "jit";
  int64_t repeat_ = 1;
  bool full_ = false, profile_ = false, stats_ = false, checkNumerics_ = false;
  int threads_ = 0;
};

KILN_REGISTER_COMMAND(RunCommand, "run", "Run a function, compiled or with the interpreter");

} // namespace
} // namespace kiln::tool
