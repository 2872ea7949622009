//===- OpTableTest.cpp - Invariants of the op table -----------------------===//
//
// Every op is one OpDef; the rest of kiln trusts the table. These tests walk
// ir::allOps() and fail for a half-added op: one without a name, shape rule,
// kernel, scalar expression, gradient rule or summary.
//
//===----------------------------------------------------------------------===//
#include "ErrorTestSupport.h"
#include "kiln/ir/OpDef.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

using namespace kiln;
using namespace kiln::ir;

namespace {

using kiln::test::errorFrom;
using kiln::test::contains;

constexpr size_t kOpsInDef = 0
#define KILN_OP(Name) +1
#include "kiln/ir/Ops.def"
    ;

constexpr std::string_view kEnumNames[] = {
#define KILN_OP(Name) #Name,
#include "kiln/ir/Ops.def"
};

bool isElementwiseClass(FusionClass c) {
  return c == FusionClass::Elementwise || c == FusionClass::Broadcast;
}

/// A placeholder value of the given attribute kind.
Attr placeholder(AttrKind k) {
  switch (k) {
  case AttrKind::Int:
    return int64_t(0);
  case AttrKind::Float:
    return 1.0;
  case AttrKind::Bool:
    return false;
  case AttrKind::Ints:
    return IntList{};
  case AttrKind::Type:
    return DType::F32;
  case AttrKind::Dense:
    return HostTensor::scalar(0);
  case AttrKind::Fusion:
    return FusionKind::Loop;
  }
  return int64_t(0);
}

/// Every required attribute of `def`, with a placeholder value.
AttrList requiredAttrs(const OpDef &def) {
  AttrList attrs;
  for (const AttrSpec &s : def.attrs)
    if (s.required)
      attrs.set(std::string(s.name), placeholder(s.kind));
  return attrs;
}

std::vector<TensorType> operandsFor(int arity) {
  return std::vector<TensorType>(size_t(arity), TensorType{DType::F32, Shape{2}});
}

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

} // namespace

TEST(OpTable, HasOneEntryPerOpsDefLine) {
  ASSERT_EQ(allOps().size(), kOpsInDef);
  for (size_t i = 0; i < kOpsInDef; ++i) {
    ASSERT_NE(allOps()[i], nullptr) << kEnumNames[i];
    EXPECT_EQ(allOps()[i]->kind, OpKind(i)) << "allOps() is in Ops.def order: " << kEnumNames[i];
    EXPECT_EQ(&opDef(OpKind(i)), allOps()[i]) << kEnumNames[i];
  }
}

TEST(OpTable, NamesAreUniqueAndFindable) {
  std::set<std::string_view> seen;
  for (const OpDef *def : allOps()) {
    EXPECT_TRUE(seen.insert(def->name).second) << "duplicate op name " << def->name;
    EXPECT_EQ(findOp(def->name), def) << def->name;
    EXPECT_EQ(opName(def->kind), def->name);
  }
}

TEST(OpTable, NamesAreLowercaseIdentifiers) {
  // The IR text spells ops this way; the parser reads [a-z_][a-z0-9_]*.
  for (const OpDef *def : allOps()) {
    ASSERT_FALSE(def->name.empty()) << "op #" << int(def->kind) << " has no name";
    EXPECT_TRUE(def->name[0] >= 'a' && def->name[0] <= 'z') << def->name;
    for (char c : def->name)
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << def->name;
  }
}

TEST(OpTable, FindOpOfAnUnknownNameIsNull) {
  EXPECT_EQ(findOp("frobnicate"), nullptr);
  EXPECT_EQ(findOp(""), nullptr);
  EXPECT_EQ(findOp("Add"), nullptr) << "names are case-sensitive";
  EXPECT_EQ(findOp("add "), nullptr);
}

TEST(OpTable, EveryOpHasAShapeRuleOrARegion) {
  for (const OpDef *def : allOps())
    EXPECT_NE(def->infer == nullptr, !def->region) << def->name;
}

TEST(OpTable, ArityIsSmallAndNonNegative) {
  for (const OpDef *def : allOps()) {
    if (def->region) { // a fused kernel takes any number of operands
      EXPECT_EQ(def->arity, -1) << def->name;
      continue;
    }
    EXPECT_GE(def->arity, 0) << def->name;
    EXPECT_LE(def->arity, 3) << def->name;
  }
}

TEST(OpTable, ElementwiseOpsHaveAScalarExpressionAndNoKernel) {
  for (const OpDef *def : allOps())
    if (isElementwiseClass(def->fusion)) {
      EXPECT_NE(def->scalar, nullptr)
          << def->name << " needs a scalar expression (JIT, interpreter)";
      EXPECT_EQ(def->eval, nullptr) << def->name << ": the scalar expression is its kernel";
    }
}

TEST(OpTable, OtherOpsHaveAReferenceKernelOrAFoldAndNoScalarExpression) {
  for (const OpDef *def : allOps())
    if (!isElementwiseClass(def->fusion) && !def->region) {
      EXPECT_NE(def->eval == nullptr, def->reduction == nullptr)
          << def->name << " needs a reference kernel or a fold (ReductionDef), not both";
      EXPECT_EQ(def->scalar, nullptr) << def->name << " is not elementwise";
    }
}

TEST(OpTable, FoldsAreReductions) {
  for (const OpDef *def : allOps())
    if (def->reduction) {
      EXPECT_EQ(def->fusion, FusionClass::Reduction) << def->name;
      EXPECT_NE(def->reduction->combine, nullptr) << def->name;
    }
}

TEST(OpTable, BroadcastOpsTakeSeveralOperands) {
  for (const OpDef *def : allOps())
    if (def->fusion == FusionClass::Broadcast) {
      EXPECT_GE(def->arity, 2) << def->name;
    }
}

TEST(OpTable, DifferentiableOpsHaveAGradientRule) {
  for (const OpDef *def : allOps())
    if (def->differentiable) {
      EXPECT_NE(def->grad, nullptr) << def->name << " is differentiable but has no gradient rule";
    }
}

TEST(OpTable, NonDifferentiableOpsHaveNoGradientRule) {
  for (const OpDef *def : allOps())
    if (!def->differentiable) {
      EXPECT_EQ(def->grad, nullptr) << def->name;
    }
}

TEST(OpTable, EveryOpHasASummary) {
  for (const OpDef *def : allOps())
    EXPECT_FALSE(def->summary.empty()) << def->name << " has no summary for `kiln ops`";
}

TEST(OpTable, AttributeNamesAreUniquePerOp) {
  for (const OpDef *def : allOps()) {
    std::set<std::string_view> seen;
    for (const AttrSpec &spec : def->attrs) {
      EXPECT_FALSE(spec.name.empty()) << def->name;
      EXPECT_TRUE(seen.insert(spec.name).second)
          << def->name << " declares attribute " << spec.name << " twice";
    }
  }
}

TEST(OpTable, FusionClassesHaveDistinctNames) {
  std::set<std::string_view> names;
  for (FusionClass c : {FusionClass::Elementwise, FusionClass::Broadcast, FusionClass::Injective,
                        FusionClass::Reduction, FusionClass::OutputFusable, FusionClass::Opaque}) {
    EXPECT_FALSE(fusionClassName(c).empty());
    EXPECT_NE(fusionClassName(c), "?");
    names.insert(fusionClassName(c));
  }
  EXPECT_EQ(names.size(), 6u);
}

//===----------------------------------------------------------------------===//
// checkAndInfer: the signature checks every op gets for free
//===----------------------------------------------------------------------===//

TEST(OpTableCheck, WrongArityIsRejectedForEveryOp) {
  for (const OpDef *def : allOps()) {
    Error e = errorFrom([&] {
      checkAndInfer(*def, operandsFor(def->arity + 1), requiredAttrs(*def), std::nullopt);
    });
    EXPECT_EQ(e.kind(), ErrorKind::Verify) << def->name;
    EXPECT_TRUE(contains(e.message(), quoted(def->name))) << e.message();
  }
}

TEST(OpTableCheck, UnknownAttributeIsRejectedForEveryOp) {
  for (const OpDef *def : allOps()) {
    if (def->region)
      continue; // built by Builder::fused, see RegionOps below
    AttrList attrs = requiredAttrs(*def);
    attrs.set("no_such_attribute", int64_t(1));
    Error e = errorFrom([&] {
      checkAndInfer(*def, operandsFor(def->arity), attrs, TensorType{DType::F32, Shape{2}});
    });
    EXPECT_EQ(e.kind(), ErrorKind::Verify) << def->name;
    EXPECT_TRUE(contains(e.message(), quoted(def->name))) << e.message();
    EXPECT_TRUE(contains(e.message(), "'no_such_attribute'")) << e.message();
  }
}

TEST(OpTableCheck, EachMissingRequiredAttributeIsNamed) {
  for (const OpDef *def : allOps())
    for (const AttrSpec &missing : def->attrs) {
      if (!missing.required || def->region) // the verifier checks a region's (VerifierFused)
        continue;
      AttrList attrs;
      for (const AttrSpec &s : def->attrs)
        if (s.required && s.name != missing.name)
          attrs.set(std::string(s.name), placeholder(s.kind));
      Error e = errorFrom([&] {
        checkAndInfer(*def, operandsFor(def->arity), attrs, TensorType{DType::F32, Shape{2}});
      });
      EXPECT_EQ(e.kind(), ErrorKind::Verify) << def->name;
      EXPECT_TRUE(contains(e.message(), quoted(missing.name))) << e.message();
    }
}

TEST(OpTableCheck, AttributeOfTheWrongKindIsRejectedForEveryOp) {
  for (const OpDef *def : allOps())
    for (const AttrSpec &spec : def->attrs) {
      if (def->region) // the verifier checks a region's attributes (VerifierFused)
        continue;
      // A dtype attribute is never accepted where another kind is declared.
      AttrKind wrong = spec.kind == AttrKind::Type ? AttrKind::Bool : AttrKind::Type;
      AttrList attrs = requiredAttrs(*def);
      attrs.set(std::string(spec.name), placeholder(wrong));
      Error e = errorFrom([&] {
        checkAndInfer(*def, operandsFor(def->arity), attrs, TensorType{DType::F32, Shape{2}});
      });
      EXPECT_EQ(e.kind(), ErrorKind::Verify) << def->name;
      EXPECT_TRUE(contains(e.message(), quoted(spec.name))) << e.message();
    }
}

TEST(OpTableCheck, DeclaredTypeOpsRequireOne) {
  for (const OpDef *def : allOps()) {
    if (!def->declaresResultType)
      continue;
    Error e = errorFrom(
        [&] { checkAndInfer(*def, operandsFor(def->arity), requiredAttrs(*def), std::nullopt); });
    EXPECT_EQ(e.kind(), ErrorKind::Verify) << def->name;
    EXPECT_TRUE(contains(e.message(), quoted(def->name))) << e.message();
    EXPECT_TRUE(contains(e.message(), "result type")) << e.message();
  }
}

TEST(OpTableCheck, RegionOpsAreBuiltOnlyWithTheirBody) {
  for (const OpDef *def : allOps())
    if (def->region) {
      Error e = errorFrom([&] { checkAndInfer(*def, {}, {}, std::nullopt); });
      EXPECT_EQ(e.kind(), ErrorKind::Verify) << def->name;
      EXPECT_TRUE(contains(e.message(), "region")) << e.message();
    }
}
