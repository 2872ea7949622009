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

} // namespace kiln::ir
