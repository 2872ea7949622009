//===- ObjectCache.h - Compiled kernels on disk (internal) ------*- C++ -*-===//
//
// An object is stored under its identity: the exact structure of the kernel
// body, its symbol, the host CPU and features, kiln's and LLVM's versions.
// The file <dir>/<hash of the identity>.kobj holds a header (magic, sizes, a
// checksum of the object), the whole identity, then the ELF object; a load
// compares the identity byte for byte, so that two bodies whose hashes
// collide can never share an object. Files are written to a temporary name
// and renamed, so readers never see half a file. Anything else in the
// directory under that name (damaged, another identity, a FIFO, a device, a
// symbolic link, an oversized file) reads as a miss without blocking, and is
// replaced by the next compilation.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <llvm/Support/MemoryBuffer.h>

#include <cstdint>
#include <memory>
#include <string>

namespace kiln::runtime::jit {

/// The cache directory: `option` if set, else $KILN_CACHE_DIR, else
/// $HOME/.cache/kiln; "" when disabled ("off", or no HOME).
std::string resolveCacheDir(const std::string &option);

class DiskObjectCache {
public:
  /// Caches in `dir`, created if needed; "" disables the cache, as does a
  /// directory that cannot be created.
  explicit DiskObjectCache(std::string dir);

  bool enabled() const { return !dir_.empty(); }
  const std::string &dir() const { return dir_; }
  /// The file that holds (or would hold) the object of `identity`.
  std::string path(const std::string &identity) const;

  /// The object stored for exactly `identity`, or null when absent, damaged,
  /// stored for another identity, or not a regular file of sane size.
  std::unique_ptr<llvm::MemoryBuffer> load(const std::string &identity) const;
  /// Stores `object` for `identity`; failures (disk full, permissions) are
  /// ignored: the cache is an optimisation.
  void store(const std::string &identity, llvm::StringRef object) const;
  /// Deletes the entry of `identity`, e.g. one that passed its checks but did not link.
  void remove(const std::string &identity) const;

private:
  std::string dir_;
};

} // namespace kiln::runtime::jit
