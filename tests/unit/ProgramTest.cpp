//===- ProgramTest.cpp - Compiled programs against the interpreter --------===//
#include "kiln/runtime/OneDnn.h"
#include "kiln/runtime/Program.h"
#include "kiln/compiler/Autodiff.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "kiln/runtime/Interpreter.h"

#include <gtest/gtest.h>

#include <cstring>

#include <cmath>
#include <random>

using namespace kiln;
using namespace kiln::ir;

namespace {

HostTensor random(const TensorType &t, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  HostTensor h(t);
  for (int64_t i = 0; i < h.numel(); ++i)
    h.set(i, t.dtype == DType::I64 ? double(rng() % 10) : u(rng));
  return h;
}

/// Compiles f, runs it and the interpreter on the same random inputs, and
/// compares every result (relative 1e-5, absolute 1e-6).
std::shared_ptr<runtime::Program> expectMatchesInterpreter(const Function &f) {
  auto program = runtime::Program::compile(f);
  std::vector<HostTensor> inputs;
  for (ValueId p : f.params())
    inputs.push_back(random(f.type(p), uint64_t(p.id) * 7 + 1));
  auto want = runtime::interpret(f, inputs);
  auto got = program->run(inputs);
  EXPECT_EQ(got.size(), want.size());
  for (size_t r = 0; r < want.size() && r < got.size(); ++r) {
    EXPECT_EQ(got[r].type(), want[r].type());
    for (int64_t i = 0; i < want[r].numel(); ++i)
      EXPECT_NEAR(got[r].get(i), want[r].get(i), 1e-6 + 1e-5 * std::fabs(want[r].get(i)))
          << "result " << r << ", element " << i;
  }
  return program;
}

size_t countKind(const runtime::Program &p, runtime::KernelKind kind) {
  size_t n = 0;
  for (const auto &k : p.kernels())
    n += k.kind == kind;
  return n;
}

/// docs/textbook.md §2's loss: mean((x @ w + b - y)^2), with its gradients.
Function linregStep() {
  Function f("linreg");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{10, 1}});
  ValueId y = b.param("y", {DType::F32, Shape{10, 1}});
  ValueId w = b.param("w", {DType::F32, Shape{1, 1}});
  ValueId bias = b.param("b", {DType::F32, Shape{1}});
  ValueId d = b.sub(b.add(b.matmul(x, w), bias), y);
  ValueId loss = b.reduceMean(b.mul(d, d), {0, 1});
  f.setResults({loss});
  return compiler::differentiate(f, loss, std::vector{w, bias}, {.keepForwardResults = true}).fn;
}

} // namespace

TEST(Program, LinearRegressionStepMatchesTheInterpreter) {
  auto p = expectMatchesInterpreter(linregStep());
  EXPECT_GE(countKind(*p, runtime::KernelKind::Jit), 1u);
  EXPECT_GE(countKind(*p, runtime::KernelKind::Native), 2u) << "its two tiny products";
  EXPECT_EQ(countKind(*p, runtime::KernelKind::OneDnn), 0u);
}

/// A product of a few multiply-adds runs as a loop, not a oneDNN call (which
/// costs ~0.7 us whatever the size): the interpreter's numbers, and for k = 1
/// the same bits as oneDNN, bias and relu included.
TEST(Program, TinyMatmulsRunAsALoopWithOneDnnBits) {
  for (bool transposeW : {false, true}) {
    Function f("tiny");
    Builder b(f);
    ValueId x = b.param("x", {DType::F32, Shape{10, 1}});
    ValueId w = b.param("w", {DType::F32, transposeW ? Shape{3, 1} : Shape{1, 3}});
    ValueId bias = b.param("b", {DType::F32, Shape{3}});
    ValueId product = b.matmul(x, transposeW ? b.transpose(w) : w);
    f.setResults({b.create(OpKind::Relu, {b.add(product, bias)})});
    auto p = expectMatchesInterpreter(f);
    EXPECT_GE(countKind(*p, runtime::KernelKind::Native), 1u);
    EXPECT_EQ(countKind(*p, runtime::KernelKind::OneDnn), 0u);

    std::vector<HostTensor> in;
    for (ValueId v : f.params())
      in.push_back(random(f.type(v), uint64_t(v.id) + 11));
    in[0].set(1, -0.0); // relu's -0 as oneDNN's matmul gives it
    HostTensor got = p->run(in)[0];
    runtime::onednn::MatmulDesc d{.m = 10, .k = 1, .n = 3, .transposeB = transposeW,
                                  .bias = true, .activation = runtime::onednn::Activation::Relu};
    HostTensor want({DType::F32, Shape{10, 3}});
    runtime::onednn::Matmul::get(d)->run(static_cast<const float *>(in[0].raw()),
                                         static_cast<const float *>(in[1].raw()),
                                         static_cast<const float *>(in[2].raw()),
                                         static_cast<float *>(const_cast<void *>(want.raw())));
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), size_t(want.bytes())), 0)
        << "transposeW=" << transposeW;
  }
}

/// A matmul with a relu epilogue keeps a NaN, as PyTorch's relu and the
/// interpreter do, on both of its kernels: oneDNN's relu post-op gave 0 for
/// it, so a NaN in a layer's output vanished.
TEST(Program, AMatmulsReluKeepsNaN) {
  for (int64_t k : {4, 784}) { // the small-matmul loop, then oneDNN
    Function f("layer");
    Builder b(f);
    ValueId x = b.param("x", {DType::F32, Shape{8, k}});
    ValueId w = b.param("w", {DType::F32, Shape{10, k}});
    ValueId bias = b.param("b", {DType::F32, Shape{10}});
    f.setResults({b.create(OpKind::Relu, {b.add(b.matmul(x, b.transpose(w)), bias)})});
    auto p = runtime::Program::compile(f);
    std::vector<HostTensor> in;
    for (ValueId v : f.params())
      in.push_back(random(f.type(v), uint64_t(v.id) + 3));
    in[0].set(5 * k + 1, std::nan("")); // row 5 of x
    HostTensor got = p->run(in)[0], want = runtime::interpret(f, in)[0];
    for (int64_t i = 0; i < want.numel(); ++i) {
      bool nan = std::isnan(want.get(i));
      EXPECT_EQ(std::isnan(got.get(i)), nan) << "k=" << k << ", element " << i;
      if (!nan) {
        EXPECT_NEAR(got.get(i), want.get(i), 1e-5) << "k=" << k << ", element " << i;
      }
    }
    EXPECT_TRUE(std::isnan(got.get(5 * 10))) << "k=" << k;
  }
}

TEST(Program, ClassifierStepMatchesTheInterpreter) {
  // Linear 784 -> 10, log_softmax, cross-entropy against one-hot labels.
  Function f("classifier");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{100, 784}});
  ValueId labels = b.param("labels", {DType::I64, Shape{100}});
  ValueId w = b.param("w", {DType::F32, Shape{10, 784}});
  ValueId bias = b.param("b", {DType::F32, Shape{10}});
  ValueId logits = b.add(b.matmul(x, b.transpose(w)), bias);
  ValueId logp = b.create(OpKind::LogSoftmax, {logits}, {{"axis", int64_t(1)}});
  ValueId onehot = b.create(OpKind::OneHot, {labels}, {}, TensorType{DType::F32, Shape{100, 10}});
  ValueId loss = b.neg(b.reduceMean(b.reduceSum(b.mul(onehot, logp), {1}), {0}));
  f.setResults({loss});
  Function step =
      compiler::differentiate(f, loss, std::vector{w, bias}, {.keepForwardResults = true}).fn;
  auto p = expectMatchesInterpreter(step);
  EXPECT_GE(countKind(*p, runtime::KernelKind::OneDnn), 1u);
}

TEST(Program, ElementwiseChainIsOneJitKernel) {
  Function f("chain");
  Builder b(f);
  TensorType t{DType::F32, Shape{1000}};
  ValueId x = b.param("x", t), y = b.param("y", t);
  f.setResults({b.create(OpKind::Tanh, {b.mul(b.add(x, y), b.scalar(0.5))})});
  auto p = expectMatchesInterpreter(f);
  ASSERT_EQ(p->kernels().size(), 1u);
  EXPECT_EQ(p->kernels()[0].kind, runtime::KernelKind::Jit);
}

TEST(Program, ResultsAreFreshCopiesAndInputsAreChecked) {
  Function f("id");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{2}});
  f.setResults({b.neg(x)});
  auto p = runtime::Program::compile(f);
  HostTensor in = HostTensor::fromDoubles({DType::F32, Shape{2}}, std::vector<double>{1, 2});
  auto first = p->run(std::vector{in});
  auto second = p->run(std::vector{in});
  EXPECT_NE(first[0].raw(), second[0].raw());
  EXPECT_EQ(first[0].get(1), -2);
  EXPECT_THROW(p->run(std::vector{HostTensor::scalar(1)}), Error);
}

TEST(Program, CompilationCanBeForbidden) {
  Function f = linregStep();
  int64_t before = runtime::compilationCount();
  runtime::Program::compile(f);
  EXPECT_EQ(runtime::compilationCount(), before + 1);
  runtime::setCompilationForbidden(true);
  EXPECT_THROW(runtime::Program::compile(f), Error);
  runtime::setCompilationForbidden(false);
}
