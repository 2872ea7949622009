//===- Program.cpp - Lowering a function to kernels -----------------------===//
#include "kiln/runtime/Program.h"
#include "CheckNumerics.h"
#include "LogSoftmax.h"
#include "ParallelRows.h"
#include "SmallMatmul.h"
#include "SoftmaxCrossEntropy.h"
#include "kiln/compiler/FuseCrossEntropy.h"
#include "kiln/compiler/MemoryPlan.h"
#include "kiln/compiler/Pass.h"
#include "kiln/ir/Limits.h"
#include "kiln/ir/OpDef.h"
#include "kiln/ir/Verifier.h"
#include "kiln/runtime/Jit.h"
#include "kiln/runtime/OneDnn.h"
#include "kiln/runtime/Threads.h"

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <new>

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
  case KernelKind::Native: return "native";
  case KernelKind::Reference: return "reference";
  }
  return "?";
}

namespace {
/// calloc's blocks are given back with free().
struct FreeDeleter {
  void operator()(void *p) const { std::free(p); }
};
} // namespace

struct Program::Impl {
  Function fn;
  CompileOptions options;
  /// Where every intermediate value of `fn` lives in `arena`.
  compiler::MemoryPlan plan;
  std::unique_ptr<void, FreeDeleter> arena; ///< the block that holds it, 64-byte aligned inside
  /// The constants' own storage.
  std::vector<HostTensor> constants;
  /// Staging tensors of reference kernels, which read and write HostTensors:
  /// shared by all steps, by type (steps run one at a time).
  std::map<std::string, std::vector<HostTensor>> scratch;
  /// The address of every value: arena slots and constants are fixed at
  /// compile time, parameters (and views of them) are bound per run.
  std::vector<void *> ptrs;
  /// Result slots a run points at its output buffers, with their arena
  /// addresses (ResultsInOutputs; kept to reuse its capacity).
  std::vector<std::pair<size_t, void *>> moved;
  /// A buffer's bytes, [begin, end).
  struct ByteRange {
    const std::byte *begin = nullptr, *end = nullptr;
    bool overlaps(const ByteRange &o) const { return begin < o.end && o.begin < end; }
    bool operator==(const ByteRange &) const = default;
  };
  /// A run's input and output buffers and which outputs writableInPlace
  /// allowed for them.
  struct Binding {
    std::vector<ByteRange> ranges;
    std::vector<char> writable;
  };
  /// The last two runs' bindings (`newest` is the last run's): a replayed
  /// step binds the same inputs and write-back targets every time, but its
  /// fresh outputs are buffers that the step before freed, handed back by the
  /// buffer cache in another order (a linreg step's four fresh results
  /// alternate between two sets of buffers), so one remembered binding never
  /// matched a steady step.
  std::array<Binding, 2> bindings;
  size_t newest = 0;
  /// This run's buffers, inputs then outputs (kept to reuse its capacity).
  std::vector<ByteRange> ranges;
  /// What decides, per result, whether it may be written into its output,
  /// apart from the buffers of a run (directResult; made at compile time).
  struct DirectResult {
    bool possible = false;
    /// The parameter the result may overwrite, or -1.
    int64_t donor = -1;
  };
  std::vector<DirectResult> directResults;
  /// Where copyResults reads each result (kept to reuse its capacity).
  std::vector<const void *> copyFrom;
  /// One kernel of the program: its name, kind and profile, the node of `fn`
  /// it computes, and what a run executes for it -- nothing for a constant,
  /// which is in place from compile time.
  struct Step {
    KernelInfo info;
    const Node *node = nullptr;
    std::function<void()> run;
  };
  /// In order.
  std::vector<Step> steps;
  /// The function before the passes (for CompileOptions::checkNumerics).
  Function source;

  void *ptr(ValueId v) { return ptrs[size_t(v.id)]; }
  /// Lowering's current node: the node of every step it adds.
  const Node *lowering = nullptr;
  void addStep(std::string name, KernelKind kind, std::function<void()> run) {
    KernelInfo info{std::move(name), kind};
    if (lowering)
      info.results = lowering->results;
    steps.push_back({std::move(info), lowering, std::move(run)});
  }
};

namespace {

/// The extents of matmul node `n` of `f` ([m,k] x [k,n] -> [m,n]), in a
/// description with no transposes, bias or epilogue yet.
onednn::MatmulDesc matmulExtents(const Function &f, const Node &n) {
  const Shape &out = f.type(n.result()).shape;
  return {.m = out[0], .k = f.type(n.operands[0]).shape[1], .n = out[1]};
}

/// Whether `n` holds a product that may run on oneDNN: a matmul (plain, or in
/// a fused kernel's body) that is not a 2-D product of at most
/// kSmallMatmulMacs multiply-adds. Smaller ones run as a loop (SmallMatmul.h)
/// and need none of oneDNN's one-time setup, nor a thread to run it.
bool mayRunOnOneDnn(const Function &f, const Node &n) {
  if (n.op == OpKind::Fused)
    return std::any_of(n.body->nodes().begin(), n.body->nodes().end(),
                       [&](const Node &m) { return mayRunOnOneDnn(*n.body, m); });
  if (n.op != OpKind::Matmul)
    return false;
  return !runsAsSmallMatmul(matmulExtents(f, n));
}

/// Whether running `f` with two or more threads may use them: a product on
/// oneDNN (whose setup runs on a thread of its own), or a loop or reduction
/// kernel with more than a task's worth of elements (kMinTaskElements),
/// which may be cut into tasks for the pool.
bool mayRunOnThreads(const Function &f) {
  for (const Node &n : f.nodes()) {
    if (mayRunOnOneDnn(f, n))
      return true;
    if (!jitKernelKind(f, n))
      continue;
    int64_t elements = 0;
    for (ValueId v : n.operands)
      elements = std::max(elements, f.type(v).shape.numel());
    for (ValueId v : n.results)
      elements = std::max(elements, f.type(v).shape.numel());
    if (elements > kMinTaskElements)
      return true;
  }
  return false;
}

/// The one-node loop body of an unfused elementwise node of `fn`.
Function singleNodeBody(const Function &fn, const Node &n) {
  Function body(std::string(opName(n.op)));
  std::vector<ValueId> params;
  for (size_t i = 0; i < n.operands.size(); ++i)
    params.push_back(body.addParam(fn.type(n.operands[i]), fmt::format("in{}", i)));
  size_t k = body.appendNode(n.op, params, n.attrs, {fn.type(n.result())});
  body.setResults({body.nodes()[k].result()});
  return body;
}

/// The JIT's body for node `n`: a fused node's own, or a one-node body (so
/// every loop kernel, fused or not, goes through the JIT).
Function loopKernelBody(const Function &fn, const Node &n) {
  return n.body ? *n.body : singleNodeBody(fn, n);
}

/// Turns each node of the optimised function into a step of the program.
class Lowering {
public:
  explicit Lowering(Program::Impl &p) : p_(p) {}

  void run() {
    allocateArena();
    compileLoopKernels();
    for (const Node &n : p_.fn.nodes()) {
      p_.lowering = &n;
      lower(n);
    }
    p_.lowering = nullptr;
  }

private:
  /// The JIT's kernels of the program that need code generation (LLVM takes
  /// ~10-20 ms per kernel, most of a new step's compile), compiled in
  /// parallel (up to maxThreads()) before lowering, which takes them from
  /// `compiled_` -- for a program that will run on threads anyway. The
  /// first thread a process starts makes glibc's and libstdc++'s reference
  /// counts and malloc atomic for good: the seed's linreg step (5 kernels,
  /// none worth splitting) was 11 % slower for the rest of the process when
  /// they compiled on the pool, for 12 ms off its first step. Kernels found
  /// in the JIT's memory or disk cache take well under a millisecond:
  /// lowering loads them, and no thread is started for them either.
  void compileLoopKernels() {
    if (maxThreads() < 2 || !mayRunOnThreads(p_.fn)) // lowering compiles each itself
      return;
    std::vector<const Node *> nodes;
    std::vector<Function> bodies;
    for (const Node &n : p_.fn.nodes()) {
      if (!jitKernelKind(p_.fn, n))
        continue;
      Function body = loopKernelBody(p_.fn, n);
      if (Jit::instance().hasCode(body, body.name())) {
        bodies_.emplace(&n, std::move(body)); // lowering loads it, not building it again
        continue;
      }
      nodes.push_back(&n);
      bodies.push_back(std::move(body));
    }
    int threads = int(std::min<int64_t>(maxThreads(), int64_t(nodes.size())));
    if (threads < 2)
      return;
    std::vector<LoopKernel> kernels(nodes.size());
    runTasks(int64_t(nodes.size()), threads, [&](int64_t i) {
      const Function &body = bodies[size_t(i)];
      kernels[size_t(i)] =
          Jit::instance().compile(body, body.name(), *jitKernelKind(p_.fn, *nodes[size_t(i)]));
    });
    for (size_t i = 0; i < nodes.size(); ++i)
      compiled_[nodes[i]] = std::move(kernels[i]);
  }

  LoopKernel compileLoopKernel(const Node &n, FusionKind kind) {
    auto kept = bodies_.find(&n);
    Function body = kept != bodies_.end() ? std::move(kept->second) : loopKernelBody(p_.fn, n);
    return Jit::instance().compile(body, body.name(), kind);
  }

  /// One allocation for every intermediate value, laid out by the plan.
  void allocateArena() {
    const Function &f = p_.fn;
    p_.plan = compiler::planMemory(f);
    p_.ptrs.assign(f.numValues(), nullptr);
    for (size_t v = 0; v < f.numValues(); ++v)
      if (p_.plan.values[v].bytes > maxTensorBytes())
        throw Error(ErrorKind::Resource,
                    fmt::format("tensor {} needs {} bytes, over the limit of {} "
                                "(KILN_MAX_TENSOR_BYTES)",
                                f.type(ValueId{int32_t(v)}).str(), p_.plan.values[v].bytes,
                                maxTensorBytes()));
    if (p_.plan.arenaBytes > maxArenaBytes())
      throw Error(ErrorKind::Resource,
                  fmt::format("@{} needs a {}-byte buffer arena, over the limit of {} "
                              "(KILN_MAX_ARENA_BYTES, default KILN_MAX_TENSOR_BYTES)",
                              f.name(), p_.plan.arenaBytes, maxArenaBytes()));
    // Never empty, so that every slot has a real address. Zeroed, and 64-byte
    // aligned as HostTensor's storage. calloc, not new and memset: memory
    // fresh from the system is zero already and stays untouched until a
    // kernel writes it, and the slots of results that runs write straight
    // into their output buffers are never touched at all (the MLP step's
    // arena is 0.8 MB, nearly all of it its weights' gradients and new
    // values; zeroing it was 0.3 ms of page faults in its first step).
    auto bytes = size_t(std::max<int64_t>(p_.plan.arenaBytes, compiler::kPlanAlignment));
    constexpr size_t kAlign = 64;
    p_.arena.reset(std::calloc(1, bytes + kAlign - 1));
    if (!p_.arena)
      throw Error(ErrorKind::Resource,
                  fmt::format("cannot allocate the {}-byte buffer arena of @{}", bytes, f.name()));
    auto *arena = static_cast<std::byte *>(p_.arena.get());
    arena += (kAlign - reinterpret_cast<uintptr_t>(arena) % kAlign) % kAlign;
    for (size_t v = 0; v < f.numValues(); ++v)
      if (p_.plan.values[v].storage == compiler::Storage::Arena)
        p_.ptrs[v] = arena + p_.plan.values[v].offset;
  }

  void lower(const Node &n) {
    if (n.op == OpKind::Fused)
      return lowerFused(n);
    if (n.op == OpKind::Constant)
      return lowerConstant(n);
    if (n.op == OpKind::Reshape)
      return lowerReshape(n);
    if (std::optional<FusionKind> kind = jitKernelKind(p_.fn, n))
      return lowerLoopKernel(n, *kind);
    if (n.op == OpKind::Matmul && p_.fn.type(n.result()).dtype == DType::F32)
      return lowerMatmul(n);
    if (n.op == OpKind::Softmax && isLastAxisF32(n))
      return lowerSoftmax(n);
    if (n.op == OpKind::LogSoftmax && isLastAxisF32(n))
      return lowerLogSoftmax(n);
    lowerReference(n);
  }

  /// The pass that made a fused node said what kernel it is.
  void lowerFused(const Node &n) {
    switch (FusionKind kind = n.attrs.getFusionKind("kind")) {
    case FusionKind::Loop:
    case FusionKind::Reduction:
      return lowerLoopKernel(n, kind);
    case FusionKind::Matmul:
      return lowerMatmulKernel(n);
    case FusionKind::SoftmaxCrossEntropy: {
      auto xent = compiler::describeSoftmaxCrossEntropy(*n.body);
      check(xent.has_value(), "fused softmax_xent: the body is not softmax + cross-entropy");
      return lowerSoftmaxCrossEntropy(n, *xent);
    }
    }
  }

  void lowerConstant(const Node &n) {
    p_.constants.push_back(n.attrs.getDense("value").clone());
    p_.ptrs[size_t(n.result().id)] = p_.constants.back().raw();
    p_.addStep("constant", KernelKind::Constant, nullptr);
  }

  /// The plan gives a reshape its operand's address; a view of a parameter
  /// learns it when the run binds the parameter.
  void lowerReshape(const Node &n) {
    Program::Impl &p = p_;
    size_t in = size_t(n.operands[0].id), out = size_t(n.result().id);
    p.ptrs[out] = p.ptrs[in];
    p.addStep("reshape", KernelKind::Alias, [&p, in, out] { p.ptrs[out] = p.ptrs[in]; });
  }

  /// A loop or reduction kernel of the JIT (compiled ahead when there are several).
  void lowerLoopKernel(const Node &n, FusionKind kind) {
    auto ahead = compiled_.find(&n);
    LoopKernel k = ahead != compiled_.end() ? std::move(ahead->second) : compileLoopKernel(n, kind);
    std::vector<ValueId> buffers = n.operands;
    buffers.insert(buffers.end(), n.results.begin(), n.results.end());
    Program::Impl &p = p_;
    std::vector<void *> args(buffers.size());
    if (k.scratchBytes > 0) { // a reduction's double accumulators, shared between steps
      std::map<std::string, size_t> claimed;
      int64_t doubles = (k.scratchBytes + 7) / 8;
      args.push_back(claimScratch({DType::F64, Shape{doubles}}, claimed).raw());
    }
    p.addStep(k.name, KernelKind::Jit, [&p, kernel = RowKernel(k), buffers, args]() mutable {
      for (size_t i = 0; i < buffers.size(); ++i)
        args[i] = p.ptr(buffers[i]);
      kernel.run(args.data());
    });
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
        onednn::MatmulDesc extents = matmulExtents(body, m);
        desc.m = extents.m;
        desc.k = extents.k;
        desc.n = extents.n;
        a = operandOf(m.operands[0], desc.transposeA);
        b = operandOf(m.operands[1], desc.transposeB);
        break;
      }
      case OpKind::Add: {
        auto isMatmul = [&](ValueId v) {
          return !body.isParam(v) && body.defOf(v).op == OpKind::Matmul;
        };
        ValueId other = isMatmul(m.operands[0]) ? m.operands[1] : m.operands[0];
        bool unused;
        bias = operandOf(other, unused);
        desc.bias = true;
        break;
      }
      case OpKind::Transpose: break;
      default: {
        std::optional<onednn::Activation> activation = onednn::activationFor(m.op);
        check(activation.has_value(), "fused matmul: unexpected op in the body");
        desc.activation = *activation;
      }
      }
    }
    check(n.results.size() == 1, "fused matmul: one result expected");
    addMatmulStep(n.body->name(), desc, a, b, bias, n.result());
  }

  void lowerMatmul(const Node &n) {
    addMatmulStep("matmul", matmulExtents(p_.fn, n), n.operands[0], n.operands[1], ValueId{},
                  n.result());
  }

  void addMatmulStep(std::string name, const onednn::MatmulDesc &desc, ValueId a, ValueId b,
                     ValueId bias, ValueId c) {
    Program::Impl &p = p_;
    if (runsAsSmallMatmul(desc)) {
      p.addStep(std::move(name), KernelKind::Native, [&p, desc, a, b, bias, c] {
        runSmallMatmul(desc, static_cast<const float *>(p.ptr(a)),
                       static_cast<const float *>(p.ptr(b)),
                       bias.valid() ? static_cast<const float *>(p.ptr(bias)) : nullptr,
                       static_cast<float *>(p.ptr(c)));
      });
      return;
    }
    std::shared_ptr<onednn::Matmul> mm = onednn::Matmul::get(desc);
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
    auto sm = onednn::Softmax::get(rows, cols, /*log=*/false); // log_softmax: lowerLogSoftmax
    Program::Impl &p = p_;
    ValueId in = n.operands[0], out = n.result();
    p.addStep("softmax", KernelKind::OneDnn, [&p, sm, in, out] {
      sm->run(static_cast<const float *>(p.ptr(in)), static_cast<float *>(p.ptr(out)));
    });
  }

  /// A fused_softmax_cross_entropy node (the fuse-xent pass): one native kernel.
  void lowerSoftmaxCrossEntropy(const Node &n, const compiler::SoftmaxCrossEntropyKernel &k) {
    SoftmaxCrossEntropyArgs args;
    args.rows = k.rows;
    args.cols = k.cols;
    args.labelType = k.labels;
    args.mean = k.mean;
    ValueId dy;
    if (k.dyOperand >= 0) {
      dy = n.operands[size_t(k.dyOperand)];
      // dy broadcasts to [rows, cols]: a stride of 0 along a broadcast axis.
      const Shape &s = p_.fn.type(dy).shape;
      int64_t dyRows = s.rank() == 2 ? s[0] : 1, dyCols = s.rank() >= 1 ? s[s.rank() - 1] : 1;
      args.dyRowStride = dyRows == 1 ? 0 : dyCols;
      args.dyColStride = dyCols == 1 ? 0 : 1;
    }
    ValueId logits = n.operands[0], labels = n.operands[1];
    ValueId loss = k.lossResult >= 0 ? n.results[size_t(k.lossResult)] : ValueId{};
    ValueId grad = k.gradResult >= 0 ? n.results[size_t(k.gradResult)] : ValueId{};
    Program::Impl &p = p_;
    p.addStep(std::string(compiler::kSoftmaxCrossEntropyKernel), KernelKind::Native,
              [&p, args, logits, labels, dy, loss, grad]() mutable {
                args.logits = static_cast<const float *>(p.ptr(logits));
                args.labels = p.ptr(labels);
                args.dy = dy.valid() ? static_cast<const float *>(p.ptr(dy)) : nullptr;
                args.loss = loss.valid() ? static_cast<float *>(p.ptr(loss)) : nullptr;
                args.grad = grad.valid() ? static_cast<float *>(p.ptr(grad)) : nullptr;
                softmaxCrossEntropy(args);
              });
  }

  /// Not oneDNN's logsoftmax, whose error exceeds kiln's tolerance (see LogSoftmax.h).
  void lowerLogSoftmax(const Node &n) {
    const Shape &s = p_.fn.type(n.result()).shape;
    int64_t cols = s[s.rank() - 1], rows = cols ? s.numel() / cols : 0;
    Program::Impl &p = p_;
    ValueId in = n.operands[0], out = n.result();
    p.addStep("log_softmax", KernelKind::Native, [&p, in, out, rows, cols] {
      logSoftmaxRows(static_cast<const float *>(p.ptr(in)), static_cast<float *>(p.ptr(out)),
                     rows, cols);
    });
  }

  /// Reference kernels work on HostTensors: operands are copied into
  /// staging tensors and the result is copied back to its slot (these ops
  /// have no fast path yet, and their double-precision loops cost far more
  /// than the copies).
  void lowerReference(const Node &n) {
    Program::Impl &p = p_;
    const Node *node = &n; // nodes of p.fn do not move after lowering
    std::map<std::string, size_t> claimed;
    std::vector<HostTensor> staged; // shallow handles on scratch storage
    for (ValueId o : n.operands)
      staged.push_back(claimScratch(p_.fn.type(o), claimed));
    HostTensor result = claimScratch(p_.fn.type(n.result()), claimed);
    std::vector<const HostTensor *> operands(n.operands.size());
    p.addStep(std::string(opName(n.op)), KernelKind::Reference,
              [&p, node, staged, result, operands]() mutable {
                for (size_t i = 0; i < operands.size(); ++i) {
                  copyBytes(staged[i].raw(), p.ptr(node->operands[i]), staged[i].bytes());
                  operands[i] = &staged[i];
                }
                // Some kernels (one_hot) write only the nonzero elements.
                if (result.bytes())
                  std::memset(result.raw(), 0, result.bytes());
                evalNode(*node, operands, result);
                copyBytes(p.ptr(node->result()), result.raw(), result.bytes());
              });
  }

  /// A staging tensor of type `t` that no other operand of the same step
  /// uses; steps share them.
  HostTensor claimScratch(const TensorType &t, std::map<std::string, size_t> &claimed) {
    std::string key = t.str();
    std::vector<HostTensor> &pool = p_.scratch[key];
    size_t index = claimed[key]++;
    if (pool.size() <= index)
      pool.emplace_back(t);
    return pool[index];
  }

  static void copyBytes(void *to, const void *from, size_t bytes) {
    if (bytes)
      std::memcpy(to, from, bytes);
  }

  Program::Impl &p_;
  /// Kernels compiled ahead of lowering, by node.
  std::map<const Node *, LoopKernel> compiled_;
  /// Bodies compileLoopKernels built for kernels the JIT already has.
  std::map<const Node *, Function> bodies_;
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

std::optional<FusionKind> jitKernelKind(const Function &fn, const Node &n) {
  if (n.op == OpKind::Fused) {
    FusionKind kind = n.attrs.getFusionKind("kind");
    if (kind == FusionKind::Loop || kind == FusionKind::Reduction)
      return kind;
    return std::nullopt;
  }
  if (n.op == OpKind::Constant || n.op == OpKind::Reshape)
    return std::nullopt;
  if (opDef(n.op).scalar)
    return FusionKind::Loop;
  if (jitReduces(n.op, fn.type(n.result()).dtype))
    return FusionKind::Reduction;
  return std::nullopt;
}

std::vector<KernelBody> loopKernelBodies(const Function &optimized) {
  std::vector<KernelBody> bodies;
  for (const Node &n : optimized.nodes())
    if (std::optional<FusionKind> kind = jitKernelKind(optimized, n))
      bodies.push_back({loopKernelBody(optimized, n), *kind});
  return bodies;
}

/// Whether result k may ever be written straight into its output buffer,
/// whatever the buffers: it has its own arena slot (not a view, whose
/// address a reshape step sets), is not an earlier result too, and, where
/// the memory plan lets it overwrite a parameter (an optimizer's update of
/// w, by the kernel that reads w last), that parameter's index.
static Program::Impl::DirectResult directResult(const Program::Impl &p, size_t k) {
  ValueId r = p.fn.results()[k];
  const compiler::ValuePlacement &place = p.plan.at(r);
  Program::Impl::DirectResult d;
  d.possible = place.storage == compiler::Storage::Arena &&
               !(place.sharesWith.valid() && !place.inPlace) &&
               std::find(p.fn.results().begin(), p.fn.results().begin() + ptrdiff_t(k), r) ==
                   p.fn.results().begin() + ptrdiff_t(k);
  ValueId overwritable = p.plan.resultMayOverwrite[k];
  for (size_t i = 0; i < p.fn.params().size(); ++i)
    if (p.fn.params()[i] == overwritable)
      d.donor = int64_t(i);
  return d;
}

Program::Program() : impl_(std::make_unique<Impl>()) {}
Program::~Program() = default;

std::shared_ptr<Program> Program::compile(const Function &f, const CompileOptions &options) {
  if (gCompilationForbidden)
    throw Error(ErrorKind::Runtime,
                fmt::format("compiling @{} is forbidden (setCompilationForbidden)", f.name()));
  ++gCompilations;
  verify(f);
  // oneDNN's one-time setup runs while this compiles, not in the first run.
  std::future<void> setUp;
  if (std::any_of(f.nodes().begin(), f.nodes().end(),
                  [&](const Node &n) { return mayRunOnOneDnn(f, n); }))
    setUp = onednn::setUpMatmulsAsync();
  std::shared_ptr<Program> program(new Program());
  Impl &p = *program->impl_;
  p.options = options;
  compiler::PassManager pm({.context = {.fusionTarget = &fusionTarget()}});
  pm.addPipeline(options.pipeline);
  p.fn = pm.run(f);
  if (options.checkNumerics)
    p.source = f;
  Lowering(p).run();
  for (size_t k = 0; k < p.fn.results().size(); ++k)
    p.directResults.push_back(directResult(p, k));
  if (setUp.valid())
    setUp.get();
  return program;
}

/// After every kernel ran (an output may be an input's buffer, which kernels
/// read until the end). A result that is a parameter may live in another
/// output's buffer: such results are read before any output is written.
static void copyResults(Program::Impl &p, std::span<HostTensor> outputs) {
  std::vector<const void *> &from = p.copyFrom;
  from.assign(outputs.size(), nullptr);
  std::vector<HostTensor> saved;
  for (size_t i = 0; i < outputs.size(); ++i) {
    from[i] = p.ptr(p.fn.results()[i]);
    for (size_t j = 0; j < outputs.size(); ++j)
      if (j != i && from[i] == outputs[j].raw() && from[i] != outputs[i].raw()) {
        saved.push_back(outputs[j].clone());
        from[i] = saved.back().raw();
        break;
      }
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].raw() != from[i] && outputs[i].bytes())
      std::memcpy(outputs[i].raw(), from[i], outputs[i].bytes());
}

/// Runs every step and checks its results (CompileOptions::checkNumerics).
static void runCheckingNumerics(Program::Impl &p) {
  ValueAddress address = [&p](ValueId v) { return p.ptr(v); };
  checkInputNumerics(p.fn, address);
  for (Program::Impl::Step &step : p.steps) {
    if (!step.run)
      continue;
    std::vector<HostTensor> operands = saveOperands(p.fn, *step.node, address);
    step.run();
    checkNodeNumerics(p.source, p.fn, *step.node, address, operands);
  }
}

static Program::Impl::ByteRange bytesOf(const HostTensor &t) {
  const auto *begin = static_cast<const std::byte *>(t.raw());
  return {begin, begin + t.bytes()};
}

/// Whether output k may receive its result straight from the kernel that
/// computes it (see directResult): no other output shares its buffer, and
/// an input may share it only where it is the donor parameter and the
/// output is exactly that input's buffer; otherwise a later kernel may still
/// read the input, and the result is copied after all kernels ran.
/// `ranges`: the inputs' bytes, then the outputs'.
static bool writableInPlace(const Program::Impl &p,
                            std::span<const Program::Impl::ByteRange> ranges, size_t inputs,
                            size_t k) {
  const Program::Impl::DirectResult &d = p.directResults[k];
  if (!d.possible)
    return false;
  const Program::Impl::ByteRange &out = ranges[inputs + k];
  for (size_t j = 0; j < ranges.size(); ++j) {
    if (j == inputs + k || !out.overlaps(ranges[j]))
      continue;
    bool donated = int64_t(j) == d.donor && ranges[j] == out;
    if (!donated)
      return false;
  }
  return true;
}

/// Points the results that writableInPlace allows at their output buffers
/// for one run (no copy afterwards: an MLP step's gradients and updated
/// weights are 400 KB each), and back at their arena slots when the run
/// ends, also by an exception.
class ResultsInOutputs {
public:
  ResultsInOutputs(Program::Impl &p, std::span<const HostTensor> inputs,
                   std::span<HostTensor> outputs)
      : p_(p) {
    const std::vector<char> &writable = binding(inputs, outputs).writable;
    for (size_t k = 0; k < outputs.size(); ++k)
      if (writable[k]) {
        size_t slot = size_t(p.fn.results()[k].id);
        p.moved.emplace_back(slot, p.ptrs[slot]);
        p.ptrs[slot] = outputs[k].raw();
      }
  }
  ~ResultsInOutputs() {
    for (auto [slot, home] : p_.moved)
      p_.ptrs[slot] = home;
    p_.moved.clear();
  }
  ResultsInOutputs(const ResultsInOutputs &) = delete;
  ResultsInOutputs &operator=(const ResultsInOutputs &) = delete;

private:
  /// This run's binding: one of the last two runs' if it binds the same
  /// buffers, else made in place of the older one.
  const Program::Impl::Binding &binding(std::span<const HostTensor> inputs,
                                        std::span<HostTensor> outputs) {
    std::vector<Program::Impl::ByteRange> &ranges = p_.ranges;
    ranges.clear();
    for (const HostTensor &t : inputs)
      ranges.push_back(bytesOf(t));
    for (const HostTensor &t : outputs)
      ranges.push_back(bytesOf(t));
    for (size_t age = 0; age < p_.bindings.size(); ++age) {
      size_t b = (p_.newest + age) % p_.bindings.size();
      if (p_.bindings[b].ranges == ranges) {
        p_.newest = b;
        return p_.bindings[b];
      }
    }
    p_.newest = (p_.newest + 1) % p_.bindings.size();
    Program::Impl::Binding &made = p_.bindings[p_.newest];
    made.ranges = ranges;
    made.writable.resize(outputs.size());
    for (size_t k = 0; k < outputs.size(); ++k)
      made.writable[k] = outputs[k].bytes() && writableInPlace(p_, made.ranges, inputs.size(), k);
    return made;
  }

  Program::Impl &p_;
};

void Program::run(std::span<const HostTensor> inputs, std::span<HostTensor> outputs) {
  Impl &p = *impl_;
  checkBinding(p.fn, inputs, p.fn.params(), "inputs");
  checkBinding(p.fn, outputs, p.fn.results(), "outputs");
  // Kernels read parameters where they are; they write one only where the
  // plan lets a result overwrite it and the caller asked for that.
  for (size_t i = 0; i < inputs.size(); ++i)
    p.ptrs[size_t(p.fn.params()[i].id)] = const_cast<void *>(inputs[i].raw());
  ResultsInOutputs direct(p, inputs, outputs);
  if (p.options.checkNumerics) {
    runCheckingNumerics(p);
  } else if (!p.options.profile) {
    for (Program::Impl::Step &step : p.steps)
      if (step.run)
        step.run();
  } else {
    for (Program::Impl::Step &step : p.steps) {
      if (!step.run)
        continue;
      auto start = std::chrono::steady_clock::now();
      step.run();
      auto end = std::chrono::steady_clock::now();
      step.info.calls++;
      step.info.nanos += std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
    }
  }
  copyResults(p, outputs);
}

std::vector<HostTensor> Program::run(std::span<const HostTensor> inputs) {
  std::vector<HostTensor> outputs;
  for (ValueId r : impl_->fn.results()) // run() writes every element
    outputs.push_back(HostTensor::uninitialized(impl_->fn.type(r)));
  run(inputs, outputs);
  return outputs;
}

const Function &Program::optimized() const { return impl_->fn; }
std::vector<KernelInfo> Program::kernels() const {
  std::vector<KernelInfo> kernels;
  for (const Impl::Step &step : impl_->steps)
    kernels.push_back(step.info);
  return kernels;
}

int64_t Program::bufferBytes() const {
  int64_t total = impl_->plan.arenaBytes;
  for (const HostTensor &t : impl_->constants)
    total += int64_t(t.bytes());
  for (const auto &[type, pool] : impl_->scratch)
    for (const HostTensor &t : pool)
      total += int64_t(t.bytes());
  return total;
}

const compiler::MemoryPlan &Program::memoryPlan() const { return impl_->plan; }

} // namespace kiln::runtime
