//===- PlanVerify.cpp - Checking a memory plan ----------------------------===//
//
// Independent of how the planner chose offsets: it only checks what a
// correct plan guarantees, so the tests can run it on any graph.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/MemoryPlan.h"

#include <fmt/format.h>

#include <algorithm>

namespace kiln::compiler {

using namespace kiln::ir;

namespace {

[[noreturn]] void fail(const Function &f, const std::string &what) {
  throw Error(ErrorKind::Internal, fmt::format("memory plan of @{}: {}", f.name(), what));
}

/// The value whose buffer `v` views (following reshapes, not in-place steps).
ValueId viewRoot(const MemoryPlan &plan, ValueId v) {
  while (plan.at(v).sharesWith.valid() && !plan.at(v).inPlace)
    v = plan.at(v).sharesWith;
  return v;
}

bool liveTogether(const ValuePlacement &a, const ValuePlacement &b) {
  return a.def <= b.lastUse && b.def <= a.lastUse;
}

bool bytesOverlap(const ValuePlacement &a, const ValuePlacement &b) {
  return a.bytes > 0 && b.bytes > 0 && a.offset < b.offset + b.bytes &&
         b.offset < a.offset + a.bytes;
}

/// Whether `b` is written in place over `a`'s view group exactly when that
/// group dies.
bool overwritesAtDeath(const MemoryPlan &plan, ValueId a, ValueId b) {
  ValueId br = viewRoot(plan, b);
  const ValuePlacement &bp = plan.at(br);
  return bp.inPlace && viewRoot(plan, bp.sharesWith) == viewRoot(plan, a) &&
         plan.at(a).lastUse == bp.def;
}

void checkSlot(const Function &f, const MemoryPlan &plan, ValueId v) {
  const ValuePlacement &p = plan.at(v);
  if (p.offset % kPlanAlignment != 0 || p.offset < 0 || p.offset + p.bytes > plan.arenaBytes)
    fail(f, fmt::format("value {} at [{}, {}) is misaligned or outside the arena of {} bytes", v.id,
                        p.offset, p.offset + p.bytes, plan.arenaBytes));
  if (p.sharesWith.valid() &&
      (plan.at(p.sharesWith).offset != p.offset || plan.at(p.sharesWith).storage != Storage::Arena))
    fail(f, fmt::format("value {} shares the buffer of value {} at another place", v.id,
                        p.sharesWith.id));
  if (p.inPlace &&
      (plan.at(p.sharesWith).bytes != p.bytes || plan.at(p.sharesWith).lastUse != p.def))
    fail(f, fmt::format("value {} is in place over value {}, which is still live or of "
                        "another size",
                        v.id, p.sharesWith.id));
}

} // namespace

void verifyMemoryPlan(const Function &f, const MemoryPlan &plan) {
  if (plan.values.size() != f.numValues())
    fail(f, "not one placement per value");
  std::vector<ValueId> arena;
  for (size_t i = 0; i < f.numValues(); ++i) {
    ValueId v{int32_t(i)};
    const ValuePlacement &p = plan.at(v);
    if ((p.storage == Storage::Param) != f.isParam(viewRoot(plan, v)))
      fail(f, fmt::format("value {}: its storage disagrees with whether it is a "
                          "parameter (or a view of one)",
                          i));
    if (p.storage == Storage::Arena) {
      checkSlot(f, plan, v);
      arena.push_back(v);
    }
  }
  for (ValueId r : f.results())
    if (plan.at(r).storage == Storage::Arena && plan.at(r).lastUse != int32_t(f.nodes().size()))
      fail(f, fmt::format("result value {} is not live to the end", r.id));
  // Sweep in order of definition: each value meets only the values still live.
  std::stable_sort(arena.begin(), arena.end(),
                   [&](ValueId a, ValueId b) { return plan.at(a).def < plan.at(b).def; });
  std::vector<ValueId> active;
  for (ValueId v : arena) {
    const ValuePlacement &pv = plan.at(v);
    std::erase_if(active, [&](ValueId u) { return plan.at(u).lastUse < pv.def; });
    for (ValueId u : active) {
      const ValuePlacement &pu = plan.at(u);
      if (!liveTogether(pu, pv) || !bytesOverlap(pu, pv))
        continue;
      if (viewRoot(plan, u) == viewRoot(plan, v) || overwritesAtDeath(plan, u, v) ||
          overwritesAtDeath(plan, v, u))
        continue;
      fail(f, fmt::format("values {} and {} are live together (nodes [{}, {}] and [{}, {}]) "
                          "and overlap in the arena",
                          u.id, v.id, pu.def, pu.lastUse, pv.def, pv.lastUse));
    }
    active.push_back(v);
  }
}

} // namespace kiln::compiler
