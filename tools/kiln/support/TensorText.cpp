//===- TensorText.cpp -----------------------------------------------------===//
#include "TensorText.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace kiln::tool {

namespace {

/// Splits a literal into value tokens, checking that brackets balance.
class LiteralLexer {
public:
  LiteralLexer(std::string_view text, std::string_view what) : text_(text), what_(what) {}

  std::vector<std::string_view> tokens() {
    std::vector<std::string_view> out;
    int depth = 0;
    size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (c == '[') {
        ++depth;
        ++i;
      } else if (c == ']') {
        if (--depth < 0)
          fail(fmt::format("unbalanced ']' at character {}", i + 1));
        ++i;
      } else if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
        ++i;
      } else {
        size_t start = i;
        while (i < text_.size() && text_.find_first_of("[], \t\n", i) != i)
          ++i;
        out.push_back(text_.substr(start, i - start));
      }
    }
    if (depth != 0)
      fail("unbalanced '[': missing ']'");
    return out;
  }

private:
  [[noreturn]] void fail(const std::string &message) const {
    throw Error(ErrorKind::Usage, fmt::format("{}: {}", what_, message));
  }

  std::string_view text_;
  std::string_view what_;
};

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i])
      return false;
  return true;
}

/// Parses one token as a number: decimal, scientific, inf, nan, true, false.
/// Returns nullopt for text that is not a number, and sets `overflow` for a
/// number beyond the range of double.
std::optional<double> parseNumber(std::string_view tok, bool &overflow) {
  overflow = false;
  if (equalsIgnoreCase(tok, "true"))
    return 1.0;
  if (equalsIgnoreCase(tok, "false"))
    return 0.0;
  std::string_view body = tok;
  if (!body.empty() && body.front() == '+')
    body.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (body.empty() || end != body.data() + body.size())
    return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // from_chars leaves v alone; strtod tells overflow (inf) from underflow.
    double approx = std::strtod(std::string(body).c_str(), nullptr);
    overflow = std::isinf(approx);
    return overflow ? std::nullopt : std::optional<double>(approx);
  }
  return v;
}

/// Exact parse of an integer token (no rounding through double).
std::optional<int64_t> parseInteger(std::string_view tok) {
  if (!tok.empty() && tok.front() == '+')
    tok.remove_prefix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (ec != std::errc() || end != tok.data() + tok.size() || tok.empty())
    return std::nullopt;
  return v;
}

/// Stores token `tok` as element `i` of `t`, or throws naming the problem.
void storeElement(ir::HostTensor &t, int64_t i, std::string_view tok, std::string_view what) {
  ir::DType dt = t.dtype();
  auto fail = [&](std::string_view why) {
    throw Error(ErrorKind::Usage, fmt::format("{}: '{}' is {}", what, tok, why));
  };
  if (dt == ir::DType::I64) {
    if (auto exact = parseInteger(tok)) {
      t.data<int64_t>()[i] = *exact;
      return;
    }
  }
  bool overflow = false;
  std::optional<double> v = parseNumber(tok, overflow);
  if (!v)
    fail(overflow ? "out of range (write inf for infinity)" : "not a number");
  if (dt == ir::DType::Bool && *v != 0 && *v != 1)
    fail("not a boolean (use true, false, 1 or 0)");
  if (ir::isInteger(dt)) {
    if (!std::isfinite(*v) || *v != std::trunc(*v))
      fail(fmt::format("not an integer, as {} needs", ir::dtypeName(dt)));
    constexpr double kTwo63 = 9223372036854775808.0;
    bool inRange = dt == ir::DType::U8 ? *v >= 0 && *v <= 255 : *v >= -kTwo63 && *v < kTwo63;
    if (!inRange)
      fail(fmt::format("out of range for {}", ir::dtypeName(dt)));
  }
  // A finite number that f32 cannot hold would silently become inf.
  if (dt == ir::DType::F32 && std::isfinite(*v) && std::isinf(float(*v)))
    fail("out of range for f32 (largest 3.4028235e38; write inf for infinity)");
  t.set(i, *v);
}

} // namespace

ir::HostTensor parseTensorLiteral(std::string_view text, const ir::TensorType &type,
                                  std::string_view what) {
  std::vector<std::string_view> tokens = LiteralLexer(text, what).tokens();
  ir::HostTensor t(type);
  int64_t n = t.numel();
  if (tokens.size() == 1 && n != 1) {
    storeElement(t, 0, tokens[0], what);
    for (int64_t i = 1; i < n; ++i)
      std::memcpy(static_cast<char *>(t.raw()) + i * ir::dtypeSize(type.dtype), t.raw(),
                  ir::dtypeSize(type.dtype));
    return t;
  }
  if (int64_t(tokens.size()) != n)
    throw Error(ErrorKind::Usage,
                fmt::format("{}: {} value{} given, expected {} (or one value to fill it)", what,
                            tokens.size(), tokens.size() == 1 ? "" : "s", n));
  for (int64_t i = 0; i < n; ++i)
    storeElement(t, i, tokens[size_t(i)], what);
  return t;
}

std::string formatElement(double v, ir::DType dtype) {
  if (dtype == ir::DType::Bool)
    return v != 0 ? "true" : "false";
  if (std::isnan(v))
    return "nan";
  if (std::isinf(v))
    return v > 0 ? "inf" : "-inf";
  if (ir::isInteger(dtype))
    return fmt::format("{:.0f}", v);
  double a = std::fabs(v);
  if (v == std::trunc(v) && a < 1e16)
    return fmt::format("{:.0f}", v);
  std::string s;
  size_t trimEnd;
  if (a >= 1e-4 && a < 1e16) {
    s = fmt::format("{:.4f}", v);
    trimEnd = s.size();
  } else {
    s = fmt::format("{:.4e}", v);
    trimEnd = s.find('e');
  }
  // Trim zeros (and a bare '.') at the end of the mantissa.
  size_t cut = trimEnd;
  while (cut > 0 && s[cut - 1] == '0')
    --cut;
  if (cut > 0 && s[cut - 1] == '.')
    --cut;
  return s.substr(0, cut) + s.substr(trimEnd);
}

namespace {

struct TensorFormatter {
  const ir::HostTensor &t;
  std::vector<int64_t> strides;
  bool summarize;
  int64_t edge;
  std::string out;

  void dim(int d, int64_t offset) {
    if (d == t.shape().rank()) {
      // i64 beyond 2^53 would lose digits through double.
      out += t.dtype() == ir::DType::I64 ? fmt::format("{}", t.data<int64_t>()[offset])
                                         : formatElement(t.get(offset), t.dtype());
      return;
    }
    out += '[';
    int64_t n = t.shape()[d];
    for (int64_t i = 0; i < n; ++i) {
      if (summarize && n > 2 * edge && i == edge) {
        out += "..., ";
        i = n - edge;
      }
      dim(d + 1, offset + i * strides[size_t(d)]);
      if (i + 1 < n)
        out += ", ";
    }
    out += ']';
  }
};

} // namespace

std::string formatTensor(const ir::HostTensor &t, const FormatOptions &opts) {
  if (!t.defined())
    return "<undefined>";
  TensorFormatter f{t,
                    t.shape().strides(),
                    t.numel() > opts.summarizeAbove,
                    std::max<int64_t>(opts.edgeItems, 1),
                    {}};
  f.dim(0, 0);
  return std::move(f.out);
}

} // namespace kiln::tool
