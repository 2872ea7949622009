//===- PlanMemory.cpp - Liveness-based buffer assignment ------------------===//
//
// Three steps:
//  1. views: a reshape result shares its operand's buffer; a view group (a
//     value and its reshapes) is live until its last member's last use;
//  2. in place: walking the nodes in order, a loop kernel's result may take
//     over the buffer of an operand whose view group dies at that node
//     (the rule is spelled out in MemoryPlan.h); the buffers form chains;
//  3. offsets: buffers (chains) are placed greedily by size, each at the
//     best-fitting gap among the buffers live at the same time (as TFLite's
//     "greedy by size" planner), so that a large buffer claims the bottom of
//     the arena and small ones fill the holes.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/MemoryPlan.h"
#include "kiln/ir/OpDef.h"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>

namespace kiln::compiler {

using namespace kiln::ir;

namespace {

int64_t alignUp(int64_t bytes) {
  return (bytes + kPlanAlignment - 1) / kPlanAlignment * kPlanAlignment;
}

/// True for the nodes the runtime runs as one JIT loop: a single op with a
/// scalar expression, or a fused loop (only such ops and constants).
bool isLoopKernel(const Node &n) {
  if (n.op == OpKind::Fused)
    return n.attrs.getFusionKind("kind") == FusionKind::Loop;
  return opDef(n.op).scalar != nullptr;
}

/// For a loop kernel: whether result `r` is computed from operand `j` (so the
/// kernel loads element i of operand j before it stores element i of r).
bool resultReadsOperand(const Node &n, size_t r, size_t j) {
  if (!n.body)
    return true; // one op: its result reads every operand
  const Function &body = *n.body;
  std::vector<bool> reads(body.numValues(), false);
  reads[size_t(body.params().at(j).id)] = true;
  for (const Node &m : body.nodes()) {
    bool any = false;
    for (ValueId o : m.operands)
      any = any || reads[size_t(o.id)];
    for (ValueId res : m.results)
      reads[size_t(res.id)] = any;
  }
  return reads[size_t(body.results().at(r).id)];
}

/// A buffer: values sharing one slot through views and in-place updates,
/// live from the first definition to the last use.
struct Buffer {
  int64_t size = 0; ///< aligned
  int32_t start = 0, end = 0;
  std::vector<ValueId> members; ///< in order of definition
  int64_t offset = -1;
};

class Planner {
public:
  explicit Planner(const Function &f) : f_(f), n_(int32_t(f.nodes().size())) {}

  MemoryPlan run() {
    plan_.values.resize(f_.numValues());
    viewRoot_.resize(f_.numValues());
    bufferOf_.assign(f_.numValues(), -1);
    placeParamsAndViews();
    computeLastUses();
    assignBuffers();
    placeBuffers();
    describeReuse();
    findParamUpdates();
    return std::move(plan_);
  }

private:
  ValuePlacement &at(ValueId v) { return plan_.values[size_t(v.id)]; }
  ValueId root(ValueId v) const { return viewRoot_[size_t(v.id)]; }

  void placeParamsAndViews() {
    for (ValueId p : f_.params()) {
      viewRoot_[size_t(p.id)] = p;
      at(p) = {Storage::Param, 0, f_.type(p).bytes(), -1, -1, {}, false, {}};
    }
    for (int32_t i = 0; i < n_; ++i) {
      const Node &n = f_.nodes()[size_t(i)];
      for (ValueId r : n.results) {
        ValuePlacement &p = at(r);
        p.bytes = f_.type(r).bytes();
        p.def = i;
        viewRoot_[size_t(r.id)] = r;
        if (n.op == OpKind::Constant)
          p.storage = Storage::Constant;
      }
      if (n.op == OpKind::Reshape) {
        ValueId r = n.result(), base = root(n.operands[0]);
        viewRoot_[size_t(r.id)] = base;
        at(r).storage = at(base).storage;
        at(r).sharesWith = n.operands[0];
      }
    }
  }

  /// The last node reading each view group (stored on every member); the
  /// function's results are live to the end.
  void computeLastUses() {
    std::vector<int32_t> last(f_.numValues(), -1);
    for (size_t v = 0; v < f_.numValues(); ++v)
      last[size_t(root(ValueId{int32_t(v)}).id)] =
          std::max(last[size_t(root(ValueId{int32_t(v)}).id)], plan_.values[v].def);
    for (int32_t i = 0; i < n_; ++i)
      for (ValueId o : f_.nodes()[size_t(i)].operands)
        last[size_t(root(o).id)] = std::max(last[size_t(root(o).id)], i);
    for (ValueId r : f_.results())
      last[size_t(root(r).id)] = n_;
    for (size_t v = 0; v < f_.numValues(); ++v)
      plan_.values[v].lastUse = last[size_t(root(ValueId{int32_t(v)}).id)];
  }

  /// Walks the nodes in order, giving each arena view group a buffer: the
  /// buffer of an operand it may overwrite, or a new one.
  void assignBuffers() {
    for (int32_t i = 0; i < n_; ++i) {
      const Node &n = f_.nodes()[size_t(i)];
      std::vector<int> donated;
      for (size_t r = 0; r < n.results.size(); ++r) {
        ValueId v = n.results[r];
        if (at(v).storage != Storage::Arena || root(v) != v)
          continue;
        int buffer = isLoopKernel(n) ? inPlaceDonor(n, i, r, donated) : -1;
        if (buffer >= 0) {
          donated.push_back(buffer);
          at(v).inPlace = true;
          at(v).sharesWith = n.operands[size_t(donorOperand_)];
        } else {
          buffer = int(buffers_.size());
          buffers_.push_back({alignUp(at(v).bytes), i, i, {}, -1});
        }
        Buffer &b = buffers_[size_t(buffer)];
        b.members.push_back(v);
        b.end = std::max(b.end, at(v).lastUse);
        bufferOf_[size_t(v.id)] = buffer;
      }
    }
    for (size_t v = 0; v < f_.numValues(); ++v)
      if (plan_.values[v].storage == Storage::Arena)
        bufferOf_[v] = bufferOf_[size_t(root(ValueId{int32_t(v)}).id)];
  }

  /// The buffer that result `r` of loop kernel `n` (node `i`) may overwrite,
  /// or -1; sets donorOperand_ to the operand position it comes through.
  int inPlaceDonor(const Node &n, int32_t i, size_t r, const std::vector<int> &donated) {
    const TensorType &type = f_.type(n.results[r]);
    for (size_t j = 0; j < n.operands.size(); ++j) {
      ValueId group = root(n.operands[j]);
      const ValuePlacement &g = at(group);
      int buffer = bufferOf_[size_t(group.id)];
      if (g.storage != Storage::Arena || g.lastUse != i || g.bytes != at(n.results[r]).bytes ||
          std::find(donated.begin(), donated.end(), buffer) != donated.end())
        continue;
      if (everyUseReadsInStep(n, r, group, type)) {
        donorOperand_ = int(j);
        return buffer;
      }
    }
    return -1;
  }

  /// Every operand of `n` in view group `group` is read element by element
  /// in step with result `r`, `r` depends on it, and no other result reads
  /// it. The last rule matters because kernel buffers are noalias: LLVM may
  /// move another result's load of element i after r's store to element i
  /// whenever r's value does not depend on that load once optimised (e.g.
  /// `pow %x {exponent=0}` folds to 1), which IR-level dependence cannot rule
  /// out. With r the only reader, every live load of the buffer feeds r's store.
  bool everyUseReadsInStep(const Node &n, size_t r, ValueId group, const TensorType &type) {
    for (size_t p = 0; p < n.operands.size(); ++p) {
      if (root(n.operands[p]) != group)
        continue;
      const TensorType &t = f_.type(n.operands[p]);
      if (t.shape.numel() != type.shape.numel() || dtypeSize(t.dtype) != dtypeSize(type.dtype) ||
          !resultReadsOperand(n, r, p))
        return false;
      for (size_t other = 0; other < n.results.size(); ++other)
        if (other != r && resultReadsOperand(n, other, p))
          return false;
    }
    return true;
  }

  /// resultMayOverwrite: for each result with its own slot, computed by a
  /// loop kernel, the first parameter that kernel may overwrite (see
  /// inPlaceDonor), each parameter for one result at most.
  void findParamUpdates() {
    plan_.resultMayOverwrite.assign(f_.results().size(), ValueId{});
    std::vector<ValueId> taken;
    for (size_t k = 0; k < f_.results().size(); ++k) {
      ValueId v = f_.results()[k];
      const ValuePlacement &place = at(v);
      if (place.storage != Storage::Arena || root(v) != v ||
          std::find(f_.results().begin(), f_.results().begin() + k, v) != f_.results().begin() + k)
        continue;
      const Node &n = f_.nodes()[size_t(place.def)];
      if (!isLoopKernel(n))
        continue;
      size_t r = size_t(std::find(n.results.begin(), n.results.end(), v) - n.results.begin());
      if (ValueId p = paramDonor(n, place.def, r); p.valid() &&
          std::find(taken.begin(), taken.end(), p) == taken.end()) {
        taken.push_back(p);
        plan_.resultMayOverwrite[k] = p;
      }
    }
  }

  /// A parameter that result `r` of loop kernel `n` (node `i`) may
  /// overwrite: read last by `n`, of the result's size, read in step.
  ValueId paramDonor(const Node &n, int32_t i, size_t r) {
    const TensorType &type = f_.type(n.results[r]);
    for (ValueId operand : n.operands) {
      ValueId group = root(operand);
      const ValuePlacement &g = at(group);
      if (g.storage == Storage::Param && g.lastUse == i && g.bytes == at(n.results[r]).bytes &&
          everyUseReadsInStep(n, r, group, type))
        return group;
    }
    return {};
  }

  /// For each buffer, the buffers live at some same node. Buffers are made
  /// in order of their first node, so one sweep finds them, in time
  /// proportional to the pairs rather than to the square of the buffers.
  std::vector<std::vector<size_t>> liveTogether() const {
    std::vector<std::vector<size_t>> together(buffers_.size());
    std::vector<size_t> active;
    for (size_t k = 0; k < buffers_.size(); ++k) {
      std::erase_if(active, [&](size_t a) { return buffers_[a].end < buffers_[k].start; });
      for (size_t a : active) {
        together[a].push_back(k);
        together[k].push_back(a);
      }
      active.push_back(k);
    }
    return together;
  }

  /// Greedy by size: the biggest buffers first, each into the smallest gap
  /// left by the already placed buffers that are live at the same time.
  void placeBuffers() {
    std::vector<size_t> order(buffers_.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return buffers_[a].size > buffers_[b].size; });
    std::vector<std::vector<size_t>> together = liveTogether();
    std::vector<bool> placed(buffers_.size(), false);
    for (size_t k : order) {
      Buffer &b = buffers_[k];
      std::vector<const Buffer *> live;
      for (size_t q : together[k])
        if (placed[q])
          live.push_back(&buffers_[q]);
      std::sort(live.begin(), live.end(),
                [](const Buffer *x, const Buffer *y) { return x->offset < y->offset; });
      int64_t top = 0, best = -1, bestGap = std::numeric_limits<int64_t>::max();
      for (const Buffer *q : live) {
        int64_t gap = q->offset - top;
        if (gap >= b.size && gap < bestGap) {
          best = top;
          bestGap = gap;
        }
        top = std::max(top, q->offset + q->size);
      }
      b.offset = best >= 0 ? best : top;
      placed[k] = true;
      plan_.arenaBytes = std::max(plan_.arenaBytes, b.offset + b.size);
    }
    for (size_t v = 0; v < f_.numValues(); ++v) {
      ValuePlacement &p = plan_.values[v];
      if (p.storage != Storage::Arena)
        continue;
      p.offset = buffers_[size_t(bufferOf_[v])].offset;
      if (root(ValueId{int32_t(v)}).id == int32_t(v))
        plan_.bytesWithoutReuse += alignUp(p.bytes);
    }
  }

  /// For each buffer, the latest earlier buffer whose bytes it reuses. A
  /// sweep paints the arena with each buffer as it dies (so every byte shows
  /// the last buffer that held it) and reads the paint under each new buffer.
  void describeReuse() {
    std::vector<size_t> byEnd(buffers_.size());
    std::iota(byEnd.begin(), byEnd.end(), 0);
    std::stable_sort(byEnd.begin(), byEnd.end(),
                     [&](size_t a, size_t b) { return buffers_[a].end < buffers_[b].end; });
    std::map<int64_t, int> paint{{0, -1}}; // segment start -> buffer, up to the next start
    size_t dead = 0;
    for (Buffer &b : buffers_) {
      for (; dead < byEnd.size() && buffers_[byEnd[dead]].end < b.start; ++dead)
        paintRange(paint, buffers_[byEnd[dead]], int(byEnd[dead]));
      if (b.size == 0)
        continue;
      int latest = -1;
      for (auto it = std::prev(paint.upper_bound(b.offset));
           it != paint.end() && it->first < b.offset + b.size; ++it)
        if (it->second >= 0 &&
            (latest < 0 || buffers_[size_t(it->second)].end > buffers_[size_t(latest)].end))
          latest = it->second;
      if (latest >= 0)
        at(b.members.front()).reuses = buffers_[size_t(latest)].members.back();
    }
  }

  static void paintRange(std::map<int64_t, int> &paint, const Buffer &q, int id) {
    if (q.size == 0)
      return;
    auto split = [&](int64_t x) {
      auto it = std::prev(paint.upper_bound(x));
      if (it->first != x)
        paint.emplace_hint(std::next(it), x, it->second);
    };
    split(q.offset + q.size);
    split(q.offset);
    paint.erase(paint.find(q.offset), paint.find(q.offset + q.size));
    paint[q.offset] = id;
  }

  const Function &f_;
  int32_t n_;
  MemoryPlan plan_;
  std::vector<ValueId> viewRoot_;
  std::vector<int> bufferOf_;
  std::vector<Buffer> buffers_;
  int donorOperand_ = -1;
};

} // namespace

MemoryPlan planMemory(const Function &f) { return Planner(f).run(); }

} // namespace kiln::compiler
