//===- StepAllocationsTest.cpp - Heap allocations of a steady step --------===//
//
// A training step that repeats the previous one should allocate nothing
// (issue 12). This binary counts calls of the global operator new -- its own
// binary, so that the counting replacement touches no other test -- and holds
// what steps allocate today as budgets: a change that adds allocations to a
// steady step fails here, one that removes some lowers its budget. Tensor
// storage (std::aligned_alloc) is counted too.
//
//===----------------------------------------------------------------------===//
#include "kiln/data/DataLoader.h"
#include "kiln/ir/Recycled.h"
#include "kiln/kiln.h"
#include "kiln/nn/nn.h"
#include "kiln/optim/optim.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <malloc.h>
#include <new>

namespace {
std::atomic<bool> gCounting{false};
std::atomic<int64_t> gAllocations{0};
} // namespace

void *operator new(std::size_t n) {
  if (gCounting.load(std::memory_order_relaxed))
    gAllocations.fetch_add(1, std::memory_order_relaxed);
  if (void *p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc();
}
// GCC cannot see that these pair with the operator new above.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Tensor storage: every aligned_alloc of the process comes here.
extern "C" void *aligned_alloc(std::size_t alignment, std::size_t size) {
  if (gCounting.load(std::memory_order_relaxed))
    gAllocations.fetch_add(1, std::memory_order_relaxed);
  return memalign(alignment, size); // glibc's, as its aligned_alloc
}

using namespace kiln;

namespace {

/// Allocations per call of `step`, over calls 6..15 (the first three
/// record, derive, interpret and compile).
template <class F> double allocationsPerSteadyStep(F step) {
  for (int i = 0; i < 5; ++i)
    step();
  gAllocations = 0;
  gCounting = true;
  for (int i = 0; i < 10; ++i)
    step();
  gCounting = false;
  return double(gAllocations.load()) / 10;
}

/// The seed's loop: Linear(1, 1) as two tensors, MSE, SGD.
struct Linreg {
  Tensor w = zeros({1, 1}, f32, true), b = zeros({1}, f32, true);
  Tensor x = arange(1, 11).to(f32).reshape({10, 1}), y = x * 3 + 5;
  optim::SGD opt;

  explicit Linreg(optim::SGDOptions options = {.lr = 0.01}) : opt({w, b}, options) {}

  Tensor step(const Tensor &in, const Tensor &target) {
    opt.zero_grad();
    Tensor loss = (in.matmul(w) + b - target).pow(2).mean();
    loss.backward();
    opt.step();
    return loss;
  }
};

/// The textbook's own form of the same loop (kiln example linreg): an
/// nn::Linear registered in a module, so that its parameters are named
/// `regression.weight` and so on -- names longer than std::string keeps
/// inline, which the step's values (`_grad`, `_new`) carry into the IR.
struct NamedLinreg {
  struct Model : nn::Module {
    std::shared_ptr<nn::Linear> linear =
        register_module("regression", std::make_shared<nn::Linear>(1, 1));
    Tensor forward(const Tensor &x) override { return (*linear)(x); }
  };
  Model model;
  nn::MSELoss criterion;
  optim::SGD opt{model.parameters(), 0.01};
  Tensor x = arange(1, 11).to(f32).reshape({10, 1}), y = x * 3 + 5;

  void step() {
    opt.zero_grad();
    Tensor loss = criterion(model(x), y);
    loss.backward();
    opt.step();
    (void)loss.item();
  }
};

/// The chapter's MNIST loop: Linear(784, 10), CrossEntropyLoss, SGD, batches
/// of 100 from a DataLoader (over 400 synthetic images: 4 batches an epoch).
struct MnistLinear {
  data::MnistDataset dataset = makeDataset(400);
  data::DataLoader loader{dataset, 100, /*shuffle=*/true};
  nn::Linear model{784, 10};
  nn::CrossEntropyLoss criterion;
  optim::SGD opt{model.parameters(), 0.1};
  data::DataLoader::iterator batch = loader.begin();

  static data::MnistDataset makeDataset(int64_t n) {
    ir::HostTensor images = ir::HostTensor::uninitialized({DType::U8, ir::Shape{n, 28, 28}});
    auto *pixels = static_cast<uint8_t *>(const_cast<void *>(images.raw()));
    for (int64_t i = 0; i < images.numel(); ++i)
      pixels[i] = uint8_t((i * 37) % 251);
    ir::HostTensor labels = ir::HostTensor::uninitialized({DType::I64, ir::Shape{n}});
    for (int64_t i = 0; i < n; ++i)
      labels.setInt(i, i % 10);
    return {std::move(images), std::move(labels)};
  }

  /// One step on the next batch (a new epoch when the last one ends).
  void step() {
    if (batch == loader.end())
      batch = loader.begin();
    const data::Batch &b = *batch;
    opt.zero_grad();
    Tensor loss = criterion(model(b.x), b.y);
    loss.backward();
    opt.step();
    (void)loss.item();
    ++batch;
  }
};

/// Under a sanitizer nothing is recycled (ir/include/kiln/ir/Recycled.h).
bool sanitized() { return !ir::recycled::kEnabled; }

class StepAllocations : public testing::Test {
protected:
  void SetUp() override {
    if (sanitized())
      GTEST_SKIP() << "a sanitizer runtime allocates on its own; counted in the main stage";
    set_execution(Execution::Compiled);
  }
};

} // namespace

/// The counter sees an allocation made between the two halves of a
/// measurement (else the zeros below would prove nothing).
TEST_F(StepAllocations, TheCounterCountsEveryAllocation) {
  double perStep = allocationsPerSteadyStep([] {
    char *volatile s = new char[64];
    delete[] s;
    void *p = std::aligned_alloc(64, 64);
    std::free(p);
  });
  EXPECT_EQ(perStep, 2);
}

/// The seed's lazy step allocates nothing: recorded objects and result
/// buffers are recycled (makeRecycled, ir/src/BufferCache.h), the flush's
/// and backward's lists kept per thread, attribute lists shared per thread
/// (frontends/src/SharedAttrs.h).
TEST_F(StepAllocations, TheSeedsLoopAllocatesNothing) {
  Linreg m;
  double perStep = allocationsPerSteadyStep([&] { m.step(m.x, m.y); });
  std::printf("lazy linreg step: %.1f allocations\n", perStep);
  EXPECT_EQ(perStep, 0);
}

/// With weight decay SGD's update of a parameter is one recorded node of
/// four operands (frontends/src/RecordedRegion.h), kept inline too.
TEST_F(StepAllocations, TheSeedsLoopWithWeightDecayAllocatesNothing) {
  Linreg m({.lr = 0.01, .weight_decay = 0.001});
  double perStep = allocationsPerSteadyStep([&] { m.step(m.x, m.y); });
  std::printf("lazy linreg step, SGD with weight decay: %.1f allocations\n", perStep);
  EXPECT_EQ(perStep, 0);
}

TEST_F(StepAllocations, TheNamedModulesLoopAllocatesNothing) {
  NamedLinreg m;
  ASSERT_GT(m.model.linear->weight.name().size(), 15u) << "a name longer than the inline buffer";
  double perStep = allocationsPerSteadyStep([&] { m.step(); });
  std::printf("lazy linreg step, named nn::Linear: %.1f allocations\n", perStep);
  EXPECT_EQ(perStep, 0);
}

/// The MNIST loop, its batches included (the loader gathers each into the
/// last one's buffers). What remains is inside oneDNN: its primitive
/// execution allocates per call (the argument map of dnnl_primitive_execute,
/// a node per argument), with its AVX-512 kernels one block more per step
/// than with its AVX2 ones (11 against 10), and two more where primitives
/// take a scratchpad argument (brgemm on AVX-512: 13; see primitiveAttr in
/// runtime/onednn/Primitive.h); and each new epoch's order list (0.2 per
/// step here).
TEST_F(StepAllocations, TheMnistLoopStaysWithinItsBudget) {
  MnistLinear m;
  double perStep = allocationsPerSteadyStep([&] { m.step(); });
  std::printf("lazy mnist linear step: %.1f allocations\n", perStep);
  EXPECT_LE(perStep, 13.2);
}

/// A kiln::compile replay allocates nothing: its argument, buffer and result
/// lists are kept between calls, and no result tensor is made while nobody
/// keeps the last one (its buffer is reused).
TEST_F(StepAllocations, AReplayOfTheSeedsLoopAllocatesNothing) {
  Linreg m;
  auto step = compile([&](Tensor x, Tensor y) { return m.step(x, y); });
  double perStep = allocationsPerSteadyStep([&] { step(m.x, m.y); });
  ASSERT_GE(step.replays(), 10);
  std::printf("kiln::compile replay of the linreg step: %.1f allocations\n", perStep);
  EXPECT_EQ(perStep, 0);
}
