//===- ObjectCache.h - Compiled kernels on disk (internal) ------*- C++ -*-===//
//
// Objects are stored under a 64-bit key (a hash of the kernel body, symbol,
// host CPU and features, kiln and LLVM versions) as <dir>/<key>.kobj: a small
// header with the key, size and a checksum of the object bytes, then the
// ELF object. Files are written to a temporary name and renamed, so readers
// never see half a file; a damaged entry fails its checks, reads as a miss,
// and is overwritten by the next compilation.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <llvm/ExecutionEngine/ObjectCache.h>
#include <llvm/Support/MemoryBuffer.h>

#include <cstdint>
#include <memory>
#include <string>

namespace kiln::runtime::jit {

/// The cache directory: `option` if set, else $KILN_CACHE_DIR, else
/// $HOME/.cache/kiln; "" when disabled ("off", or no HOME).
std::string resolveCacheDir(const std::string &option);

class DiskObjectCache final : public llvm::ObjectCache {
public:
  /// Caches in `dir`, created if needed; "" disables the cache, as does a
  /// directory that cannot be created.
  explicit DiskObjectCache(std::string dir);

  bool enabled() const { return !dir_.empty(); }
  const std::string &dir() const { return dir_; }
  std::string path(uint64_t key) const;

  /// The object stored under `key`, or null when absent or damaged.
  std::unique_ptr<llvm::MemoryBuffer> load(uint64_t key) const;
  /// Stores `object` under `key`; failures (disk full, permissions) are
  /// ignored: the cache is an optimisation.
  void store(uint64_t key, llvm::StringRef object) const;
  /// Deletes the entry of `key`, e.g. one that passed its checks but did not link.
  void remove(uint64_t key) const;

  /// The module identifier that makes the llvm::ObjectCache interface file
  /// a module's object under `key`.
  static std::string moduleIdentifier(uint64_t key);

  // llvm::ObjectCache, for the compilers of ORC: keyed by module identifier.
  void notifyObjectCompiled(const llvm::Module *m, llvm::MemoryBufferRef object) override;
  std::unique_ptr<llvm::MemoryBuffer> getObject(const llvm::Module *m) override;

private:
  std::string dir_;
};

} // namespace kiln::runtime::jit
