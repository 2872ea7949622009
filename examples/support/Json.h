//===- Json.h - JSON output of the examples ---------------------*- C++ -*-===//
#pragma once

#include <kiln/Tensor.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::examples {

/// A JSON string literal with escapes.
std::string jsonString(std::string_view s);
/// The shortest decimal that reads back as the same f32 (2.6666667) or, for
/// f64, the same double; JSON has no NaN or infinity, so those are null.
std::string jsonNumber(double v, DType dtype = f64);
/// Nested arrays, like PyTorch's tolist().
std::string jsonTensor(const Tensor &t);
std::string jsonArray(const std::vector<double> &values, DType dtype = f64);

/// A JSON object written one key at a time, in order.
class JsonObject {
public:
  JsonObject &number(std::string_view key, double value, DType dtype = f64);
  JsonObject &integer(std::string_view key, int64_t value);
  JsonObject &boolean(std::string_view key, bool value);
  JsonObject &string(std::string_view key, std::string_view value);
  /// `json` must already be valid JSON.
  JsonObject &raw(std::string_view key, std::string_view json);
  /// `{"key": value, ...}`.
  std::string str() const { return "{" + body_ + "}"; }

private:
  std::string body_;
};

} // namespace kiln::examples
