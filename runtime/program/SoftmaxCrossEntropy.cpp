//===- SoftmaxCrossEntropy.cpp - Fused softmax cross-entropy --------------===//
#include "SoftmaxCrossEntropy.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::runtime {

namespace {

/// The label of row r, checked against the class count as one_hot checks it.
int64_t labelOf(const SoftmaxCrossEntropyArgs &a, int64_t r) {
  int64_t label = a.labelType == ir::DType::U8 ? int64_t(static_cast<const uint8_t *>(a.labels)[r])
                                               : static_cast<const int64_t *>(a.labels)[r];
  if (label < 0 || label >= a.cols)
    throw Error(ErrorKind::Runtime, fmt::format("one_hot: label {} at index {} is out of "
                                                "range [0, {})",
                                                label, r, a.cols));
  return label;
}

} // namespace

void softmaxCrossEntropy(const SoftmaxCrossEntropyArgs &a) {
  double total = 0;
  for (int64_t r = 0; r < a.rows; ++r) {
    const float *x = a.logits + r * a.cols;
    float *g = a.grad ? a.grad + r * a.cols : nullptr;
    int64_t label = labelOf(a, r);
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < a.cols; ++j)
      max = std::max(max, double(x[j]));
    double picked = double(x[label]) - max; // read before g (which may be x) is written
    // exp is the cost: computed once per element, in f32 (twice as fast as
    // f64; the error stays far inside kiln's 1e-5 tolerance), summed in
    // double, and kept in the gradient row until the sum is known.
    float fmax = float(max);
    double sum = 0;
    for (int64_t j = 0; j < a.cols; ++j) {
      float e = std::exp(x[j] - fmax);
      sum += e;
      if (g)
        g[j] = e;
    }
    // -log softmax[label], rounded to f32 first as the unfused graph's
    // log_softmax result is.
    total -= double(float(picked - std::log(sum)));
    if (!g)
      continue;
    double scale = a.dy[r * a.dyRowStride + label * a.dyColStride], inverse = 1 / sum;
    for (int64_t j = 0; j < a.cols; ++j)
      g[j] = float(scale * ((j == label ? 1.0 : 0.0) - double(g[j]) * inverse));
  }
  if (a.loss)
    *a.loss = float(a.mean ? total / double(a.rows) : total);
}

} // namespace kiln::runtime
