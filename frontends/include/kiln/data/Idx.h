//===- Idx.h - Reading and writing IDX files (MNIST's format) ---*- C++ -*-===//
//
// An IDX file is a 4-byte magic (0, 0, type code, rank), `rank` big-endian
// u32 dimensions, then the elements in row-major order, big-endian. Files may
// be gzip-compressed (detected from the content, not the name).
//
// Reading never trusts the header: the element count is checked against a
// limit and against the bytes the file actually holds (for gzip, the stream
// is inflated incrementally up to the declared size plus one byte) before any
// large allocation. Every problem is a kiln::Error naming the file and the
// byte offset.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/HostTensor.h"

#include <cstdint>
#include <filesystem>

namespace kiln::data {

/// Limits on what an IDX file may declare.
struct IdxLimits {
  /// Largest rank accepted (MNIST uses 1 and 3).
  uint32_t maxRank = 8;
  /// Largest payload in bytes, in the file and as a tensor (i8, i16 and i32
  /// grow to i64); 0 means ir::maxTensorBytes().
  int64_t maxBytes = 0;
};

/// Reads an IDX file, raw or gzip-compressed. Element types map to kiln
/// dtypes: u8 -> u8 (images stay u8), i8/i16/i32 -> i64, f32 -> f32,
/// f64 -> f64. Throws Error(Io) when the file cannot be read, Error(Format)
/// for a malformed or truncated file or trailing bytes, Error(Resource) past
/// the limits; `where()` is "PATH @ byte N".
ir::HostTensor readIdx(const std::filesystem::path &path, const IdxLimits &limits = {});

/// Writes `t` as an IDX file (u8 as u8, i64 as i32, f32, f64; bool is
/// rejected), gzip-compressed when `gzip`. Throws Error(Usage) for a value
/// that IDX cannot hold, Error(Io) when the file cannot be written. For tests
/// and data preparation; the file is replaced atomically.
void writeIdx(const std::filesystem::path &path, const ir::HostTensor &t, bool gzip = false);

} // namespace kiln::data
