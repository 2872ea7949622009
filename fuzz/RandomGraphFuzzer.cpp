//===- RandomGraphFuzzer.cpp - Compiled programs vs the interpreter -------===//
//
// The fuzz bytes choose a seed and the options of the random graph
// generator (tools/kiln/support/RandomGraph.h); the graph is compiled
// (passes, JIT, oneDNN) and must compute what the reference interpreter
// computes, within RandomGraph's tolerance.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"
#include "kiln/runtime/Interpreter.h"
#include "kiln/runtime/Program.h"
#include "support/RandomGraph.h"

#include <fmt/format.h>

using namespace kiln;

namespace {

tool::RandomGraphOptions optionsFrom(fuzz::ByteReader &in) {
  static const std::vector<ir::OpKind> ops = tool::generatableOps();
  tool::RandomGraphOptions options;
  options.maxNodes = 1 + in.byte() % 16;
  options.maxRank = 1 + in.byte() % 4;
  // 1 included: every dimension is then 1, which once made the generator
  // divide by zero (the first finding of this target; DifferentialTest covers it).
  options.maxExtent = 1 + in.byte() % 8;
  if (uint8_t op = in.byte(); op % 2 && !ops.empty())
    options.mustUse = ops[(op / 2) % ops.size()];
  return options;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::ByteReader in(data, size);
  uint64_t seed = in.u64();
  tool::RandomGraphOptions options = optionsFrom(in);
  tool::RandomGraph g = tool::randomGraph(seed, options);
  std::vector<ir::HostTensor> want = runtime::interpret(g.fn, g.inputs);
  std::vector<ir::HostTensor> got = runtime::Program::compile(g.fn)->run(g.inputs);
  if (auto diff = tool::compareResults(got, want))
    fuzz::fail(fmt::format("compiled and interpreted results differ: {}\n{}", *diff,
                           tool::describeGraph(g)));
  return 0;
}
