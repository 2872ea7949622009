//===- TypePromotionTest.cpp - Dtypes of mixed operands against PyTorch ---===//
//
// tests/unit/data/type_promotion.oracle holds PyTorch 1.13's dtype and values
// (or refusal) for 1,370 cases: every binary op over every pair of dtypes,
// with tensors, zero-dim tensors and numbers; unary math, reductions and
// pow per dtype; in-place updates. tests/scripts/type_promotion_oracle.py
// wrote it (and its --check, the ctest `type_promotion.oracle`, recomputes it
// where PyTorch is installed). Each case must give the same dtype and values
// in kiln, eagerly and as one compiled lazy step, and fail where PyTorch
// fails.
//
//===----------------------------------------------------------------------===//
#include "kiln/kiln.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <variant>

using namespace kiln;

namespace {

struct Case {
  std::string text; // the line, for messages
  std::string op;
  std::vector<std::string> operands;
  bool error = false;
  std::string dtype;
  std::vector<double> values;
};

std::vector<Case> readOracle() {
  std::ifstream in(KILN_TEST_DATA_DIR "/type_promotion.oracle");
  std::vector<Case> cases;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    Case c{.text = line};
    std::istringstream words(line);
    words >> c.op;
    for (std::string w; words >> w && w != "->";)
      c.operands.push_back(w);
    words >> c.dtype;
    c.error = c.dtype == "error";
    for (std::string v; words >> v;) // stod, unlike >>, reads inf and nan
      c.values.push_back(std::stod(v));
    cases.push_back(std::move(c));
  }
  return cases;
}

using Operand = std::variant<Tensor, Scalar>;

/// `tensor:DT`, `scalar:DT` (zero-dim) or a number `int:V`, `float:V`, `bool:V`.
Operand makeOperand(const std::string &spec, size_t position) {
  std::string kind = spec.substr(0, spec.find(':')), value = spec.substr(spec.find(':') + 1);
  if (kind == "tensor" || kind == "scalar") {
    DType dtype = *ir::parseDType(value);
    if (kind == "scalar")
      return scalar_tensor(position == 0 ? 3 : 2, dtype);
    return from_vector(position == 0 ? std::vector<double>{0, 1, 2, 7}
                                     : std::vector<double>{1, 3, 2, 5},
                       Shape{4}, dtype);
  }
  if (kind == "int")
    return Scalar(int64_t(std::stoll(value)));
  if (kind == "float")
    return Scalar(std::stod(value));
  return Scalar(value == "true");
}

const Tensor &tensorOf(const Operand &o) { return std::get<Tensor>(o); }

/// clamp's bound: a number or, for `none:`, absent.
std::optional<Scalar> bound(const std::string &spec) {
  if (spec == "none:")
    return std::nullopt;
  return std::get<Scalar>(makeOperand(spec, 1));
}

/// Runs the case's op as a kiln user writes it.
Tensor run(const Case &c) {
  if (c.op == "clamp")
    return std::get<Tensor>(makeOperand(c.operands[0], 0))
        .clamp(bound(c.operands[1]), bound(c.operands[2]));
  std::vector<Operand> x;
  for (size_t i = 0; i < c.operands.size(); ++i)
    x.push_back(makeOperand(c.operands[i], i));
  auto binary = [&](auto f) {
    return std::visit(
        [&](const auto &a, const auto &b) -> Tensor {
          if constexpr (std::is_same_v<std::decay_t<decltype(a)>, Scalar> &&
                        std::is_same_v<std::decay_t<decltype(b)>, Scalar>)
            throw std::logic_error("two numbers");
          else
            return f(a, b);
        },
        x[0], x[1]);
  };
  const std::string &op = c.op;
  if (op == "add")
    return binary([](const auto &a, const auto &b) { return a + b; });
  if (op == "sub")
    return binary([](const auto &a, const auto &b) { return a - b; });
  if (op == "mul")
    return binary([](const auto &a, const auto &b) { return a * b; });
  if (op == "div")
    return binary([](const auto &a, const auto &b) { return a / b; });
  if (op == "where") {
    Tensor mask = tensor({true, false, true, false});
    return binary([&](const auto &a, const auto &b) { return where(mask, a, b); });
  }
  if (op == "maximum")
    return maximum(tensorOf(x[0]), tensorOf(x[1]));
  if (op == "minimum")
    return minimum(tensorOf(x[0]), tensorOf(x[1]));
  if (op == "eq")
    return std::visit([&](const auto &b) { return tensorOf(x[0]).eq(b); }, x[1]);
  if (op == "lt")
    return std::visit([&](const auto &b) { return tensorOf(x[0]).lt(b); }, x[1]);
  if (op == "pow")
    return pow(tensorOf(x[0]), std::get<Scalar>(x[1]));
  const Tensor &t = tensorOf(x[0]);
  if (op.back() == '_') {
    Tensor self = t;
    std::visit(
        [&](const auto &b) {
          if (op == "add_")
            self.add_(b);
          else if (op == "sub_")
            self.sub_(b);
          else if (op == "mul_")
            self.mul_(b);
          else
            self.div_(b);
        },
        x[1]);
    return self;
  }
  using Unary = Tensor (Tensor::*)() const;
  static const std::map<std::string, Unary> kUnary = {
      {"neg", &Tensor::neg},   {"abs", &Tensor::abs},         {"exp", &Tensor::exp},
      {"sqrt", &Tensor::sqrt}, {"sigmoid", &Tensor::sigmoid}, {"tanh", &Tensor::tanh},
      {"relu", &Tensor::relu}, {"sum", &Tensor::sum},         {"mean", &Tensor::mean},
      {"max", &Tensor::max},   {"sin", &Tensor::sin},         {"cos", &Tensor::cos},
      {"log1p", &Tensor::log1p}, {"expm1", &Tensor::expm1},   {"softplus", &Tensor::softplus},
  };
  auto unary = kUnary.find(op);
  if (unary == kUnary.end())
    throw std::logic_error("unknown op " + op);
  return (t.*unary->second)();
}

/// Runs every case in the current execution mode and compares. A lazy mode
/// makes a step of every 100 cases (fewer pending ops than a flush allows).
void checkAll(const std::vector<Case> &cases) {
  std::vector<std::optional<Tensor>> results;
  for (const Case &c : cases) {
    if (results.size() % 100 == 0)
      kiln::sync();
    try {
      results.emplace_back(run(c));
    } catch (const Error &e) {
      results.emplace_back();
      EXPECT_TRUE(c.error) << c.text << "\n  kiln refused it: " << e.what();
    }
  }
  kiln::sync();
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case &c = cases[i];
    if (!results[i]) // an error, checked above
      continue;
    if (c.error) {
      ADD_FAILURE() << c.text << "\n  kiln gives " << results[i]->str();
      continue;
    }
    const Tensor &r = *results[i];
    EXPECT_EQ(ir::dtypeName(r.dtype()), c.dtype) << c.text;
    std::vector<double> got = r.to_vector();
    ASSERT_EQ(got.size(), c.values.size()) << c.text;
    for (size_t j = 0; j < got.size(); ++j) {
      double want = c.values[j];
      bool same = got[j] == want || (std::isnan(got[j]) && std::isnan(want)) ||
                  std::abs(got[j] - want) <= 1e-6 * std::abs(want);
      EXPECT_TRUE(same) << c.text << "\n  element " << j << ": kiln " << got[j];
    }
  }
}

TEST(TypePromotion, OracleHasEveryCase) {
  std::vector<Case> cases = readOracle();
  EXPECT_EQ(cases.size(), 1370u) << "tests/unit/data/type_promotion.oracle is incomplete";
}

TEST(TypePromotion, EagerMatchesPyTorch) {
  ExecutionGuard eager(Execution::Eager);
  checkAll(readOracle());
}

TEST(TypePromotion, CompiledStepMatchesPyTorch) {
  ExecutionGuard compiled(Execution::Compiled);
  int previous = compile_after();
  set_compile_after(0);
  checkAll(readOracle());
  set_compile_after(previous);
}

TEST(TypePromotion, NumbersKeepTheirKind) {
  ExecutionGuard eager(Execution::Eager);
  ir::HostTensor exact(ir::TensorType{i64, Shape{1}});
  exact.setInt(0, 9007199254740993); // 2^53 + 1: no double holds it
  Tensor big(exact);
  EXPECT_EQ((big + 2).host().getInt(0), 9007199254740995); // exact: not through a double
  EXPECT_EQ((big * 1).dtype(), i64);
  EXPECT_EQ((big * 1.0).dtype(), f32);
  EXPECT_EQ((tensor({1, 2}, u8) + 300).to_vector(), (std::vector<double>{45, 46})); // wraps
  // The seed's accuracy, written as a user would: no silent 0.
  Tensor correct = tensor({true, true, false, true});
  EXPECT_DOUBLE_EQ((correct.sum() / 4.0).item(), 0.75);
  EXPECT_EQ((arange(3) / 2.0).to_vector(), (std::vector<double>{0, 0.5, 1}));
}

} // namespace
