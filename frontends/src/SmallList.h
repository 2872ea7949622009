//===- SmallList.h - A list that keeps its first elements inline -*- C++ -*-===//
//
// The operand lists of recorded ops: nearly every op has one to three
// operands, and a heap allocation per list was a visible part of each
// recorded op's cost. Up to N elements live in the object; more move to
// the heap.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <utility>
#include <vector>

namespace kiln::detail {

template <class T, size_t N> class SmallList {
public:
  SmallList() = default;
  SmallList(const SmallList &o) { append(o); }
  SmallList &operator=(const SmallList &o) {
    if (this != &o) {
      clear();
      append(o);
    }
    return *this;
  }
  SmallList(SmallList &&o) noexcept { take(o); }
  SmallList &operator=(SmallList &&o) noexcept {
    if (this != &o) {
      clear();
      take(o);
    }
    return *this;
  }
  SmallList(std::initializer_list<T> init) {
    reserve(init.size());
    for (const T &v : init)
      push_back(v);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T *begin() { return heap_ ? heap_->data() : inline_.data(); }
  T *end() { return begin() + size_; }
  const T *begin() const { return heap_ ? heap_->data() : inline_.data(); }
  const T *end() const { return begin() + size_; }
  T &operator[](size_t i) { return begin()[i]; }
  const T &operator[](size_t i) const { return begin()[i]; }

  void reserve(size_t n) {
    if (n > N && !heap_)
      spill(n);
  }
  void push_back(T v) {
    if (size_ == N && !heap_)
      spill(2 * N);
    if (heap_)
      heap_->push_back(std::move(v));
    else
      inline_[size_] = std::move(v);
    ++size_;
  }
  /// Drops every element, keeping a spilled list's memory.
  void clear() {
    if (heap_)
      heap_->clear();
    else
      for (size_t i = 0; i < size_; ++i)
        inline_[i] = T();
    size_ = 0;
  }

private:
  // Inline slots not in use hold T(), so that moves and clears touch only
  // the elements there are: a node's operand lists are moved and cleared
  // once per recorded op. The rare longer list lives on the heap behind one
  // pointer, not a vector's three, as every recorded node has two lists.

  void spill(size_t capacity) {
    heap_ = std::make_unique<std::vector<T>>();
    heap_->reserve(capacity);
    for (size_t i = 0; i < size_; ++i)
      heap_->push_back(std::exchange(inline_[i], T()));
  }
  /// Takes o's elements into this empty list; o is left empty.
  void take(SmallList &o) {
    heap_ = std::move(o.heap_);
    if (!heap_)
      for (size_t i = 0; i < o.size_; ++i)
        inline_[i] = std::exchange(o.inline_[i], T());
    size_ = std::exchange(o.size_, 0);
  }
  void append(const SmallList &o) {
    reserve(size_ + o.size_);
    for (const T &v : o)
      push_back(v);
  }

  std::array<T, N> inline_{};
  std::unique_ptr<std::vector<T>> heap_;
  size_t size_ = 0;
};

} // namespace kiln::detail
