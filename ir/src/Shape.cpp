//===- Shape.cpp ----------------------------------------------------------===//
#include "kiln/ir/Shape.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln::ir {

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : dims_)
    n *= d;
  return n;
}

std::vector<int64_t> Shape::strides() const {
  std::vector<int64_t> s(dims_.size(), 1);
  for (int i = rank() - 2; i >= 0; --i)
    s[size_t(i)] = s[size_t(i) + 1] * dims_[size_t(i) + 1];
  return s;
}

std::optional<std::string> Shape::validate() const {
  // The product of the non-zero dims is bounded too, wherever a zero stands,
  // so that strides() can never overflow.
  int64_t n = 1;
  for (int64_t d : dims_) {
    if (d < 0)
      return fmt::format("shape {} has a negative dimension", str());
    if (d == 0)
      continue;
    if (n > kMaxElements / d)
      return fmt::format("shape {} exceeds the limit of {} elements", str(), kMaxElements);
    n *= d;
  }
  return std::nullopt;
}

std::string Shape::str() const { return fmt::format("[{}]", fmt::join(dims_, ",")); }

std::optional<Shape> broadcastShapes(const Shape &a, const Shape &b) {
  int rank = std::max(a.rank(), b.rank());
  std::vector<int64_t> out(size_t(rank), 1);
  for (int i = 0; i < rank; ++i) {
    int ia = a.rank() - rank + i, ib = b.rank() - rank + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return std::nullopt;
    out[size_t(i)] = da == 1 ? db : da;
  }
  return Shape(std::move(out));
}

bool broadcastsTo(const Shape &from, const Shape &to) {
  auto s = broadcastShapes(from, to);
  return s && *s == to;
}

std::string TensorType::str() const {
  return fmt::format("{}{}", dtypeName(dtype), shape.str());
}

int64_t TensorType::bytes() const { return shape.numel() * int64_t(dtypeSize(dtype)); }

} // namespace kiln::ir
