//===- Autograd.h - Grad mode and the recorded graphs -----------*- C++ -*-===//
//
// Grad mode (thread-local, like PyTorch's), and access to what autograd
// records: the forward IR of a tensor's history and the gradient IR that
// the autodiff pass derives from it. backward() itself is Tensor::backward.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Tensor.h"
#include "kiln/ir/Function.h"

#include <cstddef>
#include <cstdint>
#include <utility>

namespace kiln {

/// Whether ops on tensors that require grad are recorded (this thread).
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

/// Sets grad mode for a scope and restores the previous mode on exit.
class GradModeGuard {
public:
  explicit GradModeGuard(bool enabled) : previous_(is_grad_enabled()) { set_grad_enabled(enabled); }
  ~GradModeGuard() { set_grad_enabled(previous_); }
  GradModeGuard(const GradModeGuard &) = delete;
  GradModeGuard &operator=(const GradModeGuard &) = delete;

private:
  bool previous_;
};

/// PyTorch's `with torch.no_grad():` as RAII: nothing is recorded in its
/// scope, results have requires_grad=false, and in-place updates of leaves
/// that require grad (optimizer steps) are allowed.
class NoGradGuard : public GradModeGuard {
public:
  NoGradGuard() : GradModeGuard(false) {}
};

/// Runs `f` under NoGradGuard and returns its result.
template <class F> decltype(auto) no_grad(F &&f) {
  NoGradGuard guard;
  return std::forward<F>(f)();
}

/// The recorded history of `t` as an IR function `@forward`: one parameter
/// per leaf tensor reached (in the order backward() passes them), numbers
/// written in expressions as constants, one node per recorded op, and `t`
/// as the result. Throws Error(Autograd) if the history was freed by a
/// backward() without retain_graph.
ir::Function recorded_graph(const Tensor &t);

/// The gradient function that backward() runs for `t`: the autodiff pass's
/// joint forward+backward IR with respect to the leaves of recorded_graph(t)
/// that require grad, seeded by a `%grad_output` parameter when
/// `with_gradient_param` (backward with an explicit gradient), else by 1.
/// Derived afresh (not from backward()'s cache), so that it carries the value
/// names of this graph.
ir::Function backward_graph(const Tensor &t, bool with_gradient_param = false);

/// How often backward() found its gradient function in the cache (keyed by
/// the forward IR's structural hash, which leaves require grad, and the seed
/// mode) and how often it ran the autodiff pass.
struct BackwardCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  size_t entries = 0;
};
BackwardCacheStats backward_cache_stats();
/// Empties the cache and resets its counters.
void clear_backward_cache();

} // namespace kiln
