//===- logreg.cpp - textbook §4: logistic regression ----------------------===//
//
// Insect wing lengths (mm) and whether the insect is of the target species:
// Linear(1, 1) then sigmoid, BCELoss, SGD lr 0.01 for 1000 epochs, then the
// probabilities for new lengths. PyTorch 1.13 (seed 0): loss 0.5079,
// probabilities [0.609, 0.685, 0.403, 0.753] for 4.0, 5.0, 1.5, 6.0.
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

namespace {

struct LogisticModel : nn::Module {
  std::shared_ptr<nn::Linear> linear =
      register_module("linear", std::make_shared<nn::Linear>(1, 1));
  Tensor forward(const Tensor &x) override { return (*linear)(x).sigmoid(); }
  std::string name() const override { return "LogisticModel"; }
};

} // namespace

KILN_EXAMPLE(
    logreg, "logreg",
    "textbook §4: logistic regression (Linear + sigmoid, BCELoss) on insect wing lengths") {
  int64_t epochs = args.integer("--epochs", 1000, "Training epochs (one step each)", 1);
  double lr = args.number("--lr", 0.01, "Learning rate of SGD");
  int64_t printEvery = args.integer("--print-every", 100, "Print the loss every N epochs", 1);
  TrainingOptions options = TrainingOptions::parse(args);
  args.finish();

  Tensor x = tensor({{4.7}, {2.4}, {5.6}, {7.8}, {3.1}, {1.8}, {6.2}, {2.9}, {5.1}, {3.5}});
  Tensor y = tensor({{1.0}, {0.0}, {1.0}, {1.0}, {0.0}, {0.0}, {1.0}, {0.0}, {1.0}, {0.0}});
  LogisticModel model;
  optim::SGD optimiser(model.parameters(), lr);
  nn::BCELoss criterion;

  TrainingRun run(options, "logreg", epochs);
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

  Tensor lengths = tensor({{4.0}, {5.0}, {1.5}, {6.0}});
  Tensor probabilities = no_grad([&] { return model(lengths); });
  std::vector<double> p = probabilities.to_vector();
  if (options.json) {
    fmt::print("{}\n", JsonObject()
                           .number("loss", run.losses().back(), f32)
                           .number("weight", model.linear->weight.item(), f32)
                           .number("bias", model.linear->bias.item(), f32)
                           .raw("lengths", jsonArray(lengths.to_vector(), f32))
                           .raw("probabilities", jsonArray(p, f32))
                           .integer("steps", run.steps())
                           .number("us_per_step", run.usPerStep())
                           .str());
  } else if (options.text()) {
    fmt::print("probability of the target species (PyTorch 1.13, seed 0: 0.609, 0.685, 0.403, "
               "0.753):\n");
    std::vector<double> l = lengths.to_vector();
    for (size_t i = 0; i < p.size(); ++i)
      fmt::print("  wing length {:.1f} mm: {:.3f}\n", l[i], p[i]);
  }
  return 0;
}
