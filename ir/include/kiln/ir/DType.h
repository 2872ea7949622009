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
size_t dtypeSize(DType t);
inline bool isFloat(DType t) { return t == DType::F32 || t == DType::F64; }
inline bool isInteger(DType t) { return t == DType::I64 || t == DType::U8; }

} // namespace kiln::ir
