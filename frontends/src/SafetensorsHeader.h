//===- SafetensorsHeader.h - The JSON header of safetensors -----*- C++ -*-===//
//
// Internal to frontends/: the header of a safetensors file as data, its
// writer, and a strict, bounded parser. The parser accepts exactly the
// format's schema (an object of tensor entries plus an optional
// "__metadata__" object of strings), so its nesting depth is fixed and it
// needs no recursion.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Serialize.h"
#include "kiln/ir/DType.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::detail {

/// One tensor's entry in the header.
struct SafetensorsEntry {
  std::string name;
  ir::DType dtype = ir::DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;        ///< data_offsets[0], relative to the end of the header
  uint64_t end = 0;          ///< data_offsets[1]
  uint64_t headerOffset = 0; ///< where the entry starts in the header, for errors
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries; ///< in the header's order
  TensorMetadata metadata;
};

/// "F32", "F64", "I64", "U8", "BOOL".
std::string_view safetensorsDTypeName(ir::DType dtype);

/// The JSON text of `header`, padded with spaces to a multiple of 8 bytes.
std::string printSafetensorsHeader(const SafetensorsHeader &header);

/// A header problem at `offset` bytes into the JSON text.
struct HeaderError {
  ErrorKind kind;
  std::string message;
  uint64_t offset;
};

/// Parses `json`; the first problem (syntax, unknown or duplicate key,
/// unsupported dtype, limit exceeded) is thrown as a HeaderError.
SafetensorsHeader parseSafetensorsHeader(std::string_view json, const SafetensorsLimits &limits);

/// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code
/// points past U+10FFFF): the JSON header of safetensors must be, or other
/// readers (PyTorch's among them) refuse the whole file. Loads and saves check
/// every string with it, so that whatever loads can be saved again.
bool isUtf8(std::string_view s);

} // namespace kiln::detail
