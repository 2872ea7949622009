//===- MemoryPlan.h - Liveness-based buffer assignment ----------*- C++ -*-===//
//
// Every intermediate value of a function gets a slot (offset, bytes) in one
// arena. A slot is reused once its value is dead, a reshape views its
// operand's slot, and an elementwise kernel may write its result over an
// operand that dies there (in place). Parameters and constants live outside
// the arena; results are never overwritten.
//
// The in-place rule is the one the JIT's loop kernels can honour although
// their buffers are declared noalias: the kernel is a loop kernel (all its
// ops have a scalar expression), every use of the donated buffer by the
// kernel reads element i where the result writes element i (same element
// count and size), the result depends on those reads, so each element is
// read before it is written, and no other result of the kernel reads the
// buffer (LLVM may order another result's loads after this result's stores).
// Matmuls, softmax and reference kernels never share a buffer with their
// operands.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::compiler {

/// Arena slots start at multiples of this many bytes.
inline constexpr int64_t kPlanAlignment = 64;

/// Where one value of a function lives.
enum class Storage {
  Param,    ///< bound to an input at run time
  Constant, ///< the constant's own storage
  Arena,    ///< a slot of the arena
};

struct ValuePlacement {
  Storage storage = Storage::Arena;
  /// Byte offset in the arena (Arena only).
  int64_t offset = 0;
  /// The value's own size in bytes.
  int64_t bytes = 0;
  /// Node index defining the value (-1 for a parameter) and the last node
  /// index that reads its buffer (through any reshape view); a returned value
  /// is live to the end, numNodes.
  int32_t def = -1, lastUse = -1;
  /// The value whose buffer this one shares from the start: the reshape's
  /// operand (a view) or the operand it overwrites (in place); else invalid.
  ir::ValueId sharesWith;
  bool inPlace = false;
  /// For an arena value with a fresh slot: an earlier, dead value whose slot
  /// bytes this one reuses (the latest such), if any.
  ir::ValueId reuses;
};

struct MemoryPlan {
  /// One entry per value id of the planned function.
  std::vector<ValuePlacement> values;
  /// Arena size, the plan's peak: at least the largest sum of aligned slots
  /// live at one node (equal to it unless placement leaves holes).
  int64_t arenaBytes = 0;
  /// What the arena would need without reuse, views or in-place updates:
  /// every materialised value its own aligned slot.
  int64_t bytesWithoutReuse = 0;
  /// Per result of the function: a parameter whose buffer the result may be
  /// written into by the kernel that computes it (the in-place rule above,
  /// with the parameter as the donor: that kernel is its last reader), so
  /// that a caller passing that parameter's buffer as the result's output
  /// (an optimizer's `w -= lr * grad`) needs no copy; else invalid.
  std::vector<ir::ValueId> resultMayOverwrite;

  const ValuePlacement &at(ir::ValueId v) const { return values.at(size_t(v.id)); }
};

/// Plans the buffers of `f` (verified; typically fused). Nodes run in the
/// order given; the plan does not reorder them.
MemoryPlan planMemory(const ir::Function &f);

/// Throws Error(Internal) unless `plan` is a valid plan for `f`: every arena
/// slot is aligned and inside the arena, and two values whose live ranges
/// overlap never share bytes unless one is a view of the other or an in-place
/// result of it.
void verifyMemoryPlan(const ir::Function &f, const MemoryPlan &plan);

/// A readable table: value, type, bytes, offset, live range and how the slot
/// was obtained, then `peak: N bytes (without reuse: M bytes)`. Every line
/// starts with `// `, so printed IR followed by its plan still parses.
std::string printMemoryPlan(const ir::Function &f, const MemoryPlan &plan);

} // namespace kiln::compiler
