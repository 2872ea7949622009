//===- SharedAttrs.h - Attribute lists shared per thread (internal) -*- C++ -*-===//
//
// A recorded op keeps its attributes as an ir::AttrList, whose copies share
// their entries. A training step records the same few lists at every step
// (mean's axes, pow's exponent, transpose's permutation), so each thread
// keeps the lists it made, found by what they were made from (the op and
// its arguments, a few words), and hands out copies: a step that repeats
// makes no list and allocates nothing for one.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Attribute.h"
#include "kiln/ir/Function.h"
#include "kiln/ir/Recycled.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>

namespace kiln::detail {

/// What an attribute list is made from: the op, the form of its arguments
/// (where an op's list is made in several ways), then the arguments as
/// words. A recipe longer than its words is not shared (made every time).
class AttrRecipe {
public:
  explicit AttrRecipe(ir::OpKind op, uint64_t form = 0) { word(uint64_t(op)).word(form); }

  AttrRecipe &word(uint64_t w) {
    if (size_ == kWords)
      tooLong_ = true;
    else
      words_[size_++] = w;
    return *this;
  }
  AttrRecipe &number(double d) { return word(std::bit_cast<uint64_t>(d)); }
  AttrRecipe &ints(std::span<const int64_t> values) {
    word(values.size());
    for (int64_t v : values)
      word(uint64_t(v));
    return *this;
  }

  bool shareable() const { return !tooLong_; }
  bool operator==(const AttrRecipe &o) const {
    return size_ == o.size_ && std::equal(words_.begin(), words_.begin() + size_, o.words_.begin());
  }
  struct Hash {
    size_t operator()(const AttrRecipe &r) const {
      return std::hash<std::string_view>()(std::string_view(
          reinterpret_cast<const char *>(r.words_.data()), r.size_ * sizeof(uint64_t)));
    }
  };

private:
  static constexpr size_t kWords = 14;
  std::array<uint64_t, kWords> words_{};
  uint8_t size_ = 0;
  bool tooLong_ = false;
};

/// This thread's lists by recipe (ir::threadOwned's tag names them).
using SharedAttrLists = std::unordered_map<AttrRecipe, ir::AttrList, AttrRecipe::Hash>;
struct SharedAttrListsTag;

/// The list `make()` makes from `recipe`, made once per thread. `make` may
/// throw (a bad axis): nothing is kept then, and the same call throws again.
template <class Make> ir::AttrList sharedAttrs(const AttrRecipe &recipe, Make &&make) {
  SharedAttrLists *shared = ir::threadOwned<SharedAttrLists, SharedAttrListsTag>();
  if (!recipe.shareable() || !shared) // too long, or the thread is ending
    return make();
  SharedAttrLists &lists = *shared;
  if (auto it = lists.find(recipe); it != lists.end())
    return it->second;
  // Bounded: a program that makes ever new lists (a schedule of exponents)
  // must not grow it forever.
  constexpr size_t kMaxLists = 4096;
  if (lists.size() >= kMaxLists)
    lists.clear();
  ir::AttrList made = make();
  lists.emplace(recipe, made);
  return made;
}

} // namespace kiln::detail
