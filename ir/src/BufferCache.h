//===- BufferCache.h - Per-thread reuse of tensor storage -------*- C++ -*-===//
//
// Private to ir/ (HostTensor.cpp). A training step frees its results' and
// gradients' buffers and allocates buffers of the same sizes in the next
// step; a large one (the MLP's 400 KB weight gradient) also goes back to the
// kernel and is faulted in again. Freed buffers are kept on a list of the
// thread that frees them, by size, and handed out again: a steady step
// allocates no storage. What is kept is bounded (kMaxKeptPerSize blocks of a
// size, kMaxKeptBytes in all, nothing over kMaxKeptBlock), freed at thread
// exit, and nothing is kept under a sanitizer, so that a use after free is
// still caught.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Recycled.h"

#include <cstddef>
#include <cstdlib>
#include <sys/mman.h>
#include <unordered_map>
#include <vector>

namespace kiln::ir::buffers {

/// Blocks kept per size and thread: a step's results rarely share a size more often.
inline constexpr size_t kMaxKeptPerSize = 8;
/// Bytes kept per thread, and the largest block kept.
inline constexpr size_t kMaxKeptBytes = size_t(64) << 20;
inline constexpr size_t kMaxKeptBlock = size_t(16) << 20;

/// Blocks from this size on start on a 2 MiB boundary and ask the kernel for
/// transparent huge pages (where it is set to `madvise` or `always`): past
/// what the TLB covers in 4 KiB pages (~12 MiB), reads at random (a shuffled
/// batch's rows of a dataset) miss it on nearly every row. The MNIST linear
/// step went 37.3 -> 34.3 us (median of 10 paired runs, 1 thread) with its
/// 47 MB of images in huge pages. PyTorch's CPU allocator does the same
/// when THP_MEM_ALLOC_ENABLE is set.
inline constexpr size_t kHugePageBlock = size_t(16) << 20;
inline constexpr size_t kHugePage = size_t(2) << 20;

/// A new block of `size` bytes (a multiple of 64) from the heap.
inline void *allocateFromHeap(size_t size) {
  if (size < kHugePageBlock)
    return std::aligned_alloc(64, size);
  size_t whole = (size + kHugePage - 1) / kHugePage * kHugePage;
  void *b = std::aligned_alloc(kHugePage, whole);
#ifdef MADV_HUGEPAGE
  if (b) // advice only: where the kernel refuses, the block still works
    madvise(b, whole, MADV_HUGEPAGE);
#endif
  return b;
}

/// One thread's freed blocks, by their (64-byte rounded) size.
class Cache {
public:
  ~Cache() {
    for (auto &[size, blocks] : bySize)
      for (void *b : blocks)
        std::free(b);
  }

  void *take(size_t size) {
    auto it = bySize.find(size);
    if (it == bySize.end() || it->second.empty())
      return nullptr;
    void *b = it->second.back();
    it->second.pop_back();
    keptBytes -= size;
    return b;
  }

  /// Keeps `b` if there is room; false if the caller must free it.
  bool keep(void *b, size_t size) {
    if (size > kMaxKeptBlock || keptBytes + size > kMaxKeptBytes)
      return false;
    std::vector<void *> &blocks = bySize[size];
    if (blocks.size() >= kMaxKeptPerSize)
      return false;
    blocks.push_back(b);
    keptBytes += size;
    return true;
  }

private:
  std::unordered_map<size_t, std::vector<void *>> bySize;
  size_t keptBytes = 0;
};

/// This thread's cache; null under a sanitizer and once the thread's cache
/// is gone (a buffer freed later in the thread's exit goes to the heap).
inline Cache *threadCache() { return recycled::kEnabled ? threadOwned<Cache, Cache>() : nullptr; }

/// A 64-byte aligned block of `size` bytes (a multiple of 64), reused if
/// this thread freed one of that size; null when out of memory.
inline void *allocate(size_t size) {
  if (Cache *cache = threadCache())
    if (void *b = cache->take(size))
      return b;
  return allocateFromHeap(size);
}

/// Frees a block of allocate(size), onto this thread's cache if it has room.
inline void release(void *b, size_t size) {
  Cache *cache = threadCache();
  if (!cache || !cache->keep(b, size))
    std::free(b);
}

} // namespace kiln::ir::buffers
