//===- TensorOps.cpp - The op set of the tensor API -----------------------===//
//
// apply() is the one place that runs and records an op: it asks the op
// table for the result type (its shape rule) and the kernel (evalNode).
// Everything else in this file only translates PyTorch's spelling (dims,
// keepdim, -1 in shapes, numbers as operands, type promotion: casts where
// PyTorch converts implicitly) into ops and attributes.
//
//===----------------------------------------------------------------------===//
#include "Lazy.h"
#include "LazyState.h"
#include "SharedAttrs.h"
#include "TensorImpl.h"
#include "TypePromotion.h"
#include "kiln/Autograd.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <numeric>
#include <span>

namespace kiln {

using ir::OpKind;
using ir::TensorType;

namespace {

/// The op table reports misuse as Error(Verify) (its callers are usually
/// IR passes); in the tensor API it is the user's shape or dtype mistake.
template <class F> auto shapeErrors(F &&f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error &e) {
    if (e.kind() != ErrorKind::Verify)
      throw;
    throw Error(ErrorKind::Shape, e.message(), e.where());
  }
}

const Tensor &defined(const Tensor &t, std::string_view op) {
  if (!t.defined())
    throw Error(ErrorKind::Usage, fmt::format("'{}': an operand is an undefined tensor", op));
  return t;
}

/// Normalises dims (negative count from the end) for an op with a list of axes.
IntList axes(const Tensor &x, const IntList &dims, std::string_view op) {
  return shapeErrors([&] { return ir::normalizeAxes(dims, int(x.dim()), op); });
}

int64_t axis(int64_t dim, int64_t rank, std::string_view op) {
  int64_t n = dim < 0 ? dim + rank : dim;
  if (n < 0 || n >= rank)
    throw Error(ErrorKind::Shape,
                fmt::format("'{}': dimension {} is out of range for rank {}", op, dim, rank));
  return n;
}

IntList allAxes(const Tensor &x) {
  IntList all(size_t(x.dim()));
  std::iota(all.begin(), all.end(), 0);
  return all;
}

/// Recipe forms of the two ways a transpose's permutation is made.
constexpr uint64_t kPermuteForm = 0, kSwapForm = 1;

/// {{"axis", n}}, shared per thread (SharedAttrs.h).
ir::AttrList axisAttrs(OpKind op, int64_t n) {
  detail::AttrRecipe recipe(op);
  recipe.word(uint64_t(n));
  return detail::sharedAttrs(recipe, [&]() -> ir::AttrList { return {{"axis", n}}; });
}

/// {{name, v}} for an op with one number attribute, shared per thread.
ir::AttrList numberAttrs(OpKind op, const char *name, double v) {
  detail::AttrRecipe recipe(op);
  recipe.number(v);
  return detail::sharedAttrs(recipe, [&]() -> ir::AttrList { return {{name, v}}; });
}

/// PyTorch's default float dtype: integers become it where an op needs floats.
constexpr DType kDefaultFloat = DType::F32;

/// The dtype the IR op computes PyTorch's `a op b` in, for operands promoted
/// to `promoted`: true division in a float dtype, and bools as u8 where the
/// IR has no bool arithmetic (or, and, max, min of 0/1 are exact in u8).
DType computeDType(OpKind op, DType promoted) {
  if (op == OpKind::Div && !ir::isFloat(promoted))
    return kDefaultFloat;
  if (promoted != DType::Bool)
    return promoted;
  bool arithmetic = op == OpKind::Add || op == OpKind::Mul || op == OpKind::Maximum ||
                    op == OpKind::Minimum;
  return arithmetic ? DType::U8 : promoted;
}

/// Runs `op` on a and b converted to `dtype`; a result computed in u8 for
/// bools returns to bool.
Tensor applyIn(DType dtype, OpKind op, const Tensor &a, const Tensor &b, DType promoted) {
  bool converted = a.impl()->type().dtype != dtype || b.impl()->type().dtype != dtype;
  Tensor r = converted ? apply(op, {a.to(dtype), b.to(dtype)}) : apply(op, {a, b});
  return promoted == DType::Bool && dtype == DType::U8 ? r.to(DType::Bool) : r;
}

/// PyTorch refuses `-` with a bool operand, tensor or number.
void checkSubtrahends(OpKind op, bool aIsBool, bool bIsBool) {
  if (op == OpKind::Sub && (aIsBool || bIsBool))
    throw Error(ErrorKind::Shape, "'sub': subtraction with a bool operand is not supported (as "
                                  "in PyTorch); use logical_xor, or convert to an integer dtype");
}
bool isBool(const Tensor &t) { return t.dtype() == DType::Bool; }
bool isBool(const Scalar &s) { return s.kind() == Scalar::Kind::Bool; }

Tensor binary(OpKind op, const Tensor &a, const Tensor &b) {
  defined(a, ir::opName(op)), defined(b, ir::opName(op));
  DType da = a.impl()->type().dtype, db = b.impl()->type().dtype;
  checkSubtrahends(op, da == DType::Bool, db == DType::Bool);
  // Operands of one dtype (nearly every op) promote to it, whatever their ranks.
  DType promoted = da == db ? da : detail::resultType(a, b);
  return applyIn(computeDType(op, promoted), op, a, b, promoted);
}
/// A number operand becomes a literal of the dtype the op computes in.
Tensor binary(OpKind op, const Tensor &a, const Scalar &b) {
  DType promoted = detail::resultType(defined(a, ir::opName(op)), b);
  checkSubtrahends(op, isBool(a), isBool(b));
  DType dtype = computeDType(op, promoted);
  return applyIn(dtype, op, a, detail::literal(b, dtype), promoted);
}
Tensor binary(OpKind op, const Scalar &a, const Tensor &b) {
  DType promoted = detail::resultType(defined(b, ir::opName(op)), a);
  checkSubtrahends(op, isBool(a), isBool(b));
  DType dtype = computeDType(op, promoted);
  return applyIn(dtype, op, detail::literal(a, dtype), b, promoted);
}

/// `v` as an attribute of an op computing in `dtype`: exactly, or an error.
double numberAttr(OpKind op, std::string_view name, const Scalar &v, DType dtype) {
  if (ir::isFloat(dtype))
    return v.toDouble();
  int64_t n = v.toInt();
  bool fits = dtype == DType::U8 ? n >= 0 && n <= 255
              : dtype == DType::Bool ? n == 0 || n == 1
                                     : n >= -(int64_t(1) << 53) && n <= int64_t(1) << 53;
  if (!fits)
    throw Error(ErrorKind::Usage, fmt::format("'{}': {} = {} cannot be converted to {} without "
                                              "overflow (as in PyTorch)",
                                              ir::opName(op), name, n, ir::dtypeName(dtype)));
  return double(n);
}

/// What a unary float function does with integers (Ops.def).
enum class IntegerInputs { ToFloat, Refused };

/// A unary float function (a KILN_FLOAT_MATH_OP of Ops.def).
Tensor floatMath(OpKind op, const Tensor &x, IntegerInputs integers) {
  DType dtype = defined(x, ir::opName(op)).dtype();
  if (ir::isFloat(dtype))
    return apply(op, {x});
  if (integers == IntegerInputs::Refused)
    throw Error(ErrorKind::Shape, fmt::format("'{}' is not defined on {} tensors (as in PyTorch); "
                                              "convert to a float dtype first",
                                              ir::opName(op), ir::dtypeName(dtype)));
  return apply(op, {x.to(kDefaultFloat)});
}

/// x ** n for an integer tensor and n >= 0, exactly: square-and-multiply.
Tensor integerPower(const Tensor &x, int64_t n) {
  if (n < 0)
    throw Error(ErrorKind::Shape, "'pow': integers to negative integer powers are not allowed "
                                  "(as in PyTorch); convert the tensor to a float dtype");
  Tensor result = kiln::broadcast_to(detail::constantLiteral(1, x.dtype()), x.shape().toVector());
  Tensor base = x;
  for (; n > 0; n >>= 1) {
    if (n & 1)
      result = result * base;
    if (n > 1)
      base = base * base;
  }
  return result;
}

/// The dims a reduction runs over; nullopt for every axis.
using ReduceDims = std::optional<std::span<const int64_t>>;

Tensor reduce(OpKind op, const Tensor &x, ReduceDims dims, bool keepdim) {
  std::string_view name = ir::opName(op);
  detail::AttrRecipe recipe(op);
  recipe.word(uint64_t(defined(x, name).dim())).word(keepdim).word(dims.has_value());
  if (dims)
    recipe.ints(*dims);
  ir::AttrList attrs = detail::sharedAttrs(recipe, [&]() -> ir::AttrList {
    IntList a = dims ? axes(x, IntList(dims->begin(), dims->end()), name) : allAxes(x);
    return {{"axes", std::move(a)}, {"keepdims", keepdim}};
  });
  return apply(op, {x}, std::move(attrs));
}

/// PyTorch's dtypes for reductions: integer and bool sums are i64, a mean
/// needs floats, and a max of bools is their or (computed in u8).
Tensor reduceAs(OpKind op, const Tensor &x, ReduceDims dims, bool keepdim) {
  DType dtype = defined(x, ir::opName(op)).dtype();
  if (ir::isFloat(dtype))
    return reduce(op, x, dims, keepdim);
  if (op == OpKind::ReduceSum)
    return reduce(op, x.to(DType::I64), dims, keepdim);
  if (op == OpKind::ReduceMean)
    throw Error(ErrorKind::Shape,
                fmt::format("'mean': the input must be a float tensor, got {} (as in PyTorch); "
                            "convert it first, e.g. x.to(f32).mean()",
                            ir::dtypeName(dtype)));
  if (dtype == DType::Bool)
    return reduce(op, x.to(DType::U8), dims, keepdim).to(DType::Bool);
  return reduce(op, x, dims, keepdim);
}

/// A shape with at most one -1, resolved against `numel` elements.
Shape resolveShape(const Tensor &x, const IntList &dims) {
  int64_t known = 1;
  std::optional<size_t> inferred;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (inferred)
        throw Error(ErrorKind::Shape, "'reshape': only one dimension can be inferred (-1)");
      inferred = i;
    } else if (dims[i] < 0) {
      throw Error(ErrorKind::Shape, fmt::format("'reshape': invalid dimension {} in [{}]", dims[i],
                                                fmt::join(dims, ",")));
    } else {
      known *= dims[i] == 0 ? 1 : dims[i];
    }
  }
  IntList out = dims;
  if (inferred) {
    if (known == 0 || x.numel() % known != 0)
      throw Error(ErrorKind::Shape,
                  fmt::format("'reshape': cannot reshape {} ({} elements) to [{}]",
                              x.impl()->type().str(), x.numel(), fmt::join(dims, ",")));
    out[*inferred] = x.numel() / known;
  }
  return Shape(std::move(out));
}

} // namespace

// ---- The one entry point ------------------------------------------------------------

namespace detail {

ir::HostTensor compute(OpKind op, std::span<const Tensor> operands, const ir::AttrList &attrs,
                       const std::optional<TensorType> &declared) {
  const ir::OpDef &def = ir::opDef(op);
  std::vector<TensorType> types;
  std::vector<const ir::HostTensor *> values;
  for (const Tensor &t : operands) {
    types.push_back(defined(t, def.name).host().type());
    values.push_back(&t.host());
  }
  TensorType type = shapeErrors([&] { return ir::checkAndInfer(def, types, attrs, declared); });
  ir::HostTensor result(type);
  ir::Node node{op, {}, attrs, {}, {}};
  ir::evalNode(node, values, result);
  return result;
}

} // namespace detail

namespace {

/// Pending values past which a flush runs on its own, so that code that
/// never reads (or a step that never ends) does not grow one graph forever.
constexpr int64_t kMaxPendingOps = 4096;

/// The op table's result type of `def` on `operands` (Error(Shape) if they
/// do not fit).
TensorType inferType(const ir::OpDef &def, std::span<const Tensor> operands,
                     const ir::AttrList &attrs, const std::optional<TensorType> &declared) {
  // Operand types on the stack for the usual few operands (shapes are inline).
  constexpr size_t kInline = 4;
  std::array<TensorType, kInline> inlineTypes;
  std::vector<TensorType> manyTypes;
  if (operands.size() > kInline)
    manyTypes.resize(operands.size());
  std::span<TensorType> types = operands.size() > kInline
                                    ? std::span<TensorType>(manyTypes)
                                    : std::span<TensorType>(inlineTypes.data(), operands.size());
  for (size_t i = 0; i < operands.size(); ++i)
    types[i] = operands[i].impl()->type();
  return shapeErrors([&] { return ir::checkAndInfer(def, types, attrs, declared); });
}

/// The lazy counterpart of compute(): checks the operands and records.
std::shared_ptr<detail::TensorImpl> record(OpKind op, std::span<const Tensor> operands,
                                           const ir::AttrList &attrs,
                                           const std::optional<TensorType> &declared) {
  if (detail::lazyState().opsSinceFlush >= kMaxPendingOps && !detail::traceObserver())
    detail::flushPending(/*interpretOnly=*/true);
  const ir::OpDef &def = ir::opDef(op);
  for (const Tensor &t : operands)
    defined(t, def.name);
  detail::OperandList values = detail::operandValues(operands);
  // A step recorded again: its op was checked when it was first recorded.
  const TensorType *expected = detail::lazyState().recording.expectedType(op, attrs, values);
  if (expected && declared && *declared != *expected)
    expected = nullptr;
  TensorType type = expected ? *expected : inferType(def, operands, attrs, declared);
  // one_hot fails on labels out of range: report it at the call, as eager
  // mode does, when the labels are known (checked, not computed: no buffer).
  if (op == OpKind::OneHot && !operands[0].impl()->storage->pending)
    ir::checkOneHotLabels(operands[0].impl()->storage->data, type.shape[type.shape.rank() - 1]);
  return detail::makePending(
      detail::makeOp(op, attrs, std::move(values), std::move(type), expected != nullptr));
}

} // namespace

namespace detail {

bool wantsGradFn(std::span<const Tensor> operands, DType result) {
  if (!is_grad_enabled() || !ir::isFloat(result))
    return false;
  return std::any_of(operands.begin(), operands.end(),
                     [](const Tensor &t) { return t.impl()->requiresGrad; });
}

void setGradFn(TensorImpl &impl, std::shared_ptr<GraphNode> node,
               std::span<const Tensor> operands) {
  node->inputs.reserve(operands.size());
  for (const Tensor &t : operands)
    node->inputs.push_back({t.impl(), t.impl()->version()});
  impl.gradFn = std::move(node);
  impl.requiresGrad = true;
}

} // namespace detail

Tensor apply(OpKind op, std::span<const Tensor> operands, ir::AttrList attrs,
             std::optional<TensorType> declared) {
  auto impl = detail::lazyMode()
                  ? record(op, operands, attrs, declared)
                  : detail::makeLeaf(detail::compute(op, operands, attrs, declared));
  // defined operands: checked by record() or compute()
  if (ir::opDef(op).differentiable && detail::wantsGradFn(operands, impl->type().dtype))
    // One node per op: the lazy result's pending op is its grad_fn too.
    detail::setGradFn(*impl,
                      impl->storage->pending
                          ? impl->storage->pending
                          : detail::makeGradFn(op, std::move(attrs), impl->type()),
                      operands);
  return Tensor(std::move(impl));
}

// ---- Free functions -----------------------------------------------------------------------

Tensor add(const Tensor &a, const Tensor &b) { return binary(OpKind::Add, a, b); }
Tensor sub(const Tensor &a, const Tensor &b) { return binary(OpKind::Sub, a, b); }
Tensor mul(const Tensor &a, const Tensor &b) { return binary(OpKind::Mul, a, b); }
Tensor div(const Tensor &a, const Tensor &b) { return binary(OpKind::Div, a, b); }
Tensor maximum(const Tensor &a, const Tensor &b) { return binary(OpKind::Maximum, a, b); }
Tensor minimum(const Tensor &a, const Tensor &b) { return binary(OpKind::Minimum, a, b); }
Tensor pow(const Tensor &x, Scalar exponent) {
  DType dtype = detail::resultType(defined(x, "pow"), exponent);
  if (ir::isFloat(dtype))
    return apply(OpKind::Pow, {x.to(dtype)},
                 numberAttrs(OpKind::Pow, "exponent", exponent.toDouble()));
  if (dtype == DType::Bool)
    throw Error(ErrorKind::Shape, "'pow': a bool tensor to a bool power is not supported (as in "
                                  "PyTorch)");
  return integerPower(x.to(dtype), exponent.toInt());
}
Tensor neg(const Tensor &x) { return apply(OpKind::Neg, {x}); }
Tensor abs(const Tensor &x) { return apply(OpKind::Abs, {x}); }
Tensor relu(const Tensor &x) {
  DType dtype = defined(x, "relu").dtype();
  if (dtype == DType::Bool)
    throw Error(ErrorKind::Shape, "'relu': bool tensors are not supported (as in PyTorch)");
  if (!ir::isFloat(dtype)) // PyTorch's relu keeps integers: max(x, 0)
    return apply(OpKind::Maximum, {x, detail::constantLiteral(0, dtype)});
  return apply(OpKind::Relu, {x});
}
#define KILN_OP(Name)
#define KILN_FLOAT_MATH_OP(Name, method, integers)                                                 \
  Tensor method(const Tensor &x) { return floatMath(OpKind::Name, x, IntegerInputs::integers); }   \
  Tensor Tensor::method() const { return kiln::method(*this); }
#include "kiln/ir/Ops.def"
/// No promotion: PyTorch's matmul needs one dtype too.
Tensor matmul(const Tensor &a, const Tensor &b) { return apply(OpKind::Matmul, {a, b}); }

Tensor permute(const Tensor &x, const IntList &dims) {
  int64_t rank = defined(x, "transpose").dim();
  detail::AttrRecipe recipe(OpKind::Transpose, kPermuteForm);
  recipe.word(uint64_t(rank)).ints(dims);
  return apply(OpKind::Transpose, {x}, detail::sharedAttrs(recipe, [&]() -> ir::AttrList {
                 IntList perm = dims;
                 for (int64_t &d : perm)
                   d = d < 0 ? d + rank : d;
                 return {{"perm", std::move(perm)}};
               }));
}

Tensor reshape(const Tensor &x, IntList shape) {
  Shape s = resolveShape(defined(x, "reshape"), shape);
  return apply(OpKind::Reshape, {x}, {}, TensorType{x.dtype(), std::move(s)});
}

Tensor broadcast_to(const Tensor &x, IntList shape) {
  int64_t lead = int64_t(shape.size()) - defined(x, "broadcast_to").dim();
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == -1 && int64_t(i) >= lead) // -1 keeps the input's extent (expand)
      shape[i] = x.shape()[int(int64_t(i) - lead)];
  return apply(OpKind::BroadcastTo, {x}, {}, TensorType{x.dtype(), Shape(std::move(shape))});
}

Tensor softmax(const Tensor &x, int64_t dim) {
  int64_t n = axis(dim, defined(x, "softmax").dim(), "softmax");
  return apply(OpKind::Softmax, {x}, axisAttrs(OpKind::Softmax, n));
}

Tensor log_softmax(const Tensor &x, int64_t dim) {
  int64_t n = axis(dim, defined(x, "log_softmax").dim(), "log_softmax");
  return apply(OpKind::LogSoftmax, {x}, axisAttrs(OpKind::LogSoftmax, n));
}

Tensor where(const Tensor &cond, const Tensor &a, const Tensor &b) {
  DType dtype = detail::resultType(defined(a, "select"), defined(b, "select"));
  return apply(OpKind::Select, {cond, a.to(dtype), b.to(dtype)});
}
Tensor where(const Tensor &cond, const Tensor &a, Scalar b) {
  DType dtype = detail::resultType(defined(a, "select"), b);
  return apply(OpKind::Select, {cond, a.to(dtype), detail::literal(b, dtype)});
}
Tensor where(const Tensor &cond, Scalar a, const Tensor &b) {
  DType dtype = detail::resultType(defined(b, "select"), a);
  return apply(OpKind::Select, {cond, detail::literal(a, dtype), b.to(dtype)});
}

Tensor one_hot(const Tensor &labels, int64_t num_classes, DType dtype) {
  if (num_classes == -1) { // PyTorch: one more than the largest label
    num_classes = 0;
    for (double v : defined(labels, "one_hot").to_vector())
      num_classes = std::max(num_classes, int64_t(v) + 1);
  }
  Shape shape = defined(labels, "one_hot").shape();
  shape.append(num_classes);
  return apply(OpKind::OneHot, {labels}, {}, TensorType{dtype, std::move(shape)});
}

Tensor detail::applyWithNumbers(OpKind op, const Tensor &x,
                                std::initializer_list<NumberAttr> numbers) {
  detail::ResultType promoted;
  promoted << defined(x, ir::opName(op));
  for (const auto &[name, v] : numbers)
    if (v)
      promoted << *v;
  DType dtype = promoted.dtype();
  ir::AttrList attrs;
  for (const auto &[name, v] : numbers)
    if (v)
      attrs.set(std::string(name), numberAttr(op, name, *v, dtype));
  return apply(op, {x.to(dtype)}, attrs);
}

// ---- Methods ----------------------------------------------------------------------------------

Tensor Tensor::add(const Tensor &o) const { return binary(OpKind::Add, *this, o); }
Tensor Tensor::add(Scalar o) const { return binary(OpKind::Add, *this, o); }
Tensor Tensor::sub(const Tensor &o) const { return binary(OpKind::Sub, *this, o); }
Tensor Tensor::sub(Scalar o) const { return binary(OpKind::Sub, *this, o); }
Tensor Tensor::mul(const Tensor &o) const { return binary(OpKind::Mul, *this, o); }
Tensor Tensor::mul(Scalar o) const { return binary(OpKind::Mul, *this, o); }
Tensor Tensor::div(const Tensor &o) const { return binary(OpKind::Div, *this, o); }
Tensor Tensor::div(Scalar o) const { return binary(OpKind::Div, *this, o); }
Tensor Tensor::neg() const { return kiln::neg(*this); }
Tensor Tensor::abs() const { return kiln::abs(*this); }
Tensor Tensor::pow(Scalar exponent) const { return kiln::pow(*this, exponent); }
Tensor Tensor::relu() const { return kiln::relu(*this); }
Tensor Tensor::maximum(const Tensor &o) const { return kiln::maximum(*this, o); }
Tensor Tensor::minimum(const Tensor &o) const { return kiln::minimum(*this, o); }
Tensor Tensor::matmul(const Tensor &o) const { return kiln::matmul(*this, o); }

Tensor Tensor::t() const {
  if (dim() > 2)
    throw Error(ErrorKind::Shape,
                fmt::format("t() expects a tensor with <= 2 dimensions, but it is {}",
                            self().type().str()));
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  size_t a = size_t(axis(dim0, dim(), "transpose")), b = size_t(axis(dim1, dim(), "transpose"));
  detail::AttrRecipe recipe(OpKind::Transpose, kSwapForm);
  recipe.word(uint64_t(dim())).word(a).word(b);
  return apply(OpKind::Transpose, {*this}, detail::sharedAttrs(recipe, [&]() -> ir::AttrList {
                 IntList perm = allAxes(*this);
                 std::swap(perm[a], perm[b]);
                 return {{"perm", std::move(perm)}};
               }));
}

Tensor Tensor::permute(const IntList &dims) const { return kiln::permute(*this, dims); }
Tensor Tensor::reshape(IntList shape) const { return kiln::reshape(*this, std::move(shape)); }
Tensor Tensor::flatten() const { return kiln::reshape(*this, {numel()}); }

Tensor Tensor::unsqueeze(int64_t d) const {
  IntList dims = shape().toVector();
  dims.insert(dims.begin() + axis(d, dim() + 1, "unsqueeze"), 1);
  return kiln::reshape(*this, std::move(dims));
}

Tensor Tensor::squeeze(int64_t d) const {
  IntList dims = shape().toVector();
  int64_t n = axis(d, dim(), "squeeze");
  if (dims[size_t(n)] == 1)
    dims.erase(dims.begin() + n);
  return kiln::reshape(*this, std::move(dims));
}

Tensor Tensor::broadcast_to(IntList shape) const {
  return kiln::broadcast_to(*this, std::move(shape));
}

Tensor Tensor::clone() const {
  // An identity reshape: a copy in the eager result, the identity in IR.
  return apply(OpKind::Reshape, {*this}, {}, self().type());
}

Tensor Tensor::sum() const { return reduceAs(OpKind::ReduceSum, *this, std::nullopt, false); }
Tensor Tensor::sum(const IntList &dims, bool keepdim) const {
  return reduceAs(OpKind::ReduceSum, *this, dims, keepdim);
}
Tensor Tensor::sum(int64_t dim, bool keepdim) const {
  return reduceAs(OpKind::ReduceSum, *this, std::span(&dim, 1), keepdim);
}
Tensor Tensor::mean() const { return reduceAs(OpKind::ReduceMean, *this, std::nullopt, false); }
Tensor Tensor::mean(const IntList &dims, bool keepdim) const {
  return reduceAs(OpKind::ReduceMean, *this, dims, keepdim);
}
Tensor Tensor::mean(int64_t dim, bool keepdim) const {
  return reduceAs(OpKind::ReduceMean, *this, std::span(&dim, 1), keepdim);
}
Tensor Tensor::max() const { return reduceAs(OpKind::ReduceMax, *this, std::nullopt, false); }
Tensor Tensor::max(const IntList &dims, bool keepdim) const {
  return reduceAs(OpKind::ReduceMax, *this, dims, keepdim);
}
Tensor Tensor::max(int64_t dim, bool keepdim) const {
  return reduceAs(OpKind::ReduceMax, *this, std::span(&dim, 1), keepdim);
}

Tensor Tensor::argmax(int64_t d, bool keepdim) const {
  int64_t n = axis(d, dim(), "argmax");
  detail::AttrRecipe recipe(OpKind::Argmax);
  recipe.word(uint64_t(n)).word(keepdim);
  return apply(OpKind::Argmax, {*this}, detail::sharedAttrs(recipe, [&]() -> ir::AttrList {
                 return {{"axis", n}, {"keepdims", keepdim}};
               }));
}
Tensor Tensor::argmax() const { return flatten().argmax(0); }

Tensor Tensor::softmax(int64_t d) const { return kiln::softmax(*this, d); }
Tensor Tensor::log_softmax(int64_t d) const { return kiln::log_softmax(*this, d); }

Tensor Tensor::eq(const Tensor &o) const { return binary(OpKind::Eq, *this, o); }
Tensor Tensor::eq(Scalar o) const { return binary(OpKind::Eq, *this, o); }
Tensor Tensor::ne(const Tensor &o) const { return binary(OpKind::Ne, *this, o); }
Tensor Tensor::ne(Scalar o) const { return binary(OpKind::Ne, *this, o); }
Tensor Tensor::lt(const Tensor &o) const { return binary(OpKind::Lt, *this, o); }
Tensor Tensor::lt(Scalar o) const { return binary(OpKind::Lt, *this, o); }
Tensor Tensor::le(const Tensor &o) const { return binary(OpKind::Le, *this, o); }
Tensor Tensor::le(Scalar o) const { return binary(OpKind::Le, *this, o); }
Tensor Tensor::gt(const Tensor &o) const { return binary(OpKind::Gt, *this, o); }
Tensor Tensor::gt(Scalar o) const { return binary(OpKind::Gt, *this, o); }
Tensor Tensor::ge(const Tensor &o) const { return binary(OpKind::Ge, *this, o); }
Tensor Tensor::ge(Scalar o) const { return binary(OpKind::Ge, *this, o); }

Tensor Tensor::to(DType dtype) const {
  if (this->dtype() == dtype)
    return *this;
  return apply(OpKind::Cast, {*this}, {}, TensorType{dtype, shape()});
}

// ---- Operators --------------------------------------------------------------------------

Tensor operator+(const Tensor &a, const Tensor &b) { return binary(OpKind::Add, a, b); }
Tensor operator+(const Tensor &a, Scalar b) { return binary(OpKind::Add, a, b); }
Tensor operator+(Scalar a, const Tensor &b) { return binary(OpKind::Add, a, b); }
Tensor operator-(const Tensor &a, const Tensor &b) { return binary(OpKind::Sub, a, b); }
Tensor operator-(const Tensor &a, Scalar b) { return binary(OpKind::Sub, a, b); }
Tensor operator-(Scalar a, const Tensor &b) { return binary(OpKind::Sub, a, b); }
Tensor operator*(const Tensor &a, const Tensor &b) { return binary(OpKind::Mul, a, b); }
Tensor operator*(const Tensor &a, Scalar b) { return binary(OpKind::Mul, a, b); }
Tensor operator*(Scalar a, const Tensor &b) { return binary(OpKind::Mul, a, b); }
Tensor operator/(const Tensor &a, const Tensor &b) { return binary(OpKind::Div, a, b); }
Tensor operator/(const Tensor &a, Scalar b) { return binary(OpKind::Div, a, b); }
Tensor operator/(Scalar a, const Tensor &b) { return binary(OpKind::Div, a, b); }
Tensor operator-(const Tensor &x) { return neg(x); }

} // namespace kiln
