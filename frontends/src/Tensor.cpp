//===- Tensor.cpp - Tensor handles: metadata, values, autograd state ------===//
#include "Lazy.h"
#include "TensorImpl.h"
#include "kiln/Autograd.h"
#include "kiln/ir/OpDef.h"

#include <fmt/format.h>

#include <atomic>
#include <array>
#include <cstring>
#include <string_view>
#include <unordered_map>

namespace kiln {

using detail::TensorImpl;

namespace detail {

namespace {
/// Finds a name by any string_view, without making a string.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
using NameTable = std::unordered_map<std::string, Name, NameHash, std::equal_to<>>;
struct NameTableTag;
} // namespace

Name sharedName(std::string_view base, std::string_view suffix) {
  if (base.empty() && suffix.empty())
    return nullptr;
  // The text on the stack when it fits, so that a name already there is
  // found without allocating.
  std::array<char, 256> buffer;
  std::string joined;
  std::string_view text;
  if (base.size() + suffix.size() <= buffer.size()) {
    std::copy(base.begin(), base.end(), buffer.begin());
    std::copy(suffix.begin(), suffix.end(), buffer.begin() + base.size());
    text = std::string_view(buffer.data(), base.size() + suffix.size());
  } else {
    joined = std::string(base) + std::string(suffix);
    text = joined;
  }
  NameTable *table = ir::threadOwned<NameTable, NameTableTag>();
  if (table)
    if (auto it = table->find(text); it != table->end())
      return it->second;
  auto name = std::make_shared<const std::string>(text);
  if (table && table->size() < kMaxSharedNames)
    table->emplace(*name, name);
  return name;
}

namespace {
/// A few derived names, by the pointers they were made from (direct-mapped).
struct DerivedNames {
  struct Entry {
    Name base; ///< held, so that its address is not reused for another name
    const char *suffix = nullptr;
    Name derived;
  };
  static constexpr size_t kEntries = 32;
  std::array<Entry, kEntries> entries;
};
struct DerivedNamesTag;
} // namespace

Name derivedName(const Name &base, const char *suffix) {
  DerivedNames *memo = ir::threadOwned<DerivedNames, DerivedNamesTag>();
  if (!memo)
    return sharedName(*base, suffix);
  auto bits = reinterpret_cast<uintptr_t>(base.get()) ^ reinterpret_cast<uintptr_t>(suffix);
  DerivedNames::Entry &e = memo->entries[(bits >> 4) % DerivedNames::kEntries];
  if (e.base != base || e.suffix != suffix)
    e = {base, suffix, sharedName(*base, suffix)};
  return e.derived;
}

namespace {
std::atomic<uint64_t> gStorageSerial{0};
} // namespace

Storage::Storage(ir::TensorType type) : type(std::move(type)), serial(++gStorageSerial) {}
Storage::Storage(ir::HostTensor data)
    : type(data.type()), data(std::move(data)), serial(++gStorageSerial) {}
Storage::~Storage() = default;
uint64_t lastStorageSerial() { return gStorageSerial; }

TensorImpl::~TensorImpl() {
  if (gradFn) // a grad_fn is no other tensor's
    gradFn->dropInputs();
}

const ir::HostTensor &TensorImpl::values() const {
  if (storage->pending) {
    checkPendingHere(*storage);
    flushPending();
  }
  if (storage->error)
    throw *storage->error;
  check(!storage->pending && storage->data.defined(), "TensorImpl::values: not computed");
  return storage->data;
}

std::shared_ptr<TensorImpl> makeLeaf(ir::HostTensor data, bool requiresGrad) {
  auto impl = makeRecycled<TensorImpl>();
  impl->storage = makeRecycled<Storage>(std::move(data));
  impl->requiresGrad = requiresGrad;
  return impl;
}

ir::HostTensor scalarData(const Scalar &value, DType dtype) {
  ir::HostTensor data = ir::HostTensor::scalar(value.toDouble(), dtype);
  if (!value.isFloat()) // exactly, also past 2^53
    data.setInt(0, value.toInt());
  return data;
}

Tensor literal(const Scalar &value, DType dtype) {
  auto impl = makeLeaf(scalarData(value, dtype));
  impl->literal = true;
  return Tensor(std::move(impl));
}

Tensor constantLiteral(const Scalar &value, DType dtype) {
  Tensor t = literal(value, dtype);
  t.impl()->storage->constant = true;
  return t;
}

[[noreturn]] void throwUnsignedOutOfRange(unsigned long long v) {
  throw Error(ErrorKind::Usage, fmt::format("the number {} does not fit in an i64", v));
}

void checkInPlace(const Tensor &t, std::string_view what) {
  if (!is_grad_enabled() || !t.requires_grad())
    return;
  if (t.is_leaf())
    throw Error(ErrorKind::Autograd,
                fmt::format("{}: a leaf Variable that requires grad is being used in an in-place "
                            "operation.",
                            what));
  throw Error(ErrorKind::Autograd,
              fmt::format("{}: in-place operations on tensors with recorded history are not "
                          "supported; use the out-of-place op",
                          what));
}

void assignInPlace(const Tensor &t, const ir::HostTensor &values) {
  TensorImpl &impl = *t.impl();
  check(values.type() == impl.type(), "assignInPlace: type mismatch");
  if (auto *observer = traceObserver())
    observer->onEagerWrite();
  // Values pending now may read the old contents: compute them first.
  flushPending();
  const ir::HostTensor &data = impl.values();
  std::memcpy(const_cast<void *>(data.raw()), values.raw(), values.bytes());
  ++impl.storage->version;
  markNotConstant(*impl.storage);
}

void assignInPlace(const Tensor &t, const Tensor &value) {
  if (!lazyMode()) {
    assignInPlace(t, value.host());
    return;
  }
  TensorImpl &impl = *t.impl();
  check(value.impl()->type() == impl.type(), "assignInPlace: type mismatch");
  assignPending(impl, operandValue(*value.impl()));
}

void assignPending(TensorImpl &impl, std::shared_ptr<GraphNode> value) {
  setPending(impl.storage, std::move(value));
  ++impl.storage->version;
  if (GraphNode &pending = *impl.storage->pending; !pending.name && impl.name)
    pending.name = derivedName(impl.name, "_new");
}

} // namespace detail

Tensor::Tensor(ir::HostTensor data, bool requires_grad) {
  if (!data.defined())
    throw Error(ErrorKind::Usage, "cannot make a tensor from an undefined HostTensor");
  impl_ = detail::makeLeaf(std::move(data));
  if (requires_grad)
    requires_grad_(true);
}

TensorImpl &Tensor::self() const {
  if (!impl_)
    throw Error(ErrorKind::Usage, "the tensor is undefined (e.g. the grad() of a tensor that "
                                  "has no gradient yet)");
  return *impl_;
}

// ---- Metadata -------------------------------------------------------------------

const Shape &Tensor::shape() const { return self().type().shape; }

int64_t Tensor::size(int64_t d) const {
  int64_t rank = dim();
  int64_t n = d < 0 ? d + rank : d;
  if (n < 0 || n >= rank)
    throw Error(ErrorKind::Shape, fmt::format("size: dimension {} is out of range for a tensor "
                                              "of rank {}",
                                              d, rank));
  return shape()[int(n)];
}

int64_t Tensor::dim() const { return shape().rank(); }
int64_t Tensor::numel() const { return self().type().shape.numel(); }
DType Tensor::dtype() const { return self().type().dtype; }
const ir::HostTensor &Tensor::host() const { return self().values(); }

// ---- Values -----------------------------------------------------------------------

double Tensor::item() const {
  if (numel() != 1)
    throw Error(ErrorKind::Shape,
                fmt::format("a Tensor with {} elements cannot be converted to Scalar", numel()));
  const ir::HostTensor &d = self().values();
  if (d.numel() != 1)
    throw Error(ErrorKind::Shape,
                fmt::format("a Tensor with {} elements cannot be converted to Scalar", d.numel()));
  return d.get(0);
}

std::vector<double> Tensor::to_vector() const {
  const ir::HostTensor &d = self().values();
  std::vector<double> v(size_t(d.numel()));
  for (int64_t i = 0; i < d.numel(); ++i)
    v[size_t(i)] = d.get(i);
  return v;
}

// ---- Autograd state -----------------------------------------------------------------

bool Tensor::requires_grad() const { return self().requiresGrad; }

bool Tensor::is_leaf() const { return self().gradFn == nullptr; }

Tensor &Tensor::requires_grad_(bool requires_grad) {
  TensorImpl &impl = self();
  if (impl.gradFn && requires_grad)
    return *this; // already requires grad, as every recorded result does
  if (impl.gradFn)
    throw Error(ErrorKind::Autograd,
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().");
  if (requires_grad && !ir::isFloat(impl.type().dtype))
    throw Error(ErrorKind::Autograd,
                fmt::format("only Tensors of floating point dtype can require gradients, got {}",
                            impl.type().str()));
  impl.requiresGrad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  if (auto *observer = detail::traceObserver())
    observer->onGradAccess(impl_);
  const auto &g = self().grad;
  return g ? Tensor(g) : Tensor();
}

void Tensor::set_grad(const Tensor &grad) {
  TensorImpl &impl = self();
  if (auto *observer = detail::traceObserver())
    observer->onGradAccess(impl_, /*discards=*/true);
  if (!grad.defined()) {
    impl.grad.reset();
    return;
  }
  if (grad.impl()->type() != impl.type())
    throw Error(ErrorKind::Shape,
                fmt::format("set_grad: assigned grad has type {}, but the tensor is {}",
                            grad.impl()->type().str(), impl.type().str()));
  impl.grad = grad.impl();
}

void Tensor::zero_grad(bool set_to_none) {
  TensorImpl &impl = self();
  if (auto *observer = detail::traceObserver())
    observer->onGradAccess(impl_, set_to_none || !impl.grad);
  if (set_to_none || !impl.grad)
    impl.grad.reset();
  else
    Tensor(impl.grad).zero_();
}

Tensor Tensor::detach() const {
  TensorImpl &impl = self();
  auto out = detail::makeRecycled<TensorImpl>();
  out->storage = impl.storage; // an alias: in-place updates show in both
  out->name = impl.name;
  return Tensor(std::move(out));
}

std::string Tensor::grad_fn_name() const {
  const auto &node = self().gradFn;
  return node ? std::string(node->opName()) : std::string();
}

Tensor &Tensor::set_name(std::string name) {
  TensorImpl &impl = self();
  impl.name = detail::sharedName(name);
  if (impl.storage->pending) // names the value in the step IR too
    impl.storage->pending->name = impl.name;
  return *this;
}

const std::string &Tensor::name() const {
  static const std::string kNone;
  const TensorImpl &impl = self();
  return impl.name ? *impl.name : kNone;
}

} // namespace kiln
