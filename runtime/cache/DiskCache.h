//===- DiskCache.h - Entries kept on disk (internal) --------*- C++ -*-===//
//
// A cache of byte strings, each stored under its identity: everything that
// decides its contents (for a kernel: the exact structure of its body, its
// symbol, the host CPU and features, kiln's and LLVM's versions). The file
// <dir>/<hash of the identity><suffix> holds a header (magic, sizes, a
// checksum of the contents), the whole identity, then the contents; a load
// compares the identity byte for byte, so that two identities whose hashes
// collide can never share an entry. Files are written to a temporary name
// and renamed, so readers never see half a file. Anything else in the
// directory under that name (damaged, another identity, a FIFO, a device, a
// symbolic link, an oversized file) reads as a miss without blocking, and is
// replaced by the next store.
//
// Users: the JIT's kernel objects (runtime/jit, ".kobj") and the oneDNN
// matmul probe's verdicts (runtime/onednn, ".kprobe"). No LLVM or oneDNN
// type appears here.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiln::runtime::cache {

/// The cache directory: `option` if set, else $KILN_CACHE_DIR, else
/// $HOME/.cache/kiln; "" when disabled ("off", or no HOME).
std::string resolveCacheDir(const std::string &option);

class DiskCache {
public:
  /// Caches in `dir`, created if needed, in files named `<hash><suffix>`;
  /// "" disables the cache, as does a directory that cannot be created.
  DiskCache(std::string dir, std::string suffix);

  bool enabled() const { return !dir_.empty(); }
  const std::string &dir() const { return dir_; }
  /// The file that holds (or would hold) the entry of `identity`.
  std::string path(std::string_view identity) const;

  /// The contents stored for exactly `identity`, or nothing when absent,
  /// damaged, stored for another identity, or not a regular file of sane size.
  std::optional<std::string> load(std::string_view identity) const;
  /// Stores `contents` for `identity`; failures (disk full, permissions) are
  /// ignored: the cache is an optimisation.
  void store(std::string_view identity, std::string_view contents) const;
  /// Deletes the entry of `identity`, e.g. one that passed its checks but did not link.
  void remove(std::string_view identity) const;

private:
  std::string dir_, suffix_;
};

} // namespace kiln::runtime::cache
