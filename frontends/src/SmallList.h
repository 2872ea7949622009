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
#include <utility>
#include <vector>

namespace kiln::detail {

template <class T, size_t N> class SmallList {
public:
  SmallList() = default;
  SmallList(const SmallList &) = default;
  SmallList &operator=(const SmallList &) = default;
  SmallList(SmallList &&o) noexcept
      : inline_(std::move(o.inline_)), heap_(std::move(o.heap_)), size_(std::exchange(o.size_, 0)) {
  }
  SmallList &operator=(SmallList &&o) noexcept {
    inline_ = std::move(o.inline_);
    heap_ = std::move(o.heap_);
    size_ = std::exchange(o.size_, 0);
    return *this;
  }
  SmallList(std::initializer_list<T> init) {
    reserve(init.size());
    for (const T &v : init)
      push_back(v);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T *begin() { return spilled() ? heap_.data() : inline_.data(); }
  T *end() { return begin() + size_; }
  const T *begin() const { return spilled() ? heap_.data() : inline_.data(); }
  const T *end() const { return begin() + size_; }
  T &operator[](size_t i) { return begin()[i]; }
  const T &operator[](size_t i) const { return begin()[i]; }

  void reserve(size_t n) {
    if (n > N && !spilled())
      spill(n);
  }
  void push_back(T v) {
    if (size_ == N && !spilled())
      spill(2 * N);
    if (spilled())
      heap_.push_back(std::move(v));
    else
      inline_[size_] = std::move(v);
    ++size_;
  }
  /// Drops every element; inline ones are reset to T().
  void clear() {
    for (size_t i = 0; i < N; ++i)
      inline_[i] = T();
    heap_.clear();
    size_ = 0;
  }

private:
  bool spilled() const { return !heap_.empty() || heap_.capacity() > 0; }
  void spill(size_t capacity) {
    heap_.reserve(capacity);
    for (size_t i = 0; i < size_; ++i)
      heap_.push_back(std::move(inline_[i]));
    for (size_t i = 0; i < size_; ++i)
      inline_[i] = T();
  }

  std::array<T, N> inline_{};
  std::vector<T> heap_;
  size_t size_ = 0;
};

} // namespace kiln::detail
