//===- DType.cpp ----------------------------------------------------------===//
#include "kiln/ir/DType.h"

#include <array>

namespace kiln::ir {

namespace {
struct DTypeInfo {
  DType type;
  std::string_view name;
};
constexpr std::array<DTypeInfo, 5> kDTypes = {{
    {DType::F32, "f32"},
    {DType::F64, "f64"},
    {DType::I64, "i64"},
    {DType::U8, "u8"},
    {DType::Bool, "bool"},
}};
} // namespace

std::string_view dtypeName(DType t) { return kDTypes[size_t(t)].name; }

namespace {
/// Position in the promotion chain bool < u8 < i64 < f32 < f64.
int promotionRank(DType t) {
  switch (t) {
  case DType::Bool: return 0;
  case DType::U8: return 1;
  case DType::I64: return 2;
  case DType::F32: return 3;
  case DType::F64: return 4;
  }
  return 0;
}
} // namespace

DType promoteTypes(DType a, DType b) { return promotionRank(a) >= promotionRank(b) ? a : b; }

bool canCast(DType from, DType to) {
  if (isFloat(from) && !isFloat(to))
    return false;
  return from == DType::Bool || to != DType::Bool;
}

std::optional<DType> parseDType(std::string_view s) {
  for (const DTypeInfo &info : kDTypes)
    if (info.name == s)
      return info.type;
  return std::nullopt;
}

} // namespace kiln::ir
