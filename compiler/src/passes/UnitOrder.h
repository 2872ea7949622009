//===- UnitOrder.h - Topological order of rewritten units (internal) -*- C++ -*-===//
//
// The fusion passes replace groups of nodes by single units (kernels) and must
// emit the units in an order where every operand is defined first. They keep
// the original order wherever the dependences allow it.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Error.h"

#include <functional>
#include <queue>
#include <set>
#include <utility>
#include <vector>

namespace kiln::compiler {

/// Kahn's algorithm over units 0..n-1 given each unit's predecessors; among
/// the ready units the one with the lowest `position` comes first. Throws an
/// internal Error with `cycleError` when the units form a cycle.
inline std::vector<int> orderUnits(const std::vector<std::set<int>> &preds,
                                   const std::vector<size_t> &position, const char *cycleError) {
  size_t n = preds.size();
  std::vector<std::vector<int>> succs(n);
  std::vector<size_t> waiting(n);
  for (size_t u = 0; u < n; ++u) {
    waiting[u] = preds[u].size();
    for (int p : preds[u])
      succs[size_t(p)].push_back(int(u));
  }
  using Entry = std::pair<size_t, int>; // (position, unit)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> ready;
  for (size_t u = 0; u < n; ++u)
    if (waiting[u] == 0)
      ready.push({position[u], int(u)});
  std::vector<int> order;
  while (!ready.empty()) {
    int u = ready.top().second;
    ready.pop();
    order.push_back(u);
    for (int s : succs[size_t(u)])
      if (--waiting[size_t(s)] == 0)
        ready.push({position[size_t(s)], s});
  }
  check(order.size() == n, cycleError);
  return order;
}

} // namespace kiln::compiler
