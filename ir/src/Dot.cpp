//===- Dot.cpp - Graphviz export ------------------------------------------===//
//
// One dot node per parameter (a box), per IR node (an ellipse labelled with
// its results, op, attributes and result types) and one `return` node (a
// double circle) per function; edges follow dataflow. Edge labels give the
// operand position when the consumer has several operands, and the result
// position (as a tail label) when the producer has several results. A module
// draws each function as a cluster. The output depends only on the IR, so it
// can be diffed and FileCheck'ed.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/Dot.h"
#include "kiln/ir/ValueNames.h"
#include "kiln/ir/OpDef.h"
#include "kiln/ir/Printer.h"

#include <fmt/format.h>

#include <iterator>

namespace kiln::ir {
namespace {

/// Attribute values longer than this are cut short in labels.
constexpr size_t kMaxAttrText = 40;

/// A dot string literal's contents: quotes and backslashes escaped; the
/// lines of `lines` joined by dot's `\n`.
std::string escapeLines(const std::vector<std::string> &lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i)
      out += "\\n";
    for (char c : lines[i]) {
      if (c == '"' || c == '\\')
        out += '\\';
      if (c == '\n' || c == '\r')
        continue;
      out += c;
    }
  }
  return out;
}

std::string shorten(std::string s) {
  if (s.size() > kMaxAttrText) {
    s.resize(kMaxAttrText - 3);
    s += "...";
  }
  return s;
}

class DotWriter {
public:
  /// `prefix` keeps the dot ids of functions in one module apart.
  DotWriter(const Function &f, std::string prefix, std::string &out, int indent)
      : f_(f), prefix_(std::move(prefix)), out_(out), pad_(size_t(indent), ' '),
        names_(text::valueNames(f)) {}

  void write() {
    for (size_t i = 0; i < f_.params().size(); ++i)
      writeParam(i);
    for (size_t i = 0; i < f_.nodes().size(); ++i)
      writeNode(i);
    writeReturn();
  }

private:
  bool inRange(ValueId v) const { return v.valid() && size_t(v.id) < f_.numValues(); }
  std::string valueName(ValueId v) const {
    return "%" + (inRange(v) ? names_[size_t(v.id)] : std::string("<invalid>"));
  }
  std::string typeName(ValueId v) const { return inRange(v) ? f_.type(v).str() : "<invalid>"; }

  /// The dot id of whatever defines `v`: "p3" for parameter 3, "n7" for node 7.
  std::string source(ValueId v) const {
    const ValueInfo &info = f_.value(v);
    return fmt::format("{}{}{}", prefix_, info.defNode < 0 ? "p" : "n",
                       info.defNode < 0 ? info.index : info.defNode);
  }

  void line(std::string_view text) {
    out_ += pad_;
    out_ += text;
    out_ += '\n';
  }

  void writeParam(size_t i) {
    ValueId p = f_.params()[i];
    line(fmt::format("{}p{} [shape=box, label=\"{}\"];", prefix_, i,
                     escapeLines({valueName(p), typeName(p)})));
  }

  std::vector<std::string> nodeLabel(const Node &n) const {
    std::string head;
    for (size_t i = 0; i < n.results.size(); ++i)
      head += (i ? ", " : "") + valueName(n.results[i]);
    head += fmt::format("{}{}", n.results.empty() ? "" : " = ", opName(n.op));
    if (n.body)
      head += fmt::format(" @{}", text::functionName(*n.body));
    std::vector<std::string> lines{head};
    for (const auto &[name, value] : n.attrs.entries())
      lines.push_back(fmt::format("{}={}", name, shorten(printAttr(value))));
    if (n.body) {
      std::string ops;
      for (const Node &inner : n.body->nodes())
        ops += fmt::format("{}{}", ops.empty() ? "" : ", ", opName(inner.op));
      lines.push_back(shorten("{" + ops + "}"));
    }
    std::string types;
    for (size_t i = 0; i < n.results.size(); ++i)
      types += (i ? ", " : "") + typeName(n.results[i]);
    lines.push_back(types);
    return lines;
  }

  /// An edge from the definition of `v` to `target`, labelled as the header
  /// comment describes.
  void writeEdge(ValueId v, const std::string &target, size_t position, size_t fanIn) {
    if (!inRange(v))
      return;
    std::vector<std::string> attrs;
    if (fanIn > 1)
      attrs.push_back(fmt::format("label=\"{}\"", position));
    const ValueInfo &info = f_.value(v);
    if (info.defNode >= 0 && size_t(info.defNode) < f_.nodes().size() &&
        f_.nodes()[size_t(info.defNode)].results.size() > 1)
      attrs.push_back(fmt::format("taillabel=\"{}\"", info.index));
    std::string edge = fmt::format("{} -> {}", source(v), target);
    if (!attrs.empty()) {
      edge += " [";
      for (size_t i = 0; i < attrs.size(); ++i)
        edge += (i ? ", " : "") + attrs[i];
      edge += "]";
    }
    line(edge + ";");
  }

  void writeNode(size_t i) {
    const Node &n = f_.nodes()[i];
    std::string id = fmt::format("{}n{}", prefix_, i);
    line(fmt::format("{} [shape={}, label=\"{}\"];", id, n.body ? "component" : "ellipse",
                     escapeLines(nodeLabel(n))));
    for (size_t k = 0; k < n.operands.size(); ++k)
      writeEdge(n.operands[k], id, k, n.operands.size());
  }

  void writeReturn() {
    std::string id = prefix_ + "ret";
    line(fmt::format("{} [shape=doublecircle, label=\"return\"];", id));
    for (size_t k = 0; k < f_.results().size(); ++k)
      writeEdge(f_.results()[k], id, k, f_.results().size());
  }

  const Function &f_;
  std::string prefix_;
  std::string &out_;
  std::string pad_;
  std::vector<std::string> names_;
};

constexpr std::string_view kGraphStyle = "node [fontname=\"monospace\", fontsize=10];";

} // namespace

std::string toDot(const Function &f) {
  std::string out = fmt::format("digraph \"{}\" {{\n  {}\n", escapeLines({f.name()}), kGraphStyle);
  DotWriter(f, "", out, 2).write();
  out += "}\n";
  return out;
}

std::string toDot(const Module &m) {
  std::string out = fmt::format("digraph \"module\" {{\n  {}\n", kGraphStyle);
  for (size_t i = 0; i < m.functions.size(); ++i) {
    const Function &f = m.functions[i];
    fmt::format_to(std::back_inserter(out), "  subgraph cluster_{} {{\n    label=\"@{}\";\n", i,
                   escapeLines({f.name()}));
    DotWriter(f, fmt::format("f{}_", i), out, 4).write();
    out += "  }\n";
  }
  out += "}\n";
  return out;
}

} // namespace kiln::ir
