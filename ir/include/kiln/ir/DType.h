//===- DType.h - Element types ----------------------------------*- C++ -*-===//
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace kiln::ir {

enum class DType : unsigned char { F32, F64, I64, U8, Bool };

/// Textual name as printed in IR: f32, f64, i64, u8, bool.
std::string_view dtypeName(DType t);
std::optional<DType> parseDType(std::string_view s);
/// Bytes per element. Inline: buffer sizes are computed for every tensor a
/// step makes, and the out-of-line call showed in the per-step profile.
constexpr size_t dtypeSize(DType t) {
  switch (t) {
  case DType::F64:
  case DType::I64:
    return 8;
  case DType::F32:
    return 4;
  case DType::U8:
  case DType::Bool:
    return 1;
  }
  return 0;
}
inline bool isFloat(DType t) { return t == DType::F32 || t == DType::F64; }
inline bool isInteger(DType t) { return t == DType::I64 || t == DType::U8; }

/// The smallest dtype that holds values of both (PyTorch's promote_types):
/// kiln's dtypes are a chain, bool < u8 < i64 < f32 < f64.
DType promoteTypes(DType a, DType b);
/// Whether a result computed in `from` may be stored into a tensor of `to`
/// (PyTorch's can_cast): not a float into an integer, not a number into bool.
bool canCast(DType from, DType to);

} // namespace kiln::ir
