//===- Printer.cpp - Module to IR text ------------------------------------===//
//
// The canonical IR text (docs/ir.md): two-space indent, one node per
// line, a type on every line, attributes sorted by name. A `fused` node is
// followed by its body, printed as a nested function:
//
//   %2 = fused %0, %b : f32[10,1] func @fused_add_relu(%arg0: f32[10,1], ...) -> (f32[10,1]) {
//     ...
//   }
//
// The printer never fails: IR that does not verify is printed as faithfully
// as possible (a dangling operand prints as `%<invalid>`, which the parser
// rejects), so that broken pass output can still be inspected.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/Printer.h"
#include "kiln/ir/ValueNames.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <iterator>
#include <unordered_map>
#include <unordered_set>

namespace kiln::ir {

//===----------------------------------------------------------------------===//
// Value names
//===----------------------------------------------------------------------===//

namespace text {

static std::string replaceInvalidChars(std::string_view name) {
  std::string s(name);
  for (char &c : s)
    if (!isNameChar(c))
      c = '_';
  return s;
}

std::string sanitizeName(std::string_view name) {
  if (name.empty() || isNumericName(name))
    return {};
  return replaceInvalidChars(name);
}

namespace {
/// Hands out distinct names: a taken name gets the first free `.N` suffix.
class UniqueNames {
public:
  std::string claim(std::string base) {
    if (used_.insert(base).second)
      return base;
    int &k = nextSuffix_[base];
    for (;;) {
      std::string candidate = fmt::format("{}.{}", base, ++k);
      if (used_.insert(candidate).second)
        return candidate;
    }
  }

private:
  std::unordered_set<std::string> used_;
  std::unordered_map<std::string, int> nextSuffix_;
};
} // namespace

std::vector<std::string> valueNames(const Function &f) {
  std::vector<std::string> names(f.numValues(), "<invalid>");
  UniqueNames unique;
  auto inRange = [&](ValueId v) { return v.valid() && size_t(v.id) < names.size(); };
  for (size_t i = 0; i < f.params().size(); ++i) {
    ValueId p = f.params()[i];
    if (!inRange(p))
      continue;
    std::string name = sanitizeName(f.value(p).name);
    names[size_t(p.id)] = unique.claim(name.empty() ? fmt::format("arg{}", i) : name);
  }
  int64_t counter = 0;
  for (const Node &n : f.nodes())
    for (ValueId r : n.results) {
      if (!inRange(r))
        continue;
      std::string name = sanitizeName(f.value(r).name);
      names[size_t(r.id)] = unique.claim(name.empty() ? fmt::format("{}", counter++) : name);
    }
  return names;
}

std::string functionName(const Function &f) {
  return f.name().empty() ? std::string("unnamed") : replaceInvalidChars(f.name());
}

} // namespace text

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

namespace {

using Out = std::back_insert_iterator<std::string>;

/// Shortest round-trip text of a double that still reads as a float: `2.0`,
/// not `2`.
void printFloatAttr(double d, std::string &out) {
  size_t start = out.size();
  fmt::format_to(Out(out), "{}", d);
  if (out.find_first_of(".en", start) == std::string::npos)
    out += ".0";
}

void printDenseElement(const HostTensor &t, int64_t i, std::string &out) {
  switch (t.dtype()) {
  case DType::F32:
    fmt::format_to(Out(out), "{}", t.data<float>()[i]);
    break;
  case DType::F64:
    fmt::format_to(Out(out), "{}", t.data<double>()[i]);
    break;
  case DType::I64:
    fmt::format_to(Out(out), "{}", t.data<int64_t>()[i]);
    break;
  case DType::U8:
    fmt::format_to(Out(out), "{}", unsigned(t.data<uint8_t>()[i]));
    break;
  case DType::Bool:
    out += t.data<uint8_t>()[i] ? "true" : "false";
    break;
  }
}

/// `dense<2.5>` for a splat, else the flat list `dense<[1,2,3]>`.
void printDense(const HostTensor &t, std::string &out) {
  out += "dense<";
  if (t.defined() && t.isSplat()) {
    printDenseElement(t, 0, out);
  } else {
    out += '[';
    for (int64_t i = 0; t.defined() && i < t.numel(); ++i) {
      if (i)
        out += ',';
      printDenseElement(t, i, out);
    }
    out += ']';
  }
  out += '>';
}

void printAttrTo(const Attr &a, std::string &out) {
  std::visit(
      [&](const auto &x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          fmt::format_to(Out(out), "{}", x);
        } else if constexpr (std::is_same_v<T, double>) {
          printFloatAttr(x, out);
        } else if constexpr (std::is_same_v<T, bool>) {
          out += x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, IntList>) {
          out += '[';
          for (size_t i = 0; i < x.size(); ++i)
            fmt::format_to(Out(out), "{}{}", i ? "," : "", x[i]);
          out += ']';
        } else if constexpr (std::is_same_v<T, DType>) {
          out += dtypeName(x);
        } else if constexpr (std::is_same_v<T, FusionKind>) {
          out += fusionKindName(x);
        } else {
          printDense(x, out);
        }
      },
      a);
}

//===----------------------------------------------------------------------===//
// Functions
//===----------------------------------------------------------------------===//

/// Prints one function: its header on the current line, its body indented
/// by `indent + 2`, its closing brace at `indent`.
class FunctionPrinter {
public:
  FunctionPrinter(const Function &f, std::string &out, int indent)
      : f_(f), out_(out), indent_(indent), names_(text::valueNames(f)) {}

  void print() {
    printHeader();
    for (const Node &n : f_.nodes())
      printNode(n);
    printReturn();
    out_.append(size_t(indent_), ' ');
    out_ += "}\n";
  }

private:
  bool inRange(ValueId v) const { return v.valid() && size_t(v.id) < f_.numValues(); }

  void printValue(ValueId v) {
    out_ += '%';
    out_ += inRange(v) ? names_[size_t(v.id)] : std::string("<invalid>");
  }

  void printType(ValueId v) { out_ += inRange(v) ? f_.type(v).str() : "<invalid>"; }

  void printHeader() {
    fmt::format_to(Out(out_), "func @{}(", text::functionName(f_));
    for (size_t i = 0; i < f_.params().size(); ++i) {
      out_ += i ? ", " : "";
      printValue(f_.params()[i]);
      out_ += ": ";
      printType(f_.params()[i]);
    }
    out_ += ") -> (";
    for (size_t i = 0; i < f_.results().size(); ++i) {
      out_ += i ? ", " : "";
      printType(f_.results()[i]);
    }
    out_ += ") {\n";
  }

  void printNode(const Node &n) {
    out_.append(size_t(indent_ + 2), ' ');
    for (size_t i = 0; i < n.results.size(); ++i) {
      out_ += i ? ", " : "";
      printValue(n.results[i]);
    }
    if (!n.results.empty())
      out_ += " = ";
    out_ += opName(n.op);
    for (size_t i = 0; i < n.operands.size(); ++i) {
      out_ += i ? ", " : " ";
      printValue(n.operands[i]);
    }
    printAttrs(n.attrs);
    out_ += " : ";
    if (n.results.empty())
      out_ += "()";
    for (size_t i = 0; i < n.results.size(); ++i) {
      out_ += i ? ", " : "";
      printType(n.results[i]);
    }
    if (n.body) {
      out_ += ' ';
      FunctionPrinter(*n.body, out_, indent_ + 2).print();
    } else {
      out_ += '\n';
    }
  }

  void printAttrs(const AttrList &attrs) {
    if (attrs.empty())
      return;
    out_ += " {";
    bool first = true;
    for (const auto &[name, value] : attrs.entries()) {
      out_ += first ? "" : ", ";
      first = false;
      out_ += name;
      out_ += '=';
      printAttrTo(value, out_);
    }
    out_ += '}';
  }

  void printReturn() {
    out_.append(size_t(indent_ + 2), ' ');
    out_ += "return";
    for (size_t i = 0; i < f_.results().size(); ++i) {
      out_ += i ? ", " : " ";
      printValue(f_.results()[i]);
    }
    out_ += '\n';
  }

  const Function &f_;
  std::string &out_;
  int indent_;
  std::vector<std::string> names_;
};

} // namespace

std::string printAttr(const Attr &a) {
  std::string out;
  printAttrTo(a, out);
  return out;
}

std::string print(const Function &f) {
  std::string out;
  FunctionPrinter(f, out, 0).print();
  return out;
}

std::string print(const Module &m) {
  std::string out;
  for (size_t i = 0; i < m.functions.size(); ++i) {
    if (i)
      out += '\n';
    FunctionPrinter(m.functions[i], out, 0).print();
  }
  return out;
}

} // namespace kiln::ir
