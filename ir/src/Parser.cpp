//===- Parser.cpp - IR text to Module -------------------------------------===//
//
// A hand-written lexer and recursive-descent parser for the IR text of
// docs/ir.md. Grammar (whitespace and `//` comments are skipped):
//
//   module   ::= function*
//   function ::= 'func' @name '(' (param (',' param)*)? ')'
//                '->' '(' (type (',' type)*)? ')' '{' node* return '}'
//   param    ::= %name ':' type
//   node     ::= (%name (',' %name)* '=')? op (%v (',' %v)*)? attrs?
//                ':' types function?            // the body of a `fused`
//   types    ::= type (',' type)* | '(' ')'     // '()' for no results
//   attrs    ::= '{' (ident '=' attr (',' ident '=' attr)*)? '}'
//   attr     ::= int | float | 'true' | 'false' | '[' ints ']' | dtype
//              | 'dense' '<' (element | list) '>'
//   return   ::= 'return' (%v (',' %v)*)?
//   type     ::= dtype '[' (int (',' int)*)? ']'
//
// Robustness: every loop consumes a token, the only recursion is into the
// body of a `fused` node (depth-limited), nested dense literals are scanned
// iteratively with a depth counter, and every size is checked against
// ParseLimits before anything is allocated for it.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/Parser.h"
#include "kiln/ir/ReadFile.h"
#include "Lexer.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace kiln::ir {
namespace {

using text::Lexer;
using text::Tok;
using text::Token;

/// Types of a higher rank are rejected: no op needs them, and a bound keeps
/// shape computations on hostile input cheap.
constexpr size_t kMaxRank = 64;

//===----------------------------------------------------------------------===//
// Literals
//===----------------------------------------------------------------------===//

bool isNonFiniteWord(const Token &t) {
  return t.kind == Tok::Ident &&
         (t.text == "inf" || t.text == "-inf" || t.text == "nan" || t.text == "-nan");
}

/// "an integer list", "a float": for messages.
std::string withArticle(AttrKind k) {
  std::string_view name = attrKindName(k);
  bool vowel = !name.empty() && std::string_view("aeiou").find(name[0]) != std::string_view::npos;
  return fmt::format("{} {}", vowel ? "an" : "a", name);
}

/// A `dense<...>` literal seen but not yet converted: its element type comes
/// from the node's result type, which follows it on the line.
struct PendingDense {
  std::string attrName;
  Token keyword; ///< `dense`, for messages about the whole literal
  Token first;   ///< first token inside `<`, where conversion re-lexes from
  int64_t count = 0;
  bool splat = false;
};

/// Everything one node line says, before it becomes a Node.
struct NodeText {
  std::vector<Token> resultNames;
  Token opToken;
  const OpDef *def = nullptr;
  std::vector<ValueId> operands;
  AttrList attrs;
  std::optional<PendingDense> dense;
  std::vector<TensorType> types;
  std::shared_ptr<const Function> body;
};

/// Value names visible in one function, keyed by their text (without '%').
using Scope = std::unordered_map<std::string_view, ValueId>;

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

class Parser {
public:
  Parser(std::string_view text, std::string fileName, const ParseLimits &limits)
      : text_(text), file_(std::make_shared<const std::string>(std::move(fileName))),
        limits_(limits), lex_(text, file_) {}

  Module parseModule() {
    if (text_.size() > limits_.maxBytes)
      throw Error(ErrorKind::Resource,
                  fmt::format("input of {} bytes is larger than the limit of {} bytes",
                              text_.size(), limits_.maxBytes),
                  *file_);
    advance();
    Module m;
    while (!tok_.is(Tok::Eof)) {
      if (!tok_.isKeyword("func"))
        fail(tok_, "expected 'func'");
      m.functions.push_back(parseFunction());
    }
    return m;
  }

private:
  //--- Tokens ---------------------------------------------------------------

  void advance() { tok_ = lex_.next(); }

  bool consumeIf(Tok k) {
    if (!tok_.is(k))
      return false;
    advance();
    return true;
  }

  /// Consumes a token of kind `k`, or fails with `message` at the current one.
  Token expect(Tok k, std::string_view message) {
    if (!tok_.is(k))
      fail(tok_, std::string(message));
    Token t = tok_;
    advance();
    return t;
  }

  Location loc(const Token &t) const { return Location{file_, t.at.line, t.at.col}; }

  [[noreturn]] void fail(const Token &at, std::string message,
                         ErrorKind kind = ErrorKind::Parse) const {
    throw Error(kind, std::move(message), loc(at));
  }

  int64_t intValue(const Token &t) const {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (ec != std::errc() || end != t.text.data() + t.text.size())
      fail(t, "integer literal out of range");
    return v;
  }

  /// A float literal (or an integer one, or inf/nan) as a T.
  template <class T> T floatValue(const Token &t, std::string_view typeName) const {
    if (isNonFiniteWord(t)) {
      bool negative = t.text.front() == '-';
      T v = t.text.back() == 'f' ? std::numeric_limits<T>::infinity()
                                 : std::numeric_limits<T>::quiet_NaN();
      return negative ? std::copysign(v, T(-1)) : v;
    }
    T v = 0;
    auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (ec != std::errc() || end != t.text.data() + t.text.size())
      fail(t, fmt::format("float literal {} out of range for {}", t.text, typeName));
    return v;
  }

  //--- Functions ------------------------------------------------------------

  /// A function, from its `func` keyword (the current token) to its '}'.
  Function parseFunction() {
    Token keyword = tok_;
    if (++depth_ > limits_.maxNesting)
      fail(keyword, fmt::format("functions nested deeper than {} levels", limits_.maxNesting),
           ErrorKind::Resource);
    advance();
    Token name = expect(Tok::Func, "expected function name after 'func'");
    Function f(std::string(name.name()));
    f.loc = loc(keyword);
    Scope scope;
    parseParams(f, scope);
    std::vector<TensorType> resultTypes = parseResultSignature();
    expect(Tok::LBrace, "expected '{' to open function body");
    while (!tok_.isKeyword("return")) {
      if (tok_.is(Tok::Eof))
        fail(tok_, fmt::format("unexpected end of input in the body of @{}", f.name()));
      parseNode(f, scope);
    }
    parseReturn(f, scope, resultTypes);
    expect(Tok::RBrace, "expected '}' to close function body");
    --depth_;
    return f;
  }

  void parseParams(Function &f, Scope &scope) {
    expect(Tok::LParen, "expected '(' after function name");
    if (consumeIf(Tok::RParen))
      return;
    for (;;) {
      Token name = expect(Tok::Value, "expected parameter name");
      checkNotDefined(name, scope);
      expect(Tok::Colon, "expected ':' after parameter name");
      TensorType type = parseType();
      std::string_view text = name.name();
      ValueId p = f.addParam(std::move(type),
                             text::isNumericName(text) ? std::string() : std::string(text));
      scope.emplace(text, p);
      if (consumeIf(Tok::RParen))
        return;
      expect(Tok::Comma, "expected ',' or ')' in parameter list");
    }
  }

  std::vector<TensorType> parseResultSignature() {
    expect(Tok::Arrow, "expected '->' after parameters");
    expect(Tok::LParen, "expected '(' before result types");
    std::vector<TensorType> types;
    if (consumeIf(Tok::RParen))
      return types;
    for (;;) {
      types.push_back(parseType());
      if (consumeIf(Tok::RParen))
        return types;
      expect(Tok::Comma, "expected ',' or ')' in result types");
    }
  }

  void parseReturn(Function &f, const Scope &scope, const std::vector<TensorType> &types) {
    Token keyword = tok_;
    advance();
    std::vector<Token> names = parseUses("expected value name after ','");
    std::vector<ValueId> values;
    for (const Token &name : names) {
      values.push_back(lookup(name, scope));
      f.resultLocs.push_back(loc(name));
    }
    if (values.size() != types.size())
      fail(keyword, fmt::format("'return' has {} value{}, but @{} declares {} result{}",
                                values.size(), values.size() == 1 ? "" : "s", f.name(),
                                types.size(), types.size() == 1 ? "" : "s"));
    for (size_t i = 0; i < values.size(); ++i)
      if (f.type(values[i]) != types[i])
        fail(names[i],
             fmt::format("return value {} has type {}, but @{} declares {}", names[i].text,
                         f.type(values[i]).str(), f.name(), types[i].str()));
    f.setResults(std::move(values));
  }

  //--- Values -----------------------------------------------------------------

  /// `%a, %b, ...` (possibly none): the tokens, resolved by the caller.
  std::vector<Token> parseUses(std::string_view afterComma) {
    std::vector<Token> uses;
    if (!tok_.is(Tok::Value))
      return uses;
    for (;;) {
      uses.push_back(tok_);
      advance();
      if (!consumeIf(Tok::Comma))
        return uses;
      if (!tok_.is(Tok::Value))
        fail(tok_, std::string(afterComma));
    }
  }

  ValueId lookup(const Token &name, const Scope &scope) const {
    auto it = scope.find(name.name());
    if (it == scope.end())
      fail(name, fmt::format("use of undefined value '{}'", name.text));
    return it->second;
  }

  void checkNotDefined(const Token &name, const Scope &scope) const {
    if (scope.count(name.name()))
      fail(name, fmt::format("redefinition of value '{}'", name.text));
  }

  //--- Nodes ------------------------------------------------------------------

  void parseNode(Function &f, Scope &scope) {
    NodeText n;
    parseResultNames(n, scope);
    parseOp(n);
    parseOperands(n, scope);
    bool hasAttrs = tok_.is(Tok::LBrace);
    if (hasAttrs)
      parseAttrs(n);
    expect(Tok::Colon, hasAttrs ? "expected ':' after attributes" : "expected ':' after operands");
    parseResultTypes(n);
    parseRegion(n);
    if (n.dense)
      materializeDense(n);
    Location at = loc(n.resultNames.empty() ? n.opToken : n.resultNames.front());
    size_t index = f.appendNode(n.def->kind, std::move(n.operands), std::move(n.attrs),
                                std::move(n.types), std::move(at), std::move(n.body));
    const Node &node = f.nodes()[index];
    for (size_t i = 0; i < n.resultNames.size(); ++i) {
      std::string_view name = n.resultNames[i].name();
      if (!text::isNumericName(name))
        f.value(node.results[i]).name = std::string(name);
      scope.emplace(name, node.results[i]);
    }
  }

  void parseResultNames(NodeText &n, const Scope &scope) {
    if (!tok_.is(Tok::Value))
      return;
    std::unordered_set<std::string_view> thisNode;
    for (;;) {
      checkNotDefined(tok_, scope);
      if (!thisNode.insert(tok_.name()).second)
        fail(tok_, fmt::format("redefinition of value '{}'", tok_.text));
      n.resultNames.push_back(tok_);
      advance();
      if (!consumeIf(Tok::Comma))
        break;
      if (!tok_.is(Tok::Value))
        fail(tok_, "expected result name after ','");
    }
    expect(Tok::Equal, "expected '=' after result names");
  }

  void parseOp(NodeText &n) {
    if (!tok_.is(Tok::Ident))
      fail(tok_, n.resultNames.empty() ? "expected a node or 'return'" : "expected op name");
    n.opToken = tok_;
    n.def = findOp(tok_.text);
    if (!n.def)
      fail(tok_, fmt::format("unknown op '{}'", tok_.text));
    advance();
  }

  void parseOperands(NodeText &n, const Scope &scope) {
    for (const Token &use : parseUses("expected operand after ','"))
      n.operands.push_back(lookup(use, scope));
    int arity = n.def->arity;
    if (arity >= 0 && size_t(arity) != n.operands.size())
      fail(n.opToken, fmt::format("'{}' takes {} operand{}, got {}", n.def->name, arity,
                                  arity == 1 ? "" : "s", n.operands.size()));
  }

  void parseResultTypes(NodeText &n) {
    Token first = tok_;
    if (consumeIf(Tok::LParen)) {
      expect(Tok::RParen, "expected ')' after '(' for no result types");
    } else {
      n.types.push_back(parseType());
      while (consumeIf(Tok::Comma))
        n.types.push_back(parseType());
    }
    size_t want = n.resultNames.size();
    if (n.types.size() != want)
      fail(first, fmt::format("expected {} result type{} to match the result names, got {}", want,
                              want == 1 ? "" : "s", n.types.size()));
  }

  /// The body of a `fused` node: a nested function.
  void parseRegion(NodeText &n) {
    bool isFused = n.def->kind == OpKind::Fused;
    if (!tok_.isKeyword("func")) {
      if (isFused)
        fail(tok_, "expected 'func' body after the result types of 'fused'");
      return;
    }
    if (!isFused)
      fail(tok_, fmt::format("'{}' does not take a body", n.def->name));
    n.body = std::make_shared<const Function>(parseFunction());
  }

  //--- Types ------------------------------------------------------------------

  TensorType parseType() {
    Token start = tok_;
    if (!tok_.is(Tok::Ident))
      fail(tok_, "expected type");
    std::optional<DType> dtype = parseDType(tok_.text);
    if (!dtype)
      fail(tok_, fmt::format("unknown dtype '{}'", tok_.text));
    advance();
    expect(Tok::LBracket, "expected '[' after dtype");
    std::vector<int64_t> dims;
    if (!consumeIf(Tok::RBracket)) {
      for (;;) {
        if (!tok_.is(Tok::Int))
          fail(tok_, "expected integer dimension");
        if (dims.size() == kMaxRank)
          fail(tok_, fmt::format("type has more than {} dimensions", kMaxRank),
               ErrorKind::Resource);
        dims.push_back(intValue(tok_));
        advance();
        if (consumeIf(Tok::RBracket))
          break;
        expect(Tok::Comma, "expected ',' or ']' in shape");
      }
    }
    Shape shape(std::move(dims));
    if (auto problem = shape.validate())
      fail(start, *problem);
    return {*dtype, std::move(shape)};
  }

  //--- Attributes -------------------------------------------------------------

  void parseAttrs(NodeText &n) {
    advance(); // '{'
    if (consumeIf(Tok::RBrace))
      return;
    for (;;) {
      Token name = expect(Tok::Ident, "expected attribute name");
      const AttrSpec *spec = findSpec(*n.def, name.text);
      if (!spec)
        fail(name, fmt::format("'{}' has no attribute '{}'", n.def->name, name.text));
      if (n.attrs.has(name.text) || (n.dense && n.dense->attrName == name.text))
        fail(name, fmt::format("duplicate attribute '{}'", name.text));
      expect(Tok::Equal, "expected '=' after attribute name");
      parseAttrValue(n, name, *spec);
      if (consumeIf(Tok::RBrace))
        return;
      expect(Tok::Comma, "expected ',' or '}' in attribute list");
    }
  }

  static const AttrSpec *findSpec(const OpDef &def, std::string_view name) {
    for (const AttrSpec &s : def.attrs)
      if (s.name == name)
        return &s;
    return nullptr;
  }

  /// Parses a value by its syntax, then checks it against the op's spec.
  void parseAttrValue(NodeText &n, const Token &name, const AttrSpec &spec) {
    Token start = tok_;
    if (tok_.isKeyword("dense")) {
      if (spec.kind != AttrKind::Dense)
        failKind(start, name, spec, AttrKind::Dense);
      n.dense = scanDense(std::string(name.text));
      return;
    }
    if (spec.kind == AttrKind::Fusion && tok_.is(Tok::Ident) && !parseFusionKind(tok_.text))
      fail(tok_, fmt::format("unknown fusion kind '{}' (loop, reduction, matmul, softmax_xent)",
                             tok_.text));
    Attr value = parseSimpleAttr();
    AttrKind kind = attrKind(value);
    if (spec.kind == AttrKind::Float && kind == AttrKind::Int)
      value = double(std::get<int64_t>(value));
    else if (kind != spec.kind)
      failKind(start, name, spec, kind);
    n.attrs.set(std::string(name.text), std::move(value));
  }

  [[noreturn]] void failKind(const Token &at, const Token &name, const AttrSpec &spec,
                             AttrKind got) const {
    fail(at, fmt::format("attribute '{}' must be {}, got {}", name.text, withArticle(spec.kind),
                         withArticle(got)));
  }

  /// Any attribute but a dense literal.
  Attr parseSimpleAttr() {
    Token t = tok_;
    if (t.is(Tok::LBracket))
      return parseIntList();
    advance();
    if (t.is(Tok::Int))
      return intValue(t);
    if (t.is(Tok::Float) || isNonFiniteWord(t))
      return floatValue<double>(t, "f64");
    if (t.isKeyword("true") || t.isKeyword("false"))
      return t.text == "true";
    if (t.is(Tok::Ident)) {
      if (std::optional<DType> dtype = parseDType(t.text))
        return *dtype;
      if (std::optional<FusionKind> kind = parseFusionKind(t.text))
        return *kind;
    }
    fail(t, "expected attribute value");
  }

  IntList parseIntList() {
    advance(); // '['
    IntList list;
    if (consumeIf(Tok::RBracket))
      return list;
    for (;;) {
      if (!tok_.is(Tok::Int))
        fail(tok_, "expected integer in list");
      list.push_back(intValue(tok_));
      advance();
      if (consumeIf(Tok::RBracket))
        return list;
      expect(Tok::Comma, "expected ',' or ']' in integer list");
    }
  }

  //--- Dense literals ---------------------------------------------------------

  static bool isDenseElement(const Token &t) {
    return t.is(Tok::Int) || t.is(Tok::Float) || isNonFiniteWord(t) || t.isKeyword("true") ||
           t.isKeyword("false");
  }

  void countElement(PendingDense &d) {
    if (!isDenseElement(tok_))
      fail(tok_, "expected a number or boolean in dense literal");
    if (uint64_t(d.count) >= limits_.maxDenseElements)
      fail(tok_, fmt::format("dense literal has more than {} elements", limits_.maxDenseElements),
           ErrorKind::Resource);
    ++d.count;
    advance();
  }

  /// Checks the syntax of `dense<...>` and counts its elements, without
  /// converting them (their type is not known yet). Nested brackets are
  /// followed with a depth counter, not recursion.
  PendingDense scanDense(std::string attrName) {
    PendingDense d{std::move(attrName), tok_, {}, 0, false};
    advance();
    expect(Tok::Less, "expected '<' after 'dense'");
    d.first = tok_;
    d.splat = !tok_.is(Tok::LBracket);
    if (d.splat) {
      countElement(d);
    } else {
      size_t depth = 0;
      bool wantElement = true, justOpened = false;
      do {
        if (wantElement && tok_.is(Tok::LBracket)) {
          if (++depth > limits_.maxNesting)
            fail(tok_,
                 fmt::format("dense literal nested deeper than {} levels", limits_.maxNesting),
                 ErrorKind::Resource);
          advance();
          justOpened = true;
        } else if (tok_.is(Tok::RBracket) && (justOpened || !wantElement)) {
          --depth;
          advance();
          wantElement = justOpened = false;
        } else if (wantElement) {
          countElement(d);
          wantElement = justOpened = false;
        } else {
          expect(Tok::Comma, "expected ',' or ']' in dense literal");
          wantElement = true;
        }
      } while (depth > 0);
    }
    expect(Tok::Greater, "expected '>' to close dense literal");
    return d;
  }

  /// Converts the pending dense literal of `n` to a HostTensor of the node's
  /// first result type, re-lexing its elements now that the type is known.
  void materializeDense(NodeText &n) {
    const PendingDense &d = *n.dense;
    if (n.types.empty())
      fail(d.keyword, "a dense attribute needs a result type to take its type from");
    const TensorType &type = n.types.front();
    int64_t numel = type.shape.numel();
    if (!d.splat && d.count != numel)
      fail(d.keyword, fmt::format("dense literal has {} element{}, expected {} for {}", d.count,
                                  d.count == 1 ? "" : "s", numel, type.str()));
    if (uint64_t(numel) > limits_.maxDenseElements)
      fail(d.keyword,
           fmt::format("dense literal of type {} has more than {} elements", type.str(),
                       limits_.maxDenseElements),
           ErrorKind::Resource);
    HostTensor t = allocate(type, d.keyword);
    Lexer elements(text_, file_, d.first.at);
    int64_t written = 0;
    while (written < d.count) {
      Token e = elements.next();
      if (isDenseElement(e))
        writeElement(t, written++, e);
    }
    if (d.splat)
      fillFromFirst(t);
    n.attrs.set(d.attrName, std::move(t));
  }

  HostTensor allocate(const TensorType &type, const Token &at) const {
    try {
      return HostTensor(type);
    } catch (const Error &e) {
      throw Error(e.kind(), e.message(), loc(at));
    }
  }

  static void fillFromFirst(HostTensor &t) {
    size_t size = dtypeSize(t.dtype());
    auto *p = static_cast<std::byte *>(t.raw());
    for (int64_t i = 1; i < t.numel(); ++i)
      std::memcpy(p + size_t(i) * size, p, size);
  }

  void writeElement(HostTensor &t, int64_t i, const Token &e) const {
    if (t.numel() == 0)
      return; // a splat of an empty tensor
    switch (t.dtype()) {
    case DType::F32:
      t.data<float>()[i] = floatValue<float>(e, "f32");
      break;
    case DType::F64:
      t.data<double>()[i] = floatValue<double>(e, "f64");
      break;
    case DType::I64:
      t.data<int64_t>()[i] = integerElement(e, t.dtype());
      break;
    case DType::U8: {
      int64_t v = integerElement(e, t.dtype());
      if (v < 0 || v > 255)
        fail(e, fmt::format("integer literal {} out of range for u8", v));
      t.data<uint8_t>()[i] = uint8_t(v);
      break;
    }
    case DType::Bool:
      t.data<uint8_t>()[i] = boolElement(e) ? 1 : 0;
      break;
    }
  }

  int64_t integerElement(const Token &e, DType t) const {
    if (!e.is(Tok::Int))
      fail(e, fmt::format("expected an integer literal for {}, got '{}'", dtypeName(t), e.text));
    return intValue(e);
  }

  bool boolElement(const Token &e) const {
    if (e.isKeyword("true") || e.text == "1")
      return true;
    if (e.isKeyword("false") || e.text == "0")
      return false;
    fail(e, fmt::format("expected true, false, 0 or 1 for bool, got '{}'", e.text));
  }

  std::string_view text_;
  std::shared_ptr<const std::string> file_;
  ParseLimits limits_;
  Lexer lex_;
  Token tok_;
  size_t depth_ = 0;
};

/// Reads at most `maxBytes + 1` bytes, so that "over the limit" is visible.
} // namespace

Module parseModule(std::string_view text, std::string fileName, const ParseLimits &limits) {
  return Parser(text, std::move(fileName), limits).parseModule();
}

Module parseFile(const std::string &path, const ParseLimits &limits) {
  return parseModule(readFileBounded(path, limits.maxBytes), path == "-" ? "<stdin>" : path,
                     limits);
}

} // namespace kiln::ir
