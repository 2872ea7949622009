//===- FuzzGraphsCommand.cpp - kiln fuzz-graphs ---------------------------===//
#include "Command.h"
#include "support/RandomGraph.h"

#include "kiln/ir/OpDef.h"
#include "kiln/runtime/Interpreter.h"
#include "kiln/runtime/Program.h"

#include <fmt/format.h>

#include <cstdio>
#include <map>

namespace kiln::tool {
namespace {

/// `kiln fuzz-graphs --seed N --count M`: compiles M random graphs (seeds N,
/// N+1, ...) with runtime::Program and compares each result with the
/// reference interpreter; prints the first graph that differs, as IR with
/// the `kiln run` command that reproduces it, and exits 1. Every other line
/// is a `//` comment, so that the output is IR that `kiln run` reads.
class FuzzGraphsCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    app.add_option("--seed", seed_, "Seed of the first graph (graph i uses seed + i)")
        ->type_name("N");
    app.add_option("--count", count_, "Number of graphs")
        ->type_name("M")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--max-nodes", options_.maxNodes, "Random ops per graph, at most")
        ->type_name("K")
        ->check(CLI::Range(1, 1000));
    app.add_option("--op", op_, "Use this op in every graph (e.g. matmul)")->type_name("NAME");
    app.add_flag("--print", print_, "Print every graph before running it");
    app.add_flag("--keep-going", keepGoing_,
                 "After a mismatch, go on: print one line per failing graph, exit 1 at the end");
  }

  int run() override {
    if (!op_.empty()) {
      const ir::OpDef *def = ir::findOp(op_);
      std::vector<ir::OpKind> ops = generatableOps();
      if (!def || std::find(ops.begin(), ops.end(), def->kind) == ops.end())
        throw Error(ErrorKind::Usage, fmt::format("--op: the generator cannot make '{}'", op_));
      options_.mustUse = def->kind;
    }
    std::map<runtime::KernelKind, int64_t> kernels;
    uint64_t failures = 0;
    for (uint64_t i = 0; i < count_; ++i) {
      uint64_t seed = seed_ + i;
      RandomGraph g = randomGraph(seed, options_);
      if (print_)
        std::fputs(fmt::format("// seed {}\n{}", seed, describeGraph(g)).c_str(), stdout);
      std::optional<std::string> problem = check(g, kernels);
      if (problem && keepGoing_) {
        std::fputs(fmt::format("// seed {}: {}\n", seed, *problem).c_str(), stdout);
        ++failures;
      } else if (problem) {
        std::fputs(fmt::format("// fuzz-graphs: graph of seed {} differs from the interpreter: {}\n"
                               "{}",
                               seed, *problem, describeGraph(g))
                       .c_str(),
                   stdout);
        return 1;
      }
    }
    if (failures) {
      std::fputs(fmt::format("// fuzz-graphs: {} of {} graphs differ from the interpreter\n",
                             failures, count_)
                     .c_str(),
                 stdout);
      return 1;
    }
    std::string mix;
    for (auto [kind, n] : kernels)
      mix += fmt::format("{}{} {}", mix.empty() ? "" : ", ", n, runtime::kernelKindName(kind));
    std::fputs(fmt::format("// fuzz-graphs: {} graphs (seeds {}..{}) match the interpreter; "
                           "kernels: {}\n",
                           count_, seed_, seed_ + count_ - (count_ ? 1 : 0),
                           mix.empty() ? "none" : mix)
                   .c_str(),
               stdout);
    return 0;
  }

private:
  /// What is wrong with the compiled run of `g`, or nullopt when it matches.
  static std::optional<std::string> check(const RandomGraph &g,
                                          std::map<runtime::KernelKind, int64_t> &kernels) {
    std::vector<ir::HostTensor> want = runtime::interpret(g.fn, g.inputs);
    std::vector<ir::HostTensor> got;
    try {
      auto program = runtime::Program::compile(g.fn);
      got = program->run(g.inputs);
      for (const runtime::KernelInfo &k : program->kernels())
        ++kernels[k.kind];
    } catch (const Error &e) {
      return fmt::format("the compiled program failed: {}", e.what());
    }
    return compareResults(got, want);
  }

  uint64_t seed_ = 1, count_ = 100;
  RandomGraphOptions options_;
  std::string op_;
  bool print_ = false, keepGoing_ = false;
};

KILN_REGISTER_COMMAND(FuzzGraphsCommand, "fuzz-graphs",
                      "Compare compiled random graphs with the interpreter (bug hunting)");

} // namespace
} // namespace kiln::tool
