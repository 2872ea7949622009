//===- JitTest.cpp - Loop kernels: checks, loop nest, codegen, caches -----===//
//
// What the JIT accepts as a loop kernel, how it lays out the loop nest
// (rows x cols), that it vectorizes, and that its in-memory and on-disk
// caches hit (counted by Jit::stats) and survive damaged cache files.
// JitOpsTest.cpp checks the numbers of every op.
//
//===----------------------------------------------------------------------===//
#include "JitTestSupport.h"

#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"

#include <filesystem>
#include <fstream>
#include <functional>

#include <sys/stat.h>
#include <thread>

using namespace kiln;
using namespace kiln::ir;
using namespace kiln::runtime;
using kiln::jittest::TempDir;
using kiln::jittest::uncachedJit;

namespace {

/// Points KILN_CACHE_DIR (unless set already) at a temporary directory for
/// the whole test binary, so that no test writes to ~/.cache/kiln.
class CacheDirEnvironment : public ::testing::Environment {
public:
  void SetUp() override {
    if (!std::getenv("KILN_CACHE_DIR"))
      ::setenv("KILN_CACHE_DIR", dir_.path().c_str(), 1);
  }

private:
  TempDir dir_;
};
[[maybe_unused]] ::testing::Environment *const kCacheDirEnvironment =
    ::testing::AddGlobalTestEnvironment(new CacheDirEnvironment);

TensorType f32(Shape s) { return {DType::F32, std::move(s)}; }

/// x + y, for operands of the given shapes.
Function addKernel(const Shape &x, const Shape &y) {
  Function f("add");
  Builder b(f);
  f.setResults({b.add(b.param("x", f32(x)), b.param("y", f32(y)))});
  return f;
}

/// tanh((x + y) * x), the running example of a fused f32 chain.
Function chainKernel(int64_t n = 4096) {
  Function f("fused_add_mul_tanh");
  Builder b(f);
  ValueId x = b.param("x", f32(Shape{n})), y = b.param("y", f32(Shape{n}));
  f.setResults({b.create(OpKind::Tanh, {b.mul(b.add(x, y), x)})});
  return f;
}

size_t filesIn(const std::string &dir) {
  size_t n = 0;
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    n += entry.is_regular_file();
  return n;
}

/// Runs `k`, compiled from `f`, on random inputs and compares with the interpreter.
::testing::AssertionResult kernelMatches(const LoopKernel &k, const Function &f, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<HostTensor> in;
  for (ValueId p : f.params())
    in.push_back(jittest::randomTensor(f.type(p), rng));
  return jittest::matchesInterpreter(f, in, jittest::runKernel(k, f, in));
}

std::string onlyCacheFile(const std::string &dir) {
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".kobj")
      return entry.path().string();
  return "";
}

// ---- What a loop kernel may contain -----------------------------------------

/// Expects checkLoopKernelBody and compile to reject `f` with a Verify error
/// whose message contains `what`.
void expectRejected(const Function &f, const std::string &what) {
  for (int viaCompile = 0; viaCompile < 2; ++viaCompile) {
    try {
      if (viaCompile)
        uncachedJit().compile(f, "rejected");
      else
        checkLoopKernelBody(f);
      ADD_FAILURE() << "accepted a body that should be rejected for: " << what;
    } catch (const Error &e) {
      EXPECT_EQ(e.kind(), ErrorKind::Verify);
      EXPECT_NE(e.message().find(what), std::string::npos) << e.message() << " @ " << e.where();
    }
  }
}

TEST(JitCheck, RejectsOpsWithoutAScalarExpression) {
  Function mm("k");
  Builder b(mm);
  mm.setResults({b.matmul(b.param("a", f32({2, 3})), b.param("w", f32({3, 4})))});
  expectRejected(mm, "'matmul'");

  // reduce_sum/mean/max make reduction kernels (JitReduceTest.cpp); argmax does not.
  Function argmax("k");
  Builder s(argmax);
  argmax.setResults(
      {s.create(OpKind::Argmax, {s.param("a", f32({2, 3}))}, {{"axis", int64_t(1)}})});
  expectRejected(argmax, "'argmax'");
}

TEST(JitCheck, RejectsConstantsThatAreNotSplats) {
  Function f("k");
  Builder b(f);
  ValueId c = b.constant(HostTensor::fromDoubles(f32({3}), std::vector<double>{1, 2, 3}));
  f.setResults({b.add(b.param("x", f32({2, 3})), c)});
  expectRejected(f, "not a splat");
}

TEST(JitCheck, RejectsResultsOfDifferentShapes) {
  Function f("k");
  Builder b(f);
  ValueId x = b.param("x", f32({2, 3})), y = b.param("y", f32({3}));
  f.setResults({b.neg(x), b.neg(y)});
  expectRejected(f, "result 1");
}

TEST(JitCheck, RejectsParametersThatDoNotBroadcastToTheResults) {
  Function f("k");
  Builder b(f);
  ValueId x = b.param("x", f32({3}));
  b.param("stray", f32({4}));
  f.setResults({b.neg(x)});
  expectRejected(f, "%stray");
}

TEST(JitCheck, AcceptsElementwiseOpsAndSplatConstants) {
  Function f("k");
  Builder b(f);
  ValueId x = b.param("x", f32({2, 3}));
  ValueId c = b.constant(HostTensor::fromDoubles(f32({3}), std::vector<double>{2, 2, 2}));
  f.setResults({b.mul(x, c), b.create(OpKind::Lt, {x, b.scalar(0)})});
  EXPECT_NO_THROW(checkLoopKernelBody(f));
}

// ---- The loop nest ----------------------------------------------------------

TEST(JitLoopNest, CoalescesShapesIntoRowsAndContiguousColumns) {
  struct Case {
    Shape x, y;
    int64_t rows, cols;
  };
  const Case cases[] = {
      {{2, 3}, {3}, 2, 3},          // a bias broadcast along rows
      {{4, 1}, {1, 3}, 4, 3},       // a column times a row
      {{7, 1}, {7, 9}, 7, 9},       // a column broadcast
      {{2, 3, 4}, {2, 1, 4}, 6, 4}, // a middle broadcast: div/mod on the row
      {{8, 1, 5}, {5}, 8, 5},       // unit dims vanish
      {{}, {}, 1, 1},               // a scalar
      {{0, 3}, {3}, 0, 0},          // empty
      // Contiguous and splat operands make a length-generic kernel: one
      // loop over the elements (JitLengthGeneric below).
      {{1037}, {1037}, 1037, 1},
      {{3, 4, 5}, {3, 4, 5}, 60, 1},
      {{1 << 20}, {}, 1 << 20, 1},
  };
  for (const Case &c : cases) {
    LoopKernel k = uncachedJit().compile(addKernel(c.x, c.y), "add");
    EXPECT_EQ(k.rows, c.rows) << c.x.str() << " + " << c.y.str();
    EXPECT_EQ(k.cols, c.cols) << c.x.str() << " + " << c.y.str();
  }
}

TEST(JitLoopNest, ContiguousKernelsOfOneLengthAreCutIntoRowsForThreads) {
  // tanh keeps the kernel's own length (JitLengthGeneric below).
  LoopKernel large = uncachedJit().compile(chainKernel(1 << 20), "fused_add_mul_tanh");
  EXPECT_EQ(large.rows, 64);
  EXPECT_EQ(large.cols, 16384);
  LoopKernel small = uncachedJit().compile(chainKernel(1037), "fused_add_mul_tanh");
  EXPECT_EQ(small.rows, 1);
  EXPECT_EQ(small.cols, 1037);
}

TEST(JitLoopNest, RowRangesCanBeRunSeparately) {
  Function f = addKernel({2, 3, 4}, {2, 1, 4});
  std::mt19937 rng(1);
  std::vector<HostTensor> in = {jittest::randomTensor(f.type(f.params()[0]), rng),
                                jittest::randomTensor(f.type(f.params()[1]), rng)};
  LoopKernel k = uncachedJit().compile(f, "add");
  for (int64_t pieces : {1, 2, 6})
    EXPECT_TRUE(jittest::matchesInterpreter(f, in, jittest::runKernel(k, f, in, pieces)));
}

TEST(JitLoopNest, AnEmptyKernelTouchesNoMemory) {
  LoopKernel k = uncachedJit().compile(addKernel({0, 3}, {3}), "add");
  void *buffers[] = {nullptr, nullptr, nullptr};
  k.fn(buffers, 0, 0);
  k.fn(buffers, 0, 5);
}

// ---- Length-generic kernels -------------------------------------------------

/// x - 0.1 * g: an SGD update, as the fuse pass makes it for each parameter.
Function sgdKernel(const Shape &shape) {
  Function f("fused_mul_sub");
  Builder b(f);
  ValueId x = b.param("x", f32(shape)), g = b.param("g", f32(shape));
  f.setResults({b.sub(x, b.mul(b.scalar(0.1), g))});
  return f;
}

TEST(JitLengthGeneric, OneKernelServesEveryLengthAndRank) {
  Jit jit(JitOptions{"off"});
  const Shape shapes[] = {{128, 784}, {128}, {10, 128}, {10}, {2}, {3, 4, 5}};
  LoopKernel first = jit.compile(sgdKernel(shapes[0]), "fused_mul_sub");
  for (const Shape &s : shapes) {
    Function f = sgdKernel(s);
    LoopKernel k = jit.compile(f, "fused_mul_sub");
    EXPECT_EQ(k.fn, first.fn) << s.str();
    EXPECT_EQ(k.name, first.name) << s.str();
    EXPECT_EQ(k.rows, s.numel()) << "its own length: " << s.str();
    EXPECT_EQ(k.cols, 1) << s.str();
    std::mt19937 rng(unsigned(s.numel()));
    std::vector<HostTensor> in = {jittest::randomTensor(f.type(f.params()[0]), rng),
                                  jittest::randomTensor(f.type(f.params()[1]), rng)};
    for (int64_t pieces : {1, 3}) // element ranges that start anywhere
      EXPECT_TRUE(jittest::matchesInterpreter(f, in, jittest::runKernel(k, f, in, pieces)))
          << s.str() << " in " << pieces;
  }
  EXPECT_EQ(jit.stats().compiled, 1);
  EXPECT_EQ(jit.stats().memoryHits, int64_t(std::size(shapes)));
}

TEST(JitLengthGeneric, AnotherProcessLoadsItFromDiskForAnotherLength) {
  TempDir dir;
  Jit(JitOptions{dir.path()}).compile(sgdKernel({100}), "fused_mul_sub");
  Jit later(JitOptions{dir.path()});
  Function f = sgdKernel({7, 3});
  LoopKernel k = later.compile(f, "fused_mul_sub");
  EXPECT_EQ(later.stats().diskHits, 1);
  EXPECT_EQ(later.stats().compiled, 0);
  EXPECT_TRUE(kernelMatches(k, f, 5));
  EXPECT_TRUE(later.hasCode(sgdKernel({12345}), "fused_mul_sub"));
}

/// Where a kernel's elements would not all be computed alike -- a vector
/// and a scalar libm call may differ in the last bit, and which elements
/// fall in the scalar tail would depend on the length and the thread split --
/// or its layout depends on the shape, the kernel keeps its length.
TEST(JitLengthGeneric, LibraryMathAndBroadcastsKeepTheirLength) {
  Jit jit(JitOptions{"off"});
  EXPECT_NE(jit.compile(chainKernel(64), "chain").fn, jit.compile(chainKernel(65), "chain").fn);
  EXPECT_NE(jit.compile(addKernel({4, 8}, {8}), "add").fn,
            jit.compile(addKernel({5, 8}, {8}), "add").fn);
  auto power = [](int64_t n) {
    Function f("pow");
    Builder b(f);
    f.setResults({b.create(OpKind::Pow, {b.param("x", f32(Shape{n}))}, {{"exponent", 2.5}})});
    return f;
  };
  EXPECT_NE(jit.compile(power(64), "pow").fn, jit.compile(power(65), "pow").fn);
  EXPECT_EQ(jit.stats().compiled, 6);
}

TEST(JitLengthGeneric, TheElementLoopIsVectorized) {
  std::string ir = uncachedJit().emitLLVM(sgdKernel({4096}), "fused_mul_sub");
  EXPECT_NE(ir.find("elements"), std::string::npos) << ir;
  bool wide =
      ir.find("<8 x float>") != std::string::npos || ir.find("<16 x float>") != std::string::npos;
  EXPECT_TRUE(wide) << ir;
}

// ---- Code generation --------------------------------------------------------

TEST(JitCodegen, AnF32ChainIsVectorizedWithVectorMath) {
  std::string ir = uncachedJit().emitLLVM(chainKernel(), "fused_add_mul_tanh");
  EXPECT_NE(ir.find("define void @fused_add_mul_tanh_"), std::string::npos) << ir;
  bool wide =
      ir.find("<8 x float>") != std::string::npos || ir.find("<16 x float>") != std::string::npos;
  EXPECT_TRUE(wide) << ir;
  if (uncachedJit().hostTarget().find("+avx2") != std::string::npos) { // libmvec's AVX2 tanhf
    EXPECT_NE(ir.find("v_tanhf("), std::string::npos) << ir;
  }
}

/// Each math function that MathFunctions.def marks vectorized reaches
/// libmvec, through the op named after it.
TEST(JitCodegen, EveryVectorizedMathFunctionCallsLibmvec) {
  if (uncachedJit().hostTarget().find("+avx2") == std::string::npos)
    GTEST_SKIP() << "libmvec's AVX2 variants need an AVX2 host";
  for (const MathFnInfo &fn : kMathFns) {
    if (!fn.vectorized)
      continue;
    const OpDef *op = findOp(fn.name);
    ASSERT_NE(op, nullptr) << "no op is named after the math function " << fn.name;
    Function f("math");
    Builder b(f);
    f.setResults({b.create(op->kind, {b.param("x", f32(Shape{256}))})});
    std::string ir = uncachedJit().emitLLVM(f, "math");
    EXPECT_NE(ir.find("v_" + std::string(fn.name) + "f("), std::string::npos) << ir;
  }
}

TEST(JitCodegen, EmitsHostAssemblyAndAnElfObject) {
  std::string asmText = uncachedJit().emitAssembly(chainKernel(), "fused_add_mul_tanh");
  EXPECT_NE(asmText.find("fused_add_mul_tanh_"), std::string::npos);
  if (uncachedJit().hostTarget().find("+avx2") != std::string::npos) {
    // 256-bit vectors, or 512-bit ones where the CPU prefers them.
    EXPECT_TRUE(asmText.find("ymm") != std::string::npos ||
                asmText.find("zmm") != std::string::npos)
        << asmText;
  }
  std::vector<char> obj = uncachedJit().emitObject(chainKernel(), "fused_add_mul_tanh");
  ASSERT_GT(obj.size(), 4u);
  EXPECT_EQ(std::string(obj.data(), 4), "\x7f"
                                        "ELF");
}

TEST(JitCodegen, HostTargetNamesTheCpuAndItsFeatures) {
  std::string host = uncachedJit().hostTarget();
  EXPECT_NE(host.find(' '), std::string::npos) << host;
  EXPECT_NE(host.find('+'), std::string::npos) << host;
}

TEST(JitCodegen, SymbolsCarryTheNameAndAHashOfTheBody) {
  LoopKernel a = uncachedJit().compile(chainKernel(64), "fused_add_mul_tanh");
  LoopKernel b = uncachedJit().compile(chainKernel(65), "fused_add_mul_tanh");
  LoopKernel c = uncachedJit().compile(chainKernel(64), "fused kernel #2");
  EXPECT_EQ(a.name.rfind("fused_add_mul_tanh_", 0), 0u) << a.name;
  EXPECT_NE(a.name, b.name);
  EXPECT_EQ(c.name.rfind("fused_kernel__2_", 0), 0u) << c.name;
}

// ---- Caches -----------------------------------------------------------------

TEST(JitCache, CompilingTheSameBodyAgainIsAMemoryHit) {
  TempDir dir;
  Jit jit(JitOptions{dir.path()});
  LoopKernel first = jit.compile(chainKernel(), "chain");
  Function again = chainKernel(); // built anew: equal structure, other objects
  LoopKernel second = jit.compile(again, "chain");
  EXPECT_EQ(first.fn, second.fn);
  EXPECT_EQ(first.name, second.name);
  JitStats s = jit.stats();
  EXPECT_EQ(s.compiled, 1);
  EXPECT_EQ(s.memoryHits, 1);
  EXPECT_EQ(s.diskHits, 0);
}

TEST(JitCache, ConcurrentCompilesOfOneBodyCompileOnce) {
  Jit jit(JitOptions{"off"});
  std::vector<std::thread> threads;
  std::vector<LoopKernel> kernels(4); // held: a kernel nobody holds is unloaded
  for (size_t i = 0; i < kernels.size(); ++i)
    threads.emplace_back([&, i] { kernels[i] = jit.compile(chainKernel(), "chain"); });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(jit.stats().compiled, 1);
  EXPECT_EQ(jit.stats().memoryHits, 3);
  for (const LoopKernel &k : kernels)
    EXPECT_EQ(k.fn, kernels[0].fn);
}

/// Kernels of different bodies compile at the same time (LLVM runs outside
/// the JIT's lock, each with its own target machine), and each is right.
TEST(JitCache, DifferentBodiesCompileConcurrently) {
  Jit jit(JitOptions{"off"});
  std::vector<std::thread> threads;
  std::vector<LoopKernel> kernels(4);
  for (size_t i = 0; i < kernels.size(); ++i)
    threads.emplace_back(
        [&, i] { kernels[i] = jit.compile(chainKernel(1000 + int64_t(i)), "chain"); });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(jit.stats().compiled, 4);
  EXPECT_EQ(jit.stats().memoryHits, 0);
  for (size_t i = 0; i < kernels.size(); ++i)
    EXPECT_TRUE(kernelMatches(kernels[i], chainKernel(1000 + int64_t(i)), unsigned(i)));
}

TEST(JitCache, AKernelIsUnloadedWithItsLastUser) {
  Jit jit(JitOptions{"off"});
  LoopKernel first = jit.compile(chainKernel(), "chain");
  LoopKernel copy = first;
  EXPECT_EQ(jit.stats().loaded, 1);
  first = {};
  EXPECT_EQ(jit.stats().loaded, 1) << "a copy still uses it";
  copy = {};
  EXPECT_EQ(jit.stats().loaded, 0);
  EXPECT_EQ(jit.stats().unloaded, 1);
  // Needed again: compiled (no disk cache here) and loaded again, and it runs.
  LoopKernel again = jit.compile(chainKernel(), "chain");
  EXPECT_EQ(jit.stats().compiled, 2);
  EXPECT_EQ(jit.stats().loaded, 1);
  EXPECT_TRUE(kernelMatches(again, chainKernel(), 1));
}

TEST(JitCache, AWarmJitLoadsFromDiskAndCompilesNothing) {
  TempDir dir;
  Function f = chainKernel(1037);
  {
    Jit cold(JitOptions{dir.path()});
    cold.compile(f, "chain");
    EXPECT_EQ(cold.stats().compiled, 1);
    EXPECT_EQ(cold.stats().targetMachines, 1);
  }
  EXPECT_EQ(filesIn(dir.path()), 1u); // no temporary files left behind
  Jit warm(JitOptions{dir.path()});
  LoopKernel k = warm.compile(f, "chain");
  EXPECT_EQ(warm.stats().compiled, 0);
  EXPECT_EQ(warm.stats().diskHits, 1);
  EXPECT_EQ(warm.stats().targetMachines, 0) << "loading needs no LLVM";
  EXPECT_TRUE(kernelMatches(k, f, 2));
}

TEST(JitCache, SaysWhichKernelsItHasWithoutGeneratingCode) {
  TempDir dir;
  Function f = chainKernel(1049);
  {
    Jit cold(JitOptions{dir.path()});
    EXPECT_FALSE(cold.hasCode(f, "chain"));
    LoopKernel k = cold.compile(f, "chain");
    EXPECT_TRUE(cold.hasCode(f, "chain")) << "loaded";
    EXPECT_FALSE(cold.hasCode(chainKernel(1051), "chain")) << "another body";
  }
  Jit warm(JitOptions{dir.path()});
  EXPECT_TRUE(warm.hasCode(f, "chain")) << "on disk";
  EXPECT_EQ(warm.stats().diskHits + warm.stats().compiled, 0) << "a question, not a load";
  Jit noDisk(JitOptions{"off"});
  EXPECT_FALSE(noDisk.hasCode(f, "chain"));
}

TEST(JitCache, ADamagedEntryIsIgnoredAndRebuilt) {
  TempDir dir;
  Function f = chainKernel(1037);
  Jit(JitOptions{dir.path()}).compile(f, "chain");
  std::string path = onlyCacheFile(dir.path());
  ASSERT_FALSE(path.empty());
  std::string good;
  {
    std::ifstream in(path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x5a;
  const std::pair<const char *, std::string> damages[] = {
      {"empty", ""},
      {"truncated header", good.substr(0, 10)},
      {"truncated object", good.substr(0, good.size() - 100)},
      {"flipped byte", flipped},
      {"garbage", std::string(good.size(), 'x')},
  };
  for (const auto &[what, bytes] : damages) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    Jit jit(JitOptions{dir.path()});
    LoopKernel k = jit.compile(f, "chain");
    EXPECT_EQ(jit.stats().diskHits, 0) << what;
    EXPECT_EQ(jit.stats().compiled, 1) << what;
    EXPECT_TRUE(kernelMatches(k, f, 3)) << what;
    Jit warm(JitOptions{dir.path()}); // the rebuilt entry is good again
    warm.compile(f, "chain");
    EXPECT_EQ(warm.stats().diskHits, 1) << what;
  }
}

TEST(JitCache, TheDirectoryComesFromOptionsThenKilnCacheDirAndOffDisablesIt) {
  TempDir dir;
  std::string nested = dir.path() + "/a/b";
  Jit(JitOptions{nested}).compile(chainKernel(), "chain");
  EXPECT_EQ(filesIn(nested), 1u); // created on demand

  std::string saved = std::getenv("KILN_CACHE_DIR") ? std::getenv("KILN_CACHE_DIR") : "";
  std::string fromEnv = dir.path() + "/env";
  ::setenv("KILN_CACHE_DIR", fromEnv.c_str(), 1);
  Jit(JitOptions{}).compile(chainKernel(), "chain");
  EXPECT_EQ(filesIn(fromEnv), 1u);
  ::setenv("KILN_CACHE_DIR", "off", 1);
  Jit off(JitOptions{});
  off.compile(chainKernel(33), "chain");
  EXPECT_EQ(off.stats().compiled, 1);
  EXPECT_FALSE(std::filesystem::exists("off"));
  ::setenv("KILN_CACHE_DIR", saved.c_str(), 1);
}

/// tanh(x * c) with an f64 constant c: bodies that differ in one constant.
Function scaledTanh(double c) {
  Function f("scaled_tanh");
  Builder b(f);
  ValueId x = b.param("x", {DType::F64, Shape{4}});
  f.setResults({b.create(OpKind::Tanh, {b.mul(x, b.scalar(c, DType::F64))})});
  return f;
}

std::vector<HostTensor> ramp() {
  HostTensor x(TensorType{DType::F64, Shape{4}});
  for (int64_t i = 0; i < 4; ++i)
    x.set(i, 1e-170 * double(i + 1));
  return {x};
}

TEST(JitCache, BodiesWhoseHashesCollideGetTheirOwnKernels) {
  // Two constants for which the bodies' 64-bit structural hashes collide
  // (found by a search). A hash never decides a hit, in memory or on disk.
  Function a = scaledTanh(-6.594479153257853e+167), b = scaledTanh(-4.5243010674950863e+178);
  EXPECT_EQ(a.structuralHash(), b.structuralHash()) << "the collision this test is about";
  EXPECT_NE(a.structuralKey(), b.structuralKey());
  std::vector<HostTensor> in = ramp();

  TempDir dirA, dirB;
  {
    Jit jit(JitOptions{dirA.path()}); // one process
    LoopKernel ka = jit.compile(a, "k"), kb = jit.compile(b, "k");
    EXPECT_EQ(jit.stats().compiled, 2);
    EXPECT_EQ(jit.stats().memoryHits, 0);
    EXPECT_TRUE(jittest::matchesInterpreter(a, in, jittest::runKernel(ka, a, in)));
    EXPECT_TRUE(jittest::matchesInterpreter(b, in, jittest::runKernel(kb, b, in)));
  }
  // On disk: a's object planted where b's would be is not loaded for b.
  TempDir dirC;
  Jit(JitOptions{dirB.path()}).compile(b, "k");
  Jit(JitOptions{dirC.path()}).compile(a, "k");
  std::filesystem::copy_file(onlyCacheFile(dirC.path()), onlyCacheFile(dirB.path()),
                             std::filesystem::copy_options::overwrite_existing);
  Jit warm(JitOptions{dirB.path()});
  LoopKernel kb = warm.compile(b, "k");
  EXPECT_EQ(warm.stats().diskHits, 0);
  EXPECT_EQ(warm.stats().compiled, 1);
  EXPECT_TRUE(jittest::matchesInterpreter(b, in, jittest::runKernel(kb, b, in)));
}

TEST(JitCache, PlantedEntriesAreMissesNotHangs) {
  TempDir dir;
  Function f = chainKernel(1037);
  Jit(JitOptions{dir.path()}).compile(f, "chain");
  std::string path = onlyCacheFile(dir.path());
  ASSERT_FALSE(path.empty());
  const std::pair<const char *, std::function<void()>> plants[] = {
      {"a FIFO", [&] { ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0); }},
      {"a link to /dev/zero", [&] { std::filesystem::create_symlink("/dev/zero", path); }},
      {"a 100 MB file",
       [&] {
         std::ofstream(path, std::ios::binary) << "KILNOBJ2";
         std::filesystem::resize_file(path, 100 << 20);
       }},
  };
  for (const auto &[what, plant] : plants) {
    std::filesystem::remove(path);
    plant();
    Jit jit(JitOptions{dir.path()});
    LoopKernel k = jit.compile(f, "chain");
    EXPECT_EQ(jit.stats().diskHits, 0) << what;
    EXPECT_EQ(jit.stats().compiled, 1) << what;
    EXPECT_TRUE(kernelMatches(k, f, 4)) << what;
    EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::symlink_status(path))) << what;
    Jit warm(JitOptions{dir.path()}); // the planted entry was replaced by a good one
    warm.compile(f, "chain");
    EXPECT_EQ(warm.stats().diskHits, 1) << what;
  }
}

} // namespace
