//===- StructureKey.cpp - Exact keys of recorded structures ---------------===//
#include "StructureKey.h"

#include "kiln/ir/StructureEncoding.h"

#include <algorithm>
#include <cstring>

namespace kiln::detail {

uint64_t StructureKey::hash() const {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t w : words_) {
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  return h ^ words_.size();
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
