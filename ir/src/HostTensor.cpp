//===- HostTensor.cpp -----------------------------------------------------===//
#include "kiln/ir/HostTensor.h"
#include "BufferCache.h"
#include "kiln/ir/Error.h"
#include "kiln/ir/Limits.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace kiln::ir {

namespace {
/// A positive byte count from the environment variable `name`, else `fallback`.
int64_t limitFromEnvironment(const char *name, int64_t fallback) {
  if (const char *env = std::getenv(name)) {
    char *end = nullptr;
    long long v = std::strtoll(env, &end, 10);
    if (end != env && *end == '\0' && v > 0)
      return int64_t(v);
  }
  return fallback;
}
} // namespace

int64_t maxTensorBytes() {
  // 8 GiB: a third of the machines we run on.
  static const int64_t limit = limitFromEnvironment("KILN_MAX_TENSOR_BYTES", int64_t(8) << 30);
  return limit;
}

int64_t maxArenaBytes() {
  static const int64_t limit = limitFromEnvironment("KILN_MAX_ARENA_BYTES", maxTensorBytes());
  return limit;
}

namespace {
/// Frees a storage block onto the freeing thread's buffer cache.
struct ReleaseBuffer {
  size_t size;
  void operator()(std::byte *p) const { buffers::release(p, size); }
};

/// 64-byte aligned storage, so that JIT kernels may assume alignment;
/// zeroed unless the caller fills it. The block and the shared_ptr's control
/// block come from per-thread caches (BufferCache.h, Recycled.h), so a step
/// that frees and allocates the same sizes allocates nothing.
std::shared_ptr<std::byte[]> allocate(size_t bytes, bool zeroed) {
  size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void *p = buffers::allocate(rounded);
  if (!p)
    throw Error(ErrorKind::Resource, fmt::format("out of memory allocating {} bytes", bytes));
  if (zeroed)
    std::memset(p, 0, rounded);
  else // the padding past the last element is never written: keep it defined
    std::memset(static_cast<std::byte *>(p) + bytes, 0, rounded - bytes);
  return std::shared_ptr<std::byte[]>(static_cast<std::byte *>(p), ReleaseBuffer{rounded},
                                      recycled::Allocator<std::byte>());
}
} // namespace

HostTensor::HostTensor(TensorType type) : HostTensor(std::move(type), Fill::Zeros) {}

HostTensor HostTensor::uninitialized(TensorType type) {
  return HostTensor(std::move(type), Fill::None);
}

HostTensor::HostTensor(TensorType type, Fill fill) : type_(std::move(type)) {
  if (auto problem = type_.shape.validate())
    throw Error(ErrorKind::Resource, *problem);
  numel_ = type_.shape.numel();
  int64_t size = int64_t(dtypeSize(type_.dtype));
  if (numel_ > maxTensorBytes() / size)
    throw Error(ErrorKind::Resource,
                fmt::format("tensor {} needs {} bytes, over the limit of {} "
                            "(KILN_MAX_TENSOR_BYTES)",
                            type_.str(), numel_ * size, maxTensorBytes()));
  storage_ = allocate(bytes(), fill == Fill::Zeros);
}

HostTensor HostTensor::fromDoubles(TensorType type, std::span<const double> values) {
  HostTensor t(std::move(type));
  if (int64_t(values.size()) != t.numel())
    throw Error(ErrorKind::Shape, fmt::format("{} values given for a tensor {} of {} elements",
                                              values.size(), t.type().str(), t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, values[size_t(i)]);
  return t;
}

HostTensor HostTensor::scalar(double v, DType dtype) {
  HostTensor t(TensorType{dtype, Shape{}});
  t.set(0, v);
  return t;
}

double HostTensor::get(int64_t i) const {
  switch (type_.dtype) {
  case DType::F32: return data<float>()[i];
  case DType::F64: return data<double>()[i];
  case DType::I64: return double(data<int64_t>()[i]);
  case DType::U8: return data<uint8_t>()[i];
  case DType::Bool: return data<uint8_t>()[i] ? 1.0 : 0.0;
  }
  return 0;
}

/// Float-to-integer conversion that is defined for every input (NaN -> 0,
/// out of range saturates), unlike a plain C++ cast.
template <class Int> static Int saturatingCast(double v) {
  if (std::isnan(v))
    return 0;
  double lo = double(std::numeric_limits<Int>::min()), hi = double(std::numeric_limits<Int>::max());
  if (v <= lo)
    return std::numeric_limits<Int>::min();
  if (v >= hi)
    return std::numeric_limits<Int>::max();
  return Int(v);
}

double convertTo(DType t, double v) {
  switch (t) {
  case DType::F32: return double(float(v));
  case DType::F64: return v;
  case DType::I64: return double(saturatingCast<int64_t>(v));
  case DType::U8: return double(saturatingCast<uint8_t>(v));
  case DType::Bool: return v != 0 ? 1.0 : 0.0;
  }
  return v;
}

int64_t convertToInt(DType t, double v) {
  switch (t) {
  case DType::I64: return saturatingCast<int64_t>(v);
  case DType::U8: return saturatingCast<uint8_t>(v);
  case DType::Bool: return v != 0 ? 1 : 0;
  case DType::F32:
  case DType::F64: break;
  }
  return saturatingCast<int64_t>(v);
}

int64_t wrapInt(DType t, __int128 v) {
  switch (t) {
  case DType::U8: return int64_t(uint8_t(v));
  case DType::Bool: return v != 0 ? 1 : 0;
  case DType::I64:
  case DType::F32:
  case DType::F64: break;
  }
  return int64_t(uint64_t(v)); // modulo 2^64, then two's complement
}

int64_t HostTensor::getInt(int64_t i) const {
  switch (type_.dtype) {
  case DType::I64: return data<int64_t>()[i];
  case DType::U8: return data<uint8_t>()[i];
  case DType::Bool: return data<uint8_t>()[i] ? 1 : 0;
  case DType::F32:
  case DType::F64: break;
  }
  return convertToInt(DType::I64, get(i));
}

void HostTensor::setInt(int64_t i, int64_t v) {
  switch (type_.dtype) {
  case DType::F32: data<float>()[i] = float(v); break; // one rounding, as sitofp
  case DType::F64: data<double>()[i] = double(v); break;
  case DType::I64: data<int64_t>()[i] = v; break;
  case DType::U8: data<uint8_t>()[i] = uint8_t(v); break;
  case DType::Bool: data<uint8_t>()[i] = v != 0 ? 1 : 0; break;
  }
}

void HostTensor::set(int64_t i, double v) {
  switch (type_.dtype) {
  case DType::F32: data<float>()[i] = float(v); break;
  case DType::F64: data<double>()[i] = v; break;
  case DType::I64: data<int64_t>()[i] = saturatingCast<int64_t>(v); break;
  case DType::U8: data<uint8_t>()[i] = saturatingCast<uint8_t>(v); break;
  case DType::Bool: data<uint8_t>()[i] = v != 0 ? 1 : 0; break;
  }
}

HostTensor HostTensor::clone() const {
  if (!defined())
    return {};
  HostTensor t(type_);
  std::memcpy(t.raw(), raw(), bytes());
  return t;
}

HostTensor HostTensor::reshaped(const Shape &shape) const {
  if (shape.validate() || shape.numel() != numel_)
    throw Error(ErrorKind::Shape, fmt::format("cannot reshape {} to {}", type_.str(), shape.str()));
  HostTensor t = *this;
  t.type_.shape = shape;
  return t;
}

bool HostTensor::identical(const HostTensor &o) const {
  if (type_ != o.type_ || defined() != o.defined())
    return false;
  return !defined() || std::memcmp(raw(), o.raw(), bytes()) == 0;
}

bool HostTensor::isSplat() const {
  if (numel_ == 0)
    return false;
  size_t size = dtypeSize(type_.dtype);
  const auto *p = static_cast<const std::byte *>(raw());
  for (int64_t i = 1; i < numel_; ++i)
    if (std::memcmp(p, p + size_t(i) * size, size) != 0)
      return false;
  return true;
}

} // namespace kiln::ir
