//===- LazyState.h - The state behind lazy execution (internal) -*- C++ -*-===//
#pragma once

#include "Lazy.h"
#include "StepCache.h"
#include "StepRecording.h"
#include "kiln/Step.h"

#include <memory>
#include <unordered_map>
#include <vector>

namespace kiln::detail {

/// The settings of kiln/Step.h, per thread like the state they steer.
struct StepSettings {
  Execution mode;
  int compileAfter;
  bool checkNumerics;
};
/// What a new thread starts from: KILN_BACKEND, KILN_COMPILE_AFTER,
/// KILN_CHECK_NUMERICS.
StepSettings settingsFromEnvironment();

/// The lists of one flush, kept so that a steady step reuses their memory.
struct FlushScratch {
  FlushRecord record;
  RecordedValues recorded;
  std::vector<int32_t> resultPositions;
  /// The step's key, built on the full path only.
  StructureKey key;
  std::vector<ir::HostTensor> inputs, outputs;
  bool inUse = false;
  /// Empties the lists (keeping their memory): drops every reference.
  void clear();
};

struct LazyState {
  StepSettings settings = settingsFromEnvironment();
  /// Storages given a pending value since the last flush. One that only
  /// the queue holds (use_count 1) is a value no tensor holds, which the
  /// flush passes over; a pending storage has no buffer of its own yet, so
  /// keeping it until then costs its object only. (Held, not weak: a weak
  /// pointer's lock() is an atomic compare-exchange even on one thread.)
  std::vector<std::shared_ptr<Storage>> queue;
  size_t compactAt = 1024;
  int64_t opsSinceFlush = 0;
  /// The values recorded since the last flush.
  StepRecording recording;
  /// The program cache (bounded: a program that builds ever new structures
  /// must not grow it forever).
  StepCache cache;
  /// The last compiled step of each structure key, while it is cached (for
  /// the recompile reason).
  std::unordered_map<uint64_t, std::weak_ptr<CachedStep>> byStructure;
  std::shared_ptr<CachedStep> last;
  /// The epoch of the recording whose flush found `last`.
  uint64_t lastEpoch = 0;
  StepCacheStats stats;
  FlushScratch scratch;
};

/// This thread's state (several reads per recorded op: kept cheap to reach).
LazyState &lazyState();

} // namespace kiln::detail
