//===- JitTestSupport.h - Running JIT kernels against the oracle -*- C++ -*-===//
//
// Helpers shared by the Jit*Test.cpp files: random inputs of every dtype
// (with NaN, infinities and extreme integers mixed in), running a compiled
// kernel on HostTensors, and comparing its outputs with the interpreter's.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"
#include "kiln/ir/HostTensor.h"
#include "kiln/runtime/Interpreter.h"
#include "kiln/runtime/Jit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace kiln::jittest {

/// A JIT without a disk cache, shared by the tests that are not about caching.
inline runtime::Jit &uncachedJit() {
  static runtime::Jit jit(runtime::JitOptions{"off"});
  return jit;
}

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
public:
  TempDir() {
    std::string base = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
    std::string pattern = base + "/kiln-jit-test-XXXXXX";
    path_ = ::mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

/// Random elements of `type`: floats in [lo, hi] (and now and then NaN, +-inf,
/// +-0 or a huge value), i64 in [-50, 50] (and now and then its extremes or
/// +-2^40), any u8, any bool.
inline ir::HostTensor randomTensor(const ir::TensorType &type, std::mt19937 &rng, double lo = -3,
                                   double hi = 3) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const double floatSpecials[] = {std::nan(""), kInf, -kInf, 0.0, -0.0, 1e30, -1e30};
  const double intSpecials[] = {
      0, 1, -1, 9223372036854775807.0, -9223372036854775808.0, 1099511627776.0, -1099511627776.0};
  ir::HostTensor t(type);
  std::uniform_real_distribution<double> uniform(lo, hi);
  std::uniform_int_distribution<int> pick(0, 15), special(0, 6), small(-50, 50), byte(0, 255);
  for (int64_t i = 0; i < t.numel(); ++i) {
    bool rare = pick(rng) == 0;
    switch (type.dtype) {
    case ir::DType::F32:
    case ir::DType::F64:
      t.set(i, rare ? floatSpecials[special(rng)] : uniform(rng));
      break;
    case ir::DType::I64:
      t.set(i, rare ? intSpecials[special(rng)] : small(rng));
      if (t.get(i) == intSpecials[3]) // set() saturated 2^63: store INT64_MAX exactly
        t.data<int64_t>()[i] = INT64_MAX;
      break;
    case ir::DType::U8:
      t.set(i, byte(rng));
      break;
    case ir::DType::Bool:
      t.set(i, byte(rng) % 2);
      break;
    }
  }
  return t;
}

/// Runs `kernel` (compiled from `body`) on `inputs`, calling it on `pieces`
/// consecutive row ranges, as a thread pool would.
inline std::vector<ir::HostTensor> runKernel(const runtime::LoopKernel &kernel,
                                             const ir::Function &body,
                                             std::span<const ir::HostTensor> inputs,
                                             int64_t pieces = 1) {
  std::vector<ir::HostTensor> outputs;
  std::vector<void *> buffers;
  for (const ir::HostTensor &in : inputs)
    buffers.push_back(const_cast<void *>(in.raw()));
  for (ir::ValueId r : body.results()) {
    outputs.emplace_back(body.type(r));
    buffers.push_back(outputs.back().raw());
  }
  ir::HostTensor scratch({ir::DType::F64, ir::Shape{(kernel.scratchBytes + 7) / 8}});
  if (kernel.scratchBytes > 0)
    buffers.push_back(scratch.raw());
  for (int64_t p = 0; p < pieces; ++p)
    kernel.fn(buffers.data(), kernel.rows * p / pieces, kernel.rows * (p + 1) / pieces);
  return outputs;
}

/// Relative 1e-5 / absolute 1e-6 for f32, 1e-12 / 1e-14 for f64, exact
/// otherwise; NaN matches NaN.
inline bool close(double got, double want, ir::DType t) {
  if (got == want || (std::isnan(got) && std::isnan(want)))
    return true;
  if (!ir::isFloat(t) || std::isnan(got) || std::isnan(want))
    return false;
  double rel = t == ir::DType::F32 ? 1e-5 : 1e-12, abs = t == ir::DType::F32 ? 1e-6 : 1e-14;
  return std::fabs(got - want) <= abs + rel * std::fabs(want);
}

/// Checks that `got` are the interpreter's results of `body` on `inputs`.
inline ::testing::AssertionResult matchesInterpreter(const ir::Function &body,
                                                     std::span<const ir::HostTensor> inputs,
                                                     const std::vector<ir::HostTensor> &got) {
  std::vector<ir::HostTensor> want = runtime::interpret(body, inputs);
  for (size_t r = 0; r < want.size(); ++r) {
    if (got[r].type() != want[r].type())
      return ::testing::AssertionFailure() << "result " << r << " is " << got[r].type().str()
                                           << ", want " << want[r].type().str();
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < want[r].numel(); ++i)
      if (!close(got[r].get(i), want[r].get(i), want[r].dtype()) && bad++ == 0)
        first = i;
    if (bad) {
      auto failure = ::testing::AssertionFailure();
      failure << bad << " of " << want[r].numel() << " elements of result " << r << " ("
              << want[r].type().str() << ") differ; first at " << first << ": jit "
              << got[r].get(first) << ", interpreter " << want[r].get(first) << "; inputs:";
      for (const ir::HostTensor &in : inputs)
        if (in.numel() > 0)
          failure << " " << in.get(in.numel() == 1 ? 0 : first % in.numel());
      return failure << " (operand elements approximate for broadcasts)";
    }
  }
  return ::testing::AssertionSuccess();
}

/// Compiles `body`, runs it on random inputs and compares with the interpreter.
inline ::testing::AssertionResult jitMatchesInterpreter(const ir::Function &body, unsigned seed,
                                                        double lo = -3, double hi = 3) {
  std::mt19937 rng(seed);
  std::vector<ir::HostTensor> inputs;
  for (ir::ValueId p : body.params())
    inputs.push_back(randomTensor(body.type(p), rng, lo, hi));
  runtime::LoopKernel kernel = uncachedJit().compile(body, body.name());
  return matchesInterpreter(body, inputs, runKernel(kernel, body, inputs, 3));
}

} // namespace kiln::jittest
