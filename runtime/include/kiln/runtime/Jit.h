//===- Jit.h - The JIT for fused loop kernels -------------------*- C++ -*-===//
//
// Compiles a "loop kernel" -- a small ir::Function of elementwise ops -- to
// native code with LLVM 19, loaded by kiln's own object loader (no LLVM runs
// for a kernel found in the disk cache). No LLVM header is included here (pimpl):
// LLVM's headers are slow to compile and stay inside runtime/jit/.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln::runtime {

/// Every loop kernel has this signature. `buffers` holds one pointer per
/// kernel input, then one per output, in order. The kernel computes the rows
/// [begin, end) of its iteration space (see LoopKernel::rows), so callers can
/// split that range across threads. Buffers are 64-byte aligned (as HostTensor
/// storage is) and must not overlap: the kernel treats them as noalias.
using KernelFn = void (*)(void *const *buffers, int64_t begin, int64_t end);

/// A compiled loop or reduction kernel.
struct LoopKernel {
  KernelFn fn = nullptr;
  /// Name of the kernel symbol: the requested name and a short hash of the
  /// body, e.g. "fused_add_mul_tanh_1a2b3c4d".
  std::string name;
  /// The iteration space is rows x cols elements (outputs are row-major).
  /// Row ranges are independent. A reduction kernel whose partial results
  /// meet across rows has rows = 1: the call [0, 1) does all the work.
  int64_t rows = 0, cols = 0;
  /// Bytes of 64-byte aligned scratch memory the kernel needs, passed as one
  /// more pointer after the outputs in `buffers` when non-zero (a reduction
  /// accumulates its partial results there in double precision).
  int64_t scratchBytes = 0;
  /// Keeps the code loaded: the JIT unloads a kernel (unmaps its code)
  /// when the last copy of its LoopKernel is gone, so evicted
  /// programs do not leak their kernels. Null for a default LoopKernel.
  std::shared_ptr<const void> lifetime;
};

/// What the JIT accepts as a loop kernel body:
///  - parameters: the kernel inputs, any shapes that broadcast (numpy rules)
///    to the iteration shape S;
///  - results: the outputs, all of shape S (their dtypes may differ);
///  - nodes: ops whose OpDef has a scalar expression (fusion class
///    Elementwise or Broadcast), and constants that are splats.
/// Throws Error(Verify) naming the offending node otherwise.
void checkLoopKernelBody(const ir::Function &body);

/// Whether the JIT computes reduction `op` on `dtype`: a fold (an op with a
/// ReductionDef: reduce_sum, reduce_mean, reduce_max) of f32 or f64,
/// accumulated in double.
bool jitReduces(ir::OpKind op, ir::DType dtype);

/// What the JIT accepts as a reduction kernel body: the nodes of a loop
/// kernel over the reduction's input shape S (parameters broadcast to S,
/// elementwise ops, splat constants), then one reduction that jitReduces(),
/// over any axes, whose result is the body's only result. Throws
/// Error(Verify) naming the offending node otherwise.
void checkReductionKernelBody(const ir::Function &body);

struct JitOptions {
  /// Directory of the on-disk object cache; empty = $KILN_CACHE_DIR, or
  /// ~/.cache/kiln when that is unset. "off" disables the disk cache.
  std::string cacheDir;
};

struct JitStats {
  /// Kernels compiled by LLVM (cache misses).
  int64_t compiled = 0;
  /// Kernels loaded from the on-disk object cache.
  int64_t diskHits = 0;
  /// Kernels found already loaded in this process.
  int64_t memoryHits = 0;
  /// LLVM target machines created (kept for reuse by later compiles): a
  /// JIT whose kernels all come from the disk cache creates none.
  int64_t targetMachines = 0;
  /// Kernels loaded now, and unloaded since the start (no LoopKernel left).
  int64_t loaded = 0;
  int64_t unloaded = 0;
};

/// The process-wide JIT: host CPU features, -O3 pipeline,
/// vectorised (AVX2/AVX-512 where present, with libmvec for exp/log/tanh).
/// Thread-safe.
class Jit {
public:
  /// The process-wide JIT; its options come from the environment.
  static Jit &instance();
  /// A JIT of its own: separate loaded kernels, in-memory cache and stats, sharing only
  /// the disk cache directory; its kernels live as long as it does. Tests use
  /// one to start with a cold memory cache.
  explicit Jit(JitOptions options);
  ~Jit();
  Jit(const Jit &) = delete;
  Jit &operator=(const Jit &) = delete;

  /// Compiles (or finds in the memory or disk cache, keyed by the body's
  /// structural hash + CPU + kiln version) the kernel of `kind` for `body`:
  /// a loop kernel (checkLoopKernelBody) or a reduction kernel
  /// (checkReductionKernelBody), as the fused node's kind says (see
  /// jitKernelKind in Program.h). `name` names the symbol ("fused_add_mul");
  /// a unique suffix is added. An elementwise body of exact arithmetic over
  /// splats and values of one shape gets the kernel that serves every length
  /// of it (rows = its elements, cols = 1; IterationSpace.h).
  LoopKernel compile(const ir::Function &body, const std::string &name,
                     ir::FusionKind kind = ir::FusionKind::Loop);

  /// Whether compile() of `body` would find its kernel without generating
  /// code: loaded in this JIT, or stored in the disk cache. A hint for
  /// scheduling compiles (a stored object may still fail its checks).
  bool hasCode(const ir::Function &body, const std::string &name) const;

  /// The optimised LLVM IR text of the kernel, for `kiln compile --emit=llvm`.
  std::string emitLLVM(const ir::Function &body, const std::string &name,
                       ir::FusionKind kind = ir::FusionKind::Loop);
  /// Host assembly text, for `--emit=asm`.
  std::string emitAssembly(const ir::Function &body, const std::string &name,
                           ir::FusionKind kind = ir::FusionKind::Loop);
  /// An ELF relocatable object, for `--emit=obj`.
  std::vector<char> emitObject(const ir::Function &body, const std::string &name,
                               ir::FusionKind kind = ir::FusionKind::Loop);

  JitStats stats() const;
  /// The host CPU name and features string LLVM targets, e.g. "znver3 +avx2,...".
  std::string hostTarget() const;

private:
  struct Impl;
  std::shared_ptr<Impl> impl_; // kernels' lifetimes refer to it weakly
};

} // namespace kiln::runtime
