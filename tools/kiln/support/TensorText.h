//===- TensorText.h - Tensors as command-line text --------------*- C++ -*-===//
//
// How `kiln run` reads tensor literals from the command line and prints
// results: `[[1, 2], [3, 4]]` in, `[[1, 2], [3, 4]]` out.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/HostTensor.h"

#include <string>
#include <string_view>

namespace kiln::tool {

/// Parses a literal such as `1,2,3`, `[[1, 2], [3, 4]]`, `-inf` or `true` into
/// a tensor of `type`. Brackets are optional and only checked for balance:
/// the values are taken in row-major order and must number exactly
/// type.shape.numel(), or one value that fills the whole tensor. Values must
/// fit the dtype exactly (no fractions for integers, 0..255 for u8, 0/1 or
/// true/false for bool). Throws Error(Usage) whose message starts with
/// `what`, e.g. "input %x (f32[2,2])".
ir::HostTensor parseTensorLiteral(std::string_view text, const ir::TensorType &type,
                                  std::string_view what);

/// One element as printed: integers as such, floats with up to 4 decimals
/// (trailing zeros trimmed), tiny or huge floats in scientific notation,
/// `nan`, `inf`, `-inf`, and `true`/`false` for bool.
std::string formatElement(double v, ir::DType dtype);

struct FormatOptions {
  /// Tensors with more elements are summarised with "..." (as PyTorch does).
  int64_t summarizeAbove = 1000;
  /// Elements shown at each end of a summarised dimension.
  int64_t edgeItems = 3;
};

/// The nested-list text of `t` on one line, e.g. `[[1, 2.5], [3, 4]]`; a
/// rank-0 tensor prints as its element.
std::string formatTensor(const ir::HostTensor &t, const FormatOptions &opts = {});

} // namespace kiln::tool
