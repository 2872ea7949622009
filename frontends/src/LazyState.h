//===- LazyState.h - The state behind lazy execution (internal) -*- C++ -*-===//
#pragma once

#include "Lazy.h"
#include "StructureKey.h"
#include "kiln/runtime/Program.h"

#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

namespace kiln::detail {

/// A step structure in the program cache.
class CachedStep : public std::enable_shared_from_this<CachedStep> {
public:
  /// The function as recorded (its parameters and results are what a run binds).
  ir::Function fn{"step"};
  /// Compiled once the structure was seen often enough (see compile_after).
  std::shared_ptr<runtime::Program> program;
  int64_t sightings = 0;
  /// Hash of the structure without types and attributes, to explain recompiles.
  uint64_t structureKey = 0;
  /// The exact structure (see StructureKey): a flush hits this entry only
  /// when its key is equal, so a hit never builds or hashes a function.
  StructureKey key;
  /// Per result of the optimised program: the parameter it is a view of, or -1.
  std::vector<int> resultParam;
};

struct LazyState {
  /// Bounded: a program that builds ever new structures must not grow it forever.
  static constexpr size_t kMaxEntries = 256;

  /// Storages given a pending value since the last flush (may have died since).
  std::vector<std::weak_ptr<Storage>> queue;
  size_t compactAt = 1024;
  int64_t opsSinceFlush = 0;
  /// The program cache, by the hash of the step's StructureKey.
  std::unordered_map<uint64_t, std::shared_ptr<CachedStep>> cache;
  /// The last compiled step of each structure key (for the recompile reason).
  std::unordered_map<uint64_t, std::shared_ptr<CachedStep>> byStructure;
  std::shared_ptr<CachedStep> last;
  StepCacheStats stats;
};

LazyState &lazyState();

} // namespace kiln::detail
