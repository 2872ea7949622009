//===- Lexer.h - Tokens of IR text (internal) -------------------*- C++ -*-===//
//
// The lexer of the IR parser. A Token remembers where it starts (a Cursor),
// so that the parser can lex a stretch of text again: dense literals are
// converted after the result type that gives their element type.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/ValueNames.h"
#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace kiln::ir::text {

enum class Tok : uint8_t {
  Eof,
  Ident,    ///< op, dtype, keyword, attribute name; also `-inf`, `-nan`
  Value,    ///< %name
  Func,     ///< @name
  Int,      ///< -?[0-9]+
  Float,    ///< -?[0-9]+ with a fraction and/or an exponent
  LParen,   ///< (
  RParen,   ///< )
  LBracket, ///< [
  RBracket, ///< ]
  LBrace,   ///< {
  RBrace,   ///< }
  Less,     ///< <
  Greater,  ///< >
  Comma,    ///< ,
  Colon,    ///< :
  Equal,    ///< =
  Arrow,    ///< ->
};

/// A position in the text; a lexer can resume from it.
struct Cursor {
  size_t pos = 0;
  uint32_t line = 1, col = 1;
};

struct Token {
  Tok kind = Tok::Eof;
  std::string_view text;
  Cursor at;

  bool is(Tok k) const { return kind == k; }
  bool isKeyword(std::string_view word) const { return kind == Tok::Ident && text == word; }
  /// For %name and @name: the name without its sigil.
  std::string_view name() const { return text.substr(1); }
};

inline bool isDigit(char c) { return c >= '0' && c <= '9'; }
inline bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
inline bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }

/// How a character is shown in "invalid character" messages.
inline std::string showChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u > 0x20 && u < 0x7f)
    return std::string(1, c);
  return fmt::format("\\x{:02X}", unsigned(u));
}

class Lexer {
public:
  Lexer(std::string_view text, std::shared_ptr<const std::string> file, Cursor start = {})
      : text_(text), file_(std::move(file)), cur_(start) {}

  Token next() {
    skipTrivia();
    Token t{Tok::Eof, {}, cur_};
    if (atEnd())
      return t;
    char c = peek();
    if (isIdentStart(c))
      return finish(t, lexIdent());
    if (isDigit(c))
      return finish(t, lexNumber());
    switch (c) {
    case '%':
      return finish(t, lexSigilName(Tok::Value, "value"));
    case '@':
      return finish(t, lexSigilName(Tok::Func, "function"));
    case '-':
      return finish(t, lexMinus());
    case '(':
      return single(t, Tok::LParen);
    case ')':
      return single(t, Tok::RParen);
    case '[':
      return single(t, Tok::LBracket);
    case ']':
      return single(t, Tok::RBracket);
    case '{':
      return single(t, Tok::LBrace);
    case '}':
      return single(t, Tok::RBrace);
    case '<':
      return single(t, Tok::Less);
    case '>':
      return single(t, Tok::Greater);
    case ',':
      return single(t, Tok::Comma);
    case ':':
      return single(t, Tok::Colon);
    case '=':
      return single(t, Tok::Equal);
    default:
      fail(cur_, fmt::format("invalid character '{}'", showChar(c)));
    }
  }

private:
  bool atEnd(size_t ahead = 0) const { return cur_.pos + ahead >= text_.size(); }
  char peek(size_t ahead = 0) const { return atEnd(ahead) ? '\0' : text_[cur_.pos + ahead]; }

  void bump(size_t n = 1) {
    for (; n > 0 && !atEnd(); --n) {
      if (text_[cur_.pos++] == '\n') {
        ++cur_.line;
        cur_.col = 1;
      } else {
        ++cur_.col;
      }
    }
  }

  [[noreturn]] void fail(Cursor at, std::string message) const {
    throw Error(ErrorKind::Parse, std::move(message), Location{file_, at.line, at.col});
  }

  void skipTrivia() {
    for (;;) {
      char c = peek();
      if (!atEnd() && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
        bump();
      else if (c == '/' && peek(1) == '/')
        while (!atEnd() && peek() != '\n')
          bump();
      else
        return;
    }
  }

  Token single(Token t, Tok kind) {
    bump();
    return finish(t, kind);
  }

  /// Completes `t` (which records the start) with the text up to here.
  Token finish(Token t, Tok kind) const {
    t.kind = kind;
    t.text = text_.substr(t.at.pos, cur_.pos - t.at.pos);
    return t;
  }

  Tok lexIdent() {
    while (isIdentChar(peek()))
      bump();
    return Tok::Ident;
  }

  /// %name or @name.
  Tok lexSigilName(Tok kind, std::string_view what) {
    Cursor start = cur_;
    bump();
    if (!isNameChar(peek()))
      fail(start, fmt::format("expected {} name after '{}'", what, text_[start.pos]));
    while (isNameChar(peek()))
      bump();
    return kind;
  }

  /// `->`, a negative number, or `-inf` / `-nan`.
  Tok lexMinus() {
    Cursor start = cur_;
    if (peek(1) == '>') {
      bump(2);
      return Tok::Arrow;
    }
    if (isDigit(peek(1)))
      return lexNumber();
    for (std::string_view word : {"inf", "nan"})
      if (text_.substr(cur_.pos + 1, 3) == word && !isIdentChar(peek(4))) {
        bump(4);
        return Tok::Ident;
      }
    fail(start, "invalid character '-'");
  }

  Tok lexNumber() {
    bool isFloat = false;
    if (peek() == '-')
      bump();
    while (isDigit(peek()))
      bump();
    if (peek() == '.' && isDigit(peek(1))) {
      isFloat = true;
      bump();
      while (isDigit(peek()))
        bump();
    }
    if (peek() == 'e' || peek() == 'E') {
      size_t sign = (peek(1) == '+' || peek(1) == '-') ? 1 : 0;
      if (isDigit(peek(1 + sign))) {
        isFloat = true;
        bump(1 + sign);
        while (isDigit(peek()))
          bump();
      }
    }
    return isFloat ? Tok::Float : Tok::Int;
  }

  std::string_view text_;
  std::shared_ptr<const std::string> file_;
  Cursor cur_;
};

} // namespace kiln::ir::text
