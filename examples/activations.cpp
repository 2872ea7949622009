//===- activations.cpp - textbook §5: activation functions ----------------===//
//
// ReLU, sigmoid, tanh and softmax on x in [-5, 5], printed at a few points
// and plotted (softmax over the whole row of x, so its curve is e^x / sum).
//
//===----------------------------------------------------------------------===//
#include "support/Example.h"
#include "support/Json.h"
#include "support/Plot.h"

#include <kiln/kiln.h>
#include <kiln/nn/nn.h>

#include <fmt/format.h>

#include <filesystem>

using namespace kiln;
using namespace kiln::examples;

KILN_EXAMPLE(activations, "activations",
             "textbook §5: relu, sigmoid, tanh and softmax, printed and plotted") {
  bool json = args.flag("--json", "Print the values as one JSON object");
  std::string plotDir = args.string("--plot", ".", "Write activations.svg to directory DIR", "DIR");
  int64_t points = args.integer("--points", 101, "Number of points in [-5, 5]", 2);
  args.finish();

  Tensor x = arange(0, points).to(f32) * (10.0 / double(points - 1)) - 5;
  std::vector<std::pair<std::string, Tensor>> curves = {
      {"relu", nn::ReLU()(x)},
      {"sigmoid", nn::Sigmoid()(x)},
      {"tanh", nn::Tanh()(x)},
      {"softmax", nn::Softmax(0)(x)},
  };

  std::vector<double> xs = x.to_vector();
  PlotSpec spec{.title = "Activation functions", .xLabel = "x", .yLabel = "f(x)"};
  for (auto &[name, y] : curves)
    spec.series.push_back({.label = name, .x = xs, .y = y.to_vector()});
  if (!plotDir.empty())
    writePlot(std::filesystem::path(plotDir) / "activations.svg", spec);

  if (json) {
    JsonObject out;
    out.raw("x", jsonArray(xs, f32));
    for (auto &[name, y] : curves)
      out.raw(name, jsonTensor(y));
    fmt::print("{}\n", out.str());
    return 0;
  }
  Tensor probe = tensor({-2.0, -1.0, 0.0, 1.0, 2.0});
  fmt::print("x        = {}\n", fmt::join(probe.to_vector(), ", "));
  fmt::print("relu     = {:.4f}\n", fmt::join(probe.relu().to_vector(), ", "));
  fmt::print("sigmoid  = {:.4f}\n", fmt::join(probe.sigmoid().to_vector(), ", "));
  fmt::print("tanh     = {:.4f}\n", fmt::join(probe.tanh().to_vector(), ", "));
  fmt::print("softmax  = {:.4f}  (sums to 1)\n", fmt::join(probe.softmax(0).to_vector(), ", "));
  if (!plotDir.empty())
    fmt::print("plot: {}\n", (std::filesystem::path(plotDir) / "activations.svg").string());
  return 0;
}
