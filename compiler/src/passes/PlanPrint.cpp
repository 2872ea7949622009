//===- PlanPrint.cpp - The memory plan as a table, and the plan pass ------===//
#include "kiln/ir/ValueNames.h"
#include "kiln/compiler/MemoryPlan.h"

#include <fmt/format.h>

namespace kiln::compiler {

using namespace kiln::ir;

namespace {

std::string liveRange(const ValuePlacement &p, int32_t numNodes) {
  std::string def = p.def < 0 ? "in" : std::to_string(p.def);
  std::string last = p.lastUse >= numNodes ? "end"
                     : p.lastUse < 0       ? "-"
                                           : std::to_string(p.lastUse);
  return fmt::format("[{}, {}]", def, last);
}

/// How the value got its bytes: "new", "reuses %a", "in-place on %a", "view of %a", ...
std::string origin(const ValuePlacement &p, const std::vector<std::string> &names) {
  auto name = [&](ValueId v) { return "%" + names[size_t(v.id)]; };
  switch (p.storage) {
  case Storage::Param:
    return p.sharesWith.valid() ? "view of " + name(p.sharesWith) : "parameter";
  case Storage::Constant:
    return p.sharesWith.valid() ? "view of " + name(p.sharesWith) : "constant";
  case Storage::Arena:
    break;
  }
  if (p.inPlace)
    return "in-place on " + name(p.sharesWith);
  if (p.sharesWith.valid())
    return "view of " + name(p.sharesWith);
  return p.reuses.valid() ? "reuses " + name(p.reuses) : "new";
}

} // namespace

std::string printMemoryPlan(const Function &f, const MemoryPlan &plan) {
  std::vector<std::string> names = text::valueNames(f);
  auto numNodes = int32_t(f.nodes().size());
  std::string out = fmt::format("// memory plan of @{}\n", text::functionName(f));
  out += fmt::format("// {:<14} {:<18} {:>10} {:>10}  {:<12} {}\n", "value", "type", "bytes",
                     "offset", "live", "slot");
  for (size_t i = 0; i < f.numValues(); ++i) {
    const ValuePlacement &p = plan.values[i];
    std::string offset = p.storage == Storage::Arena ? std::to_string(p.offset) : "-";
    out += fmt::format("// {:<14} {:<18} {:>10} {:>10}  {:<12} {}\n", "%" + names[i],
                       f.type(ValueId{int32_t(i)}).str(), p.bytes, offset, liveRange(p, numNodes),
                       origin(p, names));
  }
  out += fmt::format("// peak: {} bytes (without reuse: {} bytes)\n", plan.arenaBytes,
                     plan.bytesWithoutReuse);
  for (size_t k = 0; k < plan.resultMayOverwrite.size(); ++k)
    if (ValueId p = plan.resultMayOverwrite[k]; p.valid())
      out += fmt::format("// result {} (%{}) may be written into %{}'s buffer\n", k,
                         names[size_t(f.results()[k].id)], names[size_t(p.id)]);
  return out;
}

} // namespace kiln::compiler
