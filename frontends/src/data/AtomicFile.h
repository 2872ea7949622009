//===- AtomicFile.h - Replace a file atomically and durably -----*- C++ -*-===//
//
// Internal to frontends/: writeFileAtomically() writes a temporary file next
// to the target, fsyncs it, renames it over the target and fsyncs the
// directory, so that a crash at any point leaves the old file or the new one.
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
/// is unchanged. I/O failures are Error(Io) naming the file.
void writeFileAtomically(const std::filesystem::path &path,
                         const std::function<void(const AtomicWriter &)> &produce);

} // namespace kiln::detail
