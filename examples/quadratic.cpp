//===- quadratic.cpp - textbook §2: a straight line through a curve -------===//
//
// The linear model of linreg fitted to y = 3x^2 + 5 (x = 1..10): the best
// straight line through a parabola. Plots predicted against actual values.
// PyTorch 1.13 (seed 0, lr 0.01, 1000 epochs): loss 475.40, y = 32.861 x - 60.034
// (still converging: the least-squares line is y = 33 x - 61).
//
//===----------------------------------------------------------------------===//
#include "support/Example.h"
#include "support/Json.h"
#include "support/Training.h"

#include <kiln/kiln.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>

#include <fmt/format.h>

using namespace kiln;
using namespace kiln::examples;

KILN_EXAMPLE(quadratic, "quadratic",
             "textbook §2: fit y = 3x^2 + 5 with the linear model; plot predicted vs actual") {
  int64_t epochs = args.integer("--epochs", 1000, "Training epochs (one step each)", 1);
  double lr = args.number("--lr", 0.01, "Learning rate of SGD");
  int64_t printEvery = args.integer("--print-every", 100, "Print the loss every N epochs", 1);
  TrainingOptions options = TrainingOptions::parse(args, 0, ".");
  args.finish();

  Tensor x = arange(1, 11).to(f32).reshape({10, 1});
  Tensor y = x.pow(2) * 3 + 5;
  nn::Linear model(1, 1);
  optim::SGD optimiser(model.parameters(), lr);
  nn::MSELoss criterion;

  TrainingRun run(options, "quadratic", epochs);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    optimiser.zero_grad();
    Tensor loss = criterion(model(x), y);
    run.beforeBackward(loss);
    loss.backward();
    optimiser.step();
    run.afterStep(loss);
    if (options.text() && (epoch % printEvery == 0 || epoch == epochs - 1))
      run.println(fmt::format("epoch {}, loss {:.4f}", epoch, run.losses().back()));
  }
  run.finish();

  Tensor predicted = no_grad([&] { return model(x); });
  std::vector<double> xs = x.to_vector(), actual = y.to_vector(), pred = predicted.to_vector();
  run.plot("quadratic.svg", {.title = "y = 3x^2 + 5 and the fitted line",
                             .xLabel = "x",
                             .yLabel = "y",
                             .series = {{.label = "actual", .x = xs, .y = actual, .points = true},
                                        {.label = "predicted", .x = xs, .y = pred}}});
  double weight = model.weight.item(), bias = model.bias.item();
  if (options.json) {
    fmt::print("{}\n", JsonObject()
                           .number("weight", weight, f32)
                           .number("bias", bias, f32)
                           .number("loss", run.losses().back(), f32)
                           .raw("x", jsonArray(xs, f32))
                           .raw("actual", jsonArray(actual, f32))
                           .raw("predicted", jsonArray(pred, f32))
                           .integer("steps", run.steps())
                           .number("us_per_step", run.usPerStep())
                           .str());
  } else if (options.text()) {
    fmt::print("fitted line: y = {:.4f} x + {:.4f}\n   x   actual  predicted\n", weight, bias);
    for (size_t i = 0; i < xs.size(); ++i)
      fmt::print("{:4g} {:8.2f} {:10.2f}\n", xs[i], actual[i], pred[i]);
    if (!options.plotDir.empty())
      fmt::print("plot: {}\n", (options.plotDir / "quadratic.svg").string());
  }
  return 0;
}
