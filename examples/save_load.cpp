//===- save_load.cpp - textbook §3: saving and restoring a model ----------===//
//
// Trains the linear-regression model, saves its state_dict as safetensors,
// restores it into a fresh model (other initial weights) that then predicts
// exactly the same, and resumes training with a new optimiser. Resuming gives
// the same weights as never having stopped.
//
//===----------------------------------------------------------------------===//
#include "support/Example.h"
#include "support/Json.h"
#include "support/Training.h"

#include <kiln/Serialize.h>
#include <kiln/kiln.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>

#include <fmt/format.h>

#include <filesystem>

using namespace kiln;
using namespace kiln::examples;

namespace {

struct LinearModel : nn::Module {
  std::shared_ptr<nn::Linear> linear =
      register_module("linear", std::make_shared<nn::Linear>(1, 1));
  Tensor forward(const Tensor &x) override { return (*linear)(x); }
  std::string name() const override { return "LinearModel"; }
};

/// `epochs` steps of SGD on (x, y), as in linreg; returns the last loss.
double train(LinearModel &model, const Tensor &x, const Tensor &y, double lr, int64_t epochs,
             TrainingRun *run = nullptr) {
  optim::SGD optimiser(model.parameters(), lr);
  nn::MSELoss criterion;
  double last = 0;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    optimiser.zero_grad();
    Tensor loss = criterion(model(x), y);
    if (run)
      run->beforeBackward(loss);
    loss.backward();
    optimiser.step();
    if (run)
      run->afterStep(loss);
    last = loss.item();
  }
  return last;
}

} // namespace

KILN_EXAMPLE(save_load, "save-load",
             "textbook §3: save a trained model (safetensors), restore it, resume training") {
  int64_t epochs = args.integer("--epochs", 500, "Epochs before saving, and again after", 1);
  double lr = args.number("--lr", 0.01, "Learning rate of SGD");
  std::string file = args.string(
      "--file", (std::filesystem::temp_directory_path() / "kiln-linreg.safetensors").string(),
      "Where to save the model", "FILE");
  TrainingOptions options = TrainingOptions::parse(args);
  args.finish();

  Tensor x = arange(1, 11).to(f32).reshape({10, 1});
  Tensor y = x * 3 + 5;
  LinearModel model;
  TrainingRun run(options, "save-load", epochs);
  double savedLoss = train(model, x, y, lr, epochs, &run);
  run.finish();
  save_safetensors(file, model.state_dict(), {{"example", "save-load"}});

  LinearModel restored; // other initial weights (the generator has moved on)
  std::vector<double> before = no_grad([&] { return restored(x); }).to_vector();
  restored.load_state_dict(load_safetensors(file));
  std::vector<double> original = no_grad([&] { return model(x); }).to_vector();
  std::vector<double> reloaded = no_grad([&] { return restored(x); }).to_vector();
  bool equal = original == reloaded;

  // Resume with a new optimiser; the original model trains on as if never stopped.
  double resumedLoss = train(restored, x, y, lr, epochs);
  train(model, x, y, lr, epochs);
  bool same = restored.linear->weight.item() == model.linear->weight.item() &&
              restored.linear->bias.item() == model.linear->bias.item();

  double weight = restored.linear->weight.item(), bias = restored.linear->bias.item();
  if (options.json) {
    fmt::print("{}\n", JsonObject()
                           .string("file", file)
                           .number("saved_loss", savedLoss, f32)
                           .boolean("predictions_equal", equal)
                           .number("resumed_loss", resumedLoss, f32)
                           .number("weight", weight, f32)
                           .number("bias", bias, f32)
                           .boolean("resumed_matches_uninterrupted", same)
                           .str());
  } else if (options.text()) {
    fmt::print("trained {} epochs: loss {:.6f}, saved to {}\n", epochs, savedLoss, file);
    fmt::print("a fresh model predicts  {:.4f}\n", fmt::join(before, ", "));
    fmt::print("after load_state_dict   {:.4f}\n", fmt::join(reloaded, ", "));
    fmt::print("the trained model       {:.4f}\n", fmt::join(original, ", "));
    fmt::print("restored predictions equal the trained model's: {}\n", equal);
    fmt::print("resumed {} more epochs: loss {:.6f}, weight {:.4f}, bias {:.4f}\n", epochs,
               resumedLoss, weight, bias);
    fmt::print("same weights as training {} epochs without stopping: {}\n", 2 * epochs, same);
  }
  return 0;
}
