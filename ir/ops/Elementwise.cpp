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
/// max/min route the gradient to the winning operand; ties go to the first.
void gradMinMax(GradContext &g, OpKind firstWins) {
  ValueId mask = g.b.create(firstWins, {g.operand(0), g.operand(1)});
  if (g.wants(0))
    g.set(0, g.b.select(mask, g.grad, zeroLike(g)));
  if (g.wants(1))
    g.set(1, g.b.select(mask, zeroLike(g), g.grad));
}
void gradMaximum(GradContext &g) { gradMinMax(g, OpKind::Ge); }
void gradMinimum(GradContext &g) { gradMinMax(g, OpKind::Le); }
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
  ValueId dp = g.b.mul(g.b.scalar(p, g.b.dtype(g.grad)), g.b.pow(g.operand(0), p - 1));
  g.set(0, g.b.mul(g.grad, dp));
}
void gradRelu(GradContext &g) {
  ValueId positive = g.b.create(OpKind::Gt, {g.operand(0), zeroLike(g)});
  g.set(0, g.b.select(positive, g.grad, zeroLike(g)));
}
void gradSigmoid(GradContext &g) { // y (1 - y)
  ValueId y = g.result();
  g.set(0, g.b.mul(g.grad, g.b.mul(y, g.b.sub(oneLike(g), y))));
}
void gradTanh(GradContext &g) { // 1 - y^2
  ValueId y = g.result();
  g.set(0, g.b.mul(g.grad, g.b.sub(oneLike(g), g.b.mul(y, y))));
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

template <SB::Cmp C> constexpr ScalarFn compare = KILN_SCALAR(b.cmp(C, x[0], x[1]));

// ---- The table ------------------------------------------------------------

constexpr AttrSpec kPowAttrs[] = {{"exponent", AttrKind::Float}};

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
     .summary = "elementwise max(a, b)"},
    {.kind = OpKind::Minimum, .name = "minimum", .arity = 2, .fusion = kBcast,
     .infer = inferArith, .scalar = KILN_SCALAR(b.min(x[0], x[1])), .grad = gradMinimum,
     .summary = "elementwise min(a, b)"},
    {.kind = OpKind::Neg, .name = "neg", .arity = 1, .fusion = kElem, .infer = inferUnaryNumeric,
     .scalar = KILN_SCALAR(b.neg(x[0])), .grad = gradNeg, .summary = "-x"},
    {.kind = OpKind::Abs, .name = "abs", .arity = 1, .fusion = kElem, .infer = inferUnaryNumeric,
     .scalar = KILN_SCALAR(b.select(b.cmp(SB::Cmp::Lt, x[0], b.constantLike(0, x[0])),
                                    b.neg(x[0]), x[0])),
     .grad = gradAbs, .summary = "|x|"},
    {.kind = OpKind::Exp, .name = "exp", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.exp(x[0])), .grad = gradExp, .summary = "e^x"},
    {.kind = OpKind::Log, .name = "log", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.log(x[0])), .grad = gradLog, .summary = "natural logarithm"},
    {.kind = OpKind::Sqrt, .name = "sqrt", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.sqrt(x[0])), .grad = gradSqrt, .summary = "square root"},
    {.kind = OpKind::Pow, .name = "pow", .arity = 1, .attrs = kPowAttrs, .fusion = kElem,
     .infer = inferUnaryFloat, .scalar = KILN_SCALAR(b.pow(x[0], attrs.getFloat("exponent"))),
     .grad = gradPow, .summary = "x ** exponent, a compile-time scalar"},
    {.kind = OpKind::Relu, .name = "relu", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.max(x[0], b.constantLike(0, x[0]))), .grad = gradRelu,
     .summary = "max(x, 0)"},
    {.kind = OpKind::Sigmoid, .name = "sigmoid", .arity = 1, .fusion = kElem,
     .infer = inferUnaryFloat, .scalar = KILN_SCALAR(sigmoid(b, x[0])), .grad = gradSigmoid,
     .summary = "1 / (1 + e^-x)"},
    {.kind = OpKind::Tanh, .name = "tanh", .arity = 1, .fusion = kElem, .infer = inferUnaryFloat,
     .scalar = KILN_SCALAR(b.tanh(x[0])), .grad = gradTanh, .summary = "hyperbolic tangent"},
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
