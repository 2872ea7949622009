//===- InterpretCost.cpp - How long the reference interpreter takes -------===//
//
// The interpreter reads and writes every element through HostTensor::get /
// set (a type switch and a conversion to double each), so its time is close
// to linear in the elements its nodes touch, plus the inner loop of each
// matmul and a fixed cost per node. The three costs were fitted to timed
// interpret() runs of the recorded linreg and MNIST steps (matmul-bound),
// elementwise chains and small graphs: estimates within 0.75-1.3x of the
// measured times.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Interpreter.h"

namespace kiln::runtime {

namespace {
constexpr double kSecondsPerElement = 14e-9;
constexpr double kSecondsPerMultiplyAdd = 5.3e-9;
/// Allocating and dispatching each node's result.
constexpr double kSecondsPerNode = 0.4e-6;

/// Elements `node` reads and writes, plus its multiply-adds weighted.
double nodeCost(const ir::Function &f, const ir::Node &node) {
  if (node.body)
    return estimatedInterpretSeconds(*node.body);
  double elements = 0;
  for (ir::ValueId v : node.operands)
    elements += double(f.type(v).shape.numel());
  for (ir::ValueId v : node.results)
    elements += double(f.type(v).shape.numel());
  double multiplyAdds = 0;
  if (node.op == ir::OpKind::Matmul) // [m,k] x [k,n]: m*n results of k terms
    multiplyAdds = double(f.type(node.result()).shape.numel()) *
                   double(f.type(node.operands[0]).shape[1]);
  return kSecondsPerNode + elements * kSecondsPerElement + multiplyAdds * kSecondsPerMultiplyAdd;
}
} // namespace

double estimatedInterpretSeconds(const ir::Function &f) {
  double seconds = 0;
  for (const ir::Node &node : f.nodes())
    seconds += nodeCost(f, node);
  return seconds;
}

} // namespace kiln::runtime
