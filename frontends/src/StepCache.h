//===- StepCache.h - One thread's program cache (internal) ------*- C++ -*-===//
#pragma once

#include "SmallList.h"
#include "StructureKey.h"
#include "kiln/runtime/Program.h"

#include <list>
#include <memory>
#include <optional>
#include <unordered_map>

namespace kiln::detail {

struct RegionBody;

/// One value of a step as it was recorded (see StepRecording.h): what the
/// value recorded at the same position of a later step is compared with.
struct ScriptValue {
  ir::OpKind op = ir::OpKind::Constant;
  bool isLeaf = false;
  bool literal = false;
  ir::TensorType type;
  ir::AttrList attrs;
  /// A recorded region's body and a region result's index (GraphNode).
  std::shared_ptr<const RegionBody> body;
  int32_t result = 0;
  /// Positions of the operands in the recording.
  SmallList<int32_t, 3> operands;
};

/// A step structure in the program cache.
class CachedStep : public std::enable_shared_from_this<CachedStep> {
public:
  /// The function as recorded (its parameters and results are what a run binds).
  ir::Function fn{"step"};
  /// Compiled once the structure was seen often enough (see compile_after).
  std::shared_ptr<runtime::Program> program;
  int64_t sightings = 0;
  /// The reference interpreter's estimated time for `fn`, once asked for.
  std::optional<double> interpretSeconds;
  /// Hash of the structure without types and attributes, to explain recompiles.
  uint64_t structureKey = 0;
  /// The exact structure (see StructureKey): a flush hits this entry only
  /// when its key is equal, so a hit never builds or hashes a function.
  StructureKey key;
  /// The recording it was built from, value by value (dead values too):
  /// the next step is compared with it as it is recorded.
  std::vector<ScriptValue> script;
  /// The recorded positions of the function's parameters and results.
  std::vector<int32_t> paramPositions, resultPositions;
  /// Where its first recording left the step that ran before it (for
  /// KILN_LOG=recompile; empty when not logging).
  std::string leftLastStep;
  /// Per result of the optimised program: the parameter it is a view of, or -1.
  std::vector<int> resultParam;
};

/// Steps by exact structure, bounded: past the capacity the least recently
/// used step is evicted, and with its Program go its JIT kernels (unloaded
/// when no other program uses them). An evicted structure's sightings are
/// remembered, so that one seen again compiles instead of starting over as
/// a one-off (a cycle longer than the capacity would otherwise be
/// interpreted forever).
class StepCache {
public:
  static constexpr size_t kDefaultCapacity = 256;

  /// The step whose structure is exactly `key`, now the most recently used; or null.
  std::shared_ptr<CachedStep> find(const StructureKey &key);
  /// Adds a step built on a miss, evicting as needed.
  void add(const std::shared_ptr<CachedStep> &step);
  void setCapacity(size_t capacity);
  size_t capacity() const { return capacity_; }
  size_t size() const { return byHash_.size(); }
  int64_t evictions() const { return evictions_; }
  void clear();

private:
  using Entries = std::list<std::shared_ptr<CachedStep>>;
  void evictLeastRecentlyUsed();
  void erase(Entries::iterator it);

  /// Remembered sightings are only a hint: past this many, forget them all.
  static constexpr size_t kMaxRemembered = 1 << 16;

  size_t capacity_ = kDefaultCapacity;
  Entries lru_; ///< most recently used first
  std::unordered_map<uint64_t, Entries::iterator> byHash_;
  std::unordered_map<uint64_t, int64_t> evictedSightings_;
  int64_t evictions_ = 0;
};

} // namespace kiln::detail
