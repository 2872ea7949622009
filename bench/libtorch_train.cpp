//===- libtorch_train.cpp - kiln-bench-libtorch ---------------------------===//
//
// libtorch's side of kiln-bench-train: the textbook's training programs
// written against PyTorch's C++ API. It mirrors bench/torch_train.py with
// --loader index (same command line, models, data handling, timing and JSON
// fields), so that the PyTorch column can be measured without Python.
//
//===----------------------------------------------------------------------===//
#include "LibtorchVersion.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;

namespace {

using kiln::bench::kTorchVersion;

struct Options {
  std::string program;
  int steps = 1000;
  std::string data;
  std::string model = "linear";
  std::string loader = "index";
  int epochs = 5;
  double lr = NAN; // per program: 0.01 (linreg), 1e-4 (mnist)
  int batch = 100;
  int hidden = 128;
  int threads = 1;
  int64_t seed = 0;
};

// ---- JSON output ------------------------------------------------------------------

/// A double as Python's json.dumps writes it (repr: shortest round trip,
/// always with a '.' or an exponent; NaN and Infinity spelled its way).
std::string jsonDouble(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "Infinity" : "-Infinity";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  return s;
}

/// A flat JSON object that keeps its keys in insertion order, written with
/// json.dumps's separators (", " and ": ").
class JsonObject {
public:
  void number(const std::string &key, double v) { add(key, jsonDouble(v)); }
  void integer(const std::string &key, int64_t v) { add(key, std::to_string(v)); }
  void text(const std::string &key, const std::string &v) { add(key, quote(v)); }
  void numbers(const std::string &key, const std::vector<double> &vs) {
    std::string s = "[";
    for (size_t i = 0; i < vs.size(); ++i)
      s += (i ? ", " : "") + jsonDouble(vs[i]);
    add(key, s + "]");
  }

  std::string str() const {
    std::string s = "{";
    for (size_t i = 0; i < fields_.size(); ++i)
      s += (i ? ", " : "") + quote(fields_[i].first) + ": " + fields_[i].second;
    return s + "}";
  }

private:
  static std::string quote(const std::string &v) {
    std::string s = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\')
        s += '\\';
      s += c;
    }
    return s + "\"";
  }
  void add(const std::string &key, std::string value) {
    fields_.emplace_back(key, std::move(value));
  }

  std::vector<std::pair<std::string, std::string>> fields_;
};

/// The process's peak resident set (VmHWM) in MiB, or 0 where unknown.
double peakRssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return 0.0;
}

// ---- Timing -----------------------------------------------------------------------

/// Wall times of a training loop, measured like torch_train.py's StepClock
/// (and kiln's TrainingRun).
class StepClock {
public:
  using Clock = std::chrono::steady_clock;

  void stepDone() {
    Clock::time_point now = Clock::now();
    ++steps_;
    if (steps_ == 1)
      firstStepMs_ = ms(now - start_);
    if (steps_ == 2)
      warmEnd_ = now;
    last_ = now;
  }

  /// steps, us_per_step, first_step_ms and train_seconds.
  void report(JsonObject &out) const {
    double seconds = ms(last_ - start_) / 1000.0;
    double us = steps_ > 2 ? 1000.0 * ms(last_ - warmEnd_) / double(steps_ - 2)
                           : 1e6 * seconds / double(std::max<int64_t>(steps_, 1));
    out.integer("steps", steps_);
    out.number("us_per_step", us);
    out.number("first_step_ms", firstStepMs_);
    out.number("train_seconds", seconds);
  }

private:
  static double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  }

  Clock::time_point start_ = Clock::now();
  Clock::time_point warmEnd_ = start_;
  Clock::time_point last_ = start_;
  int64_t steps_ = 0;
  double firstStepMs_ = 0.0;
};

// ---- linreg -----------------------------------------------------------------------

/// Linear(1, 1) fitted to y = 3x + 5 on x = 1..10 with MSELoss and SGD.
JsonObject linreg(const Options &o) {
  torch::Tensor x = torch::arange(1, 11, torch::kFloat).view({10, 1});
  torch::Tensor y = 3 * x + 5;
  torch::nn::Linear model(1, 1);
  torch::optim::SGD optimiser(model->parameters(), torch::optim::SGDOptions(o.lr));
  torch::nn::MSELoss criterion;
  StepClock clock;
  double lossValue = 0.0;
  for (int i = 0; i < o.steps; ++i) {
    optimiser.zero_grad();
    torch::Tensor out = model->forward(x);
    torch::Tensor loss = criterion(out, y);
    loss.backward();
    optimiser.step();
    lossValue = loss.item<float>();
    clock.stepDone();
  }
  JsonObject result;
  result.number("weight", model->weight.item<float>());
  result.number("bias", model->bias.item<float>());
  result.number("loss", lossValue);
  clock.report(result);
  return result;
}

// ---- mnist data -------------------------------------------------------------------

/// All bytes of `path`, through zlib (which reads .gz and raw files alike).
std::vector<uint8_t> readFile(const fs::path &path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file)
    throw std::runtime_error(fmt::format("{}: cannot open", path.string()));
  std::vector<uint8_t> data;
  uint8_t chunk[1 << 16];
  int n;
  while ((n = gzread(file, chunk, sizeof chunk)) > 0)
    data.insert(data.end(), chunk, chunk + n);
  bool failed = n < 0;
  gzclose(file);
  if (failed)
    throw std::runtime_error(fmt::format("{}: read error", path.string()));
  return data;
}

uint32_t bigEndian32(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

/// One IDX file, DIR/STEM or DIR/STEM.gz, as a u8 tensor of `dims` dimensions.
torch::Tensor readIdx(const std::string &dir, const std::string &stem, uint32_t magic,
                      size_t dims) {
  fs::path path = fs::path(dir) / stem;
  if (!fs::exists(path) && fs::exists(path.string() + ".gz"))
    path += ".gz";
  if (!fs::exists(path))
    throw std::runtime_error(fmt::format("{}: no such file (nor {}.gz)", path.string(), stem));
  std::vector<uint8_t> data = readFile(path);
  size_t header = 4 + 4 * dims;
  if (data.size() < header || bigEndian32(data.data()) != magic)
    throw std::runtime_error(fmt::format("{}: not an IDX file", path.string()));
  std::vector<int64_t> shape;
  size_t count = 1;
  for (size_t d = 0; d < dims; ++d) {
    shape.push_back(bigEndian32(data.data() + 4 + 4 * d));
    count *= size_t(shape.back());
  }
  if (data.size() != header + count)
    throw std::runtime_error(fmt::format("{}: size does not match its header", path.string()));
  torch::Tensor t = torch::empty(shape, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), data.data() + header, count);
  return t;
}

/// One split of the data set: u8 images [N, H, W] and i64 labels [N].
struct Split {
  torch::Tensor images, labels;
};

Split loadSplit(const std::string &dir, const std::string &prefix) {
  return {readIdx(dir, prefix + "-images-idx3-ubyte", 0x803, 3),
          readIdx(dir, prefix + "-labels-idx1-ubyte", 0x801, 1).to(torch::kLong)};
}

// ---- mnist ------------------------------------------------------------------------

/// torch_train.py's model: Linear(inputs, 10), or Linear-ReLU-Linear.
struct Model {
  std::vector<torch::Tensor> parameters;
  std::function<torch::Tensor(const torch::Tensor &)> forward;
};

Model makeModel(const std::string &kind, int64_t inputs, int64_t hidden) {
  if (kind == "linear") {
    torch::nn::Linear linear(inputs, 10);
    return {linear->parameters(),
            [linear](const torch::Tensor &x) mutable { return linear->forward(x); }};
  }
  // Built one statement at a time: the layers draw their initial weights from
  // the default generator in order, as Python's do (a constructor's arguments
  // have no evaluation order).
  torch::nn::Linear first(inputs, hidden);
  torch::nn::Linear second(hidden, 10);
  torch::nn::Sequential mlp(first, torch::nn::ReLU(), second);
  return {mlp->parameters(), [mlp](const torch::Tensor &x) mutable { return mlp->forward(x); }};
}

/// One epoch's batches of the index loader: the u8 images stay in one tensor,
/// a randperm from `generator` orders them, and each batch is gathered by
/// indexing and converted to float / 255.
template <class Fn>
void forEachIndexBatch(const Split &train, int64_t batch, at::Generator &generator, Fn &&fn) {
  int64_t n = train.labels.size(0);
  torch::Tensor flat = train.images.view({n, -1});
  torch::Tensor order = torch::randperm(n, generator);
  for (int64_t begin = 0; begin < n; begin += batch) {
    torch::Tensor idx = order.slice(0, begin, begin + batch);
    fn(flat.index({idx}).to(torch::kFloat).div_(255), train.labels.index({idx}));
  }
}

/// The fraction of `test` that `model` classifies right, in batches of 1000.
double accuracy(const Model &model, const Split &test, int64_t batch = 1000) {
  torch::NoGradGuard noGrad;
  int64_t n = test.labels.size(0);
  int64_t inputs = test.images.numel() / std::max<int64_t>(n, 1);
  int64_t right = 0;
  for (int64_t begin = 0; begin < n; begin += batch) {
    torch::Tensor images = test.images.slice(0, begin, begin + batch);
    torch::Tensor x = images.view({-1, inputs}).to(torch::kFloat).div_(255);
    torch::Tensor y = test.labels.slice(0, begin, begin + batch);
    right += (model.forward(x).argmax(1) == y).sum().item<int64_t>();
  }
  return double(right) / double(std::max<int64_t>(n, 1));
}

/// The model trained on DIR's train split for --epochs, tested on t10k.
JsonObject mnist(const Options &o) {
  Split train = loadSplit(o.data, "train");
  Split test = loadSplit(o.data, "t10k");
  int64_t inputs = train.images.size(1) * train.images.size(2);
  Model model = makeModel(o.model, inputs, o.hidden);
  torch::optim::SGD optimiser(model.parameters, torch::optim::SGDOptions(o.lr));
  torch::nn::CrossEntropyLoss criterion;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(uint64_t(o.seed));
  StepClock clock;
  std::vector<double> epochLosses;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    double total = 0.0;
    int64_t count = 0;
    auto step = [&](const torch::Tensor &x, const torch::Tensor &y) {
      optimiser.zero_grad();
      torch::Tensor out = model.forward(x);
      torch::Tensor loss = criterion(out, y);
      loss.backward();
      optimiser.step();
      total += loss.item<float>();
      ++count;
      clock.stepDone();
    };
    forEachIndexBatch(train, o.batch, generator, step);
    epochLosses.push_back(total / double(std::max<int64_t>(count, 1)));
  }
  JsonObject result;
  result.text("model", o.model);
  result.text("loader", o.loader);
  result.numbers("epoch_losses", epochLosses);
  clock.report(result);
  result.number("test_accuracy", accuracy(model, test));
  return result;
}

// ---- Command line -----------------------------------------------------------------

/// Thrown for a command line that parses but cannot run (argparse's exit 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void addOptions(CLI::App &app, Options &o) {
  app.add_option("program", o.program, "linreg or mnist")
      ->required()
      ->check(CLI::IsMember({"linreg", "mnist"}));
  app.add_option("--steps", o.steps, "linreg: training steps")->capture_default_str();
  app.add_option("--data", o.data, "mnist: directory of the IDX files (raw or .gz)");
  app.add_option("--model", o.model, "mnist: linear or mlp")
      ->capture_default_str()
      ->check(CLI::IsMember({"linear", "mlp"}));
  app.add_option("--loader", o.loader, "mnist: index (torch's DataLoader is torch_train.py's)")
      ->capture_default_str()
      ->check(CLI::IsMember({"dataloader", "index"}));
  app.add_option("--epochs", o.epochs, "mnist: epochs")->capture_default_str();
  app.add_option("--lr", o.lr, "SGD learning rate (default 0.01 linreg, 1e-4 mnist)");
  app.add_option("--batch", o.batch, "mnist: batch size")->capture_default_str();
  app.add_option("--hidden", o.hidden, "mnist mlp: hidden units")->capture_default_str();
  app.add_option("--threads", o.threads, "torch::set_num_threads")->capture_default_str();
  app.add_option("--seed", o.seed, "torch::manual_seed and the randperm generator's seed")
      ->capture_default_str();
}

/// The program's defaults that depend on the program, and the checks
/// argparse would make.
void finishOptions(Options &o) {
  if (std::isnan(o.lr))
    o.lr = o.program == "linreg" ? 0.01 : 1e-4;
  if (o.program != "mnist")
    return;
  if (o.data.empty())
    throw UsageError("mnist needs --data DIR");
  if (o.loader == "dataloader")
    throw UsageError("--loader dataloader is torch_train.py's only (torch's DataLoader is "
                     "Python); use --loader index");
  if (o.batch <= 0)
    throw UsageError("--batch must be positive");
}

JsonObject run(const Options &o) {
  torch::set_num_threads(o.threads);
  torch::manual_seed(uint64_t(o.seed));
  JsonObject result = o.program == "linreg" ? linreg(o) : mnist(o);
  result.number("peak_rss_mb", peakRssMb());
  result.text("torch", kTorchVersion);
  result.integer("threads", torch::get_num_threads());
  return result;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"libtorch's side of kiln-bench-train (the C++ peer of bench/torch_train.py)",
               "kiln-bench-libtorch"};
  Options o;
  addOptions(app, o);
  try {
    app.parse(argc, argv);
    finishOptions(o);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    app.exit(e);
    return 2;
  } catch (const UsageError &e) {
    std::fprintf(stderr, "kiln-bench-libtorch: %s\n", e.what());
    return 2;
  }
  try {
    std::printf("%s\n", run(o).str().c_str());
    return 0;
  } catch (const c10::Error &e) {
    std::fprintf(stderr, "kiln-bench-libtorch: %s\n", e.what_without_backtrace());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "kiln-bench-libtorch: %s\n", e.what());
  }
  return 1;
}
