//===- MatmulTiles.h - Cutting a matmul into tasks --------------*- C++ -*-===//
//
// Private to runtime/onednn. A matmul big enough to share out is cut into
// tiles of C: blocks of whole rows or of whole columns, whichever cuts the
// operand stored transposed (else C's longer side; see tilesOf). Each tile is
// one single-threaded oneDNN call on views of the operands (a strided memory
// descriptor and a pointer offset), so the tiles run on kiln's pool. The cut
// depends only on the sizes: every element of C is computed the same way on
// any number of threads.
//
// A tile of columns writes a dense block, which Matmul then copies into C,
// and a tile of rows of a transposed A reads a dense copy of its columns of
// A: oneDNN 2.6 runs a product with a strided destination or source on its
// GEMM driver (gemm:jit), whose first execution in a process generates its
// kernels (~20 ms on AVX-512), and a dense one on brgemm, like the untiled
// product. Measured for the MNIST MLP's 100x784x128 layer in 16-column
// tiles: 99 us a product against 125 with gemm:jit, and the untiled
// product's bits.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Primitive.h"
#include "kiln/runtime/OneDnn.h"

#include <array>
#include <cstdint>

namespace kiln::runtime::onednn::detail {

/// Multiply-adds a tile gets at least: ~20-40 us on one core, so that a
/// tile's own call overhead (~0.2 us) and the re-read of the uncut operand
/// stay small.
constexpr int64_t kTileWork = int64_t(1) << 20;

/// Most tiles a matmul is cut into: enough to balance 16 cores.
constexpr int64_t kMostTiles = 64;

/// Tile extents are multiples of this (whole SIMD registers of f32 columns).
constexpr int64_t kTileAlign = 8;

/// Argument order of a matmul's bound primitives and of its buffers.
enum MatmulArg { ArgA, ArgB, ArgC, ArgBias };

struct MatmulTiles {
  bool alongColumns = false; ///< tiles are blocks of C's columns, else of its rows
  int64_t size = 0;          ///< rows (or columns) of every tile but the last
  int64_t count = 1;
  int64_t lastSize = 0; ///< rows (or columns) of the last tile
};

/// How `d` is cut; count == 1 (one tile of all of C) when it is too small to share.
MatmulTiles tilesOf(const MatmulDesc &d);

/// Whether a block of `rows` rows of C reads a dense copy of its part of A
/// (a transposed A cut into tiles of rows), not a view of A.
inline bool readsPackedA(const MatmulDesc &d, int64_t rows) { return d.transposeA && rows < d.m; }

/// Whether a block of `cols` columns of C is written dense, not into a view of C.
inline bool writesDenseBlock(const MatmulDesc &d, int64_t cols) { return cols < d.n; }

/// The memory descriptors (in MatmulArg order; the bias only with d.bias) of
/// a tile of `extent` rows or columns: views of A, B, C and the bias, but a
/// dense block for C in a tile of columns and for A in a tile of rows of a
/// transposed A.
std::array<ArgSpec, 4> tileArgs(const MatmulDesc &d, const MatmulTiles &t, int64_t extent);

/// Element offsets (MatmulArg order) of tile `index` into A, B, C and the bias.
std::array<int64_t, 4> tileOffsets(const MatmulDesc &d, const MatmulTiles &t, int64_t index);

} // namespace kiln::runtime::onednn::detail
