//===- NnTest.cpp - Modules, Linear and the losses, against PyTorch -------===//
//
// Loss values and gradients are PyTorch 1.13's, computed with /usr/bin/python3
// by the snippets quoted next to them.
//
//===----------------------------------------------------------------------===//
#include "ErrorTestSupport.h"
#include "kiln/kiln.h"
#include "kiln/nn/nn.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace kiln;
using kiln::test::errorOf;

namespace {

void expectNear(const Tensor &t, const std::vector<double> &expected, double tol = 1e-5) {
  ASSERT_TRUE(t.defined());
  std::vector<double> got = t.to_vector();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tol * std::max(1.0, std::abs(expected[i]))) << "element " << i;
}

/// The loss and d loss / d input of `loss(input, target)`.
template <class Loss>
std::pair<double, Tensor> lossAndGrad(const Loss &loss, const Tensor &input, const Tensor &target) {
  Tensor l = loss(input, target);
  l.backward();
  return {l.item(), input.grad()};
}

// ---- Losses -------------------------------------------------------------------
// x = torch.tensor([[0.2, -1.0, 3.0], [1.5, 0.5, -0.5]], requires_grad=True)
// t = torch.tensor([[0.0, 1.0, 2.0], [1.0, -1.0, 0.5]])
// l = torch.nn.MSELoss(reduction=red)(x, t); l.backward(); l.item(), x.grad

Tensor mseInput() { return tensor({{0.2, -1.0, 3.0}, {1.5, 0.5, -0.5}}, f32, true); }
Tensor mseTarget() { return tensor({{0.0, 1.0, 2.0}, {1.0, -1.0, 0.5}}); }

TEST(NnLossTest, MSELossMeanMatchesPyTorch) {
  auto [loss, grad] = lossAndGrad(nn::MSELoss(), mseInput(), mseTarget());
  EXPECT_NEAR(loss, 1.4233332872390747, 1e-6);
  expectNear(grad, {0.06666667, -0.66666669, 0.33333334, 0.16666667, 0.5, -0.33333334});
}

TEST(NnLossTest, MSELossSumMatchesPyTorch) {
  auto [loss, grad] = lossAndGrad(nn::MSELoss(nn::Reduction::Sum), mseInput(), mseTarget());
  EXPECT_NEAR(loss, 8.539999961853027, 1e-5);
  expectNear(grad, {0.4, -4.0, 2.0, 1.0, 3.0, -2.0});
}

TEST(NnLossTest, MSELossNoneKeepsElements) {
  Tensor l = nn::MSELoss(nn::Reduction::None)(mseInput(), mseTarget());
  expectNear(l, {0.04, 4.0, 1.0, 0.25, 2.25, 1.0});
}

TEST(NnLossTest, MSELossRejectsMismatchedShapes) {
  std::string msg = errorOf([] { nn::MSELoss()(zeros({3, 1}), zeros({3})); }, ErrorKind::Shape);
  EXPECT_NE(msg.find("MSELoss"), std::string::npos) << msg;
}

// p = torch.tensor([[0.1, 0.8], [0.5, 0.999]], requires_grad=True)
// y = torch.tensor([[0.0, 1.0], [1.0, 0.0]]); torch.nn.BCELoss(reduction=red)(p, y)

Tensor bceInput() { return tensor({{0.1, 0.8}, {0.5, 0.999}}, f32, true); }
Tensor bceTarget() { return tensor({{0.0, 1.0}, {1.0, 0.0}}); }

TEST(NnLossTest, BCELossMeanMatchesPyTorch) {
  auto [loss, grad] = lossAndGrad(nn::BCELoss(), bceInput(), bceTarget());
  EXPECT_NEAR(loss, 1.9823548793792725, 1e-5);
  // 1/(1-0.999) in f32 is sensitive to the rounding of 0.999: 1e-4 relative.
  expectNear(grad, {0.2777777910232544, -0.3125, -0.5, 250.0032196044922}, 1e-4);
}

TEST(NnLossTest, BCELossSumMatchesPyTorch) {
  auto [loss, grad] = lossAndGrad(nn::BCELoss(nn::Reduction::Sum), bceInput(), bceTarget());
  EXPECT_NEAR(loss, 7.92941951751709, 1e-5);
  expectNear(grad, {1.1111111640930176, -1.25, -2.0, 1000.0128784179688}, 1e-4);
}

TEST(NnLossTest, BCELossClampsTheLogAtMinus100LikePyTorch) {
  // torch.nn.BCELoss()(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0])) == 50
  Tensor l = nn::BCELoss()(tensor({0.0, 1.0}), tensor({1.0, 1.0}));
  EXPECT_NEAR(l.item(), 50.0, 1e-5);
}

// s = torch.tensor([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]], requires_grad=True)
// lab = torch.tensor([2, 0]); torch.nn.CrossEntropyLoss(reduction=red)(s, lab)

Tensor ceScores() { return tensor({{1.0, 2.0, 0.5}, {-1.0, 0.0, 3.0}}, f32, true); }
Tensor ceLabels() { return tensor({2, 0}); }

TEST(NnLossTest, CrossEntropyLossMeanMatchesPyTorch) {
  auto [loss, grad] = lossAndGrad(nn::CrossEntropyLoss(), ceScores(), ceLabels());
  EXPECT_NEAR(loss, 3.0151264667510986, 1e-5);
  expectNear(grad, {0.11561194062232971, 0.3142658472061157, -0.4298778176307678,
                    -0.4914260804653168, 0.023306312039494514, 0.4681197702884674});
}

TEST(NnLossTest, CrossEntropyLossSumMatchesPyTorch) {
  auto [loss, grad] = lossAndGrad(nn::CrossEntropyLoss(nn::Reduction::Sum), ceScores(), ceLabels());
  EXPECT_NEAR(loss, 6.030252933502197, 1e-5);
  expectNear(grad, {0.23122388124465942, 0.6285316944122314, -0.8597556352615356,
                    -0.9828521609306335, 0.04661262407898903, 0.9362395405769348});
}

TEST(NnLossTest, CrossEntropyLossRejectsFloatLabels) {
  errorOf([] { nn::CrossEntropyLoss()(ceScores(), tensor({2.0, 0.0})); }, ErrorKind::Shape);
}

TEST(NnLossTest, CrossEntropyLossReportsALabelOutOfRange) {
  errorOf([] { nn::CrossEntropyLoss()(ceScores(), tensor({3, 0})).item(); }, ErrorKind::Runtime);
}

// ---- Linear -------------------------------------------------------------------

TEST(NnLinearTest, ComputesXTimesWeightTransposedPlusBias) {
  nn::Linear layer(3, 2);
  {
    NoGradGuard noGrad;
    layer.weight.copy_(tensor({{1.0, 2.0, 3.0}, {-1.0, 0.0, 1.0}}));
    layer.bias.copy_(tensor({0.5, -0.5}));
  }
  Tensor y = layer(tensor({{1.0, 1.0, 1.0}, {2.0, 0.0, -1.0}}));
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  expectNear(y, {6.5, -0.5, -0.5, -3.5});
}

TEST(NnLinearTest, InitialisesLikePyTorchWithinOneOverSqrtFanIn) {
  // PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias, whose
  // variance is bound^2 / 3.
  Generator gen(7);
  nn::Linear layer(100, 400, true, gen);
  double bound = 0.1;
  std::vector<double> w = layer.weight.to_vector();
  double sum = 0, sumSq = 0;
  for (double v : w) {
    ASSERT_LT(std::abs(v), bound);
    sum += v;
    sumSq += v * v;
  }
  double n = double(w.size()), mean = sum / n;
  EXPECT_NEAR(mean, 0.0, 0.002);                                 // sd of the mean: 0.0003
  EXPECT_NEAR(sumSq / n - mean * mean, bound * bound / 3, 2e-4); // 3.3e-3 expected
  for (double v : layer.bias.to_vector())
    ASSERT_LT(std::abs(v), bound);
  EXPECT_TRUE(layer.weight.requires_grad());
  EXPECT_EQ(layer.bias.shape(), (Shape{400}));
}

TEST(NnLinearTest, SameSeedSameInitialisation) {
  Generator a(3), b(3);
  nn::Linear l1(4, 2, true, a), l2(4, 2, true, b);
  EXPECT_EQ(l1.weight.to_vector(), l2.weight.to_vector());
  EXPECT_EQ(l1.bias.to_vector(), l2.bias.to_vector());
}

TEST(NnLinearTest, WithoutBiasHasOnlyAWeight) {
  nn::Linear layer(2, 3, /*bias=*/false);
  EXPECT_FALSE(layer.bias.defined());
  ASSERT_EQ(layer.named_parameters().size(), 1u);
  EXPECT_EQ(layer.named_parameters()[0].first, "weight");
}

TEST(NnLinearTest, RejectsAnInputOfTheWrongWidth) {
  nn::Linear layer(3, 2);
  std::string msg = errorOf([&] { layer(zeros({4, 2})); }, ErrorKind::Shape);
  EXPECT_NE(msg.find("[N, 3]"), std::string::npos) << msg;
  errorOf([] { nn::Linear(0, 2); }, ErrorKind::Usage);
}

// ---- Module trees -------------------------------------------------------------

struct TwoLayer : nn::Module {
  std::shared_ptr<nn::Linear> hidden =
      register_module("hidden", std::make_shared<nn::Linear>(2, 3));
  std::shared_ptr<nn::Sequential> head =
      register_module("head", std::make_shared<nn::Sequential>(std::make_shared<nn::ReLU>(),
                                                               std::make_shared<nn::Linear>(3, 1)));
  Tensor forward(const Tensor &x) override { return (*head)((*hidden)(x)); }
};

std::vector<std::string> names(const nn::StateDict &d) {
  std::vector<std::string> out;
  for (const auto &[name, t] : d)
    out.push_back(name);
  return out;
}

TEST(NnModuleTest, NamesParametersWithDotsAsPyTorch) {
  TwoLayer model;
  EXPECT_EQ(
      names(model.named_parameters()),
      (std::vector<std::string>{"hidden.weight", "hidden.bias", "head.1.weight", "head.1.bias"}));
  EXPECT_EQ(model.parameters().size(), 4u);
  EXPECT_TRUE(model.parameters()[0].is_same(model.hidden->weight));
}

/// Step IR and recorded graphs name a parameter by its tensor's name: by
/// default the qualified name, as PyTorch's FX graphs do; a name the user
/// gave stays.
TEST(NnModuleTest, ParametersAreNamedAsNamedParametersSaysUnlessNamedAlready) {
  TwoLayer model;
  for (const auto &[name, parameter] : model.named_parameters())
    EXPECT_EQ(parameter.name(), name);

  auto layer = std::make_shared<nn::Linear>(2, 2);
  layer->weight.set_name("w");
  struct Holder : nn::Module {
    std::shared_ptr<nn::Linear> inner;
    explicit Holder(std::shared_ptr<nn::Linear> l) : inner(register_module("inner", l)) {}
    std::string name() const override { return "Holder"; }
    Tensor forward(const Tensor &x) override { return (*inner)(x); }
  } holder(layer);
  EXPECT_EQ(layer->weight.name(), "w");
  EXPECT_EQ(layer->bias.name(), "inner.bias");
}

TEST(NnModuleTest, StateDictSharesValuesWithoutHistory) {
  TwoLayer model;
  nn::StateDict state = model.state_dict();
  EXPECT_FALSE(state[0].second.requires_grad());
  EXPECT_EQ(state[0].second.to_vector(), model.hidden->weight.to_vector());
}

TEST(NnModuleTest, LoadStateDictCopiesEveryParameter) {
  TwoLayer a, b;
  b.load_state_dict(a.state_dict());
  Tensor x = tensor({{0.5, -1.0}, {2.0, 1.0}});
  EXPECT_EQ(a(x).to_vector(), b(x).to_vector());
  EXPECT_FALSE(b.hidden->weight.is_same(a.hidden->weight)); // copied, not aliased
}

TEST(NnModuleTest, LoadStateDictNamesTheFirstMismatchAndChangesNothing) {
  TwoLayer model;
  std::vector<double> before = model.hidden->weight.to_vector();
  nn::StateDict state = TwoLayer().state_dict();

  nn::StateDict missing(state.begin(), state.end() - 1);
  EXPECT_EQ(errorOf([&] { model.load_state_dict(missing); }, ErrorKind::Format),
            "state_dict: missing key 'head.1.bias'");

  nn::StateDict extra = state;
  extra.emplace_back("head.2.weight", zeros({1}));
  EXPECT_EQ(errorOf([&] { model.load_state_dict(extra); }, ErrorKind::Format),
            "state_dict: unexpected key 'head.2.weight'");

  nn::StateDict wrongShape = state;
  wrongShape[2].second = zeros({3, 1});
  EXPECT_EQ(errorOf([&] { model.load_state_dict(wrongShape); }, ErrorKind::Format),
            "state_dict: 'head.1.weight' is f32[3,1], the model's parameter is f32[1,3]");

  nn::StateDict wrongDtype = state;
  wrongDtype[1].second = zeros({3}, f64);
  EXPECT_EQ(errorOf([&] { model.load_state_dict(wrongDtype); }, ErrorKind::Format),
            "state_dict: 'hidden.bias' is f64[3], the model's parameter is f32[3]");

  EXPECT_EQ(model.hidden->weight.to_vector(), before);
}

TEST(NnModuleTest, TrainAndEvalReachSubmodules) {
  TwoLayer model;
  EXPECT_TRUE(model.head->is_training());
  model.eval();
  EXPECT_FALSE(model.is_training());
  EXPECT_FALSE(model.head->is_training());
  EXPECT_FALSE((*model.head)[1].is_training());
  model.train();
  EXPECT_TRUE((*model.head)[0].is_training());
}

TEST(NnModuleTest, ZeroGradClearsEveryGradient) {
  TwoLayer model;
  model(tensor({{1.0, 2.0}})).sum().backward();
  ASSERT_TRUE(model.hidden->weight.grad().defined());
  model.zero_grad(/*set_to_none=*/false);
  expectNear(model.hidden->weight.grad(), std::vector<double>(6, 0.0));
  model.zero_grad();
  EXPECT_FALSE(model.hidden->weight.grad().defined());
}

TEST(NnModuleTest, RejectsDuplicateOrDottedNames) {
  struct Bad : nn::Module {
    void add(const std::string &name) { register_parameter(name, zeros({1})); }
  } bad;
  bad.add("w");
  errorOf([&] { bad.add("w"); }, ErrorKind::Usage);
  errorOf([&] { bad.add("a.b"); }, ErrorKind::Usage);
}

TEST(NnModuleTest, AModuleWithoutForwardCannotBeCalled) {
  nn::Module m;
  errorOf([&] { m(zeros({1})); }, ErrorKind::Usage);
}

// ---- Activations ----------------------------------------------------------------

TEST(NnActivationTest, ModulesApplyTheirFunction) {
  Tensor x = tensor({{-1.0, 0.0, 2.0}});
  expectNear(nn::ReLU()(x), {0, 0, 2});
  expectNear(nn::Sigmoid()(x), {0.26894142, 0.5, 0.88079708});
  expectNear(nn::Tanh()(x), {-0.76159416, 0.0, 0.96402758});
  expectNear(nn::Softmax(1)(x), {0.04201007, 0.1141952, 0.84379473});
}

} // namespace
