//===- Autograd.cpp - Grad mode and recorded history as IR ----------------===//
#include "kiln/Autograd.h"
#include "GraphNode.h"
#include "Lazy.h"
#include "RecordedRegion.h"
#include "TensorImpl.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <atomic>
#include <unordered_map>
#include <unordered_set>

namespace kiln {

namespace {
// Read by every op: initial-exec TLS, a direct load (see lazyState()).
[[gnu::tls_model("initial-exec")]] thread_local bool gGradEnabled = true;
} // namespace

bool is_grad_enabled() { return gGradEnabled; }
void set_grad_enabled(bool enabled) { gGradEnabled = enabled; }

namespace detail {

const char *const kGraphFreedMessage =
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward.";

void checkNodeUsable(const GraphNode &node) {
  if (node.released)
    throw Error(ErrorKind::Autograd, kGraphFreedMessage);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    uint64_t now = node.inputs[i].impl->version();
    if (now != node.inputs[i].version)
      throw Error(ErrorKind::Autograd,
                  fmt::format("one of the variables needed for gradient computation has been "
                              "modified by an inplace operation: [{}], which is operand {} of "
                              "'{}', is at version {}; expected version {} instead.",
                              node.inputs[i].impl->type().str(), i, node.opName(), now,
                              node.inputs[i].version));
  }
}

uint64_t newWalkEpoch() {
  static std::atomic<uint64_t> last{0};
  return ++last;
}

namespace {

/// The IR of a walked history (walkHistory): one walk decides the order,
/// the key and the IR. Value i of the walk is value i of the function
/// unless a recorded function's ops were inlined before it (walkIndex).
class GraphRecorder {
public:
  explicit GraphRecorder(RecordedGraph &g) : g_(g), b_(g.fn) {
    // The autodiff pass adds a parameter of this name; keep it free.
    names_.insert("grad_output");
  }

  void run(const HistoryKey &history, const TensorImpl &root) {
    ids_.reserve(history.values.size());
    for (const std::shared_ptr<TensorImpl> &impl : history.values)
      ids_.push_back(emit(impl));
    g_.walkIndex.assign(g_.fn.numValues(), -1);
    for (size_t i = 0; i < ids_.size(); ++i)
      g_.walkIndex[size_t(ids_[i].id)] = int32_t(i);
    g_.output = ids_[size_t(root.walkId)];
    g_.fn.setResults({g_.output});
    g_.inputs = history.inputs;
    g_.nodes = history.nodes;
  }

private:
  /// A number written in an expression (a literal) is an input, as a leaf
  /// is: its value is read at every backward, so a new number never makes a
  /// new gradient function (the lazy step treats it the same way).
  ir::ValueId emit(const std::shared_ptr<TensorImpl> &impl) {
    if (impl->literal || !impl->gradFn) {
      std::string base = impl->name      ? *impl->name
                         : impl->literal ? std::string("lit")
                                         : fmt::format("input{}", inputCount_);
      ++inputCount_;
      return b_.param(unique(base), impl->type());
    }
    const GraphNode &node = *impl->gradFn;
    std::vector<ir::ValueId> operands;
    for (const GradInput &input : node.inputs)
      operands.push_back(ids_[size_t(input.impl->walkId)]);
    if (node.body) { // a recorded function (RecordedRegion.h): its ops
      ir::ValueId v = inlineRegion(g_.fn, node.body->fn, operands).at(size_t(node.result));
      if (impl->name)
        g_.fn.value(v).name = unique(*impl->name);
      return v;
    }
    std::optional<ir::TensorType> declared;
    if (ir::opDef(node.op).declaresResultType)
      declared = node.type;
    ir::ValueId v = b_.create(node.op, std::move(operands), node.attrs, declared);
    if (impl->name)
      g_.fn.value(v).name = unique(*impl->name);
    return v;
  }

  std::string unique(const std::string &base) {
    std::string name = base;
    for (int i = 1; !names_.insert(name).second; ++i)
      name = fmt::format("{}_{}", base, i);
    return name;
  }

  RecordedGraph &g_;
  ir::Builder b_;
  std::vector<ir::ValueId> ids_;
  std::unordered_set<std::string> names_;
  size_t inputCount_ = 0;
};

} // namespace

RecordedGraph recordGraph(const std::shared_ptr<TensorImpl> &root) {
  HistoryKey history;
  walkHistory(root, history);
  return recordGraph(history, *root);
}

RecordedGraph recordGraph(const HistoryKey &history, const TensorImpl &root) {
  RecordedGraph g;
  GraphRecorder(g).run(history, root);
  return g;
}

void releaseGraph(RecordedGraph &graph) { releaseNodes(graph.nodes); }

void releaseNodes(const std::vector<std::shared_ptr<GraphNode>> &nodes) {
  for (const auto &node : nodes) {
    node->released = true;
    node->inputs.clear();
  }
}

namespace {

/// One value of the history, as GraphRecorder::emit would make it: a
/// literal by its type alone, as it is an input.
int32_t encodeHistoryValue(const std::shared_ptr<TensorImpl> &impl, HistoryKey &out, int32_t id) {
  StructureKey &key = out.key;
  if (impl->literal) {
    key.word(uint64_t(KeyTag::Literal));
    key.type(impl->type());
    out.inputs.push_back(impl);
  } else if (!impl->gradFn) {
    key.word(uint64_t(KeyTag::Leaf));
    key.type(impl->type());
    key.word(impl->requiresGrad);
    out.inputs.push_back(impl);
  } else {
    const GraphNode &node = *impl->gradFn;
    key.word(uint64_t(KeyTag::Op));
    key.word(uint64_t(node.op));
    key.word(node.inputs.size());
    for (const GradInput &input : node.inputs)
      key.word(uint64_t(input.impl->walkId));
    key.type(node.type);
    key.attrs(node.attrs);
    if (node.body) { // the same op may be any recorded function
      key.word(node.body->id);
      key.word(uint64_t(node.result));
    }
    out.nodes.push_back(impl->gradFn);
  }
  out.values.push_back(impl);
  return id;
}

} // namespace

void walkHistory(const std::shared_ptr<TensorImpl> &root, HistoryKey &out) {
  uint64_t epoch = newWalkEpoch();
  out.clear();
  // Iterative depth-first post-order (a history can be millions of ops
  // deep), with marks instead of a map.
  struct Frame {
    const std::shared_ptr<TensorImpl> *impl;
    size_t next = 0;
  };
  // Reused: backward() runs every step, and the walk does not nest.
  thread_local std::vector<Frame> stack;
  stack.clear();
  stack.push_back({&root});
  int32_t next = 0;
  while (!stack.empty()) {
    Frame &top = stack.back();
    const GraphNode *node = (*top.impl)->gradFn.get();
    if (top.next == 0 && node)
      checkNodeUsable(*node);
    if (node && top.next < node->inputs.size()) {
      const std::shared_ptr<TensorImpl> &input = node->inputs[top.next++].impl;
      if (input->walkMark != epoch)
        stack.push_back({&input}); // invalidates `top`
      continue;
    }
    const std::shared_ptr<TensorImpl> &impl = *top.impl;
    stack.pop_back();
    if (impl->walkMark != epoch) {
      impl->walkId = encodeHistoryValue(impl, out, next++);
      impl->walkMark = epoch;
    }
  }
  out.key.word(uint64_t(KeyTag::Results));
  out.key.word(uint64_t(root->walkId));
}

} // namespace detail

ir::Function recorded_graph(const Tensor &t) {
  if (!t.defined())
    throw Error(ErrorKind::Usage, "recorded_graph: the tensor is undefined");
  return detail::recordGraph(t.impl()).fn;
}

} // namespace kiln
