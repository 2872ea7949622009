//===- ChainTeardown.h - Freeing long chains with constant stack -*- C++ -*-===//
//
// Pending values hold their operands and autograd nodes their inputs by
// shared_ptr, so the last reference to the end of a long chain (a loop that
// records a million ops without a flush) would free it recursively, one
// stack frame per link. A dying node releases its children through
// ChainTeardown instead: the outermost teardown on the thread keeps a list,
// and a node dying inside it hands its children to that list rather than
// releasing them itself. The list's storage is kept per thread between
// teardowns, so a steady training step allocates none.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Recycled.h"

#include <memory>
#include <utility>
#include <vector>

namespace kiln::detail {

template <class T> class ChainTeardown {
public:
  /// Releases every child of a dying node: take(child) moves its
  /// shared_ptr<T> out of the node.
  template <class Children, class Take> static void release(Children &children, Take take) {
    if (children.empty())
      return;
    if (tActive) { // an outer teardown releases them: no recursion down a chain
      for (auto &child : children)
        tActive->push_back(take(child));
      return;
    }
    // The list's storage is the thread's, kept between teardowns (none once
    // the thread's copy is gone, late in its exit).
    List *spare = ir::threadOwned<List, ChainTeardown>();
    List list = spare ? std::move(*spare) : List();
    tActive = &list;
    for (auto &child : children) {
      std::shared_ptr<T> dying = take(child); // its children go to `list`
    }
    while (!list.empty()) {
      std::shared_ptr<T> dying = std::move(list.back());
      list.pop_back();
    }
    tActive = nullptr;
    if ((spare = ir::threadOwned<List, ChainTeardown>()))
      *spare = std::move(list); // empty, with its capacity
  }

private:
  using List = std::vector<std::shared_ptr<T>>;

  /// The list of the outermost teardown running on this thread, or null.
  [[gnu::tls_model("initial-exec")]] static inline thread_local List *tActive = nullptr;
};

} // namespace kiln::detail
