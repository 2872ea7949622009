//===- linreg.cpp - textbook §2: linear regression ------------------------===//
//
// y = 3x + 5 for x = 1..10, fitted by nn::Linear(1, 1) with MSELoss and SGD
// (lr 0.01) for 1000 epochs. PyTorch 1.13 (seed 0): loss 0.000746, weight
// 3.0084, bias 4.9413; the book: weight 3.0113, bias 4.9210.
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

/// The chapter's model: one linear layer.
struct LinearModel : nn::Module {
  std::shared_ptr<nn::Linear> linear =
      register_module("linear", std::make_shared<nn::Linear>(1, 1));
  Tensor forward(const Tensor &x) override { return (*linear)(x); }
  std::string name() const override { return "LinearModel"; }
};

} // namespace

KILN_EXAMPLE(linreg, "linreg", "textbook §2: fit y = 3x + 5 with Linear(1, 1), MSELoss and SGD") {
  int64_t epochs = args.integer("--epochs", 1000, "Training epochs (one step each)", 1);
  double lr = args.number("--lr", 0.01, "Learning rate of SGD");
  double momentum = args.number("--momentum", 0, "Momentum of SGD");
  int64_t printEvery = args.integer("--print-every", 100, "Print the loss every N epochs", 1);
  bool compiled = args.flag("--compiled", "Run each step through kiln::compile: traced on the "
                                          "first call, then replayed without running the loop body");
  TrainingOptions options = TrainingOptions::parse(args);
  args.finish();

  Tensor x = arange(1, 11).to(f32).reshape({10, 1});
  Tensor y = x * 3 + 5;
  x.set_name("x"); // %x and %y in the step's IR
  y.set_name("y");
  LinearModel model;
  optim::SGD optimiser(model.parameters(), lr, momentum);
  nn::MSELoss criterion;

  TrainingRun run(options, "linreg", epochs);
  auto body = [&](Tensor x, Tensor y) {
    optimiser.zero_grad();
    Tensor out = model(x);
    Tensor loss = criterion(out, y);
    run.beforeBackward(loss);
    loss.backward();
    optimiser.step();
    return loss;
  };
  auto step = kiln::compile(body);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    Tensor loss = compiled ? step(x, y) : body(x, y);
    run.afterStep(loss);
    if (options.text() && (epoch % printEvery == 0 || epoch == epochs - 1))
      run.println(fmt::format("epoch {}, loss {:.6f}", epoch, run.losses().back()));
  }
  run.finish();

  double weight = model.linear->weight.item(), bias = model.linear->bias.item();
  double loss = run.losses().back();
  if (options.json)
    fmt::print("{}\n", JsonObject()
                           .number("weight", weight, f32)
                           .number("bias", bias, f32)
                           .number("loss", loss, f32)
                           .integer("steps", run.steps())
                           .integer("replays", step.replays())
                           .number("us_per_step", run.usPerStep())
                           .number("compile_ms", run.compileMs())
                           .number("train_seconds", run.seconds())
                           .str());
  else if (options.text())
    fmt::print("weight {:.4f}, bias {:.4f}, loss {:.6f} (PyTorch 1.13, seed 0: 3.0084, 4.9413, "
               "0.000746)\n{} steps, {:.2f} us per step\n",
               weight, bias, loss, run.steps(), run.usPerStep());
  return 0;
}
