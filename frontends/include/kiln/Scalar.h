//===- Scalar.h - A number operand of a tensor op ---------------*- C++ -*-===//
#pragma once

#include "kiln/ir/DType.h"

#include <cstdint>
#include <limits>
#include <type_traits>

namespace kiln {

namespace detail {
/// Throws Error(Usage): `v` does not fit in an i64 (kiln has no u64).
[[noreturn]] void throwUnsignedOutOfRange(unsigned long long v);
} // namespace detail

/// A number written next to a tensor (`t * 2`, `t / 2.5`, `t.add_(true)`),
/// like libtorch's at::Scalar: it remembers whether it was a bool, an integer
/// or a floating-point number, because that decides the result's dtype
/// (PyTorch's type promotion: an i64 tensor times 2 stays i64, times 2.5
/// becomes f32). Integers are kept exactly.
class Scalar {
public:
  enum class Kind : unsigned char { Bool, Integer, Float };

  template <class T>
    requires std::is_arithmetic_v<T>
  Scalar(T v) { // NOLINT: implicit, so that numbers are operands
    if constexpr (std::is_same_v<T, bool>) {
      kind_ = Kind::Bool;
      int_ = v ? 1 : 0;
    } else if constexpr (std::is_floating_point_v<T>) {
      kind_ = Kind::Float;
      float_ = double(v);
    } else {
      if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t))
        if (v > T(std::numeric_limits<int64_t>::max()))
          detail::throwUnsignedOutOfRange(v);
      kind_ = Kind::Integer;
      int_ = int64_t(v);
    }
  }

  Kind kind() const { return kind_; }
  bool isFloat() const { return kind_ == Kind::Float; }
  double toDouble() const { return kind_ == Kind::Float ? float_ : double(int_); }
  /// The value of a bool or integer number, exactly.
  int64_t toInt() const { return int_; }
  /// The dtype a tensor made from this number alone gets: bool, i64, or
  /// the default float dtype f32.
  ir::DType dtype() const {
    return kind_ == Kind::Bool ? ir::DType::Bool
           : kind_ == Kind::Integer ? ir::DType::I64
                                    : ir::DType::F32;
  }

private:
  Kind kind_ = Kind::Integer;
  int64_t int_ = 0;
  double float_ = 0;
};

} // namespace kiln
