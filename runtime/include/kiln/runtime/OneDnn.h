//===- OneDnn.h - oneDNN primitives for matmul-class ops --------*- C++ -*-===//
//
// Cached oneDNN 2.6 primitives, created once per shape/attribute set and
// executed on raw row-major f32 buffers. No oneDNN header is included here.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/OpDef.h"

#include <cstdint>
#include <future>
#include <memory>
#include <optional>

namespace kiln::runtime::onednn {

/// Elementwise epilogue applied to the matmul result (oneDNN post-op).
enum class Activation { None, Relu, Sigmoid, Tanh };
/// The post-op computing kiln's `op`, if oneDNN has one.
std::optional<Activation> activationFor(ir::OpKind op);
/// relu as PyTorch and kiln's own kernels compute it: a negative becomes +0,
/// NaN and -0 pass (oneDNN's relu gives 0 for NaN: Matmul applies this one).
inline float relu(float v) { return v < 0 ? 0.0f : v; }

/// C[m,n] = act(op(A)[m,k] * op(B)[k,n] + bias[n]) (+ beta * C_old when
/// accumulate), op = optional transpose. All f32, row-major, dense; C must
/// not overlap A, B or the bias.
struct MatmulDesc {
  int64_t m = 0, k = 0, n = 0;
  bool transposeA = false;
  bool transposeB = false;
  bool bias = false;
  Activation activation = Activation::None;
  /// Adds the product to what C holds (oneDNN sum post-op), scaled by beta.
  bool accumulate = false;
  float beta = 1.0f;

  bool operator==(const MatmulDesc &) const = default;
};

class Matmul {
public:
  /// The cached primitive for `desc` (created on first use; thread-safe).
  /// Descs that differ only in beta without accumulate share one primitive,
  /// whose desc() has beta = 1. Throws Error(Usage) on a negative dimension,
  /// Error(Runtime) when oneDNN cannot create the primitive.
  static std::shared_ptr<Matmul> get(const MatmulDesc &desc);
  ~Matmul();

  /// Runs on raw pointers. `bias` may be null when !desc.bias. Concurrent runs
  /// of one Matmul (on different C buffers) do not block each other. Throws
  /// Error(Usage) on a null buffer that is needed.
  void run(const float *a, const float *b, const float *bias, float *c) const;
  const MatmulDesc &desc() const { return desc_; }
  /// Tasks run() cuts the product into (blocks of C's rows or columns, each
  /// one single-threaded oneDNN call; 1 for a small product). They run on as
  /// many threads as their measured time pays for, up to maxThreads(); the
  /// results do not depend on how many.
  int64_t tiles() const;

private:
  explicit Matmul(const MatmulDesc &desc);
  MatmulDesc desc_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// oneDNN's one-time setup for f32 matmuls (~16 ms on the 2-core machine:
/// its first execution generates its gemm kernels), started on a thread of
/// its own for the first caller in the process, so that it overlaps the work
/// the caller does until it waits for the returned future (Program::compile
/// waits before it returns: no thread outlives it). An invalid future for
/// later callers, and under maxThreads() == 1 (the first run pays then).
std::future<void> setUpMatmulsAsync();

/// (log-)softmax along the last axis of a row-major [rows, cols] f32 buffer.
class Softmax {
public:
  /// The cached primitive (thread-safe); errors as for Matmul::get.
  static std::shared_ptr<Softmax> get(int64_t rows, int64_t cols, bool log);
  ~Softmax();
  /// `src` may equal `dst` (in place).
  void run(const float *src, float *dst) const;

private:
  Softmax(int64_t rows, int64_t cols, bool log);
  int64_t rows_, cols_;
  bool log_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Number of primitives created so far (cache misses), for tests.
int64_t primitivesCreated();

/// Number of whole-vs-tiles probes run so far in this process (see
/// Matmul::tiles()), for tests: a matmul whose verdict is in the disk cache
/// ($KILN_CACHE_DIR) runs none.
int64_t matmulProbesRun();

} // namespace kiln::runtime::onednn
