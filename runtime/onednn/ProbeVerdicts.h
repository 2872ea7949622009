//===- ProbeVerdicts.h - The matmul probe's verdicts on disk ----*- C++ -*-===//
//
// Private to runtime/onednn. When a matmul cut into tiles is created, kiln
// probes whether its untiled primitive gives the tiles' bits (OneDnn.cpp),
// which executes every primitive once; oneDNN generates a primitive's code on
// its first execution, ~20 ms for the tiles of the MNIST MLP's 784x128 layer,
// which a run on one thread never executes otherwise. The verdict is kept in
// the disk cache (runtime/cache, files `*.kprobe`) under everything that
// decides it, so that a new process creating the same matmul on the same
// machine takes the verdict instead of probing.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "MatmulTiles.h"

#include <optional>
#include <span>
#include <string>

namespace kiln::runtime::onednn::detail {

/// Everything the probe's verdict depends on: the product (`product`, its
/// description), its cut, the implementation oneDNN chose for each of
/// `primitives`, oneDNN's version and instruction set, the CPU (model and
/// cache sizes, by which oneDNN blocks), kiln's version and the probe's
/// revision.
std::string probeIdentity(const std::string &product, const MatmulTiles &tiles,
                          std::span<const BoundPrimitive *const> primitives);

/// The verdict stored for `identity` in $KILN_CACHE_DIR (see
/// cache::resolveCacheDir), if any.
std::optional<bool> storedVerdict(const std::string &identity);
/// Stores a verdict; a failure to write is ignored (the next process probes).
void storeVerdict(const std::string &identity, bool wholeMatchesTiles);

} // namespace kiln::runtime::onednn::detail
