//===- ThreadsTest.cpp - Several threads, each training its own model -----===//
//
// Each thread records and flushes its own steps (its own LazyState and
// program cache); the kernel caches below are shared. N threads x M steps
// must give exactly the results of the same trainings run one after the
// other, in every execution mode. The sanitize stage also runs this suite
// under ThreadSanitizer (scripts/test), where any data race fails it.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/Builder.h"
#include "kiln/kiln.h"
#include "kiln/nn/nn.h"
#include "kiln/optim/optim.h"
#include "kiln/runtime/Interpreter.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/Threads.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <thread>

using namespace kiln;

namespace {

constexpr int kThreads = 4;
constexpr int kSteps = 60;

/// The final weights and loss of a small two-layer regression trained with
/// SGD; `seed` makes each thread's data and model its own.
std::vector<double> train(int seed, Execution mode) {
  ExecutionGuard guard(mode);
  // Every step compiled, the first too: whether a step was interpreted first
  // (it is in a thread's fresh cache, not after an earlier training in the
  // same thread) would change the last bits.
  int previous = compile_after();
  set_compile_after(0);
  Generator gen(uint64_t(1000 + seed));
  nn::Linear hidden(3, 8, true, gen), out(8, 1, true, gen);
  std::vector<Tensor> params = hidden.parameters();
  for (const Tensor &p : out.parameters())
    params.push_back(p);
  optim::SGD opt(params, 0.05);
  Tensor x = randn({16, 3}, f32, false, gen);
  Tensor y = (x.sum(1, true) * (0.5 + seed)).tanh();
  Tensor loss;
  for (int step = 0; step < kSteps; ++step) {
    opt.zero_grad();
    loss = nn::MSELoss()(out.forward(hidden.forward(x).relu()), y);
    loss.backward();
    opt.step();
  }
  std::vector<double> result = out.parameters()[0].to_vector();
  result.push_back(loss.item());
  set_compile_after(previous);
  return result;
}

class ThreadsTest : public ::testing::TestWithParam<Execution> {};

TEST_P(ThreadsTest, EachThreadTrainsAsIfAlone) {
  std::vector<std::vector<double>> sequential, parallel(kThreads);
  for (int t = 0; t < kThreads; ++t)
    sequential.push_back(train(t, GetParam()));
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        parallel[size_t(t)] = train(t, GetParam());
      } catch (const std::exception &e) {
        errors[size_t(t)] = e.what();
      }
    });
  for (std::thread &th : threads)
    th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[size_t(t)], "") << "thread " << t;
    EXPECT_EQ(parallel[size_t(t)], sequential[size_t(t)]) << "thread " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, ThreadsTest,
                         ::testing::Values(Execution::Eager, Execution::Interpreted,
                                           Execution::Compiled),
                         [](const auto &info) {
                           return info.param == Execution::Eager         ? "Eager"
                                  : info.param == Execution::Interpreted ? "Interpreted"
                                                                         : "Compiled";
                         });

TEST(Threads, APendingTensorOfAnotherThreadIsAnErrorNotACrash) {
  ExecutionGuard lazy(Execution::Compiled);
  Tensor pending = tensor({1.0, 2.0}) * 3; // pending in this thread's step
  std::string error;
  std::thread other([&] {
    try {
      (void)(pending + 1).item();
    } catch (const Error &e) {
      error = e.what();
    }
  });
  other.join();
  EXPECT_NE(error.find("another thread"), std::string::npos) << error;
  EXPECT_EQ(pending.to_vector(), (std::vector<double>{3, 6})); // still computed here
  Tensor shared = pending.detach(); // synced now: any thread may read it
  double sum = 0;
  std::thread reader([&] { sum = (shared + 1).sum().item(); });
  reader.join();
  EXPECT_EQ(sum, 11);
}

TEST(Threads, SettingsArePerThread) {
  ExecutionGuard eager(Execution::Eager);
  Execution seen = Execution::Eager;
  std::thread other([&] { seen = execution(); });
  other.join();
  EXPECT_NE(seen, Execution::Eager) << "a new thread starts from the default, lazy mode";
}

/// Two threads compile programs at once, each with three loop kernels that
/// it compiles ahead on two threads of the pool, and one with a matmul that
/// starts oneDNN's setup: the JIT's in-flight kernels, its target machines
/// and the setup are shared (run under ThreadSanitizer too). Each program
/// computes what the interpreter does.
TEST(Threads, ProgramsCompileTheirKernelsInParallel) {
  runtime::setMaxThreads(2);
  auto program = [](int64_t n) {
    ir::Function f("parallel_kernels");
    ir::Builder b(f);
    ir::ValueId x = b.param("x", {DType::F32, ir::Shape{8, n}});
    ir::ValueId w = b.param("w", {DType::F32, ir::Shape{n, 5}});
    ir::ValueId h = b.create(ir::OpKind::Tanh, {b.mul(x, b.scalar(0.31))});
    ir::ValueId y = b.exp(b.sub(b.matmul(h, w), b.scalar(0.5)));
    f.setResults(
        {y, b.create(ir::OpKind::ReduceSum, {h}, {{"axes", ir::IntList{1}}, {"keepdims", false}})});
    return f;
  };
  std::array<bool, 2> same{}; // one element per thread (not vector<bool>'s shared bits)
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      ir::Function f = program(23 + t);
      std::vector<ir::HostTensor> inputs;
      for (ir::ValueId p : f.params()) {
        ir::HostTensor v(f.type(p));
        for (int64_t i = 0; i < v.numel(); ++i)
          v.set(i, double((i * 7 + t) % 11) / 11 - 0.5);
        inputs.push_back(std::move(v));
      }
      std::vector<ir::HostTensor> got = runtime::Program::compile(f)->run(inputs);
      std::vector<ir::HostTensor> want = runtime::interpret(f, inputs);
      bool ok = got.size() == want.size();
      for (size_t r = 0; ok && r < got.size(); ++r)
        for (int64_t i = 0; ok && i < got[r].numel(); ++i)
          ok = std::abs(got[r].get(i) - want[r].get(i)) < 1e-4;
      same[size_t(t)] = ok;
    });
  for (std::thread &t : threads)
    t.join();
  runtime::setMaxThreads(0);
  EXPECT_TRUE(same[0]);
  EXPECT_TRUE(same[1]);
}

} // namespace
