//===- Program.cpp - Lowering a function to kernels -----------------------===//
#include "kiln/runtime/Program.h"
#include "kiln/compiler/Pass.h"
#include "kiln/ir/OpDef.h"
#include "kiln/ir/Verifier.h"
#include "kiln/runtime/Jit.h"
#include "kiln/runtime/OneDnn.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>

namespace kiln::runtime {

using namespace kiln::ir;

namespace {
std::atomic<int64_t> gCompilations{0};
std::atomic<bool> gCompilationForbidden{false};
} // namespace

int64_t compilationCount() { return gCompilations.load(); }
void setCompilationForbidden(bool forbidden) { gCompilationForbidden = forbidden; }

std::string_view kernelKindName(KernelKind k) {
  switch (k) {
  case KernelKind::Jit: return "jit";
  case KernelKind::OneDnn: return "onednn";
  case KernelKind::Alias: return "alias";
  case KernelKind::Constant: return "constant";
  case KernelKind::Reference: return "reference";
  }
  return "?";
}

struct Program::Impl {
  Function fn;
  CompileOptions options;
  /// One buffer per value of `fn`; parameters are bound per run.
  std::vector<HostTensor> slots;
  std::vector<KernelInfo> kernels;
  /// What a run executes, in order; each entry is one kernel of `kernels`.
  std::vector<std::function<void()>> steps;

  void *ptr(ValueId v) { return slots[size_t(v.id)].raw(); }
  void addStep(std::string name, KernelKind kind, std::function<void()> fn) {
    kernels.push_back({std::move(name), kind});
    steps.push_back(std::move(fn));
  }
};

namespace {

/// Turns each node of the optimised function into a step of the program.
class Lowering {
public:
  explicit Lowering(Program::Impl &p) : p_(p) {}

  void run() {
    const Function &f = p_.fn;
    p_.slots.resize(f.numValues());
    for (const Node &n : f.nodes()) {
      allocateResults(n);
      lower(n);
    }
  }

private:
  void allocateResults(const Node &n) {
    if (n.op == OpKind::Reshape) // aliases its operand, bound at run time
      return;
    for (ValueId r : n.results)
      p_.slots[size_t(r.id)] = HostTensor(p_.fn.type(r));
  }

  void lower(const Node &n) {
    if (n.op == OpKind::Constant)
      return lowerConstant(n);
    if (n.op == OpKind::Reshape)
      return lowerReshape(n);
    if (n.body && containsMatmul(*n.body))
      return lowerMatmulKernel(n);
    if (n.body || opDef(n.op).scalar)
      return lowerLoopKernel(n);
    if (n.op == OpKind::Matmul && p_.fn.type(n.result()).dtype == DType::F32)
      return lowerMatmul(n);
    if ((n.op == OpKind::Softmax || n.op == OpKind::LogSoftmax) && isLastAxisF32(n))
      return lowerSoftmax(n);
    lowerReference(n);
  }

  void lowerConstant(const Node &n) {
    p_.slots[size_t(n.result().id)] = n.attrs.getDense("value").clone();
    p_.kernels.push_back({"constant", KernelKind::Constant});
  }

  void lowerReshape(const Node &n) {
    Program::Impl &p = p_;
    size_t in = size_t(n.operands[0].id), out = size_t(n.result().id);
    Shape shape = p.fn.type(n.result()).shape;
    p.addStep("reshape", KernelKind::Alias,
              [&p, in, out, shape] { p.slots[out] = p.slots[in].reshaped(shape); });
  }

  /// A single elementwise node becomes a one-node body, so every loop
  /// kernel, fused or not, goes through the JIT.
  void lowerLoopKernel(const Node &n) {
    Function body = n.body ? *n.body : singleNodeBody(n);
    LoopKernel k = Jit::instance().compile(body, body.name());
    std::vector<ValueId> buffers = n.operands;
    buffers.insert(buffers.end(), n.results.begin(), n.results.end());
    Program::Impl &p = p_;
    std::vector<void *> args(buffers.size());
    p.addStep(k.name, KernelKind::Jit, [&p, k, buffers, args]() mutable {
      for (size_t i = 0; i < buffers.size(); ++i)
        args[i] = p.ptr(buffers[i]);
      k.fn(args.data(), 0, k.rows);
    });
  }

  Function singleNodeBody(const Node &n) const {
    Function body(std::string(opName(n.op)));
    std::vector<ValueId> params;
    for (size_t i = 0; i < n.operands.size(); ++i)
      params.push_back(body.addParam(p_.fn.type(n.operands[i]), fmt::format("in{}", i)));
    size_t k = body.appendNode(n.op, params, n.attrs, {p_.fn.type(n.result())});
    body.setResults({body.nodes()[k].result()});
    return body;
  }

  static bool containsMatmul(const Function &body) {
    for (const Node &m : body.nodes())
      if (m.op == OpKind::Matmul)
        return true;
    return false;
  }

  /// A fused matmul kernel, as made by the fuse pass: transposes of the
  /// operands, the matmul, an optional bias add and activation.
  void lowerMatmulKernel(const Node &n) {
    const Function &body = *n.body;
    onednn::MatmulDesc desc;
    // Which kernel operand feeds A, B and the bias.
    auto operandOf = [&](ValueId bodyValue, bool &transposed) -> ValueId {
      transposed = false;
      if (!body.isParam(bodyValue) && body.defOf(bodyValue).op == OpKind::Transpose) {
        transposed = true;
        bodyValue = body.defOf(bodyValue).operands[0];
      }
      check(body.isParam(bodyValue), "fused matmul: operand is not a kernel input");
      return n.operands[size_t(body.value(bodyValue).index)];
    };
    ValueId a, b, bias;
    for (const Node &m : body.nodes()) {
      switch (m.op) {
      case OpKind::Matmul: {
        a = operandOf(m.operands[0], desc.transposeA);
        b = operandOf(m.operands[1], desc.transposeB);
        const Shape &out = body.type(m.result()).shape;
        desc.m = out[0];
        desc.n = out[1];
        desc.k = body.type(m.operands[0]).shape[1];
        break;
      }
      case OpKind::Add: {
        ValueId other = body.defOf(m.operands[0]).op == OpKind::Matmul ? m.operands[1]
                                                                         : m.operands[0];
        bool unused;
        bias = operandOf(other, unused);
        desc.bias = true;
        break;
      }
      case OpKind::Relu: desc.activation = onednn::Activation::Relu; break;
      case OpKind::Sigmoid: desc.activation = onednn::Activation::Sigmoid; break;
      case OpKind::Tanh: desc.activation = onednn::Activation::Tanh; break;
      case OpKind::Transpose: break;
      default: check(false, "fused matmul: unexpected op in the body");
      }
    }
    check(n.results.size() == 1, "fused matmul: one result expected");
    addMatmulStep(n.body->name(), desc, a, b, bias, n.result());
  }

  void lowerMatmul(const Node &n) {
    onednn::MatmulDesc desc;
    const Shape &out = p_.fn.type(n.result()).shape;
    desc.m = out[0];
    desc.n = out[1];
    desc.k = p_.fn.type(n.operands[0]).shape[1];
    addMatmulStep("matmul", desc, n.operands[0], n.operands[1], ValueId{}, n.result());
  }

  void addMatmulStep(std::string name, const onednn::MatmulDesc &desc, ValueId a, ValueId b,
                     ValueId bias, ValueId c) {
    std::shared_ptr<onednn::Matmul> mm = onednn::Matmul::get(desc);
    Program::Impl &p = p_;
    p.addStep(std::move(name), KernelKind::OneDnn, [&p, mm, a, b, bias, c] {
      mm->run(static_cast<const float *>(p.ptr(a)), static_cast<const float *>(p.ptr(b)),
              bias.valid() ? static_cast<const float *>(p.ptr(bias)) : nullptr,
              static_cast<float *>(p.ptr(c)));
    });
  }

  bool isLastAxisF32(const Node &n) const {
    const TensorType &t = p_.fn.type(n.result());
    return t.dtype == DType::F32 && t.shape.rank() >= 1 &&
           n.attrs.getInt("axis") == t.shape.rank() - 1;
  }

  void lowerSoftmax(const Node &n) {
    const Shape &s = p_.fn.type(n.result()).shape;
    int64_t cols = s[s.rank() - 1], rows = cols ? s.numel() / cols : 0;
    auto sm = onednn::Softmax::get(rows, cols, n.op == OpKind::LogSoftmax);
    Program::Impl &p = p_;
    ValueId in = n.operands[0], out = n.result();
    p.addStep(std::string(opName(n.op)), KernelKind::OneDnn, [&p, sm, in, out] {
      sm->run(static_cast<const float *>(p.ptr(in)), static_cast<float *>(p.ptr(out)));
    });
  }

  void lowerReference(const Node &n) {
    Program::Impl &p = p_;
    const Node *node = &n; // nodes of p.fn do not move after lowering
    std::vector<const HostTensor *> operands(n.operands.size());
    p.addStep(std::string(opName(n.op)), KernelKind::Reference, [&p, node, operands]() mutable {
      for (size_t i = 0; i < operands.size(); ++i)
        operands[i] = &p.slots[size_t(node->operands[i].id)];
      evalNode(*node, operands, p.slots[size_t(node->result().id)]);
    });
  }

  Program::Impl &p_;
};

void checkBinding(const Function &f, std::span<const HostTensor> values,
                  const std::vector<ValueId> &expected, std::string_view what) {
  if (values.size() != expected.size())
    throw Error(ErrorKind::Usage, fmt::format("@{} takes {} {}, got {}", f.name(),
                                              expected.size(), what, values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    const TensorType &t = f.type(expected[i]);
    if (!values[i].defined() || values[i].type() != t)
      throw Error(ErrorKind::Usage,
                  fmt::format("{} {} of @{} must be {}, got {}", what, i, f.name(), t.str(),
                              values[i].defined() ? values[i].type().str() : "nothing"));
  }
}

} // namespace

Program::Program() : impl_(std::make_unique<Impl>()) {}
Program::~Program() = default;

std::shared_ptr<Program> Program::compile(const Function &f, const CompileOptions &options) {
  if (gCompilationForbidden)
    throw Error(ErrorKind::Runtime,
                fmt::format("compiling @{} is forbidden (setCompilationForbidden)", f.name()));
  ++gCompilations;
  verify(f);
  std::shared_ptr<Program> program(new Program());
  Impl &p = *program->impl_;
  p.options = options;
  compiler::PassManager pm;
  pm.addPipeline(options.pipeline);
  p.fn = pm.run(f);
  Lowering(p).run();
  return program;
}

void Program::run(std::span<const HostTensor> inputs, std::span<HostTensor> outputs) {
  Impl &p = *impl_;
  checkBinding(p.fn, inputs, p.fn.params(), "inputs");
  checkBinding(p.fn, outputs, p.fn.results(), "outputs");
  for (size_t i = 0; i < inputs.size(); ++i)
    p.slots[size_t(p.fn.params()[i].id)] = inputs[i];
  if (!p.options.profile) {
    for (auto &step : p.steps)
      step();
  } else {
    // Constants have no step; kernels[] and steps[] are matched by skipping them.
    size_t k = 0;
    for (auto &step : p.steps) {
      while (p.kernels[k].kind == KernelKind::Constant)
        ++k;
      auto start = std::chrono::steady_clock::now();
      step();
      auto end = std::chrono::steady_clock::now();
      p.kernels[k].calls++;
      p.kernels[k].nanos += std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
      ++k;
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const HostTensor &r = p.slots[size_t(p.fn.results()[i].id)];
    if (outputs[i].raw() != r.raw())
      std::memcpy(outputs[i].raw(), r.raw(), r.bytes());
  }
}

std::vector<HostTensor> Program::run(std::span<const HostTensor> inputs) {
  std::vector<HostTensor> outputs;
  for (ValueId r : impl_->fn.results())
    outputs.emplace_back(impl_->fn.type(r));
  run(inputs, outputs);
  return outputs;
}

const Function &Program::optimized() const { return impl_->fn; }
const std::vector<KernelInfo> &Program::kernels() const { return impl_->kernels; }

int64_t Program::bufferBytes() const {
  int64_t total = 0;
  for (const HostTensor &t : impl_->slots)
    total += int64_t(t.bytes());
  return total;
}

} // namespace kiln::runtime
