//===- Tensor.h - The eager, recording tensor of the C++ API ----*- C++ -*-===//
//
// kiln::Tensor is a PyTorch-style tensor handle. Ops compute their result at
// once with the op table's reference kernels and, when an operand requires
// grad and grad mode is on, record themselves so that backward() can turn
// the history into IR, differentiate it with the autodiff pass and run it.
//
// Every op goes through one function (kiln::apply) that asks the op table
// for the result type and the kernel: the methods and free functions below
// are thin spellings of IR ops, with PyTorch's names and conventions.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Error.h"
#include "kiln/ir/Function.h"
#include "kiln/ir/HostTensor.h"
#include "kiln/Scalar.h"

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln {

using ir::DType;
using ir::Shape;
/// A list of dimensions, e.g. the axes of a reduction; negative counts from the end.
using IntList = std::vector<int64_t>;

/// Element types, spelled as in IR text.
inline constexpr DType f32 = DType::F32;
inline constexpr DType f64 = DType::F64;
inline constexpr DType i64 = DType::I64;
inline constexpr DType u8 = DType::U8;
inline constexpr DType boolean = DType::Bool;

class Tensor;
namespace detail {
struct TensorImpl;
/// A number attribute of an op (clamp's "min"), absent when nullopt.
using NumberAttr = std::pair<std::string_view, std::optional<Scalar>>;
/// `op` of `x` whose number attributes take part in type promotion as
/// operands do (PyTorch's result_type of x and the numbers): x is converted
/// to it, the numbers become its attributes. An integer result needs numbers
/// that fit its dtype (Error(Usage) otherwise, as PyTorch refuses
/// u8.clamp(-1)). For ops such as clamp whose Tensor API is defined inline.
Tensor applyWithNumbers(ir::OpKind op, const Tensor &x, std::initializer_list<NumberAttr> numbers);
} // namespace detail

/// A nested list of numbers, the literal of kiln::tensor():
/// `{{1, 2, 3}, {4, 5, 6}}` is a 2x3 literal, `2.5` a scalar. Remembers
/// whether any element was a floating-point number or all were bools, to pick
/// the default dtype as PyTorch does.
class TensorLiteral {
public:
  /// The empty list `{}` (shape [0]).
  TensorLiteral() = default;
  template <class T>
    requires std::is_arithmetic_v<T>
  TensorLiteral(T v) // NOLINT: implicit, so that numbers nest in braces
      : value_(double(v)), numbers_(1), leaf_(true), hasFloat_(std::is_floating_point_v<T>),
        allBool_(std::is_same_v<T, bool>) {}
  TensorLiteral(std::initializer_list<TensorLiteral> elements);

  /// The shape of a rectangular literal; throws Error(Shape) for a ragged one
  /// or a mix of numbers and lists at one level.
  Shape shape() const;
  /// The elements in row-major order.
  std::vector<double> flatten() const;
  /// f32 if any element was written as a floating-point number, bool if all
  /// were bools, otherwise i64 (PyTorch's inference).
  DType inferDType() const;

private:
  std::vector<TensorLiteral> elements_;
  double value_ = 0;
  int64_t numbers_ = 0;
  bool leaf_ = false;
  bool hasFloat_ = false;
  bool allBool_ = true;
};

/// A tensor handle. Copies share the tensor (like Python references); use
/// clone() for a copy of the values. A default-constructed Tensor is
/// undefined (`defined()` is false), e.g. the grad() of a tensor that has
/// none.
class Tensor {
public:
  Tensor() = default;
  /// A leaf tensor holding `data` (shared, not copied).
  explicit Tensor(ir::HostTensor data, bool requires_grad = false);

  // ---- Metadata ------------------------------------------------------------

  bool defined() const { return impl_ != nullptr; }
  const Shape &shape() const;
  /// The extent of dimension `dim` (negative counts from the end).
  int64_t size(int64_t dim) const;
  int64_t dim() const;
  int64_t numel() const;
  DType dtype() const;
  /// The values, shared with the tensor (read-only: use the in-place ops to
  /// write, so that autograd can check them).
  const ir::HostTensor &host() const;
  /// True if both handles refer to the same tensor.
  bool is_same(const Tensor &other) const { return impl_ == other.impl_; }

  // ---- Values ---------------------------------------------------------------

  /// The value of a one-element tensor; throws Error(Shape) otherwise.
  double item() const;
  template <class T> T item() const { return static_cast<T>(item()); }
  /// All elements in row-major order.
  std::vector<double> to_vector() const;
  template <class T> std::vector<T> to_vector() const {
    std::vector<double> v = to_vector();
    return std::vector<T>(v.begin(), v.end());
  }
  /// PyTorch's repr: `tensor([[1., 2.],\n        [3., 4.]], requires_grad=True)`.
  std::string str() const;

  // ---- Autograd -------------------------------------------------------------

  bool requires_grad() const;
  /// Sets requires_grad on a leaf. As in PyTorch, turning it off on a
  /// non-leaf, or on for a non-float tensor, is an Error(Autograd).
  Tensor &requires_grad_(bool requires_grad = true);
  /// True for tensors made by the user, or by ops that recorded nothing.
  bool is_leaf() const;
  /// The accumulated gradient, or an undefined tensor if there is none yet.
  Tensor grad() const;
  /// Replaces the gradient; an undefined tensor clears it (PyTorch's
  /// `.grad = None`). Throws Error(Shape) for a tensor of another type.
  void set_grad(const Tensor &grad);
  /// Zeroes the gradient in place, or clears it when `set_to_none`.
  void zero_grad(bool set_to_none = false);
  /// Accumulates d(this)/d(leaf) into the .grad of every leaf that requires
  /// grad. `gradient` (d loss / d this) is required unless this has one
  /// element. Unless `retain_graph`, frees the graph: a second backward
  /// through it throws Error(Autograd), as in PyTorch.
  void backward(const Tensor &gradient = {}, bool retain_graph = false) const;
  /// A tensor sharing the values, without history and requires_grad=false.
  Tensor detach() const;
  /// Like detach(): the values, for updates under NoGradGuard.
  Tensor data() const { return detach(); }
  /// The IR name of the op that made this tensor ("mul"), or "" for a leaf.
  std::string grad_fn_name() const;
  /// Names the tensor in recorded IR (`%a` instead of `%input0`).
  Tensor &set_name(std::string name);
  const std::string &name() const;

  // ---- In-place updates -------------------------------------------------------
  // Allowed on tensors that do not require grad, and on any tensor under
  // NoGradGuard (optimizer updates); otherwise they throw Error(Autograd) like
  // PyTorch does for leaves. The other operand broadcasts to this tensor's shape;
  // the result is computed as the out-of-place op and converted to this
  // tensor's dtype, which it must be able to hold (i64.add_(0.5) is an
  // Error(Shape), as in PyTorch).

  Tensor &zero_();
  Tensor &fill_(Scalar value);
  Tensor &copy_(const Tensor &src);
  Tensor &add_(const Tensor &other, Scalar alpha = 1);
  Tensor &add_(Scalar other);
  Tensor &sub_(const Tensor &other, Scalar alpha = 1);
  Tensor &sub_(Scalar other);
  Tensor &mul_(const Tensor &other);
  Tensor &mul_(Scalar other);
  Tensor &div_(const Tensor &other);
  Tensor &div_(Scalar other);

  // ---- Ops (see the free functions for their meaning) -------------------------

  Tensor add(const Tensor &other) const;
  Tensor add(Scalar other) const;
  Tensor sub(const Tensor &other) const;
  Tensor sub(Scalar other) const;
  Tensor mul(const Tensor &other) const;
  Tensor mul(Scalar other) const;
  Tensor div(const Tensor &other) const;
  Tensor div(Scalar other) const;
  Tensor neg() const;
  Tensor abs() const;
  Tensor pow(Scalar exponent) const;
  Tensor relu() const;
  /// min(max(x, min), max) as torch.clamp: a bound may be left out (not
  /// both); numbers promote like operands (an i64 tensor with a float bound
  /// gives f32). The gradient passes where min <= x <= max.
  Tensor clamp(std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt) const {
    return detail::applyWithNumbers(ir::OpKind::Clamp, *this, {{"min", min}, {"max", max}});
  }
  // exp(), log(), sqrt(), sigmoid(), tanh(), ...: every unary float function of Ops.def.
#define KILN_OP(Name)
#define KILN_FLOAT_MATH_OP(Name, method, integers) Tensor method() const;
#include "kiln/ir/Ops.def"
  Tensor maximum(const Tensor &other) const;
  Tensor minimum(const Tensor &other) const;

  Tensor matmul(const Tensor &other) const;
  Tensor mm(const Tensor &other) const { return matmul(other); }
  /// Transpose of a matrix (rank <= 2, like PyTorch's t()).
  Tensor t() const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor permute(const IntList &dims) const;
  /// Same elements in a new shape; one dimension may be -1 (inferred).
  Tensor reshape(IntList shape) const;
  Tensor view(IntList shape) const { return reshape(std::move(shape)); }
  Tensor flatten() const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor broadcast_to(IntList shape) const;
  Tensor expand(IntList shape) const { return broadcast_to(std::move(shape)); }
  /// A copy of the values (recorded: gradients flow through it).
  Tensor clone() const;

  /// Sum of all elements; integer and bool tensors sum to i64.
  Tensor sum() const;
  Tensor sum(const IntList &dims, bool keepdim = false) const;
  Tensor sum(int64_t dim, bool keepdim = false) const;
  /// Mean of all elements, of a float tensor (else an Error(Shape), as in PyTorch).
  Tensor mean() const;
  Tensor mean(const IntList &dims, bool keepdim = false) const;
  Tensor mean(int64_t dim, bool keepdim = false) const;
  /// Maximum of all elements.
  Tensor max() const;
  /// Maxima along dims (values only; see argmax for indices).
  Tensor max(const IntList &dims, bool keepdim = false) const;
  Tensor max(int64_t dim, bool keepdim = false) const;
  /// Index of the first maximum along dim, as i64.
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  /// Index of the first maximum of the flattened tensor.
  Tensor argmax() const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;

  Tensor eq(const Tensor &other) const;
  Tensor eq(Scalar other) const;
  Tensor ne(const Tensor &other) const;
  Tensor ne(Scalar other) const;
  Tensor lt(const Tensor &other) const;
  Tensor lt(Scalar other) const;
  Tensor le(const Tensor &other) const;
  Tensor le(Scalar other) const;
  Tensor gt(const Tensor &other) const;
  Tensor gt(Scalar other) const;
  Tensor ge(const Tensor &other) const;
  Tensor ge(Scalar other) const;

  /// Converts to `dtype` (this tensor itself when it already has it).
  Tensor to(DType dtype) const;

  /// The implementation, for kiln's own layers.
  const std::shared_ptr<detail::TensorImpl> &impl() const { return impl_; }
  explicit Tensor(std::shared_ptr<detail::TensorImpl> impl) : impl_(std::move(impl)) {}

private:
  detail::TensorImpl &self() const;

  std::shared_ptr<detail::TensorImpl> impl_;
};

std::ostream &operator<<(std::ostream &os, const Tensor &t);

// ---- Construction -------------------------------------------------------------

/// A tensor from a nested literal: `tensor({{1, 2}, {3, 4}}, f32, true)`.
/// Without a dtype, integers give i64, any floating-point number f32, and
/// bools bool, as in PyTorch.
Tensor tensor(const TensorLiteral &values, std::optional<DType> dtype = std::nullopt,
              bool requires_grad = false);
/// A tensor of `shape` from row-major values; throws Error(Shape) when the
/// count does not match.
Tensor from_vector(const std::vector<double> &values, Shape shape, DType dtype = f32,
                   bool requires_grad = false);
/// A rank-0 tensor.
Tensor scalar_tensor(double value, DType dtype = f32, bool requires_grad = false);
/// `value` as a number written in an expression is (`t * 0.5`), with a
/// name: a rank-0 tensor that enters a step or a gradient function as an
/// input called `%name` (an optimizer's %lr), so that a new value never
/// makes a new step and the IR reads as the program does.
Tensor named_number(Scalar value, DType dtype, std::string name);

Tensor zeros(Shape shape, DType dtype = f32, bool requires_grad = false);
Tensor ones(Shape shape, DType dtype = f32, bool requires_grad = false);
Tensor full(Shape shape, double value, DType dtype = f32, bool requires_grad = false);
Tensor zeros_like(const Tensor &t, bool requires_grad = false);
Tensor ones_like(const Tensor &t, bool requires_grad = false);
Tensor full_like(const Tensor &t, double value, bool requires_grad = false);
/// start, start + step, ... up to but excluding end (PyTorch's arange).
Tensor arange(double start, double end, double step, DType dtype);
/// 0, 1, ..., end - 1: i64 for an integer `end`, else f32 (as in PyTorch).
template <class T>
  requires std::is_arithmetic_v<T>
Tensor arange(T end) {
  return arange(0.0, double(end), 1.0, std::is_integral_v<T> ? i64 : f32);
}
/// i64 when all arguments are integers, else f32.
template <class A, class B, class C = int>
  requires std::is_arithmetic_v<A> && std::is_arithmetic_v<B> && std::is_arithmetic_v<C>
Tensor arange(A start, B end, C step = 1) {
  bool integral = std::is_integral_v<A> && std::is_integral_v<B> && std::is_integral_v<C>;
  return arange(double(start), double(end), double(step), integral ? i64 : f32);
}

// ---- Ops ------------------------------------------------------------------------

/// Runs IR op `op` on `operands` eagerly with the op table's reference kernel
/// and, when grad mode is on and an operand requires grad, records it for
/// backward(). `declared` is the result type of ops that declare it (reshape,
/// cast, broadcast_to, one_hot). Every op of this API goes through here; a
/// shape or dtype mismatch is an Error(Shape) naming the op and the types.
Tensor apply(ir::OpKind op, std::span<const Tensor> operands, ir::AttrList attrs = {},
             std::optional<ir::TensorType> declared = std::nullopt);
/// apply(op, {a, b}): the operands on the stack, no list allocated per op.
inline Tensor apply(ir::OpKind op, std::initializer_list<Tensor> operands, ir::AttrList attrs = {},
                    std::optional<ir::TensorType> declared = std::nullopt) {
  return apply(op, std::span<const Tensor>(operands.begin(), operands.size()), std::move(attrs),
               std::move(declared));
}

// Binary ops broadcast like numpy and follow PyTorch's type promotion
// (docs/architecture.md, "Type promotion"): operands of different dtypes are
// converted to their result_type (i64 tensor * 2 is i64, * 2.5 is f32; an
// f32 tensor and an f64 zero-dim tensor give f32); `/` is true division
// (integers give f32); bool + bool is or, bool * bool and; bool - bool is an
// Error(Shape), as in PyTorch. matmul does not promote: its operands must
// have one dtype. Unary float functions (exp, log, sin, ...: the
// KILN_FLOAT_MATH_OPs of Ops.def) on integers compute in f32, except where
// PyTorch refuses them (softplus).

Tensor add(const Tensor &a, const Tensor &b);
Tensor sub(const Tensor &a, const Tensor &b);
Tensor mul(const Tensor &a, const Tensor &b);
Tensor div(const Tensor &a, const Tensor &b);
/// Elementwise max / min of two tensors.
Tensor maximum(const Tensor &a, const Tensor &b);
Tensor minimum(const Tensor &a, const Tensor &b);
/// x ** exponent, promoted like a binary op: an integer tensor to an integer
/// power stays an exact integer (a negative power is an Error(Shape)).
Tensor pow(const Tensor &x, Scalar exponent);
Tensor neg(const Tensor &x);
Tensor abs(const Tensor &x);
Tensor relu(const Tensor &x);
inline Tensor clamp(const Tensor &x, std::optional<Scalar> min,
                    std::optional<Scalar> max = std::nullopt) {
  return x.clamp(std::move(min), std::move(max));
}
#define KILN_OP(Name)
#define KILN_FLOAT_MATH_OP(Name, method, integers) Tensor method(const Tensor &x);
#include "kiln/ir/Ops.def"
/// Matrix product [m,k] x [k,n] -> [m,n].
Tensor matmul(const Tensor &a, const Tensor &b);
/// Reorders dimensions: result dim i is input dim dims[i].
Tensor permute(const Tensor &x, const IntList &dims);
Tensor reshape(const Tensor &x, IntList shape);
Tensor broadcast_to(const Tensor &x, IntList shape);
Tensor softmax(const Tensor &x, int64_t dim);
Tensor log_softmax(const Tensor &x, int64_t dim);
/// cond ? a : b elementwise, broadcasting all three; cond is bool.
Tensor where(const Tensor &cond, const Tensor &a, const Tensor &b);
Tensor where(const Tensor &cond, const Tensor &a, Scalar b);
Tensor where(const Tensor &cond, Scalar a, const Tensor &b);
/// Integer labels [...] to one-hot rows [..., num_classes] of `dtype`.
Tensor one_hot(const Tensor &labels, int64_t num_classes, DType dtype = i64);

Tensor operator+(const Tensor &a, const Tensor &b);
Tensor operator+(const Tensor &a, Scalar b);
Tensor operator+(Scalar a, const Tensor &b);
Tensor operator-(const Tensor &a, const Tensor &b);
Tensor operator-(const Tensor &a, Scalar b);
Tensor operator-(Scalar a, const Tensor &b);
Tensor operator*(const Tensor &a, const Tensor &b);
Tensor operator*(const Tensor &a, Scalar b);
Tensor operator*(Scalar a, const Tensor &b);
Tensor operator/(const Tensor &a, const Tensor &b);
Tensor operator/(const Tensor &a, Scalar b);
Tensor operator/(Scalar a, const Tensor &b);
Tensor operator-(const Tensor &x);
/// In place on `a` (see Tensor::add_).
Tensor &operator+=(Tensor &a, const Tensor &b);
Tensor &operator+=(Tensor &a, Scalar b);
Tensor &operator-=(Tensor &a, const Tensor &b);
Tensor &operator-=(Tensor &a, Scalar b);
Tensor &operator*=(Tensor &a, const Tensor &b);
Tensor &operator*=(Tensor &a, Scalar b);
Tensor &operator/=(Tensor &a, const Tensor &b);
Tensor &operator/=(Tensor &a, Scalar b);

} // namespace kiln
