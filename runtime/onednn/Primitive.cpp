//===- Primitive.cpp - oneDNN plumbing shared by kiln's primitives --------===//
#include "Primitive.h"
#include "kiln/runtime/Threads.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <new>

namespace kiln::runtime::onednn {

namespace {
std::atomic<int64_t> gPrimitivesCreated{0};

/// Most sets of bound memory objects per primitive (see BoundPrimitive).
constexpr int kMaxBindings = 16;
} // namespace

int64_t primitivesCreated() { return gPrimitivesCreated.load(std::memory_order_relaxed); }

namespace detail {

void countCreation() { gPrimitivesCreated.fetch_add(1, std::memory_order_relaxed); }

const ::dnnl::engine &cpuEngine() {
  static const ::dnnl::engine engine(::dnnl::engine::kind::cpu, 0);
  return engine;
}

// oneDNN does not promise that one stream may be used from several threads at
// once, so each thread gets its own; creating a CPU stream is cheap. Execution
// on a CPU stream with the OpenMP runtime is synchronous: no wait() is needed.
::dnnl::stream &threadStream() {
  thread_local ::dnnl::stream stream(cpuEngine());
  return stream;
}

SerialScope::SerialScope() {
  int current = omp_get_max_threads();
  if (current > 1) {
    saved_ = current;
    omp_set_num_threads(1);
  }
}

SerialScope::~SerialScope() {
  if (saved_ > 1)
    omp_set_num_threads(saved_);
}

::dnnl::primitive_attr primitiveAttr() {
  ::dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(::dnnl::scratchpad_mode::user);
  return attr;
}

std::string BoundPrimitive::implementation() const {
  const char *name = nullptr;
  if (dnnl_primitive_desc_query(primitive_.get_primitive_desc(), dnnl_query_impl_info_str, 0,
                                &name) != dnnl_success ||
      !name)
    return "?";
  return name;
}

BoundPrimitive::BoundPrimitive(::dnnl::primitive primitive, std::span<const ArgSpec> args)
    : primitive_(std::move(primitive)), numArgs_(args.size()) {
  if (args.size() > kMaxArgs)
    throw ::dnnl::error(dnnl_invalid_arguments, "too many primitive arguments");
  for (size_t i = 0; i < args.size(); ++i) {
    argIndex_[i] = args[i].index;
    argDesc_[i] = args[i].md;
  }
  // Zero bytes in library mode, and for a primitive that needs no scratchpad.
  scratchpadDesc_ = ::dnnl::memory::desc(
      *dnnl_primitive_desc_query_md(primitive_.get_primitive_desc(), dnnl_query_scratchpad_md, 0));
  numExecArgs_ = int(numArgs_) + (scratchpadDesc_.get_size() > 0);
  int sets = std::clamp(maxThreads(), 1, kMaxBindings);
  for (int s = 0; s < sets; ++s) {
    auto &b = *bindings_.emplace_back(std::make_unique<Binding>());
    for (size_t i = 0; i < numArgs_; ++i) {
      b.memory[i] = ::dnnl::memory(argDesc_[i], cpuEngine(), DNNL_MEMORY_NONE);
      b.args[i] = {argIndex_[i], b.memory[i].get()};
    }
  }
}

BoundPrimitive::Scratchpad BoundPrimitive::newScratchpad() const {
  Scratchpad s;
  if (size_t bytes = scratchpadDesc_.get_size()) {
    s.bytes.reset(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    if (!s.bytes)
      throw std::bad_alloc();
    s.memory = ::dnnl::memory(scratchpadDesc_, cpuEngine(), s.bytes.get());
  }
  return s;
}

void BoundPrimitive::equip(Binding &b) const {
  if (numExecArgs_ == int(numArgs_) || b.scratchpad.memory)
    return;
  b.scratchpad = newScratchpad();
  b.args[numArgs_] = {DNNL_ARG_SCRATCHPAD, b.scratchpad.memory.get()};
}

void BoundPrimitive::run(std::span<void *const> buffers) const {
  for (const std::unique_ptr<Binding> &b : bindings_) {
    std::unique_lock lock(b->bound, std::try_to_lock);
    if (!lock.owns_lock())
      continue;
    equip(*b);
    for (size_t i = 0; i < numArgs_; ++i)
      b->memory[i].set_data_handle(buffers[i]);
    return execute(b->args.data());
  }
  runWithFreshMemory(buffers);
}

void BoundPrimitive::runWithFreshMemory(std::span<void *const> buffers) const {
  std::array<::dnnl::memory, kMaxArgs> memory;
  std::array<dnnl_exec_arg_t, kMaxArgs + 1> args{};
  for (size_t i = 0; i < numArgs_; ++i) {
    memory[i] = ::dnnl::memory(argDesc_[i], cpuEngine(), buffers[i]);
    args[i] = {argIndex_[i], memory[i].get()};
  }
  Scratchpad scratchpad = newScratchpad();
  if (scratchpad.memory)
    args[numArgs_] = {DNNL_ARG_SCRATCHPAD, scratchpad.memory.get()};
  execute(args.data());
}

// The C entry point takes a ready argument array; the C++ execute() would
// build an unordered_map and a vector on every call.
void BoundPrimitive::execute(const dnnl_exec_arg_t *args) const {
  SerialScope scope;
  ::dnnl::error::wrap_c_api(
      dnnl_primitive_execute(primitive_.get(), threadStream().get(), numExecArgs_, args),
      "could not execute a primitive");
}

} // namespace detail
} // namespace kiln::runtime::onednn
