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
// check guards -- the inputs' shapes, dtypes and requires_grad, the value of
// each number argument; the tensors the trace read (identity, type,
// requires_grad); the .grad of each tensor it touched (none, or the same
// tensor) -- and on a hit bind the new input buffers and run the cached
// program without running the function again. Every tensor the program reads
// is read anew at each replay: inputs, weights, an optimizer's learning rate
// (set_lr between calls is seen).
//
// Values are never replayed stale. A value the function makes from host
// numbers while it runs -- a number written in an expression (`p * lr`, with
// lr possibly a captured variable that changes), a tensor made from host data
// -- cannot be re-read without running it, so such a step runs its function
// at every call (one program, compiled once; KILN_LOG=recompile and
// last_trace_reason() say why). To replay it, keep such values in tensors
// made outside the step, or take them as tensor parameters: a number passed
// for a Tensor parameter becomes a rank-0 input (f32 for a floating-point
// number, as torch.tensor). A number parameter (`double lr`) receives the
// number, and its value is guarded.
//
// What stays fixed per trace, as in torch.jit.trace and jax.jit: the
// function's control flow and the structure it builds (shapes, op
// attributes such as a pow exponent) for the guarded inputs. A step that
// cannot be replayed -- it reads a value (item, printing), writes values
// eagerly (uniform_), uses random tensors, or leaves new tensors alive
// besides its results and .grad (optimizer state made on the first call) --
// still gives the right result; the next call traces again.
//
// The function returns a Tensor or a std::tuple of Tensors.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Scalar.h"
#include "kiln/Tensor.h"

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln {

/// One argument of a compiled step: a tensor or a number.
class StepArgument {
public:
  StepArgument(Tensor t) : tensor_(std::move(t)) {} // NOLINT: implicit, as an argument
  template <class T>
    requires std::is_arithmetic_v<T>
  StepArgument(T v) : number_(v), isNumber_(true) {} // NOLINT
  bool is_number() const { return isNumber_; }
  const Tensor &tensor() const { return tensor_; }
  const Scalar &number() const { return number_; }

private:
  Tensor tensor_;
  Scalar number_{0};
  bool isNumber_ = false;
};

namespace detail {
struct CompiledStepState;

/// A normalised argument as the parameter type P of the step function.
template <class P> P argumentAs(const StepArgument &a) {
  if constexpr (std::is_arithmetic_v<std::remove_cvref_t<P>>) {
    const Scalar &n = a.number();
    return n.isFloat() ? static_cast<std::remove_cvref_t<P>>(n.toDouble())
                       : static_cast<std::remove_cvref_t<P>>(n.toInt());
  } else {
    return a.tensor();
  }
}

template <class T> struct IsTuple : std::false_type {};
template <class... T> struct IsTuple<std::tuple<T...>> : std::true_type {};

/// The step function's result as a list of tensors, and back.
template <class R> struct StepResults {
  static std::vector<Tensor> flatten(R r) { return {Tensor(std::move(r))}; }
  static Tensor unflatten(std::vector<Tensor> &v) { return std::move(v.at(0)); }
};
template <class... T> struct StepResults<std::tuple<T...>> {
  static_assert((std::is_same_v<T, Tensor> && ...), "a compiled step returns Tensors");
  static std::vector<Tensor> flatten(std::tuple<T...> r) {
    return std::apply([](auto &...t) { return std::vector<Tensor>{std::move(t)...}; }, r);
  }
  static std::tuple<T...> unflatten(std::vector<Tensor> &v) {
    return [&]<size_t... I>(std::index_sequence<I...>) {
      return std::tuple<T...>(std::move(v.at(I))...);
    }(std::index_sequence_for<T...>());
  }
};

/// What compile() needs of the step function F: its parameters, which it
/// gets from the normalised arguments, and its result type.
template <class F> struct Signature : Signature<decltype(std::function(std::declval<F>()))> {};
template <class Ret, class... A> struct Signature<std::function<Ret(A...)>> {
  using Returned = std::remove_cvref_t<Ret>;
  /// What a call of the compiled step returns.
  using Result = std::conditional_t<IsTuple<Returned>::value, Returned, Tensor>;
  /// Which parameters take numbers (the others take Tensors).
  static std::vector<bool> numberParams() {
    return {std::is_arithmetic_v<std::remove_cvref_t<A>>...};
  }
  template <class F> static std::vector<Tensor> call(F &f, std::span<const StepArgument> in) {
    return [&]<size_t... I>(std::index_sequence<I...>) {
      return StepResults<Result>::flatten(f(argumentAs<A>(in[I])...));
    }(std::index_sequence_for<A...>());
  }
};
} // namespace detail

/// A traced, cached step (see the file comment). Copies share the cache.
class CompiledStep {
public:
  using Body = std::function<std::vector<Tensor>(std::span<const StepArgument>)>;
  /// `numberParams`: which parameters of the body take numbers.
  CompiledStep(Body body, std::vector<bool> numberParams);

  /// Runs the step: replays a cached trace whose guards hold, or traces.
  /// Throws Error(Usage) for a wrong argument count, an undefined tensor, or
  /// a tensor given for a number parameter (before the function runs).
  std::vector<Tensor> call(std::span<const StepArgument> arguments);
  /// call(), with the results in `results` (replaced): a caller that keeps
  /// the vector between calls makes a replay allocate nothing for it.
  void call(std::span<const StepArgument> arguments, std::vector<Tensor> &results);

  /// Calls that replayed a trace / that traced.
  int64_t replays() const;
  int64_t traces() const;
  /// Why the last call traced instead of replaying ("" after a replay).
  const std::string &last_trace_reason() const;

private:
  std::shared_ptr<detail::CompiledStepState> state_;
};

/// A compiled step whose calls return what the function returns, R: a
/// Tensor or a std::tuple of Tensors.
template <class R> class CompiledFunction : public CompiledStep {
public:
  using CompiledStep::CompiledStep;
  template <class... Ts> auto operator()(const Ts &...arguments) {
    std::array<StepArgument, sizeof...(Ts)> args{StepArgument(arguments)...};
    call(args, results_);
    return detail::StepResults<R>::unflatten(results_);
  }

private:
  std::vector<Tensor> results_; ///< kept between calls (moved from after each)
};

/// Wraps `f` (taking Tensors and numbers, returning a Tensor or a tuple of
/// Tensors) as a compiled step.
template <class F> auto compile(F f) {
  using Signature = detail::Signature<F>;
  auto body = [f = std::move(f)](std::span<const StepArgument> in) mutable {
    return Signature::call(f, in);
  };
  return CompiledFunction<typename Signature::Result>(std::move(body),
                                                      Signature::numberParams());
}

} // namespace kiln
