//===- ProgramCacheTest.cpp - Programs reuse the JIT's compiled kernels ---===//
//
// Compiling a function a second time in one process compiles no LLVM module:
// every loop kernel is found in the process-wide JIT's memory cache. (The
// on-disk cache across processes is tested by tests/lit/cli/run-cache.test
// and, for the JIT alone, by JitTest.cpp.)
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/Builder.h"
#include "kiln/runtime/Interpreter.h"
#include "kiln/runtime/Jit.h"
#include "kiln/runtime/OneDnn.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/Threads.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

using namespace kiln;
using namespace kiln::ir;

namespace {

/// Two loop kernels (one before and one after a matmul) and a oneDNN matmul.
Function twoKernels() {
  Function f("two_kernels");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{8, 16}});
  ValueId w = b.param("w", {DType::F32, Shape{16, 4}});
  ValueId h = b.create(OpKind::Tanh, {b.mul(x, b.scalar(0.37))});
  ValueId y = b.matmul(h, w);
  f.setResults({b.exp(b.sub(y, b.scalar(1.25)))});
  return f;
}

size_t jitKernels(const runtime::Program &p) {
  size_t n = 0;
  for (const runtime::KernelInfo &k : p.kernels())
    n += k.kind == runtime::KernelKind::Jit;
  return n;
}

std::vector<HostTensor> inputsFor(const Function &f) {
  std::vector<HostTensor> inputs;
  for (ValueId p : f.params()) {
    HostTensor t(f.type(p));
    for (int64_t i = 0; i < t.numel(); ++i)
      t.set(i, double(i % 7) / 7 - 0.5);
    inputs.push_back(std::move(t));
  }
  return inputs;
}

} // namespace

TEST(ProgramCache, CompilingAFunctionAgainReusesEveryLoopKernel) {
  runtime::Jit &jit = runtime::Jit::instance();
  Function f = twoKernels();
  auto first = runtime::Program::compile(f);
  ASSERT_EQ(jitKernels(*first), 2u);

  runtime::JitStats before = jit.stats();
  auto second = runtime::Program::compile(twoKernels()); // built anew, same structure
  runtime::JitStats after = jit.stats();
  EXPECT_EQ(after.compiled - before.compiled, 0);
  EXPECT_EQ(after.diskHits - before.diskHits, 0);
  EXPECT_EQ(after.memoryHits - before.memoryHits, 2);

  std::vector<HostTensor> inputs = inputsFor(f);
  std::vector<HostTensor> a = first->run(inputs), b = second->run(inputs);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(a[0].identical(b[0]));
}

TEST(ProgramCache, ADifferentShapeIsADifferentKernel) {
  runtime::Jit &jit = runtime::Jit::instance();
  auto chain = [](int64_t n) {
    Function f("chain");
    Builder b(f);
    ValueId x = b.param("x", {DType::F32, Shape{n}});
    f.setResults({b.create(OpKind::Sigmoid, {b.add(x, b.scalar(0.75))})});
    return f;
  };
  runtime::Program::compile(chain(129));
  runtime::JitStats before = jit.stats();
  runtime::Program::compile(chain(131));
  runtime::JitStats after = jit.stats();
  EXPECT_EQ(after.memoryHits - before.memoryHits, 0);
  EXPECT_EQ((after.compiled + after.diskHits) - (before.compiled + before.diskHits), 1);
}

/// An elementwise body of exact arithmetic has one kernel for every length
/// (the JIT's length-generic kernels): a last batch of another size, or
/// another parameter's update, compiles nothing new.
TEST(ProgramCache, AnotherLengthOfExactArithmeticIsTheSameKernel) {
  runtime::Jit &jit = runtime::Jit::instance();
  auto update = [](int64_t n) {
    Function f("update");
    Builder b(f);
    ValueId w = b.param("w", {DType::F32, Shape{n}});
    ValueId g = b.param("g", {DType::F32, Shape{n}});
    ValueId lr = b.param("lr", {DType::F32, Shape{}});
    f.setResults({b.sub(w, b.mul(lr, g))});
    return f;
  };
  auto first = runtime::Program::compile(update(129)); // kept: its kernel stays loaded
  runtime::JitStats before = jit.stats();
  Function other = update(131);
  auto program = runtime::Program::compile(other);
  runtime::JitStats after = jit.stats();
  EXPECT_EQ(after.memoryHits - before.memoryHits, 1);
  EXPECT_EQ((after.compiled + after.diskHits) - (before.compiled + before.diskHits), 0);
  std::vector<HostTensor> inputs = inputsFor(other);
  EXPECT_TRUE(program->run(inputs)[0].identical(runtime::interpret(other, inputs)[0]));
}

/// With two threads, the loop kernels of a program that runs on threads
/// anyway (here a kernel of more than a task's worth of elements) are
/// compiled ahead of lowering, in parallel; lowering then uses them (no
/// second request to the JIT), and the program computes what the
/// interpreter does.
TEST(ProgramCache, AProgramsKernelsCompileAheadInParallel) {
  runtime::Jit &jit = runtime::Jit::instance();
  runtime::setMaxThreads(2);
  Function f("three_kernels"); // shapes no other test uses
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{2048, 19}});
  ValueId w = b.param("w", {DType::F32, Shape{19, 5}});
  ValueId h = b.create(OpKind::Tanh, {b.mul(x, b.scalar(0.29))});
  ValueId y = b.matmul(h, w);
  ValueId z = b.exp(b.sub(y, b.scalar(0.5)));
  f.setResults({z, b.create(OpKind::ReduceSum, {h}, {{"axes", IntList{0}}, {"keepdims", false}})});
  runtime::JitStats before = jit.stats();
  auto program = runtime::Program::compile(f);
  runtime::JitStats after = jit.stats();
  runtime::setMaxThreads(0);
  ASSERT_EQ(jitKernels(*program), 3u);
  EXPECT_EQ((after.compiled - before.compiled) + (after.diskHits - before.diskHits), 3);
  EXPECT_EQ(after.memoryHits - before.memoryHits, 0) << "lowering asked the JIT again";
  std::vector<HostTensor> inputs = inputsFor(f);
  std::vector<HostTensor> got = program->run(inputs), want = runtime::interpret(f, inputs);
  ASSERT_EQ(got.size(), 2u);
  for (size_t r = 0; r < got.size(); ++r)
    for (int64_t i = 0; i < got[r].numel(); ++i)
      EXPECT_NEAR(got[r].get(i), want[r].get(i), 1e-4) << "result " << r << " element " << i;
}

// Kernels the JIT has already are loaded by lowering, one by one: compiling
// them ahead would start threads for a fraction of a millisecond of work.
TEST(ProgramCache, KernelsTheJitHasAreNotCompiledAhead) {
  runtime::Jit &jit = runtime::Jit::instance();
  runtime::setMaxThreads(2);
  Function f = twoKernels();
  auto first = runtime::Program::compile(f); // keeps its kernels loaded
  int64_t shared = runtime::poolStats().sharedJobs;
  runtime::JitStats before = jit.stats();
  auto again = runtime::Program::compile(f);
  runtime::JitStats after = jit.stats();
  runtime::setMaxThreads(0);
  EXPECT_EQ(after.memoryHits - before.memoryHits, 2);
  EXPECT_EQ(runtime::poolStats().sharedJobs, shared) << "no job for the pool";
}

/// oneDNN's one-time setup starts once per process: whoever asks later gets
/// nothing to wait for (Program::compile waits for it when it started it).
namespace {

/// y = x w + 0.5 for x [rows, in]: a matmul of rows * in * out multiply-adds.
Function linear(int64_t rows, int64_t in, int64_t out) {
  Function f("linear");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{rows, in}});
  ValueId w = b.param("w", {DType::F32, Shape{in, out}});
  f.setResults({b.add(b.matmul(x, w), b.scalar(0.5))});
  return f;
}

/// In a new process (a death test's child): compiles `f` on two threads and
/// exits with 0 when oneDNN's setup was still left to do, else 1.
[[noreturn]] void exitWithSetupLeftAfterCompiling(const Function &f) {
  runtime::setMaxThreads(2);
  runtime::Program::compile(f);
  bool left = runtime::onednn::setUpMatmulsAsync().valid(); // waits for the setup it starts
  std::exit(left ? 0 : 1);
}

} // namespace

// Products small enough to run as loops (linear regression's) need no oneDNN
// setup, and compiling them starts no thread for it.
TEST(ProgramCacheDeathTest, OnlyAProductForOneDnnStartsItsSetup) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(exitWithSetupLeftAfterCompiling(linear(10, 1, 1)), testing::ExitedWithCode(0), "");
  EXPECT_EXIT(exitWithSetupLeftAfterCompiling(linear(100, 784, 10)), testing::ExitedWithCode(1),
              "");
}

/// In a new process with an empty kernel cache: compiles `f` with two
/// threads allowed, and exits with 0 when that started no thread of kiln's
/// pool, else 1.
[[noreturn]] void exitWithPoolLeftAfterCompiling(const Function &f) {
  char dir[] = "/tmp/kiln-cache-XXXXXX";
  if (!mkdtemp(dir) || setenv("KILN_CACHE_DIR", dir, 1) != 0)
    std::exit(2);
  runtime::setMaxThreads(2);
  runtime::Program::compile(f);
  int workers = runtime::poolStats().workers;
  std::filesystem::remove_all(dir);
  std::exit(workers == 0 ? 0 : 1);
}

/// The first thread a process starts makes its reference counts atomic for
/// good, so the kernels of a program that would run on one thread anyway
/// compile there, even with an empty cache; one with work for the pool gets
/// its kernels compiled on it.
TEST(ProgramCacheDeathTest, OnlyAProgramThatUsesThreadsCompilesOnThem) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto chain = [](int64_t rows) {
    Function f("chain");
    Builder b(f);
    ValueId x = b.param("x", {DType::F32, Shape{rows, 16}});
    ValueId h = b.create(OpKind::Tanh, {b.mul(x, b.scalar(0.43))});
    f.setResults(
        {h, b.create(OpKind::ReduceSum, {h}, {{"axes", IntList{1}}, {"keepdims", false}})});
    return f;
  };
  EXPECT_EXIT(exitWithPoolLeftAfterCompiling(chain(10)), testing::ExitedWithCode(0), "");
  EXPECT_EXIT(exitWithPoolLeftAfterCompiling(chain(4096)), testing::ExitedWithCode(1), "");
}

TEST(ProgramCache, OneDnnSetsUpOncePerProcess) {
  runtime::setMaxThreads(2);
  std::future<void> first = runtime::onednn::setUpMatmulsAsync();
  if (first.valid())
    first.get();
  EXPECT_FALSE(runtime::onednn::setUpMatmulsAsync().valid());
  runtime::setMaxThreads(0);
}
