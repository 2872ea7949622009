//===- Autodiff.h - Reverse-mode differentiation of IR ----------*- C++ -*-===//
//
// Derives gradients on the IR itself, from the op table's per-op gradient
// rules: walks only the nodes between the wanted inputs and the output, in
// reverse, sums fan-in, un-broadcasts to each operand's shape, and fails
// loudly when a needed rule is missing.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Function.h"

#include <span>
#include <vector>

namespace kiln::compiler {

struct GradientOptions {
  /// Seed d(output)/d(output) with a new trailing parameter `%grad_output` of
  /// the output's type (for a non-scalar output, like PyTorch's
  /// backward(gradient)). Otherwise the output must have one element and the
  /// seed is 1.
  bool seedParam = false;
  /// Return the forward function's results before the gradients.
  bool keepForwardResults = false;
  /// Run the simplify pass on the joint function (folding, identities, CSE),
  /// for a caller that replays it at every step: the seed's broadcast and
  /// scaling fold into one constant and the rules' repeated products merge,
  /// so each step records fewer nodes. forwardValues maps through it.
  bool simplify = false;
};

struct GradientFunction {
  /// The joint function: the forward nodes that are needed, then the
  /// backward nodes. Parameters: the forward parameters (+ the seed).
  /// Results: [forward results if kept] then one gradient per `wrt`,
  /// each with the type of its wrt value.
  ir::Function fn;
  /// hasGradient[i] is false when wrt[i] does not influence the output; its
  /// result is then a zero tensor (PyTorch would leave .grad as None).
  std::vector<bool> hasGradient;
  /// For each value of `fn` (by id): the value of the forward function it
  /// is -- a parameter, or a forward node carried over -- or invalid for a
  /// value of the backward. A caller that still has the forward's values can
  /// use them instead of computing those nodes again.
  std::vector<ir::ValueId> forwardValues;
};

/// Differentiates `output` of `f` with respect to `wrt` (parameters or any
/// other values of f). Throws Error(Autograd) for a non-float output, a
/// non-scalar output without seedParam, or an op on the path without a
/// gradient rule.
GradientFunction differentiate(const ir::Function &f, ir::ValueId output,
                               std::span<const ir::ValueId> wrt,
                               const GradientOptions &options = {});

} // namespace kiln::compiler
