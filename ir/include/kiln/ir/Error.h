//===- Error.h - The one error type of kiln ---------------------*- C++ -*-===//
//
// Every layer throws kiln::Error: a kind, a message, and where it happened
// (an IR file:line:col, a byte offset in a data file, a parameter name...).
// The CLI prints it and exits 1; the C++ API lets it propagate.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace kiln {

enum class ErrorKind {
  Parse,    ///< malformed IR text
  Verify,   ///< well-formed IR that breaks a rule (types, shapes, SSA)
  Shape,    ///< shape or dtype mismatch, e.g. in the tensor API
  Io,       ///< a file could not be opened, read or written
  Format,   ///< a data file (IDX, npy, checkpoint) is malformed
  Resource, ///< input would exceed a limit (size, depth)
  Runtime,  ///< a kernel failed at run time (e.g. a label out of range)
  Autograd, ///< misuse of backward()
  Usage,    ///< bad command-line or API arguments
  Internal, ///< a bug in kiln
};

/// A source position in IR text. Line and column are 1-based; 0 means unknown.
struct Location {
  std::shared_ptr<const std::string> file;
  uint32_t line = 0;
  uint32_t col = 0;

  bool known() const { return line != 0; }
  /// "file:line:col", or "" when unknown.
  std::string str() const;
};

class Error : public std::runtime_error {
public:
  Error(ErrorKind kind, std::string message, std::string where = {});
  Error(ErrorKind kind, std::string message, const Location &loc)
      : Error(kind, std::move(message), loc.str()) {}

  ErrorKind kind() const { return kind_; }
  /// The bare message, without location.
  const std::string &message() const { return message_; }
  /// Where it happened ("t.kir:3:7", "train-images-idx3-ubyte @ byte 16"), or "".
  const std::string &where() const { return where_; }

private:
  ErrorKind kind_;
  std::string message_;
  std::string where_;
};

/// Throws Error(ErrorKind::Internal) when `cond` is false; for invariants that
/// user input cannot break.
void check(bool cond, const char *what);

} // namespace kiln
