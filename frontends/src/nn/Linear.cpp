//===- Linear.cpp - Fully connected layer ---------------------------------===//
#include "kiln/nn/Linear.h"

#include "../RecordedRegion.h"
#include "kiln/Autograd.h"
#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <cmath>

namespace kiln::nn {

namespace {

/// A parameter of `shape` drawn from U(-bound, bound).
Tensor uniformParameter(Shape shape, double bound, Generator &gen) {
  Tensor t = zeros(std::move(shape));
  NoGradGuard noGrad;
  uniform_(t, -bound, bound, gen);
  return t;
}

} // namespace

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator &gen)
    : in_(in_features), out_(out_features) {
  if (in_features < 1 || out_features < 1)
    throw Error(ErrorKind::Usage,
                fmt::format("Linear({}, {}): sizes must be positive", in_features, out_features));
  // kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + a^2)) = sqrt(1/3), bound
  // gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in); the bias uses the same bound.
  double bound = 1.0 / std::sqrt(double(in_features));
  weight =
      register_parameter("weight", uniformParameter(Shape{out_features, in_features}, bound, gen));
  if (bias)
    this->bias = register_parameter("bias", uniformParameter(Shape{out_features}, bound, gen));
}

Tensor Linear::forward(const Tensor &input) {
  if (input.dim() != 2 || input.size(1) != in_)
    throw Error(ErrorKind::Shape,
                fmt::format("Linear({}, {}): input must be [N, {}], got {}", in_, out_, in_,
                            ir::TensorType{input.dtype(), input.shape()}.str()));
  // One recorded node per call in lazy mode (RecordedRegion.h), as
  // PyTorch's linear is one op; the thread's own, as a recording is. The
  // weight first, as its transpose was the first op recorded one by one:
  // the step's parameters keep their order.
  thread_local detail::RecordedFunction linear("linear", [](std::span<const Tensor> o) {
    Tensor out = o[1].matmul(o[0].t());
    return o.size() > 2 ? out + o[2] : out;
  });
  return bias.defined() ? linear({weight, input, bias}) : linear({weight, input});
}

} // namespace kiln::nn
