//===- ExampleSupportTest.cpp - The examples' registry, options and output ===//
//
// examples/support: the KILN_EXAMPLE registry that both the example_NAME
// programs and `kiln example NAME` use, the option parser, JSON and SVG.
//
//===----------------------------------------------------------------------===//
#include "support/Example.h"
#include "support/Json.h"
#include "support/Plot.h"

#include <kiln/kiln.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace kiln;
using namespace kiln::examples;

namespace {

Args argsOf(std::vector<std::string> words) {
  return Args("example_test", "A test.", std::move(words));
}

template <class F> std::string usageErrorOf(F &&f) {
  try {
    f();
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage) << e.message();
    return e.message();
  }
  ADD_FAILURE() << "no error thrown";
  return {};
}

TEST(ExampleRegistryTest, EveryExampleOfTheChapterIsRegistered) {
  std::vector<std::string> names;
  for (const ExampleInfo &e : registeredExamples()) {
    names.emplace_back(e.name);
    EXPECT_FALSE(e.summary.empty()) << e.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"activations", "autograd", "linreg", "logreg", "mnist",
                                             "quadratic", "save-load"}));
  ASSERT_NE(findExample("save-load"), nullptr);
  EXPECT_EQ(findExample("nope"), nullptr);
}

TEST(ExampleArgsTest, ReadsValuesInBothSpellingsAndFlags) {
  Args args = argsOf({"--epochs", "20", "--lr=0.5", "--json", "--name", "x"});
  EXPECT_EQ(args.integer("--epochs", 1000, "epochs"), 20);
  EXPECT_EQ(args.number("--lr", 0.01, "lr"), 0.5);
  EXPECT_TRUE(args.flag("--json", "json"));
  EXPECT_FALSE(args.flag("--dot", "dot"));
  EXPECT_EQ(args.string("--name", "", "name"), "x");
  EXPECT_EQ(args.integer("--batch", 100, "batch"), 100); // default
  args.finish();
}

TEST(ExampleArgsTest, RejectsUnknownOptionsAndBadValues) {
  Args unknown = argsOf({"--epoch", "3"});
  unknown.integer("--epochs", 1, "epochs");
  EXPECT_EQ(usageErrorOf([&] { unknown.finish(); }), "unknown option '--epoch'");

  EXPECT_EQ(usageErrorOf([] {
              argsOf({"--epochs", "x"}).integer("--epochs", 1, "");
            }),
            "--epochs: 'x' is not an integer");
  EXPECT_EQ(usageErrorOf([] {
              argsOf({"--epochs", "0"}).integer("--epochs", 1, "", 1);
            }),
            "--epochs: 0 is below the minimum 1");
  EXPECT_EQ(usageErrorOf([] {
              argsOf({"--lr", "nan"}).number("--lr", 1, "");
            }),
            "--lr: 'nan' is not a number");
  EXPECT_EQ(usageErrorOf([] { argsOf({"--lr"}).number("--lr", 1, ""); }), "--lr needs a value");
  EXPECT_EQ(usageErrorOf([] {
              argsOf({"--model", "cnn"}).choice("--model", "linear", {"linear", "mlp"}, "");
            }),
            "--model: 'cnn' is not one of linear|mlp");
  Args positional = argsOf({"extra"});
  EXPECT_EQ(usageErrorOf([&] { positional.finish(); }), "unexpected argument 'extra'");
}

TEST(ExampleArgsTest, HelpListsTheDeclaredOptions) {
  Args args = argsOf({"--help"});
  args.integer("--epochs", 1000, "Training epochs");
  args.string("--dot", "", "Graph", "FILE");
  std::string help = args.help();
  EXPECT_NE(help.find("Usage: example_test [options]"), std::string::npos) << help;
  EXPECT_NE(help.find("--epochs N"), std::string::npos) << help;
  EXPECT_NE(help.find("(default: 1000)"), std::string::npos) << help;
  EXPECT_NE(help.find("--dot FILE"), std::string::npos) << help;
  testing::internal::CaptureStdout();
  EXPECT_THROW(args.finish(), Args::HelpShown);
  EXPECT_EQ(testing::internal::GetCapturedStdout(), help);
}

TEST(ExampleJsonTest, WritesObjectsNumbersAndTensors) {
  std::string json = JsonObject()
                         .number("loss", 2.0 / 3, f32)
                         .integer("steps", 3)
                         .boolean("ok", true)
                         .string("text", "a\"b\n")
                         .raw("t", jsonTensor(tensor({{1.0, 2.5}, {3.0, 4.0}})))
                         .number("nan", std::nan(""))
                         .str();
  EXPECT_EQ(json, "{\"loss\": 0.6666667, \"steps\": 3, \"ok\": true, \"text\": \"a\\\"b\\n\", "
                  "\"t\": [[1, 2.5], [3, 4]], \"nan\": null}");
}

TEST(ExamplePlotTest, DrawsEverySeriesWithItsLabel) {
  std::string svg =
      plotSvg({.title = "a < b",
               .xLabel = "x",
               .yLabel = "y",
               .series = {{.label = "line", .x = {0, 1, 2}, .y = {0, 1, 4}},
                          {.label = "dots", .x = {0, 1}, .y = {1, 1}, .points = true}}});
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("a &lt; b"), std::string::npos);
  EXPECT_NE(svg.find("<path d=\"M"), std::string::npos);
  EXPECT_NE(svg.find("<circle"), std::string::npos);
  EXPECT_NE(svg.find(">line<"), std::string::npos);
  EXPECT_NE(svg.find(">dots<"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST(ExamplePlotTest, ALogAxisLeavesOutNonPositiveValues) {
  std::string svg =
      plotSvg({.series = {{.label = "loss", .x = {1, 2, 3}, .y = {10, 0, 0.1}}}, .logY = true});
  // The curve joins the two positive points only: "M..., L...".
  size_t path = svg.find("<path d=\"M");
  ASSERT_NE(path, std::string::npos);
  std::string d = svg.substr(path, svg.find('"', path + 9) - path);
  EXPECT_EQ(std::count(d.begin(), d.end(), 'L'), 1) << d;
  EXPECT_EQ(d.find("nan"), std::string::npos) << d;
  EXPECT_EQ(d.find("inf"), std::string::npos) << d;
}

/// The labels of the left axis's ticks, in order ("end"-anchored texts).
std::vector<std::string> leftTickLabels(const std::string &svg) {
  std::vector<std::string> labels;
  const std::string marker = "text-anchor=\"end\" dominant-baseline=\"middle\">";
  for (size_t at = svg.find(marker); at != std::string::npos; at = svg.find(marker, at + 1)) {
    size_t begin = at + marker.size();
    labels.push_back(svg.substr(begin, svg.find('<', begin) - begin));
  }
  return labels;
}

TEST(ExamplePlotTest, LogAxisTicksAreRoundValues) {
  auto labelsFor = [](std::vector<double> y) {
    std::vector<double> x(y.size());
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = double(i);
    return leftTickLabels(plotSvg({.series = {{.label = "loss", .x = x, .y = y}}, .logY = true}));
  };
  // Four decades: the decades themselves.
  EXPECT_EQ(labelsFor({2.3, 0.0004}), (std::vector<std::string>{"0.001", "0.01", "0.1", "1"}));
  // Within one decade and a half: 1, 2 and 5 times powers of ten.
  EXPECT_EQ(labelsFor({2.4, 0.35}), (std::vector<std::string>{"0.5", "1", "2"}));
  // Within a factor of two: linear round values.
  EXPECT_EQ(labelsFor({0.61, 0.39}),
            (std::vector<std::string>{"0.4", "0.45", "0.5", "0.55", "0.6"}));
}

TEST(ExamplePlotTest, AxisTitleClearsTheWidestTickLabel) {
  std::string svg = plotSvg(
      {.yLabel = "loss", .series = {{.label = "l", .x = {0, 1}, .y = {0.000125, 0.000375}}}});
  // The rotated title's baseline lies left of the tick labels' left end.
  auto number = [&](const std::string &before, size_t from) {
    size_t at = svg.find(before, from);
    EXPECT_NE(at, std::string::npos) << before;
    return std::stod(svg.substr(at + before.size()));
  };
  size_t title = svg.find("rotate(-90)");
  ASSERT_NE(title, std::string::npos);
  double titleBaseline = number("translate(", svg.rfind("<text", title));
  double labelRight =
      number("<text x=\"", svg.rfind("<text x=\"", svg.find("text-anchor=\"end\"")));
  double widest = 0;
  for (const std::string &label : leftTickLabels(svg))
    widest = std::max(widest, 7.0 * double(label.size()));
  EXPECT_GT(widest, 40); // "0.00035" and the like
  EXPECT_LE(titleBaseline + 4, labelRight - widest);
  EXPECT_GE(titleBaseline - 14, 0); // the glyphs stay inside the picture
}

TEST(ExamplePlotTest, RightAxisSeriesGetTheirOwnTicksAndTitle) {
  std::string svg = plotSvg(
      {.yLabel = "loss",
       .series = {{.label = "loss", .x = {1, 2}, .y = {2, 1}},
                  {.label = "test accuracy", .x = {1, 2}, .y = {0.8, 0.9}, .rightAxis = true}},
       .logY = true,
       .yRightLabel = "accuracy"});
  EXPECT_NE(svg.find(">accuracy<"), std::string::npos);
  EXPECT_NE(svg.find(">0.82<"), std::string::npos); // a right-axis tick
  EXPECT_NE(svg.find(">test accuracy<"), std::string::npos);
  size_t curves = 0;
  for (size_t at = svg.find("<path d=\"M"); at != std::string::npos; at = svg.find("<path", at + 1))
    ++curves;
  EXPECT_EQ(curves, 2u);
}

} // namespace
