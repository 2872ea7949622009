//===- libtorch_ops.cpp - kiln-bench-libtorch-ops -------------------------===//
//
// libtorch's side of kiln-bench-backend: its graphs (a) and (b) written
// against PyTorch's C++ API, the C++ twin of bench/torch_bench.py (same ops,
// shapes, timing rule and output), so that the backend's ratios can be
// stated against the C++ peer as well as against Python.
//
// Prints one line per graph, NAME MEDIAN_NS MIN_NS REPS, then
// `threads N VERSION`. Timed by bench/Timing.h, whose rule torch_bench.py
// follows (5 warm-up calls, then at least 20 calls and half a second).
//
//===----------------------------------------------------------------------===//
#include "LibtorchVersion.h"
#include "Timing.h"

#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <utility>

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
      kiln::bench::Sample s = kiln::bench::measure(fn);
      std::printf("%s %.0f %.0f %lld\n", name, s.medianNs, s.minNs, (long long)s.reps);
    }
    std::printf("threads %d %s\n", torch::get_num_threads(), kiln::bench::kTorchVersion);
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "kiln-bench-libtorch-ops: %s\n", e.what());
    return 1;
  }
}
