//===- Elementwise.cpp - Arithmetic, math, compare, select, cast ----------===//
//
// Each op: shape rule, scalar expression (evaluated by the interpreter,
// emitted by the JIT) and gradient rule. Gradients may keep the broadcast
// result shape; autodiff sums them down to each operand's shape.
//
//===----------------------------------------------------------------------===//
#include "OpFamilies.h"
#include "OpHelpers.h"

namespace kiln::ir::ops {
namespace {

using SB = ScalarBuilder;
using Args = std::span<const SV>;

// ---- Shape rules ----------------------------------------------------------

TensorType inferArith(const InferContext &cx) {
  requireSameDType(cx, 0, 1);
  requireNotBool(cx, 0);
  return {cx.operands[0].dtype, broadcastAll(cx)};
}

TensorType inferArithFloat(const InferContext &cx) {
  requireSameDType(cx, 0, 1);
  requireFloat(cx, 0);
  return {cx.operands[0].dtype, broadcastAll(cx)};
}

TensorType inferCompare(const InferContext &cx) {
  requireSameDType(cx, 0, 1);
  return {DType::Bool, broadcastAll(cx)};
}

TensorType inferUnaryFloat(const InferContext &cx) {
  requireFloat(cx, 0);
  return cx.operands[0];
}

TensorType inferUnaryNumeric(const InferContext &cx) {
  requireNotBool(cx, 0);
  return cx.operands[0];
}

TensorType inferClamp(const InferContext &cx) {
  requireNotBool(cx, 0);
  if (!cx.attrs.has("min") && !cx.attrs.has("max"))
    fail(cx, "needs a min or a max");
  return cx.operands[0];
}

TensorType inferSelect(const InferContext &cx) {
  if (cx.operands[0].dtype != DType::Bool)
    fail(cx, "condition must be bool, got {}", cx.operands[0].str());
  requireSameDType(cx, 1, 2);
  return {cx.operands[1].dtype, broadcastAll(cx)};
}

TensorType inferCast(const InferContext &cx) {
  const TensorType &to = declaredType(cx);
  if (to.shape != cx.operands[0].shape)
    fail(cx, "cannot change the shape from {} to {}", cx.operands[0].str(), to.str());
  return to;
}

// ---- Gradient rules -------------------------------------------------------

/// Above it, softplus(x) is x (PyTorch's default threshold, with beta 1).
constexpr double kSoftplusThreshold = 20;

ValueId zeroLike(GradContext &g) { return g.b.scalar(0, g.b.dtype(g.grad)); }
ValueId oneLike(GradContext &g) { return g.b.scalar(1, g.b.dtype(g.grad)); }

void gradAdd(GradContext &g) {
  g.set(0, g.grad);
  g.set(1, g.grad);
}
void gradSub(GradContext &g) {
  g.set(0, g.grad);
  if (g.wants(1))
    g.set(1, g.b.neg(g.grad));
}
void gradMul(GradContext &g) {
  if (g.wants(0))
    g.set(0, g.b.mul(g.grad, g.operand(1)));
  if (g.wants(1))
    g.set(1, g.b.mul(g.grad, g.operand(0)));
}
void gradDiv(GradContext &g) { // d(a/b) = da/b - (a/b) db/b
  if (g.wants(0))
    g.set(0, g.b.div(g.grad, g.operand(1)));
  if (g.wants(1))
    g.set(1, g.b.neg(g.b.div(g.b.mul(g.grad, g.result()), g.operand(1))));
}
/// max/min route the gradient to the winning operand, as PyTorch does: a tie
/// gives each operand half, and where a NaN makes every comparison false both
/// operands get all of it. `firstLoses` is the comparison under which the
/// first operand loses (Lt for maximum, Gt for minimum).
void gradMinMax(GradContext &g, OpKind firstLoses, OpKind secondLoses) {
  ValueId a = g.operand(0), b = g.operand(1);
  ValueId tie = g.b.create(OpKind::Eq, {a, b});
  ValueId half = g.b.mul(g.grad, g.b.scalar(0.5, g.b.dtype(g.grad)));
  auto share = [&](OpKind loses) {
    ValueId lost = g.b.create(loses, {a, b});
    return g.b.select(tie, half, g.b.select(lost, zeroLike(g), g.grad));
  };
  if (g.wants(0))
    g.set(0, share(firstLoses));
  if (g.wants(1))
    g.set(1, share(secondLoses));
}
void gradMaximum(GradContext &g) { gradMinMax(g, OpKind::Lt, OpKind::Gt); }
void gradMinimum(GradContext &g) { gradMinMax(g, OpKind::Gt, OpKind::Lt); }
void gradNeg(GradContext &g) { g.set(0, g.b.neg(g.grad)); }
void gradAbs(GradContext &g) { // sign(x) * grad, 0 at 0 as in PyTorch
  ValueId x = g.operand(0);
  ValueId negative =
      g.b.select(g.b.create(OpKind::Lt, {x, zeroLike(g)}), g.b.neg(g.grad), zeroLike(g));
  g.set(0, g.b.select(g.b.create(OpKind::Gt, {x, zeroLike(g)}), g.grad, negative));
}
void gradExp(GradContext &g) { g.set(0, g.b.mul(g.grad, g.result())); }
void gradLog(GradContext &g) { g.set(0, g.b.div(g.grad, g.operand(0))); }
void gradSqrt(GradContext &g) { // 1 / (2 sqrt(x))
  ValueId two = g.b.scalar(2, g.b.dtype(g.grad));
  g.set(0, g.b.div(g.grad, g.b.mul(g.result(), two)));
}
void gradPow(GradContext &g) { // p x^(p-1)
  double p = g.node.attrs.getFloat("exponent");
  if (p == 0) { // a constant: 0 everywhere, even at x = 0 where 0 * x^-1 is NaN (as PyTorch)
    g.set(0, g.b.broadcastTo(zeroLike(g), g.b.shape(g.operand(0))));
    return;
  }
  ValueId dp = g.b.mul(g.b.scalar(p, g.b.dtype(g.grad)), g.b.pow(g.operand(0), p - 1));
  g.set(0, g.b.mul(g.grad, dp));
}
void gradRelu(GradContext &g) { // PyTorch's: 0 where x <= 0, else all (NaN passes it)
  ValueId off = g.b.create(OpKind::Le, {g.operand(0), zeroLike(g)});
  g.set(0, g.b.select(off, zeroLike(g), g.grad));
}
void gradSigmoid(GradContext &g) { // y (1 - y)
  ValueId y = g.result();
  g.set(0, g.b.mul(g.grad, g.b.mul(y, g.b.sub(oneLike(g), y))));
}
void gradTanh(GradContext &g) { // 1 - y^2
  ValueId y = g.result();
  g.set(0, g.b.mul(g.grad, g.b.sub(oneLike(g), g.b.mul(y, y))));
}
void gradSin(GradContext &g) { g.set(0, g.b.mul(g.grad, g.b.create(OpKind::Cos, {g.operand(0)}))); }
void gradCos(GradContext &g) {
  g.set(0, g.b.neg(g.b.mul(g.grad, g.b.create(OpKind::Sin, {g.operand(0)}))));
}
void gradLog1p(GradContext &g) { g.set(0, g.b.div(g.grad, g.b.add(g.operand(0), oneLike(g)))); }
void gradExpm1(GradContext &g) { g.set(0, g.b.mul(g.grad, g.b.add(g.result(), oneLike(g)))); }
/// PyTorch's: the input itself above the threshold, else e^x / (e^x + 1).
void gradSoftplus(GradContext &g) {
  ValueId x = g.operand(0), z = g.b.exp(x);
  ValueId linear = g.b.create(OpKind::Gt, {x, g.b.scalar(kSoftplusThreshold, g.b.dtype(x))});
  ValueId curved = g.b.mul(g.grad, g.b.div(z, g.b.add(z, oneLike(g))));
  g.set(0, g.b.select(linear, g.grad, curved));
}
/// PyTorch's: the gradient where min <= x <= max, else 0 (NaN included).
void gradClamp(GradContext &g) {
  ValueId x = g.operand(0), passed = g.grad;
  auto onlyWhere = [&](OpKind inside, const char *bound) {
    if (!g.node.attrs.has(bound))
      return;
    ValueId limit = g.b.scalar(g.node.attrs.getFloat(bound), g.b.dtype(x));
    passed = g.b.select(g.b.create(inside, {x, limit}), passed, zeroLike(g));
  };
  onlyWhere(OpKind::Ge, "min");
  onlyWhere(OpKind::Le, "max");
  g.set(0, passed);
}
/// PyTorch's rule, finite where p is 0 or 1 (the loss clamps its logs there):
/// d/dp = (p - y) / max(p (1 - p), eps), d/dy = log(1 - p) - log(p).
void gradBinaryCrossEntropy(GradContext &g) {
  ValueId p = g.operand(0), y = g.operand(1);
  DType t = g.b.dtype(g.grad);
  ValueId one = g.b.scalar(1, t);
  if (g.wants(0)) {
    ValueId eps = g.b.scalar(double(1e-12f), t); // PyTorch's EPSILON is a float
    ValueId spread = g.b.create(OpKind::Maximum, {g.b.mul(g.b.sub(one, p), p), eps});
    g.set(0, g.b.div(g.b.mul(g.grad, g.b.sub(p, y)), spread));
  }
  if (g.wants(1)) {
    ValueId log1mP = g.b.create(OpKind::Log, {g.b.sub(one, p)});
    g.set(1, g.b.mul(g.grad, g.b.sub(log1mP, g.b.create(OpKind::Log, {p}))));
  }
}
void gradCast(GradContext &g) {
  DType from = g.b.dtype(g.operand(0));
  if (isFloat(from) && isFloat(g.b.dtype(g.grad)))
    g.set(0, g.b.cast(g.grad, from));
}
void gradSelect(GradContext &g) {
  ValueId cond = g.operand(0);
  if (g.wants(1))
    g.set(1, g.b.select(cond, g.grad, zeroLike(g)));
  if (g.wants(2))
    g.set(2, g.b.select(cond, zeroLike(g), g.grad));
}

// ---- Scalar expressions ---------------------------------------------------

#define KILN_SCALAR(expr) [](SB & b, Args x, const AttrList &attrs, DType to) -> SV { return expr; }

SV sigmoid(SB &b, SV x) { // 1 / (1 + e^-x)
  return b.div(b.constantLike(1, x), b.add(b.constantLike(1, x), b.exp(b.neg(x))));
}

/// -(y log p + (1 - y) log(1 - p)) with each log clamped at -100, as
/// PyTorch's binary_cross_entropy, so that p = 0 or 1 gives a finite loss.
SV binaryCrossEntropy(SB &b, SV p, SV y) {
  SV one = b.constantLike(1, p), floor = b.constantLike(-100, p);
  SV logP = b.max(b.log(p), floor), log1mP = b.max(b.log(b.sub(one, p)), floor);
  return b.neg(b.add(b.mul(y, logP), b.mul(b.sub(one, y), log1mP)));
}

/// log(1 + e^x), or x itself above the threshold, as PyTorch's softplus.
SV softplus(SB &b, SV x) {
  SV linear = b.cmp(SB::Cmp::Gt, x, b.constantLike(kSoftplusThreshold, x));
  return b.select(linear, x, b.log1p(b.exp(x)));
}

/// min(max(x, min), max); a NaN x stays NaN (max/min let their first operand's NaN win).
SV clamp(SB &b, SV x, const AttrList &attrs) {
  if (attrs.has("min"))
    x = b.max(x, b.constantLike(attrs.getFloat("min"), x));
  if (attrs.has("max"))
    x = b.min(x, b.constantLike(attrs.getFloat("max"), x));
  return x;
}

template <SB::Cmp C> constexpr ScalarFn compare = KILN_SCALAR(b.cmp(C, x[0], x[1]));

// ---- The table ------------------------------------------------------------

constexpr AttrSpec kPowAttrs[] = {{"exponent", AttrKind::Float}};
constexpr AttrSpec kClampAttrs[] = {{"min", AttrKind::Float, false},
                                    {"max", AttrKind::Float, false}};

/// Test ranges (OpDef::testRange).
constexpr Interval kPositive = {.lo = 0.1};            // off the pole or branch point at 0
constexpr Interval kModerateExp = {.lo = -4, .hi = 4}; // e^x <= 55

constexpr FusionClass kBcast = FusionClass::Broadcast;
constexpr FusionClass kElem = FusionClass::Elementwise;

constexpr OpDef kOps[] = {
    {.kind = OpKind::Add, .name = "add", .arity = 2, .fusion = kBcast, .infer = inferArith,
     .scalar = KILN_SCALAR(b.add(x[0], x[1])), .grad = gradAdd,
     .summary = "a + b with numpy broadcasting"},
    {.kind = OpKind::Sub, .name = "sub", .arity = 2, .fusion = kBcast, .infer = inferArith,
     .scalar = KILN_SCALAR(b.sub(x[0], x[1])), .grad = gradSub, .summary = "a - b"},
    {.kind = OpKind::Mul, .name = "mul", .arity = 2, .fusion = kBcast, .infer = inferArith,
     .scalar = KILN_SCALAR(b.mul(x[0], x[1])), .grad = gradMul, .summary = "a * b"},
    {.kind = OpKind::Div, .name = "div", .arity = 2, .fusion = kBcast, .infer = inferArith,
     .scalar = KILN_SCALAR(b.div(x[0], x[1])), .grad = gradDiv,
     .summary = "a / b (integers truncate toward zero)"},
    {.kind = OpKind::Maximum, .name = "maximum", .arity = 2, .fusion = kBcast,
     .infer = inferArith, .scalar = KILN_SCALAR(b.max(x[0], x[1])), .grad = gradMaximum,
     .summary = "elementwise max(a, b), NaN wins; gradient as PyTorch: a tie gives each half"},
    {.kind = OpKind::Minimum, .name = "minimum", .arity = 2, .fusion = kBcast,
     .infer = inferArith, .scalar = KILN_SCALAR(b.min(x[0], x[1])), .grad = gradMinimum,
     .summary = "elementwise min(a, b), NaN wins; gradient as PyTorch: a tie gives each half"},
    {.kind = OpKind::Neg, .name = "neg", .arity = 1, .fusion = kElem, .infer = inferUnaryNumeric,
     .scalar = KILN_SCALAR(b.neg(x[0])), .grad = gradNeg, .summary = "-x"},
    {.kind = OpKind::Abs, .name = "abs", .arity = 1, .fusion = kElem, .infer = inferUnaryNumeric,
     .scalar = KILN_SCALAR(b.select(b.cmp(SB::Cmp::Lt, x[0], b.constantLike(0, x[0])),
                                    b.neg(x[0]), x[0])),
     .grad = gradAbs, .summary = "|x|"},
    {.kind = OpKind::Exp, .name = "exp", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.exp(x[0])), .grad = gradExp, .testRange = kModerateExp,
     .summary = "e^x"},
    {.kind = OpKind::Log, .name = "log", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.log(x[0])), .grad = gradLog, .testRange = kPositive,
     .summary = "natural logarithm"},
    {.kind = OpKind::Sqrt, .name = "sqrt", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.sqrt(x[0])), .grad = gradSqrt, .testRange = kPositive,
     .summary = "square root"},
    {.kind = OpKind::Pow, .name = "pow", .arity = 1, .attrs = kPowAttrs, .fusion = kElem,
     .infer = inferUnaryFloat, .scalar = KILN_SCALAR(b.pow(x[0], attrs.getFloat("exponent"))),
     .grad = gradPow, .summary = "x ** exponent, a compile-time scalar"},
    {.kind = OpKind::Relu, .name = "relu", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.max(x[0], b.constantLike(0, x[0]))), .grad = gradRelu,
     .summary = "max(x, 0); gradient 0 where x <= 0, passed through at NaN (as PyTorch)"},
    {.kind = OpKind::Sigmoid, .name = "sigmoid", .arity = 1, .fusion = kElem,
     .infer = inferUnaryFloat, .scalar = KILN_SCALAR(sigmoid(b, x[0])), .grad = gradSigmoid,
     .summary = "1 / (1 + e^-x)"},
    {.kind = OpKind::Tanh, .name = "tanh", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.tanh(x[0])), .grad = gradTanh, .summary = "hyperbolic tangent"},
    {.kind = OpKind::Sin, .name = "sin", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.sin(x[0])), .grad = gradSin, .summary = "sine (radians)"},
    {.kind = OpKind::Cos, .name = "cos", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.cos(x[0])), .grad = gradCos, .summary = "cosine (radians)"},
    {.kind = OpKind::Log1p, .name = "log1p", .arity = 1, .fusion = kElem,
     .infer = inferUnaryFloat, .scalar = KILN_SCALAR(b.log1p(x[0])), .grad = gradLog1p,
     .testRange = {.lo = -0.9}, .summary = "log(1 + x), accurate for small x"},
    {.kind = OpKind::Expm1, .name = "expm1", .arity = 1, .fusion = kElem,
     .infer = inferUnaryFloat, .scalar = KILN_SCALAR(b.expm1(x[0])), .grad = gradExpm1,
     .testRange = kModerateExp, .summary = "e^x - 1, accurate for small x"},
    {.kind = OpKind::Softplus, .name = "softplus", .arity = 1, .fusion = kElem,
     .infer = inferUnaryFloat, .scalar = KILN_SCALAR(softplus(b, x[0])), .grad = gradSoftplus,
     .summary = "log(1 + e^x), x itself above 20 (PyTorch's softplus)"},
    {.kind = OpKind::Clamp, .name = "clamp", .arity = 1, .attrs = kClampAttrs, .fusion = kElem,
     .infer = inferClamp, .scalar = KILN_SCALAR(clamp(b, x[0], attrs)), .grad = gradClamp,
     .summary = "min(max(x, min), max), either bound optional (torch.clamp)"},
    {.kind = OpKind::BinaryCrossEntropy, .name = "binary_cross_entropy", .arity = 2,
     .fusion = kBcast, .infer = inferArithFloat,
     .scalar = KILN_SCALAR(binaryCrossEntropy(b, x[0], x[1])), .grad = gradBinaryCrossEntropy,
     .summary = "-(y log p + (1-y) log(1-p)), logs clamped at -100 (PyTorch's BCE)"},
    {.kind = OpKind::Cast, .name = "cast", .arity = 1, .fusion = kElem, .infer = inferCast,
     .scalar = KILN_SCALAR(b.cast(x[0], to)), .grad = gradCast, .declaresResultType = true,
     .summary = "converts to the result dtype (float->int truncates, x->bool is x != 0)"},
    {.kind = OpKind::Eq, .name = "eq", .arity = 2, .fusion = kBcast, .infer = inferCompare,
     .scalar = compare<SB::Cmp::Eq>, .differentiable = false, .summary = "a == b, bool"},
    {.kind = OpKind::Ne, .name = "ne", .arity = 2, .fusion = kBcast, .infer = inferCompare,
     .scalar = compare<SB::Cmp::Ne>, .differentiable = false, .summary = "a != b, bool"},
    {.kind = OpKind::Lt, .name = "lt", .arity = 2, .fusion = kBcast, .infer = inferCompare,
     .scalar = compare<SB::Cmp::Lt>, .differentiable = false, .summary = "a < b, bool"},
    {.kind = OpKind::Le, .name = "le", .arity = 2, .fusion = kBcast, .infer = inferCompare,
     .scalar = compare<SB::Cmp::Le>, .differentiable = false, .summary = "a <= b, bool"},
    {.kind = OpKind::Gt, .name = "gt", .arity = 2, .fusion = kBcast, .infer = inferCompare,
     .scalar = compare<SB::Cmp::Gt>, .differentiable = false, .summary = "a > b, bool"},
    {.kind = OpKind::Ge, .name = "ge", .arity = 2, .fusion = kBcast, .infer = inferCompare,
     .scalar = compare<SB::Cmp::Ge>, .differentiable = false, .summary = "a >= b, bool"},
    {.kind = OpKind::Select, .name = "select", .arity = 3, .fusion = kBcast,
     .infer = inferSelect, .scalar = KILN_SCALAR(b.select(x[0], x[1], x[2])), .grad = gradSelect,
     .summary = "cond ? a : b, broadcasting all three"},
};

#undef KILN_SCALAR
} // namespace

std::span<const OpDef> elementwiseOps() { return kOps; }

} // namespace kiln::ir::ops
