//===- JitOpsTest.cpp - Every elementwise op, JIT against interpreter -----===//
//
// Each op of the table that has a scalar expression is compiled by the JIT
// for every dtype it accepts and for broadcasting shapes (row and column
// broadcasts, scalars, odd sizes that leave vector tails), run on random
// inputs with NaN, infinities and extreme integers, and compared with the
// reference interpreter. Ops are found by walking the table, so a new
// elementwise op is tested without touching this file -- unless it needs
// attributes, in which case the last test fails until it gets a case here.
//
//===----------------------------------------------------------------------===//
#include "JitTestSupport.h"

#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"

#include <set>

using namespace kiln;
using namespace kiln::ir;
using kiln::jittest::jitMatchesInterpreter;

namespace {

constexpr DType kAllDTypes[] = {DType::F32, DType::F64, DType::I64, DType::U8, DType::Bool};

/// Ops that some kernel below computed.
std::set<std::string_view> &covered() {
  static std::set<std::string_view> ops;
  return ops;
}

/// A kernel with one result per op of the table that takes operands of these
/// types (and neither attributes nor a declared result type).
Function everyOp(const std::vector<TensorType> &operands) {
  Function f("every_op");
  Builder b(f);
  std::vector<ValueId> params, results;
  for (size_t i = 0; i < operands.size(); ++i)
    params.push_back(b.param("x" + std::to_string(i), operands[i]));
  for (const OpDef *def : allOps()) {
    if (!def->scalar || def->arity != int(operands.size()) || !def->attrs.empty() ||
        def->declaresResultType)
      continue;
    try {
      results.push_back(b.create(def->kind, params));
      covered().insert(def->name);
    } catch (const Error &) {
      // The op does not accept these dtypes.
    }
  }
  f.setResults(results);
  return f;
}

std::string describe(const std::vector<TensorType> &types) {
  std::string s;
  for (const TensorType &t : types)
    s += (s.empty() ? "" : ", ") + t.str();
  return s;
}

void expectEveryOpMatches(const std::vector<TensorType> &operands, unsigned seed, double lo = -3,
                          double hi = 3) {
  Function f = everyOp(operands);
  if (f.results().empty())
    return;
  EXPECT_TRUE(jitMatchesInterpreter(f, seed, lo, hi)) << "operands " << describe(operands);
}

TEST(JitOps, UnaryOpsMatchTheInterpreter) {
  for (DType t : kAllDTypes) {
    expectEveryOpMatches({{t, Shape{1037}}}, 1);
    if (isFloat(t)) {
      expectEveryOpMatches({{t, Shape{}}}, 2);
      expectEveryOpMatches({{t, Shape{3, 5}}}, 3, 0.001, 20); // log, sqrt: their domain
    }
  }
}

TEST(JitOps, BinaryOpsMatchTheInterpreterWithBroadcasting) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{1037}, {1037}},    {{2, 3}, {3}},          {{2, 1}, {1, 3}},       {{}, {5, 7}},
      {{33, 1}, {33, 65}}, {{4, 5, 6}, {4, 1, 6}}, {{3, 1, 5}, {1, 4, 1}}, {{40000}, {40000}},
  };
  for (DType t : kAllDTypes)
    for (size_t i = 0; i < shapes.size(); ++i)
      if (t == DType::F32 || i < 4) // every shape once, every dtype on the common ones
        expectEveryOpMatches({{t, shapes[i].first}, {t, shapes[i].second}}, unsigned(10 + i));
}

TEST(JitOps, SelectMatchesTheInterpreterWithBroadcasting) {
  const std::vector<std::vector<Shape>> shapes = {
      {{1037}, {1037}, {1037}}, {{2, 3}, {3}, {2, 1}}, {{}, {4}, {4}}};
  for (DType t : kAllDTypes)
    for (size_t i = 0; i < shapes.size(); ++i)
      if (t == DType::F32 || i == 0)
        expectEveryOpMatches({{DType::Bool, shapes[i][0]}, {t, shapes[i][1]}, {t, shapes[i][2]}},
                             unsigned(30 + i));
}

TEST(JitOps, CastsBetweenEveryPairOfDTypesMatchTheInterpreter) {
  // Wide values: float -> u8/i64 saturates, NaN -> 0, x -> bool is x != 0.
  for (DType from : kAllDTypes) {
    Function f("casts");
    Builder b(f);
    ValueId x = b.param("x", {from, Shape{517}});
    std::vector<ValueId> results;
    for (DType to : kAllDTypes)
      results.push_back(b.create(OpKind::Cast, {x}, {}, TensorType{to, Shape{517}}));
    f.setResults(results);
    EXPECT_TRUE(jitMatchesInterpreter(f, 40, -300, 300)) << "from " << dtypeName(from);
  }
  covered().insert("cast");
}

TEST(JitOps, PowMatchesTheInterpreterForEveryExponentForm) {
  // 2, 3, 0.5, -1, 0 and 1 have dedicated code; the others call llvm.pow.
  for (DType t : {DType::F32, DType::F64}) {
    Function f("powers");
    Builder b(f);
    ValueId x = b.param("x", {t, Shape{1037}});
    std::vector<ValueId> results;
    for (double p : {2.0, 3.0, 0.5, -1.0, 0.0, 1.0, 1.7, -2.5})
      results.push_back(b.pow(x, p));
    f.setResults(results);
    EXPECT_TRUE(jitMatchesInterpreter(f, 50, 0, 4)) << dtypeName(t);
  }
  covered().insert("pow");
}

TEST(JitOps, ClampMatchesTheInterpreterWithEitherBound) {
  for (DType t : {DType::F32, DType::F64, DType::I64, DType::U8}) {
    Function f("clamps");
    Builder b(f);
    ValueId x = b.param("x", {t, Shape{515}});
    f.setResults({b.create(OpKind::Clamp, {x}, {{"min", 3.0}, {"max", 40.0}}),
                  b.create(OpKind::Clamp, {x}, {{"min", 7.0}}),
                  b.create(OpKind::Clamp, {x}, {{"max", 9.0}}),
                  b.create(OpKind::Clamp, {x}, {{"min", 20.0}, {"max", 10.0}})});
    EXPECT_TRUE(jitMatchesInterpreter(f, 70, 0, 60)) << dtypeName(t);
  }
  covered().insert("clamp");
}

TEST(JitOps, SplatConstantsAreInlined) {
  Function f("affine");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{3, 129}});
  ValueId c =
      b.constant(HostTensor::fromDoubles({DType::F32, Shape{129}}, std::vector<double>(129, 0.25)));
  ValueId y = b.add(b.mul(x, c), b.scalar(1.5));
  ValueId n = b.add(b.cast(x, DType::I64), b.scalar(7, DType::I64));
  f.setResults({y, n});
  EXPECT_TRUE(jitMatchesInterpreter(f, 60));
  covered().insert("constant");
}

TEST(JitOps, AFusedChainOfAMillionFloatsMatchesTheInterpreter) {
  Function f("fused_add_mul_tanh_sigmoid");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{1 << 20}});
  ValueId y = b.param("y", {DType::F32, Shape{1 << 20}});
  ValueId t = b.create(OpKind::Tanh, {b.mul(b.add(x, y), x)});
  f.setResults({b.create(OpKind::Sigmoid, {t})});
  EXPECT_TRUE(jitMatchesInterpreter(f, 70));
}

TEST(JitOps, AMixedDTypeKernelMatchesTheInterpreter) {
  // Normalising u8 images with a per-pixel mean, as the MNIST loader does.
  Function f("fused_normalize");
  Builder b(f);
  ValueId img = b.param("img", {DType::U8, Shape{100, 784}});
  ValueId mean = b.param("mean", {DType::F32, Shape{784}});
  ValueId scale = b.param("scale", {DType::F32, Shape{100, 1}});
  ValueId v = b.sub(b.div(b.cast(img, DType::F32), b.scalar(255)), mean);
  ValueId r = b.create(OpKind::Relu, {b.mul(v, scale)});
  f.setResults({r, b.create(OpKind::Gt, {r, b.scalar(0)}), b.cast(r, DType::U8)});
  EXPECT_TRUE(jitMatchesInterpreter(f, 80, -1, 1));
}

// Runs last within this file (gtest keeps definition order).
TEST(JitOps, EveryOpWithAScalarExpressionHasATest) {
  for (const OpDef *def : allOps())
    if (def->scalar) {
      EXPECT_TRUE(covered().count(def->name))
          << "op '" << def->name << "' has a scalar expression but no JIT test; if it needs "
          << "attributes or a declared type, add a case to JitOpsTest.cpp";
    }
}

} // namespace
