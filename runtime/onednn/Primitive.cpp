//===- Primitive.cpp - oneDNN plumbing shared by kiln's primitives --------===//
#include "Primitive.h"

#include <omp.h>

#include <atomic>

namespace kiln::runtime::onednn {

namespace {
std::atomic<int64_t> gPrimitivesCreated{0};
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

SerialScope::SerialScope(bool serial) {
  if (!serial)
    return;
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

BoundPrimitive::BoundPrimitive(::dnnl::primitive primitive, std::span<const ArgSpec> args,
                               bool serial)
    : primitive_(std::move(primitive)), numArgs_(args.size()), serial_(serial) {
  if (args.size() > kMaxArgs)
    throw ::dnnl::error(dnnl_invalid_arguments, "too many primitive arguments");
  for (size_t i = 0; i < args.size(); ++i) {
    memory_[i] = ::dnnl::memory(args[i].md, cpuEngine(), DNNL_MEMORY_NONE);
    args_[i] = {args[i].index, memory_[i].get()};
  }
}

void BoundPrimitive::run(std::span<void *const> buffers) const {
  std::unique_lock lock(bound_, std::try_to_lock);
  if (!lock.owns_lock())
    return runWithFreshMemory(buffers);
  for (size_t i = 0; i < numArgs_; ++i)
    memory_[i].set_data_handle(buffers[i]);
  execute(args_.data());
}

void BoundPrimitive::runWithFreshMemory(std::span<void *const> buffers) const {
  std::array<::dnnl::memory, kMaxArgs> memory;
  std::array<dnnl_exec_arg_t, kMaxArgs> args{};
  for (size_t i = 0; i < numArgs_; ++i) {
    memory[i] = ::dnnl::memory(memory_[i].get_desc(), cpuEngine(), buffers[i]);
    args[i] = {args_[i].arg, memory[i].get()};
  }
  execute(args.data());
}

// The C entry point takes a ready argument array; the C++ execute() would
// build an unordered_map and a vector on every call.
void BoundPrimitive::execute(const dnnl_exec_arg_t *args) const {
  SerialScope scope(serial_);
  ::dnnl::error::wrap_c_api(
      dnnl_primitive_execute(primitive_.get(), threadStream().get(), int(numArgs_), args),
      "could not execute a primitive");
}

} // namespace detail
} // namespace kiln::runtime::onednn
