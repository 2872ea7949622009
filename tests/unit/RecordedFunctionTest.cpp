//===- RecordedFunctionTest.cpp - A layer's ops as one recorded node -----===//
//
// In lazy mode nn::Linear and MSELoss record their few ops as one node, a
// region whose body backward() differentiates
// (frontends/src/RecordedRegion.h, RecordedFunction). Specified here: the
// step is the one the ops make, the gradients are the ops' own (also where
// the gradient needs a value computed inside the region), two functions of
// the same operand types keep their own gradients, and the autograd checks
// and names are the ops'.
//
//===----------------------------------------------------------------------===//
#include "../../frontends/src/RecordedRegion.h"
#include "ErrorTestSupport.h"
#include "StepTestSupport.h"
#include "kiln/ir/Printer.h"
#include "kiln/nn/nn.h"
#include "kiln/optim/optim.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace kiln;

namespace {

class RecordedFunctionTest : public test::StepSettingsTest {
protected:
  void SetUp() override {
    StepSettingsTest::SetUp();
    set_execution(Execution::Compiled);
    set_compile_after(0);
  }
};

Tensor inputs() { return from_vector({1, 2, 3, 4, 5, 6}, {3, 2}); }
Tensor targets() { return from_vector({1, 0, 0, 1, 2, -1}, {3, 2}); }

/// Weight and bias of a Linear(2, 2), fixed.
Tensor weight() { return from_vector({0.5, -1, 2, 0.25}, {2, 2}); }
Tensor bias() { return from_vector({0.1, -0.2}, {2}); }

/// The step IR of three SGD steps of a Linear(2, 2) and MSELoss, recorded
/// by the layers (`layers`) or by the same ops written out.
std::string stepIr(bool layers) {
  nn::Linear m(2, 2);
  {
    NoGradGuard noGrad;
    m.weight.copy_(weight());
    m.bias.copy_(bias());
  }
  m.weight.set_name("weight");
  m.bias.set_name("bias");
  optim::SGD opt(m.parameters(), 0.1);
  Tensor x = inputs(), y = targets();
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    Tensor loss;
    if (layers) {
      loss = nn::MSELoss()(m(x), y);
    } else {
      Tensor diff = x.matmul(m.weight.t()) + m.bias - y;
      loss = (diff * diff).mean();
    }
    loss.backward();
    opt.step();
    kiln::sync();
  }
  return ir::print(last_step_ir());
}

/// exp(a * b) + a: its gradient reads exp(a * b), a value of the body.
Tensor expOfProduct(std::span<const Tensor> o) { return (o[0] * o[1]).exp() + o[0]; }

} // namespace

TEST_F(RecordedFunctionTest, TheStepIsTheOneItsOpsMake) {
  std::string recorded = stepIr(true);
  EXPECT_EQ(recorded, stepIr(false));
  EXPECT_NE(recorded.find("matmul"), std::string::npos) << recorded;
}

TEST_F(RecordedFunctionTest, ALayerNamesItsLastOpAsGradFn) {
  nn::Linear m(2, 2);
  Tensor out = m(inputs());
  EXPECT_EQ(out.grad_fn_name(), "add"); // as eager mode's, and PyTorch's AddmmBackward
  EXPECT_EQ(nn::MSELoss()(out, targets()).grad_fn_name(), "reduce_mean");
  {
    ExecutionGuard eager(Execution::Eager);
    EXPECT_EQ(m(inputs()).grad_fn_name(), "add");
  }
}

TEST_F(RecordedFunctionTest, GradientsAreTheOpsOwnAlsoThroughValuesOfTheBody) {
  detail::RecordedFunction f("exp_of_product", expOfProduct);
  auto gradients = [&](Execution mode) {
    ExecutionGuard guard(mode);
    Tensor a = from_vector({0.5, -1, 0.25}, {3}).requires_grad_();
    Tensor b = from_vector({1, 0.5, -2}, {3}).requires_grad_();
    Tensor y =
        (mode == Execution::Eager ? expOfProduct(std::vector<Tensor>{a, b}) : f({a, b})).sum();
    y.backward();
    std::vector<double> g = a.grad().to_vector();
    for (double v : b.grad().to_vector())
      g.push_back(v);
    return g;
  };
  std::vector<double> eager = gradients(Execution::Eager);
  for (Execution mode : {Execution::Compiled, Execution::Interpreted}) {
    std::vector<double> lazy = gradients(mode);
    ASSERT_EQ(lazy.size(), eager.size());
    for (size_t i = 0; i < eager.size(); ++i)
      EXPECT_NEAR(lazy[i], eager[i], 1e-6) << i;
  }
  // d/da = exp(ab) b + 1 at a = 0.5, b = 1.
  EXPECT_NEAR(eager[0], std::exp(0.5) + 1, 1e-6);
}

TEST_F(RecordedFunctionTest, FunctionsOfTheSameTypesKeepTheirOwnGradients) {
  detail::RecordedFunction square("power",
                                  [](std::span<const Tensor> o) { return (o[0] * o[0]).sum(); });
  detail::RecordedFunction cube(
      "power", [](std::span<const Tensor> o) { return (o[0] * o[0] * o[0]).sum(); });
  for (int step = 0; step < 3; ++step) {
    Tensor a = from_vector({2, -1}, {2}).requires_grad_();
    square({a}).backward();
    EXPECT_EQ(a.grad().to_vector(), (std::vector<double>{4, -2})) << step;
    Tensor b = from_vector({2, -1}, {2}).requires_grad_();
    cube({b}).backward();
    EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{12, 3})) << step;
  }
}

TEST_F(RecordedFunctionTest, AnOperandChangedInPlaceIsAnErrorNamingTheOp) {
  detail::RecordedFunction f("exp_of_product", expOfProduct);
  Tensor a = from_vector({0.5, -1}, {2}).requires_grad_();
  Tensor b = a * 2; // not a leaf: may be changed in place
  Tensor y = f({b, b}).sum();
  {
    NoGradGuard noGrad;
    b.add_(1);
  }
  std::string message = test::errorOf([&] { y.backward(); }, ErrorKind::Autograd);
  EXPECT_TRUE(test::contains(message, "modified by an inplace operation")) << message;
  EXPECT_TRUE(test::contains(message, "of 'add'")) << message; // the body's op, not 'fused'
}

TEST_F(RecordedFunctionTest, WithoutGradModeItRecordsNoHistory) {
  detail::RecordedFunction f("exp_of_product", expOfProduct);
  Tensor a = from_vector({0.5, -1}, {2}).requires_grad_();
  NoGradGuard noGrad;
  Tensor y = f({a, a});
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn_name(), "");
  EXPECT_NEAR(y.to_vector()[0], std::exp(0.25) + 0.5, 1e-6);
}
