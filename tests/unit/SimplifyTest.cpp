//===- SimplifyTest.cpp - The simplify and cse passes ---------------------===//
#include "kiln/compiler/Simplify.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "kiln/runtime/Interpreter.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace kiln;
using namespace kiln::ir;

namespace {

const TensorType kMat{DType::F32, Shape{2, 3}};

std::vector<std::string> opNames(const Function &f) {
  std::vector<std::string> names;
  for (const Node &n : f.nodes())
    names.emplace_back(opName(n.op));
  return names;
}

using Names = std::vector<std::string>;

} // namespace

TEST(Simplify, DropsAdditiveAndMultiplicativeIdentities) {
  Function f("ids");
  Builder b(f);
  ValueId x = b.param("x", kMat);
  ValueId y = b.div(b.mul(b.scalar(1), b.sub(b.add(x, b.scalar(0)), b.scalar(0))), b.scalar(1));
  f.setResults({y});
  Function g = compiler::simplify(f);
  EXPECT_TRUE(g.nodes().empty());
  EXPECT_EQ(g.results()[0], g.params()[0]);
}

TEST(Simplify, KeepsAnIdentityThatWouldChangeTheShape) {
  // x[3] + zeros[2,3] broadcasts: dropping the add would change the type.
  Function f("bcast");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{3}});
  ValueId zeros = b.constant(HostTensor(kMat));
  f.setResults({b.add(x, zeros)});
  EXPECT_EQ(opNames(compiler::simplify(f)), (Names{"constant", "add"}));
}

TEST(Simplify, LeavesMultiplicationByZeroAlone) {
  // x * 0 is not 0 when x is NaN or infinite.
  Function f("zero");
  Builder b(f);
  ValueId x = b.param("x", kMat);
  f.setResults({b.mul(x, b.scalar(0))});
  EXPECT_EQ(opNames(compiler::simplify(f)), (Names{"constant", "mul"}));
}

TEST(Simplify, FoldsConstants) {
  Function f("fold");
  Builder b(f);
  ValueId c = b.exp(b.add(b.scalar(1), b.scalar(2)));
  f.setResults({c});
  Function g = compiler::simplify(f);
  ASSERT_EQ(opNames(g), (Names{"constant"}));
  EXPECT_FLOAT_EQ(float(g.nodes()[0].attrs.getDense("value").get(0)), std::exp(3.0f));
}

TEST(Simplify, DoesNotFoldHugeResults) {
  Function f("big");
  Builder b(f);
  ValueId big = b.broadcastTo(b.scalar(1), Shape{1000, 1000});
  f.setResults({b.exp(big)});
  EXPECT_EQ(opNames(compiler::simplify(f)), (Names{"constant", "broadcast_to", "exp"}));
}

TEST(Simplify, BroadcastOfAScalarConstantBecomesASplat) {
  Function f("splat");
  Builder b(f);
  ValueId x = b.param("x", kMat);
  f.setResults({b.sub(x, b.broadcastTo(b.scalar(2), kMat.shape))});
  Function g = compiler::simplify(f);
  ASSERT_EQ(opNames(g), (Names{"constant", "sub"}));
  EXPECT_EQ(g.type(g.nodes()[0].result()), kMat);
}

TEST(Simplify, LeavesAFailingFoldToRunTime) {
  Function f("label");
  Builder b(f);
  ValueId label = b.scalar(12, DType::I64);
  ValueId oh = b.create(OpKind::OneHot, {b.reshape(label, Shape{1})}, {},
                        TensorType{DType::F32, Shape{1, 10}});
  f.setResults({oh});
  Function g = compiler::simplify(f);
  EXPECT_EQ(opNames(g).back(), "one_hot");
}

TEST(Simplify, ComposesReshapesAndTransposes) {
  Function f("layout");
  Builder b(f);
  ValueId x = b.param("x", kMat);
  ValueId r = b.reshape(b.reshape(x, Shape{6}), Shape{3, 2});
  ValueId t = b.transpose(b.transpose(x));
  f.setResults({r, t});
  Function g = compiler::simplify(f);
  EXPECT_EQ(opNames(g), (Names{"reshape"}));
  EXPECT_EQ(g.results()[1], g.params()[0]);
  EXPECT_EQ(g.defOf(g.results()[0]).operands[0], g.params()[0]);
}

TEST(Simplify, ComposedTransposeKeepsTheNetPermutation) {
  Function f("perm");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{2, 3, 4}});
  ValueId t = b.transpose(b.transpose(x, {1, 2, 0}), {1, 2, 0});
  f.setResults({t});
  Function g = compiler::simplify(f);
  ASSERT_EQ(opNames(g), (Names{"transpose"}));
  EXPECT_EQ(g.nodes()[0].attrs.getInts("perm"), (IntList{2, 0, 1}));
  EXPECT_EQ(g.type(g.results()[0]), f.type(f.results()[0]));
}

TEST(Simplify, MergesCommonSubexpressionsAndRemovesDeadCode) {
  Function f("cse");
  Builder b(f);
  ValueId x = b.param("x", kMat);
  ValueId e1 = b.exp(x), e2 = b.exp(x);
  b.create(OpKind::Tanh, {x}); // dead
  f.setResults({b.add(e1, e2)});
  Function g = compiler::eliminateCommonSubexpressions(f);
  EXPECT_EQ(opNames(g), (Names{"exp", "add"}));
}

TEST(Simplify, PreservesResults) {
  Function f("values");
  Builder b(f);
  ValueId x = b.param("x", kMat);
  ValueId y = b.mul(b.add(x, b.scalar(0)), b.add(b.scalar(1), b.scalar(2)));
  f.setResults({y});
  Function g = compiler::simplify(f);
  HostTensor in = HostTensor::fromDoubles(kMat, std::vector<double>{1, 2, 3, 4, 5, 6});
  auto before = runtime::interpret(f, std::vector{in});
  auto after = runtime::interpret(g, std::vector{in});
  EXPECT_TRUE(before[0].identical(after[0]));
}

TEST(Simplify, MapsEachValueToTheOneThatComputesIt) {
  Function f("map");
  Builder b(f);
  ValueId x = b.param("x", kMat);
  ValueId same = b.add(x, b.scalar(0));              // an identity: x itself
  ValueId e1 = b.exp(x), e2 = b.exp(x);               // merged
  ValueId three = b.add(b.scalar(1), b.scalar(2));    // folded
  ValueId dead = b.create(OpKind::Tanh, {x});         // needed by nothing
  ValueId y = b.mul(b.add(e1, e2), b.mul(same, three));
  f.setResults({y});
  std::vector<ValueId> map;
  Function g = compiler::simplifyMapping(f, map);
  ASSERT_EQ(map.size(), f.numValues());
  EXPECT_EQ(map[size_t(x.id)], g.params()[0]);
  EXPECT_EQ(map[size_t(same.id)], g.params()[0]);
  EXPECT_EQ(map[size_t(e1.id)], map[size_t(e2.id)]);
  EXPECT_EQ(g.defOf(map[size_t(e1.id)]).op, OpKind::Exp);
  EXPECT_EQ(g.defOf(map[size_t(three.id)]).op, OpKind::Constant);
  EXPECT_EQ(g.defOf(map[size_t(three.id)]).attrs.getDense("value").get(0), 3);
  EXPECT_FALSE(map[size_t(dead.id)].valid());
  EXPECT_EQ(map[size_t(y.id)], g.results()[0]);
}
