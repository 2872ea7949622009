//===- GradCheckTest.cpp - Every gradient rule against finite differences -===//
//
// For each differentiable op of the table, builds
//   loss = reduce_sum(op(inputs...) * weights)
// in f64, derives d(loss)/d(inputs) with the autodiff pass, runs it with the
// interpreter, and compares with central finite differences. Elementwise ops
// without attributes get their samples from the op table (operands from the
// op's testRange); the others are listed below. An op marked differentiable
// without a sample fails, so a new op cannot skip this.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/Autodiff.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "kiln/runtime/Interpreter.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

using namespace kiln;
using namespace kiln::ir;

namespace {

/// Where the inputs of a sample are drawn from; never within 0.1 of 0 (the
/// kinks of relu and abs).
constexpr Interval kAny = {-2, 2};
constexpr Interval kPositive = {0.5, 2}; ///< div, fractional powers
constexpr Interval kUnit = {0.1, 0.9};   ///< probabilities

struct Sample {
  std::vector<Shape> shapes; ///< float operands, in order
  AttrList attrs;
  std::optional<Shape> declared; ///< result shape for ops that declare it
  Interval range = kAny;
  /// For select: operand 0 is a fixed bool mask, not differentiated.
  bool leadingMask = false;
};

/// Samples of a unary or binary elementwise op without attributes, drawn
/// from its testRange (within [-2, 2]).
std::vector<Sample> tableSamples(const OpDef &def) {
  Interval range = {std::max(def.testRange.lo, kAny.lo), std::min(def.testRange.hi, kAny.hi)};
  if (def.arity == 1)
    return {{{Shape{2, 3}}, {}, {}, range}, {{Shape{}}, {}, {}, range}};
  return {{{Shape{2, 3}, Shape{2, 3}}, {}, {}, range},
          {{Shape{2, 3}, Shape{3}}, {}, {}, range},
          {{Shape{2, 1}, Shape{1, 3}}, {}, {}, range},
          {{Shape{}, Shape{2, 2}}, {}, {}, range}};
}

bool hasTableSamples(const OpDef &def) {
  bool elementwise = def.fusion == FusionClass::Elementwise || def.fusion == FusionClass::Broadcast;
  return elementwise && def.differentiable && def.attrs.empty() && !def.declaresResultType &&
         (def.arity == 1 || def.arity == 2);
}

/// The samples of ops the table cannot describe (attributes, declared
/// results, masks, operands from different ranges), then the table's.
std::map<std::string, std::vector<Sample>> samples() {
  auto axes = [](IntList a, bool keep) { return AttrList{{"axes", a}, {"keepdims", keep}}; };
  std::map<std::string, std::vector<Sample>> all = {
      {"div", {{{Shape{2, 3}, Shape{3}}, {}, {}, kPositive}}},
      {"binary_cross_entropy", {{{Shape{2, 3}, Shape{2, 3}}, {}, {}, kUnit}}},
      {"pow",
       {{{Shape{2, 3}}, {{"exponent", 3.0}}},
        {{Shape{2, 3}}, {{"exponent", 0.5}}, {}, kPositive},
        {{Shape{2, 3}}, {{"exponent", -1.5}}, {}, kPositive}}},
      {"clamp",
       {{{Shape{2, 3}}, {{"min", -0.5}, {"max", 0.5}}},
        {{Shape{2, 3}}, {{"min", 0.3}}},
        {{Shape{}}, {{"max", -0.3}}}}},
      {"cast", {{{Shape{2, 3}}, {}, Shape{2, 3}}}},
      {"select",
       {{{Shape{2, 3}, Shape{2, 3}}, {}, {}, kAny, true},
        {{Shape{3}, Shape{2, 1}}, {}, {}, kAny, true}}},
      {"reshape", {{{Shape{2, 3}}, {}, Shape{3, 2}}, {{Shape{6}}, {}, Shape{1, 2, 3}}}},
      {"transpose",
       {{{Shape{2, 3}}, {{"perm", IntList{1, 0}}}},
        {{Shape{2, 3, 4}}, {{"perm", IntList{2, 0, 1}}}}}},
      {"broadcast_to", {{{Shape{3}}, {}, Shape{2, 3}}, {{Shape{2, 1}}, {}, Shape{2, 3}}}},
      {"reduce_sum", {{{Shape{2, 3}}, axes({1}, false)}, {{Shape{2, 3, 2}}, axes({0, 2}, true)}}},
      {"reduce_mean", {{{Shape{2, 3}}, axes({0}, true)}, {{Shape{2, 3}}, axes({0, 1}, false)}}},
      {"reduce_max", {{{Shape{2, 3}}, axes({1}, false)}, {{Shape{4}}, axes({0}, false)}}},
      {"matmul", {{{Shape{2, 3}, Shape{3, 4}}}, {{Shape{1, 1}, Shape{1, 5}}}}},
      {"softmax",
       {{{Shape{2, 3}}, {{"axis", int64_t(1)}}}, {{Shape{2, 3}}, {{"axis", int64_t(0)}}}}},
      {"log_softmax",
       {{{Shape{2, 3}}, {{"axis", int64_t(1)}}}, {{Shape{3, 2}}, {{"axis", int64_t(0)}}}}},
  };
  for (const OpDef *def : allOps())
    if (hasTableSamples(*def) && !all.count(std::string(def->name)))
      all[std::string(def->name)] = tableSamples(*def);
  return all;
}

/// A number of `r`, at least 0.1 away from 0.
double draw(std::mt19937_64 &rng, Interval r) {
  std::uniform_real_distribution<double> u(r.lo, r.hi);
  for (;;)
    if (double v = u(rng); std::fabs(v) >= 0.1)
      return v;
}

HostTensor randomTensor(std::mt19937_64 &rng, const Shape &s, Interval r) {
  HostTensor t(TensorType{DType::F64, s});
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, draw(rng, r));
  return t;
}

/// loss(inputs) = sum(op(inputs) * weights), as a function of the float inputs.
struct Problem {
  Function fn{"gradcheck"};
  std::vector<ValueId> inputs;
  ValueId loss;
};

Problem buildProblem(const OpDef &def, const Sample &s, std::mt19937_64 &rng) {
  Problem p;
  Builder b(p.fn);
  std::vector<ValueId> operands;
  if (s.leadingMask) {
    HostTensor mask(TensorType{DType::Bool, Shape{2, 3}});
    for (int64_t i = 0; i < mask.numel(); ++i)
      mask.set(i, i % 2);
    operands.push_back(b.constant(mask));
  }
  for (size_t i = 0; i < s.shapes.size(); ++i) {
    ValueId v = b.param(fmt::format("x{}", i), TensorType{DType::F64, s.shapes[i]});
    p.inputs.push_back(v);
    operands.push_back(v);
  }
  std::optional<TensorType> declared;
  if (s.declared)
    declared = TensorType{DType::F64, *s.declared};
  ValueId y = b.create(def.kind, operands, s.attrs, declared);
  ValueId weights = b.constant(randomTensor(rng, b.shape(y), kAny));
  IntList all;
  for (int i = 0; i < b.shape(y).rank(); ++i)
    all.push_back(i);
  p.loss = b.reduceSum(b.mul(y, weights), all);
  p.fn.setResults({p.loss});
  return p;
}

double evalLoss(const Problem &p, const std::vector<HostTensor> &inputs) {
  return runtime::interpret(p.fn, inputs)[0].get(0);
}

void checkGradients(const OpDef &def, const Sample &s, std::mt19937_64 &rng) {
  Problem p = buildProblem(def, s, rng);
  std::vector<HostTensor> inputs;
  for (size_t i = 0; i < s.shapes.size(); ++i)
    inputs.push_back(randomTensor(rng, s.shapes[i], s.range));

  compiler::GradientFunction g = compiler::differentiate(p.fn, p.loss, p.inputs);
  std::vector<HostTensor> analytic = runtime::interpret(g.fn, inputs);
  ASSERT_EQ(analytic.size(), inputs.size());

  const double eps = 1e-6;
  for (size_t k = 0; k < inputs.size(); ++k) {
    EXPECT_TRUE(g.hasGradient[k]) << def.name << ": no gradient for operand " << k;
    for (int64_t i = 0; i < inputs[k].numel(); ++i) {
      std::vector<HostTensor> plus, minus;
      for (const HostTensor &t : inputs) {
        plus.push_back(t.clone());
        minus.push_back(t.clone());
      }
      plus[k].set(i, inputs[k].get(i) + eps);
      minus[k].set(i, inputs[k].get(i) - eps);
      double numeric = (evalLoss(p, plus) - evalLoss(p, minus)) / (2 * eps);
      EXPECT_NEAR(analytic[k].get(i), numeric, 1e-6 + 1e-5 * std::fabs(numeric))
          << "op '" << def.name << "', operand " << k << ", element " << i;
    }
  }
}

} // namespace

TEST(GradCheck, EveryDifferentiableOpHasARuleAndASample) {
  auto all = samples();
  for (const OpDef *def : allOps()) {
    if (!def->differentiable)
      continue;
    EXPECT_NE(def->grad, nullptr) << "op '" << def->name << "' has no gradient rule";
    EXPECT_TRUE(all.count(std::string(def->name)))
        << "op '" << def->name << "' has no gradcheck sample in GradCheckTest.cpp";
  }
}

TEST(GradCheck, AnalyticGradientsMatchFiniteDifferences) {
  std::mt19937_64 rng(42);
  for (const auto &[name, list] : samples()) {
    const OpDef *def = findOp(name);
    ASSERT_NE(def, nullptr) << name;
    for (const Sample &s : list) {
      SCOPED_TRACE(name);
      checkGradients(*def, s, rng);
    }
  }
}
