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

// Sizes in px. Text widths are estimated (no font metrics in an SVG writer):
// kCharWidth is a generous average for 12 px sans-serif digits and letters.
constexpr double kPlotWidth = 420, kPlotHeight = 330, kTop = 40, kBottom = 50;
constexpr double kCharWidth = 7, kTextHeight = 14, kTickGap = 6, kTitleGap = 10;
constexpr double kOuterGap = 8, kLegendSwatch = 32;
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

double textWidth(const std::string &s) { return kCharWidth * double(s.size()); }

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

/// Four to eight round tick values (1, 2 or 5 times a power of ten apart)
/// covering [lo, hi].
std::vector<double> linearTicks(double lo, double hi) {
  double step = std::pow(10.0, std::floor(std::log10((hi - lo) / 5)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if ((hi - lo) / (step * m) <= 7) {
      step *= m;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return out;
}

/// Round tick values for a log axis over [10^lo10, 10^hi10]: decades when it
/// spans three or more (thinned to at most seven), else 1, 2 and 5 times the
/// powers of ten, else (a range within a factor of ~2) linear round values.
std::vector<double> logTicks(double lo10, double hi10) {
  auto first = int(std::ceil(lo10 - 1e-9)), last = int(std::floor(hi10 + 1e-9));
  std::vector<double> out;
  if (last - first + 1 >= 3) {
    int stride = (last - first) / 7 + 1;
    for (int k = first; k <= last; k += stride)
      out.push_back(std::pow(10.0, k));
    return out;
  }
  double lo = std::pow(10.0, lo10), hi = std::pow(10.0, hi10);
  for (int k = first - 1; k <= last; ++k)
    for (double m : {1.0, 2.0, 5.0})
      if (double v = m * std::pow(10.0, k); v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9))
        out.push_back(v);
  if (out.size() >= 3)
    return out;
  out.clear();
  for (double v : linearTicks(lo, hi))
    if (v > 0)
      out.push_back(v);
  return out;
}

/// One y axis: its range in plot coordinates (log10 of the value on a log
/// axis), its ticks there and their labels.
struct YAxis {
  bool log = false;
  Range range;
  std::vector<double> ticks;
  std::vector<std::string> labels;
  double labelWidth = 0;

  double coordinate(double v) const { return log ? (v > 0 ? std::log10(v) : NAN) : v; }
  void settle() {
    range.settle();
    // A margin, so that points on the extremes are not cut by the frame.
    double pad = 0.04 * (range.hi - range.lo);
    range.lo -= pad;
    range.hi += pad;
    std::vector<double> values =
        log ? logTicks(range.lo, range.hi) : linearTicks(range.lo, range.hi);
    for (double v : values) {
      ticks.push_back(coordinate(v));
      labels.push_back(fmt::format("{:g}", v));
      labelWidth = std::max(labelWidth, textWidth(labels.back()));
    }
  }
  /// The space beside the plot that the tick labels and the title need.
  double margin() const { return kTickGap + labelWidth + kTitleGap + kTextHeight; }
};

} // namespace

std::string plotSvg(const PlotSpec &spec) {
  Range xr;
  YAxis left{.log = spec.logY}, right;
  bool hasRight = false;
  size_t longestLegend = 0;
  for (const Series &s : spec.series) {
    YAxis &axis = s.rightAxis ? right : left;
    hasRight |= s.rightAxis;
    longestLegend = std::max(longestLegend, s.label.size());
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      xr.add(s.x[i]);
      axis.range.add(axis.coordinate(s.y[i]));
    }
  }
  xr.settle();
  left.settle();
  right.settle();

  // Left to right: title, tick labels, plot, tick labels, title, legend.
  double plotLeft = kOuterGap + left.margin();
  double plotRight = plotLeft + kPlotWidth;
  double legendLeft = plotRight + (hasRight ? right.margin() : 0) + 2 * kOuterGap;
  double width = legendLeft + kLegendSwatch + kCharWidth * double(longestLegend) + kOuterGap;
  double height = kTop + kPlotHeight + kBottom;
  auto px = [&](double x) { return plotLeft + (x - xr.lo) / (xr.hi - xr.lo) * kPlotWidth; };
  auto py = [&](const YAxis &axis, double y) {
    return kTop + (axis.range.hi - y) / (axis.range.hi - axis.range.lo) * kPlotHeight;
  };

  std::string svg =
      fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n"
                  "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
                  "<text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
                  width, height, plotLeft + kPlotWidth / 2, escapeXml(spec.title));
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
                     "stroke=\"black\"/>\n",
                     plotLeft, kTop, kPlotWidth, kPlotHeight);
  for (double t : linearTicks(xr.lo, xr.hi))
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                       "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4:g}</text>\n",
                       px(t), kTop, kTop + kPlotHeight, kTop + kPlotHeight + 16, t);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     plotLeft + kPlotWidth / 2, height - 12, escapeXml(spec.xLabel));

  // Grid lines for the left axis only; the right axis has ticks.
  for (size_t i = 0; i < left.ticks.size(); ++i)
    svg += fmt::format("<line x1=\"{1}\" y1=\"{0:.1f}\" x2=\"{2}\" y2=\"{0:.1f}\" stroke=\"#ddd\"/>"
                       "<text x=\"{3}\" y=\"{0:.1f}\" text-anchor=\"end\" "
                       "dominant-baseline=\"middle\">{4}</text>\n",
                       py(left, left.ticks[i]), plotLeft, plotRight, plotLeft - kTickGap,
                       left.labels[i]);
  // Rotated titles: the glyphs lie on the left of their baseline.
  svg += fmt::format("<text transform=\"translate({:.1f},{}) rotate(-90)\" "
                     "text-anchor=\"middle\">{}</text>\n",
                     plotLeft - kTickGap - left.labelWidth - kTitleGap, kTop + kPlotHeight / 2,
                     escapeXml(spec.yLabel + (spec.logY ? " (log scale)" : "")));
  if (hasRight) {
    for (size_t i = 0; i < right.ticks.size(); ++i)
      svg +=
          fmt::format("<line x1=\"{1}\" y1=\"{0:.1f}\" x2=\"{2}\" y2=\"{0:.1f}\" stroke=\"black\"/>"
                      "<text x=\"{3}\" y=\"{0:.1f}\" dominant-baseline=\"middle\">{4}</text>\n",
                      py(right, right.ticks[i]), plotRight - 4, plotRight, plotRight + kTickGap,
                      right.labels[i]);
    svg += fmt::format("<text transform=\"translate({:.1f},{}) rotate(-90)\" "
                       "text-anchor=\"middle\">{}</text>\n",
                       plotRight + right.margin(), kTop + kPlotHeight / 2,
                       escapeXml(spec.yRightLabel));
  }

  for (size_t k = 0; k < spec.series.size(); ++k) {
    const Series &s = spec.series[k];
    const YAxis &axis = s.rightAxis ? right : left;
    const char *color = kColors[k % std::size(kColors)];
    std::string path;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      double y = axis.coordinate(s.y[i]);
      if (!std::isfinite(y) || !std::isfinite(s.x[i]))
        continue;
      if (s.points)
        svg += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"3\" fill=\"{}\"/>\n",
                           px(s.x[i]), py(axis, y), color);
      else
        path += fmt::format("{}{:.2f},{:.2f}", path.empty() ? "M" : " L", px(s.x[i]), py(axis, y));
    }
    if (!path.empty())
      svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", path,
                         color);
    double ly = kTop + 10 + 20 * double(k);
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"4\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"{}\" dominant-baseline=\"middle\">{}</text>\n",
                       legendLeft, ly - 2, color, legendLeft + 20, ly, escapeXml(s.label));
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
