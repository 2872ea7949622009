//===- LogSoftmax.cpp - An accurate log_softmax row kernel ----------------===//
#include "LogSoftmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::runtime {

void logSoftmaxRows(const float *in, float *out, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = in + r * cols;
    float *y = out + r * cols;
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < cols; ++j)
      max = std::max(max, double(x[j]));
    double sum = 0;
    for (int64_t j = 0; j < cols; ++j)
      sum += std::exp(double(x[j]) - max);
    double logSum = std::log(sum);
    for (int64_t j = 0; j < cols; ++j)
      y[j] = float(double(x[j]) - max - logSum);
  }
}

} // namespace kiln::runtime
