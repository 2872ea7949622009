//===- Autograd.cpp - Grad mode and recorded history as IR ----------------===//
#include "kiln/Autograd.h"
#include "TensorImpl.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <unordered_map>
#include <unordered_set>

namespace kiln {

namespace {
thread_local bool gGradEnabled = true;
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

namespace {

/// Builds the IR of a history, tensor by tensor in topological order.
class GraphRecorder {
public:
  explicit GraphRecorder(RecordedGraph &g) : g_(g), b_(g.fn) {
    // The autodiff pass adds a parameter of this name; keep it free.
    names_.insert("grad_output");
  }

  void run(const std::shared_ptr<TensorImpl> &root) {
    // Iterative depth-first post-order: a history can be millions of ops deep.
    struct Frame {
      std::shared_ptr<TensorImpl> impl;
      size_t next = 0;
    };
    std::vector<Frame> stack;
    stack.push_back({root});
    while (!stack.empty()) {
      Frame &top = stack.back();
      const GradNode *node = top.impl->gradFn.get();
      if (top.next == 0 && node)
        checkUsable(*node);
      if (node && top.next < node->inputs.size()) {
        const std::shared_ptr<TensorImpl> &input = node->inputs[top.next++];
        if (!ids_.count(input.get()))
          stack.push_back({input}); // invalidates `top`
        continue;
      }
      std::shared_ptr<TensorImpl> impl = std::move(top.impl);
      stack.pop_back();
      if (!ids_.count(impl.get()))
        ids_[impl.get()] = emit(impl);
    }
    g_.output = ids_.at(root.get());
    g_.fn.setResults({g_.output});
  }

private:
  static void checkUsable(const GradNode &node) {
    if (node.released)
      throw Error(ErrorKind::Autograd, kGraphFreedMessage);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      uint64_t now = node.inputs[i]->version();
      if (now != node.inputVersions[i])
        throw Error(ErrorKind::Autograd,
                    fmt::format("one of the variables needed for gradient computation has been "
                                "modified by an inplace operation: [{}], which is operand {} of "
                                "'{}', is at version {}; expected version {} instead.",
                                node.inputs[i]->type().str(), i, ir::opName(node.op), now,
                                node.inputVersions[i]));
    }
  }

  ir::ValueId emit(const std::shared_ptr<TensorImpl> &impl) {
    if (impl->literal)
      return b_.constant(impl->values());
    if (!impl->gradFn) {
      std::string base = impl->name.empty() ? fmt::format("input{}", g_.inputs.size()) : impl->name;
      g_.inputs.push_back(impl);
      return b_.param(unique(base), impl->type());
    }
    const GradNode &node = *impl->gradFn;
    std::vector<ir::ValueId> operands;
    for (const auto &input : node.inputs)
      operands.push_back(ids_.at(input.get()));
    std::optional<ir::TensorType> declared;
    if (ir::opDef(node.op).declaresResultType)
      declared = node.type;
    ir::ValueId v = b_.create(node.op, std::move(operands), node.attrs, declared);
    if (!impl->name.empty())
      g_.fn.value(v).name = unique(impl->name);
    g_.nodes.push_back(impl->gradFn);
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
  std::unordered_map<const TensorImpl *, ir::ValueId> ids_;
  std::unordered_set<std::string> names_;
};

} // namespace

RecordedGraph recordGraph(const std::shared_ptr<TensorImpl> &root) {
  RecordedGraph g;
  GraphRecorder(g).run(root);
  return g;
}

void releaseGraph(RecordedGraph &graph) {
  for (const auto &node : graph.nodes) {
    node->released = true;
    node->inputs.clear();
    node->inputVersions.clear();
  }
}

} // namespace detail

ir::Function recorded_graph(const Tensor &t) {
  if (!t.defined())
    throw Error(ErrorKind::Usage, "recorded_graph: the tensor is undefined");
  return detail::recordGraph(t.impl()).fn;
}

} // namespace kiln
