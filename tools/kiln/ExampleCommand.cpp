//===- ExampleCommand.cpp - kiln example ----------------------------------===//
//
// `kiln example NAME`: runs one of the textbook's programs (SEED.md) with
// the C++ tensor API and prints what it prints. Each example is an entry of
// kExamples below.
//
//===----------------------------------------------------------------------===//
#include "Command.h"
#include "support/IrInput.h"

#include "kiln/ir/Dot.h"
#include "kiln/ir/Printer.h"
#include "kiln/kiln.h"

#include <fmt/format.h>

#include <cmath>
#include <iostream>

namespace kiln::tool {
namespace {

struct ExampleOptions {
  bool json = false;
  std::string dotFile;
};

// ---- JSON output --------------------------------------------------------------

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20)
        out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
      else
        out += c;
    }
  }
  return out + "\"";
}

/// The shortest decimal that reads back as the same f32 (2.6666667), or the
/// same double for f64; JSON has no NaN or infinity, so those are null.
std::string jsonNumber(double v, DType dtype) {
  if (!std::isfinite(v))
    return "null";
  return dtype == f32 ? fmt::format("{}", float(v)) : fmt::format("{}", v);
}

/// Appends the sub-tensor of dims d.. starting at element `next` as nested
/// arrays, like PyTorch's tolist().
void appendJson(std::string &out, const std::vector<double> &values, const Tensor &t, int d,
                size_t &next) {
  if (d == t.dim()) {
    out += jsonNumber(values.at(next++), t.dtype());
    return;
  }
  out += "[";
  for (int64_t i = 0; i < t.shape()[d]; ++i) {
    out += i ? ", " : "";
    appendJson(out, values, t, d + 1, next);
  }
  out += "]";
}

std::string jsonTensor(const Tensor &t) {
  std::string out;
  size_t next = 0;
  appendJson(out, t.to_vector(), t, 0, next);
  return out;
}

// ---- SEED.md §1: autograd -------------------------------------------------------

int runAutograd(const ExampleOptions &options) {
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

  if (!options.dotFile.empty()) {
    ir::Module m;
    m.functions = {forward, backward};
    writeOutput(options.dotFile, ir::toDot(m));
  }

  if (options.json) {
    fmt::print("{{\"grad1\": {}, \"grad2\": {}, \"third_backward_error\": {}, "
               "\"no_grad_requires_grad\": {}, \"detach_requires_grad\": {}, "
               "\"forward_ir\": {}, \"backward_ir\": {}}}\n",
               jsonTensor(grad1), jsonTensor(grad2), jsonString(thirdError), d.requires_grad(),
               e.requires_grad(), jsonString(ir::print(forward)), jsonString(ir::print(backward)));
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

struct Example {
  std::string_view name;
  std::string_view summary;
  int (*run)(const ExampleOptions &);
};

constexpr Example kExamples[] = {
    {"autograd", "SEED.md §1: backward, retain_graph, accumulation, no_grad, detach", runAutograd},
};

/// `kiln example NAME [--json] [--dot FILE]`.
class ExampleCommand final : public Command {
public:
  void configure(CLI::App &app) override {
    std::vector<std::string> names;
    std::string list;
    for (const Example &e : kExamples) {
      names.emplace_back(e.name);
      list += fmt::format("\n  {}: {}", e.name, e.summary);
    }
    app.add_option("name", name_, "The example to run:" + list)
        ->required()
        ->check(CLI::IsMember(names))
        ->type_name("NAME");
    app.add_flag("--json", options_.json, "Print the results as one JSON object");
    app.add_option("--dot", options_.dotFile,
                   "Write the example's forward and backward graphs as Graphviz to FILE")
        ->type_name("FILE");
  }

  int run() override {
    for (const Example &e : kExamples)
      if (e.name == name_)
        return e.run(options_);
    throw Error(ErrorKind::Usage, fmt::format("unknown example '{}'", name_));
  }

private:
  std::string name_;
  ExampleOptions options_;
};

KILN_REGISTER_COMMAND(ExampleCommand, "example", "Run a program of the textbook chapter");

} // namespace
} // namespace kiln::tool
