//===- Fuse.cpp - Kernel fusion -------------------------------------------===//
//
// Three steps: assign nodes to groups (matmul epilogues first, then loop
// kernels grown greedily in program order, then reductions that absorb the
// loop kernel computing their input), order the groups and the remaining
// nodes topologically, and emit each group as a `fused` node whose body holds
// copies of its members.
//
//===----------------------------------------------------------------------===//
#include "UnitOrder.h"
#include "ValueUses.h"
#include "kiln/compiler/Rebuild.h"
#include "kiln/compiler/DeadCode.h"
#include "kiln/compiler/Fuse.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace kiln::compiler {

using namespace kiln::ir;

namespace {

/// A kernel in the making; its kind goes on the fused node. Loop: elementwise
/// ops over one iteration shape. Matmul: a matmul with its epilogue (oneDNN
/// post-ops). Reduction: a loop kernel over the reduction's input shape whose
/// only output feeds the reduction, then the reduction.
struct Group {
  FusionKind kind;
  /// Iteration shape of a loop kernel; of a reduction kernel, its input's.
  Shape space;
  std::vector<size_t> members; ///< node indices, ascending
  /// Values from outside that loop-kernel members read (the kernel's inputs).
  std::set<int32_t> inputs;
};

/// A loop kernel reads at most this many inputs: LLVM's optimisation time
/// grows with the square of a function's pointer arguments (4,000 inputs took
/// 39 s), and a kernel past the bound gains nothing from one more.
constexpr size_t kMaxKernelInputs = 64;

bool isSplatConstant(const Function &f, ValueId v) {
  return !f.isParam(v) && f.defOf(v).op == OpKind::Constant &&
         f.defOf(v).attrs.getDense("value").isSplat();
}

/// An op of an elementwise fusion class, which a loop kernel computes by its
/// scalar expression.
bool isLoopOp(const Node &n) {
  FusionClass c = opDef(n.op).fusion;
  return (c == FusionClass::Elementwise || c == FusionClass::Broadcast) && !n.body;
}

const Node *producer(const Function &f, ValueId v) {
  return f.isParam(v) ? nullptr : &f.defOf(v);
}

class Partition {
public:
  Partition(const Function &f, const FusionTarget &target)
      : f_(f), target_(target), uses_(f), groupOf_(f.nodes().size(), -1) {}

  void run() {
    for (size_t i = 0; i < f_.nodes().size(); ++i)
      if (isOfClass(i, FusionClass::OutputFusable) &&
          target_.fusesMatmulEpilogue(f_, f_.nodes()[i]))
        growMatmul(i);
    for (size_t i = 0; i < f_.nodes().size(); ++i)
      if (groupOf_[i] < 0 && isLoopOp(f_.nodes()[i]))
        placeLoopNode(i);
    for (size_t i = 0; i < f_.nodes().size(); ++i)
      if (groupOf_[i] < 0 && isOfClass(i, FusionClass::Reduction) &&
          target_.fusesReduction(f_, f_.nodes()[i]))
        absorbProducer(i);
  }

  const std::vector<Group> &groups() const { return groups_; }
  int groupOf(size_t node) const { return groupOf_[node]; }

private:
  int newGroup(FusionKind kind, Shape space) {
    groups_.push_back({kind, std::move(space), {}});
    return int(groups_.size()) - 1;
  }
  void join(int g, size_t node) {
    groupOf_[node] = g;
    std::vector<size_t> &members = groups_[size_t(g)].members;
    // Nodes mostly join in program order: an append, not a sort per join.
    members.insert(std::upper_bound(members.begin(), members.end(), node), node);
  }

  /// The outside values `n` would add to loop group g's inputs.
  std::vector<int32_t> newInputs(const Node &n, int g) const {
    std::vector<int32_t> added;
    for (ValueId v : n.operands) {
      const Node *p = producer(f_, v);
      bool inside = p && groupOf_[index(*p)] == g;
      if (!inside && !groups_[size_t(g)].inputs.count(v.id) &&
          std::find(added.begin(), added.end(), v.id) == added.end())
        added.push_back(v.id);
    }
    return added;
  }
  /// Joins loop group g with the inputs newInputs() found for the node.
  void joinLoop(int g, size_t node, const std::vector<int32_t> &added) {
    groups_[size_t(g)].inputs.insert(added.begin(), added.end());
    join(g, node);
  }

  bool isOfClass(size_t i, FusionClass c) const {
    const Node &n = f_.nodes()[i];
    return opDef(n.op).fusion == c && !n.body;
  }

  /// matmul [+ bias] [+ activation], absorbing transposed operands.
  void growMatmul(size_t m) {
    const Node &mm = f_.nodes()[m];
    std::vector<size_t> members = {m};
    // A transposed operand is only a layout for oneDNN; absorb it when the
    // matmul is its only user (otherwise it must be materialised anyway).
    for (ValueId v : mm.operands)
      if (const Node *t = producer(f_, v);
          t && t->op == OpKind::Transpose && uses_.soleUse(v) == m && groupOf_[index(*t)] < 0)
        members.push_back(index(*t));
    // An epilogue node joins at most one matmul: in add(x@a, y@b) with a
    // [1,n] result each product looks like the other's bias row, and the add
    // rides on the first matmul only (the second is then its bias input).
    ValueId tail = mm.result();
    if (auto u = uses_.soleUse(tail);
        u && groupOf_[*u] < 0 && isBiasAdd(f_.nodes()[*u], tail)) {
      members.push_back(*u);
      tail = f_.nodes()[*u].result();
    }
    if (auto u = uses_.soleUse(tail);
        u && groupOf_[*u] < 0 && target_.isEpilogueActivation(f_.nodes()[*u].op))
      members.push_back(*u);
    if (members.size() == 1)
      return;
    int g = newGroup(FusionKind::Matmul, f_.type(mm.result()).shape);
    for (size_t n : members)
      join(g, n);
  }

  bool isBiasAdd(const Node &n, ValueId product) const {
    if (n.op != OpKind::Add)
      return false;
    ValueId bias = n.operands[0] == product ? n.operands[1] : n.operands[0];
    const Shape &out = f_.type(product).shape, &b = f_.type(bias).shape;
    bool rowVector = (b.rank() == 1 && b[0] == out[1]) ||
                     (b.rank() == 2 && b[0] == 1 && b[1] == out[1]);
    return bias != product && rowVector && f_.type(bias).dtype == f_.type(product).dtype;
  }

  /// Reduction `r` takes over the loop kernel computing its input when that
  /// kernel runs over the input's shape and its only output is the input,
  /// used by `r` alone: then the input is never materialised.
  void absorbProducer(size_t r) {
    ValueId in = f_.nodes()[r].operands[0];
    const Node *p = producer(f_, in);
    if (!p || uses_.soleUse(in) != r)
      return;
    int g = groupOf_[index(*p)];
    if (g < 0 || groups_[size_t(g)].kind != FusionKind::Loop ||
        groups_[size_t(g)].space != f_.type(in).shape)
      return;
    for (size_t m : groups_[size_t(g)].members)
      for (ValueId v : f_.nodes()[m].results) {
        if (v == in)
          continue;
        if (uses_.returned[size_t(v.id)])
          return;
        for (size_t u : uses_.users[size_t(v.id)])
          if (groupOf_[u] != g)
            return;
      }
    groups_[size_t(g)].kind = FusionKind::Reduction;
    join(g, r);
  }

  /// Joins the loop kernel of an operand's producer when that is safe, else
  /// starts a new one.
  void placeLoopNode(size_t i) {
    const Node &n = f_.nodes()[i];
    const Shape &space = f_.type(n.result()).shape;
    for (ValueId v : n.operands) {
      const Node *p = producer(f_, v);
      if (!p)
        continue;
      int g = groupOf_[index(*p)];
      if (g < 0 || groups_[size_t(g)].kind != FusionKind::Loop || groups_[size_t(g)].space != space)
        continue;
      std::vector<int32_t> added = newInputs(n, g);
      if (groups_[size_t(g)].inputs.size() + added.size() <= kMaxKernelInputs && canJoin(n, g)) {
        joinLoop(g, i, added);
        return;
      }
    }
    int g = newGroup(FusionKind::Loop, space);
    joinLoop(g, i, newInputs(n, g));
  }

  /// False if some operand from outside group g depends on g, directly or
  /// through another group: a group runs as one unit, after everything any of
  /// its members uses, so joining would make the kernel feed and wait for it.
  bool canJoin(const Node &n, int g) const {
    std::vector<size_t> stack;
    for (ValueId v : n.operands)
      if (const Node *p = producer(f_, v); p && groupOf_[index(*p)] != g)
        stack.push_back(index(*p));
    // Marks of this walk: a new epoch instead of clearing a vector per call,
    // which made the pass quadratic on long chains.
    if (++epoch_ == 0) {
      std::fill(seenEpoch_.begin(), seenEpoch_.end(), 0);
      epoch_ = 1;
    }
    while (!stack.empty()) {
      size_t i = stack.back();
      stack.pop_back();
      if (seenEpoch_[i] == epoch_)
        continue;
      seenEpoch_[i] = epoch_;
      int h = groupOf_[i];
      if (h == g)
        return false;
      if (h >= 0)
        stack.insert(stack.end(), groups_[size_t(h)].members.begin(),
                     groups_[size_t(h)].members.end());
      for (ValueId v : f_.nodes()[i].operands)
        if (const Node *p = producer(f_, v))
          stack.push_back(index(*p));
    }
    return true;
  }

  size_t index(const Node &n) const { return size_t(f_.value(n.result()).defNode); }

  const Function &f_;
  const FusionTarget &target_;
  ValueUses uses_;
  std::vector<int> groupOf_;
  std::vector<Group> groups_;
  mutable std::vector<uint32_t> seenEpoch_ = std::vector<uint32_t>(f_.nodes().size(), 0);
  mutable uint32_t epoch_ = 0;
};

/// A unit of the output: one unfused node, or one group.
struct Unit {
  int group = -1;   ///< >= 0: a group
  size_t node = 0;  ///< otherwise: a node index
  size_t first = 0; ///< first node index, for a stable order
};

class Emitter {
public:
  Emitter(const Function &f, const Partition &p) : f_(f), p_(p), uses_(f), map_(f.numValues()) {}

  Function run() {
    Function g = startRebuild(f_, map_);
    for (const Unit &u : schedule()) {
      if (u.group >= 0 && p_.groups()[size_t(u.group)].members.size() > 1)
        emitGroup(g, p_.groups()[size_t(u.group)]);
      else
        for (size_t n : u.group >= 0 ? p_.groups()[size_t(u.group)].members
                                     : std::vector<size_t>{u.node})
          cloneNode(g, f_, f_.nodes()[n], map_);
    }
    finishRebuild(g, f_, map_);
    return g;
  }

private:
  /// Units in a topological order, preferring the original order (Kahn's
  /// algorithm with the first member's index as priority).
  std::vector<Unit> schedule() const {
    std::vector<Unit> units;
    std::vector<int> unitOfNode(f_.nodes().size(), -1);
    std::map<int, int> unitOfGroup;
    for (size_t i = 0; i < f_.nodes().size(); ++i) {
      int g = p_.groupOf(i);
      if (g >= 0 && unitOfGroup.count(g)) {
        unitOfNode[i] = unitOfGroup[g];
        continue;
      }
      unitOfNode[i] = int(units.size());
      if (g >= 0)
        unitOfGroup[g] = int(units.size());
      units.push_back({g, i, i});
    }
    std::vector<std::set<int>> preds(units.size());
    for (size_t i = 0; i < f_.nodes().size(); ++i)
      for (ValueId v : f_.nodes()[i].operands)
        if (!f_.isParam(v)) {
          int from = unitOfNode[size_t(f_.value(v).defNode)], to = unitOfNode[i];
          if (from != to)
            preds[size_t(to)].insert(from);
        }
    std::vector<size_t> position;
    for (const Unit &u : units)
      position.push_back(u.first);
    std::vector<Unit> order;
    for (int u : orderUnits(preds, position, "fuse: the kernel graph has a cycle"))
      order.push_back(units[size_t(u)]);
    return order;
  }

  void emitGroup(Function &g, const Group &group) {
    std::set<size_t> members(group.members.begin(), group.members.end());
    Function body(kernelName(group));
    std::map<int32_t, ValueId> local; // value of f -> value of body
    std::vector<ValueId> inputs;
    Builder bb(body);
    for (size_t i : group.members) {
      const Node &n = f_.nodes()[i];
      std::vector<ValueId> operands;
      for (ValueId v : n.operands)
        operands.push_back(localValue(bb, group, members, v, local, inputs));
      std::vector<TensorType> types;
      for (ValueId r : n.results)
        types.push_back(f_.type(r));
      size_t k = body.appendNode(n.op, std::move(operands), n.attrs, std::move(types), n.loc);
      for (size_t j = 0; j < n.results.size(); ++j)
        local[n.results[j].id] = body.nodes()[k].results[j];
    }
    std::vector<ValueId> outputs = groupOutputs(group, members);
    std::vector<ValueId> bodyResults;
    for (ValueId v : outputs)
      bodyResults.push_back(local.at(v.id));
    body.setResults(std::move(bodyResults));

    std::vector<ValueId> operands;
    for (ValueId v : inputs)
      operands.push_back(map_[size_t(v.id)]);
    Builder b(g);
    b.setLoc(f_.nodes()[group.members.back()].loc);
    std::vector<ValueId> results = b.fused(group.kind, std::move(operands), std::move(body));
    for (size_t j = 0; j < outputs.size(); ++j) {
      map_[size_t(outputs[j].id)] = results[j];
      g.value(results[j]).name = f_.value(outputs[j]).name;
    }
  }

  /// The body value for `v`: a member's result, a copied splat constant (loop
  /// kernels inline them), or a new parameter fed by the kernel's operand.
  ValueId localValue(Builder &bb, const Group &group, const std::set<size_t> &members,
                     ValueId v, std::map<int32_t, ValueId> &local,
                     std::vector<ValueId> &inputs) {
    if (auto it = local.find(v.id); it != local.end())
      return it->second;
    ValueId lv;
    if (group.kind != FusionKind::Matmul && isSplatConstant(f_, v)) {
      lv = bb.constant(f_.defOf(v).attrs.getDense("value"));
    } else {
      lv = bb.param(freshParamName(bb.function(), f_.value(v).name), f_.type(v));
      inputs.push_back(v);
    }
    local[v.id] = lv;
    return lv;
  }

  /// `wanted`, or "inN" for an unnamed value, made unique among the body's
  /// parameters: outer names may repeat a generated "inN".
  static std::string freshParamName(const Function &body, const std::string &wanted) {
    auto taken = [&](const std::string &name) {
      for (ValueId p : body.params())
        if (body.value(p).name == name)
          return true;
      return false;
    };
    if (!wanted.empty() && !taken(wanted))
      return wanted;
    std::string stem = wanted.empty() ? "in" : wanted + ".";
    for (size_t k = body.params().size();; ++k)
      if (std::string name = fmt::format("{}{}", stem, k); !taken(name))
        return name;
  }

  /// Member results that something outside the group needs.
  std::vector<ValueId> groupOutputs(const Group &group, const std::set<size_t> &members) const {
    std::vector<ValueId> outputs;
    for (size_t i : group.members)
      for (ValueId r : f_.nodes()[i].results) {
        bool needed = uses_.returned[size_t(r.id)];
        for (size_t u : uses_.users[size_t(r.id)])
          needed = needed || !members.count(u);
        if (needed)
          outputs.push_back(r);
      }
    return outputs;
  }

  /// "fused_matmul_add_relu": the member ops in order, at most six.
  std::string kernelName(const Group &group) const {
    std::string name = "fused";
    size_t shown = 0;
    for (size_t i : group.members) {
      if (f_.nodes()[i].op == OpKind::Constant)
        continue;
      if (++shown > 6) {
        name += "_etc";
        break;
      }
      name += fmt::format("_{}", opName(f_.nodes()[i].op));
    }
    return name;
  }

  const Function &f_;
  const Partition &p_;
  ValueUses uses_;
  std::vector<ValueId> map_;
};

} // namespace

Function fuse(const Function &f, const FusionTarget &target) {
  Partition p(f, target);
  p.run();
  // Splat constants copied into kernels may be left without users.
  return eliminateDeadCode(Emitter(f, p).run());
}

} // namespace kiln::compiler
