//===- Random.h - Seedable random tensors -----------------------*- C++ -*-===//
//
// A generator whose streams are the same on every platform and standard
// library: std::mt19937_64 bits turned into numbers by kiln's own uniform
// and normal transforms (no std::*_distribution, whose algorithms are left
// to each implementation).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Tensor.h"

#include <cstdint>
#include <random>

namespace kiln {

class Generator {
public:
  explicit Generator(uint64_t seed = kDefaultSeed) { manual_seed(seed); }
  void manual_seed(uint64_t seed);
  uint64_t initial_seed() const { return seed_; }

  /// Uniform in [0, 1), with 53 random bits.
  double uniform();
  /// Standard normal (Box-Muller).
  double normal();
  /// Uniform integer in [0, n), without modulo bias; n > 0.
  uint64_t below(uint64_t n);

  static constexpr uint64_t kDefaultSeed = 67280421310721ull; // PyTorch's default seed

private:
  std::mt19937_64 engine_;
  uint64_t seed_ = 0;
  double spare_ = 0;
  bool hasSpare_ = false;
};

/// The generator that the functions below use unless given another one.
/// Shared by all threads; guard concurrent use yourself.
Generator &default_generator();
/// Reseeds the default generator (torch.manual_seed).
void manual_seed(uint64_t seed);

/// Standard normal samples.
Tensor randn(Shape shape, DType dtype = f32, bool requires_grad = false,
             Generator &gen = default_generator());
/// Uniform samples in [0, 1).
Tensor rand(Shape shape, DType dtype = f32, bool requires_grad = false,
            Generator &gen = default_generator());
/// Uniform integers in [low, high), i64.
Tensor randint(int64_t low, int64_t high, Shape shape, Generator &gen = default_generator());
/// A random permutation of 0..n-1, i64 (Fisher-Yates).
Tensor randperm(int64_t n, Generator &gen = default_generator());

/// Fills `t` in place with uniform samples in [low, high) (under the
/// in-place rules of Tensor::fill_: use NoGradGuard for parameters).
Tensor &uniform_(Tensor &t, double low, double high, Generator &gen = default_generator());
/// Fills `t` in place with normal samples.
Tensor &normal_(Tensor &t, double mean = 0, double stddev = 1,
                Generator &gen = default_generator());

} // namespace kiln
