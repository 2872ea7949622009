//===- StructureKey.h - Exact keys of recorded structures (internal) -*- C++ -*-===//
//
// A StructureKey is a flat, prefix-free encoding of a graph as words: every
// value in visit order with its op, operand positions, attributes and type.
// Two graphs have equal keys exactly when they build the same function (up to
// value names), so a cache lookup that compares keys proves the structure
// without building or hashing an ir::Function. The hash only picks the bucket;
// a collision compares unequal and recompiles.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Attribute.h"
#include "kiln/ir/Function.h"

#include <cstdint>
#include <vector>

namespace kiln::detail {

class StructureKey {
public:
  void reserve(size_t words) { words_.reserve(words); }
  void clear() { words_.clear(); }
  void word(uint64_t w) { words_.push_back(w); }
  void type(const ir::TensorType &t);
  void attrs(const ir::AttrList &attrs);
  /// A length, then the bytes packed eight to a word.
  void bytes(const void *data, size_t n);

  /// Computed on demand: one tight loop per lookup is cheaper than mixing
  /// every word as it is written.
  uint64_t hash() const;
  size_t size() const { return words_.size(); }
  bool operator==(const StructureKey &o) const { return words_ == o.words_; }

private:
  std::vector<uint64_t> words_;
};

/// What an encoded element is; keeps the encoding prefix-free.
enum class KeyTag : uint64_t { Leaf = 0x1eaf, Literal = 0x117e, Op = 0x0b, Results = 0x4e5 };

} // namespace kiln::detail
