//===- Attribute.h - Compile-time operands of ops ---------------*- C++ -*-===//
#pragma once

#include "kiln/ir/HostTensor.h"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace kiln::ir {

using IntList = std::vector<int64_t>;
/// An attribute value: 2, 0.5, true, [0, 1], f32, dense<[1, 2]>.
using Attr = std::variant<int64_t, double, bool, IntList, DType, HostTensor>;

enum class AttrKind { Int, Float, Bool, Ints, Type, Dense };
AttrKind attrKind(const Attr &a);
std::string_view attrKindName(AttrKind k);

/// Attributes of one node, kept sorted by name so that printing and hashing
/// are deterministic.
class AttrList {
public:
  AttrList() = default;
  AttrList(std::initializer_list<std::pair<std::string, Attr>> init);

  void set(std::string name, Attr value);
  bool has(std::string_view name) const { return find(name) != nullptr; }
  const Attr *find(std::string_view name) const;

  int64_t getInt(std::string_view name) const;
  double getFloat(std::string_view name) const;
  bool getBool(std::string_view name) const;
  const IntList &getInts(std::string_view name) const;
  const HostTensor &getDense(std::string_view name) const;

  const std::vector<std::pair<std::string, Attr>> &entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  bool operator==(const AttrList &o) const;

private:
  std::vector<std::pair<std::string, Attr>> entries_;
};

} // namespace kiln::ir
