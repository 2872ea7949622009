//===- SmallMatmul.cpp - Products too small for a oneDNN call -------------===//
#include "SmallMatmul.h"

namespace kiln::runtime {

namespace {

/// Each output summed over k in a register, from 0: for narrow products
/// (linreg's are 10x1 by 1x1 and 1x10 by 10x1), where rowwise() would clear
/// and update rows of one or two elements through memory at every term.
[[gnu::target("fma")]] void outputwise(const onednn::MatmulDesc &d, const float *a, const float *b,
                                       float *c) {
  for (int64_t i = 0; i < d.m; ++i)
    for (int64_t j = 0; j < d.n; ++j) {
      float sum = 0.0f;
      for (int64_t p = 0; p < d.k; ++p)
        sum = __builtin_fmaf(d.transposeA ? a[p * d.m + i] : a[i * d.k + p],
                             d.transposeB ? b[j * d.k + p] : b[p * d.n + j], sum);
      c[i * d.n + j] = sum;
    }
}

/// C[i, :] accumulates row i of op(A) times op(B), term by term in k order:
/// the same sum, rounding for rounding, as outputwise().
[[gnu::target("fma")]] void rowwise(const onednn::MatmulDesc &d, const float *a, const float *b,
                                    float *c) {
  for (int64_t i = 0; i < d.m; ++i) {
    float *row = c + i * d.n;
    for (int64_t j = 0; j < d.n; ++j)
      row[j] = 0.0f;
    for (int64_t p = 0; p < d.k; ++p) {
      float aip = d.transposeA ? a[p * d.m + i] : a[i * d.k + p];
      for (int64_t j = 0; j < d.n; ++j)
        row[j] = __builtin_fmaf(aip, d.transposeB ? b[j * d.k + p] : b[p * d.n + j], row[j]);
    }
  }
}

/// Rows shorter than this are summed output by output.
constexpr int64_t kRowwiseFrom = 8;

void multiply(const onednn::MatmulDesc &d, const float *a, const float *b, float *c) {
  if (d.n < kRowwiseFrom)
    outputwise(d, a, b, c);
  else
    rowwise(d, a, b, c);
}

} // namespace

bool runsAsSmallMatmul(const onednn::MatmulDesc &desc) {
  static const bool hasFma = __builtin_cpu_supports("fma");
  bool exactActivation =
      desc.activation == onednn::Activation::None || desc.activation == onednn::Activation::Relu;
  auto small = [](int64_t dim) { return dim >= 0 && dim <= kSmallMatmulMacs; };
  return hasFma && !desc.accumulate && exactActivation && small(desc.m) && small(desc.n) &&
         small(desc.k) && desc.m * desc.n * desc.k <= kSmallMatmulMacs; // no overflow now
}

void runSmallMatmul(const onednn::MatmulDesc &desc, const float *a, const float *b,
                    const float *bias, float *c) {
  multiply(desc, a, b, c);
  if (!desc.bias && desc.activation == onednn::Activation::None)
    return;
  for (int64_t i = 0; i < desc.m; ++i)
    for (int64_t j = 0; j < desc.n; ++j) {
      float &x = c[i * desc.n + j];
      if (desc.bias)
        x += bias[j];
      if (desc.activation == onednn::Activation::Relu)
        x = onednn::relu(x);
    }
}

} // namespace kiln::runtime
