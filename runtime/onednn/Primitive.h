//===- Primitive.h - oneDNN plumbing shared by kiln's primitives -*- C++ -*-===//
//
// Private to runtime/onednn: the CPU engine, per-thread streams, the OpenMP
// thread limit for small problems, and BoundPrimitive, a oneDNN primitive
// with its argument memory objects ready to be pointed at the caller's
// buffers. The public header kiln/runtime/OneDnn.h includes none of this.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <cstdint>
#include <mutex>
#include <span>

namespace kiln::runtime::onednn::detail {

/// Work (multiply-adds, or elements for softmax) up to which a primitive is
/// created and run with one OpenMP thread: below it, forking the thread team
/// costs more than it saves (measured 1-3 us per parallel region).
constexpr int64_t kSerialWork = int64_t(1) << 18;

/// Output elements up to which a matmul's bias/activation/sum epilogue runs on
/// one thread even when the product itself runs on all of them.
constexpr int64_t kSerialEpilogue = int64_t(1) << 14;

/// The one CPU engine of the process.
const ::dnnl::engine &cpuEngine();

/// The calling thread's CPU stream.
::dnnl::stream &threadStream();

/// Counts a primitive creation (see primitivesCreated()).
void countCreation();

/// While alive, and when `serial` is set, limits OpenMP (and so oneDNN) to one
/// thread on the calling thread. oneDNN reads the limit when it creates a
/// primitive (for the epilogue's partitioning) and when it runs one (for the
/// GEMM), so both are done inside a scope. The limit is per thread: other
/// threads keep theirs.
class SerialScope {
public:
  explicit SerialScope(bool serial);
  ~SerialScope();
  SerialScope(const SerialScope &) = delete;
  SerialScope &operator=(const SerialScope &) = delete;

private:
  int saved_ = 0; ///< thread limit to restore, or 0 when nothing was changed
};

/// One argument of a primitive: its DNNL_ARG_* index and memory descriptor.
struct ArgSpec {
  int index;
  ::dnnl::memory::desc md;
};

/// A oneDNN primitive plus one memory object per argument, created once.
/// run() points the memory objects at the caller's buffers and executes:
/// this costs about 0.1 us, against about 2 us for fresh memory objects. A
/// run() that finds the memory objects in use by another thread builds its own
/// rather than wait, so concurrent runs never block each other.
class BoundPrimitive {
public:
  static constexpr size_t kMaxArgs = 4;

  /// `serial`: execute with one OpenMP thread (see SerialScope).
  BoundPrimitive(::dnnl::primitive primitive, std::span<const ArgSpec> args, bool serial);

  /// Executes with buffers[i] as argument i, in the order given to the
  /// constructor. Throws ::dnnl::error.
  void run(std::span<void *const> buffers) const;

private:
  void runWithFreshMemory(std::span<void *const> buffers) const;
  void execute(const dnnl_exec_arg_t *args) const;

  ::dnnl::primitive primitive_;
  std::array<::dnnl::memory, kMaxArgs> memory_;
  std::array<dnnl_exec_arg_t, kMaxArgs> args_{};
  size_t numArgs_ = 0;
  bool serial_ = false;
  /// Held while memory_ is bound to one caller's buffers.
  mutable std::mutex bound_;
};

} // namespace kiln::runtime::onednn::detail
