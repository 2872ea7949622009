//===- HostTensor.h - A dense tensor in host memory -------------*- C++ -*-===//
//
// The value of a constant attribute, an interpreter buffer, a program input
// or output. Row-major, 64-byte aligned, shared storage (copies are shallow;
// use clone() for a deep copy).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Shape.h"

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace kiln::ir {

/// Upper bound on one tensor's bytes; a larger allocation is a Resource error,
/// never a bad_alloc or an OOM kill. Overridable with KILN_MAX_TENSOR_BYTES.
int64_t maxTensorBytes();

/// `v` converted to the values `t` can hold, as HostTensor::set stores it:
/// rounded to float for f32, truncated and saturated for integers (NaN -> 0),
/// 0 or 1 for bool.
double convertTo(DType t, double v);
/// `v` converted to the integer or bool dtype `t` as convertTo does, exactly.
int64_t convertToInt(DType t, double v);
/// The integer `v` as the integer or bool dtype `t` holds it: wrapped
/// modulo 2^64 for i64 and 2^8 for u8 (two's complement, as PyTorch, C and
/// the JIT compute), v != 0 for bool.
int64_t wrapInt(DType t, __int128 v);

class HostTensor {
public:
  HostTensor() = default;
  /// Zero-filled tensor of the given type. Throws Error(Resource) past the limit.
  explicit HostTensor(TensorType type);
  /// A tensor whose storage is not zeroed: for a caller that writes every
  /// element before anything reads one (a data loader's batch, a kernel's
  /// result). Same limits and errors as the constructor.
  static HostTensor uninitialized(TensorType type);
  static HostTensor fromDoubles(TensorType type, std::span<const double> values);
  static HostTensor scalar(double v, DType dtype = DType::F32);

  const TensorType &type() const { return type_; }
  DType dtype() const { return type_.dtype; }
  const Shape &shape() const { return type_.shape; }
  int64_t numel() const { return numel_; }
  size_t bytes() const { return size_t(numel_) * dtypeSize(type_.dtype); }
  bool defined() const { return storage_ != nullptr; }

  void *raw() { return storage_.get(); }
  const void *raw() const { return storage_.get(); }
  template <class T> T *data() { return static_cast<T *>(raw()); }
  template <class T> const T *data() const { return static_cast<const T *>(raw()); }

  /// Element i converted to double (reference kernels compute in double).
  double get(int64_t i) const;
  /// Stores v converted to the element type (rounding to f32, truncating to ints,
  /// bool = v != 0).
  void set(int64_t i, double v);
  /// Element i of an integer or bool tensor, exactly (get() rounds i64 past
  /// 2^53); of a float tensor, convertToInt(I64, get(i)).
  int64_t getInt(int64_t i) const;
  /// Stores the integer v: exactly for i64, wrapped for u8, v != 0 for
  /// bool, rounded once for floats.
  void setInt(int64_t i, int64_t v);

  HostTensor clone() const;
  /// Same storage, new shape with the same element count.
  HostTensor reshaped(const Shape &shape) const;
  /// No other HostTensor shares this storage (so its owner may overwrite
  /// it without anyone seeing the change).
  bool storageUnshared() const { return storage_.use_count() == 1; }
  /// Bitwise equality of type and contents.
  bool identical(const HostTensor &o) const;
  /// All elements equal to element 0 (a splat).
  bool isSplat() const;

private:
  enum class Fill { Zeros, None };
  HostTensor(TensorType type, Fill fill);

  TensorType type_;
  int64_t numel_ = 0;
  std::shared_ptr<std::byte[]> storage_;
};

} // namespace kiln::ir
