//===- LogSoftmax.h - An accurate log_softmax row kernel (internal) -*- C++ -*-===//
//
// oneDNN 2.6's logsoftmax computes log(sum) with a fast polynomial whose
// absolute error reaches ~1.5e-6 (e.g. 1.43e-6 for a row of one element,
// where the answer is exactly 0), beyond kiln's f32 tolerance against the
// interpreter (relative 1e-5, absolute 1e-6). This kernel computes each row
// in double, as the reference does, and rounds once.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>

namespace kiln::runtime {

/// out[r, :] = in[r, :] - max - log(sum(exp(in[r, :] - max))) for each of
/// `rows` contiguous rows of `cols` floats.
void logSoftmaxRows(const float *in, float *out, int64_t rows, int64_t cols);

} // namespace kiln::runtime
