//===- OpFamilies.h - The op table, by family (internal) --------*- C++ -*-===//
//
// Each family file defines its OpDefs in one constexpr array; OpTable.cpp
// indexes them by kind. To add an op: a line in Ops.def, an OpDef in the
// family that fits, and its tests.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/OpDef.h"

#include <span>

namespace kiln::ir::ops {
std::span<const OpDef> sourceOps();      // constant
std::span<const OpDef> elementwiseOps(); // arithmetic, unary math, compare, select, cast
std::span<const OpDef> layoutOps();      // reshape, transpose, broadcast_to
std::span<const OpDef> reductionOps();   // reduce_sum/mean/max, argmax
std::span<const OpDef> nnOps();          // matmul, softmax, log_softmax, one_hot
std::span<const OpDef> regionOps();      // fused
} // namespace kiln::ir::ops
