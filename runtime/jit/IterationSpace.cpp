//===- IterationSpace.cpp - Coalescing a kernel's loop nest ---------------===//
#include "IterationSpace.h"
#include "kiln/ir/OpDef.h"
#include "kiln/runtime/Jit.h"

#include <fmt/format.h>

namespace kiln::runtime {

using namespace kiln::ir;

namespace {

std::string valueName(const Function &f, ValueId v) {
  const std::string &name = f.value(v).name;
  return name.empty() ? fmt::format("%{}", v.id) : "%" + name;
}

[[noreturn]] void reject(const Function &f, const Location &loc, std::string message) {
  throw Error(ErrorKind::Verify,
              fmt::format("loop kernel @{}: {}", f.name().empty() ? "?" : f.name(), message), loc);
}

void checkNode(const Function &body, const Node &n, const Shape &s) {
  const OpDef &def = opDef(n.op);
  std::string what = fmt::format("'{}' ({})", def.name,
                                 n.results.empty() ? "no result" : valueName(body, n.result()));
  if (n.op == OpKind::Constant) {
    const HostTensor &value = n.attrs.getDense("value");
    // A zero-element constant is never read, so it is as good as a splat.
    if (value.numel() != 0 && !value.isSplat())
      reject(body, n.loc,
             fmt::format("{} is not a splat; only splat constants can be inlined "
                         "into a loop kernel",
                         what));
  } else if (!def.scalar || n.body) {
    reject(body, n.loc,
           fmt::format("{} has no scalar expression ({}); a loop kernel holds only elementwise "
                       "ops and splat constants",
                       what, fusionClassName(def.fusion)));
  }
  if (n.results.size() != 1)
    reject(body, n.loc, fmt::format("{} must have exactly one result", what));
  const TensorType &t = body.type(n.result());
  if (!broadcastsTo(t.shape, s))
    reject(body, n.loc,
           fmt::format("{} of type {} does not broadcast to the iteration shape {}", what, t.str(),
                       s.str()));
}

} // namespace

void checkLoopKernelBody(const Function &body) {
  if (body.results().empty())
    reject(body, body.loc, "the body returns nothing");
  const Shape &s = body.type(body.results()[0]).shape;
  if (auto problem = s.validate())
    reject(body, body.loc, *problem);
  for (size_t i = 0; i < body.results().size(); ++i) {
    ValueId r = body.results()[i];
    if (body.type(r).shape != s)
      reject(body, i < body.resultLocs.size() ? body.resultLocs[i] : body.loc,
             fmt::format("result {} ({}) has type {} but result 0 has shape {}; all results of "
                         "a loop kernel have the iteration shape",
                         i, valueName(body, r), body.type(r).str(), s.str()));
  }
  // Nodes first: an op that is not elementwise explains any odd operand shapes.
  for (const Node &n : body.nodes())
    checkNode(body, n, s);
  for (ValueId p : body.params())
    if (!broadcastsTo(body.type(p).shape, s))
      reject(body, body.loc,
             fmt::format("parameter {} of type {} does not broadcast to the iteration shape {}",
                         valueName(body, p), body.type(p).str(), s.str()));
}

bool jitReduces(OpKind op, DType dtype) {
  return opDef(op).reduction != nullptr && isFloat(dtype);
}

void checkReductionKernelBody(const Function &body) {
  if (body.nodes().empty() || body.results().size() != 1)
    reject(body, body.loc, "a reduction kernel has one result, its reduction's");
  const Node &r = body.nodes().back();
  if (opDef(r.op).fusion != FusionClass::Reduction || r.results.size() != 1 ||
      r.operands.size() != 1)
    reject(body, r.loc,
           fmt::format("'{}' comes after the reduction; a reduction kernel ends with it",
                       opName(r.op)));
  if (body.results()[0] != r.result())
    reject(body, body.loc, "the result of a reduction kernel is its reduction's");
  const TensorType &out = body.type(r.result());
  if (!jitReduces(r.op, out.dtype))
    reject(body, r.loc,
           fmt::format("'{}' of {} is not a reduction the JIT computes (reduce_sum, reduce_mean "
                       "or reduce_max of f32 or f64)",
                       opName(r.op), out.str()));
  const Shape &s = body.type(r.operands.at(0)).shape;
  if (auto problem = s.validate())
    reject(body, r.loc, *problem);
  for (size_t i = 0; i + 1 < body.nodes().size(); ++i)
    checkNode(body, body.nodes()[i], s);
  for (ValueId p : body.params())
    if (!broadcastsTo(body.type(p).shape, s))
      reject(body, body.loc,
             fmt::format("parameter {} of type {} does not broadcast to the reduction's input "
                         "shape {}",
                         valueName(body, p), body.type(p).str(), s.str()));
}

namespace jit {

const Node *reductionNode(const Function &body) {
  if (body.nodes().empty() || opDef(body.nodes().back().op).fusion != FusionClass::Reduction)
    return nullptr;
  return &body.nodes().back();
}

int64_t launchRows(const IterationSpace &space) {
  if (!space.reduction)
    return space.rows;
  const ReductionAccess &r = *space.reduction;
  if (r.outputs == 0)
    return 0;
  return space.rows == 0 || space.cols == 0 || r.acrossRows ? 1 : space.rows;
}

namespace {

/// One dimension of the iteration shape with every input's stride along it.
struct Dim {
  int64_t size;
  std::vector<int64_t> strides;
};

/// numpy broadcast strides of `from` viewed as shape `to`: 0 along broadcast dims.
std::vector<int64_t> broadcastStrides(const Shape &from, const Shape &to) {
  std::vector<int64_t> own = from.strides(), out(size_t(to.rank()), 0);
  for (int d = 0; d < to.rank(); ++d) {
    int i = d - (to.rank() - from.rank());
    if (i >= 0 && from[i] != 1)
      out[size_t(d)] = own[size_t(i)];
  }
  return out;
}

/// `s` with extent 1 on `axes`: a reduction's output shape with kept dims.
Shape keptDimsShape(const Shape &s, const IntList &axes) {
  std::vector<int64_t> dims = s.toVector();
  for (int64_t a : axes)
    dims.at(size_t(a)) = 1;
  return Shape(std::move(dims));
}

/// Drops unit dims and merges each dim into its inner neighbour wherever
/// every input steps through both as through one (stride[d] == stride[d+1] *
/// size[d+1]; broadcast dims qualify with 0 == 0 * size). Innermost first.
/// A reduction's output counts as one more input, with stride 0 along the
/// reduced dims, so reduced and kept dims never merge.
std::vector<Dim> coalesce(const Function &body, const Shape &s, const Node *reduction) {
  std::vector<std::vector<int64_t>> strides;
  for (ValueId p : body.params())
    strides.push_back(broadcastStrides(body.type(p).shape, s));
  if (reduction) // the output as if kept dims: extent 1, so stride 0, on reduced axes
    strides.push_back(broadcastStrides(keptDimsShape(s, reduction->attrs.getInts("axes")), s));
  std::vector<Dim> dims;
  for (int d = s.rank() - 1; d >= 0; --d) {
    if (s[d] == 1)
      continue;
    Dim dim{s[d], {}};
    for (const auto &st : strides)
      dim.strides.push_back(st[size_t(d)]);
    bool mergeable = !dims.empty();
    for (size_t k = 0; mergeable && k < strides.size(); ++k)
      mergeable = dim.strides[k] == dims.back().strides[k] * dims.back().size;
    if (mergeable)
      dims.back().size *= dim.size;
    else
      dims.push_back(std::move(dim));
  }
  return dims;
}

/// The largest divisor of n in [kMinBlock, kMaxBlock], or 0.
int64_t blockSize(int64_t n) {
  for (int64_t c = kMaxBlock; c >= kMinBlock; --c)
    if (n % c == 0)
      return c;
  return 0;
}

/// Every op of `body` computes its elements to the same bits in any lane
/// (isExactFormula).
bool isExactBody(const Function &body) {
  std::vector<DType> operands;
  for (const Node &n : body.nodes()) {
    if (n.op == OpKind::Constant)
      continue;
    operands.clear();
    for (ValueId v : n.operands)
      operands.push_back(body.type(v).dtype);
    if (!isExactFormula(opDef(n.op), n.attrs, operands, body.type(n.result()).dtype))
      return false;
  }
  return true;
}

} // namespace

std::optional<Function> lengthGenericBody(const Function &body) {
  if (reductionNode(body) || body.results().empty())
    return std::nullopt;
  const Shape &s = body.type(body.results()[0]).shape;
  if (s.numel() < 2)
    return std::nullopt;
  auto splat = [&](size_t v) { return body.type(ValueId{int32_t(v)}).shape.numel() == 1; };
  for (size_t v = 0; v < body.numValues(); ++v)
    if (!splat(v) && body.type(ValueId{int32_t(v)}).shape != s)
      return std::nullopt; // a row or column broadcast: the layout depends on the shape
  for (const Node &n : body.nodes())
    if (n.op == OpKind::Constant && n.attrs.getDense("value").numel() > 1)
      return std::nullopt; // its values have the shape
  if (!isExactBody(body))
    return std::nullopt;
  Function generic = body;
  for (size_t v = 0; v < generic.numValues(); ++v)
    generic.value(ValueId{int32_t(v)}).type.shape = splat(v) ? Shape{} : Shape{0};
  return generic;
}

IterationSpace elementSpace(const Function &body, int64_t elements) {
  IterationSpace space;
  space.elementRange = true;
  space.rows = elements;
  space.cols = 1;
  for (ValueId p : body.params()) {
    InputAccess in;
    in.splat = body.type(p).shape.numel() == 1; // of either body: a splat is one element
    in.innerStride = in.splat ? 0 : 1;
    space.inputs.push_back(in);
  }
  return space;
}

IterationSpace analyzeIterationSpace(const Function &body) {
  const Node *reduction = reductionNode(body);
  const Shape &s = reduction ? body.type(reduction->operands.at(0)).shape
                             : body.type(body.results().at(0)).shape;
  size_t numInputs = body.params().size();
  IterationSpace space;
  space.inputs.resize(numInputs);
  for (size_t k = 0; k < numInputs; ++k)
    space.inputs[k].splat = body.type(body.params()[k]).shape.numel() == 1;
  if (reduction) {
    space.reduction = ReductionAccess{};
    space.reduction->op = reduction->op;
    space.reduction->outputs = body.type(reduction->result()).shape.numel();
    space.reduction->count = space.reduction->outputs ? s.numel() / space.reduction->outputs : 0;
  }
  if (s.numel() == 0)
    return space; // rows = cols = 0: the kernel does nothing (a reduction writes identities).

  size_t numStrides = numInputs + (reduction ? 1 : 0);
  std::vector<Dim> dims = coalesce(body, s, reduction);
  if (dims.empty()) // every dim is 1: a single element
    dims.push_back({1, std::vector<int64_t>(numStrides, 0)});
  // A flat kernel gets rows too, so that callers can split it across threads
  // (not a reduction: its rows would then meet in the same outputs).
  if (dims.size() == 1 && !reduction)
    if (int64_t block = dims[0].size > kMaxBlock ? blockSize(dims[0].size) : 0) {
      Dim outer{dims[0].size / block, {}};
      for (int64_t st : dims[0].strides)
        outer.strides.push_back(st * block);
      dims[0].size = block;
      dims.push_back(std::move(outer));
    }

  space.cols = dims[0].size;
  space.rows = 1;
  for (size_t j = dims.size(); j-- > 1;) { // outermost first
    space.outerDims.push_back(dims[j].size);
    space.rows *= dims[j].size;
  }
  for (size_t k = 0; k < numInputs; ++k) {
    InputAccess &in = space.inputs[k];
    in.innerStride = dims[0].strides[k];
    check(in.innerStride == 0 || in.innerStride == 1,
          "loop kernel: an input's inner stride is neither 0 nor 1");
    for (size_t j = dims.size(); j-- > 1;)
      in.outerStrides.push_back(dims[j].strides[k]);
  }
  if (reduction) {
    ReductionAccess &out = *space.reduction;
    out.innerStride = dims[0].strides[numInputs];
    for (size_t j = dims.size(); j-- > 1;) {
      out.outerStrides.push_back(dims[j].strides[numInputs]);
      out.acrossRows = out.acrossRows || dims[j].strides[numInputs] == 0;
    }
  }
  return space;
}

} // namespace jit
} // namespace kiln::runtime
