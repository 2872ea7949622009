//===- Shape.h - Static shapes and tensor types -----------------*- C++ -*-===//
#pragma once

#include "kiln/ir/DType.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kiln::ir {

/// Largest element count of any tensor; shapes beyond it are rejected so that
/// no input can make kiln compute an overflowing size or allocate without bound.
inline constexpr int64_t kMaxElements = int64_t(1) << 40;

/// A static shape; rank 0 is a scalar. Dimensions are >= 0. Shapes up to
/// rank kInlineRank are stored inline: a recorded op copies several types,
/// and a heap allocation per copy was a visible part of a step's host work.
class Shape {
public:
  static constexpr int kInlineRank = 6;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.size()); }
  explicit Shape(const std::vector<int64_t> &dims) { assign(dims.data(), dims.size()); }
  Shape(const Shape &o) { copyFrom(o); }
  Shape(Shape &&o) noexcept { moveFrom(o); }
  Shape &operator=(const Shape &o) {
    if (this != &o)
      copyFrom(o);
    return *this;
  }
  Shape &operator=(Shape &&o) noexcept {
    if (this != &o)
      moveFrom(o);
    return *this;
  }
  ~Shape() = default;

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return begin()[i]; }
  const int64_t *begin() const { return heap_ ? heap_.get() : inline_; }
  const int64_t *end() const { return begin() + rank_; }
  std::span<const int64_t> dims() const { return {begin(), end()}; }
  /// The dims as a new list, to edit.
  std::vector<int64_t> toVector() const { return {begin(), end()}; }
  /// Adds a last dim (no allocation up to kInlineRank: shape rules build
  /// their results with it at every recorded op).
  void append(int64_t dim);
  /// Product of dims. Only call on validated shapes (see validate()).
  int64_t numel() const;
  /// Row-major strides in elements.
  std::vector<int64_t> strides() const;
  /// Checks that all dims are >= 0 and the product is <= kMaxElements;
  /// returns a message describing the problem, or nullopt.
  std::optional<std::string> validate() const;

  /// "[10,1]"
  std::string str() const;
  bool operator==(const Shape &o) const {
    if (rank_ != o.rank_)
      return false;
    // A loop, not std::equal: that becomes a memcmp call, and shapes of a
    // rank or two are compared at every recorded op.
    const int64_t *a = begin(), *b = o.begin();
    for (int i = 0; i < rank_; ++i)
      if (a[i] != b[i])
        return false;
    return true;
  }
  bool operator!=(const Shape &o) const { return !(*this == o); }

private:
  void assign(const int64_t *dims, size_t rank);
  void take(Shape &o);
  // Copies and moves of inline shapes are inline code copying the whole
  // inline array (a fixed size: a few vector moves): a recorded op copies
  // and moves several types, and a call into this library plus a
  // variable-length copy (a memmove call) per copy showed in a step's
  // profile. Heap shapes take the out-of-line path.
  void copyInline(const Shape &o) {
    std::memcpy(inline_, o.inline_, sizeof inline_);
    rank_ = o.rank_;
  }
  void copyFrom(const Shape &o) {
    if (o.heap_ || heap_)
      assign(o.begin(), size_t(o.rank_));
    else
      copyInline(o);
  }
  void moveFrom(Shape &o) {
    if (o.heap_ || heap_) {
      take(o);
      return;
    }
    copyInline(o);
    o.rank_ = 0;
  }

  int rank_ = 0;
  int64_t inline_[kInlineRank] = {};
  /// The dims of a shape of rank > kInlineRank (null otherwise).
  std::unique_ptr<int64_t[]> heap_;
};

/// numpy broadcasting of two shapes, or nullopt if incompatible.
std::optional<Shape> broadcastShapes(const Shape &a, const Shape &b);
/// True if `from` broadcasts to exactly `to`.
bool broadcastsTo(const Shape &from, const Shape &to);

/// dtype + shape: the type of every SSA value.
struct TensorType {
  DType dtype = DType::F32;
  Shape shape;

  /// "f32[10,1]"
  std::string str() const;
  /// The bytes a dense tensor of this type holds.
  int64_t bytes() const;
  bool operator==(const TensorType &o) const { return dtype == o.dtype && shape == o.shape; }
  bool operator!=(const TensorType &o) const { return !(*this == o); }
};

} // namespace kiln::ir
