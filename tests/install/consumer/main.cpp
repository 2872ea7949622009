//===- main.cpp - A program built against installed kiln ------------------===//
//
// Builds y = relu(x * w + b) with the builder, verifies and prints it, runs
// it with the interpreter and checks the numbers. Exit 0 on success.
//
//===----------------------------------------------------------------------===//
#include <kiln/ir/Builder.h>
#include <kiln/ir/Printer.h>
#include <kiln/ir/Verifier.h>
#include <kiln/runtime/Interpreter.h>

#include <cmath>
#include <cstdio>
#include <vector>

using namespace kiln;

int main() {
  try {
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
