//===- OpTable.cpp - Assembles the op table from its families -------------===//
#include "OpFamilies.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <array>

namespace kiln::ir {

namespace {
constexpr size_t kNumOps = 0
#define KILN_OP(Name) +1
#include "kiln/ir/Ops.def"
    ;

/// Indexes every family's OpDefs by kind, checking that each kind listed in
/// Ops.def is defined exactly once.
struct OpTable {
  std::array<const OpDef *, kNumOps> byKind{};

  OpTable() {
    for (auto family : {ops::sourceOps(), ops::elementwiseOps(), ops::layoutOps(),
                        ops::reductionOps(), ops::nnOps(), ops::regionOps()})
      for (const OpDef &def : family) {
        check(byKind[size_t(def.kind)] == nullptr, "op defined twice in the op table");
        byKind[size_t(def.kind)] = &def;
      }
    for (const OpDef *def : byKind)
      check(def != nullptr, "an op of Ops.def has no OpDef");
  }
};

const OpTable &table() {
  static const OpTable t;
  return t;
}
} // namespace

const OpDef &opDef(OpKind op) { return *table().byKind.at(size_t(op)); }

const OpDef *findOp(std::string_view name) {
  for (const OpDef *def : table().byKind)
    if (def->name == name)
      return def;
  return nullptr;
}

std::span<const OpDef *const> allOps() { return table().byKind; }

std::string_view fusionClassName(FusionClass c) {
  switch (c) {
  case FusionClass::Elementwise: return "elementwise";
  case FusionClass::Broadcast: return "broadcast";
  case FusionClass::Injective: return "injective";
  case FusionClass::Reduction: return "reduction";
  case FusionClass::OutputFusable: return "output-fusable";
  case FusionClass::Opaque: return "opaque";
  }
  return "?";
}

/// "an integer", "a float".
static std::string withArticle(std::string_view noun) {
  bool vowel = !noun.empty() && std::string_view("aeiou").find(noun[0]) != std::string_view::npos;
  return fmt::format("{} {}", vowel ? "an" : "a", noun);
}

static void checkAttributes(const OpDef &def, const AttrList &attrs) {
  for (const auto &[name, value] : attrs.entries()) {
    const AttrSpec *spec = nullptr;
    for (const AttrSpec &s : def.attrs)
      if (s.name == name)
        spec = &s;
    if (!spec)
      throw Error(ErrorKind::Verify, fmt::format("'{}' has no attribute '{}'", def.name, name));
    AttrKind kind = attrKind(value);
    bool intAsFloat = spec->kind == AttrKind::Float && kind == AttrKind::Int;
    if (kind != spec->kind && !intAsFloat)
      throw Error(ErrorKind::Verify,
                  fmt::format("attribute '{}' of '{}' must be {}, got {}", name, def.name,
                              withArticle(attrKindName(spec->kind)),
                              withArticle(attrKindName(kind))));
  }
  for (const AttrSpec &s : def.attrs)
    if (s.required && !attrs.has(s.name))
      throw Error(ErrorKind::Verify,
                  fmt::format("'{}' requires attribute '{}'", def.name, s.name));
}

TensorType checkAndInfer(const OpDef &def, std::span<const TensorType> operands,
                         const AttrList &attrs, const std::optional<TensorType> &declared) {
  if (!def.infer)
    throw Error(ErrorKind::Verify,
                fmt::format("'{}' takes a region: build it with Builder::fused", def.name));
  if (int(operands.size()) != def.arity)
    throw Error(ErrorKind::Verify, fmt::format("'{}' takes {} operand{}, got {}", def.name,
                                               def.arity, def.arity == 1 ? "" : "s",
                                               operands.size()));
  checkAttributes(def, attrs);
  if (def.declaresResultType && !declared)
    throw Error(ErrorKind::Verify, fmt::format("'{}' needs an explicit result type", def.name));
  if (declared)
    if (auto problem = declared->shape.validate())
      throw Error(ErrorKind::Verify, *problem);
  TensorType t = def.infer(InferContext{def.name, operands, attrs, declared});
  if (auto problem = t.shape.validate())
    throw Error(ErrorKind::Verify, fmt::format("'{}': {}", def.name, *problem));
  if (declared && *declared != t)
    throw Error(ErrorKind::Verify,
                fmt::format("'{}' result type {} does not match inferred type {}", def.name,
                            declared->str(), t.str()));
  return t;
}

} // namespace kiln::ir
