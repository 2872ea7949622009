//===- Compile.h - Explicitly compiled steps (kiln::compile) ----*- C++ -*-===//
//
//   auto step = kiln::compile([&](Tensor x, Tensor y) {
//     opt.zero_grad();
//     Tensor loss = mse(model(x), y);
//     loss.backward();
//     opt.step();
//     return loss;
//   });
//   Tensor loss = step(x, y);
//
// The first call traces the function: it runs with lazy recording, and the
// ops it records (forward, backward, update) become one program. Later calls
// check guards -- the inputs' shapes, dtypes and requires_grad; the tensors
// the trace read (identity, type, requires_grad); the .grad of each tensor
// it touched (none, or the same tensor) -- and on a hit bind the new input
// buffers and run the cached program without running the function again.
//
// Trace semantics, as torch.jit.trace: control flow and numbers used by the
// function (a learning rate captured by value, a Python-side `if`) are fixed
// per guard set; tensors the function creates from constants are baked in.
// A guard miss traces again (logged with its reason under
// KILN_LOG=recompile). A trace that cannot be replayed -- it reads a value
// (item, printing), writes values eagerly (uniform_), uses random tensors,
// or leaves new tensors alive besides the result and .grad (optimizer state
// made on the first call) -- still gives the right result; the next call
// traces again.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Tensor.h"

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

namespace detail {
struct CompiledStepState;

template <class T> struct FunctionArity;
template <class R, class... A> struct FunctionArity<std::function<R(A...)>> {
  static constexpr size_t value = sizeof...(A);
};
/// The number of parameters of a lambda or function.
template <class F>
inline constexpr size_t arity = FunctionArity<decltype(std::function(std::declval<F>()))>::value;

/// Throws Error(Usage) unless a step of `expected` inputs got `got`.
void checkArity(size_t expected, size_t got);
} // namespace detail

/// A traced, cached step (see the file comment). Copies share the cache.
class CompiledStep {
public:
  using Body = std::function<Tensor(std::span<const Tensor>)>;
  explicit CompiledStep(Body body);

  /// Runs the step: replays a cached trace whose guards hold, or traces.
  Tensor call(std::span<const Tensor> inputs);
  template <class... Ts> Tensor operator()(const Ts &...inputs) {
    Tensor args[] = {Tensor(inputs)...};
    return call(args);
  }

  /// Calls that replayed a trace / that traced.
  int64_t replays() const;
  int64_t traces() const;
  /// Why the last call traced instead of replaying ("" after a replay).
  const std::string &last_trace_reason() const;

private:
  std::shared_ptr<detail::CompiledStepState> state_;
};

/// Wraps `f` (taking Tensors, returning the Tensor result) as a compiled step.
template <class F> CompiledStep compile(F f) {
  constexpr size_t n = detail::arity<F>;
  return CompiledStep([f = std::move(f)](std::span<const Tensor> in) mutable -> Tensor {
    detail::checkArity(n, in.size());
    return [&]<size_t... I>(std::index_sequence<I...>) { return Tensor(f(in[I]...)); }
    (std::make_index_sequence<n>());
  });
}

} // namespace kiln
