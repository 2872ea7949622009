//===- Verifier.cpp - IR well-formedness ----------------------------------===//
//
// Walks a function in program order and stops at the first broken rule:
// SSA (operands are values of the function, defined before use; value names
// are unique), op signatures and shape rules (through checkAndInfer, the
// same check the Builder applies), `fused` bodies against their node, and
// returned values. Errors are located at the node; a node without a
// location is described in the message instead ("in @f, node #3 ('add')").
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/Verifier.h"
#include "kiln/ir/ValueNames.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <unordered_map>
#include <unordered_set>

namespace kiln::ir {
namespace {

class FunctionVerifier {
public:
  explicit FunctionVerifier(const Function &f) : f_(f), names_(text::valueNames(f)) {}

  void run() {
    checkParams();
    for (size_t i = 0; i < f_.nodes().size(); ++i)
      checkNode(i);
    checkResults();
  }

private:
  bool inRange(ValueId v) const { return v.valid() && size_t(v.id) < f_.numValues(); }
  std::string show(ValueId v) const { return "%" + names_[size_t(v.id)]; }

  /// Throws `message` located at node `index`, or naming it when it has no
  /// location.
  [[noreturn]] void failAt(size_t index, const std::string &message,
                           ErrorKind kind = ErrorKind::Verify) const {
    const Node &n = f_.nodes()[index];
    if (n.loc.known())
      throw Error(kind, message, n.loc);
    throw Error(
        kind, fmt::format("in @{}, node #{} ('{}'): {}", f_.name(), index, opName(n.op), message));
  }

  /// Throws `message` located at `at`, or at the function.
  [[noreturn]] void failIn(const std::string &message, const Location &at = {}) const {
    if (at.known())
      throw Error(ErrorKind::Verify, message, at);
    if (f_.loc.known())
      throw Error(ErrorKind::Verify, message, f_.loc);
    throw Error(ErrorKind::Verify, fmt::format("in @{}: {}", f_.name(), message));
  }

  /// Value names are unique within a function; unnamed and numbered values
  /// are exempt (the printer numbers them).
  void claimName(ValueId v, size_t nodeIndex) {
    const std::string &name = f_.value(v).name;
    if (name.empty() || text::isNumericName(name))
      return;
    if (seenNames_.insert(name).second)
      return;
    std::string message = fmt::format("value name '%{}' is defined twice", name);
    if (f_.isParam(v))
      failIn(message);
    failAt(nodeIndex, message);
  }

  void checkParams() {
    for (size_t i = 0; i < f_.params().size(); ++i) {
      ValueId p = f_.params()[i];
      if (!inRange(p) || !f_.isParam(p))
        failIn(fmt::format("parameter #{} is not a parameter value", i));
      if (auto problem = f_.type(p).shape.validate())
        failIn(fmt::format("parameter {}: {}", show(p), *problem));
      claimName(p, 0);
    }
  }

  void checkNode(size_t index) {
    const Node &n = f_.nodes()[index];
    const OpDef &def = opDef(n.op);
    std::vector<TensorType> operandTypes;
    for (size_t k = 0; k < n.operands.size(); ++k) {
      ValueId v = n.operands[k];
      if (!inRange(v))
        failAt(index,
               fmt::format("operand #{} of '{}' is not a value of @{}", k, def.name, f_.name()));
      if (f_.value(v).defNode >= int32_t(index))
        failAt(index,
               fmt::format("operand {} of '{}' is used before it is defined", show(v), def.name));
      operandTypes.push_back(f_.type(v));
    }
    for (size_t k = 0; k < n.results.size(); ++k) {
      ValueId r = n.results[k];
      if (!inRange(r) || f_.value(r).defNode != int32_t(index))
        failAt(index, fmt::format("result #{} of '{}' is not a value defined by it", k, def.name));
      claimName(r, index);
    }
    if (n.op == OpKind::Fused)
      checkFused(index, operandTypes);
    else
      checkOp(index, def, operandTypes);
  }

  /// Arity, attributes and the shape rule, as the Builder checks them.
  void checkOp(size_t index, const OpDef &def, const std::vector<TensorType> &operandTypes) {
    const Node &n = f_.nodes()[index];
    if (n.body)
      failAt(index, fmt::format("'{}' does not take a body", def.name));
    if (n.results.size() != 1)
      failAt(index, fmt::format("'{}' must have 1 result, got {}", def.name, n.results.size()));
    const TensorType &resultType = f_.type(n.results[0]);
    try {
      checkAndInfer(def, operandTypes, n.attrs, std::optional<TensorType>(resultType));
    } catch (const Error &e) {
      failAt(index, e.message(), e.kind());
    }
    for (const auto &[name, value] : n.attrs.entries())
      if (const auto *dense = std::get_if<HostTensor>(&value))
        if (dense->type() != resultType)
          failAt(index, fmt::format("dense attribute '{}' of type {} does not match the result "
                                    "type {}",
                                    name, dense->type().str(), resultType.str()));
  }

  /// A fused node computes its body: same operand types as the body's
  /// parameters, same result types as its results; the body is of its kind.
  void checkFused(size_t index, const std::vector<TensorType> &operandTypes) {
    const Node &n = f_.nodes()[index];
    if (!n.body)
      failAt(index, "'fused' has no body");
    for (const auto &[name, value] : n.attrs.entries())
      if (name != "kind")
        failAt(index, fmt::format("'fused' has no attribute '{}'", name));
    const Attr *kind = n.attrs.find("kind");
    if (!kind || !std::holds_alternative<FusionKind>(*kind))
      failAt(index, "'fused' needs its kind: {kind=loop}, reduction, matmul or softmax_xent");
    const Function &body = *n.body;
    FunctionVerifier(body).run();
    checkFusedKind(index, std::get<FusionKind>(*kind), body);
    if (operandTypes.size() != body.params().size())
      failAt(index, fmt::format("'fused' has {} operands, but its body @{} takes {}",
                                operandTypes.size(), body.name(), body.params().size()));
    for (size_t i = 0; i < operandTypes.size(); ++i)
      if (operandTypes[i] != body.type(body.params()[i]))
        failAt(index,
               fmt::format("'fused' operand #{} is {}, but its body @{} expects {}", i,
                           operandTypes[i].str(), body.name(), body.type(body.params()[i]).str()));
    if (n.results.size() != body.results().size())
      failAt(index, fmt::format("'fused' has {} results, but its body @{} returns {}",
                                n.results.size(), body.name(), body.results().size()));
    for (size_t i = 0; i < n.results.size(); ++i)
      if (f_.type(n.results[i]) != body.type(body.results()[i]))
        failAt(index, fmt::format("'fused' result #{} is {}, but its body @{} returns {}", i,
                                  f_.type(n.results[i]).str(), body.name(),
                                  body.type(body.results()[i]).str()));
  }

  /// The ops a body of each kind may hold (the runtime lowers by the kind).
  void checkFusedKind(size_t index, FusionKind kind, const Function &body) {
    int matmuls = 0, reductions = 0, logSoftmaxes = 0, others = 0;
    for (const Node &m : body.nodes()) {
      const OpDef &def = opDef(m.op);
      matmuls += m.op == OpKind::Matmul;
      logSoftmaxes += m.op == OpKind::LogSoftmax;
      bool elementwise = def.scalar != nullptr || m.op == OpKind::Constant;
      reductions += !elementwise && def.fusion == FusionClass::Reduction;
      others += !elementwise && def.fusion != FusionClass::Reduction && m.op != OpKind::Matmul &&
                m.op != OpKind::LogSoftmax;
    }
    auto fail = [&](std::string_view what) {
      failAt(index, fmt::format("'fused' of kind {}: {}", fusionKindName(kind), what));
    };
    switch (kind) {
    case FusionKind::Loop:
      if (matmuls + reductions + logSoftmaxes + others)
        fail("its body may hold only elementwise ops and constants");
      break;
    case FusionKind::Reduction:
      if (reductions != 1 || matmuls + logSoftmaxes + others)
        fail("its body must hold one reduction and otherwise elementwise ops");
      break;
    case FusionKind::Matmul:
      if (matmuls != 1)
        fail("its body must hold one matmul");
      break;
    case FusionKind::SoftmaxCrossEntropy:
      if (logSoftmaxes != 1 || matmuls)
        fail("its body must hold one log_softmax and no matmul");
      break;
    }
  }

  void checkResults() {
    for (size_t k = 0; k < f_.results().size(); ++k) {
      Location at = k < f_.resultLocs.size() ? f_.resultLocs[k] : Location{};
      if (!inRange(f_.results()[k]))
        failIn(fmt::format("return value #{} is not a value of @{}", k, f_.name()), at);
    }
  }

  const Function &f_;
  std::vector<std::string> names_;
  std::unordered_set<std::string> seenNames_;
};

} // namespace

void verify(const Function &f) { FunctionVerifier(f).run(); }

void verify(const Module &m) {
  std::unordered_set<std::string> names;
  for (const Function &f : m.functions) {
    if (!names.insert(f.name()).second) {
      std::string message = fmt::format("redefinition of function '@{}'", f.name());
      if (f.loc.known())
        throw Error(ErrorKind::Verify, message, f.loc);
      throw Error(ErrorKind::Verify, message);
    }
    verify(f);
  }
}

} // namespace kiln::ir
