//===- SplitMix.h - splitmix64's mixing function ----------------*- C++ -*-===//
//
// splitmix64 (Steele, Lea and Flood, 2014): adds the golden-ratio increment
// to a 64-bit word and scrambles it, so that every output bit depends on
// every input bit. A few instructions, and the same in every run and build:
// the DataLoader derives its per-epoch seeds with it, the oneDNN probe its
// operands (one call per number, on a counter), the disk cache its hashes.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>

namespace kiln::ir {

/// What splitmix64 adds to its state per number (2^64 / the golden ratio).
inline constexpr uint64_t kSplitMix64Increment = 0x9e3779b97f4a7c15ull;

/// The next splitmix64 output for the state `x` (the state before its increment).
constexpr uint64_t splitMix64(uint64_t x) {
  x += kSplitMix64Increment;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

} // namespace kiln::ir
