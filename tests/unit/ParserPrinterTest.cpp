//===- ParserPrinterTest.cpp - IR text ------------------------------------===//
//
// Specification of kiln/ir/Parser.h and kiln/ir/Printer.h: the canonical
// IR text (docs/ir.md) round-trips exactly, names and numbers are
// assigned as documented, every attribute kind prints in one canonical
// form, every parse error is reported at the exact line and column of the
// offending token, and hostile input fails cleanly within ParseLimits.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/Builder.h"
#include "kiln/ir/OpDef.h"
#include "kiln/ir/Parser.h"
#include "kiln/ir/Printer.h"
#include "kiln/ir/Verifier.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

using namespace kiln;
using namespace kiln::ir;

namespace {

constexpr const char *kLinreg =
    R"(func @linreg_step(%x: f32[10,1], %y: f32[10,1], %w: f32[1,1], %b: f32[1]) -> (f32[]) {
  %0 = matmul %x, %w : f32[10,1]
  %1 = add %0, %b : f32[10,1]
  %2 = sub %1, %y : f32[10,1]
  %3 = mul %2, %2 : f32[10,1]
  %4 = reduce_mean %3 {axes=[0,1]} : f32[]
  return %4
}
)";

Module parse(std::string_view text, const ParseLimits &limits = {}) {
  return parseModule(text, "t.kir", limits);
}

Function parseOne(std::string_view text) {
  Module m = parse(text);
  EXPECT_EQ(m.functions.size(), 1u);
  return m.functions.at(0);
}

std::string roundTrip(std::string_view text) { return print(parse(text)); }

/// The error that parsing `text` throws (a test failure if none).
Error parseError(std::string_view text, const ParseLimits &limits = {}) {
  try {
    parse(text, limits);
  } catch (const Error &e) {
    return e;
  }
  ADD_FAILURE() << "parsing did not fail:\n" << text;
  return Error(ErrorKind::Internal, "<no error was thrown>");
}

TensorType f32(Shape s) { return {DType::F32, std::move(s)}; }

/// Text of a one-node function returning a constant of `type` with `value`.
std::string constantText(std::string_view type, std::string_view value) {
  return fmt::format(
      "func @c() -> ({0}) {{\n  %0 = constant {{value={1}}} : {0}\n  return %0\n}}\n", type, value);
}

const HostTensor &constantValue(const Function &f) {
  return f.nodes().at(0).attrs.getDense("value");
}

} // namespace

//===----------------------------------------------------------------------===//
// Round trip
//===----------------------------------------------------------------------===//

TEST(IrText, CanonicalTextRoundTripsExactly) { EXPECT_EQ(roundTrip(kLinreg), kLinreg); }

TEST(IrText, ParsingBuildsTheGraphTheTextDescribes) {
  Function f = parseOne(kLinreg);
  EXPECT_EQ(f.name(), "linreg_step");
  ASSERT_EQ(f.params().size(), 4u);
  EXPECT_EQ(f.value(f.params()[0]).name, "x");
  EXPECT_EQ(f.type(f.params()[2]), f32({1, 1}));
  ASSERT_EQ(f.nodes().size(), 5u);
  const Node &matmul = f.nodes()[0];
  EXPECT_EQ(matmul.op, OpKind::Matmul);
  EXPECT_EQ(matmul.operands, (std::vector<ValueId>{f.params()[0], f.params()[2]}));
  EXPECT_EQ(f.type(matmul.result()), f32({10, 1}));
  EXPECT_EQ(f.value(matmul.result()).name, "") << "numbered values are unnamed";
  EXPECT_EQ(f.nodes()[4].attrs.getInts("axes"), (IntList{0, 1}));
  ASSERT_EQ(f.results().size(), 1u);
  EXPECT_EQ(f.results()[0], f.nodes()[4].result());
  EXPECT_NO_THROW(verify(f));
}

TEST(IrText, NodesFunctionsAndReturnsAreLocated) {
  Function f = parseOne(kLinreg);
  EXPECT_EQ(f.loc.str(), "t.kir:1:1");
  EXPECT_EQ(f.nodes()[0].loc.str(), "t.kir:2:3") << "a node is located at its first result";
  EXPECT_EQ(f.nodes()[4].loc.str(), "t.kir:6:3");
  ASSERT_EQ(f.resultLocs.size(), 1u);
  EXPECT_EQ(f.resultLocs[0].str(), "t.kir:7:10");
}

TEST(IrText, ModuleFunctionsAreSeparatedByOneBlankLine) {
  std::string two = std::string(kLinreg) + "\nfunc @id(%a: f32[]) -> (f32[]) {\n  return %a\n}\n";
  EXPECT_EQ(roundTrip(two), two);
  EXPECT_EQ(parse(two).functions.size(), 2u);
}

TEST(IrText, AnEmptyModulePrintsAsNothing) {
  EXPECT_EQ(roundTrip(""), "");
  EXPECT_EQ(roundTrip("  // only a comment\n\n"), "");
}

TEST(IrText, CommentsAndWhitespaceAreInsignificant) {
  const char *messy = R"(// header comment
func   @f( %a :f32[ 2 , 3 ] ,%b: f32[3])->(f32[2,3]){ // trailing
  %s=add %a,%b:f32[2,3]
      return   %s
})";
  EXPECT_EQ(roundTrip(messy), "func @f(%a: f32[2,3], %b: f32[3]) -> (f32[2,3]) {\n"
                              "  %s = add %a, %b : f32[2,3]\n"
                              "  return %s\n"
                              "}\n");
}

TEST(IrText, FunctionsWithoutResultsPrintEmptyParentheses) {
  const char *text = "func @nothing() -> () {\n  return\n}\n";
  EXPECT_EQ(roundTrip(text), text);
}

TEST(IrText, FunctionsMayReturnSeveralValues) {
  const char *text = "func @two(%a: f32[], %b: i64[2]) -> (f32[], i64[2]) {\n"
                     "  return %a, %b\n"
                     "}\n";
  EXPECT_EQ(roundTrip(text), text);
}

//===----------------------------------------------------------------------===//
// Value names
//===----------------------------------------------------------------------===//

TEST(IrTextNames, NumberedValuesAreRenumberedInOrderOfDefinition) {
  const char *text = "func @f(%a: f32[]) -> (f32[]) {\n"
                     "  %7 = neg %a : f32[]\n"
                     "  %named = exp %7 : f32[]\n"
                     "  %3 = neg %named : f32[]\n"
                     "  return %3\n"
                     "}\n";
  EXPECT_EQ(roundTrip(text), "func @f(%a: f32[]) -> (f32[]) {\n"
                             "  %0 = neg %a : f32[]\n"
                             "  %named = exp %0 : f32[]\n"
                             "  %1 = neg %named : f32[]\n"
                             "  return %1\n"
                             "}\n");
}

TEST(IrTextNames, UnnamedParametersPrintAsArgN) {
  Function f("f");
  Builder b(f);
  ValueId a = f.addParam(f32({2}));
  ValueId named = f.addParam(f32({2}), "y");
  ValueId numbered = f.addParam(f32({2}), "5");
  f.setResults({b.add(b.add(a, named), numbered)});
  EXPECT_EQ(print(f), "func @f(%arg0: f32[2], %y: f32[2], %arg2: f32[2]) -> (f32[2]) {\n"
                      "  %0 = add %arg0, %y : f32[2]\n"
                      "  %1 = add %0, %arg2 : f32[2]\n"
                      "  return %1\n"
                      "}\n");
}

TEST(IrTextNames, DuplicateNamesGetSuffixesThatCollideWithNothing) {
  Function f("f");
  Builder b(f);
  ValueId x = f.addParam(f32({}), "x");
  ValueId x1 = f.addParam(f32({}), "x.1");
  ValueId n1 = b.neg(x);
  f.value(n1).name = "x";
  ValueId n2 = b.neg(x1);
  f.value(n2).name = "x";
  ValueId arg = b.neg(n2);
  f.value(arg).name = "arg2"; // an unnamed third parameter would print as %arg2
  f.setResults({n1, arg});
  std::string text = print(f);
  EXPECT_EQ(text, "func @f(%x: f32[], %x.1: f32[]) -> (f32[], f32[]) {\n"
                  "  %x.2 = neg %x : f32[]\n"
                  "  %x.3 = neg %x.1 : f32[]\n"
                  "  %arg2 = neg %x.3 : f32[]\n"
                  "  return %x.2, %arg2\n"
                  "}\n");
  EXPECT_EQ(roundTrip(text), text) << "the printed text is a fixed point";
}

TEST(IrTextNames, CharactersThatCannotBeParsedAreReplaced) {
  Function f("my fn");
  ValueId p = f.addParam(f32({}), "loss grad");
  f.setResults({p});
  std::string text = print(f);
  EXPECT_EQ(text, "func @my_fn(%loss_grad: f32[]) -> (f32[]) {\n  return %loss_grad\n}\n");
  EXPECT_EQ(roundTrip(text), text);
}

TEST(IrTextNames, NamesMayContainDigitsDotsAndUnderscores) {
  const char *text = "func @f.v2(%in_0.a: f32[]) -> (f32[]) {\n"
                     "  %1x = neg %in_0.a : f32[]\n"
                     "  return %1x\n"
                     "}\n";
  EXPECT_EQ(roundTrip(text), text);
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

TEST(IrTextAttrs, EachKindHasOneCanonicalText) {
  EXPECT_EQ(printAttr(int64_t(2)), "2");
  EXPECT_EQ(printAttr(int64_t(-1)), "-1");
  EXPECT_EQ(printAttr(std::numeric_limits<int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(printAttr(true), "true");
  EXPECT_EQ(printAttr(false), "false");
  EXPECT_EQ(printAttr(IntList{0, 1}), "[0,1]");
  EXPECT_EQ(printAttr(IntList{}), "[]");
  EXPECT_EQ(printAttr(DType::F32), "f32");
  EXPECT_EQ(printAttr(DType::Bool), "bool");
}

TEST(IrTextAttrs, FloatsAreShortestRoundTripAndAlwaysLookLikeFloats) {
  EXPECT_EQ(printAttr(2.0), "2.0");
  EXPECT_EQ(printAttr(0.5), "0.5");
  EXPECT_EQ(printAttr(-3.0), "-3.0");
  EXPECT_EQ(printAttr(0.1), "0.1");
  EXPECT_EQ(printAttr(1e20), "1e+20");
  EXPECT_EQ(printAttr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(printAttr(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(printAttr(std::numeric_limits<double>::quiet_NaN()), "nan");
}

TEST(IrTextAttrs, AreSortedByNameAndSeparatedByCommas) {
  const char *text = "func @f(%a: f32[2,3]) -> (f32[3]) {\n"
                     "  %0 = reduce_sum %a {keepdims=false, axes=[0]} : f32[3]\n"
                     "  return %0\n"
                     "}\n";
  EXPECT_EQ(roundTrip(text), "func @f(%a: f32[2,3]) -> (f32[3]) {\n"
                             "  %0 = reduce_sum %a {axes=[0], keepdims=false} : f32[3]\n"
                             "  return %0\n"
                             "}\n");
}

TEST(IrTextAttrs, AnEmptyAttributeListIsAcceptedAndOmitted) {
  const char *text = "func @f(%a: f32[]) -> (f32[]) {\n  %0 = neg %a {} : f32[]\n  return %0\n}\n";
  EXPECT_EQ(roundTrip(text),
            "func @f(%a: f32[]) -> (f32[]) {\n  %0 = neg %a : f32[]\n  return %0\n}\n");
}

TEST(IrTextAttrs, AnIntegerIsAcceptedWhereAFloatIsExpected) {
  Function f = parseOne("func @f(%a: f32[]) -> (f32[]) {\n"
                        "  %0 = pow %a {exponent=2} : f32[]\n"
                        "  return %0\n"
                        "}\n");
  const Attr *e = f.nodes()[0].attrs.find("exponent");
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(std::holds_alternative<double>(*e)) << "converted to the declared kind";
  EXPECT_EQ(std::get<double>(*e), 2.0);
  EXPECT_NE(print(f).find("{exponent=2.0}"), std::string::npos);
}

TEST(IrTextAttrs, InfinitiesAndNaNAreFloatLiterals) {
  for (const char *literal : {"inf", "-inf", "nan", "1.5e-3", "-0.0"}) {
    std::string text = fmt::format("func @f(%a: f32[]) -> (f32[]) {{\n"
                                   "  %0 = pow %a {{exponent={}}} : f32[]\n"
                                   "  return %0\n"
                                   "}}\n",
                                   literal);
    Function f = parseOne(text);
    double e = f.nodes()[0].attrs.getFloat("exponent");
    double want = std::strtod(literal, nullptr);
    if (std::isnan(want))
      EXPECT_TRUE(std::isnan(e)) << literal;
    else
      EXPECT_EQ(std::memcmp(&e, &want, sizeof e), 0) << literal;
    EXPECT_EQ(roundTrip(print(f)), print(f)) << literal;
  }
}

//===----------------------------------------------------------------------===//
// Dense literals
//===----------------------------------------------------------------------===//

TEST(IrTextDense, EqualElementsPrintAsASplat) {
  Function f = parseOne(constantText("f32[2,3]", "dense<[2.5,2.5,2.5,2.5,2.5,2.5]>"));
  EXPECT_EQ(printAttr(constantValue(f)), "dense<2.5>");
  EXPECT_EQ(constantValue(f).get(5), 2.5);
}

TEST(IrTextDense, ASplatFillsTheResultType) {
  Function f = parseOne(constantText("i64[4]", "dense<-3>"));
  const HostTensor &t = constantValue(f);
  EXPECT_EQ(t.type(), (TensorType{DType::I64, Shape{4}}));
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_EQ(t.get(i), -3);
}

TEST(IrTextDense, OtherwiseAFlatListOfExactlyNumelElements) {
  Function f = parseOne(constantText("f32[2,2]", "dense<[1,2,3,4]>"));
  EXPECT_EQ(printAttr(constantValue(f)), "dense<[1,2,3,4]>");
}

TEST(IrTextDense, NestedBracketsAreFlattened) {
  Function f = parseOne(constantText("f32[2,3]", "dense<[[1, 2, 3], [4, 5, 6]]>"));
  EXPECT_EQ(printAttr(constantValue(f)), "dense<[1,2,3,4,5,6]>");
}

TEST(IrTextDense, EmptyTensorsAreEmptyLists) {
  Function f = parseOne(constantText("f32[0,3]", "dense<[]>"));
  EXPECT_EQ(constantValue(f).numel(), 0);
  EXPECT_EQ(printAttr(constantValue(f)), "dense<[]>");
}

TEST(IrTextDense, ElementsPrintPerDType) {
  EXPECT_EQ(printAttr(HostTensor::fromDoubles({DType::F32, Shape{2}}, std::vector{0.1, -2.0})),
            "dense<[0.1,-2]>")
      << "f32 elements print as the shortest text that gives back the float";
  EXPECT_EQ(printAttr(HostTensor::fromDoubles({DType::F64, Shape{2}}, std::vector{0.1, 1e300})),
            "dense<[0.1,1e+300]>");
  EXPECT_EQ(printAttr(HostTensor::fromDoubles({DType::U8, Shape{3}}, std::vector{0., 7., 255.})),
            "dense<[0,7,255]>");
  EXPECT_EQ(printAttr(HostTensor::fromDoubles({DType::Bool, Shape{2}}, std::vector{1., 0.})),
            "dense<[true,false]>");
}

TEST(IrTextDense, BoolElementsAcceptZeroAndOne) {
  Function f = parseOne(constantText("bool[3]", "dense<[1,0,true]>"));
  EXPECT_EQ(printAttr(constantValue(f)), "dense<[true,false,true]>");
}

TEST(IrTextDense, IntegersKeepAll64Bits) {
  std::string text = constantText("i64[2]", "dense<[9007199254740993,-9223372036854775808]>");
  Function f = parseOne(text);
  EXPECT_EQ(constantValue(f).data<int64_t>()[0], 9007199254740993);
  EXPECT_EQ(roundTrip(text), text);
}

/// Random bit patterns of a float type survive print and parse bit for bit.
template <class T> void expectBitExactRoundTrip(DType dtype, std::string_view typeName) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  std::mt19937_64 rng(42);
  HostTensor t(TensorType{dtype, Shape{1000}});
  for (int64_t i = 0; i < t.numel(); ++i) {
    T v;
    do {
      Bits bits = Bits(rng());
      std::memcpy(&v, &bits, sizeof v);
    } while (std::isnan(v));
    t.data<T>()[i] = v;
  }
  t.data<T>()[0] = std::numeric_limits<T>::denorm_min();
  t.data<T>()[1] = -T(0);
  t.data<T>()[2] = std::numeric_limits<T>::infinity();
  t.data<T>()[3] = std::numeric_limits<T>::max();
  Function f = parseOne(constantText(fmt::format("{}[1000]", typeName), printAttr(t)));
  EXPECT_TRUE(constantValue(f).identical(t)) << typeName;
}

TEST(IrTextDense, FloatsRoundTripBitForBit) {
  expectBitExactRoundTrip<float>(DType::F32, "f32");
  expectBitExactRoundTrip<double>(DType::F64, "f64");
}

//===----------------------------------------------------------------------===//
// Regions and degenerate nodes
//===----------------------------------------------------------------------===//

TEST(IrTextRegions, AFusedNodePrintsItsBodyAsANestedFunction) {
  Function body("fused_add_relu");
  {
    Builder b(body);
    ValueId a = body.addParam(f32({4}));
    ValueId c = body.addParam(f32({}));
    body.setResults({b.create(OpKind::Relu, {b.add(a, c)})});
  }
  Function f("step");
  Builder b(f);
  ValueId x = b.param("x", f32({4}));
  ValueId s = b.scalar(1);
  f.setResults(b.fused(FusionKind::Loop, {x, s}, body));
  std::string text = print(f);
  EXPECT_EQ(text, "func @step(%x: f32[4]) -> (f32[4]) {\n"
                  "  %0 = constant {value=dense<1>} : f32[]\n"
                  "  %1 = fused %x, %0 {kind=loop} : f32[4] func @fused_add_relu(%arg0: f32[4], %arg1: f32[]) "
                  "-> (f32[4]) {\n"
                  "    %0 = add %arg0, %arg1 : f32[4]\n"
                  "    %1 = relu %0 : f32[4]\n"
                  "    return %1\n"
                  "  }\n"
                  "  return %1\n"
                  "}\n");
  Function parsed = parseOne(text);
  EXPECT_NO_THROW(verify(parsed));
  ASSERT_TRUE(parsed.nodes()[1].body);
  EXPECT_EQ(parsed.nodes()[1].body->name(), "fused_add_relu");
  EXPECT_EQ(parsed.nodes()[1].body->nodes()[1].loc.str(), "t.kir:5:5");
  EXPECT_EQ(print(parsed), text);
}

TEST(IrTextRegions, ANodeWithoutResultsPrintsEmptyParentheses) {
  Function f("f");
  ValueId a = f.addParam(f32({}), "a");
  f.appendNode(OpKind::Neg, {a}, {}, {});
  f.setResults({a});
  std::string text = print(f);
  EXPECT_EQ(text, "func @f(%a: f32[]) -> (f32[]) {\n  neg %a : ()\n  return %a\n}\n");
  EXPECT_EQ(roundTrip(text), text) << "unverifiable IR still prints as parseable text";
}

TEST(IrTextRegions, DanglingOperandsPrintWithoutCrashing) {
  Function f("f");
  ValueId a = f.addParam(f32({}), "a");
  f.appendNode(OpKind::Neg, {ValueId{42}}, {}, {f32({})});
  f.setResults({a, ValueId{-1}});
  std::string text = print(f);
  EXPECT_NE(text.find("neg %<invalid>"), std::string::npos);
  EXPECT_NE(text.find("return %a, %<invalid>"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// Parse errors: the message and the exact line:col of the offending token
//===----------------------------------------------------------------------===//

namespace {
struct ErrorCase {
  const char *text;
  const char *where;
  const char *message;
};

// clang-format off
const ErrorCase kParseErrors[] = {
    {"func @f() -> () {\n  return $\n}", "t.kir:2:10", "invalid character '$'"},
    {"func @f() -> () {\n  return\n}\n\x01", "t.kir:4:1", "invalid character '\\x01'"},
    {"func @f() -> () {\n  return\n} /", "t.kir:3:3", "invalid character '/'"},
    {"module", "t.kir:1:1", "expected 'func'"},
    {"func f() -> () {}", "t.kir:1:6", "expected function name after 'func'"},
    {"func @() -> () {}", "t.kir:1:6", "expected function name after '@'"},
    {"func @f -> () {}", "t.kir:1:9", "expected '(' after function name"},
    {"func @f(x: f32[]) -> () {}", "t.kir:1:9", "expected parameter name"},
    {"func @f(%: f32[]) -> () {}", "t.kir:1:9", "expected value name after '%'"},
    {"func @f(%x f32[]) -> () {}", "t.kir:1:12", "expected ':' after parameter name"},
    {"func @f(%x: f32[] %y: f32[]) -> () {}", "t.kir:1:19", "expected ',' or ')' in parameter list"},
    {"func @f(%x: f32[], %x: f32[]) -> () {}", "t.kir:1:20", "redefinition of value '%x'"},
    {"func @f(%x: 3) -> () {}", "t.kir:1:13", "expected type"},
    {"func @f(%x: f16[2]) -> () {}", "t.kir:1:13", "unknown dtype 'f16'"},
    {"func @f(%x: f32) -> () {}", "t.kir:1:16", "expected '[' after dtype"},
    {"func @f(%x: f32[2 3]) -> () {}", "t.kir:1:19", "expected ',' or ']' in shape"},
    {"func @f(%x: f32[2.5]) -> () {}", "t.kir:1:17", "expected integer dimension"},
    {"func @f(%x: f32[2,-1]) -> () {}", "t.kir:1:13", "shape [2,-1] has a negative dimension"},
    {"func @f(%x: f32[99999999999,99999999999]) -> () {}", "t.kir:1:13",
     "shape [99999999999,99999999999] exceeds the limit of 1099511627776 elements"},
    {"func @f(%x: f32[99999999999999999999]) -> () {}", "t.kir:1:17", "integer literal out of range"},
    {"func @f() (f32[]) {}", "t.kir:1:11", "expected '->' after parameters"},
    {"func @f() -> f32[] {}", "t.kir:1:14", "expected '(' before result types"},
    {"func @f() -> (f32[] f32[]) {}", "t.kir:1:21", "expected ',' or ')' in result types"},
    {"func @f() -> () return }", "t.kir:1:17", "expected '{' to open function body"},
    {"func @f() -> () {\n  return\n", "t.kir:3:1", "expected '}' to close function body"},
    {"func @f() -> () {\n", "t.kir:2:1", "unexpected end of input in the body of @f"},
    {"func @f() -> () {\n}", "t.kir:2:1", "expected a node or 'return'"},
    {"func @f(%a: f32[]) -> () {\n  %0 = foo %a : f32[]\n  return\n}", "t.kir:2:8", "unknown op 'foo'"},
    {"func @f(%a: f32[]) -> () {\n  %0 = neg %q : f32[]\n  return\n}", "t.kir:2:12",
     "use of undefined value '%q'"},
    {"func @f(%a: f32[]) -> () {\n  %0 = neg %0 : f32[]\n  return\n}", "t.kir:2:12",
     "use of undefined value '%0'"},
    {"func @f(%a: f32[]) -> () {\n  %a = neg %a : f32[]\n  return\n}", "t.kir:2:3",
     "redefinition of value '%a'"},
    {"func @f(%a: f32[]) -> () {\n  %b, %b = neg %a : f32[], f32[]\n  return\n}", "t.kir:2:7",
     "redefinition of value '%b'"},
    {"func @f(%a: f32[]) -> () {\n  %0 neg %a : f32[]\n  return\n}", "t.kir:2:6",
     "expected '=' after result names"},
    {"func @f(%a: f32[]) -> () {\n  %0 = %a : f32[]\n  return\n}", "t.kir:2:8", "expected op name"},
    {"func @f(%a: f32[]) -> () {\n  %0 = add %a, %a, %a : f32[]\n  return\n}", "t.kir:2:8",
     "'add' takes 2 operands, got 3"},
    {"func @f(%a: f32[]) -> () {\n  %0 = neg : f32[]\n  return\n}", "t.kir:2:8",
     "'neg' takes 1 operand, got 0"},
    {"func @f(%a: f32[]) -> () {\n  %0 = add %a, : f32[]\n  return\n}", "t.kir:2:16",
     "expected operand after ','"},
    {"func @f(%a: f32[]) -> () {\n  %0 = neg %a f32[]\n  return\n}", "t.kir:2:15",
     "expected ':' after operands"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axes=[0]} f32[]\n  return\n}", "t.kir:2:33",
     "expected ':' after attributes"},
    {"func @f(%a: f32[]) -> () {\n  %0 = neg %a :\n  return\n}", "t.kir:3:3", "unknown dtype 'return'"},
    {"func @f(%a: f32[]) -> () {\n  %0 = neg %a : f32[], f32[]\n  return\n}", "t.kir:2:17",
     "expected 1 result type to match the result names, got 2"},
    {"func @f(%a: f32[]) -> () {\n  %0 = neg %a : ()\n  return\n}", "t.kir:2:17",
     "expected 1 result type to match the result names, got 0"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axis=[0]} : f32[]\n  return\n}", "t.kir:2:23",
     "'reduce_sum' has no attribute 'axis'"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axes=0} : f32[]\n  return\n}", "t.kir:2:28",
     "attribute 'axes' must be an integer list, got an integer"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axes=dense<1>} : f32[]\n  return\n}",
     "t.kir:2:28", "attribute 'axes' must be an integer list, got a dense tensor"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axes=[0], axes=[0]} : f32[]\n  return\n}",
     "t.kir:2:33", "duplicate attribute 'axes'"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axes [0]} : f32[]\n  return\n}", "t.kir:2:28",
     "expected '=' after attribute name"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axes=[0] keepdims=true} : f32[]\n  return\n}",
     "t.kir:2:32", "expected ',' or '}' in attribute list"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axes=[0.5]} : f32[]\n  return\n}", "t.kir:2:29",
     "expected integer in list"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axes=[0 1]} : f32[]\n  return\n}", "t.kir:2:31",
     "expected ',' or ']' in integer list"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axes=%a} : f32[]\n  return\n}", "t.kir:2:28",
     "expected attribute value"},
    {"func @f(%a: f32[2]) -> () {\n  %0 = reduce_sum %a {axes=[99999999999999999999]} : f32[]\n"
     "  return\n}", "t.kir:2:29", "integer literal out of range"},
    {"func @f(%a: f32[]) -> () {\n  %0 = pow %a {exponent=1e999} : f32[]\n  return\n}", "t.kir:2:25",
     "float literal 1e999 out of range for f64"},
    {"func @f(%a: f32[]) -> () {\n  %0 = neg %a : f32[] func @g() -> () {\n  return\n}\n  return\n}",
     "t.kir:2:23", "'neg' does not take a body"},
    {"func @f(%a: f32[]) -> () {\n  %0 = fused %a : f32[]\n  return\n}", "t.kir:3:3",
     "expected 'func' body after the result types of 'fused'"},
    {"func @f(%a: f32[]) -> () {\n  return %a\n}", "t.kir:2:3",
     "'return' has 1 value, but @f declares 0 results"},
    {"func @f(%a: f32[]) -> (f32[], f32[]) {\n  return %a\n}", "t.kir:2:3",
     "'return' has 1 value, but @f declares 2 results"},
    {"func @f(%a: f32[]) -> (f32[1]) {\n  return %a\n}", "t.kir:2:10",
     "return value %a has type f32[], but @f declares f32[1]"},
    {"func @f(%a: f32[]) -> (f32[]) {\n  return %b\n}", "t.kir:2:10", "use of undefined value '%b'"},
    {"func @f(%a: f32[]) -> (f32[]) {\n  return %a,\n}", "t.kir:3:1", "expected value name after ','"},
};
// clang-format on
} // namespace

TEST(IrTextErrors, EachProblemIsReportedAtItsToken) {
  for (const ErrorCase &c : kParseErrors) {
    Error e = parseError(c.text);
    EXPECT_EQ(e.kind(), ErrorKind::Parse) << c.text;
    EXPECT_EQ(e.where(), c.where) << c.text;
    EXPECT_EQ(e.message(), c.message) << c.text;
  }
}

TEST(IrTextErrors, ErrorsPrintAsFileLineColError) {
  Error e = parseError("func @f(%x: f16[]) -> () {}");
  EXPECT_STREQ(e.what(), "t.kir:1:13: error: unknown dtype 'f16'");
}

namespace {
// clang-format off
const ErrorCase kDenseErrors[] = {
    {"f32[2,3]", "dense<[1,2,3,4,5]>", "dense literal has 5 elements, expected 6 for f32[2,3]"},
    {"f32[2]", "dense<[[1],[2],[3]]>", "dense literal has 3 elements, expected 2 for f32[2]"},
    {"i64[2]", "dense<[1,2.5]>", "expected an integer literal for i64, got '2.5'"},
    {"i64[]", "dense<true>", "expected an integer literal for i64, got 'true'"},
    {"u8[2]", "dense<[1,256]>", "integer literal 256 out of range for u8"},
    {"u8[]", "dense<-1>", "integer literal -1 out of range for u8"},
    {"bool[]", "dense<2>", "expected true, false, 0 or 1 for bool, got '2'"},
    {"f32[]", "dense<1e39>", "float literal 1e39 out of range for f32"},
    {"f32[]", "dense<x>", "expected a number or boolean in dense literal"},
    {"f32[2]", "dense<[1,]>", "expected a number or boolean in dense literal"},
    {"f32[2]", "dense<[,1]>", "expected a number or boolean in dense literal"},
    {"f32[2]", "dense<[1 2]>", "expected ',' or ']' in dense literal"},
    {"f32[2]", "dense<[1,2]", "expected '>' to close dense literal"},
    {"f32[2]", "dense[1,2]", "expected '<' after 'dense'"},
};
// clang-format on
} // namespace

TEST(IrTextErrors, DenseLiteralsAreCheckedAgainstTheResultType) {
  for (const ErrorCase &c : kDenseErrors) {
    Error e = parseError(constantText(c.text, c.where));
    EXPECT_EQ(e.kind(), ErrorKind::Parse) << c.where;
    EXPECT_EQ(e.message(), c.message) << c.where;
    EXPECT_EQ(e.where().rfind("t.kir:2:", 0), 0u) << c.where << " at " << e.where();
  }
}

TEST(IrTextErrors, DenseElementErrorsPointAtTheElement) {
  Error e = parseError(constantText("i64[3]", "dense<[1,\n    2,\n    2.5]>"));
  EXPECT_EQ(e.where(), "t.kir:4:5");
}

TEST(IrTextErrors, ADenseAttributeNeedsAResultType) {
  Error e = parseError("func @f() -> () {\n  constant {value=dense<1>} : ()\n  return\n}");
  EXPECT_EQ(e.message(), "a dense attribute needs a result type to take its type from");
  EXPECT_EQ(e.where(), "t.kir:2:19");
}

//===----------------------------------------------------------------------===//
// Hostile input
//===----------------------------------------------------------------------===//

TEST(IrTextLimits, InputLargerThanTheLimitIsRefused) {
  ParseLimits limits;
  limits.maxBytes = 16;
  Error e = parseError(kLinreg, limits);
  EXPECT_EQ(e.kind(), ErrorKind::Resource);
  EXPECT_NE(e.message().find("larger than the limit of 16 bytes"), std::string::npos);
}

TEST(IrTextLimits, DenseNestingIsBoundedWithoutRecursion) {
  std::string deep(100000, '[');
  Error e = parseError(constantText("f32[1]", "dense<" + deep + ">"));
  EXPECT_EQ(e.kind(), ErrorKind::Resource);
  EXPECT_EQ(e.message(), "dense literal nested deeper than 64 levels");
  EXPECT_EQ(e.where(), "t.kir:2:94");
}

TEST(IrTextLimits, DenseElementCountIsBoundedBeforeAllocating) {
  ParseLimits limits;
  limits.maxDenseElements = 4;
  Error tooMany = parseError(constantText("f32[5]", "dense<[1,2,3,4,5]>"), limits);
  EXPECT_EQ(tooMany.kind(), ErrorKind::Resource);
  EXPECT_EQ(tooMany.message(), "dense literal has more than 4 elements");
  Error splat = parseError(constantText("f32[1000000000]", "dense<0>"), limits);
  EXPECT_EQ(splat.kind(), ErrorKind::Resource);
  EXPECT_EQ(splat.message(), "dense literal of type f32[1000000000] has more than 4 elements");
}

TEST(IrTextLimits, RankIsBounded) {
  std::string dims = "1";
  for (int i = 0; i < 64; ++i)
    dims += ",1";
  Error e = parseError(fmt::format("func @f(%x: f32[{}]) -> () {{}}", dims));
  EXPECT_EQ(e.kind(), ErrorKind::Resource);
  EXPECT_EQ(e.message(), "type has more than 64 dimensions");
}

TEST(IrTextLimits, NestedBodiesAreBounded) {
  std::string text;
  for (int i = 0; i < 100; ++i)
    text += "func @f(%a: f32[]) -> (f32[]) {\n %0 = fused %a : f32[] ";
  Error e = parseError(text);
  EXPECT_EQ(e.kind(), ErrorKind::Resource);
  EXPECT_EQ(e.message(), "functions nested deeper than 64 levels");
}

TEST(IrTextLimits, EveryPrefixOfValidTextFailsCleanly) {
  std::string text = std::string(kLinreg) + constantText("f32[2,2]", "dense<[[1,2],[3,4]]>");
  for (size_t n = 0; n < text.size(); ++n) {
    try {
      Module m = parse(text.substr(0, n));
      verify(m);
      (void)print(m);
    } catch (const Error &) {
    }
  }
}

TEST(IrTextLimits, RandomlyCorruptedTextFailsCleanly) {
  std::string text = std::string(kLinreg) + constantText("f32[2,2]", "dense<[[1,2],[3,4]]>");
  const std::string alphabet = "%@[](){}<>,:=-.0123456789 \nfuncretdens/x";
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::string mutated = text;
    for (int k = 0; k < 3; ++k)
      mutated[rng() % mutated.size()] = alphabet[rng() % alphabet.size()];
    try {
      Module m = parse(mutated);
      verify(m);
      std::string printed = print(m);
      EXPECT_EQ(print(parse(printed)), printed) << "fixed point for:\n" << mutated;
    } catch (const Error &e) {
      EXPECT_TRUE(e.kind() == ErrorKind::Parse || e.kind() == ErrorKind::Verify ||
                  e.kind() == ErrorKind::Resource)
          << e.what();
    }
  }
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

TEST(IrTextFiles, ParseFileNamesTheFileInDiagnostics) {
  std::string path = ::testing::TempDir() + "kiln_parser_test.kir";
  {
    std::ofstream out(path);
    out << "func @f() -> () {\n  retur\n}\n";
  }
  try {
    parseFile(path);
    ADD_FAILURE() << "expected a parse error";
  } catch (const Error &e) {
    EXPECT_EQ(e.where(), path + ":2:3");
    EXPECT_EQ(e.message(), "unknown op 'retur'");
  }
  std::remove(path.c_str());
}

TEST(IrTextFiles, AnUnopenableFileIsAnIoError) {
  try {
    parseFile("/nonexistent/dir/x.kir");
    ADD_FAILURE() << "expected an I/O error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_EQ(e.message(), "cannot open '/nonexistent/dir/x.kir': No such file or directory");
  }
}

TEST(IrTextFiles, ADirectoryIsAnIoError) {
  try {
    parseFile(::testing::TempDir());
    ADD_FAILURE() << "expected an I/O error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io) << e.what();
  }
}
