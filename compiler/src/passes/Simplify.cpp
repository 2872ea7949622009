//===- Simplify.cpp - Folding, identities, CSE and DCE --------------------===//
//
// One sweep rebuilds the function front to back: each node, with operands
// already mapped into the new function, is replaced by a simpler existing
// value, folded to a constant, merged with an identical earlier node, or
// copied. Sweeps repeat until nothing changes; DCE then drops the leftovers.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/Rebuild.h"
#include "kiln/compiler/DeadCode.h"
#include "kiln/compiler/Simplify.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"

#include <unordered_map>

namespace kiln::compiler {

using namespace kiln::ir;

namespace {

/// A node of the source function, its operands mapped into the new function.
struct Candidate {
  const Node &node;
  std::vector<ValueId> operands;
  const TensorType &type;
  /// Whether the node is the only user of its first operand (in the source).
  bool soleUserOfFirstOperand = false;
};

const HostTensor *constantValue(const Function &g, ValueId v) {
  if (g.isParam(v) || g.defOf(v).op != OpKind::Constant)
    return nullptr;
  return &g.defOf(v).attrs.getDense("value");
}

bool isSplatOf(const Function &g, ValueId v, double x) {
  const HostTensor *c = constantValue(g, v);
  return c && c->isSplat() && c->get(0) == x;
}

/// The operand if it is produced by `op`, else null.
const Node *producedBy(const Function &g, ValueId v, OpKind op) {
  if (g.isParam(v) || g.defOf(v).op != op)
    return nullptr;
  return &g.defOf(v);
}

/// x op e == x when e is the identity element and x already has the result type.
std::optional<ValueId> dropIdentityOperand(const Function &g, const Candidate &c,
                                           double identity, bool commutative) {
  ValueId a = c.operands[0], b = c.operands[1];
  if (isSplatOf(g, b, identity) && g.type(a) == c.type)
    return a;
  if (commutative && isSplatOf(g, a, identity) && g.type(b) == c.type)
    return b;
  return std::nullopt;
}

std::optional<ValueId> composeTransposes(Builder &b, const Candidate &c) {
  const Function &g = b.function();
  const IntList &outer = c.node.attrs.getInts("perm");
  ValueId x = c.operands[0];
  IntList perm = outer;
  if (const Node *inner = producedBy(g, x, OpKind::Transpose)) {
    const IntList &p1 = inner->attrs.getInts("perm");
    for (size_t i = 0; i < perm.size(); ++i)
      perm[i] = p1[size_t(outer[i])];
    x = inner->operands[0];
  }
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i)
    identity = identity && perm[i] == int64_t(i);
  if (identity)
    return x;
  if (x == c.operands[0])
    return std::nullopt;
  return b.transpose(x, perm);
}

/// (a @ b)^T = b^T @ a^T for 2-D operands. The transposes move onto the
/// operands, where they cancel with transposes already there (the weight
/// gradient x^T @ dy of a Linear layer is transposed back to the weight's
/// layout) or become strides of the fused matmul: either way no transpose
/// kernel is left. Only when the matmul has no other user, so it is not
/// computed twice.
std::optional<ValueId> transposeMatmulOperands(Builder &b, const Candidate &c) {
  const Function &g = b.function();
  const Node *mm = producedBy(g, c.operands[0], OpKind::Matmul);
  if (!mm || !c.soleUserOfFirstOperand || c.node.attrs.getInts("perm") != IntList{1, 0} ||
      g.type(mm->operands[0]).shape.rank() != 2)
    return std::nullopt;
  ValueId rhsT = b.transpose(mm->operands[1], {1, 0});
  return b.matmul(rhsT, b.transpose(mm->operands[0], {1, 0}));
}

/// Algebraic identities; may build a replacement with `b`.
std::optional<ValueId> applyIdentities(Builder &b, const Candidate &c,
                                       const SimplifyOptions &options) {
  const Function &g = b.function();
  ValueId x = c.operands.empty() ? ValueId{} : c.operands[0];
  switch (c.node.op) {
  case OpKind::Add: return dropIdentityOperand(g, c, 0, true);
  case OpKind::Sub: return dropIdentityOperand(g, c, 0, false);
  case OpKind::Mul: return dropIdentityOperand(g, c, 1, true);
  case OpKind::Div: return dropIdentityOperand(g, c, 1, false);
  case OpKind::Neg:
    if (const Node *inner = producedBy(g, x, OpKind::Neg))
      return inner->operands[0];
    return std::nullopt;
  case OpKind::Cast:
  case OpKind::BroadcastTo:
    if (g.type(x) == c.type)
      return x;
    if (const HostTensor *k = constantValue(g, x);
        c.node.op == OpKind::BroadcastTo && k && k->isSplat() &&
        c.type.shape.numel() <= options.maxFoldElements) {
      HostTensor splat(c.type);
      for (int64_t i = 0; i < splat.numel(); ++i)
        splat.set(i, k->get(0));
      return b.constant(std::move(splat));
    }
    return std::nullopt;
  case OpKind::Reshape:
    if (const Node *inner = producedBy(g, x, OpKind::Reshape))
      x = inner->operands[0];
    if (g.type(x) == c.type)
      return x;
    if (x != c.operands[0])
      return b.reshape(x, c.type.shape);
    return std::nullopt;
  case OpKind::Transpose:
    if (auto swapped = transposeMatmulOperands(b, c))
      return swapped;
    return composeTransposes(b, c);
  default: return std::nullopt;
  }
}

/// Evaluates a node whose operands are all constants, if small enough.
std::optional<ValueId> foldConstant(Builder &b, const Candidate &c,
                                    const SimplifyOptions &options) {
  if (c.node.op == OpKind::Constant || c.type.shape.numel() > options.maxFoldElements)
    return std::nullopt;
  std::vector<const HostTensor *> values;
  for (ValueId v : c.operands) {
    const HostTensor *k = constantValue(b.function(), v);
    if (!k)
      return std::nullopt;
    values.push_back(k);
  }
  HostTensor result(c.type);
  try {
    evalNode(c.node, values, result);
  } catch (const Error &) {
    return std::nullopt; // e.g. a label out of range: leave it to fail at run time
  }
  return b.constant(std::move(result));
}

/// Finds an identical node already in the new function.
class NodeTable {
public:
  explicit NodeTable(const Function &g) : g_(g) {}

  std::optional<ValueId> find(const Candidate &c) const {
    auto [lo, hi] = table_.equal_range(key(c));
    for (auto it = lo; it != hi; ++it) {
      const Node &n = g_.nodes()[it->second];
      if (n.op == c.node.op && n.operands == c.operands && n.results.size() == 1 &&
          g_.type(n.result()) == c.type && n.attrs == c.node.attrs)
        return n.result();
    }
    return std::nullopt;
  }
  void insert(const Candidate &c, size_t node) { table_.emplace(key(c), node); }

private:
  static uint64_t key(const Candidate &c) {
    uint64_t h = uint64_t(c.node.op) * 0x9E3779B97F4A7C15ull;
    for (ValueId v : c.operands)
      h = (h ^ uint64_t(v.id)) * 0x100000001B3ull;
    return h;
  }
  const Function &g_;
  std::unordered_multimap<uint64_t, size_t> table_;
};

struct SweepFlags {
  bool identities = true;
  bool fold = true;
};

/// A replaced value's name moves to its unnamed replacement, so that the
/// optimised IR still says `%weight_grad` where the program named it.
void keepName(Function &g, ValueId replacement, const std::string &name) {
  std::string &now = g.value(replacement).name;
  if (now.empty() && !name.empty() && !g.isParam(replacement))
    now = name;
}

/// One front-to-back rebuild. Sets `changed` when anything was replaced;
/// `map` receives the new value of each value of `f`.
Function sweep(const Function &f, const SimplifyOptions &options, SweepFlags flags, bool &changed,
               std::vector<ValueId> &map) {
  Function g = startRebuild(f, map);
  Builder b(g);
  NodeTable cse(g);
  std::vector<int> uses(f.numValues(), 0);
  for (const Node &n : f.nodes())
    for (ValueId v : n.operands)
      ++uses[size_t(v.id)];
  for (ValueId r : f.results())
    ++uses[size_t(r.id)];
  for (const Node &n : f.nodes()) {
    std::vector<ValueId> operands;
    for (ValueId v : n.operands)
      operands.push_back(map[size_t(v.id)]);
    if (n.body) { // kernels made by fuse are kept as they are
      cloneNode(g, f, n, operands, map);
      continue;
    }
    bool soleUser = !n.operands.empty() && uses[size_t(n.operands[0].id)] == 1;
    Candidate c{n, std::move(operands), f.type(n.result()), soleUser};
    b.setLoc(n.loc);
    std::optional<ValueId> replacement;
    if (flags.identities)
      replacement = applyIdentities(b, c, options);
    if (!replacement && flags.fold)
      replacement = foldConstant(b, c, options);
    if (!replacement)
      replacement = cse.find(c);
    if (replacement) {
      changed = true;
      map[size_t(n.result().id)] = *replacement;
      keepName(g, *replacement, f.value(n.result()).name);
      continue;
    }
    cse.insert(c, cloneNode(g, f, n, c.operands, map));
  }
  finishRebuild(g, f, map);
  return g;
}

} // namespace

Function eliminateCommonSubexpressions(const Function &f) {
  bool changed = false;
  std::vector<ValueId> map;
  return eliminateDeadCode(sweep(f, {}, {.identities = false, .fold = false}, changed, map));
}

Function simplifyMapping(const Function &f, std::vector<ValueId> &map,
                         const SimplifyOptions &options) {
  map.resize(f.numValues());
  for (size_t v = 0; v < map.size(); ++v)
    map[v] = ValueId{int32_t(v)};
  Function g = f;
  std::vector<ValueId> swept, kept;
  // Each sweep strictly shrinks or rewrites toward fewer nodes; the bound is
  // a guard against a rule pair that undoes each other.
  for (int round = 0; round < 32; ++round) {
    bool changed = false;
    g = eliminateDeadCodeMapping(sweep(g, options, {}, changed, swept), kept);
    composeMapping(map, swept);
    composeMapping(map, kept);
    if (!changed)
      break;
  }
  return g;
}

Function simplify(const Function &f, const SimplifyOptions &options) {
  std::vector<ValueId> map;
  return simplifyMapping(f, map, options);
}

} // namespace kiln::compiler
