//===- MemoryPlanTest.cpp - Buffer planning and programs on the arena -----===//
//
// The plan's invariants are checked here from the IR alone (liveness is
// recomputed, not read from the plan), on hand-written and random graphs;
// programs on the planned arena are checked against the interpreter where
// in-place updates and reuse happen.
//
//===----------------------------------------------------------------------===//
#include "support/RandomGraph.h"

#include "kiln/compiler/Fuse.h"
#include "kiln/compiler/MemoryPlan.h"
#include "kiln/compiler/Simplify.h"
#include "kiln/ir/OpDef.h"
#include "kiln/ir/Parser.h"
#include "kiln/ir/Printer.h"
#include "kiln/runtime/Interpreter.h"
#include "kiln/runtime/Program.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace kiln;
using namespace kiln::ir;
using compiler::MemoryPlan;
using compiler::Storage;

namespace {

Function parseOne(std::string_view text) { return parseModule(text).functions.at(0); }

/// Liveness recomputed from the IR: the reshape root of every value, and the
/// last node reading each root's buffer (numNodes for returned values).
struct Liveness {
  std::vector<ValueId> root;
  std::vector<int32_t> last;

  explicit Liveness(const Function &f) : root(f.numValues()), last(f.numValues(), -1) {
    auto n = int32_t(f.nodes().size());
    for (size_t v = 0; v < f.numValues(); ++v)
      root[v] = ValueId{int32_t(v)};
    for (int32_t i = 0; i < n; ++i) {
      const Node &node = f.nodes()[size_t(i)];
      if (node.op == OpKind::Reshape)
        root[size_t(node.result().id)] = rootOf(node.operands[0]);
      for (ValueId r : node.results)
        bump(r, i);
      for (ValueId o : node.operands)
        bump(o, i);
    }
    for (ValueId r : f.results())
      bump(r, n);
  }
  ValueId rootOf(ValueId v) const { return root[size_t(v.id)]; }
  int32_t lastOf(ValueId v) const { return last[size_t(rootOf(v).id)]; }
  void bump(ValueId v, int32_t i) {
    int32_t &l = last[size_t(rootOf(v).id)];
    l = std::max(l, i);
  }
};

int32_t defOf(const Function &f, ValueId v) { return f.value(v).defNode; }

/// Whether node `i` may write `v` over the buffer of `group`, which dies
/// there: a loop kernel reading every use of `group` element by element.
bool legalInPlace(const Function &f, const Liveness &live, int32_t i, ValueId group, ValueId v) {
  const Node &n = f.nodes()[size_t(i)];
  bool loop = n.body ? std::all_of(n.body->nodes().begin(), n.body->nodes().end(),
                                   [](const Node &m) {
                                     return m.op == OpKind::Constant || opDef(m.op).scalar;
                                   })
                     : opDef(n.op).scalar != nullptr;
  if (!loop || live.lastOf(group) != i)
    return false;
  bool reads = false;
  for (ValueId o : n.operands)
    if (live.rootOf(o) == group) {
      reads = true;
      if (f.type(o).shape.numel() != f.type(v).shape.numel())
        return false;
    }
  return reads;
}

/// No two values share arena bytes while both are live, except a value and
/// its reshapes, and a loop kernel's result written over an operand that
/// dies at that kernel.
void expectNoOverlapWhileLive(const Function &f, const MemoryPlan &plan) {
  Liveness live(f);
  std::vector<ValueId> arena;
  for (size_t v = 0; v < f.numValues(); ++v) {
    ValueId id{int32_t(v)};
    const auto &p = plan.at(id);
    bool inArena =
        !f.isParam(live.rootOf(id)) &&
        !(defOf(f, live.rootOf(id)) >= 0 && f.defOf(live.rootOf(id)).op == OpKind::Constant);
    ASSERT_EQ(p.storage == Storage::Arena, inArena) << "value " << v;
    if (!inArena)
      continue;
    EXPECT_EQ(p.offset % compiler::kPlanAlignment, 0) << "value " << v;
    EXPECT_LE(p.offset + p.bytes, plan.arenaBytes) << "value " << v;
    arena.push_back(id);
  }
  for (ValueId u : arena)
    for (ValueId v : arena) {
      if (u.id >= v.id)
        continue;
      const auto &pu = plan.at(u), &pv = plan.at(v);
      bool shareBytes = pu.bytes > 0 && pv.bytes > 0 && pu.offset < pv.offset + pv.bytes &&
                        pv.offset < pu.offset + pu.bytes;
      int32_t du = defOf(f, u), dv = defOf(f, v);
      bool liveTogether = du <= live.lastOf(v) && dv <= live.lastOf(u);
      if (!shareBytes || !liveTogether || live.rootOf(u) == live.rootOf(v))
        continue;
      // Defined later, v may only overwrite u's group at the node where it dies.
      ValueId later = dv >= du ? v : u, earlier = dv >= du ? u : v;
      ValueId writer = live.rootOf(later);
      EXPECT_TRUE(legalInPlace(f, live, defOf(f, writer), live.rootOf(earlier), writer))
          << "values " << u.id << " and " << v.id << " overlap while live\n"
          << print(f) << compiler::printMemoryPlan(f, plan);
    }
}

void expectSoundPlan(const Function &f) {
  MemoryPlan plan = compiler::planMemory(f);
  expectNoOverlapWhileLive(f, plan);
  EXPECT_NO_THROW(compiler::verifyMemoryPlan(f, plan));
  EXPECT_LE(plan.arenaBytes, plan.bytesWithoutReuse);
}

TEST(MemoryPlan, AChainOfMatmulsNeedsTwoSlots) {
  Function f = parseOne(R"(
func @chain(%x: f32[16,16], %w: f32[16,16]) -> (f32[16,16]) {
  %a = matmul %x, %w : f32[16,16]
  %b = matmul %a, %w : f32[16,16]
  %c = matmul %b, %w : f32[16,16]
  %d = matmul %c, %w : f32[16,16]
  %e = matmul %d, %w : f32[16,16]
  return %e
})");
  MemoryPlan plan = compiler::planMemory(f);
  EXPECT_EQ(plan.arenaBytes, 2 * 1024);
  EXPECT_EQ(plan.bytesWithoutReuse, 5 * 1024);
  for (const auto &p : plan.values)
    EXPECT_FALSE(p.inPlace) << "a matmul never writes over its operands";
  expectSoundPlan(f);
}

TEST(MemoryPlan, AnElementwiseChainRunsInOneSlot) {
  Function f = parseOne(R"(
func @chain(%x: f32[1000]) -> (f32[1000]) {
  %a = exp %x : f32[1000]
  %b = neg %a : f32[1000]
  %c = tanh %b : f32[1000]
  %d = mul %c, %c : f32[1000]
  return %d
})");
  MemoryPlan plan = compiler::planMemory(f);
  EXPECT_EQ(plan.arenaBytes, 4032); // 4000 bytes, aligned to 64
  for (const char *name : {"b", "c", "d"}) {
    size_t i = 0;
    while (f.value(ValueId{int32_t(i)}).name != name)
      ++i;
    EXPECT_TRUE(plan.values[i].inPlace) << "%" << name;
  }
  expectSoundPlan(f);
}

TEST(MemoryPlan, RandomGraphsNeverShareBytesWhileLive) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    tool::RandomGraphOptions options;
    options.maxNodes = 20;
    Function f = tool::randomGraph(seed, options).fn;
    expectSoundPlan(f);
    expectSoundPlan(compiler::fuse(compiler::simplify(f), runtime::fusionTarget()));
    if (::testing::Test::HasFailure())
      break;
  }
}

TEST(MemoryPlan, TheVerifierRejectsOverlappingLiveValues) {
  Function f = parseOne(R"(
func @f(%x: f32[16]) -> (f32[16], f32[16]) {
  %a = exp %x : f32[16]
  %b = neg %x : f32[16]
  return %a, %b
})");
  MemoryPlan plan = compiler::planMemory(f);
  compiler::verifyMemoryPlan(f, plan);
  plan.values[size_t(f.results()[1].id)].offset = plan.values[size_t(f.results()[0].id)].offset;
  EXPECT_THROW(compiler::verifyMemoryPlan(f, plan), Error);
}

std::vector<HostTensor> inputsFor(const Function &f) {
  std::vector<HostTensor> inputs;
  for (ValueId p : f.params()) {
    HostTensor t(f.type(p));
    for (int64_t i = 0; i < t.numel(); ++i)
      t.set(i, 0.001 * double((i * 37 + p.id * 11) % 2000) - 1.0);
    inputs.push_back(t);
  }
  return inputs;
}

void expectNear(const std::vector<HostTensor> &got, const std::vector<HostTensor> &want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t r = 0; r < want.size(); ++r)
    for (int64_t i = 0; i < want[r].numel(); ++i)
      ASSERT_NEAR(got[r].get(i), want[r].get(i), 1e-6 + 1e-5 * std::fabs(want[r].get(i)))
          << "result " << r << ", element " << i;
}

constexpr std::string_view kChain = R"(
func @f(%x: f32[100002], %y: f32[100002]) -> (f32[100002], f32[]) {
  %a = exp %x : f32[100002]
  %b = add %a, %y : f32[100002]
  %c = tanh %b : f32[100002]
  %v = reshape %c : f32[7,14286]
  %d = mul %v, %v : f32[7,14286]
  %w = reshape %d : f32[100002]
  %e = sub %w, %x : f32[100002]
  %s = reduce_sum %e {axes=[0]} : f32[]
  %g = neg %e : f32[100002]
  return %g, %s
})";

size_t countInPlace(const MemoryPlan &plan) {
  return size_t(std::count_if(plan.values.begin(), plan.values.end(),
                              [](const auto &p) { return p.inPlace; }));
}

// Unfused, every op is its own noalias JIT loop written over its operand,
// large enough for the vectorised, unrolled loop; run twice on one arena.
TEST(ProgramArena, InPlaceLoopKernelsMatchTheInterpreter) {
  Function f = parseOne(kChain);
  auto program = runtime::Program::compile(f, {.pipeline = "simplify"});
  const MemoryPlan &plan = program->memoryPlan();
  EXPECT_GE(countInPlace(plan), 5u);
  EXPECT_LT(plan.arenaBytes, plan.bytesWithoutReuse);
  EXPECT_GE(program->bufferBytes(), plan.arenaBytes);
  std::vector<HostTensor> inputs = inputsFor(f);
  std::vector<HostTensor> want = runtime::interpret(f, inputs);
  expectNear(program->run(inputs), want);
  expectNear(program->run(inputs), want);
}

TEST(ProgramArena, FusedKernelsOnTheArenaMatchTheInterpreter) {
  Function f = parseOne(kChain);
  auto program = runtime::Program::compile(f);
  std::vector<HostTensor> inputs = inputsFor(f);
  expectNear(program->run(inputs), runtime::interpret(f, inputs));
}

// The frontend updates parameters in place: an output may be the buffer of
// an input that a later kernel still reads (%m reads %w after %n is known).
const char *kReadAfterUpdate = R"(
func @f(%w: f32[8,8], %x: f32[8,8]) -> (f32[8,8], f32[8,8]) {
  %n = neg %w : f32[8,8]
  %m = matmul %x, %w : f32[8,8]
  %t = tanh %m : f32[8,8]
  return %n, %t
})";

TEST(ProgramArena, OutputsAreWrittenAfterEveryKernelRan) {
  Function f = parseOne(kReadAfterUpdate);
  auto program = runtime::Program::compile(f);
  std::vector<HostTensor> inputs = inputsFor(f);
  std::vector<HostTensor> copies = {inputs[0].clone(), inputs[1].clone()};
  std::vector<HostTensor> want = runtime::interpret(f, copies);
  std::vector<HostTensor> outputs = {inputs[0], HostTensor(f.type(f.results()[1]))};
  program->run(inputs, outputs);
  ASSERT_EQ(outputs[0].raw(), inputs[0].raw());
  expectNear(outputs, want);
}

// A run remembers where it could write results in place for the buffers it
// was given (for the last two bindings: a replayed step's fresh outputs
// alternate between two sets of buffers); a run that binds other buffers
// decides again. Into %w's buffer, %n may not be written by its kernel, as the
// matmul still reads %w; into a fresh buffer it may. The runs alternate, so
// each decision is found from the run before last.
TEST(ProgramArena, InPlaceDecisionsFollowTheBuffersOfEachRun) {
  Function f = parseOne(kReadAfterUpdate);
  auto program = runtime::Program::compile(f);
  std::vector<HostTensor> inputs = inputsFor(f);
  std::vector<HostTensor> fresh = {HostTensor(f.type(f.results()[0])),
                                   HostTensor(f.type(f.results()[1]))};
  HostTensor other(f.type(f.results()[1]));
  for (int run = 0; run < 3; ++run) {
    std::vector<HostTensor> want = runtime::interpret(f, inputs);
    program->run(inputs, fresh);
    expectNear(fresh, want);
    std::vector<HostTensor> copies = {inputs[0].clone(), inputs[1].clone()};
    want = runtime::interpret(f, copies);
    std::vector<HostTensor> intoW = {inputs[0], other};
    program->run(inputs, intoW);
    expectNear(intoW, want);
  }
}

// An optimizer's update: the kernel that reads %w last computes %u element
// by element from it, so the plan lets %u be written into %w's buffer when
// the caller passes it as %u's output (no copy after the run); so may
// %early into %x's. Where a later node reads %w (%v), the earlier result
// may not.
const char *kUpdates = R"(
func @sgd(%w: f32[64], %x: f32[64], %lr: f32[]) -> (f32[], f32[64], f32[64], f32[64]) {
  %p = mul %w, %x : f32[64]
  %loss = reduce_sum %p {axes=[0], keepdims=false} : f32[]
  %s = mul %x, %lr : f32[64]
  %early = sub %x, %s : f32[64]
  %u = sub %w, %s : f32[64]
  return %loss, %u, %early, %early
})";

TEST(MemoryPlan, AnUpdateByTheLastReaderMayOverwriteItsParameter) {
  Function f = parseOne(kUpdates);
  MemoryPlan plan = compiler::planMemory(f);
  ValueId w = f.params()[0], x = f.params()[1];
  EXPECT_FALSE(plan.resultMayOverwrite[0].valid()) << "a reduction is not in step with %w";
  EXPECT_EQ(plan.resultMayOverwrite[1], w);
  EXPECT_EQ(plan.resultMayOverwrite[2], x) << "%early is the last reader of %x";
  EXPECT_FALSE(plan.resultMayOverwrite[3].valid()) << "a repeated result";

  Function late = parseOne(R"(
func @late(%w: f32[64], %x: f32[64]) -> (f32[64], f32[64]) {
  %u = sub %w, %x : f32[64]
  %v = mul %w, %x : f32[64]
  return %u, %v
})");
  MemoryPlan latePlan = compiler::planMemory(late);
  EXPECT_FALSE(latePlan.resultMayOverwrite[0].valid()) << "%v reads %w after %u";
  EXPECT_EQ(latePlan.resultMayOverwrite[1], late.params()[0]);
}

// The compiled update into its parameter's buffer, the repeated result into
// two outputs: the interpreter's values, twice (the second run on fresh
// buffers: no output address is kept from the first).
TEST(ProgramArena, AnUpdateIsWrittenIntoItsParameter) {
  Function f = parseOne(kUpdates);
  auto program = runtime::Program::compile(f);
  const Function &opt = program->optimized();
  ASSERT_EQ(program->memoryPlan().resultMayOverwrite[1], opt.params()[0]);
  for (int run = 0; run < 2; ++run) {
    std::vector<HostTensor> inputs = inputsFor(f);
    std::vector<HostTensor> copies = {inputs[0].clone(), inputs[1].clone(), inputs[2].clone()};
    std::vector<HostTensor> want = runtime::interpret(f, copies);
    std::vector<HostTensor> outputs = {HostTensor(f.type(f.results()[0])), inputs[0],
                                       HostTensor(f.type(f.results()[2])),
                                       HostTensor(f.type(f.results()[3]))};
    program->run(inputs, outputs);
    ASSERT_EQ(outputs[1].raw(), inputs[0].raw());
    expectNear(outputs, want);
  }
}

// Returned parameters whose buffers are also the outputs: a swap.
TEST(ProgramArena, ReturnedParametersMayBeEachOthersOutputs) {
  Function f = parseOne(R"(
func @swap(%a: f32[3], %b: f32[3]) -> (f32[3], f32[3]) {
  return %b, %a
})");
  auto program = runtime::Program::compile(f);
  std::vector<HostTensor> inputs = inputsFor(f);
  std::vector<HostTensor> want = {inputs[1].clone(), inputs[0].clone()};
  std::vector<HostTensor> outputs = {inputs[0], inputs[1]};
  program->run(inputs, outputs);
  expectNear(outputs, want);
}

} // namespace
