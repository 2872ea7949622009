//===- main.cpp - A program built against installed kiln ------------------===//
//
// Builds y = relu(x * w + b) with the builder, verifies and prints it, runs
// it with the interpreter and checks the numbers. With `--expect-sample
// PREFIX`, also loads the embedded MNIST sample and checks that it came from
// PREFIX/share/kiln, not from a build tree. Exit 0 on success.
//
//===----------------------------------------------------------------------===//
#include <kiln/data/Mnist.h>
#include <kiln/ir/Builder.h>
#include <kiln/ir/Printer.h>
#include <kiln/ir/Verifier.h>
#include <kiln/runtime/Interpreter.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace kiln;

/// The sample must be found inside `prefix` and hold the documented split.
bool checkInstalledSample(const std::filesystem::path &prefix) {
  std::filesystem::path dir = data::defaultMnistDir();
  std::filesystem::path expected = std::filesystem::canonical(prefix) / "share/kiln/mnist-sample";
  if (dir != expected) {
    std::fprintf(stderr, "consumer: the MNIST sample is looked for in %s, not in %s\n", dir.c_str(),
                 expected.c_str());
    return false;
  }
  int64_t train = data::MnistDataset::load(dir, data::Split::Train).size();
  int64_t test = data::MnistDataset::load(dir, data::Split::Test).size();
  if (train != 8000 || test != 2000) {
    std::fprintf(stderr, "consumer: the sample holds %lld/%lld digits, not 8000/2000\n",
                 (long long)train, (long long)test);
    return false;
  }
  std::printf("consumer: MNIST sample found in %s\n", dir.c_str());
  return true;
}

int main(int argc, char **argv) {
  try {
    if (argc == 3 && std::strcmp(argv[1], "--expect-sample") == 0) {
      if (!checkInstalledSample(argv[2]))
        return 1;
    } else if (argc != 1) {
      std::fprintf(stderr, "usage: kiln_consumer [--expect-sample PREFIX]\n");
      return 2;
    }
    ir::Function f("affine_relu");
    ir::Builder b(f);
    ir::TensorType vec{ir::DType::F32, ir::Shape{4}};
    ir::ValueId x = b.param("x", vec);
    ir::ValueId w = b.param("w", ir::TensorType{ir::DType::F32, ir::Shape{}});
    ir::ValueId y = b.create(ir::OpKind::Relu, {b.add(b.mul(x, w), b.scalar(1.0))});
    f.setResults({y});
    ir::verify(f);
    std::fputs(ir::print(f).c_str(), stdout);

    std::vector<double> xs = {-2, -1, 0, 3};
    std::vector<ir::HostTensor> inputs = {ir::HostTensor::fromDoubles(vec, xs),
                                          ir::HostTensor::scalar(2.0)};
    std::vector<ir::HostTensor> out = runtime::interpret(f, inputs);
    const double expected[] = {0, 0, 1, 7};
    for (int i = 0; i < 4; ++i) {
      if (std::fabs(out.at(0).get(i) - expected[i]) > 1e-6) {
        std::fprintf(stderr, "element %d: got %g, expected %g\n", i, out[0].get(i), expected[i]);
        return 1;
      }
    }
    std::puts("consumer: ok");
    return 0;
  } catch (const Error &e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
