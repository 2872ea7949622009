//===- TensorPrintTest.cpp - Tensors print like PyTorch 1.13 --------------===//
//
// The expected strings are what PyTorch 1.13.1 (Debian's python3-torch)
// prints for the same tensors, except that dtype suffixes name kiln's types.
//
//===----------------------------------------------------------------------===//
#include "kiln/kiln.h"

#include <gtest/gtest.h>

#include <limits>
#include <sstream>

using namespace kiln;

TEST(TensorPrint, TextbookGradients) {
  // print(a.grad) after the first backward of docs/textbook.md §1.
  Tensor g = tensor({{2.0, 8.0 / 3, 10.0 / 3}, {4.0, 14.0 / 3, 16.0 / 3}});
  EXPECT_EQ(g.str(), "tensor([[2.0000, 2.6667, 3.3333],\n"
                     "        [4.0000, 4.6667, 5.3333]])");
  EXPECT_EQ((g * 2).str(), "tensor([[ 4.0000,  5.3333,  6.6667],\n"
                           "        [ 8.0000,  9.3333, 10.6667]])");
}

TEST(TensorPrint, TextbookGraph) {
  Tensor a = tensor({{1, 2, 3}, {4, 5, 6}}, f32, true);
  EXPECT_EQ(a.str(), "tensor([[1., 2., 3.],\n"
                     "        [4., 5., 6.]], requires_grad=True)");
  Tensor c = (a + 2).pow(2) * 2;
  EXPECT_EQ(c.str(), "tensor([[ 18.,  32.,  50.],\n"
                     "        [ 72.,  98., 128.]], grad_fn=<MulBackward>)");
  EXPECT_EQ(c.mean().str(), "tensor(66.3333, grad_fn=<ReduceMeanBackward>)");
  std::ostringstream os;
  os << a.detach();
  EXPECT_EQ(os.str(), "tensor([[1., 2., 3.],\n        [4., 5., 6.]])");
}

TEST(TensorPrint, IntegralFloatsScalarsAndIntegers) {
  EXPECT_EQ(zeros({2, 3}).str(), "tensor([[0., 0., 0.],\n        [0., 0., 0.]])");
  EXPECT_EQ(scalar_tensor(0).str(), "tensor(0.)");
  EXPECT_EQ(arange(5).str(), "tensor([0, 1, 2, 3, 4])");
  EXPECT_EQ(tensor({-3, 12, 100}).str(), "tensor([ -3,  12, 100])");
  EXPECT_EQ(tensor({true, false}).str(), "tensor([ True, False])");
  EXPECT_EQ(tensor({{true}, {false}}).str(), "tensor([[ True],\n        [False]])");
  EXPECT_EQ(tensor({-1.5, 2.25}).str(), "tensor([-1.5000,  2.2500])");
}

TEST(TensorPrint, ScientificNotation) {
  EXPECT_EQ(tensor({1e-5, 1.0}).str(), "tensor([1.0000e-05, 1.0000e+00])");
  EXPECT_EQ(tensor({1e10, 1.0}).str(), "tensor([1.0000e+10, 1.0000e+00])");
}

TEST(TensorPrint, NonFiniteValues) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(tensor({1.5, nan, inf}).str(), "tensor([1.5000,    nan,    inf])");
  EXPECT_EQ(tensor({1.0, nan}).str(), "tensor([1., nan])");
}

TEST(TensorPrint, DTypeSuffixes) {
  EXPECT_EQ(tensor({{1, 2}, {3, 4}}, f64).str(),
            "tensor([[1., 2.],\n        [3., 4.]], dtype=kiln::f64)");
  EXPECT_EQ(tensor({1, 2}, u8).str(), "tensor([1, 2], dtype=kiln::u8)");
  EXPECT_EQ(scalar_tensor(2.5, f64).str(), "tensor(2.5000, dtype=kiln::f64)");
}

TEST(TensorPrint, EmptyTensors) {
  EXPECT_EQ(zeros({0}).str(), "tensor([])");
  EXPECT_EQ(zeros({2, 0}).str(), "tensor([], size=(2, 0))");
  EXPECT_EQ(zeros({0}, i64).str(), "tensor([], dtype=kiln::i64)");
}

TEST(TensorPrint, Rank3SeparatesBlocksWithBlankLines) {
  EXPECT_EQ(tensor({{{1., 2}, {3, 4}}, {{5, 6}, {7, 8}}}).str(), "tensor([[[1., 2.],\n"
                                                                 "         [3., 4.]],\n"
                                                                 "\n"
                                                                 "        [[5., 6.],\n"
                                                                 "         [7., 8.]]])");
}

TEST(TensorPrint, LongRowsWrapAtEightyColumns) {
  Tensor t = arange(0.0, 30.0, 1, f32).reshape({2, 15}) * 1.5;
  EXPECT_EQ(t.str(),
            "tensor([[ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,\n"
            "         12.0000, 13.5000, 15.0000, 16.5000, 18.0000, 19.5000, 21.0000],\n"
            "        [22.5000, 24.0000, 25.5000, 27.0000, 28.5000, 30.0000, 31.5000, 33.0000,\n"
            "         34.5000, 36.0000, 37.5000, 39.0000, 40.5000, 42.0000, 43.5000]])");
}

TEST(TensorPrint, SuffixMovesToANewLineWhenTooLong) {
  Tensor t = arange(0.0, 9.0, 1, f32).div(3).requires_grad_();
  EXPECT_EQ(t.str(),
            "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667],\n"
            "       requires_grad=True)");
}

TEST(TensorPrint, LargeTensorsAreSummarized) {
  EXPECT_EQ(arange(0.0, 2000.0, 1, f32).str(),
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
            "        1.9990e+03])");
  EXPECT_EQ(arange(1500).str(), "tensor([   0,    1,    2,  ..., 1497, 1498, 1499])");
  EXPECT_EQ(arange(3000).reshape({10, 300}).str(),
            "tensor([[   0,    1,    2,  ...,  297,  298,  299],\n"
            "        [ 300,  301,  302,  ...,  597,  598,  599],\n"
            "        [ 600,  601,  602,  ...,  897,  898,  899],\n"
            "        ...,\n"
            "        [2100, 2101, 2102,  ..., 2397, 2398, 2399],\n"
            "        [2400, 2401, 2402,  ..., 2697, 2698, 2699],\n"
            "        [2700, 2701, 2702,  ..., 2997, 2998, 2999]])");
}

TEST(TensorPrint, UndefinedTensor) { EXPECT_EQ(Tensor().str(), "Tensor(undefined)"); }
