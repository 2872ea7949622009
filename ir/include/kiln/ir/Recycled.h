//===- Recycled.h - Per-thread recycling of small objects -------*- C++ -*-===//
//
// Every recorded op makes a pending value, a tensor, its storage and an
// autograd node, and a flush frees them again (with the control blocks of
// the result buffers): a steady training step would allocate and free the
// same few dozen blocks every time. makeRecycled<T>() is std::make_shared
// with an allocator (recycled::Allocator, usable for any shared_ptr control
// block) that keeps freed blocks on a list of the thread that frees them and
// hands them out again, so a step that repeats the last one takes its
// objects from the lists and allocates none.
//
// A list keeps at most kMaxKept blocks of its size (the rest go back to the
// heap) and is emptied when its thread ends. Under a sanitizer every block
// comes from the heap, so that a use after free is still caught.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace kiln::ir {

namespace recycled {

// GCC says __SANITIZE_*__, clang __has_feature.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kEnabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kEnabled = false;
#else
inline constexpr bool kEnabled = true;
#endif
#else
inline constexpr bool kEnabled = true;
#endif

/// Freed blocks kept per size and thread: more than a large step records.
inline constexpr size_t kMaxKept = 4096;

/// One thread's freed blocks of one size, as an intrusive list.
struct FreeList {
  struct Block {
    Block *next;
  };
  Block *head = nullptr;
  size_t count = 0;
  /// The thread is ending: blocks go back to the heap.
  bool closed = false;
};

inline void close(FreeList &list) {
  while (FreeList::Block *b = list.head) {
    list.head = b->next;
    ::operator delete(b);
  }
  list.count = 0;
  list.closed = true;
}

/// Set when the thread's lists were closed (trivially destructible).
[[gnu::tls_model("initial-exec")]] inline thread_local bool tClosed = false;

/// Frees a list's blocks when its thread ends (at once if it is ending).
inline void closeAtThreadExit(FreeList &list) {
  struct Closer {
    std::vector<FreeList *> lists;
    ~Closer() {
      for (FreeList *list : lists)
        close(*list);
      tClosed = true;
    }
  };
  if (tClosed) {
    close(list);
    return;
  }
  thread_local Closer closer;
  closer.lists.push_back(&list);
}

template <size_t Size> FreeList &freeList() {
  // Trivially destructible, so it can be used by destructors that run after
  // the thread's other thread_local objects are gone (it is then closed).
  [[gnu::tls_model("initial-exec")]] static thread_local FreeList list;
  [[gnu::tls_model("initial-exec")]] static thread_local bool registered = false;
  if (!registered) {
    registered = true;
    closeAtThreadExit(list);
  }
  return list;
}

template <class T> struct Allocator {
  using value_type = T;
  Allocator() = default;
  template <class U> Allocator(const Allocator<U> &) {}

  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "blocks are plain operator new");

  T *allocate(size_t n) {
    if (kEnabled && n == 1) {
      FreeList &list = freeList<sizeof(T)>();
      if (FreeList::Block *b = list.head) {
        list.head = b->next;
        --list.count;
        return reinterpret_cast<T *>(b);
      }
    }
    return static_cast<T *>(::operator new(n * sizeof(T)));
  }
  void deallocate(T *p, size_t n) {
    if (kEnabled && n == 1) {
      FreeList &list = freeList<sizeof(T)>();
      if (!list.closed && list.count < kMaxKept) {
        auto *b = reinterpret_cast<FreeList::Block *>(p);
        b->next = list.head;
        list.head = b;
        ++list.count;
        return;
      }
    }
    ::operator delete(p);
  }
  template <class U> bool operator==(const Allocator<U> &) const { return true; }
};

} // namespace recycled

/// This thread's own T for the user `Tag` (one instance per pair), made on
/// first use and destroyed with the thread; null once it is being
/// destroyed, so that a destructor running later in the thread's exit (a
/// tensor freed by another thread_local) can tell.
template <class T, class Tag> T *threadOwned() {
  // Trivially destructible and initial-exec, so that the usual call is one
  // thread-pointer-relative load (a general-dynamic thread_local in a shared
  // library costs a __tls_get_addr call), still readable after `owner` is gone.
  [[gnu::tls_model("initial-exec")]] static thread_local T *current = nullptr;
  [[gnu::tls_model("initial-exec")]] static thread_local bool gone = false;
  if (current)
    return current;
  if (gone)
    return nullptr;
  struct Owner {
    T value;
    ~Owner() {
      current = nullptr;
      gone = true;
    }
  };
  thread_local Owner owner;
  current = &owner.value;
  return current;
}

/// std::make_shared<T>(args...), with blocks recycled per thread.
template <class T, class... Args> std::shared_ptr<T> makeRecycled(Args &&...args) {
  return std::allocate_shared<T>(recycled::Allocator<T>(), std::forward<Args>(args)...);
}

} // namespace kiln::ir
