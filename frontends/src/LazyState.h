//===- LazyState.h - The state behind lazy execution (internal) -*- C++ -*-===//
#pragma once

#include "Lazy.h"
#include "StepCache.h"

#include <memory>
#include <unordered_map>
#include <vector>

namespace kiln::detail {

struct LazyState {
  /// Storages given a pending value since the last flush (may have died since).
  std::vector<std::weak_ptr<Storage>> queue;
  size_t compactAt = 1024;
  int64_t opsSinceFlush = 0;
  /// The program cache (bounded: a program that builds ever new structures
  /// must not grow it forever).
  StepCache cache;
  /// The last compiled step of each structure key, while it is cached (for
  /// the recompile reason).
  std::unordered_map<uint64_t, std::weak_ptr<CachedStep>> byStructure;
  std::shared_ptr<CachedStep> last;
  StepCacheStats stats;
};

LazyState &lazyState();

} // namespace kiln::detail
