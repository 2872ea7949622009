//===- autograd.cpp - textbook §1: autograd -------------------------------===//
//
// The textbook's autograd section line by line: build a small graph,
// backward twice (the second time gradients accumulate), a third time (an
// error: the graph was freed), then no_grad and detach; with the recorded
// forward graph and the backward graph that autodiff derives from it.
//
//===----------------------------------------------------------------------===//
#include "support/Example.h"
#include "support/Json.h"

#include <kiln/ir/Dot.h>
#include <kiln/ir/Printer.h>
#include <kiln/kiln.h>

#include <fstream>
#include <iostream>

using namespace kiln;
using namespace kiln::examples;

KILN_EXAMPLE(autograd, "autograd",
             "textbook §1: backward, retain_graph, accumulation, no_grad, detach") {
  bool json = args.flag("--json", "Print the results as one JSON object");
  std::string dotFile =
      args.string("--dot", "", "Write the forward and backward graphs as Graphviz to FILE", "FILE");
  args.finish();

  Tensor a = tensor({{1, 2, 3}, {4, 5, 6}}, f32, /*requires_grad=*/true).set_name("a");
  Tensor b = (a + 2).set_name("b");
  Tensor c = (b.pow(2) * 2).set_name("c");
  Tensor out = c.mean().set_name("out");
  // The graphs, before backward() frees them.
  ir::Function forward = recorded_graph(out);
  ir::Function backward = backward_graph(out);
  backward.setName("backward");

  out.backward({}, /*retain_graph=*/true);
  Tensor grad1 = a.grad().clone();
  out.backward();
  Tensor grad2 = a.grad().clone();
  std::string thirdError;
  try {
    out.backward();
  } catch (const Error &e) {
    thirdError = e.message();
  }
  Tensor d = no_grad([&] { return a * 2; });
  Tensor e = (a * 2).detach();

  if (!dotFile.empty()) {
    ir::Module m;
    m.functions = {forward, backward};
    std::ofstream file(dotFile, std::ios::binary | std::ios::trunc);
    file << ir::toDot(m);
    if (!file.flush())
      throw Error(ErrorKind::Io, "cannot write", dotFile);
  }

  if (json) {
    std::cout << JsonObject()
                     .raw("grad1", jsonTensor(grad1))
                     .raw("grad2", jsonTensor(grad2))
                     .string("third_backward_error", thirdError)
                     .boolean("no_grad_requires_grad", d.requires_grad())
                     .boolean("detach_requires_grad", e.requires_grad())
                     .string("forward_ir", ir::print(forward))
                     .string("backward_ir", ir::print(backward))
                     .str()
              << "\n";
    return 0;
  }
  auto show = [](std::string_view label, const Tensor &t) {
    std::cout << label << "\n" << t << "\n\n";
  };
  show("a = tensor([[1,2,3],[4,5,6]], dtype=float, requires_grad=True)", a);
  show("b = a + 2", b);
  show("c = b ** 2 * 2", c);
  show("out = c.mean()", out);
  show("out.backward(retain_graph=True); a.grad  # 4(a+2)/6", grad1);
  show("out.backward(); a.grad  # accumulated", grad2);
  std::cout << "out.backward()  # again: the graph was freed\nerror: " << thirdError << "\n\n";
  std::cout << "with no_grad: d = a * 2; d.requires_grad = "
            << (d.requires_grad() ? "True" : "False") << "\n";
  std::cout << "e = (a * 2).detach(); e.requires_grad = " << (e.requires_grad() ? "True" : "False")
            << "\n\n";
  std::cout << "forward graph:\n" << ir::print(forward) << "\n";
  std::cout << "backward graph (autodiff of the forward graph):\n" << ir::print(backward);
  return 0;
}
