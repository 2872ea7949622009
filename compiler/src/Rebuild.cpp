//===- Rebuild.cpp --------------------------------------------------------===//
#include "kiln/compiler/Rebuild.h"

namespace kiln::compiler {

using namespace kiln::ir;

Function startRebuild(const Function &from, std::vector<ValueId> &map) {
  Function to(from.name());
  to.loc = from.loc;
  map.assign(from.numValues(), ValueId{});
  for (ValueId p : from.params())
    map[size_t(p.id)] = to.addParam(from.type(p), from.value(p).name);
  return to;
}

void finishRebuild(Function &to, const Function &from, const std::vector<ValueId> &map) {
  std::vector<ValueId> results;
  for (ValueId r : from.results())
    results.push_back(map[size_t(r.id)]);
  to.setResults(std::move(results));
  to.resultLocs = from.resultLocs;
}

size_t cloneNode(Function &to, const Function &from, const Node &n, std::vector<ValueId> operands,
                 std::vector<ValueId> &map) {
  std::vector<TensorType> types;
  for (ValueId r : n.results)
    types.push_back(from.type(r));
  size_t k = to.appendNode(n.op, std::move(operands), n.attrs, std::move(types), n.loc, n.body);
  for (size_t i = 0; i < n.results.size(); ++i) {
    ValueId r = to.nodes()[k].results[i];
    to.value(r).name = from.value(n.results[i]).name;
    map[size_t(n.results[i].id)] = r;
  }
  return k;
}

size_t cloneNode(Function &to, const Function &from, const Node &n, std::vector<ValueId> &map) {
  std::vector<ValueId> operands;
  for (ValueId v : n.operands)
    operands.push_back(map[size_t(v.id)]);
  return cloneNode(to, from, n, std::move(operands), map);
}

void composeMapping(std::vector<ValueId> &map, const std::vector<ValueId> &next) {
  for (ValueId &v : map)
    if (v.valid())
      v = next[size_t(v.id)];
}

} // namespace kiln::compiler
