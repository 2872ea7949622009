//===- Primitive.h - oneDNN plumbing shared by kiln's primitives -*- C++ -*-===//
//
// Private to runtime/onednn: the CPU engine, per-thread streams, the OpenMP
// thread limit, and BoundPrimitive, a oneDNN primitive with its argument
// memory objects ready to be pointed at the caller's buffers. The public
// header kiln/runtime/OneDnn.h includes none of this.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace kiln::runtime::onednn::detail {

/// The one CPU engine of the process.
const ::dnnl::engine &cpuEngine();

/// The calling thread's CPU stream.
::dnnl::stream &threadStream();

/// Counts a primitive creation (see primitivesCreated()).
void countCreation();

/// While alive, limits OpenMP (and so oneDNN) to one thread on the calling
/// thread: kiln shares work out on its own pool (runtime/parallel), whose
/// workers sleep when idle, instead of OpenMP teams, which spin. oneDNN reads
/// the limit when it creates a primitive (for the epilogue's partitioning)
/// and when it runs one (for the GEMM), so both are done inside a scope. The
/// limit is per thread: other threads keep theirs.
class SerialScope {
public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope &) = delete;
  SerialScope &operator=(const SerialScope &) = delete;

private:
  int saved_ = 0; ///< thread limit to restore, or 0 when nothing was changed
};

/// Attributes every kiln primitive starts from: scratchpad_mode::user, so
/// that each BoundPrimitive binding brings a scratchpad of its own. With
/// oneDNN's default (library) mode a primitive owns one scratchpad, and
/// brgemm matmuls run at once on several threads (the tiles of one product,
/// or two threads training the same shapes) computed wrong results.
::dnnl::primitive_attr primitiveAttr();

/// One argument of a primitive: its DNNL_ARG_* index and memory descriptor.
struct ArgSpec {
  int index;
  ::dnnl::memory::desc md;
};

/// A oneDNN primitive plus memory objects for its arguments, created once.
/// run() points a set of them at the caller's buffers and executes (one
/// OpenMP thread, see SerialScope): this costs about 0.1 us, against about
/// 2 us for fresh memory objects. There is a set per thread that may run the
/// primitive at once (the pool's tiles of one matmul run concurrently); a
/// run() that finds every set in use builds its own rather than wait. A
/// primitive created with primitiveAttr() gets a scratchpad with each set.
class BoundPrimitive {
public:
  static constexpr size_t kMaxArgs = 4;

  BoundPrimitive(::dnnl::primitive primitive, std::span<const ArgSpec> args);

  /// Executes with buffers[i] as argument i, in the order given to the
  /// constructor. Throws ::dnnl::error.
  void run(std::span<void *const> buffers) const;
  /// The implementation oneDNN chose, as its verbose mode names it
  /// ("brg:avx512_core", "gemm:jit").
  std::string implementation() const;

private:
  /// Memory for a primitive's scratchpad (64-byte aligned), with its memory object.
  struct Scratchpad {
    std::unique_ptr<void, void (*)(void *)> bytes{nullptr, std::free};
    ::dnnl::memory memory;
  };
  /// One set of memory objects, held while bound to one caller's buffers.
  struct Binding {
    std::mutex bound;
    std::array<::dnnl::memory, kMaxArgs> memory;
    Scratchpad scratchpad;
    std::array<dnnl_exec_arg_t, kMaxArgs + 1> args{};
  };

  /// A scratchpad for one run at a time, or none when the primitive needs none.
  Scratchpad newScratchpad() const;
  /// Gives `b` its scratchpad on its first run (most sets are never used).
  void equip(Binding &b) const;
  void runWithFreshMemory(std::span<void *const> buffers) const;
  void execute(const dnnl_exec_arg_t *args) const;

  ::dnnl::primitive primitive_;
  std::array<int, kMaxArgs> argIndex_{};
  std::array<::dnnl::memory::desc, kMaxArgs> argDesc_;
  ::dnnl::memory::desc scratchpadDesc_;
  size_t numArgs_ = 0;
  /// numArgs_, plus the scratchpad when the primitive has one.
  int numExecArgs_ = 0;
  std::vector<std::unique_ptr<Binding>> bindings_;
};

} // namespace kiln::runtime::onednn::detail
