//===- Factories.cpp - Tensors from literals, vectors and fill values -----===//
#include "TensorImpl.h"

#include <fmt/format.h>

#include <cmath>

namespace kiln {

// ---- TensorLiteral --------------------------------------------------------------

TensorLiteral::TensorLiteral(std::initializer_list<TensorLiteral> elements) : elements_(elements) {
  for (const TensorLiteral &e : elements_) {
    hasFloat_ = hasFloat_ || e.hasFloat_;
    allBool_ = allBool_ && e.allBool_;
    numbers_ += e.numbers_;
  }
}

Shape TensorLiteral::shape() const {
  if (leaf_)
    return {};
  std::vector<int64_t> dims{int64_t(elements_.size())};
  if (elements_.empty())
    return Shape(std::move(dims));
  Shape inner = elements_[0].shape();
  for (size_t i = 1; i < elements_.size(); ++i) {
    Shape other = elements_[i].shape();
    if (other != inner)
      throw Error(ErrorKind::Shape,
                  fmt::format("ragged nested list: element {} has shape {}, but element 0 has "
                              "shape {}",
                              i, other.str(), inner.str()));
  }
  dims.insert(dims.end(), inner.begin(), inner.end());
  return Shape(std::move(dims));
}

std::vector<double> TensorLiteral::flatten() const {
  std::vector<double> out;
  out.reserve(size_t(numbers_));
  // Depth-first with an explicit stack of (list, next index).
  if (leaf_)
    return {value_};
  std::vector<std::pair<const TensorLiteral *, size_t>> stack{{this, 0}};
  while (!stack.empty()) {
    auto &[list, next] = stack.back();
    if (next == list->elements_.size()) {
      stack.pop_back();
      continue;
    }
    const TensorLiteral &e = list->elements_[next++];
    if (e.leaf_)
      out.push_back(e.value_);
    else
      stack.push_back({&e, 0});
  }
  return out;
}

DType TensorLiteral::inferDType() const {
  if (numbers_ == 0 || hasFloat_)
    return f32;
  return allBool_ ? boolean : i64;
}

// ---- Factories --------------------------------------------------------------------

Tensor tensor(const TensorLiteral &values, std::optional<DType> dtype, bool requires_grad) {
  Shape shape = values.shape();
  DType dt = dtype.value_or(values.inferDType());
  return Tensor(ir::HostTensor::fromDoubles({dt, std::move(shape)}, values.flatten()),
                requires_grad);
}

Tensor from_vector(const std::vector<double> &values, Shape shape, DType dtype,
                   bool requires_grad) {
  return Tensor(ir::HostTensor::fromDoubles({dtype, std::move(shape)}, values), requires_grad);
}

Tensor scalar_tensor(double value, DType dtype, bool requires_grad) {
  return Tensor(ir::HostTensor::scalar(value, dtype), requires_grad);
}

Tensor named_number(Scalar value, DType dtype, std::string name) {
  Tensor number = detail::literal(value, dtype);
  number.set_name(std::move(name));
  return number;
}

Tensor zeros(Shape shape, DType dtype, bool requires_grad) {
  Tensor t(ir::HostTensor({dtype, std::move(shape)}), requires_grad);
  t.impl()->storage->constant = true; // its values follow from its type
  return t;
}

Tensor full(Shape shape, double value, DType dtype, bool requires_grad) {
  ir::HostTensor data({dtype, std::move(shape)});
  for (int64_t i = 0; i < data.numel(); ++i)
    data.set(i, value);
  return Tensor(std::move(data), requires_grad);
}

Tensor ones(Shape shape, DType dtype, bool requires_grad) {
  Tensor t = full(std::move(shape), 1, dtype, requires_grad);
  t.impl()->storage->constant = true; // its values follow from its type
  return t;
}

Tensor zeros_like(const Tensor &t, bool requires_grad) {
  return zeros(t.shape(), t.dtype(), requires_grad);
}
Tensor ones_like(const Tensor &t, bool requires_grad) {
  return ones(t.shape(), t.dtype(), requires_grad);
}
Tensor full_like(const Tensor &t, double value, bool requires_grad) {
  return full(t.shape(), value, t.dtype(), requires_grad);
}

Tensor arange(double start, double end, double step, DType dtype) {
  if (!std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    throw Error(ErrorKind::Usage, fmt::format("arange: bounds and step must be finite, got "
                                              "start={}, end={}, step={}",
                                              start, end, step));
  if (step == 0)
    throw Error(ErrorKind::Usage, "arange: step must be nonzero");
  if ((step > 0 && end < start) || (step < 0 && end > start))
    throw Error(ErrorKind::Usage, "arange: upper bound and larger bound inconsistent with step "
                                  "sign");
  double count = std::ceil((end - start) / step);
  if (count > double(ir::kMaxElements))
    throw Error(ErrorKind::Resource,
                fmt::format("arange: {} elements exceed the limit of {}", count, ir::kMaxElements));
  ir::HostTensor data({dtype, Shape{int64_t(count)}});
  for (int64_t i = 0; i < data.numel(); ++i)
    data.set(i, start + double(i) * step);
  return Tensor(std::move(data));
}

} // namespace kiln
