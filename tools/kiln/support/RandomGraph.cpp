//===- RandomGraph.cpp - Seeded random well-typed IR graphs ---------------===//
#include "support/RandomGraph.h"

#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "kiln/ir/Printer.h"
#include "kiln/ir/Verifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

namespace kiln::tool {

using namespace kiln::ir;

namespace {

/// Random numbers from mt19937_64 alone (the standard distributions differ
/// between standard libraries), so that a seed names the same graph anywhere.
class Rng {
public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  int below(size_t n) { return int(engine_() % uint64_t(n)); }
  bool percent(int p) { return below(100) < p; }
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * double(engine_() >> 11) * 0x1p-53;
  }
  template <class T> const T &pick(const std::vector<T> &v) { return v[size_t(below(v.size()))]; }

private:
  std::mt19937_64 engine_;
};

/// An f32 value of the graph and what the generator knows about it.
struct Val {
  ValueId id;
  /// Bounds on every element (inputs are in [-2, 2]).
  double lo = 0, hi = 0;
  /// Both backends compute it bit for bit: only correctly rounded ops
  /// (+ - * / sqrt, max, min, abs, casts, layout...) of exact values. Only
  /// exact values may feed a discontinuous op (compare, cast to int, argmax).
  bool exact = true;
  double magnitude() const { return std::max(std::fabs(lo), std::fabs(hi)); }
};

/// Bounds of a * b over the boxes [alo, ahi] x [blo, bhi].
std::pair<double, double> productBounds(const Val &a, const Val &b) {
  double c[] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
  return {*std::min_element(c, c + 4), *std::max_element(c, c + 4)};
}

/// Exponents of pow: whole non-negative ones take any input; negative and
/// fractional ones get a positive input.
constexpr double kExponents[] = {2, 3, 0, 1, -1, 0.5, 1.5, -0.5, 2.5};
bool isWholeNonNegative(double p) { return p >= 0 && p == std::floor(p); }

/// Whether a formula is computed bit for bit alike by both backends.
bool isExactFormula(const OpDef &def, const AttrList &attrs) {
  std::vector<DType> operands(size_t(def.arity), DType::F32);
  return ir::isExactFormula(def, attrs, operands, DType::F32);
}

/// Bounds of an op's result over its operands' bounds, from its formula on
/// a grid (65 points for one operand, 17 x 17 for two), widened by a
/// twentieth (a peak between samples, as of sin).
std::pair<double, double> sampledBounds(const OpDef &def, std::span<const Val> operands,
                                        const AttrList &attrs) {
  const int steps = operands.size() == 1 ? 64 : 16;
  double lo = INFINITY, hi = -INFINITY;
  std::vector<double> x(operands.size());
  std::vector<int> at(operands.size(), 0);
  for (;;) {
    for (size_t k = 0; k < operands.size(); ++k)
      x[k] = operands[k].lo + (operands[k].hi - operands[k].lo) * at[k] / steps;
    if (double y = evalScalar(def, x, attrs, DType::F32); !std::isnan(y))
      lo = std::min(lo, y), hi = std::max(hi, y);
    size_t k = 0; // the next grid point, like an odometer
    while (k < at.size() && ++at[k] > steps)
      at[k++] = 0;
    if (k == at.size())
      break;
  }
  return {lo - (hi - lo) / 20, hi + (hi - lo) / 20};
}

class Generator {
public:
  Generator(uint64_t seed, const RandomGraphOptions &options)
      : rng_(seed), options_(options), fn_(fmt::format("random_{}", seed)), b_(fn_) {}

  RandomGraph build();

private:
  // ---- Shapes and operands ------------------------------------------------
  Shape iterationShape();
  /// A shape that broadcasts to `s`: a suffix of it with some extents 1.
  Shape broadcastingTo(const Shape &s);
  Val param(const Shape &s);
  Val record(ValueId id, double lo, double hi, bool exact);
  Val pickAny();
  /// A value whose shape broadcasts with `shape` (possibly a new parameter).
  Val partnerOf(const Shape &shape, bool exactOnly = false);
  Val partnerOf(const Val &a, bool exactOnly = false) {
    return partnerOf(fn_.type(a.id).shape, exactOnly);
  }
  Val pickExact();
  Val splat(double v) { return record(b_.scalar(v), v, v, true); }

  // ---- Keeping values in safe domains --------------------------------------
  /// v scaled by a power of two so that |v| <= limit (exact: no rounding).
  Val shrink(const Val &v, double limit);
  /// v itself if v >= minLo everywhere, else a positive function of it.
  Val positive(const Val &v, double minLo);
  Val tame(const Val &v) { return shrink(v, 8); }

  // ---- Ops ------------------------------------------------------------------
  void emit(OpKind op);
  void emitFromTable(OpKind op);
  Val binary(OpKind op, const Val &a, const Val &c);
  /// op(a) for a unary elementwise op of the table, `a` first moved into the
  /// op's testRange; bounds sampled from its scalar formula.
  Val unary(OpKind op, Val a, const AttrList &attrs = {});
  /// A unary elementwise op of the table with attributes drawn at random.
  Val unaryWithAttrs(OpKind op);
  /// op(a, c) for a binary elementwise op of the table without a case of
  /// its own below: operands moved into its testRange, bounds sampled.
  Val binaryFromTable(OpKind op);
  /// `v` moved into `range`: scaled down into a bounded one, made to lie
  /// above the lower bound of a half-line.
  Val intoRange(const Val &v, const Interval &range);
  Val pow(Val a);
  Val cast(OpKind op);
  Val compareAndUse(OpKind cmp, bool select = false);
  Val reduce(OpKind op);
  Val argmax(bool oneHot);
  Val matrix(const Val &v);
  Val matmul();
  /// a @ b for matrices of matching inner extent.
  Val product(const Val &a, const Val &b);
  Val binaryCrossEntropy();
  Val transpose();
  Val reshape();
  Val broadcastTo();
  Val softmax(OpKind op);
  Val constant();

  std::vector<ValueId> chooseResults();
  std::vector<HostTensor> makeInputs();

  Rng rng_;
  RandomGraphOptions options_;
  Function fn_;
  Builder b_;
  Shape space_;
  std::vector<Val> pool_;
  std::set<int32_t> used_;
  int params_ = 0;
};

// ---- Shapes and operands ----------------------------------------------------

Shape Generator::iterationShape() {
  std::vector<int64_t> dims(size_t(rng_.below(size_t(options_.maxRank) + 1)));
  for (int64_t &d : dims)
    d = 1 + rng_.below(size_t(options_.maxExtent));
  return Shape(std::move(dims));
}

Shape Generator::broadcastingTo(const Shape &s) {
  int rank = rng_.below(size_t(s.rank()) + 1);
  std::vector<int64_t> dims(s.end() - rank, s.end());
  for (int64_t &d : dims)
    if (rng_.percent(30))
      d = 1;
  return Shape(std::move(dims));
}

Val Generator::param(const Shape &s) {
  ValueId id = b_.param(fmt::format("p{}", params_++), {DType::F32, s});
  return record(id, -2, 2, true);
}

Val Generator::record(ValueId id, double lo, double hi, bool exact) {
  Val v{id, lo, hi, exact};
  if (fn_.type(id).dtype == DType::F32)
    pool_.push_back(v);
  return v;
}

Val Generator::pickAny() {
  // Prefer recent values, so that graphs grow deep rather than wide.
  size_t recent = std::min<size_t>(pool_.size(), 3);
  if (rng_.percent(60))
    return pool_[pool_.size() - 1 - size_t(rng_.below(recent))];
  return rng_.pick(pool_);
}

Val Generator::partnerOf(const Shape &shape, bool exactOnly) {
  std::vector<Val> fits;
  for (const Val &v : pool_)
    if ((!exactOnly || v.exact) && broadcastShapes(shape, fn_.type(v.id).shape) &&
        fn_.type(v.id).shape.rank() <= std::max(shape.rank(), options_.maxRank))
      fits.push_back(v);
  if (fits.empty() || rng_.percent(20))
    return rng_.percent(25) ? splat(std::round(rng_.uniform(-2, 2) * 4) / 4)
                            : param(broadcastingTo(shape));
  return rng_.pick(fits);
}

Val Generator::pickExact() {
  std::vector<Val> exact;
  for (const Val &v : pool_)
    if (v.exact)
      exact.push_back(v);
  if (exact.empty() || rng_.percent(15))
    return param(broadcastingTo(space_));
  return rng_.pick(exact);
}

// ---- Safe domains -------------------------------------------------------------

Val Generator::shrink(const Val &v, double limit) {
  double m = v.magnitude();
  if (m <= limit)
    return v;
  double scale = std::exp2(-std::ceil(std::log2(m / limit)));
  Val s = splat(scale);
  return binary(OpKind::Mul, v, s);
}

Val Generator::positive(const Val &v, double minLo) {
  if (v.lo >= minLo)
    return v;
  double c = minLo + std::round(rng_.uniform(0, 1) * 8) / 8;
  const OpKind nonNegative[] = {OpKind::Abs, OpKind::Exp, OpKind::Sigmoid, OpKind::Relu};
  OpKind op = nonNegative[rng_.below(4)];
  // One statement each: the order of a call's arguments is the compiler's,
  // and the graph must not depend on it.
  Val shifted = unary(op, op == OpKind::Exp ? shrink(v, 2) : v);
  return binary(OpKind::Add, shifted, splat(c));
}

// ---- Ops ----------------------------------------------------------------------

Val Generator::binary(OpKind op, const Val &a, const Val &c) {
  ValueId id = b_.create(op, {a.id, c.id});
  used_.insert(a.id.id);
  used_.insert(c.id.id);
  double lo = 0, hi = 0;
  switch (op) {
  case OpKind::Add:
    lo = a.lo + c.lo, hi = a.hi + c.hi;
    break;
  case OpKind::Sub:
    lo = a.lo - c.hi, hi = a.hi - c.lo;
    break;
  case OpKind::Mul:
    std::tie(lo, hi) = productBounds(a, c);
    break;
  case OpKind::Div: { // c > 0 by construction
    Val inv{c.id, 1 / c.hi, 1 / c.lo};
    std::tie(lo, hi) = productBounds(a, inv);
    break;
  }
  case OpKind::Maximum:
    lo = std::max(a.lo, c.lo), hi = std::max(a.hi, c.hi);
    break;
  case OpKind::Minimum:
    lo = std::min(a.lo, c.lo), hi = std::min(a.hi, c.hi);
    break;
  default:
    throw Error(ErrorKind::Internal, "random graph: not a binary op");
  }
  return record(id, lo, hi, a.exact && c.exact);
}

Val Generator::intoRange(const Val &v, const Interval &range) {
  bool bounded = std::isfinite(range.lo) && std::isfinite(range.hi);
  if (bounded && range.lo < 0 && range.hi > 0)
    return shrink(v, std::min(-range.lo, range.hi));
  if (!bounded && std::isfinite(range.lo))
    return positive(v, range.lo);
  if (!bounded && !std::isfinite(range.hi))
    return v;
  throw Error(ErrorKind::Internal,
              fmt::format("random graph: cannot draw operands from [{}, {}]", range.lo, range.hi));
}

Val Generator::unary(OpKind op, Val a, const AttrList &attrs) {
  const OpDef &def = opDef(op);
  a = intoRange(a, def.testRange);
  ValueId id = b_.create(op, {a.id}, attrs);
  used_.insert(a.id.id);
  auto [lo, hi] = sampledBounds(def, std::span(&a, 1), attrs);
  return record(id, lo, hi, a.exact && isExactFormula(def, attrs));
}

Val Generator::binaryFromTable(OpKind op) {
  const OpDef &def = opDef(op);
  Val a = intoRange(pickAny(), def.testRange);
  Val c = intoRange(partnerOf(a), def.testRange);
  ValueId id = b_.create(op, {a.id, c.id});
  used_.insert(a.id.id);
  used_.insert(c.id.id);
  Val operands[] = {a, c};
  auto [lo, hi] = sampledBounds(def, operands, {});
  return record(id, lo, hi, a.exact && c.exact && isExactFormula(def, {}));
}

/// Float attributes from a few exactly representable values; an optional
/// one is left out now and then. The op's shape rule has the last word
/// (clamp wants min or max): draws it refuses are drawn again.
Val Generator::unaryWithAttrs(OpKind op) {
  const OpDef &def = opDef(op);
  constexpr double kValues[] = {-1, -0.5, 0, 0.5, 1, 1.5};
  for (int attempt = 0;; ++attempt) {
    AttrList attrs;
    for (const AttrSpec &spec : def.attrs) {
      if (spec.kind != AttrKind::Float)
        throw Error(
            ErrorKind::Internal,
            fmt::format("random graph: cannot draw attribute '{}' of '{}'", spec.name, def.name));
      if (spec.required || rng_.percent(75))
        attrs.set(std::string(spec.name), kValues[rng_.below(std::size(kValues))]);
    }
    try {
      return unary(op, pickAny(), attrs);
    } catch (const Error &e) {
      if (e.kind() != ErrorKind::Verify || attempt == 8)
        throw;
    }
  }
}

Val Generator::pow(Val a) {
  double p = kExponents[rng_.below(std::size(kExponents))];
  a = isWholeNonNegative(p) ? shrink(a, 2) : positive(shrink(a, 4), 0.25);
  ValueId id = b_.pow(a.id, p);
  used_.insert(a.id.id);
  double x[] = {std::pow(a.lo, p), std::pow(a.hi, p),
                a.lo < 0 && a.hi > 0 ? 0.0 : std::pow(a.lo, p)};
  // x^0, x^1 and x^2 are correctly rounded in both backends; other powers are libm's.
  return record(id, *std::min_element(x, x + 3), *std::max_element(x, x + 3),
                a.exact && (p == 0 || p == 1 || p == 2));
}

/// A cast away from f32 and back: through f64 (any value), or through i64,
/// u8 or bool (exact values only, since truncation is discontinuous).
Val Generator::cast(OpKind) {
  const DType via[] = {DType::F64, DType::I64, DType::U8, DType::Bool};
  DType to = via[rng_.below(4)];
  Val a = to == DType::F64 ? pickAny() : pickExact();
  ValueId mid = b_.cast(a.id, to);
  used_.insert(a.id.id);
  double lo = a.lo, hi = a.hi;
  if (to == DType::I64)
    lo = std::trunc(lo), hi = std::trunc(hi);
  if (to == DType::U8)
    lo = std::clamp(std::trunc(lo), 0.0, 255.0), hi = std::clamp(std::trunc(hi), 0.0, 255.0);
  if (to == DType::Bool)
    lo = 0, hi = 1;
  return record(b_.cast(mid, DType::F32), lo, hi, a.exact);
}

/// cmp(a, c) on exact values, then a select between two values or a cast of
/// the mask to f32, so that the bool goes on into the graph.
Val Generator::compareAndUse(OpKind cmp, bool select) {
  Val a = pickExact();
  // Compare with itself after a max/min sometimes, so that eq and ne see equal elements.
  bool throughMaxMin = rng_.percent(30);
  Val c = partnerOf(a, /*exactOnly=*/true);
  if (throughMaxMin) {
    OpKind op = rng_.percent(50) ? OpKind::Maximum : OpKind::Minimum;
    c = binary(op, a, c);
  }
  ValueId mask = b_.create(cmp, {a.id, c.id});
  used_.insert(a.id.id);
  used_.insert(c.id.id);
  if (!select && rng_.percent(25))
    return record(b_.cast(mask, DType::F32), 0, 1, true);
  Shape maskShape = fn_.type(mask).shape;
  Val x = partnerOf(maskShape);
  Val y = partnerOf(*broadcastShapes(maskShape, fn_.type(x.id).shape));
  ValueId id = b_.create(OpKind::Select, {mask, x.id, y.id});
  used_.insert(x.id.id);
  used_.insert(y.id.id);
  return record(id, std::min(x.lo, y.lo), std::max(x.hi, y.hi), x.exact && y.exact);
}

Val Generator::reduce(OpKind op) {
  Val a = pickAny();
  // Reductions of elementwise chains are fused into one kernel: give the
  // reduction such a producer when the value came from elsewhere (a
  // parameter, matmul, softmax...). Graphs whose reductions already read an
  // elementwise value stay as they were.
  if (fn_.isParam(a.id) || !opDef(fn_.defOf(a.id).op).scalar) {
    const OpKind producers[] = {OpKind::Mul, OpKind::Sub, OpKind::Exp, OpKind::Abs};
    OpKind p = producers[rng_.below(std::size(producers))];
    a = p == OpKind::Mul || p == OpKind::Sub ? tame(binary(p, a, partnerOf(a))) : unary(p, a);
  }
  const Shape &s = fn_.type(a.id).shape;
  IntList axes;
  int64_t count = 1;
  for (int i = 0; i < s.rank(); ++i)
    if (rng_.percent(50)) {
      axes.push_back(i);
      count *= s[i];
    }
  bool keep = rng_.percent(40);
  ValueId id = b_.create(op, {a.id}, {{"axes", axes}, {"keepdims", keep}});
  used_.insert(a.id.id);
  if (op == OpKind::ReduceSum) // summation order differs between backends
    return tame(record(id, a.lo * double(count), a.hi * double(count), false));
  return record(id, a.lo, a.hi, a.exact && op == OpKind::ReduceMax);
}

/// argmax of an exact value (ties resolve the same way in both backends),
/// then cast to f32 or one-hot encoded.
Val Generator::argmax(bool oneHot) {
  Val a = pickExact();
  Shape s = fn_.type(a.id).shape;
  if (s.rank() == 0) {
    a = record(b_.reshape(a.id, Shape{1}), a.lo, a.hi, a.exact);
    s = Shape{1};
  }
  int64_t axis = rng_.below(size_t(s.rank()));
  bool keep = !oneHot && rng_.percent(40);
  ValueId index = b_.create(OpKind::Argmax, {a.id}, {{"axis", axis}, {"keepdims", keep}});
  used_.insert(a.id.id);
  if (!oneHot)
    return record(b_.cast(index, DType::F32), 0, double(s[int(axis)] - 1), true);
  std::vector<int64_t> dims = fn_.type(index).shape.toVector();
  // Depth: the class count plus up to 2 spare classes, within maxExtent.
  int64_t spare = std::clamp<int64_t>(options_.maxExtent - s[int(axis)], 0, 2);
  dims.push_back(s[int(axis)] + rng_.below(size_t(spare) + 1));
  ValueId id = b_.create(OpKind::OneHot, {index}, {}, TensorType{DType::F32, Shape(dims)});
  return record(id, 0, 1, true);
}

/// v as a matrix: itself when of rank 2, else reshaped.
Val Generator::matrix(const Val &v) {
  const Shape &s = fn_.type(v.id).shape;
  if (s.rank() == 2)
    return v;
  Shape m = s.rank() == 0   ? Shape{1, 1}
            : s.rank() == 1 ? (rng_.percent(50) ? Shape{1, s[0]} : Shape{s[0], 1})
                            : Shape{s.numel() / s[s.rank() - 1], s[s.rank() - 1]};
  used_.insert(v.id.id);
  return record(b_.reshape(v.id, m), v.lo, v.hi, v.exact);
}

/// a @ b, sometimes with a transposed operand, a bias and an activation:
/// what the fuse pass turns into one oneDNN primitive with post-ops. Also the
/// shapes that epilogue matching can confuse: a batch-1 row (the product
/// looks like a bias row), a value times itself, a sum of two products.
Val Generator::matmul() {
  Val a = rng_.percent(15) ? param(Shape{1, 1 + rng_.below(size_t(options_.maxExtent))})
                           : matrix(shrink(pickAny(), 2));
  if (rng_.percent(25)) { // a^T @ b
    used_.insert(a.id.id);
    a = record(b_.transpose(a.id), a.lo, a.hi, a.exact);
  }
  int64_t k = fn_.type(a.id).shape[1];
  std::vector<Val> fits;
  for (const Val &v : pool_)
    if (fn_.type(v.id).shape.rank() == 2 && fn_.type(v.id).shape[0] == k)
      fits.push_back(v);
  Shape as = fn_.type(a.id).shape;               // a copy: param() adds values
  Val b = as[0] == as[1] && rng_.percent(15) ? a // x @ x
          : fits.empty() || rng_.percent(40)
              ? param(Shape{k, 1 + rng_.below(size_t(options_.maxExtent))})
              : shrink(rng_.pick(fits), 2);
  Val out = product(a, b);
  if (rng_.percent(15)) { // x @ W + h @ U
    Shape s = fn_.type(out.id).shape;
    int64_t k2 = 1 + rng_.below(size_t(options_.maxExtent));
    Val x = param(Shape{s[0], k2});
    Val w = param(Shape{k2, s[1]});
    out = binary(OpKind::Add, out, product(x, w));
  }
  if (rng_.percent(40)) {
    int64_t n = fn_.type(out.id).shape[1];
    Val bias = param(rng_.percent(70) ? Shape{n} : Shape{1, n});
    out = binary(OpKind::Add, out, bias);
    out.exact = false;
  }
  if (rng_.percent(40)) {
    const OpKind activations[] = {OpKind::Relu, OpKind::Tanh, OpKind::Sigmoid};
    out = unary(activations[rng_.below(3)], out);
  }
  return tame(out);
}

/// BCE of probabilities against targets, both sigmoids. Targets in [0, 1]
/// keep its two terms from cancelling, and probabilities in [0.12, 0.88]
/// keep log(1 - p) well conditioned in f32 (near p = 1 one rounding of p
/// moves it by 1e-3), so that f32 and the interpreter's double agree.
Val Generator::binaryCrossEntropy() {
  Val p = unary(OpKind::Sigmoid, shrink(pickAny(), 2));
  Val y = unary(OpKind::Sigmoid, param(fn_.type(p.id).shape));
  ValueId id = b_.create(OpKind::BinaryCrossEntropy, {p.id, y.id});
  used_.insert(p.id.id);
  used_.insert(y.id.id);
  return tame(record(id, -500, 500, false));
}

Val Generator::product(const Val &a, const Val &b) {
  used_.insert(a.id.id);
  used_.insert(b.id.id);
  double m = double(fn_.type(a.id).shape[1]) * a.magnitude() * b.magnitude();
  return record(b_.matmul(a.id, b.id), -m, m, false);
}

Val Generator::transpose() {
  Val a = pickAny();
  int rank = fn_.type(a.id).shape.rank();
  if (rank < 2) {
    a = matrix(a);
    rank = 2;
  }
  IntList perm(static_cast<size_t>(rank), 0);
  for (int i = 0; i < rank; ++i)
    perm[size_t(i)] = i;
  for (int i = rank - 1; i > 0; --i) // Fisher-Yates
    std::swap(perm[size_t(i)], perm[size_t(rng_.below(size_t(i) + 1))]);
  used_.insert(a.id.id);
  return record(b_.transpose(a.id, perm), a.lo, a.hi, a.exact);
}

/// A reshape to a random factorisation of the element count.
Val Generator::reshape() {
  Val a = pickAny();
  int64_t n = fn_.type(a.id).shape.numel();
  std::vector<int64_t> factors;
  for (int64_t p = 2; n > 1; ++p)
    while (n % p == 0) {
      factors.push_back(p);
      n /= p;
    }
  for (size_t i = factors.size(); i > 1; --i)
    std::swap(factors[i - 1], factors[size_t(rng_.below(i))]);
  std::vector<int64_t> dims;
  for (int64_t f : factors)
    if (dims.empty() || rng_.percent(50))
      dims.push_back(f);
    else
      dims.back() *= f;
  if (dims.size() < 3 && rng_.percent(30))
    dims.insert(dims.begin() + rng_.below(dims.size() + 1), 1);
  if (dims == fn_.type(a.id).shape.toVector()) // the builder returns a no-op reshape's operand
    dims.insert(dims.begin(), 1);
  used_.insert(a.id.id);
  return record(b_.reshape(a.id, Shape(dims)), a.lo, a.hi, a.exact);
}

/// Expands unit extents and sometimes adds a leading axis.
Val Generator::broadcastTo() {
  Val a = pickAny();
  std::vector<int64_t> dims = fn_.type(a.id).shape.toVector();
  for (int64_t &d : dims)
    if (d == 1 && rng_.percent(60))
      d = 1 + rng_.below(size_t(options_.maxExtent)); // stays 1 when maxExtent is 1
  if (dims.size() < 4 && (rng_.percent(40) || dims == fn_.type(a.id).shape.toVector()))
    dims.insert(dims.begin(), 1 + rng_.below(size_t(options_.maxExtent)));
  used_.insert(a.id.id);
  return record(b_.broadcastTo(a.id, Shape(dims)), a.lo, a.hi, a.exact);
}

Val Generator::softmax(OpKind op) {
  Val a = shrink(pickAny(), 8);
  Shape s = fn_.type(a.id).shape;
  if (s.rank() == 0) {
    a = record(b_.reshape(a.id, Shape{1}), a.lo, a.hi, a.exact);
    s = Shape{1};
  }
  // The last axis is oneDNN's softmax; other axes run the reference kernel.
  int64_t axis = rng_.percent(70) ? s.rank() - 1 : rng_.below(size_t(s.rank()));
  ValueId id = b_.create(op, {a.id}, {{"axis", axis}});
  used_.insert(a.id.id);
  if (op == OpKind::Softmax)
    return record(id, 0, 1, false);
  return record(id, a.lo - a.hi - std::log(double(s[int(axis)])), 0, false);
}

/// A dense (not splat) constant, combined with a value of the graph so that
/// constant folding cannot remove it.
Val Generator::constant() {
  Val a = pickAny();
  HostTensor value(TensorType{DType::F32, broadcastingTo(fn_.type(a.id).shape)});
  for (int64_t i = 0; i < value.numel(); ++i)
    value.set(i, std::round(rng_.uniform(-2, 2) * 64) / 64 + double(i % 2) / 128);
  Val c = record(b_.constant(value), -2.1, 2.1, true);
  return binary(rng_.percent(50) ? OpKind::Add : OpKind::Mul, a, c);
}

void Generator::emit(OpKind op) {
  switch (op) {
  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Maximum:
  case OpKind::Minimum: {
    Val a = pickAny();
    tame(binary(op, a, partnerOf(a)));
    return;
  }
  case OpKind::Div: {
    Val a = pickAny();
    tame(binary(op, a, positive(partnerOf(a), 0.25)));
    return;
  }
  case OpKind::Pow:
    tame(pow(pickAny()));
    return;
  case OpKind::Cast:
    cast(op);
    return;
  case OpKind::Select: {
    const OpKind cmps[] = {OpKind::Lt, OpKind::Ge, OpKind::Eq, OpKind::Gt};
    compareAndUse(cmps[rng_.below(4)], /*select=*/true);
    return;
  }
  case OpKind::Argmax:
    argmax(/*oneHot=*/false);
    return;
  case OpKind::OneHot:
    argmax(/*oneHot=*/true);
    return;
  case OpKind::Matmul:
    matmul();
    return;
  case OpKind::BinaryCrossEntropy:
    binaryCrossEntropy();
    return;
  case OpKind::Transpose:
    transpose();
    return;
  case OpKind::Reshape:
    reshape();
    return;
  case OpKind::BroadcastTo:
    broadcastTo();
    return;
  case OpKind::Softmax:
  case OpKind::LogSoftmax:
    softmax(op);
    return;
  case OpKind::Constant:
    constant();
    return;
  default:
    emitFromTable(op);
  }
}

/// An op that has no case in emit(), by what the table says of it: a unary
/// elementwise op, a binary one (a compare when not differentiable, so its
/// bool result feeds a select or a cast), or a fold.
void Generator::emitFromTable(OpKind op) {
  const OpDef &def = opDef(op);
  bool elementwise = def.scalar && !def.declaresResultType;
  if (elementwise && def.arity == 1) {
    tame(def.attrs.empty() ? unary(op, pickAny()) : unaryWithAttrs(op));
  } else if (elementwise && def.arity == 2 && def.attrs.empty()) {
    if (def.differentiable)
      tame(binaryFromTable(op));
    else
      compareAndUse(op);
  } else if (def.reduction) {
    reduce(op);
  } else {
    throw Error(ErrorKind::Internal,
                fmt::format("random graph: cannot generate op '{}'", opName(op)));
  }
}

/// The values nothing uses (the graph's sinks), newest first, at most four;
/// the newest value is always one.
std::vector<ValueId> Generator::chooseResults() {
  std::vector<ValueId> results;
  for (auto it = pool_.rbegin(); it != pool_.rend() && results.size() < 4; ++it)
    if (!used_.count(it->id.id) && !fn_.isParam(it->id) &&
        std::find(results.begin(), results.end(), it->id) == results.end())
      results.push_back(it->id);
  if (results.empty())
    results.push_back(pool_.back().id);
  return results;
}

std::vector<HostTensor> Generator::makeInputs() {
  std::vector<HostTensor> inputs;
  for (ValueId p : fn_.params()) {
    HostTensor t(fn_.type(p));
    for (int64_t i = 0; i < t.numel(); ++i)
      t.set(i, rng_.uniform(-2, 2));
    inputs.push_back(std::move(t));
  }
  return inputs;
}

RandomGraph Generator::build() {
  space_ = iterationShape();
  param(space_);
  for (int i = rng_.below(3); i > 0; --i)
    param(broadcastingTo(space_));
  std::vector<OpKind> ops = generatableOps();
  int count = 1 + rng_.below(size_t(options_.maxNodes));
  int mustAt = options_.mustUse ? rng_.below(size_t(count)) : -1;
  for (int i = 0; i < count; ++i)
    emit(i == mustAt ? *options_.mustUse : rng_.pick(ops));
  fn_.setResults(chooseResults());
  verify(fn_);
  std::vector<HostTensor> inputs = makeInputs();
  return {std::move(fn_), std::move(inputs)};
}

std::string formatElement(double v) { return fmt::format("{:.9g}", v); }

} // namespace

RandomGraph randomGraph(uint64_t seed, const RandomGraphOptions &options) {
  if (options.maxNodes < 1 || options.maxRank < 0 || options.maxExtent < 1)
    throw Error(ErrorKind::Usage,
                fmt::format("random graph: need maxNodes >= 1, maxRank >= 0, maxExtent >= 1; got "
                            "{}, {}, {}",
                            options.maxNodes, options.maxRank, options.maxExtent));
  return Generator(seed, options).build();
}

std::vector<OpKind> generatableOps() {
  std::vector<OpKind> ops;
  for (const OpDef *def : allOps())
    if (!def->region) // fused: made by the fuse pass, not written in graphs
      ops.push_back(def->kind);
  return ops;
}

std::optional<std::string> compareResults(std::span<const HostTensor> got,
                                          std::span<const HostTensor> want, const Tolerance &tol) {
  if (got.size() != want.size())
    return fmt::format("{} results, want {}", got.size(), want.size());
  for (size_t r = 0; r < want.size(); ++r) {
    if (got[r].type() != want[r].type())
      return fmt::format("result {} is {}, want {}", r, got[r].type().str(), want[r].type().str());
    bool isFloatResult = isFloat(want[r].dtype());
    for (int64_t i = 0; i < want[r].numel(); ++i) {
      double g = got[r].get(i), w = want[r].get(i);
      bool same = g == w || (std::isnan(g) && std::isnan(w));
      bool close = isFloatResult && std::fabs(g - w) <= tol.abs + tol.rel * std::fabs(w);
      if (!same && !close)
        return fmt::format("result {} ({}) element {}: got {}, want {} (difference {:.3g})", r,
                           want[r].type().str(), i, formatElement(g), formatElement(w),
                           std::fabs(g - w));
    }
  }
  return std::nullopt;
}

std::string describeGraph(const RandomGraph &g) {
  std::string command = "// kiln run FILE";
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    std::vector<std::string> values;
    for (int64_t j = 0; j < g.inputs[i].numel(); ++j)
      values.push_back(formatElement(g.inputs[i].get(j)));
    command +=
        fmt::format(" --input {}={}", g.fn.value(g.fn.params()[i]).name, fmt::join(values, ","));
  }
  return command + "\n" + print(g.fn);
}

} // namespace kiln::tool
