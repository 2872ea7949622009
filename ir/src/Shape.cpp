//===- Shape.cpp ----------------------------------------------------------===//
#include "kiln/ir/Shape.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln::ir {

void Shape::assign(const int64_t *dims, size_t rank) {
  if (rank > size_t(kInlineRank)) {
    if (!heap_ || rank_ < int(rank))
      heap_ = std::make_unique<int64_t[]>(rank);
  } else {
    heap_.reset();
  }
  rank_ = int(rank);
  std::copy(dims, dims + rank, heap_ ? heap_.get() : inline_);
}

void Shape::take(Shape &o) {
  rank_ = o.rank_;
  heap_ = std::move(o.heap_);
  if (!heap_)
    std::copy(o.inline_, o.inline_ + rank_, inline_);
  o.rank_ = 0;
}

void Shape::append(int64_t dim) {
  if (!heap_ && rank_ < kInlineRank) {
    inline_[rank_++] = dim;
    return;
  }
  auto grown = std::make_unique<int64_t[]>(size_t(rank_) + 1);
  std::copy(begin(), end(), grown.get());
  grown[rank_] = dim;
  heap_ = std::move(grown);
  ++rank_;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : *this)
    n *= d;
  return n;
}

std::vector<int64_t> Shape::strides() const {
  std::vector<int64_t> s(size_t(rank_), 1);
  for (int i = rank() - 2; i >= 0; --i)
    s[size_t(i)] = s[size_t(i) + 1] * (*this)[i + 1];
  return s;
}

std::optional<std::string> Shape::validate() const {
  // The product of the non-zero dims is bounded too, wherever a zero stands,
  // so that strides() can never overflow.
  int64_t n = 1;
  for (int64_t d : *this) {
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

std::string Shape::str() const { return fmt::format("[{}]", fmt::join(begin(), end(), ",")); }

std::optional<Shape> broadcastShapes(const Shape &a, const Shape &b) {
  // The wider shape is the result unless a dim of it is 1: then it is copied
  // and changed, so that the common case allocates nothing.
  const Shape &wide = a.rank() >= b.rank() ? a : b, &narrow = a.rank() >= b.rank() ? b : a;
  int lead = wide.rank() - narrow.rank();
  std::optional<std::vector<int64_t>> changed;
  for (int i = 0; i < narrow.rank(); ++i) {
    int64_t dw = wide[lead + i], dn = narrow[i];
    if (dw == dn || dn == 1)
      continue;
    if (dw != 1)
      return std::nullopt;
    if (!changed)
      changed = wide.toVector();
    (*changed)[size_t(lead + i)] = dn;
  }
  return changed ? Shape(*changed) : wide;
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
