//===- VerifierTest.cpp - IR well-formedness ------------------------------===//
//
// Specification of kiln/ir/Verifier.h: what makes IR well formed (SSA
// dominance, op signatures and shape rules, unique names, fused bodies,
// returned values, unique function names) and how a violation is reported:
// Error(Verify) located at the offending node, or naming the node when it
// has no location.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/Verifier.h"
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "kiln/ir/Parser.h"
#include "ErrorTestSupport.h"

#include <gtest/gtest.h>

using namespace kiln;
using namespace kiln::ir;

namespace {

using kiln::test::errorFrom;

TensorType f32(Shape s) { return {DType::F32, std::move(s)}; }

/// The error that verifying the parsed `text` throws.
Error verifyError(std::string_view text) {
  Module m = parseModule(text, "t.kir");
  return errorFrom([&] { verify(m); });
}

Error verifyError(const Function &f) {
  return errorFrom([&] { verify(f); });
}

/// A function with parameters %a: f32[2,3] and %b: f32[3], for tests that
/// append nodes by hand (bypassing the Builder's checks).
struct Fixture {
  Function f{"f"};
  ValueId a = f.addParam(f32({2, 3}), "a");
  ValueId b = f.addParam(f32({3}), "b");

  ValueId append(OpKind op, std::vector<ValueId> operands, AttrList attrs = {},
                 std::vector<TensorType> types = {f32({2, 3})}) {
    size_t i = f.appendNode(op, std::move(operands), std::move(attrs), std::move(types));
    return f.nodes()[i].results.empty() ? ValueId{} : f.nodes()[i].result();
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// Well-formed IR
//===----------------------------------------------------------------------===//

TEST(Verifier, AcceptsWellTypedIR) {
  Module m = parseModule(R"(
func @linreg_step(%x: f32[10,1], %y: f32[10,1], %w: f32[1,1], %b: f32[1]) -> (f32[]) {
  %0 = matmul %x, %w : f32[10,1]
  %1 = add %0, %b : f32[10,1]
  %2 = sub %1, %y : f32[10,1]
  %3 = mul %2, %2 : f32[10,1]
  %4 = reduce_mean %3 {axes=[0,1]} : f32[]
  return %4
}
func @consts() -> (f32[2], i64[2,2]) {
  %0 = constant {value=dense<[1,2]>} : f32[2]
  %1 = constant {value=dense<[[1,2],[3,4]]>} : i64[2,2]
  return %0, %1
})");
  EXPECT_NO_THROW(verify(m));
}

TEST(Verifier, AcceptsWhatTheBuilderBuilds) {
  Function f("f");
  Builder b(f);
  ValueId x = b.param("x", f32({4, 3}));
  ValueId w = b.param("w", f32({3, 2}));
  f.setResults({b.reduceSum(b.matmul(x, w), {0, 1})});
  EXPECT_NO_THROW(verify(f));
}

//===----------------------------------------------------------------------===//
// Types: every result is what the op's shape rule says
//===----------------------------------------------------------------------===//

TEST(VerifierTypes, AResultTypeMustMatchTheInferredType) {
  Error e = verifyError("func @f(%a: f32[2,3], %b: f32[3]) -> (f32[3]) {\n"
                        "  %0 = add %a, %b : f32[3]\n"
                        "  return %0\n"
                        "}");
  EXPECT_EQ(e.kind(), ErrorKind::Verify);
  EXPECT_STREQ(e.what(),
               "t.kir:2:3: error: 'add' result type f32[3] does not match inferred type f32[2,3]");
}

TEST(VerifierTypes, ShapeRuleErrorsAreLocatedAtTheNode) {
  Error e = verifyError("func @f(%a: f32[2,3], %b: f32[2,3]) -> () {\n"
                        "  %0 = add %a, %b : f32[2,3]\n"
                        "  %1 = matmul %a, %b : f32[2,3]\n"
                        "  return\n"
                        "}");
  EXPECT_EQ(e.where(), "t.kir:3:3");
  EXPECT_EQ(e.message(), "'matmul': inner dimensions differ: f32[2,3] and f32[2,3]");
}

TEST(VerifierTypes, DeclaredResultTypesAreCheckedByTheirOp) {
  Error e = verifyError("func @f(%a: f32[2,3]) -> () {\n"
                        "  %0 = reshape %a : f32[5]\n"
                        "  return\n"
                        "}");
  EXPECT_EQ(e.where(), "t.kir:2:3");
  EXPECT_EQ(e.message(), "'reshape': cannot reshape f32[2,3] (6 elements) to f32[5] (5 elements)");
}

TEST(VerifierTypes, ADenseAttributeHasTheResultType) {
  Fixture t;
  t.append(OpKind::Constant, {}, {{"value", HostTensor(f32({2}))}}, {f32({3})});
  Error e = verifyError(t.f);
  EXPECT_EQ(e.message(), "in @f, node #0 ('constant'): 'constant': value of type f32[2] does not "
                         "match the result type f32[3]");
}

//===----------------------------------------------------------------------===//
// Signatures: operands, attributes, results
//===----------------------------------------------------------------------===//

TEST(VerifierSignatures, ARequiredAttributeMustBePresent) {
  Error e = verifyError("func @f(%a: f32[2,3]) -> () {\n"
                        "  %0 = reduce_sum %a : f32[]\n"
                        "  return\n"
                        "}");
  EXPECT_EQ(e.where(), "t.kir:2:3");
  EXPECT_EQ(e.message(), "'reduce_sum' requires attribute 'axes'");
}

TEST(VerifierSignatures, OperandCountMustMatchTheOp) {
  Fixture t;
  t.append(OpKind::Add, {t.a});
  EXPECT_EQ(verifyError(t.f).message(), "in @f, node #0 ('add'): 'add' takes 2 operands, got 1");
}

TEST(VerifierSignatures, AttributesMustBeKnownToTheOp) {
  Fixture t;
  t.append(OpKind::Neg, {t.a}, {{"alpha", 1.0}});
  EXPECT_EQ(verifyError(t.f).message(), "in @f, node #0 ('neg'): 'neg' has no attribute 'alpha'");
}

TEST(VerifierSignatures, AttributesMustHaveTheDeclaredKind) {
  Fixture t;
  t.append(OpKind::ReduceSum, {t.a}, {{"axes", int64_t(0)}}, {f32({3})});
  Error e = verifyError(t.f);
  EXPECT_EQ(e.kind(), ErrorKind::Verify);
  EXPECT_NE(e.message().find("attribute 'axes' of 'reduce_sum' must be"), std::string::npos)
      << e.message();
}

TEST(VerifierSignatures, AnOpHasExactlyOneResult) {
  Fixture t;
  t.append(OpKind::Add, {t.a, t.b}, {}, {f32({2, 3}), f32({2, 3})});
  EXPECT_EQ(verifyError(t.f).message(), "in @f, node #0 ('add'): 'add' must have 1 result, got 2");
}

//===----------------------------------------------------------------------===//
// SSA: operands are defined before use, names are unique
//===----------------------------------------------------------------------===//

TEST(VerifierSsa, AnOperandMustBeDefinedBeforeItsUse) {
  Fixture t;
  ValueId later{int32_t(t.f.numValues()) + 1}; // the result of the second node
  t.append(OpKind::Neg, {later});
  t.append(OpKind::Neg, {t.a});
  EXPECT_EQ(verifyError(t.f).message(),
            "in @f, node #0 ('neg'): operand %1 of 'neg' is used before it is defined");
}

TEST(VerifierSsa, ANodeCannotUseItsOwnResult) {
  Fixture t;
  ValueId own{int32_t(t.f.numValues())};
  t.append(OpKind::Neg, {own});
  EXPECT_EQ(verifyError(t.f).message(),
            "in @f, node #0 ('neg'): operand %0 of 'neg' is used before it is defined");
}

TEST(VerifierSsa, AnOperandMustBeAValueOfTheFunction) {
  Fixture t;
  t.append(OpKind::Neg, {ValueId{99}});
  EXPECT_EQ(verifyError(t.f).message(),
            "in @f, node #0 ('neg'): operand #0 of 'neg' is not a value of @f");
}

TEST(VerifierSsa, ValueNamesAreUnique) {
  Fixture t;
  ValueId n = t.append(OpKind::Neg, {t.a});
  t.f.value(n).name = "a";
  EXPECT_EQ(verifyError(t.f).message(), "in @f, node #0 ('neg'): value name '%a' is defined twice");
}

TEST(VerifierSsa, UnnamedAndNumberedValuesNeedNoUniqueName) {
  Fixture t;
  ValueId n1 = t.append(OpKind::Neg, {t.a});
  ValueId n2 = t.append(OpKind::Neg, {n1});
  t.f.value(n1).name = "7";
  t.f.value(n2).name = "7";
  t.f.setResults({n2});
  EXPECT_NO_THROW(verify(t.f));
}

TEST(VerifierSsa, ReturnedValuesMustBeValuesOfTheFunction) {
  Fixture t;
  t.f.setResults({t.a, ValueId{42}});
  t.f.resultLocs = {Location{}, Location{std::make_shared<const std::string>("t.kir"), 9, 10}};
  Error e = verifyError(t.f);
  EXPECT_EQ(e.where(), "t.kir:9:10");
  EXPECT_EQ(e.message(), "return value #1 is not a value of @f");
}

TEST(VerifierSsa, ProblemsOfAnUnlocatedFunctionNameIt) {
  Fixture t;
  t.f.setResults({ValueId{-1}});
  EXPECT_EQ(verifyError(t.f).message(), "in @f: return value #0 is not a value of @f");
}

//===----------------------------------------------------------------------===//
// Fused bodies
//===----------------------------------------------------------------------===//

namespace {
/// A body computing relu(p0 + p1) on f32[3] values.
std::shared_ptr<const Function> addRelu() {
  auto body = std::make_shared<Function>("fused_add_relu");
  Builder b(*body);
  ValueId p0 = b.param("", f32({3})), p1 = b.param("", f32({3}));
  body->setResults({b.create(OpKind::Relu, {b.add(p0, p1)})});
  return body;
}
} // namespace

AttrList loopKind() { return {{"kind", FusionKind::Loop}}; }

TEST(VerifierFused, ANodeMatchingItsBodyVerifies) {
  Fixture t;
  t.f.appendNode(OpKind::Fused, {t.b, t.b}, loopKind(), {f32({3})}, {}, addRelu());
  EXPECT_NO_THROW(verify(t.f));
}

TEST(VerifierFused, OperandsMustHaveTheBodysParameterTypes) {
  Fixture t;
  t.f.appendNode(OpKind::Fused, {t.a, t.b}, loopKind(), {f32({3})}, {}, addRelu());
  EXPECT_EQ(verifyError(t.f).message(),
            "in @f, node #0 ('fused'): 'fused' operand #0 is f32[2,3], but its body "
            "@fused_add_relu expects f32[3]");
}

TEST(VerifierFused, OperandCountMustMatchTheBody) {
  Fixture t;
  t.f.appendNode(OpKind::Fused, {t.b}, loopKind(), {f32({3})}, {}, addRelu());
  EXPECT_EQ(verifyError(t.f).message(),
            "in @f, node #0 ('fused'): 'fused' has 1 operands, but its body @fused_add_relu "
            "takes 2");
}

TEST(VerifierFused, ResultsMustBeTheBodysResults) {
  Fixture t;
  t.f.appendNode(OpKind::Fused, {t.b, t.b}, loopKind(), {f32({3}), f32({3})}, {}, addRelu());
  EXPECT_EQ(verifyError(t.f).message(),
            "in @f, node #0 ('fused'): 'fused' has 2 results, but its body @fused_add_relu "
            "returns 1");
}

TEST(VerifierFused, AFusedNodeNeedsItsKindAndABodyOfThatKind) {
  Fixture t;
  t.f.appendNode(OpKind::Fused, {t.b, t.b}, {}, {f32({3})}, {}, addRelu());
  EXPECT_EQ(verifyError(t.f).message(),
            "in @f, node #0 ('fused'): 'fused' needs its kind: {kind=loop}, reduction, matmul "
            "or softmax_xent");
  Fixture u;
  u.f.appendNode(OpKind::Fused, {u.b, u.b}, {{"kind", FusionKind::Matmul}}, {f32({3})}, {},
                 addRelu());
  EXPECT_EQ(verifyError(u.f).message(),
            "in @f, node #0 ('fused'): 'fused' of kind matmul: its body must hold one matmul");
}

TEST(VerifierFused, AFusedNodeNeedsABodyAndNoOtherNodeHasOne) {
  Fixture t;
  t.f.appendNode(OpKind::Fused, {t.b}, loopKind(), {f32({3})});
  EXPECT_EQ(verifyError(t.f).message(), "in @f, node #0 ('fused'): 'fused' has no body");
  Fixture u;
  u.f.appendNode(OpKind::Neg, {u.b}, {}, {f32({3})}, {}, addRelu());
  EXPECT_EQ(verifyError(u.f).message(), "in @f, node #0 ('neg'): 'neg' does not take a body");
}

TEST(VerifierFused, TheBodyIsVerifiedWithItsOwnLocations) {
  Error e = verifyError("func @f(%a: f32[3]) -> (f32[3]) {\n"
                        "  %0 = fused %a {kind=loop} : f32[3] func @k(%p: f32[3]) -> (f32[3]) {\n"
                        "    %0 = exp %p : f32[4]\n"
                        "    return %p\n"
                        "  }\n"
                        "  return %0\n"
                        "}");
  EXPECT_EQ(e.where(), "t.kir:3:5");
  EXPECT_EQ(e.message(), "'exp' result type f32[4] does not match inferred type f32[3]");
}

//===----------------------------------------------------------------------===//
// Modules
//===----------------------------------------------------------------------===//

TEST(VerifierModules, FunctionNamesAreUnique) {
  Error e = verifyError("func @f() -> () {\n  return\n}\n\nfunc @f() -> () {\n  return\n}\n");
  EXPECT_EQ(e.where(), "t.kir:5:1");
  EXPECT_EQ(e.message(), "redefinition of function '@f'");
}

TEST(VerifierModules, EveryFunctionIsVerified) {
  Error e = verifyError("func @ok() -> () {\n  return\n}\n"
                        "func @bad(%a: f32[2]) -> () {\n  %0 = neg %a : f32[3]\n  return\n}\n");
  EXPECT_EQ(e.where(), "t.kir:5:3");
}
