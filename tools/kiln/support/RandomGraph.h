//===- RandomGraph.h - Seeded random well-typed IR graphs -------*- C++ -*-===//
//
// Differential testing of the compiled backend against the reference
// interpreter needs many small, well-typed functions over the ops that the
// JIT and oneDNN lower. The generator builds them from a seed alone (same
// seed, same graph and inputs, on every machine), with:
//  - f32 parameters of shapes that broadcast against each other (numpy rules,
//    different ranks and unit extents), and inputs in [-2, 2];
//  - safe domains by construction: each value carries bounds; a unary op's
//    operand is first moved into the op's testRange from the op table (made
//    positive by exp, abs, sigmoid or relu plus a constant for log, scaled
//    down for exp), as are div's divisor and fractional pow's base; large
//    values are scaled down;
//  - discontinuous ops (compares, casts to integers, argmax) only on values
//    that both backends compute bit-identically, so a last-ulp difference of
//    exp or matmul never flips a branch and reads as a mismatch.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"
#include "kiln/ir/HostTensor.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kiln::tool {

struct RandomGraphOptions {
  /// Upper bound on the ops chosen at random (helper ops that make an operand
  /// safe or bring back a rank-2 matrix come on top, at most a few per op).
  int maxNodes = 12;
  /// Largest rank and extent of the graph's iteration shape.
  int maxRank = 3;
  int64_t maxExtent = 6;
  /// When set, the graph uses this op at least once (for per-op coverage).
  std::optional<ir::OpKind> mustUse;
};

/// A function and inputs to run it on.
struct RandomGraph {
  ir::Function fn;
  std::vector<ir::HostTensor> inputs;
};

/// The graph of `seed`: deterministic, verified, 1 to 4 results. Throws
/// Error(Usage) for options out of range (maxNodes, maxExtent < 1; maxRank < 0).
RandomGraph randomGraph(uint64_t seed, const RandomGraphOptions &options = {});

/// The ops randomGraph can emit (so can be asked for with mustUse).
std::vector<ir::OpKind> generatableOps();

/// How close a compiled result must be to the interpreter's: relative 1e-5,
/// absolute 1e-6 for floats (NaN equals NaN), exact for other dtypes.
struct Tolerance {
  double rel = 1e-5;
  double abs = 1e-6;
};

/// The first difference between `got` and `want` beyond `tol`, described
/// ("result 1 (f32[3,4]) element 5: got 0.25, want 0.5"), or nullopt.
std::optional<std::string> compareResults(std::span<const ir::HostTensor> got,
                                          std::span<const ir::HostTensor> want,
                                          const Tolerance &tol = {});

/// The graph as IR text, preceded by a comment with the `kiln run` command
/// (inputs as literals, printed exactly) that reproduces the run.
std::string describeGraph(const RandomGraph &g);

} // namespace kiln::tool
