//===- libtorch_ops.cpp - kiln-bench-libtorch-ops -------------------------===//
//
// libtorch's side of kiln-bench-backend: its graphs (a) and (b) written
// against PyTorch's C++ API, the C++ twin of bench/torch_bench.py (same ops,
// shapes, timing rule and output), so that the backend's ratios can be
// stated against the C++ peer as well as against Python.
//
// Prints one line per graph, NAME MEDIAN_NS MIN_NS REPS, then
// `threads N VERSION`.
//
//===----------------------------------------------------------------------===//
#include "LibtorchVersion.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <vector>

namespace {

using kiln::bench::kTorchVersion;

using Clock = std::chrono::steady_clock;

struct Sample {
  double medianNs = 0, minNs = 0;
  size_t reps = 0;
};

/// torch_bench.py's rule: 5 warm-up calls, then at least 20 timed calls and
/// at least half a second.
Sample measure(const std::function<void()> &fn) {
  for (int i = 0; i < 5; ++i)
    fn();
  std::vector<double> times;
  Clock::time_point start = Clock::now();
  while (times.size() < 20 || Clock::now() - start < std::chrono::milliseconds(500)) {
    Clock::time_point t0 = Clock::now();
    fn();
    times.push_back(double(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0)
                               .count()));
  }
  std::sort(times.begin(), times.end());
  size_t n = times.size();
  double median = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  return {median, times.front(), n};
}

} // namespace

int main() {
  try {
    torch::manual_seed(0);
    torch::NoGradGuard noGrad;
    const int64_t n = int64_t(1) << 20;
    torch::Tensor a = torch::rand({n}), b = torch::rand({n}), c = torch::rand({n});
    torch::Tensor out = torch::empty({n});
    // Like kiln's run(inputs, outputs): the result lands in a given tensor.
    auto chain = [&] { torch::mul_out(out, torch::tanh(torch::addcmul(c, a, b)), 0.5); };

    torch::Tensor x = torch::rand({100, 784}), w = torch::rand({784, 10}), bias = torch::rand({10});
    torch::Tensor y = torch::empty({100, 10});
    auto dense = [&] { torch::relu_(torch::addmm_out(y, bias, x, w)); };

    for (auto [name, fn] : {std::pair<const char *, std::function<void()>>{"chain", chain},
                            {"dense", dense}}) {
      Sample s = measure(fn);
      std::printf("%s %.0f %.0f %zu\n", name, s.medianNs, s.minNs, s.reps);
    }
    std::printf("threads %d %s\n", torch::get_num_threads(), kTorchVersion);
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "kiln-bench-libtorch-ops: %s\n", e.what());
    return 1;
  }
}
