//===- OpsCommand.cpp - kiln ops ------------------------------------------===//
#include "Command.h"
#include "support/IrInput.h"

#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <array>

namespace kiln::tool {
namespace {

using Row = std::array<std::string, 6>;

/// "axes:ints, keepdims?:bool" ('?' marks an optional attribute).
std::string attrSignature(const ir::OpDef &def) {
  std::string out;
  for (const ir::AttrSpec &a : def.attrs)
    out += fmt::format("{}{}{}:{}", out.empty() ? "" : ", ", a.name, a.required ? "" : "?",
                       ir::attrKindName(a.kind));
  return out.empty() ? "-" : out;
}

std::string gradientColumn(const ir::OpDef &def) {
  if (!def.differentiable)
    return "no";
  return def.grad ? "yes" : "MISSING";
}

Row describe(const ir::OpDef &def) {
  return {std::string(def.name), def.arity < 0 ? "n" : std::to_string(def.arity),
          attrSignature(def),    std::string(ir::fusionClassName(def.fusion)),
          gradientColumn(def),   std::string(def.summary)};
}

/// Left-aligned columns; the last one is not padded.
std::string renderTable(const std::vector<Row> &rows) {
  std::array<size_t, 6> width{};
  for (const Row &r : rows)
    for (size_t c = 0; c < r.size(); ++c)
      width[c] = std::max(width[c], r[c].size());
  std::string out;
  for (const Row &r : rows) {
    for (size_t c = 0; c + 1 < r.size(); ++c)
      out += fmt::format("{:<{}}  ", r[c], width[c]);
    out += r.back() + "\n";
  }
  return out;
}

/// `kiln ops [OP]`: the op table, as every part of kiln sees it.
class OpsCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    app.add_option("op", op_, "Show only this op")->type_name("OP");
  }

  int run() override {
    std::vector<Row> rows = {{"op", "arity", "attributes", "fusion", "grad", "summary"}};
    if (!op_.empty()) {
      const ir::OpDef *def = ir::findOp(op_);
      if (!def)
        throw Error(ErrorKind::Usage, fmt::format("unknown op '{}' (see 'kiln ops')", op_));
      rows.push_back(describe(*def));
    } else {
      for (const ir::OpDef *def : ir::allOps())
        rows.push_back(describe(*def));
    }
    writeOutput("-", renderTable(rows));
    return 0;
  }

private:
  std::string op_;
};

KILN_REGISTER_COMMAND(OpsCommand, "ops",
                      "List the op table: arity, attributes, fusion class, gradient, summary");

} // namespace
} // namespace kiln::tool
