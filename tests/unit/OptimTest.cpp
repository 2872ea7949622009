//===- OptimTest.cpp - SGD and Adam against PyTorch 1.13 ------------------===//
//
// Each test trains a small affine map from fixed weights and compares the
// last loss and the weights with PyTorch's, computed by this snippet
// (/usr/bin/python3, torch 1.13):
//
//   def run(make, steps):
//       w = torch.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
//       b = torch.tensor([0.1, -0.2], requires_grad=True)
//       opt = make([w, b])
//       x = torch.tensor([[1.0, 2.0], [-1.0, 0.5], [0.0, 3.0]])
//       y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, -1.0]])
//       for i in range(steps):
//           opt.zero_grad()
//           loss = torch.nn.MSELoss()(x @ w.t() + b, y)
//           loss.backward()
//           opt.step()
//       return loss.item(), w.detach().flatten().tolist(), b.detach().tolist()
//
//===----------------------------------------------------------------------===//
#include "kiln/optim/optim.h"
#include "kiln/kiln.h"
#include "kiln/nn/nn.h"

#include <gtest/gtest.h>

#include <functional>

using namespace kiln;

namespace {

struct Expected {
  double loss;
  std::vector<double> w;
  std::vector<double> b;
};

void expectNear(const Tensor &t, const std::vector<double> &expected, double tol) {
  std::vector<double> got = t.to_vector();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tol) << "element " << i;
}

/// Every numeric test runs in each execution mode: eager (reference kernels op
/// by op), interpreted and compiled steps (the optimizer's update recorded into
/// the step program with forward and backward).
class OptimModeTest : public ::testing::TestWithParam<Execution> {
protected:
  ExecutionGuard mode_{GetParam()};
};

std::string modeName(const ::testing::TestParamInfo<Execution> &info) {
  switch (info.param) {
  case Execution::Eager:
    return "Eager";
  case Execution::Interpreted:
    return "Interpreted";
  case Execution::Compiled:
    return "Compiled";
  }
  return "Unknown";
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

void expectTrainsLikePyTorch(const MakeOptimizer &make, int steps, const Expected &expected) {
  Tensor w = tensor({{0.5, -1.0}, {2.0, 0.25}}, f32, true);
  Tensor b = tensor({0.1, -0.2}, f32, true);
  std::unique_ptr<optim::Optimizer> opt = make({w, b});
  Tensor x = tensor({{1.0, 2.0}, {-1.0, 0.5}, {0.0, 3.0}});
  Tensor y = tensor({{1.0, 0.0}, {0.0, 1.0}, {2.0, -1.0}});
  Tensor loss;
  for (int i = 0; i < steps; ++i) {
    opt->zero_grad();
    loss = nn::MSELoss()(x.matmul(w.t()) + b, y);
    loss.backward();
    opt->step();
  }
  EXPECT_NEAR(loss.item(), expected.loss, 1e-5);
  expectNear(w, expected.w, 2e-6);
  expectNear(b, expected.b, 2e-6);
  EXPECT_EQ(opt->steps(), steps);
}

TEST_P(OptimModeTest, SGDOneStepMatchesPyTorch) {
  // run(lambda p: torch.optim.SGD(p, lr=0.1), 1)
  expectTrainsLikePyTorch(
      [](auto p) { return std::make_unique<optim::SGD>(p, 0.1); }, 1,
      {7.954687595367432,
       {0.550000011920929, -0.3349999189376831, 1.8208333253860474, -0.007083324249833822},
       {0.3733333647251129, -0.22583332657814026}});
}

TEST_P(OptimModeTest, SGDMomentumAndWeightDecayMatchPyTorch) {
  // run(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01), 3)
  expectTrainsLikePyTorch(
      [](auto p) { return std::make_unique<optim::SGD>(p, 0.05, 0.9, 0.01); }, 3,
      {2.470839262008667,
       {0.5973492860794067, 0.4741511344909668, 1.5209678411483765, -0.3269771933555603},
       {0.6966344714164734, -0.21573549509048462}});
}

TEST_P(OptimModeTest, SGDNesterovMatchesPyTorch) {
  // run(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), 3)
  expectTrainsLikePyTorch(
      [](auto p) {
        return std::make_unique<optim::SGD>(
            p, optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
      },
      3,
      {1.7457847595214844,
       {0.5909620523452759, 0.6283101439476013, 1.358296513557434, -0.39927974343299866},
       {0.748320460319519, -0.1553688943386078}});
}

TEST_P(OptimModeTest, AdamThreeStepsMatchPyTorch) {
  // run(lambda p: torch.optim.Adam(p, lr=0.1), 3)
  expectTrainsLikePyTorch(
      [](auto p) { return std::make_unique<optim::Adam>(p, 0.1); }, 3,
      {5.478609561920166,
       {0.7935006022453308, -0.7016205191612244, 1.7008721828460693, -0.0424528494477272},
       {0.39832770824432373, -0.3461320698261261}});
}

TEST_P(OptimModeTest, AdamBetasEpsAndWeightDecayMatchPyTorch) {
  // run(lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6,
  //                                weight_decay=0.1), 5)
  expectTrainsLikePyTorch(
      [](auto p) { return std::make_unique<optim::Adam>(p, 0.01, 0.8, 0.99, 1e-6, 0.1); }, 5,
      {7.392710208892822,
       {0.5497249960899353, -0.9500921964645386, 1.9500569105148315, 0.20025484263896942},
       {0.1499018669128418, -0.24821162223815918}});
}

TEST(OptimTest, ParametersWithoutGradientAreLeftAlone) {
  Tensor w = tensor({1.0, 2.0}, f32, true);
  Tensor unused = tensor({5.0}, f32, true);
  optim::SGD opt({w, unused}, 0.5);
  (w * w).sum().backward();
  opt.step();
  expectNear(w, {0.0, 0.0}, 1e-7);
  expectNear(unused, {5.0}, 0);
}

TEST(OptimTest, RejectsBadArguments) {
  Tensor w = tensor({1.0}, f32, true);
  EXPECT_THROW(optim::SGD({}, 0.1), Error);
  EXPECT_THROW(optim::SGD({tensor({1.0})}, 0.1), Error); // does not require grad
  EXPECT_THROW(optim::SGD({w}, -1), Error);
  EXPECT_THROW(optim::SGD({w}, optim::SGDOptions{.lr = 0.1, .nesterov = true}), Error);
  EXPECT_THROW(optim::Adam({w}, 0.1, 1.0), Error);
}

TEST(OptimTest, ZeroGradClearsOrZeroes) {
  Tensor w = tensor({1.0, 2.0}, f32, true);
  optim::SGD opt({w}, 0.1);
  (w * 3).sum().backward();
  opt.zero_grad(/*set_to_none=*/false);
  expectNear(w.grad(), {0.0, 0.0}, 0);
  opt.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

// docs/textbook.md §2 from a fixed initialisation, against PyTorch:
//   m = torch.nn.Linear(1, 1)
//   with torch.no_grad(): m.weight.fill_(0.5); m.bias.fill_(-0.3)
//   x = torch.arange(1, 11, dtype=torch.float).reshape(10, 1); y = 3 * x + 5
//   opt = torch.optim.SGD(m.parameters(), lr=0.01); crit = torch.nn.MSELoss()
//   for e in range(1000):
//       opt.zero_grad(); out = m(x); loss = crit(out, y); loss.backward(); opt.step()
//   -> loss 0.0011199917644262314, weight 3.010340452194214, bias 4.928011894226074
TEST_P(OptimModeTest, LinearRegressionFor1000EpochsMatchesPyTorch) {
  nn::Linear model(1, 1);
  {
    NoGradGuard noGrad;
    model.weight.fill_(0.5);
    model.bias.fill_(-0.3);
  }
  Tensor x = arange(1, 11, 1).to(f32).reshape({10, 1});
  Tensor y = x * 3 + 5;
  optim::SGD opt(model.parameters(), 0.01);
  nn::MSELoss criterion;
  Tensor loss;
  for (int epoch = 0; epoch < 1000; ++epoch) {
    opt.zero_grad();
    loss = criterion(model(x), y);
    loss.backward();
    opt.step();
  }
  EXPECT_NEAR(loss.item(), 0.0011199917644262314, 1e-4);
  EXPECT_NEAR(model.weight.item(), 3.010340452194214, 1e-4);
  EXPECT_NEAR(model.bias.item(), 4.928011894226074, 1e-4);
}

// docs/textbook.md §4 from a fixed initialisation, against PyTorch (same m, x, y setup):
//   x = torch.tensor([[4.7],[2.4],[5.6],[7.8],[3.1],[1.8],[6.2],[2.9],[5.1],[3.5]])
//   y = torch.tensor([[1.],[0.],[1.],[1.],[0.],[0.],[1.],[0.],[1.],[0.]])
//   opt = torch.optim.SGD(m.parameters(), lr=0.01); crit = torch.nn.BCELoss()
//   for e in range(1000):
//       opt.zero_grad(); out = torch.sigmoid(m(x)); loss = crit(out, y)
//       loss.backward(); opt.step()
//   torch.sigmoid(m(torch.tensor([[4.0],[5.0],[1.5],[6.0]])))
//   -> loss 0.429828941822052, weight 0.4781467318534851, bias -1.5565859079360962,
//      probabilities [0.5880720615386963, 0.6972312331199646, 0.3016683757305145,
//                     0.7878968119621277]
TEST_P(OptimModeTest, LogisticRegressionFor1000EpochsMatchesPyTorch) {
  nn::Linear model(1, 1);
  {
    NoGradGuard noGrad;
    model.weight.fill_(0.5);
    model.bias.fill_(-0.3);
  }
  Tensor x = tensor({{4.7}, {2.4}, {5.6}, {7.8}, {3.1}, {1.8}, {6.2}, {2.9}, {5.1}, {3.5}});
  Tensor y = tensor({{1.0}, {0.0}, {1.0}, {1.0}, {0.0}, {0.0}, {1.0}, {0.0}, {1.0}, {0.0}});
  optim::SGD opt(model.parameters(), 0.01);
  nn::BCELoss criterion;
  Tensor loss;
  for (int epoch = 0; epoch < 1000; ++epoch) {
    opt.zero_grad();
    loss = criterion(model(x).sigmoid(), y);
    loss.backward();
    opt.step();
  }
  EXPECT_NEAR(loss.item(), 0.429828941822052, 1e-4);
  EXPECT_NEAR(model.weight.item(), 0.4781467318534851, 1e-4);
  EXPECT_NEAR(model.bias.item(), -1.5565859079360962, 1e-4);
  Tensor p = no_grad([&] { return model(tensor({{4.0}, {5.0}, {1.5}, {6.0}})).sigmoid(); });
  expectNear(p, {0.5880720615386963, 0.6972312331199646, 0.3016683757305145, 0.7878968119621277},
             1e-4);
}

INSTANTIATE_TEST_SUITE_P(Modes, OptimModeTest,
                         ::testing::Values(Execution::Eager, Execution::Interpreted,
                                           Execution::Compiled),
                         modeName);

} // namespace
