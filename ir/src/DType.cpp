//===- DType.cpp ----------------------------------------------------------===//
#include "kiln/ir/DType.h"

#include <array>

namespace kiln::ir {

namespace {
struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
};
constexpr std::array<DTypeInfo, 5> kDTypes = {{
    {DType::F32, "f32", 4},
    {DType::F64, "f64", 8},
    {DType::I64, "i64", 8},
    {DType::U8, "u8", 1},
    {DType::Bool, "bool", 1},
}};
} // namespace

std::string_view dtypeName(DType t) { return kDTypes[size_t(t)].name; }
size_t dtypeSize(DType t) { return kDTypes[size_t(t)].size; }

std::optional<DType> parseDType(std::string_view s) {
  for (const DTypeInfo &info : kDTypes)
    if (info.name == s)
      return info.type;
  return std::nullopt;
}

} // namespace kiln::ir
