//===- SafetensorsHeader.cpp - Printing and parsing the JSON header ---------===//
#include "SafetensorsHeader.h"

#include "kiln/ir/TextCursor.h"

#include <fmt/format.h>

#include <limits>
#include <optional>
#include <set>

namespace kiln::detail {
namespace {

using ir::DType;

struct DTypeName {
  DType dtype;
  std::string_view name;
};
constexpr DTypeName kDTypeNames[] = {
    {DType::F32, "F32"}, {DType::F64, "F64"},   {DType::I64, "I64"},
    {DType::U8, "U8"},   {DType::Bool, "BOOL"},
};

void appendJsonString(std::string &out, std::string_view s) {
  out += '"';
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
}

/// A cursor over the header text. Every method either consumes what it
/// expects or throws a HeaderError at the current offset.
class Parser : ir::TextCursor {
public:
  Parser(std::string_view text, const SafetensorsLimits &limits)
      : TextCursor(text), limits_(limits) {}

  SafetensorsHeader parse() {
    SafetensorsHeader header;
    std::set<std::string, std::less<>> seen;
    expect('{');
    if (!consume('}')) {
      do {
        uint64_t entryOffset = skipSpaceAndOffset();
        std::string key = parseString();
        if (!seen.insert(key).second)
          fail(ErrorKind::Format, fmt::format("duplicate key \"{}\"", key), entryOffset);
        expect(':');
        if (key == "__metadata__") {
          header.metadata = parseMetadata();
        } else {
          if (header.entries.size() >= limits_.maxTensors)
            fail(ErrorKind::Resource,
                 fmt::format("more than {} tensors in one file", limits_.maxTensors));
          header.entries.push_back(parseEntry(std::move(key), entryOffset));
        }
      } while (consume(','));
      expect('}');
    }
    skipSpace();
    if (pos_ != text_.size())
      fail(ErrorKind::Format, "unexpected text after the header object");
    return header;
  }

private:
  [[noreturn]] void fail(ErrorKind kind, std::string message) {
    fail(kind, std::move(message), pos_);
  }
  [[noreturn]] void fail(ErrorKind kind, std::string message, uint64_t offset) {
    throw HeaderError{kind, std::move(message), offset};
  }

  void expect(char c) {
    if (!consume(c))
      fail(ErrorKind::Format, atEnd()
                                  ? fmt::format("expected '{}' but the header ends", c)
                                  : fmt::format("expected '{}' but found '{}'", c, text_[pos_]));
  }

  unsigned hexDigit() {
    if (atEnd())
      fail(ErrorKind::Format, "unterminated \\u escape");
    char c = text_[pos_++];
    if (c >= '0' && c <= '9')
      return unsigned(c - '0');
    if (c >= 'a' && c <= 'f')
      return unsigned(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
      return unsigned(c - 'A' + 10);
    fail(ErrorKind::Format, "bad hex digit in a \\u escape", pos_ - 1);
  }
  unsigned hex4() {
    unsigned v = 0;
    for (int i = 0; i < 4; ++i)
      v = v << 4 | hexDigit();
    return v;
  }
  static void appendUtf8(std::string &out, unsigned cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | cp >> 6);
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | cp >> 12);
      out += char(0x80 | (cp >> 6 & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | cp >> 18);
      out += char(0x80 | (cp >> 12 & 0x3F));
      out += char(0x80 | (cp >> 6 & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  void parseEscape(std::string &out) {
    if (atEnd())
      fail(ErrorKind::Format, "unterminated string");
    char c = text_[pos_++];
    switch (c) {
    case '"':
      out += '"';
      return;
    case '\\':
      out += '\\';
      return;
    case '/':
      out += '/';
      return;
    case 'b':
      out += '\b';
      return;
    case 'f':
      out += '\f';
      return;
    case 'n':
      out += '\n';
      return;
    case 'r':
      out += '\r';
      return;
    case 't':
      out += '\t';
      return;
    case 'u':
      break;
    default:
      fail(ErrorKind::Format, fmt::format("bad escape '\\{}' in a string", c), pos_ - 2);
    }
    unsigned cp = hex4();
    if (cp >= 0xD800 && cp < 0xDC00) {
      if (text_.substr(pos_, 2) != "\\u")
        fail(ErrorKind::Format, "unpaired UTF-16 surrogate in a string");
      pos_ += 2;
      unsigned low = hex4();
      if (low < 0xDC00 || low >= 0xE000)
        fail(ErrorKind::Format, "unpaired UTF-16 surrogate in a string");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    } else if (cp >= 0xDC00 && cp < 0xE000) {
      fail(ErrorKind::Format, "unpaired UTF-16 surrogate in a string");
    }
    appendUtf8(out, cp);
  }
  std::string parseString() {
    expect('"');
    size_t start = pos_ - 1;
    std::string out;
    while (true) {
      if (atEnd())
        fail(ErrorKind::Format, "unterminated string");
      char c = text_[pos_++];
      if (c == '"') {
        if (!isUtf8(out))
          fail(ErrorKind::Format, "a string is not valid UTF-8", start);
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20)
        fail(ErrorKind::Format, "control character in a string", pos_ - 1);
      if (c == '\\')
        parseEscape(out);
      else
        out += c;
    }
  }
  /// A non-negative integer below 2^63 (all that shapes and offsets hold).
  uint64_t parseCount(const char *what) {
    skipSpace();
    size_t start = pos_;
    uint64_t v = 0;
    while (!atEnd() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      unsigned d = unsigned(text_[pos_] - '0');
      if (v > (uint64_t(std::numeric_limits<int64_t>::max()) - d) / 10)
        fail(ErrorKind::Format, fmt::format("{} is too large", what), start);
      v = v * 10 + d;
      ++pos_;
    }
    if (pos_ == start)
      fail(ErrorKind::Format, fmt::format("expected a non-negative integer for {}", what));
    if (pos_ - start > 1 && text_[start] == '0')
      fail(ErrorKind::Format, fmt::format("leading zero in {}", what), start);
    if (!atEnd() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E'))
      fail(ErrorKind::Format, fmt::format("{} must be an integer", what), start);
    return v;
  }

  TensorMetadata parseMetadata() {
    TensorMetadata metadata;
    std::set<std::string, std::less<>> seen;
    expect('{');
    if (consume('}'))
      return metadata;
    do {
      uint64_t keyOffset = skipSpaceAndOffset();
      std::string key = parseString();
      if (!seen.insert(key).second)
        fail(ErrorKind::Format, fmt::format("duplicate __metadata__ key \"{}\"", key), keyOffset);
      expect(':');
      skipSpace();
      if (atEnd() || text_[pos_] != '"')
        fail(ErrorKind::Format, fmt::format("__metadata__ value of \"{}\" is not a string", key));
      metadata.emplace_back(std::move(key), parseString());
    } while (consume(','));
    expect('}');
    return metadata;
  }

  DType parseDType() {
    uint64_t at = skipSpaceAndOffset();
    std::string name = parseString();
    for (const DTypeName &d : kDTypeNames)
      if (d.name == name)
        return d.dtype;
    fail(ErrorKind::Format,
         fmt::format("unsupported dtype \"{}\" (kiln reads F32, F64, I64, U8, BOOL)", name), at);
  }

  std::vector<int64_t> parseShape() {
    std::vector<int64_t> shape;
    expect('[');
    if (consume(']'))
      return shape;
    do {
      if (shape.size() >= limits_.maxRank)
        fail(ErrorKind::Resource, fmt::format("rank over the limit of {}", limits_.maxRank));
      shape.push_back(int64_t(parseCount("a dimension")));
    } while (consume(','));
    expect(']');
    return shape;
  }

  SafetensorsEntry parseEntry(std::string name, uint64_t entryOffset) {
    SafetensorsEntry entry;
    entry.name = std::move(name);
    entry.headerOffset = entryOffset;
    bool hasDType = false, hasShape = false, hasOffsets = false;
    expect('{');
    if (!consume('}')) {
      do {
        uint64_t keyOffset = skipSpaceAndOffset();
        std::string key = parseString();
        expect(':');
        bool *flag = key == "dtype"          ? &hasDType
                     : key == "shape"        ? &hasShape
                     : key == "data_offsets" ? &hasOffsets
                                             : nullptr;
        if (!flag)
          fail(ErrorKind::Format,
               fmt::format("unknown key \"{}\" in the entry of tensor \"{}\"", key, entry.name),
               keyOffset);
        if (*flag)
          fail(ErrorKind::Format,
               fmt::format("duplicate key \"{}\" in the entry of tensor \"{}\"", key, entry.name),
               keyOffset);
        *flag = true;
        if (key == "dtype") {
          entry.dtype = parseDType();
        } else if (key == "shape") {
          entry.shape = parseShape();
        } else {
          expect('[');
          entry.begin = parseCount("a data offset");
          expect(',');
          entry.end = parseCount("a data offset");
          expect(']');
        }
      } while (consume(','));
      expect('}');
    }
    const char *missing = !hasDType     ? "dtype"
                          : !hasShape   ? "shape"
                          : !hasOffsets ? "data_offsets"
                                        : nullptr;
    if (missing)
      fail(ErrorKind::Format,
           fmt::format("the entry of tensor \"{}\" has no \"{}\"", entry.name, missing),
           entryOffset);
    return entry;
  }

  const SafetensorsLimits &limits_;
};

} // namespace

std::string_view safetensorsDTypeName(ir::DType dtype) {
  for (const DTypeName &d : kDTypeNames)
    if (d.dtype == dtype)
      return d.name;
  return "?";
}

std::string printSafetensorsHeader(const SafetensorsHeader &header) {
  std::string out = "{";
  bool first = true;
  if (!header.metadata.empty()) {
    out += "\"__metadata__\":{";
    for (size_t i = 0; i < header.metadata.size(); ++i) {
      if (i)
        out += ',';
      appendJsonString(out, header.metadata[i].first);
      out += ':';
      appendJsonString(out, header.metadata[i].second);
    }
    out += '}';
    first = false;
  }
  for (const SafetensorsEntry &e : header.entries) {
    if (!first)
      out += ',';
    first = false;
    appendJsonString(out, e.name);
    out += fmt::format(":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                       safetensorsDTypeName(e.dtype), fmt::join(e.shape, ","), e.begin, e.end);
  }
  out += '}';
  // The reference implementation pads to 8 bytes so that the data is aligned.
  out.append((8 - out.size() % 8) % 8, ' ');
  return out;
}

SafetensorsHeader parseSafetensorsHeader(std::string_view json, const SafetensorsLimits &limits) {
  return Parser(json, limits).parse();
}

bool isUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    size_t length = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (length == 0 || i + length > s.size())
      return false;
    uint32_t cp = length == 1 ? c : c & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += length;
  }
  return true;
}

} // namespace kiln::detail
