//===- Plot.cpp - Line plots as SVG files ---------------------------------===//
#include "Plot.h"

#include <kiln/ir/Error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

namespace kiln::examples {

namespace {

constexpr double kWidth = 640, kHeight = 420;
constexpr double kLeft = 70, kRight = 150, kTop = 40, kBottom = 50;
const char *const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

std::string escapeXml(const std::string &s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '&':
      out += "&amp;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  /// A non-empty range even for no or one distinct value.
  void settle() {
    if (!(lo <= hi))
      lo = 0, hi = 1;
    if (lo == hi)
      lo -= 0.5, hi += 0.5;
  }
};

/// About five round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  double step = std::pow(10.0, std::floor(std::log10((hi - lo) / 5)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if ((hi - lo) / (step * m) <= 6) {
      step *= m;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return out;
}

} // namespace

std::string plotSvg(const PlotSpec &spec) {
  auto yOf = [&](double v) { return spec.logY ? (v > 0 ? std::log10(v) : NAN) : v; };
  Range xr, yr;
  for (const Series &s : spec.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      xr.add(s.x[i]);
      yr.add(yOf(s.y[i]));
    }
  xr.settle();
  yr.settle();
  double plotW = kWidth - kLeft - kRight, plotH = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - xr.lo) / (xr.hi - xr.lo) * plotW; };
  auto py = [&](double y) { return kTop + (yr.hi - y) / (yr.hi - yr.lo) * plotH; };

  std::string svg =
      fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n"
                  "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
                  "<text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
                  kWidth, kHeight, kLeft + plotW / 2, escapeXml(spec.title));
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
                     "stroke=\"black\"/>\n",
                     kLeft, kTop, plotW, plotH);
  for (double t : ticks(xr.lo, xr.hi))
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                       "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4:g}</text>\n",
                       px(t), kTop, kTop + plotH, kTop + plotH + 16, t);
  for (double t : ticks(yr.lo, yr.hi))
    svg += fmt::format("<line x1=\"{1}\" y1=\"{0:.1f}\" x2=\"{2}\" y2=\"{0:.1f}\" stroke=\"#ddd\"/>"
                       "<text x=\"{3}\" y=\"{0:.1f}\" text-anchor=\"end\" "
                       "dominant-baseline=\"middle\">{4:g}</text>\n",
                       py(t), kLeft, kLeft + plotW, kLeft - 6, spec.logY ? std::pow(10.0, t) : t);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     kLeft + plotW / 2, kHeight - 12, escapeXml(spec.xLabel));
  svg += fmt::format("<text transform=\"translate(16,{}) rotate(-90)\" "
                     "text-anchor=\"middle\">{}</text>\n",
                     kTop + plotH / 2, escapeXml(spec.yLabel + (spec.logY ? " (log)" : "")));

  for (size_t k = 0; k < spec.series.size(); ++k) {
    const Series &s = spec.series[k];
    const char *color = kColors[k % std::size(kColors)];
    std::string path;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      double y = yOf(s.y[i]);
      if (!std::isfinite(y) || !std::isfinite(s.x[i]))
        continue;
      if (s.points)
        svg += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"3\" fill=\"{}\"/>\n",
                           px(s.x[i]), py(y), color);
      else
        path += fmt::format("{}{:.2f},{:.2f}", path.empty() ? "M" : " L", px(s.x[i]), py(y));
    }
    if (!path.empty())
      svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", path,
                         color);
    double ly = kTop + 10 + 20 * double(k);
    svg +=
        fmt::format("<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"4\" fill=\"{}\"/>"
                    "<text x=\"{}\" y=\"{}\" dominant-baseline=\"middle\">{}</text>\n",
                    kLeft + plotW + 12, ly - 2, color, kLeft + plotW + 32, ly, escapeXml(s.label));
  }
  return svg + "</svg>\n";
}

void writePlot(const std::filesystem::path &path, const PlotSpec &spec) {
  std::error_code ec;
  if (path.has_parent_path())
    std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << plotSvg(spec);
  out.close();
  if (!out)
    throw Error(ErrorKind::Io, "cannot write the plot", path.string());
}

} // namespace kiln::examples
