//===- StructureKey.cpp - Exact keys of recorded structures ---------------===//
#include "StructureKey.h"

#include "kiln/ir/StructureEncoding.h"

#include <algorithm>
#include <cstring>

namespace kiln::detail {

namespace {
uint64_t mix(uint64_t h, uint64_t w) {
  h = (h ^ w) * 0x100000001b3ull;
  return h ^ (h >> 29);
}
} // namespace

uint64_t StructureKey::hash() const {
  // Four independent lanes: one chain of multiplies per word was latency-
  // bound, and a step's key is hundreds of words hashed at every flush.
  uint64_t lane[4] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 0x9e3779b97f4a7c15ull,
                      0xc2b2ae3d27d4eb4full};
  size_t n = words_.size(), i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; ++l)
      lane[l] = mix(lane[l], words_[i + size_t(l)]);
  for (; i < n; ++i)
    lane[0] = mix(lane[0], words_[i]);
  uint64_t h = mix(mix(mix(lane[0], lane[1]), lane[2]), lane[3]);
  return h ^ n;
}

void StructureKey::type(const ir::TensorType &t) { ir::encodeType(*this, t); }

void StructureKey::bytes(const void *data, size_t n) {
  word(n);
  const auto *p = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, std::min<size_t>(8, n - i));
    word(w);
  }
}

void StructureKey::attrs(const ir::AttrList &attrs) { ir::encodeAttrs(*this, attrs); }

} // namespace kiln::detail
