//===- FuseCrossEntropy.cpp - Softmax cross-entropy as one kernel ---------===//
//
// Matching starts at each log_softmax and follows its users: the forward
// chain (mul by one_hot, row sum, neg, mean or sum) and the backward chain
// that log_softmax's gradient rule writes (g - exp(y) * sum(g), with g the
// incoming gradient times one_hot). Every intermediate must be used only
// inside the pattern; the loss and the logits gradient become the results of
// one `fused` node, scheduled where its operands are ready.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/FuseCrossEntropy.h"
#include "UnitOrder.h"
#include "ValueUses.h"
#include "kiln/compiler/Rebuild.h"
#include "kiln/compiler/DeadCode.h"
#include "kiln/ir/Builder.h"

#include <algorithm>
#include <set>

namespace kiln::compiler {

using namespace kiln::ir;

namespace {

/// The pieces of one softmax cross-entropy found in the function.
struct Match {
  ValueId logits, labels, dy;
  size_t logSoftmax = 0;
  std::optional<ValueId> loss, grad;
  bool mean = true;
  /// Every node the fused kernel replaces (one_hot stays: others may use it).
  std::vector<size_t> covered;
};

bool isF32(const TensorType &t, const Shape &s) { return t.dtype == DType::F32 && t.shape == s; }

bool hasAxes(const Node &n, const IntList &axes, bool keepdims) {
  bool keep = n.attrs.has("keepdims") && n.attrs.getBool("keepdims");
  return n.attrs.getInts("axes") == axes && keep == keepdims;
}

class Matcher {
public:
  Matcher(const Function &f, const ValueUses &uses) : f_(f), uses_(uses) {}

  std::optional<Match> match(size_t lsm) {
    const Node &l = f_.nodes()[lsm];
    if (l.op != OpKind::LogSoftmax)
      return std::nullopt;
    const TensorType &x = f_.type(l.operands[0]);
    if (x.dtype != DType::F32 || x.shape.rank() != 2 || l.attrs.getInt("axis") != 1 ||
        uses_.returned[size_t(l.result().id)])
      return std::nullopt;
    shape_ = x.shape;
    Match m;
    m.logits = l.operands[0];
    m.logSoftmax = lsm;
    m.covered.push_back(lsm);
    for (size_t u : uses_.users[size_t(l.result().id)]) {
      const Node &user = f_.nodes()[u];
      bool ok = user.op == OpKind::Mul && !m.loss   ? matchForward(u, m)
                : user.op == OpKind::Exp && !m.grad ? matchBackward(u, m)
                                                    : false;
      if (!ok)
        return std::nullopt; // log_softmax has a user outside the pattern
    }
    if (!m.loss && !m.grad)
      return std::nullopt;
    if (m.grad && dependsOnPattern(m.dy, m))
      return std::nullopt; // the fused node would feed its own operand
    return m;
  }

private:
  /// The labels of a one_hot [N,C] f32 value, if `v` is one.
  std::optional<ValueId> oneHotLabels(ValueId v) const {
    if (f_.isParam(v) || f_.defOf(v).op != OpKind::OneHot || !isF32(f_.type(v), shape_))
      return std::nullopt;
    ValueId labels = f_.defOf(v).operands[0];
    if (f_.type(labels).shape != Shape{shape_[0]})
      return std::nullopt;
    return labels;
  }
  /// Both matches must read the same labels.
  bool sameLabels(Match &m, ValueId labels) const {
    if (m.labels.valid() && m.labels != labels)
      return false;
    m.labels = labels;
    return true;
  }
  const Node &node(size_t i) const { return f_.nodes()[i]; }
  std::optional<size_t> soleUser(size_t i) const { return uses_.soleUser(node(i).result()); }

  /// mul(y, one_hot) -> reduce_sum [1] -> neg -> reduce_mean|reduce_sum [0],
  /// or with the neg after the last reduction.
  bool matchForward(size_t mulIdx, Match &m) {
    const Node &mul = node(mulIdx);
    ValueId y = node(m.logSoftmax).result();
    ValueId other = mul.operands[0] == y ? mul.operands[1] : mul.operands[0];
    std::optional<ValueId> labels = oneHotLabels(other);
    if (other == y || !labels || !sameLabels(m, *labels))
      return false;
    auto rowSum = soleUser(mulIdx);
    if (!rowSum || node(*rowSum).op != OpKind::ReduceSum || !hasAxes(node(*rowSum), {1}, false))
      return false;
    auto second = soleUser(*rowSum);
    if (!second)
      return false;
    bool negFirst = node(*second).op == OpKind::Neg;
    std::optional<size_t> third = soleUser(*second);
    if (!third)
      return false;
    size_t neg = negFirst ? *second : *third, total = negFirst ? *third : *second;
    const Node &t = node(total);
    if (node(neg).op != OpKind::Neg || (t.op != OpKind::ReduceMean && t.op != OpKind::ReduceSum) ||
        !hasAxes(t, {0}, false) || !isF32(f_.type(t.result()), Shape{}))
      return false;
    m.mean = t.op == OpKind::ReduceMean;
    m.loss = node(*third).result();
    m.covered.insert(m.covered.end(), {mulIdx, *rowSum, neg, total});
    return true;
  }

  /// exp(y) -> mul by reduce_sum(g, [1], keepdims) -> sub from g, where
  /// g = mul(dy, one_hot) is used by nothing else.
  bool matchBackward(size_t expIdx, Match &m) {
    auto mulIdx = soleUser(expIdx);
    if (!mulIdx || node(*mulIdx).op != OpKind::Mul)
      return false;
    const Node &mul = node(*mulIdx);
    ValueId e = node(expIdx).result();
    ValueId r = mul.operands[0] == e ? mul.operands[1] : mul.operands[0];
    if (r == e || f_.isParam(r) || f_.defOf(r).op != OpKind::ReduceSum ||
        !hasAxes(f_.defOf(r), {1}, true) || uses_.soleUser(r) != *mulIdx)
      return false;
    ValueId g = f_.defOf(r).operands[0];
    auto subIdx = soleUser(*mulIdx);
    if (!subIdx || node(*subIdx).op != OpKind::Sub || node(*subIdx).operands[0] != g ||
        node(*subIdx).operands[1] != mul.result() || !isF32(f_.type(g), shape_) || f_.isParam(g) ||
        f_.defOf(g).op != OpKind::Mul || uses_.returned[size_t(g.id)] ||
        uses_.users[size_t(g.id)].size() != 2)
      return false;
    const Node &gMul = f_.defOf(g);
    for (int side = 0; side < 2; ++side) {
      ValueId h = gMul.operands[size_t(side)], dy = gMul.operands[size_t(1 - side)];
      std::optional<ValueId> labels = oneHotLabels(h);
      if (!labels || f_.type(dy).dtype != DType::F32 || !sameLabels(m, *labels))
        continue;
      m.dy = dy;
      m.grad = node(*subIdx).result();
      size_t gIdx = size_t(f_.value(g).defNode), rIdx = size_t(f_.value(r).defNode);
      m.covered.insert(m.covered.end(), {gIdx, rIdx, expIdx, *mulIdx, *subIdx});
      return true;
    }
    return false;
  }

  /// Whether `v` is computed from any node of the pattern.
  bool dependsOnPattern(ValueId v, const Match &m) const {
    std::set<size_t> pattern(m.covered.begin(), m.covered.end());
    std::vector<bool> seen(f_.nodes().size(), false);
    std::vector<ValueId> stack = {v};
    while (!stack.empty()) {
      ValueId w = stack.back();
      stack.pop_back();
      if (f_.isParam(w) || seen[size_t(f_.value(w).defNode)])
        continue;
      size_t i = size_t(f_.value(w).defNode);
      seen[i] = true;
      if (pattern.count(i))
        return true;
      stack.insert(stack.end(), node(i).operands.begin(), node(i).operands.end());
    }
    return false;
  }

  const Function &f_;
  const ValueUses &uses_;
  Shape shape_;
};

/// The canonical body (see FuseCrossEntropy.h).
Function buildBody(const TensorType &logits, const TensorType &labels, std::optional<TensorType> dy,
                   bool loss, bool mean) {
  Function body{std::string(kSoftmaxCrossEntropyKernel)};
  Builder b(body);
  ValueId x = b.param("logits", logits), l = b.param("labels", labels);
  ValueId d = dy ? b.param("dy", *dy) : ValueId{};
  ValueId y = b.create(OpKind::LogSoftmax, {x}, {{"axis", int64_t(1)}});
  ValueId h = b.create(OpKind::OneHot, {l}, {}, TensorType{DType::F32, logits.shape});
  std::vector<ValueId> results;
  if (loss) {
    ValueId rows = b.neg(b.reduceSum(b.mul(y, h), {1}));
    results.push_back(mean ? b.reduceMean(rows, {0}) : b.reduceSum(rows, {0}));
  }
  if (dy) {
    ValueId g = b.mul(d, h);
    ValueId r = b.reduceSum(g, {1}, /*keepdims=*/true);
    results.push_back(b.sub(g, b.mul(b.exp(y), r)));
  }
  body.setResults(std::move(results));
  return body;
}

/// Emits the function with each match's nodes replaced by one fused node, in
/// a topological order that keeps the original order where it can.
class Rewriter {
public:
  Rewriter(const Function &f, std::vector<Match> matches)
      : f_(f), matches_(std::move(matches)), unitOf_(f.nodes().size(), -1), map_(f.numValues()) {}

  Function run() {
    // Units: 0..M-1 are the matches, then one per remaining node.
    for (size_t k = 0; k < matches_.size(); ++k)
      for (size_t i : matches_[k].covered)
        unitOf_[i] = int(k);
    std::vector<size_t> first(matches_.size(), SIZE_MAX);
    for (size_t i = 0; i < f_.nodes().size(); ++i) {
      if (unitOf_[i] < 0) {
        unitOf_[i] = int(matches_.size() + nodeOfUnit_.size());
        nodeOfUnit_.push_back(i);
      } else {
        first[size_t(unitOf_[i])] = std::min(first[size_t(unitOf_[i])], i);
      }
    }
    Function g = startRebuild(f_, map_);
    for (int u : schedule(first)) {
      if (size_t(u) < matches_.size())
        emitMatch(g, matches_[size_t(u)]);
      else
        cloneNode(g, f_, f_.nodes()[nodeOfUnit_[size_t(u) - matches_.size()]], map_);
    }
    finishRebuild(g, f_, map_);
    return g;
  }

private:
  size_t numUnits() const { return matches_.size() + nodeOfUnit_.size(); }
  /// What the unit reads from outside itself.
  std::vector<ValueId> unitInputs(size_t u) const {
    if (u < matches_.size()) {
      const Match &m = matches_[u];
      std::vector<ValueId> in = {m.logits, m.labels};
      if (m.grad)
        in.push_back(m.dy);
      return in;
    }
    return f_.nodes()[nodeOfUnit_[u - matches_.size()]].operands;
  }

  /// Kahn's algorithm, the lowest original position first.
  std::vector<int> schedule(const std::vector<size_t> &first) const {
    size_t n = numUnits();
    std::vector<std::set<int>> preds(n);
    std::vector<size_t> position(n);
    for (size_t u = 0; u < n; ++u) {
      for (ValueId v : unitInputs(u))
        if (!f_.isParam(v))
          preds[u].insert(unitOf_[size_t(f_.value(v).defNode)]);
      preds[u].erase(int(u));
      position[u] = u < matches_.size() ? first[u] : nodeOfUnit_[u - matches_.size()];
    }
    return orderUnits(preds, position, "fuse-xent: the rewritten graph has a cycle");
  }

  void emitMatch(Function &g, const Match &m) {
    std::optional<TensorType> dy;
    std::vector<ValueId> operands = {map_[size_t(m.logits.id)], map_[size_t(m.labels.id)]};
    if (m.grad) {
      dy = f_.type(m.dy);
      operands.push_back(map_[size_t(m.dy.id)]);
    }
    Function body = buildBody(f_.type(m.logits), f_.type(m.labels), dy, m.loss.has_value(), m.mean);
    Builder b(g);
    b.setLoc(f_.nodes()[m.logSoftmax].loc);
    std::vector<ValueId> results =
        b.fused(FusionKind::SoftmaxCrossEntropy, std::move(operands), std::move(body));
    std::vector<ValueId> outputs;
    if (m.loss)
      outputs.push_back(*m.loss);
    if (m.grad)
      outputs.push_back(*m.grad);
    for (size_t j = 0; j < outputs.size(); ++j) {
      map_[size_t(outputs[j].id)] = results[j];
      g.value(results[j]).name = f_.value(outputs[j]).name;
    }
  }

  const Function &f_;
  std::vector<Match> matches_;
  std::vector<int> unitOf_;
  std::vector<size_t> nodeOfUnit_;
  std::vector<ValueId> map_;
};

} // namespace

Function fuseCrossEntropy(const Function &f) {
  ValueUses uses(f);
  Matcher matcher(f, uses);
  std::vector<Match> matches;
  for (size_t i = 0; i < f.nodes().size(); ++i)
    if (auto m = matcher.match(i))
      matches.push_back(std::move(*m));
  if (matches.empty())
    return f;
  // one_hot nodes that only the pattern used are now dead.
  return eliminateDeadCode(Rewriter(f, std::move(matches)).run());
}

std::optional<SoftmaxCrossEntropyKernel> describeSoftmaxCrossEntropy(const Function &body) {
  if (body.name() != kSoftmaxCrossEntropyKernel || body.params().size() < 2 ||
      body.params().size() > 3 || body.results().empty())
    return std::nullopt;
  SoftmaxCrossEntropyKernel k;
  bool grad = body.params().size() == 3;
  bool loss = body.nodes().size() == (grad ? 11u : 6u);
  if (!loss && body.nodes().size() != 7u)
    return std::nullopt;
  if (loss)
    k.mean = body.nodes()[5].op == OpKind::ReduceMean;
  const TensorType &logits = body.type(body.params()[0]), &labels = body.type(body.params()[1]);
  if (logits.dtype != DType::F32 || logits.shape.rank() != 2 || !isInteger(labels.dtype))
    return std::nullopt;
  std::optional<TensorType> dy;
  if (grad)
    dy = body.type(body.params()[2]);
  Function expected;
  try {
    expected = buildBody(logits, labels, dy, loss, k.mean);
  } catch (const Error &) {
    return std::nullopt; // the operand types do not fit the pattern
  }
  if (expected.nodes().size() != body.nodes().size() || expected.results() != body.results())
    return std::nullopt;
  for (size_t i = 0; i < body.nodes().size(); ++i) {
    const Node &a = expected.nodes()[i], &b = body.nodes()[i];
    if (a.op != b.op || a.operands != b.operands || a.results != b.results ||
        !(a.attrs == b.attrs) || b.body || body.type(b.result()) != expected.type(a.result()))
      return std::nullopt;
  }
  k.rows = logits.shape[0];
  k.cols = logits.shape[1];
  k.labels = labels.dtype;
  k.lossResult = loss ? 0 : -1;
  k.gradResult = grad ? (loss ? 1 : 0) : -1;
  k.dyOperand = grad ? 2 : -1;
  return k;
}

} // namespace kiln::compiler
