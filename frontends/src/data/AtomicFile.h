//===- AtomicFile.h - Replace a file atomically and durably -----*- C++ -*-===//
//
// Internal to frontends/: writeFileAtomically() writes a temporary file next
// to the target, fsyncs it, renames it over the target and fsyncs the
// directory, so that a crash at any point leaves the old file or the new one.
// It refuses targets that are not regular files (devices, FIFOs, directories)
// or that have other hard links, writes through symbolic links to the real
// file, keeps an existing file's permissions, and removes temporary files
// that killed saves of the same target left behind.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <span>

namespace kiln::detail {

/// Appends bytes to the temporary file; throws Error(Io) on failure.
using AtomicWriter = std::function<void(std::span<const std::byte>)>;

/// Calls `produce` with a writer into a temporary file in the directory of
/// `path`, then makes the temporary file durable and renames it to `path`.
/// If `produce` or any step throws, the temporary file is removed and `path`
/// is unchanged. I/O failures are Error(Io) naming `path` as given.
void writeFileAtomically(const std::filesystem::path &path,
                         const std::function<void(const AtomicWriter &)> &produce);

} // namespace kiln::detail
