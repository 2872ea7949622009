//===- JitReduceTest.cpp - Reduction kernels and their fusion -------------===//
//
// The JIT's reduction kernels (reduce_sum, reduce_mean, reduce_max of f32 and
// f64, with fused elementwise producers) against the reference interpreter:
// every set of axes of shapes with unit and empty extents, keepdims either
// way, NaN and infinities in the inputs, long sums; then the fuse pass that
// makes them and the programs that run them.
//
//===----------------------------------------------------------------------===//
#include "ErrorTestSupport.h"
#include "JitTestSupport.h"
#include "support/RandomGraph.h"

#include "kiln/compiler/Fuse.h"
#include "kiln/compiler/MemoryPlan.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "kiln/ir/Verifier.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/Threads.h"

#include <fmt/format.h>

#include <cstring>

using namespace kiln;
using namespace kiln::ir;
using kiln::jittest::matchesInterpreter;
using kiln::jittest::runKernel;
using kiln::jittest::uncachedJit;

namespace {

constexpr OpKind kReductions[] = {OpKind::ReduceSum, OpKind::ReduceMean, OpKind::ReduceMax};

/// Every subset of the axes of a rank-`rank` shape, ascending.
std::vector<IntList> axisSets(int rank) {
  std::vector<IntList> sets;
  for (unsigned mask = 0; mask < (1u << rank); ++mask) {
    IntList axes;
    for (int a = 0; a < rank; ++a)
      if (mask & (1u << a))
        axes.push_back(a);
    sets.push_back(axes);
  }
  return sets;
}

std::string describe(OpKind op, const TensorType &in, const IntList &axes, bool keep) {
  std::string s = fmt::format("{} of {} over [", opName(op), in.str());
  for (size_t i = 0; i < axes.size(); ++i)
    s += (i ? "," : "") + std::to_string(axes[i]);
  return s + (keep ? "] keepdims" : "]");
}

/// reduce(x) alone.
Function reduction(OpKind op, const TensorType &in, const IntList &axes, bool keep) {
  Function f(std::string(opName(op)));
  Builder b(f);
  ValueId x = b.param("x", in);
  f.setResults({b.create(op, {x}, {{"axes", axes}, {"keepdims", keep}})});
  return f;
}

/// reduce((x - row) * col): producers with broadcast operands, fused.
Function fusedReduction(OpKind op, const TensorType &in, const IntList &axes, bool keep) {
  Function f(fmt::format("fused_sub_mul_{}", opName(op)));
  Builder b(f);
  const Shape &s = in.shape;
  ValueId x = b.param("x", in);
  ValueId row = b.param("row", {in.dtype, Shape{s.rank() ? s[s.rank() - 1] : 1}});
  std::vector<int64_t> colDims = s.toVector();
  if (!colDims.empty())
    colDims.back() = 1;
  ValueId col = b.param("col", {in.dtype, Shape(colDims)});
  ValueId y = b.mul(b.sub(x, row), col);
  f.setResults({b.create(op, {y}, {{"axes", axes}, {"keepdims", keep}})});
  return f;
}

const std::vector<Shape> kShapes = {Shape{},        Shape{1},         Shape{7},     Shape{1, 5, 1},
                                    Shape{3, 1, 4}, Shape{2, 3, 4},   Shape{5, 17}, Shape{0, 3},
                                    Shape{2, 0, 3}, Shape{4, 3, 2, 5}};

OpKind reductionNodeOp(const Function &f) { return f.nodes().back().op; }

/// Inputs without NaN or infinities: uniform in [lo, hi].
std::vector<HostTensor> uniformInputs(const Function &f, unsigned seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<HostTensor> inputs;
  for (ValueId p : f.params()) {
    HostTensor t(f.type(p));
    for (int64_t i = 0; i < t.numel(); ++i)
      t.set(i, u(rng));
    inputs.push_back(std::move(t));
  }
  return inputs;
}

/// Random inputs with NaN and infinities (jittest::randomTensor) -- but for a
/// sum or mean, no huge finite values: 1e30 + 1 - 1e30 depends on the order
/// of the additions, which differs between the backends by design.
::testing::AssertionResult matchesWithSpecials(const Function &f, unsigned seed) {
  std::mt19937 rng(seed);
  bool summed = reductionNodeOp(f) != OpKind::ReduceMax;
  std::vector<HostTensor> inputs;
  for (ValueId p : f.params()) {
    inputs.push_back(jittest::randomTensor(f.type(p), rng));
    for (int64_t i = 0; i < inputs.back().numel(); ++i)
      if (double v = inputs.back().get(i); summed && std::isfinite(v) && std::fabs(v) > 1e6)
        inputs.back().set(i, 0.5);
  }
  runtime::LoopKernel k = uncachedJit().compile(f, f.name(), FusionKind::Reduction);
  return matchesInterpreter(f, inputs, runKernel(k, f, inputs, 3));
}

::testing::AssertionResult longSumMatches(const Function &f, unsigned seed) {
  std::vector<HostTensor> inputs = uniformInputs(f, seed, -1, 1);
  runtime::LoopKernel k = uncachedJit().compile(f, f.name(), FusionKind::Reduction);
  return matchesInterpreter(f, inputs, runKernel(k, f, inputs, 2));
}

} // namespace

// ---- Kernels ------------------------------------------------------------------

TEST(JitReduce, EveryReductionOverEveryAxisSetMatchesTheInterpreter) {
  unsigned seed = 1;
  for (OpKind op : kReductions)
    for (DType t : {DType::F32, DType::F64})
      for (const Shape &s : kShapes)
        for (const IntList &axes : axisSets(s.rank()))
          for (bool keep : {false, true}) {
            if (keep && t == DType::F64)
              continue; // the same kernel as without keepdims, and as for f32
            TensorType in{t, s};
            EXPECT_TRUE(matchesWithSpecials(reduction(op, in, axes, keep), seed++))
                << describe(op, in, axes, keep);
          }
}

TEST(JitReduce, FusedProducersWithBroadcastOperandsMatchTheInterpreter) {
  unsigned seed = 100;
  for (OpKind op : kReductions)
    for (const Shape &s : {Shape{6, 9, 5}, Shape{1, 33}, Shape{2, 1, 3, 4}})
      for (const IntList &axes : axisSets(s.rank()))
        for (bool keep : {false, true}) {
          TensorType in{DType::F32, s};
          EXPECT_TRUE(matchesWithSpecials(fusedReduction(op, in, axes, keep), seed++))
              << describe(op, in, axes, keep);
        }
}

// f32 terms accumulate in double, as in the interpreter: sums of thousands of
// terms of both signs (which cancel) stay within 1e-5 relative / 1e-6 absolute,
// along the inner axis (a register) and along an outer one (scratch).
TEST(JitReduce, LongSumsOfF32AreAsAccurateAsTheInterpreter) {
  TensorType tall{DType::F32, Shape{4099, 3}}, wide{DType::F32, Shape{3, 4099}};
  for (OpKind op : {OpKind::ReduceSum, OpKind::ReduceMean}) {
    EXPECT_TRUE(longSumMatches(reduction(op, tall, {0}, false), 1)) << opName(op);
    EXPECT_TRUE(longSumMatches(reduction(op, wide, {1}, false), 2)) << opName(op);
    EXPECT_TRUE(longSumMatches(reduction(op, tall, {0, 1}, false), 3)) << opName(op);
    EXPECT_TRUE(longSumMatches(fusedReduction(op, wide, {0, 1}, true), 4)) << opName(op);
    EXPECT_TRUE(longSumMatches(fusedReduction(op, tall, {0}, true), 5)) << opName(op);
  }
}

TEST(JitReduce, MaxPropagatesNaNAndSumsOfEmptyAxesAreIdentities) {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  Function max = reduction(OpKind::ReduceMax, {DType::F32, Shape{3, 9}}, {1}, false);
  std::vector<double> values = {1,    2,    3,    4,    nan,  6,    7,    8,    9,
                                -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf,
                                5,    4,    3,    2,    1,    0,    -1,   -2,   -3};
  HostTensor x = HostTensor::fromDoubles({DType::F32, Shape{3, 9}}, values);
  runtime::LoopKernel k = uncachedJit().compile(max, "max", FusionKind::Reduction);
  std::vector<HostTensor> got = runKernel(k, max, std::vector{x});
  EXPECT_TRUE(std::isnan(got[0].get(0)));
  EXPECT_EQ(got[0].get(1), -inf);
  EXPECT_EQ(got[0].get(2), 5);

  TensorType empty{DType::F32, Shape{2, 0}};
  for (OpKind op : kReductions) {
    Function f = reduction(op, empty, {1}, false);
    std::vector<HostTensor> out =
        runKernel(uncachedJit().compile(f, f.name(), FusionKind::Reduction), f,
                  std::vector{HostTensor(empty)});
    double want = op == OpKind::ReduceSum ? 0 : op == OpKind::ReduceMax ? -inf : nan;
    for (int64_t i = 0; i < 2; ++i)
      EXPECT_TRUE(out[0].get(i) == want || (std::isnan(want) && std::isnan(out[0].get(i))))
          << opName(op) << " element " << i << ": " << out[0].get(i);
  }
}

TEST(JitReduce, RowsAreIndependentUnlessTheyMeetInTheSameOutputs) {
  runtime::LoopKernel lastAxis = uncachedJit().compile(
      reduction(OpKind::ReduceSum, {DType::F32, Shape{6, 10}}, {1}, false), "sum",
      FusionKind::Reduction);
  EXPECT_EQ(lastAxis.rows, 6);
  EXPECT_EQ(lastAxis.scratchBytes, 0);
  runtime::LoopKernel leading = uncachedJit().compile(
      reduction(OpKind::ReduceSum, {DType::F32, Shape{6, 10}}, {0}, false), "sum",
      FusionKind::Reduction);
  EXPECT_EQ(leading.rows, 1);
  EXPECT_EQ(leading.scratchBytes, 10 * 8);
}

TEST(JitReduce, ALastAxisSumIsVectorizedWithReassociatedAdds) {
  Function f = fusedReduction(OpKind::ReduceSum, {DType::F32, Shape{64, 1000}}, {1}, false);
  std::string ir = uncachedJit().emitLLVM(f, "fused_sub_mul_reduce_sum", FusionKind::Reduction);
  EXPECT_NE(ir.find("fadd reassoc <"), std::string::npos) << ir;
  EXPECT_NE(ir.find("fpext <"), std::string::npos) << ir; // accumulates in double
}

/// The caller says which kernel a body is (the fused node's kind); the JIT
/// checks the body as that kind rather than guessing from its nodes.
TEST(JitReduce, ABodyIsCompiledAsTheKindItIsGiven) {
  Function sum = reduction(OpKind::ReduceSum, {DType::F32, Shape{3, 4}}, {1}, false);
  Error asLoop = kiln::test::errorFrom([&] { uncachedJit().compile(sum, "sum"); });
  EXPECT_EQ(asLoop.kind(), ErrorKind::Verify) << asLoop.what();
  Error asMatmul =
      kiln::test::errorFrom([&] { uncachedJit().compile(sum, "sum", FusionKind::Matmul); });
  EXPECT_NE(asMatmul.message().find("a matmul kernel is neither a loop nor a reduction"),
            std::string::npos)
      << asMatmul.message();
}

TEST(JitReduce, RejectsReductionsItDoesNotCompute) {
  Function ints = reduction(OpKind::ReduceSum, {DType::I64, Shape{3, 4}}, {1}, false);
  EXPECT_THROW(uncachedJit().compile(ints, "sum", FusionKind::Reduction), Error);
  EXPECT_FALSE(runtime::jitReduces(OpKind::Argmax, DType::F32));
  EXPECT_TRUE(runtime::jitReduces(OpKind::ReduceMean, DType::F64));

  Function after("after"); // the reduction must be the last node and the only result
  Builder b(after);
  ValueId x = b.param("x", {DType::F32, Shape{3, 4}});
  ValueId s = b.reduceSum(x, {1});
  after.setResults({b.exp(s)});
  try {
    uncachedJit().compile(after, "after", FusionKind::Reduction);
    ADD_FAILURE() << "compiled a body whose reduction is not last";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Verify) << e.what();
    EXPECT_NE(e.message().find("'exp' comes after the reduction"), std::string::npos)
        << e.message();
  }
}

// ---- Fusion -------------------------------------------------------------------

namespace {

std::vector<std::string> kernelNames(const Function &f) {
  std::vector<std::string> names;
  for (const Node &n : f.nodes())
    names.emplace_back(n.body ? "fused:" + n.body->name() : std::string(opName(n.op)));
  return names;
}
using Names = std::vector<std::string>;

const TensorType kBatch{DType::F32, Shape{8, 10}};

} // namespace

TEST(FuseReduce, AReductionAbsorbsItsElementwiseProducers) {
  Function f("loss");
  Builder b(f);
  ValueId p = b.param("p", kBatch), y = b.param("y", kBatch);
  ValueId prod = b.mul(b.neg(p), y);
  f.setResults({b.reduceSum(prod, {1})});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  verify(g);
  EXPECT_EQ(kernelNames(g), (Names{"fused:fused_neg_mul_reduce_sum"}));
}

TEST(FuseReduce, AProducerUsedTwiceOrReturnedIsNotAbsorbed) {
  for (bool returned : {false, true}) {
    Function f("f");
    Builder b(f);
    ValueId x = b.param("x", kBatch);
    ValueId e = b.exp(x);
    ValueId s = b.create(OpKind::ReduceMax, {e}, {{"axes", IntList{0}}});
    if (returned)
      f.setResults({s, e});
    else
      f.setResults({s, b.reduceSum(e, {1})});
    Function g = compiler::fuse(f, runtime::fusionTarget());
    verify(g);
    Names want = returned ? Names{"exp", "reduce_max"} : Names{"exp", "reduce_max", "reduce_sum"};
    EXPECT_EQ(kernelNames(g), want) << (returned ? "returned" : "used twice");
  }
}

TEST(FuseReduce, ALoopKernelWithAnotherOutputIsNotAbsorbed) {
  Function f("f");
  Builder b(f);
  ValueId x = b.param("x", kBatch);
  ValueId e = b.exp(x);
  ValueId d = b.mul(e, e);
  f.setResults({b.reduceSum(d, {1}), b.neg(e)});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  verify(g);
  EXPECT_EQ(kernelNames(g), (Names{"fused:fused_exp_mul_neg", "reduce_sum"}));
}

TEST(FuseReduce, ProducersOfAnotherShapeAndIntegerReductionsStayApart) {
  Function f("f");
  Builder b(f);
  ValueId x = b.param("x", kBatch), v = b.param("v", {DType::F32, Shape{10}});
  ValueId e = b.exp(v); // over [10], broadcast into the [8,10] reduction input
  ValueId s = b.reduceSum(b.add(x, e), {0});
  ValueId i = b.param("i", {DType::I64, Shape{8, 10}});
  ValueId is = b.reduceSum(b.neg(i), {1});
  f.setResults({s, is});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  verify(g);
  EXPECT_EQ(kernelNames(g), (Names{"exp", "fused:fused_add_reduce_sum", "neg", "reduce_sum"}));
}

// ---- Programs -----------------------------------------------------------------

TEST(ReduceProgram, FusedAndSingleReductionsRunAsJitKernelsAndMatchTheInterpreter) {
  for (OpKind op : kReductions)
    for (const IntList &axes : axisSets(3))
      for (bool keep : {false, true}) {
        TensorType in{DType::F32, Shape{4, 5, 6}};
        for (const Function &f :
             {reduction(op, in, axes, keep), fusedReduction(op, in, axes, keep)}) {
          std::shared_ptr<runtime::Program> p = runtime::Program::compile(f);
          std::vector<HostTensor> inputs = uniformInputs(f, 7, -2, 2);
          EXPECT_TRUE(matchesInterpreter(f, inputs, p->run(inputs)))
              << describe(op, in, axes, keep);
          for (const runtime::KernelInfo &k : p->kernels())
            EXPECT_NE(k.kind, runtime::KernelKind::Reference)
                << k.name << " in " << describe(op, in, axes, keep);
        }
      }
}

// Large kernels are cut into row ranges, which the pool shares out once the
// first runs have timed the kernel on one thread: the split must not change
// any bit, whether rows are independent (an elementwise chain, a last-axis
// sum) or meet in the same outputs (a sum over the first axis, which runs as
// one range).
TEST(ReduceProgram, KernelsLargeEnoughToSplitAcrossThreadsMatchTheInterpreter) {
  runtime::setMaxThreads(4);
  TensorType in{DType::F32, Shape{64, 80, 64}}; // 327,680 elements
  ASSERT_GE(in.shape.numel(), int64_t(1) << 18);
  std::vector<Function> graphs;
  for (const IntList &axes : {IntList{2}, IntList{0}, IntList{0, 1, 2}})
    graphs.push_back(fusedReduction(OpKind::ReduceSum, in, axes, false));
  Function chain("chain");
  Builder b(chain);
  ValueId x = b.param("x", in), y = b.param("y", in);
  chain.setResults({b.mul(b.create(OpKind::Tanh, {b.add(b.mul(x, y), x)}), y)});
  graphs.push_back(chain);
  int64_t sharedBefore = runtime::poolStats().sharedJobs;
  for (const Function &f : graphs) {
    std::shared_ptr<runtime::Program> p = runtime::Program::compile(f);
    std::vector<HostTensor> inputs = uniformInputs(f, 11, -2, 2);
    std::vector<HostTensor> serial = p->run(inputs);
    EXPECT_TRUE(matchesInterpreter(f, inputs, serial)) << f.name();
    p->run(inputs);
    std::vector<HostTensor> split = p->run(inputs);
    for (size_t i = 0; i < serial.size(); ++i)
      EXPECT_EQ(0, std::memcmp(serial[i].raw(), split[i].raw(), serial[i].bytes()))
          << f.name() << " result " << i;
  }
  EXPECT_GT(runtime::poolStats().sharedJobs, sharedBefore);
  runtime::setMaxThreads(0);
}

// Kernel buffers are noalias: a reduction's output never takes over its
// input's buffer, even where the two have the same size.
TEST(ReduceProgram, AReductionNeverWritesInPlaceOverItsInput) {
  Function f("f");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{4, 3}}), w = b.param("w", {DType::F32, Shape{3, 1}});
  ValueId m = b.matmul(x, w); // [4,1] in the arena, last used by the reduction
  ValueId s = b.reduceSum(b.exp(m), {1}, /*keepdims=*/true);
  f.setResults({b.neg(s)});
  Function g = compiler::fuse(f, runtime::fusionTarget());
  compiler::MemoryPlan plan = compiler::planMemory(g);
  const Node &reduce = g.nodes().at(1);
  ASSERT_TRUE(reduce.body) << "the exp should be fused into the reduction";
  EXPECT_FALSE(plan.values[size_t(reduce.result().id)].inPlace);
  std::shared_ptr<runtime::Program> p = runtime::Program::compile(f);
  std::vector<HostTensor> inputs = uniformInputs(f, 3, -1, 1);
  EXPECT_TRUE(matchesInterpreter(f, inputs, p->run(inputs)));
}

// The differential random graphs (tools/kiln/support/RandomGraph.cpp) must
// exercise the fusion: reductions of elementwise chains, over all axis kinds.
TEST(ReduceProgram, RandomGraphsHaveFusedReductions) {
  int fused = 0, graphs = 0;
  for (uint64_t seed = 1; seed <= 250; ++seed) {
    Function g = compiler::fuse(tool::randomGraph(seed).fn, runtime::fusionTarget());
    bool any = false;
    for (const Node &n : g.nodes())
      any = any || (n.body && n.body->nodes().back().op != OpKind::Matmul &&
                    opDef(n.body->nodes().back().op).fusion == FusionClass::Reduction);
    fused += any;
    ++graphs;
  }
  EXPECT_GE(fused, graphs / 10) << fused << " of " << graphs << " graphs";
}
