//===- DataLoader.h - Shuffled f32 batches of an image dataset --*- C++ -*-===//
//
// PyTorch's DataLoader over an MnistDataset with ToTensor: every batch is
// {x: f32 [B, H*W] = pixel / 255, y: i64 [B]}, as leaf kiln::Tensors.
//
//   DataLoader loader(train, /*batch_size=*/100, /*shuffle=*/true, /*seed=*/1);
//   for (int epoch = 0; epoch < 5; ++epoch)
//     for (auto [x, y] : loader) { ... }
//
// Each range-for (each begin()) is one epoch; with shuffle the order is a
// new permutation per epoch, a pure function of (seed, epoch number).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Tensor.h"
#include "kiln/data/Mnist.h"

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <vector>

namespace kiln::data {

/// One batch: images flattened and scaled to [0, 1], and their labels,
/// named `images` and `labels` (the step IR's `%images`, `%labels`).
struct Batch {
  Tensor x; ///< f32 [B, H*W]
  Tensor y; ///< i64 [B]
};

/// Gathers the images `indices` of `dataset` as f32 [B, H*W] rows scaled by
/// 1/255 (exactly PyTorch's `float(pixel) / 255`) and their labels; the
/// loop behind DataLoader, public for benchmarks and custom samplers. Throws
/// Error(Usage) for an index out of range.
Batch gatherBatch(const MnistDataset &dataset, std::span<const int64_t> indices);

class DataLoader {
public:
  /// Throws Error(Usage) for batch_size < 1.
  DataLoader(MnistDataset dataset, int64_t batch_size, bool shuffle = false, uint64_t seed = 0,
             bool drop_last = false);

  /// Batches per epoch (len(loader) in PyTorch).
  int64_t size() const;
  const MnistDataset &dataset() const { return dataset_; }
  int64_t batch_size() const { return batchSize_; }
  /// Epochs started so far (begin() calls).
  int64_t epoch() const { return epoch_; }
  /// The order of examples for epoch `epoch` (0-based): 0..N-1 without
  /// shuffle, else a permutation determined by (seed, epoch).
  std::vector<int64_t> order(int64_t epoch) const;

  class iterator {
  public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;

    /// The current batch (made when first dereferenced, then kept).
    const Batch &operator*();
    const Batch *operator->() { return &**this; }
    iterator &operator++();
    bool operator==(const iterator &o) const { return pos_ == o.pos_; }
    bool operator!=(const iterator &o) const { return pos_ != o.pos_; }

  private:
    friend class DataLoader;
    iterator(DataLoader *loader, int64_t pos) : loader_(loader), pos_(pos) {}

    DataLoader *loader_ = nullptr;
    int64_t pos_ = 0; ///< index of the batch
    Batch batch_;
    bool made_ = false;
  };

  /// Starts a new epoch (reshuffling when `shuffle`). Only one epoch's
  /// iteration may be in progress at a time.
  iterator begin();
  iterator end();

private:
  /// Gathers batch `batchIndex` of the current epoch into the previous
  /// batch's buffers when nothing holds them any more (no allocation in a
  /// steady loop), else into new ones.
  Batch makeBatch(int64_t batchIndex);

  MnistDataset dataset_;
  int64_t batchSize_;
  bool shuffle_;
  uint64_t seed_;
  bool dropLast_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;
  ir::HostTensor spareImages_, spareLabels_;
};

} // namespace kiln::data
