//===- DeadCode.cpp - Dead-code elimination -------------------------------===//
#include "kiln/compiler/DeadCode.h"
#include "kiln/compiler/CloneNode.h"

namespace kiln::compiler {

using namespace kiln::ir;

Function eliminateDeadCode(const Function &f) {
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

  Function g(f.name());
  g.loc = f.loc;
  std::vector<ValueId> map(f.numValues());
  for (ValueId p : f.params())
    map[size_t(p.id)] = g.addParam(f.type(p), f.value(p).name);
  for (size_t i = 0; i < f.nodes().size(); ++i) {
    if (!keep[i])
      continue;
    cloneNode(g, f, f.nodes()[i], map);
  }
  std::vector<ValueId> results;
  for (ValueId r : f.results())
    results.push_back(map[size_t(r.id)]);
  g.setResults(std::move(results));
  g.resultLocs = f.resultLocs;
  return g;
}

} // namespace kiln::compiler
