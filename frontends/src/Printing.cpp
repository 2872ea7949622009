//===- Printing.cpp - PyTorch's tensor repr -------------------------------===//
//
// Follows torch/_tensor_str.py of PyTorch 1.13 with its default print
// options (precision 4, linewidth 80, threshold 1000, edgeitems 3), so that
// kiln prints what the textbook shows:
//   tensor([[2.0000, 2.6667, 3.3333],
//           [4.0000, 4.6667, 5.3333]], requires_grad=True)
//
//===----------------------------------------------------------------------===//
#include "TensorImpl.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ostream>

namespace kiln {

namespace {

constexpr int kPrecision = 4;
constexpr size_t kLineWidth = 80;
constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;

/// The element indices of one axis that are shown (all, or the edges).
std::vector<int64_t> shownIndices(int64_t size, bool summarize) {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < size; ++i)
    if (!summarize || size <= 2 * kEdgeItems || i < kEdgeItems || i >= size - kEdgeItems)
      idx.push_back(i);
  return idx;
}

/// Flat indices of the elements that will be printed (get_summarized_data).
void collectShown(const Shape &shape, int d, int64_t offset, bool summarize,
                  std::vector<int64_t> &out) {
  if (d == shape.rank()) {
    out.push_back(offset);
    return;
  }
  int64_t stride = 1;
  for (int i = d + 1; i < shape.rank(); ++i)
    stride *= shape[i];
  for (int64_t i : shownIndices(shape[d], summarize))
    collectShown(shape, d + 1, offset + i * stride, summarize, out);
}

/// _Formatter: picks integer, fixed or scientific notation and a common
/// width from the values that will be shown.
class Formatter {
public:
  Formatter(const ir::HostTensor &t, const std::vector<int64_t> &shown) : t_(t) {
    floating_ = ir::isFloat(t.dtype());
    if (!floating_) {
      for (int64_t i : shown)
        width_ = std::max(width_, element(i).size());
      return;
    }
    std::vector<double> finite; // nonzero finite values
    for (int64_t i : shown) {
      double v = t.get(i);
      if (std::isfinite(v) && v != 0)
        finite.push_back(v);
    }
    if (finite.empty())
      return;
    double minAbs = INFINITY, maxAbs = 0;
    for (double v : finite) {
      minAbs = std::min(minAbs, std::fabs(v));
      maxAbs = std::max(maxAbs, std::fabs(v));
      intMode_ = intMode_ && v == std::ceil(v);
    }
    if (maxAbs / minAbs > 1000. || maxAbs > 1.e8 || (!intMode_ && minAbs < 1.e-4)) {
      sciMode_ = true;
      for (double v : finite)
        width_ = std::max(width_, fmt::format("{:.{}e}", v, kPrecision).size());
    } else if (intMode_) {
      for (double v : finite) // + 1 for the '.' that marks a float
        width_ = std::max(width_, fmt::format("{:.0f}", v).size() + 1);
    } else {
      for (double v : finite)
        width_ = std::max(width_, fmt::format("{:.{}f}", v, kPrecision).size());
    }
  }

  size_t width() const { return width_; }

  /// Element i, padded on the left to the common width.
  std::string operator()(int64_t i) const {
    std::string s = element(i);
    return std::string(width_ - std::min(width_, s.size()), ' ') + s;
  }

private:
  std::string element(int64_t i) const {
    switch (t_.dtype()) {
    case DType::Bool:
      return t_.data<uint8_t>()[i] ? "True" : "False";
    case DType::I64:
      return fmt::format("{}", t_.data<int64_t>()[i]);
    case DType::U8:
      return fmt::format("{}", t_.data<uint8_t>()[i]);
    default:
      break;
    }
    double v = t_.get(i);
    if (sciMode_)
      return fmt::format("{:.{}e}", v, kPrecision);
    if (intMode_)
      return fmt::format("{:.0f}", v) + (std::isfinite(v) ? "." : "");
    return fmt::format("{:.{}f}", v, kPrecision);
  }

  const ir::HostTensor &t_;
  bool floating_ = false;
  bool intMode_ = true;
  bool sciMode_ = false;
  size_t width_ = 1;
};

class Printer {
public:
  Printer(const ir::HostTensor &t, bool summarize, const Formatter &f)
      : t_(t), summarize_(summarize), f_(f), strides_(t.shape().strides()) {}

  /// _tensor_str_with_formatter for the sub-tensor at `offset` from dim d on.
  std::string str(int d, int64_t offset, size_t indent) const {
    const Shape &shape = t_.shape();
    if (shape.rank() == 0)
      return f_(0);
    if (d == shape.rank() - 1)
      return vector(offset, indent);
    std::vector<std::string> slices;
    bool cut = summarize_ && shape[d] > 2 * kEdgeItems;
    for (int64_t i : shownIndices(shape[d], summarize_)) {
      if (cut && i == shape[d] - kEdgeItems)
        slices.push_back("...");
      slices.push_back(str(d + 1, offset + i * strides_[size_t(d)], indent + 1));
    }
    std::string sep =
        "," + std::string(size_t(shape.rank() - d - 1), '\n') + std::string(indent + 1, ' ');
    return "[" + join(slices, sep) + "]";
  }

private:
  std::string vector(int64_t offset, size_t indent) const {
    int64_t size = t_.shape()[t_.shape().rank() - 1];
    size_t elementLength = f_.width() + 2;
    size_t perLine =
        std::max<size_t>(1, (kLineWidth - std::min(indent, kLineWidth)) / elementLength);
    std::vector<std::string> data;
    bool cut = summarize_ && size > 2 * kEdgeItems;
    for (int64_t i : shownIndices(size, summarize_)) {
      if (cut && i == size - kEdgeItems)
        data.push_back(" ...");
      data.push_back(f_(offset + i));
    }
    std::string out = "[";
    for (size_t i = 0; i < data.size(); ++i) {
      if (i > 0)
        out += i % perLine ? ", " : ",\n" + std::string(indent + 1, ' ');
      out += data[i];
    }
    return out + "]";
  }

  static std::string join(const std::vector<std::string> &parts, const std::string &sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i)
      out += (i ? sep : "") + parts[i];
    return out;
  }

  const ir::HostTensor &t_;
  bool summarize_;
  const Formatter &f_;
  std::vector<int64_t> strides_;
};

/// "reduce_mean" -> "ReduceMeanBackward", after PyTorch's grad_fn names.
std::string gradFnName(std::string_view op) {
  std::string out;
  bool upper = true;
  for (char c : op) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? char(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out + "Backward";
}

/// _add_suffixes: ", suffix" on the last line, or on a new line past the width.
std::string addSuffixes(std::string s, const std::vector<std::string> &suffixes, size_t indent) {
  size_t newline = s.rfind('\n');
  size_t lastLine = newline == std::string::npos ? s.size() + 2 : s.size() - newline + 1;
  for (const std::string &suffix : suffixes) {
    if (lastLine + suffix.size() + 2 > kLineWidth) {
      s += ",\n" + std::string(indent, ' ') + suffix;
      lastLine = indent + suffix.size();
    } else {
      s += ", " + suffix;
      lastLine += suffix.size() + 2;
    }
  }
  return s + ")";
}

std::string shapeTuple(const Shape &shape) {
  std::string s = "(";
  for (int i = 0; i < shape.rank(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.rank() == 1 ? ",)" : ")");
}

} // namespace

std::string Tensor::str() const {
  if (!defined())
    return "Tensor(undefined)";
  const ir::HostTensor &data = host();
  const std::string prefix = "tensor(";
  std::vector<std::string> suffixes;
  std::string body;
  std::string dtypeSuffix = fmt::format("dtype=kiln::{}", ir::dtypeName(data.dtype()));
  if (data.numel() == 0) {
    if (data.shape().rank() != 1)
      suffixes.push_back("size=" + shapeTuple(data.shape()));
    if (data.dtype() != f32)
      suffixes.push_back(dtypeSuffix);
    body = "[]";
  } else {
    if (data.dtype() == f64 || data.dtype() == u8) // not PyTorch's default dtypes
      suffixes.push_back(dtypeSuffix);
    bool summarize = data.numel() > kThreshold;
    std::vector<int64_t> shown;
    collectShown(data.shape(), 0, 0, summarize, shown);
    Formatter formatter(data, shown);
    body = Printer(data, summarize, formatter).str(0, 0, prefix.size());
  }
  if (!is_leaf())
    suffixes.push_back("grad_fn=<" + gradFnName(grad_fn_name()) + ">");
  else if (requires_grad())
    suffixes.push_back("requires_grad=True");
  return addSuffixes(prefix + body, suffixes, prefix.size());
}

std::ostream &operator<<(std::ostream &os, const Tensor &t) { return os << t.str(); }

} // namespace kiln
