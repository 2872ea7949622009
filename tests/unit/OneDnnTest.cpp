//===- OneDnnTest.cpp - Cached oneDNN matmul and softmax primitives -------===//
//
// Specification of kiln/runtime/OneDnn.h: every matmul variant (transposes,
// bias, activation, accumulation) and (log-)softmax give what the reference
// interpreter gives for the equivalent IR, within rel 1e-5 / abs 1e-5;
// primitives are created once per description; bad arguments are kiln
// errors; concurrent runs of one primitive do not interfere.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/OneDnn.h"
#include "JitTestSupport.h"
#include "kiln/ir/Builder.h"
#include "kiln/runtime/Interpreter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

using namespace kiln;
using namespace kiln::ir;
using namespace kiln::runtime::onednn;

namespace {

TensorType f32(Shape s) { return {DType::F32, std::move(s)}; }

/// A tensor of uniform values in [-1, 1], the same for the same seed.
HostTensor randomTensor(Shape shape, unsigned seed) {
  HostTensor t(f32(std::move(shape)));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = dist(rng);
  return t;
}

/// Elementwise |got - want| <= tol + tol * |want|.
::testing::AssertionResult near(const HostTensor &got, const HostTensor &want, double tol = 1e-5) {
  if (got.numel() != want.numel())
    return ::testing::AssertionFailure() << got.numel() << " elements, want " << want.numel();
  for (int64_t i = 0; i < got.numel(); ++i) {
    double g = got.data<float>()[i], w = want.data<float>()[i];
    if (!(std::abs(g - w) <= tol + tol * std::abs(w)))
      return ::testing::AssertionFailure() << "element " << i << " is " << g << ", want " << w;
  }
  return ::testing::AssertionSuccess();
}

OpKind opOf(Activation a) {
  switch (a) {
  case Activation::Relu:
    return OpKind::Relu;
  case Activation::Sigmoid:
    return OpKind::Sigmoid;
  default:
    return OpKind::Tanh;
  }
}

/// The inputs of one matmul: A and B as stored (transposed when the desc says
/// so), the bias, and C's previous contents.
struct MatmulInputs {
  HostTensor a, b, bias, c;
};

MatmulInputs randomInputs(const MatmulDesc &d) {
  return {randomTensor(d.transposeA ? Shape{d.k, d.m} : Shape{d.m, d.k}, 1),
          randomTensor(d.transposeB ? Shape{d.n, d.k} : Shape{d.k, d.n}, 2),
          randomTensor(Shape{d.n}, 3), randomTensor(Shape{d.m, d.n}, 4)};
}

/// C as the interpreter computes it from IR equivalent to `d`:
/// act(op(A) x op(B) + bias) + beta * C.
HostTensor interpretMatmul(const MatmulDesc &d, const MatmulInputs &in) {
  Function f("matmul");
  Builder b(f);
  ValueId a = b.param("a", in.a.type()), w = b.param("b", in.b.type());
  ValueId bias = b.param("bias", in.bias.type()), old = b.param("c", in.c.type());
  ValueId y = b.matmul(d.transposeA ? b.transpose(a) : a, d.transposeB ? b.transpose(w) : w);
  if (d.bias)
    y = b.add(y, bias);
  if (d.activation != Activation::None)
    y = b.create(opOf(d.activation), {y});
  if (d.accumulate)
    y = b.add(y, b.mul(b.scalar(d.beta), old));
  f.setResults({y});
  std::vector<HostTensor> inputs = {in.a, in.b, in.bias, in.c};
  return runtime::interpret(f, inputs).at(0);
}

/// C as Matmul computes it.
HostTensor runMatmul(const MatmulDesc &d, const MatmulInputs &in) {
  HostTensor c = in.c.clone();
  Matmul::get(d)->run(in.a.data<float>(), in.b.data<float>(),
                      d.bias ? in.bias.data<float>() : nullptr, c.data<float>());
  return c;
}

//===----------------------------------------------------------------------===//
// Matmul against the interpreter, for every variant and shape.
//===----------------------------------------------------------------------===//

struct Shape3 {
  int64_t m, k, n;
};

/// What is applied after the product.
struct Epilogue {
  const char *name;
  bool bias;
  Activation activation;
  bool accumulate;
  float beta;
};

// The last two are cut into two tiles (blocks of rows, or of columns; see
// Matmul::tiles), the second one shorter.
const Shape3 kShapes[] = {{1, 1, 1},     {10, 1, 1},     {3, 5, 7},     {17, 31, 13},
                          {100, 784, 10}, {130, 800, 20}, {20, 800, 130}};

const Epilogue kEpilogues[] = {
    {"Plain", false, Activation::None, false, 1.0f},
    {"Bias", true, Activation::None, false, 1.0f},
    {"Relu", false, Activation::Relu, false, 1.0f},
    {"BiasRelu", true, Activation::Relu, false, 1.0f},
    {"BiasSigmoid", true, Activation::Sigmoid, false, 1.0f},
    {"BiasTanh", true, Activation::Tanh, false, 1.0f},
    {"Accumulate", false, Activation::None, true, 1.0f},
    {"AccumulateHalf", false, Activation::None, true, 0.5f},
    {"BiasAccumulateHalf", true, Activation::None, true, 0.5f},
    {"BiasTanhAccumulate", true, Activation::Tanh, true, 1.0f},
};

using MatmulCase = std::tuple<Shape3, int /*transposes: bit 0 A, bit 1 B*/, Epilogue>;

MatmulDesc descOf(const MatmulCase &c) {
  auto [shape, transposes, epilogue] = c;
  return {.m = shape.m,
          .k = shape.k,
          .n = shape.n,
          .transposeA = (transposes & 1) != 0,
          .transposeB = (transposes & 2) != 0,
          .bias = epilogue.bias,
          .activation = epilogue.activation,
          .accumulate = epilogue.accumulate,
          .beta = epilogue.beta};
}

std::string caseName(const ::testing::TestParamInfo<MatmulCase> &info) {
  auto [shape, transposes, epilogue] = info.param;
  const char *transposeNames[] = {"", "_TA", "_TB", "_TATB"};
  return "m" + std::to_string(shape.m) + "k" + std::to_string(shape.k) + "n" +
         std::to_string(shape.n) + transposeNames[transposes] + "_" + epilogue.name;
}

class OneDnnMatmulVsInterpreter : public ::testing::TestWithParam<MatmulCase> {};

/// The tolerance of an f32 product against the reference (which sums in
/// double): rounding errors of a sum of k terms in an order of the kernel's
/// choosing (it differs between AVX2 and AVX-512 kernels) grow like sqrt(k).
double productTolerance(int64_t k) { return 1e-5 * std::max(1.0, std::sqrt(double(k) / 64)); }

TEST_P(OneDnnMatmulVsInterpreter, MatchesReference) {
  MatmulDesc d = descOf(GetParam());
  MatmulInputs in = randomInputs(d);
  EXPECT_TRUE(near(runMatmul(d, in), interpretMatmul(d, in), productTolerance(d.k)));
}

INSTANTIATE_TEST_SUITE_P(AllVariants, OneDnnMatmulVsInterpreter,
                         ::testing::Combine(::testing::ValuesIn(kShapes),
                                            ::testing::Values(0, 1, 2, 3),
                                            ::testing::ValuesIn(kEpilogues)),
                         caseName);

//===----------------------------------------------------------------------===//
// Matmul edge cases and errors.
//===----------------------------------------------------------------------===//

TEST(OneDnnMatmul, RunsAgainOnNewBuffers) {
  MatmulDesc d{.m = 4, .k = 3, .n = 2, .bias = true};
  for (unsigned seed = 0; seed < 3; ++seed) {
    MatmulInputs in = randomInputs(d);
    in.a = randomTensor(Shape{4, 3}, 10 + seed);
    EXPECT_TRUE(near(runMatmul(d, in), interpretMatmul(d, in))) << "run " << seed;
  }
}

TEST(OneDnnMatmul, EmptyInnerDimensionGivesTheEpilogueOfZero) {
  MatmulDesc d{.m = 2, .k = 0, .n = 3, .bias = true, .activation = Activation::Sigmoid};
  MatmulInputs in = randomInputs(d);
  EXPECT_TRUE(near(runMatmul(d, in), interpretMatmul(d, in)));
  d.accumulate = true;
  d.beta = 0.5f;
  EXPECT_TRUE(near(runMatmul(d, in), interpretMatmul(d, in)));
}

TEST(OneDnnMatmul, EmptyOutputIsANoOp) {
  EXPECT_NO_THROW(Matmul::get({.m = 0, .k = 3, .n = 2})->run(nullptr, nullptr, nullptr, nullptr));
  EXPECT_NO_THROW(Matmul::get({.m = 2, .k = 3, .n = 0})->run(nullptr, nullptr, nullptr, nullptr));
}

TEST(OneDnnMatmul, NegativeDimensionIsAUsageError) {
  try {
    Matmul::get({.m = 2, .k = -1, .n = 2});
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(e.message().find("k=-1"), std::string::npos) << e.message();
  }
}

TEST(OneDnnMatmul, MissingBufferIsAUsageErrorNamingTheShapes) {
  float a[6] = {}, b[6] = {}, c[4] = {};
  auto mm = Matmul::get({.m = 2, .k = 3, .n = 2, .transposeA = true, .bias = true});
  try {
    mm->run(a, b, nullptr, c);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(e.message().find("A f32[3,2]^T x B f32[3,2] + bias f32[2]"), std::string::npos)
        << e.message();
  }
}

// oneDNN runs the second product (one tile) on brgemm where the CPU has
// AVX-512, with a scratchpad: under oneDNN's default, one per primitive,
// the threads shared it and wrong results came back (see primitiveAttr).
TEST(OneDnnMatmul, ConcurrentRunsOfOnePrimitiveDoNotInterfere) {
  const MatmulDesc descs[] = {
      {.m = 16, .k = 8, .n = 4, .bias = true, .activation = Activation::Sigmoid},
      {.m = 16, .k = 784, .n = 64, .transposeB = true, .bias = true},
  };
  for (const MatmulDesc &d : descs) {
    MatmulInputs in = randomInputs(d);
    HostTensor want = interpretMatmul(d, in);
    std::vector<std::thread> threads;
    std::vector<int> failures(4, 0);
    for (size_t t = 0; t < failures.size(); ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 200; ++i)
          failures[t] += !near(runMatmul(d, in), want);
      });
    for (std::thread &t : threads)
      t.join();
    for (size_t t = 0; t < failures.size(); ++t)
      EXPECT_EQ(failures[t], 0) << "thread " << t << ", " << d.m << "x" << d.k << "x" << d.n;
  }
}

//===----------------------------------------------------------------------===//
// Caching.
//===----------------------------------------------------------------------===//

/// In a new process with the disk cache `dir`: creates the matmul `d` and
/// exits with the number of whole-vs-tiles probes that ran (10 when `d` is
/// not cut into tiles, which has nothing to probe).
[[noreturn]] void exitWithProbesAfterCreating(const MatmulDesc &d, const std::string &dir) {
  if (::setenv("KILN_CACHE_DIR", dir.c_str(), 1) != 0)
    std::exit(11);
  std::exit(Matmul::get(d)->tiles() > 1 ? int(matmulProbesRun()) : 10);
}

size_t verdictsIn(const std::string &dir) {
  size_t n = 0;
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    n += entry.path().extension() == ".kprobe";
  return n;
}

// The probe's first executions of oneDNN primitives generate their code
// (tens of ms in a new process), so its verdict is kept in the disk cache: a
// second process takes it instead of probing. With the cache off every
// process probes; a damaged entry is probed again and replaced.
TEST(OneDnnCacheDeathTest, AProbeVerdictOnDiskSparesTheNextProcessItsProbe) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const MatmulDesc d{.m = 100, .k = 784, .n = 128, .transposeB = true, .bias = true};
  // Each death test child runs this body again: it takes the parent's
  // directory from the environment instead of making its own.
  constexpr const char *kDirVariable = "KILN_PROBE_TEST_DIR";
  std::optional<jittest::TempDir> made;
  std::string dir = std::getenv(kDirVariable) ? std::getenv(kDirVariable) : made.emplace().path();
  ::setenv(kDirVariable, dir.c_str(), 1);

  EXPECT_EXIT(exitWithProbesAfterCreating(d, dir), testing::ExitedWithCode(1), "");
  EXPECT_EQ(verdictsIn(dir), 1u);
  EXPECT_EXIT(exitWithProbesAfterCreating(d, dir), testing::ExitedWithCode(0), "");
  EXPECT_EXIT(exitWithProbesAfterCreating(d, "off"), testing::ExitedWithCode(1), "");

  // (The last step: a child that ran this body again would damage the entry again.)
  const std::string damaged = "KILNOBJ2 damaged";
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    std::ofstream(entry.path(), std::ios::binary | std::ios::trunc) << damaged;
  EXPECT_EXIT(exitWithProbesAfterCreating(d, dir), testing::ExitedWithCode(1), "");
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    EXPECT_NE(std::filesystem::file_size(entry.path()), damaged.size()) << "replaced";
  ::unsetenv(kDirVariable);
}

TEST(OneDnnCache, SameDescGivesSamePrimitive) {
  MatmulDesc d{.m = 5, .k = 6, .n = 7, .transposeB = true, .activation = Activation::Tanh};
  std::shared_ptr<Matmul> first = Matmul::get(d);
  int64_t created = primitivesCreated();
  EXPECT_EQ(Matmul::get(d), first);
  EXPECT_EQ(primitivesCreated(), created);
  EXPECT_EQ(first->desc(), d);
}

TEST(OneDnnCache, DifferentDescGivesNewPrimitive) {
  MatmulDesc d{.m = 5, .k = 6, .n = 8};
  std::shared_ptr<Matmul> first = Matmul::get(d);
  int64_t created = primitivesCreated();
  d.bias = true;
  EXPECT_NE(Matmul::get(d), first);
  EXPECT_EQ(primitivesCreated(), created + 1);
}

TEST(OneDnnCache, BetaWithoutAccumulateDoesNotMatter) {
  MatmulDesc d{.m = 5, .k = 6, .n = 9};
  std::shared_ptr<Matmul> first = Matmul::get(d);
  int64_t created = primitivesCreated();
  d.beta = 0.25f;
  EXPECT_EQ(Matmul::get(d), first);
  EXPECT_EQ(primitivesCreated(), created);
}

TEST(OneDnnCache, SoftmaxIsCachedPerShapeAndKind) {
  std::shared_ptr<Softmax> first = Softmax::get(3, 4, false);
  int64_t created = primitivesCreated();
  EXPECT_EQ(Softmax::get(3, 4, false), first);
  EXPECT_EQ(primitivesCreated(), created);
  EXPECT_NE(Softmax::get(3, 4, true), first);
  EXPECT_EQ(primitivesCreated(), created + 1);
}

//===----------------------------------------------------------------------===//
// Softmax against the interpreter.
//===----------------------------------------------------------------------===//

HostTensor interpretSoftmax(const HostTensor &x, bool log) {
  Function f("softmax");
  Builder b(f);
  ValueId p = b.param("x", x.type());
  f.setResults({b.create(log ? OpKind::LogSoftmax : OpKind::Softmax, {p}, {{"axis", int64_t(1)}})});
  std::vector<HostTensor> inputs = {x};
  return runtime::interpret(f, inputs).at(0);
}

using SoftmaxCase = std::tuple<std::pair<int64_t, int64_t>, bool>;

class OneDnnSoftmaxVsInterpreter : public ::testing::TestWithParam<SoftmaxCase> {};

TEST_P(OneDnnSoftmaxVsInterpreter, MatchesReference) {
  auto [shape, log] = GetParam();
  auto [rows, cols] = shape;
  HostTensor x = randomTensor(Shape{rows, cols}, 7);
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<float>()[i] *= 8; // spread the logits so that the max shift matters
  HostTensor y(x.type());
  Softmax::get(rows, cols, log)->run(x.data<float>(), y.data<float>());
  EXPECT_TRUE(near(y, interpretSoftmax(x, log)));
}

const std::pair<int64_t, int64_t> kSoftmaxShapes[] = {
    {1, 1}, {3, 5}, {100, 10}, {7, 1000}, {600, 600}};

std::string softmaxCaseName(const ::testing::TestParamInfo<SoftmaxCase> &info) {
  auto [shape, log] = info.param;
  return std::string(log ? "Log" : "") + "Softmax" + std::to_string(shape.first) + "x" +
         std::to_string(shape.second);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OneDnnSoftmaxVsInterpreter,
                         ::testing::Combine(::testing::ValuesIn(kSoftmaxShapes), ::testing::Bool()),
                         softmaxCaseName);

TEST(OneDnnSoftmax, RunsInPlace) {
  HostTensor x = randomTensor(Shape{4, 6}, 8);
  HostTensor want = interpretSoftmax(x, /*log=*/true);
  Softmax::get(4, 6, true)->run(x.data<float>(), x.data<float>());
  EXPECT_TRUE(near(x, want));
}

TEST(OneDnnSoftmax, EmptyIsANoOp) {
  EXPECT_NO_THROW(Softmax::get(0, 5, false)->run(nullptr, nullptr));
}

TEST(OneDnnSoftmax, MissingBufferIsAUsageError) {
  float x[6] = {};
  try {
    Softmax::get(2, 3, false)->run(x, nullptr);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(e.message().find("softmax f32[2,3]"), std::string::npos) << e.message();
  }
}

} // namespace
