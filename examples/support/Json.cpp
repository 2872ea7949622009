//===- Json.cpp - JSON output of the examples -----------------------------===//
#include "Json.h"

#include <fmt/format.h>

#include <cmath>

namespace kiln::examples {

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20)
        out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
      else
        out += c;
    }
  }
  return out + "\"";
}

std::string jsonNumber(double v, DType dtype) {
  if (!std::isfinite(v))
    return "null";
  return dtype == f32 ? fmt::format("{}", float(v)) : fmt::format("{}", v);
}

namespace {

/// Appends the sub-tensor of dims d.. starting at element `next`.
void appendJson(std::string &out, const std::vector<double> &values, const Tensor &t, int d,
                size_t &next) {
  if (d == t.dim()) {
    out += jsonNumber(values.at(next++), t.dtype());
    return;
  }
  out += "[";
  for (int64_t i = 0; i < t.shape()[d]; ++i) {
    out += i ? ", " : "";
    appendJson(out, values, t, d + 1, next);
  }
  out += "]";
}

} // namespace

std::string jsonTensor(const Tensor &t) {
  std::string out;
  size_t next = 0;
  appendJson(out, t.to_vector(), t, 0, next);
  return out;
}

std::string jsonArray(const std::vector<double> &values, DType dtype) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i)
    out += (i ? ", " : "") + jsonNumber(values[i], dtype);
  return out + "]";
}

JsonObject &JsonObject::raw(std::string_view key, std::string_view json) {
  body_ += (body_.empty() ? "" : ", ") + jsonString(key) + ": " + std::string(json);
  return *this;
}

JsonObject &JsonObject::number(std::string_view key, double value, DType dtype) {
  return raw(key, jsonNumber(value, dtype));
}

JsonObject &JsonObject::integer(std::string_view key, int64_t value) {
  return raw(key, std::to_string(value));
}

JsonObject &JsonObject::boolean(std::string_view key, bool value) {
  return raw(key, value ? "true" : "false");
}

JsonObject &JsonObject::string(std::string_view key, std::string_view value) {
  return raw(key, jsonString(value));
}

} // namespace kiln::examples
