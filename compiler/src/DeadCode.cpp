//===- DeadCode.cpp - Dead-code elimination -------------------------------===//
#include "kiln/compiler/DeadCode.h"
#include "kiln/compiler/Rebuild.h"

namespace kiln::compiler {

using namespace kiln::ir;

Function eliminateDeadCode(const Function &f) {
  std::vector<ValueId> map;
  return eliminateDeadCodeMapping(f, map);
}

Function eliminateDeadCodeMapping(const Function &f, std::vector<ValueId> &map) {
  std::vector<bool> live(f.numValues(), false);
  for (ValueId r : f.results())
    live[size_t(r.id)] = true;
  std::vector<bool> keep(f.nodes().size(), false);
  for (size_t i = f.nodes().size(); i-- > 0;) {
    const Node &n = f.nodes()[i];
    for (ValueId r : n.results)
      keep[i] = keep[i] || live[size_t(r.id)];
    if (keep[i])
      for (ValueId v : n.operands)
        live[size_t(v.id)] = true;
  }

  Function g = startRebuild(f, map);
  for (size_t i = 0; i < f.nodes().size(); ++i)
    if (keep[i])
      cloneNode(g, f, f.nodes()[i], map);
  finishRebuild(g, f, map);
  return g;
}

} // namespace kiln::compiler
