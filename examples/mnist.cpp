//===- mnist.cpp - textbook §6: classifying MNIST digits ------------------===//
//
// 28x28 images flattened to 784 inputs, one linear layer to 10 scores (or an
// MLP with --model mlp), CrossEntropyLoss, SGD; shuffled batches. The seed
// configuration is the defaults: lr 1e-4, batch 100, 5 epochs. Prints the
// loss per epoch, the first prediction row of a training batch beside its
// label, and SuccessRate (argmax == label) on that batch and on the test set.
//
// Data: --data DIR (any MNIST-format directory, e.g. Debian's
// /usr/share/datasets/fashion-mnist), else the embedded sample (scripts/setup).
//
//===----------------------------------------------------------------------===//
#include "support/Example.h"
#include "support/Json.h"
#include "support/Training.h"

#include <kiln/Serialize.h>
#include <kiln/data/DataLoader.h>
#include <kiln/data/Mnist.h>
#include <kiln/kiln.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

using namespace kiln;
using namespace kiln::examples;

namespace {

/// Rows of `scores` [N, C] whose argmax is the label [N].
int64_t correct(const Tensor &scores, const Tensor &labels) {
  return scores.argmax(1).eq(labels).to(i64).sum().item<int64_t>();
}

/// The textbook's SuccessRate (docs/textbook.md §6): the fraction of rows
/// whose argmax is the label.
double successRate(const Tensor &scores, const Tensor &labels) {
  return double(correct(scores, labels)) / double(labels.numel());
}

/// SuccessRate over a whole dataset, in batches, without recording.
double successRate(nn::Module &model, const data::MnistDataset &dataset, int64_t batch) {
  NoGradGuard noGrad;
  int64_t right = 0;
  std::vector<int64_t> indices;
  for (int64_t begin = 0; begin < dataset.size(); begin += batch) {
    int64_t n = std::min(batch, dataset.size() - begin);
    indices.resize(size_t(n));
    std::iota(indices.begin(), indices.end(), begin);
    data::Batch b = data::gatherBatch(dataset, indices);
    right += correct(model(b.x), b.y);
  }
  return dataset.size() ? double(right) / double(dataset.size()) : 0;
}

std::shared_ptr<nn::Module> makeModel(const std::string &kind, int64_t inputs, int64_t hidden) {
  if (kind == "linear")
    return std::make_shared<nn::Linear>(inputs, data::kMnistClasses);
  return std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(inputs, hidden), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(hidden, data::kMnistClasses));
}

} // namespace

KILN_EXAMPLE(mnist, "mnist",
             "textbook §6: MNIST digits with Linear(784, 10) (or an MLP), CrossEntropyLoss, SGD") {
  std::string dataDir = args.string("--data", "",
                                    "MNIST-format directory (default: the embedded "
                                    "sample, or $KILN_DATA_DIR)",
                                    "DIR");
  double lr = args.number("--lr", 1e-4,
                          "Learning rate of SGD (the seed's 1e-4 barely moves on "
                          "the 8,000-image sample; try 0.1)");
  int64_t epochs = args.integer("--epochs", 5, "Training epochs", 1);
  int64_t batch = args.integer("--batch", 100, "Batch size", 1);
  std::string kind = args.choice("--model", "linear", {"linear", "mlp"},
                                 "linear: 784 -> 10; mlp: 784 -> hidden -> ReLU -> 10");
  int64_t hidden = args.integer("--hidden", 128, "Hidden units of the MLP", 1);
  std::string saveFile = args.string("--save", "", "Save the trained model (safetensors)", "FILE");
  std::string loadFile =
      args.string("--load", "", "Start from a saved model (safetensors)", "FILE");
  int64_t maxSteps = args.integer("--max-steps", 0, "Stop after N steps (0: no limit)", 0);
  TrainingOptions options = TrainingOptions::parse(args);
  args.finish();

  std::filesystem::path dir =
      dataDir.empty() ? data::defaultMnistDir() : std::filesystem::path(dataDir);
  data::MnistDataset train = data::MnistDataset::load(dir, data::Split::Train);
  data::MnistDataset test = data::MnistDataset::load(dir, data::Split::Test);
  std::shared_ptr<nn::Module> model = makeModel(kind, train.imageSize(), hidden);
  if (!loadFile.empty())
    model->load_state_dict(load_safetensors(loadFile));
  optim::SGD optimiser(model->parameters(), lr);
  nn::CrossEntropyLoss criterion;
  data::DataLoader loader(train, batch, /*shuffle=*/true, options.seed);
  if (options.text())
    fmt::print("{}: {} training and {} test images of {} pixels; model {}, lr {}, batch {}, {} "
               "epochs\n",
               dir.string(), train.size(), test.size(), train.imageSize(), kind, lr, batch, epochs);

  int64_t total = epochs * loader.size();
  if (maxSteps > 0)
    total = std::min(total, maxSteps);
  TrainingRun run(options, "mnist", total);
  std::vector<double> epochLosses, epochEnds, epochTestAccuracy;
  for (int64_t epoch = 0; epoch < epochs && run.steps() < total; ++epoch) {
    double sum = 0;
    int64_t count = 0;
    for (const data::Batch &b : loader) {
      if (run.steps() >= total)
        break;
      optimiser.zero_grad();
      Tensor loss = criterion((*model)(b.x), b.y);
      run.beforeBackward(loss);
      loss.backward();
      optimiser.step();
      run.afterStep(loss);
      sum += run.losses().back();
      ++count;
    }
    epochLosses.push_back(sum / double(std::max<int64_t>(count, 1)));
    epochEnds.push_back(double(run.steps()));
    epochTestAccuracy.push_back(run.untimed([&] { return successRate(*model, test, 1000); }));
    if (options.text())
      run.println(fmt::format("epoch {}: mean loss {:.4f} ({} steps), test accuracy {:.4f}",
                              epoch + 1, epochLosses.back(), count, epochTestAccuracy.back()));
  }
  run.addToLossPlot(
      {.label = "test accuracy", .x = epochEnds, .y = epochTestAccuracy, .points = true},
      "test accuracy (after each epoch)");
  run.finish();

  // A prediction for one training batch (the first of an unshuffled pass).
  data::DataLoader ordered(train, batch);
  data::Batch first = *ordered.begin();
  Tensor predictions = no_grad([&] { return (*model)(first.x); });
  double trainAccuracy = successRate(predictions, first.y);
  double testAccuracy =
      epochTestAccuracy.empty() ? successRate(*model, test, 1000) : epochTestAccuracy.back();
  if (!saveFile.empty())
    save_safetensors(saveFile, model->state_dict(), {{"model", kind}});

  if (options.json) {
    fmt::print("{}\n", JsonObject()
                           .string("model", kind)
                           .number("lr", lr)
                           .integer("batch", batch)
                           .integer("epochs", epochs)
                           .raw("epoch_losses", jsonArray(epochLosses, f32))
                           .number("train_accuracy", trainAccuracy)
                           .number("test_accuracy", testAccuracy)
                           .raw("epoch_test_accuracy", jsonArray(epochTestAccuracy, f32))
                           .integer("steps", run.steps())
                           .number("train_seconds", run.seconds())
                           .number("us_per_step", run.usPerStep())
                           .number("compile_ms", run.compileMs())
                           .number("peak_rss_mb", peakRssMb())
                           .str());
  } else if (options.text()) {
    std::vector<double> row = predictions.to_vector();
    row.resize(size_t(data::kMnistClasses));
    fmt::print("first prediction row: [{:.3f}]\n  argmax {}, label {}\n", fmt::join(row, ", "),
               std::max_element(row.begin(), row.end()) - row.begin(),
               int64_t(first.y.to_vector()[0]));
    fmt::print("SuccessRate on a training batch of {}: {:.4f}\n", first.y.numel(), trainAccuracy);
    fmt::print("SuccessRate on the {} test images: {:.4f}\n", test.size(), testAccuracy);
    fmt::print("{} steps in {:.2f} s: {:.1f} us per step, first compiled steps {:.1f} ms, peak RSS "
               "{:.0f} MB\n",
               run.steps(), run.seconds(), run.usPerStep(), run.compileMs(), peakRssMb());
    if (!saveFile.empty())
      fmt::print("saved to {}\n", saveFile);
  }
  return 0;
}
