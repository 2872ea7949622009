//===- ObjectLoader.h - Kernel objects loaded without LLVM (internal) -*- C++ -*-===//
//
// Loads the relocatable ELF objects that kiln's code generator makes (x86-64,
// small code model, PIC) into executable memory of their own, so that a
// kernel found in the disk cache runs without creating any LLVM object: no
// target initialisation, no ORC session, no JIT linker (~1.5 ms of a
// process's first step, most of it first touches of libLLVM's code). Pure
// C++ and the C library, so it can be tested and fuzzed on its own.
//
// What it accepts is what LLVM emits for kiln's kernels: allocatable
// PROGBITS and NOBITS sections, RELA relocations of the kinds that PIC code
// of the small code model uses (absolute 64-bit, PC-relative 32/64-bit,
// PLT calls, GOT loads), and external symbols that the caller resolves
// (libm, libmvec). Anything else -- another machine, a 32-bit absolute
// relocation, a common symbol, a value out of range -- is an Error(Format)
// that names it, never a guess: a kernel linked wrongly computes wrong
// numbers silently.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::runtime::jit {

/// The address of an external symbol an object refers to, or nullptr when
/// there is none.
using SymbolResolver = std::function<void *(const std::string &name)>;

/// glibc's libmvec (the vector exp/log/tanh the loop vectorizer calls),
/// opened once per process; null where it is missing.
void *libmvec();
/// The resolver kernels are loaded with: libmvec's symbols, then the
/// process's (libm, libc).
void *kernelSymbol(const std::string &name);

/// One object's code and data, mapped until the LoadedObject is destroyed.
class LoadedObject {
public:
  /// Maps, relocates and protects `elf` (code read+execute, constants
  /// read-only, data read+write). Throws Error(Format) naming what is
  /// malformed or not supported, and Error(Resource) when memory cannot be
  /// mapped; nothing stays mapped then.
  static std::unique_ptr<LoadedObject> load(std::string_view elf, const SymbolResolver &resolve);

  ~LoadedObject();
  LoadedObject(const LoadedObject &) = delete;
  LoadedObject &operator=(const LoadedObject &) = delete;

  /// The address of the global symbol `name` that the object defines, or
  /// nullptr.
  void *symbol(std::string_view name) const;
  /// Bytes mapped for the object (its sections, stubs and GOT, page-rounded).
  size_t mappedBytes() const { return bytes_; }

private:
  LoadedObject() = default;
  friend class ObjectLinker;

  std::byte *base_ = nullptr;
  size_t bytes_ = 0;
  std::vector<std::pair<std::string, void *>> symbols_;
};

} // namespace kiln::runtime::jit
