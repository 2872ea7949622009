//===- MatmulTiles.cpp ----------------------------------------------------===//
#include "MatmulTiles.h"
#include "../parallel/MeasuredSplit.h"

#include <algorithm>

namespace kiln::runtime::onednn::detail {

namespace {

using Dims = ::dnnl::memory::dims;

using parallel::ceilDiv;

int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

/// Row and column strides of a matrix view: kept off the heap, as
/// tileOffsets reads them at every run (dnnl's Dims is a std::vector).
using Strides = std::array<int64_t, 2>;

/// Strides of A as [m,k] (a transposed A is a [k,m] buffer) and of B as [k,n].
Strides stridesA(const MatmulDesc &d) { return d.transposeA ? Strides{1, d.m} : Strides{d.k, 1}; }
Strides stridesB(const MatmulDesc &d) { return d.transposeB ? Strides{1, d.k} : Strides{d.n, 1}; }

::dnnl::memory::desc view(int64_t rows, int64_t cols, const Strides &strides) {
  return {{rows, cols}, ::dnnl::memory::data_type::f32, Dims{strides[0], strides[1]}};
}

} // namespace

MatmulTiles tilesOf(const MatmulDesc &d) {
  MatmulTiles t;
  // Cut the operand that is stored transposed (a weight in the forward, an
  // activation in the weight gradient): measured 10-30 % faster per tile on
  // the MLP's matmuls than cutting the other; else cut C's longer side.
  t.alongColumns = d.transposeA != d.transposeB ? d.transposeB : d.n > d.m;
  int64_t extent = t.alongColumns ? d.n : d.m;
  int64_t workPerUnit = std::max<int64_t>(1, d.k * (t.alongColumns ? d.m : d.n));
  t.size = roundUp(std::max(ceilDiv(kTileWork, workPerUnit), ceilDiv(extent, kMostTiles)),
                   kTileAlign);
  t.count = std::max<int64_t>(1, ceilDiv(extent, t.size));
  if (t.count == 1)
    t.size = extent;
  t.lastSize = extent - (t.count - 1) * t.size;
  return t;
}

std::array<ArgSpec, 4> tileArgs(const MatmulDesc &d, const MatmulTiles &t, int64_t extent) {
  int64_t rows = t.alongColumns ? d.m : extent, cols = t.alongColumns ? extent : d.n;
  return {{
      {DNNL_ARG_SRC, view(rows, d.k, readsPackedA(d, rows) ? Strides{1, rows} : stridesA(d))},
      {DNNL_ARG_WEIGHTS, view(d.k, cols, stridesB(d))},
      {DNNL_ARG_DST, view(rows, cols, {writesDenseBlock(d, cols) ? cols : d.n, 1})},
      {DNNL_ARG_BIAS, view(1, cols, {cols, 1})},
  }};
}

std::array<int64_t, 4> tileOffsets(const MatmulDesc &d, const MatmulTiles &t, int64_t index) {
  int64_t first = index * t.size;
  if (t.alongColumns)
    return {0, first * stridesB(d)[1], first, first};
  return {first * stridesA(d)[0], 0, first * d.n, 0};
}

} // namespace kiln::runtime::onednn::detail
