//===- Shape.h - Static shapes and tensor types -----------------*- C++ -*-===//
#pragma once

#include "kiln/ir/DType.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace kiln::ir {

/// Largest element count of any tensor; shapes beyond it are rejected so that
/// no input can make kiln compute an overflowing size or allocate without bound.
inline constexpr int64_t kMaxElements = int64_t(1) << 40;

/// A static shape; rank 0 is a scalar. Dimensions are >= 0.
class Shape {
public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int rank() const { return int(dims_.size()); }
  int64_t operator[](int i) const { return dims_[size_t(i)]; }
  const std::vector<int64_t> &dims() const { return dims_; }
  /// Product of dims. Only call on validated shapes (see validate()).
  int64_t numel() const;
  /// Row-major strides in elements.
  std::vector<int64_t> strides() const;
  /// Checks that all dims are >= 0 and the product is <= kMaxElements;
  /// returns a message describing the problem, or nullopt.
  std::optional<std::string> validate() const;

  /// "[10,1]"
  std::string str() const;
  bool operator==(const Shape &o) const { return dims_ == o.dims_; }
  bool operator!=(const Shape &o) const { return dims_ != o.dims_; }

private:
  std::vector<int64_t> dims_;
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
