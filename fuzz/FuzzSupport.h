//===- FuzzSupport.h - Shared helpers of the libFuzzer targets --*- C++ -*-===//
//
// Each target in fuzz/ defines LLVMFuzzerTestOneInput. An input that kiln
// rejects with kiln::Error is fine; anything else (a crash, a sanitizer
// report, another exception, a broken invariant checked here) is a finding.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace kiln::fuzz {

/// Prints `what` to standard error and aborts: libFuzzer saves the input.
[[noreturn]] void fail(std::string_view what);

/// A file holding `size` bytes of `data`, removed by the destructor, for
/// readers that take a path. One per process (libFuzzer runs inputs one at
/// a time), under $TMPDIR.
class TempFile {
public:
  TempFile(const uint8_t *data, size_t size, std::string_view suffix);
  ~TempFile();
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;
  const std::filesystem::path &path() const { return path_; }

private:
  std::filesystem::path path_;
};

/// Reads fuzz bytes front to back; past the end it yields zeros.
class ByteReader {
public:
  ByteReader(const uint8_t *data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v = v << 8 | byte();
    return v;
  }

private:
  const uint8_t *data_;
  size_t size_;
  size_t pos_ = 0;
};

} // namespace kiln::fuzz
