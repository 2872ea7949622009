//===- autograd.cpp - The textbook's autograd section in C++ --------------===//
//
// SEED.md §1, line by line: build a small graph, backward twice (the second
// time gradients accumulate), a third time (an error: the graph was freed),
// then no_grad and detach.
//
//===----------------------------------------------------------------------===//
#include <kiln/kiln.h>

#include <iostream>

int main() {
  using namespace kiln;

  Tensor a = tensor({{1, 2, 3}, {4, 5, 6}}, f32, /*requires_grad=*/true);
  Tensor b = a + 2;
  Tensor c = b.pow(2) * 2;
  Tensor out = c.mean();
  std::cout << "a = " << a << "\nb = " << b << "\nc = " << c << "\nout = " << out << "\n\n";

  out.backward(/*gradient=*/{}, /*retain_graph=*/true);
  std::cout << "after out.backward(retain_graph=true), a.grad = 4(a+2)/6:\n" << a.grad() << "\n\n";

  out.backward();
  std::cout << "after a second out.backward(), gradients accumulate:\n" << a.grad() << "\n\n";

  try {
    out.backward();
  } catch (const Error &e) {
    std::cout << "a third out.backward() fails, the graph was freed:\n" << e.message() << "\n\n";
  }

  Tensor d;
  {
    NoGradGuard noGrad; // with torch.no_grad():
    d = a * 2;
  }
  std::cout << "d = a * 2 under no_grad: d.requires_grad() = " << std::boolalpha
            << d.requires_grad() << "\n";

  Tensor e = (a * 2).detach();
  std::cout << "e = (a * 2).detach(): e.requires_grad() = " << e.requires_grad() << "\n";
  return 0;
}
