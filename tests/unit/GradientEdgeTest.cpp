//===- GradientEdgeTest.cpp - Gradients at the edges, against PyTorch -----===//
//
// Finite differences check gradients inside an op's domain; these check them
// where a rule has a masked branch or a singular point (pow at 0, ties and
// NaNs of maximum/minimum, relu and abs at 0 and NaN, clamp on its bounds,
// softplus at its threshold, BCE at p = 0 and 1),
// against the numbers PyTorch 1.13 gives in f64 (Debian's python3-torch):
//
//   x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
//   f(x).sum().backward(); print(x.grad.tolist())
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/Autodiff.h"
#include "kiln/ir/Builder.h"
#include "kiln/kiln.h"
#include "kiln/nn/Loss.h"
#include "kiln/runtime/Interpreter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

using namespace kiln;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

/// Equal, with NaN equal to NaN and infinities by sign.
void expectSame(const std::vector<double> &got, const std::vector<double> &expected,
                const std::string &what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i]))
      EXPECT_TRUE(std::isnan(got[i])) << what << ", element " << i << ": " << got[i];
    else if (std::isinf(expected[i]))
      EXPECT_EQ(got[i], expected[i]) << what << ", element " << i;
    else
      EXPECT_NEAR(got[i], expected[i], 1e-9 * std::max(1.0, std::abs(expected[i])))
          << what << ", element " << i;
  }
}

/// A leaf f64 vector that requires grad.
Tensor leaf(const std::vector<double> &x) {
  ir::TensorType t{ir::DType::F64, ir::Shape{int64_t(x.size())}};
  return Tensor(ir::HostTensor::fromDoubles(t, x), /*requires_grad=*/true);
}

using Unary = std::function<Tensor(const Tensor &)>;
using Binary = std::function<Tensor(const Tensor &, const Tensor &)>;

std::vector<double> gradOf(const Unary &f, const std::vector<double> &x) {
  Tensor t = leaf(x);
  f(t).sum().backward();
  return t.grad().to_vector();
}

std::pair<std::vector<double>, std::vector<double>>
gradsOf(const Binary &f, const std::vector<double> &a, const std::vector<double> &b) {
  Tensor ta = leaf(a), tb = leaf(b);
  f(ta, tb).sum().backward();
  return {ta.grad().to_vector(), tb.grad().to_vector()};
}

TEST(GradientEdges, PowWithExponentZeroHasZeroGradientEverywhere) {
  expectSame(gradOf([](const Tensor &x) { return x.pow(0); }, {0, 2}), {0, 0}, "x**0");
  expectSame(gradOf([](const Tensor &x) { return x.pow(2); }, {0}), {0}, "x**2 at 0");
  expectSame(gradOf([](const Tensor &x) { return x.pow(0.5); }, {0}), {kInf}, "x**0.5 at 0");
  expectSame(gradOf([](const Tensor &x) { return x.pow(-1); }, {0}), {-kInf}, "x**-1 at 0");
}

TEST(GradientEdges, SecondDerivativeOfPowOneIsZeroAtZero) {
  // torch.autograd.grad((x**1).sum(), x, create_graph=True)[0].sum().backward()
  using namespace kiln::ir;
  Function f("pow1");
  Builder b(f);
  TensorType t{DType::F64, Shape{2}};
  ValueId x = b.param("x", t);
  ValueId y = b.reduceSum(b.pow(x, 1), {0});
  f.setResults({y});
  compiler::GradientFunction first = compiler::differentiate(f, y, std::vector{x});
  Function &g = first.fn;
  Builder gb(g);
  ValueId dx = g.results()[0];
  ValueId total = gb.reduceSum(dx, {0});
  g.setResults({total});
  compiler::GradientFunction second = compiler::differentiate(g, total, std::vector{g.params()[0]});
  std::vector<HostTensor> out =
      runtime::interpret(second.fn, std::vector{HostTensor::fromDoubles(t, std::vector{0.0, 2.0})});
  expectSame({out[0].get(0), out[0].get(1)}, {0, 0}, "d2(x**1)/dx2");
}

TEST(GradientEdges, MaximumAndMinimumSplitTiesAndPassNaNToBoth) {
  const std::vector<double> a = {1, 2, kNaN, 1, kNaN}, b = {1, 1, 1, kNaN, kNaN};
  auto [maxA, maxB] = gradsOf([](const Tensor &x, const Tensor &y) { return maximum(x, y); }, a, b);
  expectSame(maxA, {0.5, 1, 1, 1, 1}, "maximum, a");
  expectSame(maxB, {0.5, 0, 1, 1, 1}, "maximum, b");
  auto [minA, minB] = gradsOf([](const Tensor &x, const Tensor &y) { return minimum(x, y); }, a, b);
  expectSame(minA, {0.5, 0, 1, 1, 1}, "minimum, a");
  expectSame(minB, {0.5, 1, 1, 1, 1}, "minimum, b");
}

TEST(GradientEdges, ReluAndAbsAtZeroAndNaN) {
  expectSame(gradOf([](const Tensor &x) { return x.relu(); }, {0, kNaN, -1, 1}), {0, 1, 0, 1},
             "relu");
  expectSame(gradOf([](const Tensor &x) { return apply(ir::OpKind::Abs, {x}); }, {0, kNaN, -1, 1}),
             {0, 0, -1, 1}, "abs");
  expectSame(gradOf([](const Tensor &x) { return x.sqrt(); }, {0}), {kInf}, "sqrt at 0");
  expectSame(gradOf([](const Tensor &x) { return x.log(); }, {0}), {kInf}, "log at 0");
}

TEST(GradientEdges, ClampPassesTheGradientOnItsBounds) {
  expectSame(gradOf([](const Tensor &x) { return x.clamp(0, 1); }, {0, 1, 2, -1, 0.5, kNaN}),
             {1, 1, 0, 0, 1, 0}, "clamp(0, 1)");
  expectSame(gradOf([](const Tensor &x) { return x.clamp(0); }, {0, -1, kNaN}), {1, 0, 0},
             "clamp(min=0)");
  expectSame(gradOf([](const Tensor &x) { return x.clamp(2, 1); }, {0, 1.5, 3}), {0, 0, 0},
             "clamp(2, 1)");
}

TEST(GradientEdges, SoftplusLog1pExpm1AndSinAtTheirEdges) {
  expectSame(gradOf([](const Tensor &x) { return x.softplus(); }, {20, 20.5, -800, 0, kNaN}),
             {0.9999999979388464, 1, 0, 0.5, kNaN}, "softplus");
  expectSame(gradOf([](const Tensor &x) { return x.log1p(); }, {-1, 0, kNaN}), {kInf, 1, kNaN},
             "log1p");
  expectSame(gradOf([](const Tensor &x) { return x.expm1(); }, {0, -800, 800}), {1, 0, kInf},
             "expm1");
  expectSame(gradOf([](const Tensor &x) { return x.sin(); }, {0, kInf}), {1, kNaN}, "sin");
}

TEST(GradientEdges, BCELossIsFiniteAtZeroAndOne) {
  // torch.nn.BCELoss()(p, y) for p = [1, 0.5, 0], y = [1, 0, 0].
  Tensor p = leaf({1, 0.5, 0}), y = leaf({1, 0, 0});
  Tensor loss = nn::BCELoss()(p, y);
  EXPECT_NEAR(loss.item(), 0.23104906018664842, 1e-12);
  loss.backward();
  expectSame(p.grad().to_vector(), {0, 0.6666666666666666, 0}, "BCELoss, p");
  expectSame(y.grad().to_vector(), {-kInf, 0, kInf}, "BCELoss, y");
  // reduction='sum', p = [1, 0.5, 0, 0.3], y = [0, 0.25, 1, 0.7]: the wrong
  // certainties get (p - y) / 1e-12 (PyTorch's EPSILON is a float).
  Tensor p2 = tensor({1.0, 0.5, 0.0, 0.3}, f64, true),
         y2 = tensor({0.0, 0.25, 1.0, 0.7}, f64, true);
  Tensor sum = nn::BCELoss(nn::Reduction::Sum)(p2, y2);
  EXPECT_NEAR(sum.item(), 201.64293062676973, 1e-9);
  sum.backward();
  expectSame(p2.grad().to_vector(),
             {1000000003995.8029, 1, -1000000003995.8029, -1.9047619047619047}, "BCELoss sum, p");
  expectSame(y2.grad().to_vector(), {-kInf, 0, kInf, 0.8472978603872037}, "BCELoss sum, y");
}

} // namespace
