//===- ReadFile.h - Read a named input without hanging ----------*- C++ -*-===//
#pragma once

#include <cstddef>
#include <string>

namespace kiln::ir {

/// The contents of the file at `path` ("-": standard input), at most
/// `maxBytes + 1` bytes, so that the caller can tell "at the limit" from
/// "over it". The file is opened without blocking: a FIFO that nobody writes
/// reads as empty instead of hanging in open(), while pipes and process
/// substitutions (`<(...)`) read as usual; a device such as /dev/zero stops at
/// the bound. A directory or an unreadable file is Error(Io):
/// "cannot open|read 'PATH': REASON" ('<stdin>' for "-").
std::string readFileBounded(const std::string &path, size_t maxBytes);

/// Appends what descriptor `fd` gives to `out` until end of file or until
/// `out` holds `limit` bytes, retrying interrupted reads. Returns 0, or the
/// errno of a read that failed.
int readUpTo(int fd, size_t limit, std::string &out);

} // namespace kiln::ir
