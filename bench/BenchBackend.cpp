//===- BenchBackend.cpp - kiln-bench-backend ------------------------------===//
//
// Times the compiled backend (runtime::Program) on three graphs:
//  (a) an elementwise chain over 1M floats, tanh(a*b+c)*0.5, against memcpy
//      of the same number of bytes in the same run (GB/s and ratio);
//  (b) a dense layer, relu(x[100,784] @ w[784,10] + b);
//  (c) the MNIST linear training step (forward, cross-entropy, backward from
//      compiler::differentiate, SGD update).
// For each: compile latency cold (a fresh process with an empty
// KILN_CACHE_DIR) and warm (a fresh process whose KILN_CACHE_DIR holds the
// objects), and run time per call. libtorch's times for (a) and (b) come
// from kiln-bench-libtorch-ops (bench/libtorch_ops.cpp) where CMake found
// libtorch, PyTorch's from bench/torch_bench.py when /usr/bin/python3 has
// torch, both in the same run.
//
// Compile latencies are measured in child processes (this program run with
// --child GRAPH), since within one process the JIT's memory cache would make
// every compile after the first a hit.
//
//===----------------------------------------------------------------------===//
#include "Timing.h"

#include "kiln/compiler/Autodiff.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/Printer.h"
#include "kiln/runtime/Jit.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/Threads.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

using namespace kiln;
using namespace kiln::ir;
using kiln::bench::Sample;

namespace {

// ---- The graphs -----------------------------------------------------------------

constexpr int64_t kChainElements = int64_t(1) << 20;

Function elementwiseChain() {
  Function f("chain");
  Builder b(f);
  TensorType t{DType::F32, Shape{kChainElements}};
  ValueId a = b.param("a", t), x = b.param("b", t), c = b.param("c", t);
  ValueId y = b.create(OpKind::Tanh, {b.add(b.mul(a, x), c)});
  f.setResults({b.mul(y, b.scalar(0.5))});
  return f;
}

Function denseLayer() {
  Function f("dense");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{100, 784}});
  ValueId w = b.param("w", {DType::F32, Shape{784, 10}});
  ValueId bias = b.param("b", {DType::F32, Shape{10}});
  f.setResults({b.create(OpKind::Relu, {b.add(b.matmul(x, w), bias)})});
  return f;
}

/// One SGD step (learning rate 0.1) of softmax regression on a batch of 100
/// MNIST images: returns the loss and the updated w and b.
Function mnistStep() {
  Function f("mnist_step");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{100, 784}});
  ValueId labels = b.param("labels", {DType::I64, Shape{100}});
  ValueId w = b.param("w", {DType::F32, Shape{784, 10}});
  ValueId bias = b.param("b", {DType::F32, Shape{10}});
  ValueId logits = b.add(b.matmul(x, w), bias);
  ValueId logp = b.create(OpKind::LogSoftmax, {logits}, {{"axis", int64_t(1)}});
  ValueId onehot = b.create(OpKind::OneHot, {labels}, {}, TensorType{DType::F32, Shape{100, 10}});
  ValueId loss = b.neg(b.reduceMean(b.reduceSum(b.mul(onehot, logp), {1}), {0}));
  f.setResults({loss});
  Function step =
      compiler::differentiate(f, loss, std::vector{w, bias}, {.keepForwardResults = true}).fn;
  // Append the update: p - 0.1 * dp, returned after the loss.
  Builder s(step);
  ValueId lr = s.scalar(0.1);
  ValueId wNew = s.sub(step.params()[2], s.mul(lr, step.results()[1]));
  ValueId bNew = s.sub(step.params()[3], s.mul(lr, step.results()[2]));
  step.setResults({step.results()[0], wNew, bNew});
  return step;
}

const std::map<std::string, Function (*)()> kGraphs = {
    {"chain", elementwiseChain}, {"dense", denseLayer}, {"mnist", mnistStep}};

std::vector<HostTensor> inputsFor(const Function &f) {
  std::vector<HostTensor> inputs;
  uint64_t state = 12345;
  for (ValueId p : f.params()) {
    HostTensor t(f.type(p));
    for (int64_t i = 0; i < t.numel(); ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      double u = double(state >> 11) * 0x1p-53;
      t.set(i, t.dtype() == DType::I64 ? std::floor(u * 10) : u - 0.5);
    }
    inputs.push_back(std::move(t));
  }
  return inputs;
}

// ---- Child process: one compile ---------------------------------------------------

/// Compiles `name` once and runs it once; prints "compile_ns first_run_ns compiled disk_hits".
int child(const std::string &name) {
  Function f = kGraphs.at(name)();
  std::vector<HostTensor> inputs = inputsFor(f);
  int64_t t0 = bench::nowNs();
  auto program = runtime::Program::compile(f);
  int64_t t1 = bench::nowNs();
  program->run(inputs);
  int64_t t2 = bench::nowNs();
  runtime::JitStats s = runtime::Jit::instance().stats();
  std::printf("%lld %lld %lld %lld\n", (long long)(t1 - t0), (long long)(t2 - t1),
              (long long)s.compiled, (long long)s.diskHits);
  return 0;
}

struct ChildResult {
  double compileNs = 0, firstRunNs = 0;
  int64_t compiled = 0, diskHits = 0;
};

std::string self;

ChildResult runChild(const std::string &name, const std::string &cacheDir) {
  std::string cmd = fmt::format("KILN_CACHE_DIR='{}' '{}' --child {}", cacheDir, self, name);
  FILE *pipe = ::popen(cmd.c_str(), "r");
  if (!pipe)
    throw Error(ErrorKind::Io, "cannot run " + cmd);
  char line[256] = {};
  bool got = std::fgets(line, sizeof line, pipe) != nullptr;
  int status = ::pclose(pipe);
  ChildResult r;
  long long c = 0, run = 0, compiled = 0, hits = 0;
  if (!got || status != 0 ||
      std::sscanf(line, "%lld %lld %lld %lld", &c, &run, &compiled, &hits) != 4)
    throw Error(ErrorKind::Runtime, "child failed: " + cmd);
  return {double(c), double(run), compiled, hits};
}

struct CompileTimes {
  Sample cold, warm, firstRun;
  int64_t compiledCold = 0, compiledWarm = 0, diskHitsWarm = 0;
};

/// `reps` cold compiles (each with a fresh cache directory, which it fills),
/// then `reps` warm ones from the last filled directory.
CompileTimes compileTimes(const std::string &name, int reps) {
  std::filesystem::path base =
      std::filesystem::temp_directory_path() / fmt::format("kiln-bench-{}-{}", name, ::getpid());
  CompileTimes t;
  std::vector<double> cold, warm, first;
  std::string dir;
  for (int i = 0; i < reps; ++i) {
    dir = (base / fmt::format("cold{}", i)).string();
    ChildResult r = runChild(name, dir);
    cold.push_back(r.compileNs);
    first.push_back(r.firstRunNs);
    t.compiledCold = r.compiled;
  }
  for (int i = 0; i < reps; ++i) {
    ChildResult r = runChild(name, dir);
    warm.push_back(r.compileNs);
    t.compiledWarm = r.compiled;
    t.diskHitsWarm = r.diskHits;
  }
  std::error_code ec;
  std::filesystem::remove_all(base, ec);
  t.cold = bench::summarize(cold);
  t.warm = bench::summarize(warm);
  t.firstRun = bench::summarize(first);
  return t;
}

// ---- libtorch and PyTorch ------------------------------------------------------------

/// A peer's times for graphs (a) and (b): the lines `NAME MEDIAN_NS MIN_NS
/// REPS` and `threads N VERSION` that bench/torch_bench.py and
/// kiln-bench-libtorch-ops print.
struct PeerTimes {
  std::map<std::string, Sample> graphs;
  std::string note;
};

/// Runs `command` and reads its lines; `name` says who it is in the notes,
/// `missing` why it was skipped when it exits 3 or prints nothing.
PeerTimes peerTimes(const std::string &command, const std::string &name,
                    const std::string &missing) {
  PeerTimes t;
  FILE *pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (!pipe) {
    t.note = fmt::format("{}: skipped (cannot start it)", name);
    return t;
  }
  char line[512];
  while (std::fgets(line, sizeof line, pipe)) {
    std::istringstream in(line);
    std::string graph;
    in >> graph;
    if (graph == "threads") {
      std::string threads, version;
      in >> threads >> version;
      t.note = fmt::format("{} {} with {} thread(s)", name, version, threads);
      continue;
    }
    Sample s;
    in >> s.medianNs >> s.minNs >> s.reps;
    t.graphs[graph] = s;
  }
  int status = ::pclose(pipe);
  if (t.graphs.empty())
    t.note = WIFEXITED(status) && WEXITSTATUS(status) == 3
                 ? fmt::format("{}: skipped ({})", name, missing)
                 : fmt::format("{}: skipped ({} failed)", name, command);
  return t;
}

PeerTimes torchTimes() {
  std::string script = std::string(KILN_BENCH_DIR) + "/torch_bench.py";
  return peerTimes(fmt::format("/usr/bin/python3 '{}'", script), "PyTorch",
                   "torch is not installed for /usr/bin/python3");
}

/// kiln-bench-libtorch-ops next to this program, built where CMake found
/// libtorch.
PeerTimes libtorchTimes() {
  std::string peer = (std::filesystem::path(self).parent_path() / "kiln-bench-libtorch-ops").string();
  if (!std::filesystem::exists(peer))
    return {{}, "libtorch: skipped (no kiln-bench-libtorch-ops: CMake found no libtorch; on "
                "Debian: scripts/setup --bench, which installs libtorch-dev)"};
  return peerTimes(fmt::format("'{}'", peer), "libtorch", "");
}

// ---- Report ---------------------------------------------------------------------------

std::string us(double ns) { return fmt::format("{:.1f}", ns * 1e-3); }
std::string ms(double ns) { return fmt::format("{:.1f}", ns * 1e-6); }

void printCompileTable(const std::map<std::string, CompileTimes> &c) {
  std::printf("\nCompile latency (ms, fresh process; median / min of %lld):\n",
              (long long)c.begin()->second.cold.reps);
  std::printf("| graph | cold (empty cache) | kernels compiled | warm (disk cache) | kernels "
              "compiled | first run |\n|---|---|---|---|---|---|\n");
  for (const auto &[name, t] : c)
    std::printf("| %s | %s / %s | %lld | %s / %s | %lld (%lld from disk) | %s / %s |\n",
                name.c_str(), ms(t.cold.medianNs).c_str(), ms(t.cold.minNs).c_str(),
                (long long)t.compiledCold, ms(t.warm.medianNs).c_str(), ms(t.warm.minNs).c_str(),
                (long long)t.compiledWarm, (long long)t.diskHitsWarm,
                ms(t.firstRun.medianNs).c_str(), ms(t.firstRun.minNs).c_str());
}

struct RunTimes {
  Sample run, kernels;
};

/// run(inputs, outputs) per call, and the kernels alone (a profiled program's
/// per-kernel times, summed; per call).
RunTimes runTimes(const Function &f) {
  std::vector<HostTensor> inputs = inputsFor(f);
  auto program = runtime::Program::compile(f);
  std::vector<HostTensor> outputs = program->run(inputs);
  RunTimes t;
  t.run = bench::measure([&] { program->run(inputs, outputs); });
  auto profiled = runtime::Program::compile(f, {.profile = true});
  t.kernels = bench::measureReported([&] {
    int64_t before = 0, after = 0;
    for (const runtime::KernelInfo &k : profiled->kernels())
      before += k.nanos;
    profiled->run(inputs, outputs);
    for (const runtime::KernelInfo &k : profiled->kernels())
      after += k.nanos;
    return after - before;
  });
  return t;
}

} // namespace

int main(int argc, char **argv) {
  try {
    self = std::filesystem::canonical("/proc/self/exe").string();
    if (argc == 3 && std::strcmp(argv[1], "--child") == 0)
      return child(argv[2]);
    if (argc == 3 && std::strcmp(argv[1], "--print-ir") == 0) { // for `kiln run`, `kiln opt`
      std::fputs(print(kGraphs.at(argv[2])()).c_str(), stdout);
      return 0;
    }
    int reps = argc == 3 && std::strcmp(argv[1], "--compile-reps") == 0 ? std::atoi(argv[2]) : 5;
    if (argc != 1 && reps < 1) {
      std::fprintf(stderr,
                   "usage: kiln-bench-backend [--compile-reps N | --print-ir chain|dense|mnist]\n");
      return 2;
    }
    std::printf("kiln-bench-backend: host %s\n", runtime::Jit::instance().hostTarget().c_str());
    // Timings on a busy machine mean little: say how busy it was.
    std::string load = "?";
    if (FILE *f = std::fopen("/proc/loadavg", "r")) {
      char text[64] = {};
      if (std::fgets(text, sizeof text, f))
        load = std::string(text, strcspn(text, "\n"));
      std::fclose(f);
    }
    const char *omp = std::getenv("OMP_NUM_THREADS");
    std::printf("cores %u, load average %s, OMP_NUM_THREADS=%s\n",
                std::thread::hardware_concurrency(), load.c_str(), omp ? omp : "(unset)");

    std::map<std::string, CompileTimes> compile;
    for (const auto &[name, make] : kGraphs)
      compile[name] = compileTimes(name, reps);

    std::map<std::string, RunTimes> run;
    for (const auto &[name, make] : kGraphs)
      run[name] = runTimes(make());
    // memcpy of the chain's traffic: it reads 3 x 4 MiB and writes 4 MiB;
    // copying 8 MiB reads 8 and writes 8 MiB.
    const size_t chainBytes = size_t(kChainElements) * sizeof(float) * 4;
    std::vector<char> src(chainBytes / 2, 1), dst(chainBytes / 2);
    Sample copy = bench::measure([&] {
      std::memcpy(dst.data(), src.data(), src.size());
      asm volatile("" : : "r"(dst.data()) : "memory");
    });
    PeerTimes libtorch = libtorchTimes();
    PeerTimes torch = torchTimes();

    auto cell = [](const PeerTimes &peer, const std::string &name) {
      auto it = peer.graphs.find(name);
      return it == peer.graphs.end() ? std::string("-")
                                     : us(it->second.medianNs) + " / " + us(it->second.minNs);
    };
    auto ratio = [](const PeerTimes &peer, const std::string &name, const RunTimes &t) {
      auto it = peer.graphs.find(name);
      return it == peer.graphs.end() ? std::string("-")
                                     : fmt::format("{:.2f}", it->second.medianNs / t.run.medianNs);
    };
    std::printf("\nRun time per call (us; median / min):\n");
    std::printf("| graph | run(inputs, outputs) | kernels only | libtorch | PyTorch | libtorch / "
                "kiln run (median) | PyTorch / kiln run (median) |\n|---|---|---|---|---|---|---|\n");
    for (const auto &[name, t] : run)
      std::printf("| %s | %s / %s | %s / %s | %s | %s | %s | %s |\n", name.c_str(),
                  us(t.run.medianNs).c_str(), us(t.run.minNs).c_str(),
                  us(t.kernels.medianNs).c_str(), us(t.kernels.minNs).c_str(),
                  cell(libtorch, name).c_str(), cell(torch, name).c_str(),
                  ratio(libtorch, name, t).c_str(), ratio(torch, name, t).c_str());
    std::printf("kiln with at most %d thread(s) per kernel; %s; %s\n", runtime::maxThreads(),
                libtorch.note.c_str(), torch.note.c_str());

    auto gbps = [&](double ns) { return double(chainBytes) / ns; };
    const RunTimes &chain = run.at("chain");
    std::printf("\nElementwise chain, 1M floats (16 MiB of traffic per call; GB/s from the "
                "median and the minimum time):\n");
    std::printf("| | median GB/s | max GB/s | of memcpy (median) |\n|---|---|---|---|\n");
    std::printf("| memcpy 8 MiB | %.1f | %.1f | 100%% |\n", gbps(copy.medianNs), gbps(copy.minNs));
    std::printf("| kiln kernel | %.1f | %.1f | %.0f%% |\n", gbps(chain.kernels.medianNs),
                gbps(chain.kernels.minNs), 100 * copy.medianNs / chain.kernels.medianNs);
    std::printf("| kiln run() | %.1f | %.1f | %.0f%% |\n", gbps(chain.run.medianNs),
                gbps(chain.run.minNs), 100 * copy.medianNs / chain.run.medianNs);
    for (const auto &[peer, name] : {std::pair{&libtorch, "libtorch"}, {&torch, "PyTorch"}})
      if (auto it = peer->graphs.find("chain"); it != peer->graphs.end())
        std::printf("| %s | %.1f | %.1f | %.0f%% |\n", name, gbps(it->second.medianNs),
                    gbps(it->second.minNs), 100 * copy.medianNs / it->second.medianNs);
    printCompileTable(compile);
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "kiln-bench-backend: error: %s\n", e.what());
    return 1;
  }
}
