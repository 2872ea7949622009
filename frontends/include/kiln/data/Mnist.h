//===- Mnist.h - The MNIST dataset and where to find it ---------*- C++ -*-===//
//
// An image-classification dataset held as u8 images [N, H, W] and i64 labels
// [N], loaded from an MNIST-format directory (four IDX files, raw or .gz).
// The DataLoader (DataLoader.h) turns it into f32 batches.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/HostTensor.h"

#include <cstdint>
#include <filesystem>

namespace kiln::data {

enum class Split { Train, Test };

/// Labels must be below this (MNIST's ten digits).
inline constexpr int64_t kMnistClasses = 10;

class MnistDataset {
public:
  /// Loads `split` from `dir`, which holds `train-images-idx3-ubyte`,
  /// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
  /// `t10k-labels-idx1-ubyte` (each optionally ending in `.gz`; the
  /// `-images.idx3-ubyte` spellings are accepted too). Checks that images are
  /// u8 [N, H, W], labels are [N] with values in [0, 10). Throws kiln::Error
  /// naming the file.
  static MnistDataset load(const std::filesystem::path &dir, Split split);

  /// A dataset from tensors: u8 images [N, H, W] and integer labels [N] in
  /// [0, 10) (converted to i64). Throws Error(Shape) / Error(Format) otherwise.
  MnistDataset(ir::HostTensor images, ir::HostTensor labels);

  /// Number of examples.
  int64_t size() const { return size_; }
  /// u8 [N, H, W].
  const ir::HostTensor &images() const { return images_; }
  /// i64 [N].
  const ir::HostTensor &labels() const { return labels_; }
  /// H * W, the length of one flattened image (784 for MNIST).
  int64_t imageSize() const { return imageSize_; }

private:
  ir::HostTensor images_;
  ir::HostTensor labels_;
  int64_t size_ = 0;
  int64_t imageSize_ = 0;
};

/// The file of `split` in `dir` for images (`labels` false) or labels,
/// trying every accepted spelling; throws Error(Io) listing them when none
/// exists.
std::filesystem::path findMnistFile(const std::filesystem::path &dir, Split split, bool labels);

/// Where the examples look for MNIST when not given `--data`: $KILN_DATA_DIR
/// if set; else the embedded sample, found relative to kiln's own shared
/// library: `PREFIX/share/kiln/mnist-sample` when installed, else
/// `data/mnist-sample` in the build tree, which scripts/setup prepares. Never
/// a path fixed at compile time: an installed kiln works without its build
/// tree. Returns the installed folder when it exists, else the build tree's
/// (load() then names the missing files).
std::filesystem::path defaultMnistDir();

} // namespace kiln::data
