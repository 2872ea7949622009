//===- Plot.h - Line plots as SVG files -------------------------*- C++ -*-===//
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace kiln::examples {

/// One curve of a plot.
struct Series {
  std::string label;
  std::vector<double> x;
  std::vector<double> y;
  /// Dots at the points instead of a line through them.
  bool points = false;
  /// Drawn against the right-hand y axis (linear; PlotSpec::yRightLabel).
  bool rightAxis = false;
};

struct PlotSpec {
  std::string title;
  std::string xLabel;
  std::string yLabel;
  std::vector<Series> series;
  /// A logarithmic y axis (loss curves); values <= 0 are left out.
  bool logY = false;
  /// Title of the right-hand axis, shown when a series uses it.
  std::string yRightLabel;
};

/// The plot as a self-contained SVG document: axes with ticks at round values
/// (1-2-5 steps; decades or 1-2-5 multiples on a log axis), titles clear of
/// the tick labels, a legend.
std::string plotSvg(const PlotSpec &spec);
/// Writes plotSvg(spec) to `path`, creating its directory; Error(Io) on failure.
void writePlot(const std::filesystem::path &path, const PlotSpec &spec);

} // namespace kiln::examples
