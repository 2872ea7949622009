//===- SmallMatmul.h - Products too small for a oneDNN call (internal) -*- C++ -*-===//
//
// A oneDNN matmul call costs 0.6-1 us whatever its size; a linear
// regression's products (10x1 by 1x1, 1x10 by 10x1) are a few dozen
// multiply-adds. Such products run as a plain loop instead: each output is
// summed over k in order with one fused multiply-add per term, as oneDNN
// does for these shapes (a k = 1 product is the same bits either way), then
// the bias is added and relu applied as onednn::Matmul does.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/runtime/OneDnn.h"

#include <cstdint>

namespace kiln::runtime {

/// The largest m * n * k run by the loop: a oneDNN call wins from about
/// 1,500 multiply-adds (measured: 10x10x16 0.97 us both ways, 16x16x16 1.0
/// us oneDNN against 2.7 us).
inline constexpr int64_t kSmallMatmulMacs = 1024;

/// Whether runSmallMatmul computes `desc`: at most kSmallMatmulMacs, no
/// accumulation into C, no activation but relu, and a CPU with FMA.
bool runsAsSmallMatmul(const onednn::MatmulDesc &desc);

/// C = act(op(A) op(B) + bias), as onednn::Matmul::run (see MatmulDesc).
void runSmallMatmul(const onednn::MatmulDesc &desc, const float *a, const float *b,
                    const float *bias, float *c);

} // namespace kiln::runtime
