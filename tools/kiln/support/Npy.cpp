//===- Npy.cpp ------------------------------------------------------------===//
#include "Npy.h"

#include "kiln/ir/Error.h"
#include "kiln/ir/TextCursor.h"

#include <fmt/format.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace kiln::tool {

static_assert(std::endian::native == std::endian::little,
              "the .npy reader copies little-endian data as is");

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
/// numpy itself refuses headers over 10000 bytes by default; allow more, but
/// not without bound.
constexpr uint64_t kMaxHeaderBytes = uint64_t(1) << 20;
constexpr int kMaxRank = 64;

struct NpyHeader {
  ir::DType dtype = ir::DType::F32;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

/// Parses the Python dict literal of a .npy header, e.g.
///   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
/// Errors are located at the byte offset in the file.
class HeaderParser : ir::TextCursor {
public:
  HeaderParser(std::string_view text, uint64_t offset, const std::string &name)
      : TextCursor(text), offset_(offset), name_(name) {}

  NpyHeader parse() {
    bool sawDescr = false, sawOrder = false, sawShape = false;
    expect('{');
    while (!consume('}')) {
      size_t keyPos = pos_;
      std::string key = parseString();
      expect(':');
      if (key == "descr") {
        markSeen(sawDescr, key, keyPos);
        header_.dtype = parseDescr();
      } else if (key == "fortran_order") {
        markSeen(sawOrder, key, keyPos);
        header_.fortranOrder = parseBool();
      } else if (key == "shape") {
        markSeen(sawShape, key, keyPos);
        header_.shape = parseShape();
      } else {
        fail(keyPos, fmt::format("unexpected key '{}' in the header", key));
      }
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    skipSpace();
    if (pos_ != text_.size())
      fail(pos_, "unexpected text after the header dictionary");
    if (!sawDescr || !sawOrder || !sawShape)
      fail(0, fmt::format("the header lacks '{}'", !sawDescr   ? "descr"
                                                   : !sawOrder ? "fortran_order"
                                                               : "shape"));
    return header_;
  }

private:
  [[noreturn]] void fail(size_t pos, std::string message) const {
    throw Error(ErrorKind::Format, std::move(message),
                fmt::format("{} @ byte {}", name_, offset_ + pos));
  }

  void markSeen(bool &seen, const std::string &key, size_t pos) {
    if (seen)
      fail(pos, fmt::format("duplicate key '{}' in the header", key));
    seen = true;
  }

  void expect(char c) {
    if (!consume(c))
      fail(pos_, atEnd() ? fmt::format("expected '{}' in the header, found its end", c)
                         : fmt::format("expected '{}' in the header, found '{}'", c, text_[pos_]));
  }

  std::string parseString() {
    skipSpace();
    if (atEnd() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      fail(pos_, "expected a quoted string in the header");
    char quote = text_[pos_];
    size_t start = ++pos_;
    while (!atEnd() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' || text_[pos_] == '\n')
        fail(pos_, "unsupported character in a header string");
      ++pos_;
    }
    if (atEnd())
      fail(start - 1, "unterminated string in the header");
    return std::string(text_.substr(start, pos_++ - start));
  }

  ir::DType parseDescr() {
    skipSpace();
    size_t at = pos_;
    std::string descr = parseString();
    static constexpr std::array<std::pair<std::string_view, ir::DType>, 6> kTypes = {{
        {"<f4", ir::DType::F32},
        {"<f8", ir::DType::F64},
        {"<i8", ir::DType::I64},
        {"|u1", ir::DType::U8},
        {"<u1", ir::DType::U8},
        {"|b1", ir::DType::Bool},
    }};
    for (auto [text, dtype] : kTypes)
      if (descr == text)
        return dtype;
    fail(at, fmt::format("unsupported dtype '{}' (kiln reads '<f4', '<f8', '<i8', '|u1' "
                         "and '|b1': little-endian float32, float64, int64, uint8, bool)",
                         descr));
  }

  bool parseBool() {
    skipSpace();
    for (auto [word, value] : {std::pair{std::string_view("True"), true}, {"False", false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    fail(pos_, "expected True or False for 'fortran_order'");
  }

  int64_t parseDim() {
    skipSpace();
    size_t start = pos_;
    int64_t value = 0;
    while (!atEnd() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      value = value * 10 + (text_[pos_++] - '0');
      if (value > ir::kMaxElements)
        fail(start, fmt::format("dimension exceeds the limit of {} elements", ir::kMaxElements));
    }
    if (pos_ == start)
      fail(start, "expected a non-negative integer dimension in 'shape'");
    if (!atEnd() && text_[pos_] == 'L') // Python 2 long suffix
      ++pos_;
    return value;
  }

  std::vector<int64_t> parseShape() {
    expect('(');
    std::vector<int64_t> dims;
    while (!consume(')')) {
      if (int(dims.size()) == kMaxRank)
        fail(pos_, fmt::format("shape has more than {} dimensions", kMaxRank));
      dims.push_back(parseDim());
      if (!consume(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }

  uint64_t offset_;
  const std::string &name_;
  NpyHeader header_;
};

[[noreturn]] void formatError(const std::string &name, uint64_t offset, std::string message) {
  throw Error(ErrorKind::Format, std::move(message), fmt::format("{} @ byte {}", name, offset));
}

/// Reads exactly `n` bytes or fails with a located "truncated" error.
void readExact(std::istream &in, char *dst, uint64_t n, const std::string &name, uint64_t offset) {
  in.read(dst, std::streamsize(n));
  if (uint64_t(in.gcount()) != n)
    formatError(name, offset + uint64_t(in.gcount()), "unexpected end of file");
}

uint32_t littleEndian(const unsigned char *p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

/// Reads the magic, version and header; returns the header and the offset of
/// the data.
std::pair<NpyHeader, uint64_t> readHeader(std::istream &in, uint64_t size,
                                          const std::string &name) {
  unsigned char prefix[12];
  if (size < 10)
    formatError(name, size, "file too short to be a .npy file");
  readExact(in, reinterpret_cast<char *>(prefix), 10, name, 0);
  if (std::memcmp(prefix, kMagic.data(), kMagic.size()) != 0)
    formatError(name, 0, "not a .npy file (bad magic; expected \\x93NUMPY)");
  int major = prefix[6], minor = prefix[7];
  if (major < 1 || major > 3)
    formatError(name, 6, fmt::format("unsupported .npy format version {}.{}", major, minor));
  uint64_t lengthBytes = major == 1 ? 2 : 4;
  if (major != 1) {
    if (size < 12)
      formatError(name, size, "file too short to be a .npy file");
    readExact(in, reinterpret_cast<char *>(prefix) + 10, 2, name, 10);
  }
  uint64_t headerStart = 8 + lengthBytes;
  uint64_t headerLength = littleEndian(prefix + 8, int(lengthBytes));
  if (headerLength > kMaxHeaderBytes)
    formatError(name, 8,
                fmt::format("header length {} exceeds the limit of {} bytes", headerLength,
                            kMaxHeaderBytes));
  if (headerStart + headerLength > size)
    formatError(
        name, 8,
        fmt::format("header length {} runs past the end of the {}-byte file", headerLength, size));
  std::string text(headerLength, '\0');
  readExact(in, text.data(), headerLength, name, headerStart);
  if (text.empty() || text.back() != '\n')
    formatError(name, headerStart + headerLength, "the header does not end with a newline");
  NpyHeader header = HeaderParser(text, headerStart, name).parse();
  return {header, headerStart + headerLength};
}

void checkBools(const ir::HostTensor &t, const std::string &name, uint64_t dataStart) {
  const auto *bytes = t.data<uint8_t>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (bytes[i] > 1)
      formatError(name, dataStart + uint64_t(i),
                  fmt::format("bool element {} holds byte {}, not 0 or 1", i, bytes[i]));
}

} // namespace

std::string npyDescr(ir::DType t) {
  switch (t) {
  case ir::DType::F32:
    return "<f4";
  case ir::DType::F64:
    return "<f8";
  case ir::DType::I64:
    return "<i8";
  case ir::DType::U8:
    return "|u1";
  case ir::DType::Bool:
    return "|b1";
  }
  return "?";
}

ir::HostTensor readNpy(std::istream &in, uint64_t size, const std::string &name) {
  auto [header, dataStart] = readHeader(in, size, name);
  ir::Shape shape(header.shape);
  if (auto problem = shape.validate())
    formatError(name, 0, fmt::format("invalid shape {}: {}", shape.str(), *problem));
  if (header.fortranOrder && shape.rank() > 1)
    formatError(name, 0,
                "Fortran-order arrays are not supported (save a C-contiguous array, "
                "e.g. with numpy.ascontiguousarray)");
  ir::TensorType type{header.dtype, shape};
  uint64_t expected = uint64_t(shape.numel()) * ir::dtypeSize(header.dtype);
  if (size - dataStart != expected)
    formatError(name, dataStart,
                fmt::format("the header promises {} data bytes ({} '{}'), the file holds {}",
                            expected, shape.str(), npyDescr(header.dtype), size - dataStart));
  ir::HostTensor t(type);
  readExact(in, static_cast<char *>(t.raw()), expected, name, dataStart);
  if (header.dtype == ir::DType::Bool)
    checkBools(t, name, dataStart);
  return t;
}

ir::HostTensor readNpy(const std::string &path) {
  // Checked before opening: opening a FIFO that nobody writes would block.
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw Error(ErrorKind::Io, fmt::format("cannot read '{}': not a regular file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ErrorKind::Io, fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec || !std::filesystem::is_regular_file(path, ec))
    throw Error(ErrorKind::Io, fmt::format("cannot read '{}': not a regular file", path));
  return readNpy(in, size, path);
}

static std::string shapeTuple(const ir::Shape &s) {
  std::string out = "(";
  for (int i = 0; i < s.rank(); ++i)
    out += fmt::format("{}{}", s[i], i + 1 < s.rank() || s.rank() == 1 ? "," : "");
  return out + ")";
}

std::string encodeNpy(const ir::HostTensor &t) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                 npyDescr(t.dtype()), shapeTuple(t.shape()));
  bool v2 = dict.size() + 11 > 65535;
  size_t prefix = v2 ? 12 : 10;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64; // header padded to 64 bytes
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out(kMagic);
  out.push_back(char(v2 ? 2 : 1));
  out.push_back(0);
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i)
    out.push_back(char((dict.size() >> (8 * i)) & 0xff));
  out += dict;
  out.append(static_cast<const char *>(t.raw()), t.bytes());
  return out;
}

void writeNpy(const std::string &path, const ir::HostTensor &t) {
  std::string bytes = encodeNpy(t);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    throw Error(ErrorKind::Io, fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  out.write(bytes.data(), std::streamsize(bytes.size()));
  out.close();
  if (!out)
    throw Error(ErrorKind::Io, fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
}

} // namespace kiln::tool
