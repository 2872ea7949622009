//===- DataLoader.cpp - Batches of an image dataset -------------------------===//
#include "kiln/data/DataLoader.h"

#include "kiln/Random.h"
#include "kiln/ir/Error.h"
#include "kiln/ir/SplitMix.h"
#include "kiln/runtime/Threads.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace kiln::data {
namespace {

/// pixel / 255 exactly as PyTorch's ToTensor computes it in float: the
/// product with 1/255 in double rounds to the same float as the float
/// division for all 256 pixel values (a unit test checks), and unlike a
/// division it is cheap. This is the portable, scalar loop; AVX2 machines
/// convert 8 pixels at a time in float (a batch of 100 images is 78,400
/// pixels, so this loop is the whole cost of batching).
float scalePixel(uint8_t p) { return float(double(p) * (1.0 / 255.0)); }

void scaleRowPortable(const uint8_t *src, float *dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = scalePixel(src[i]);
}

#if defined(__x86_64__)
/// In float: q = p * (1/255), then one correction with the exact residual
/// p - 255 q (an FMA), which rounds q to the correctly rounded p / 255 for
/// every pixel value (the same unit test checks all 256). Half the
/// instructions of converting through double.
__attribute__((target("avx2,fma"))) void scaleRowAvx2(const uint8_t *src, float *dst, int64_t n) {
  const __m256 reciprocal = _mm256_set1_ps(1.0f / 255.0f);
  const __m256 divisor = _mm256_set1_ps(255.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(src + i));
    __m256 p = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
    __m256 q = _mm256_mul_ps(p, reciprocal);
    __m256 residual = _mm256_fnmadd_ps(q, divisor, p);
    _mm256_storeu_ps(dst + i, _mm256_fmadd_ps(residual, reciprocal, q));
  }
  scaleRowPortable(src + i, dst + i, n - i);
}

/// scaleRowAvx2's arithmetic on 16 pixels at a time (the same bits).
__attribute__((target("avx512f"))) void scaleRowAvx512(const uint8_t *src, float *dst, int64_t n) {
  const __m512 reciprocal = _mm512_set1_ps(1.0f / 255.0f);
  const __m512 divisor = _mm512_set1_ps(255.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i));
    // The all-ones masked forms are the same instructions; GCC 12 warns
    // about the unmasked ones' undefined pass-through operand.
    __m512 p = _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_maskz_cvtepu8_epi32(0xFFFF, bytes));
    __m512 q = _mm512_mul_ps(p, reciprocal);
    __m512 residual = _mm512_fnmadd_ps(q, divisor, p);
    _mm512_storeu_ps(dst + i, _mm512_fmadd_ps(residual, reciprocal, q));
  }
  scaleRowAvx2(src + i, dst + i, n - i);
}
#endif

using ScaleRow = void (*)(const uint8_t *, float *, int64_t);

ScaleRow pickScaleRow() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f"))
    return scaleRowAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return scaleRowAvx2;
#endif
  return scaleRowPortable;
}

void scaleRow(const uint8_t *src, float *dst, int64_t n) {
  static const ScaleRow impl = pickScaleRow();
  impl(src, dst, n);
}

/// `spare` if nothing else holds it and it has the type `type`, else a new
/// uninitialized tensor (every element is written before the batch is used).
ir::HostTensor reuseOrAllocate(const ir::HostTensor &spare, const ir::TensorType &type) {
  if (spare.defined() && spare.storageUnshared() && spare.type() == type)
    return spare;
  return ir::HostTensor::uninitialized(type);
}

/// Rows of a batch one task of the gather converts: at least a task's
/// worth of pixels (runtime::kMinTaskElements).
int64_t rowsPerGatherTask(int64_t width) {
  return std::max<int64_t>(1, runtime::kMinTaskElements / std::max<int64_t>(width, 1));
}

/// Rows the gather fetches ahead of the one it converts. Rows are scattered
/// over the dataset, so each is a few cache misses. On the AVX2 VM of
/// earlier measurements one row ahead halved the cost of a shuffled batch
/// and more measured no better; on an AVX-512 (Zen 5) VM the whole MNIST
/// linear step went 41.1 -> 36.6 us from 1 to 4 rows ahead (39.0 at 2, the
/// same from 4 to 16). 8 leaves room for slower memory.
constexpr int64_t kRowsAhead = 8;

void prefetchRow(const uint8_t *row, int64_t width) {
  for (int64_t b = 0; b < width; b += 64)
    __builtin_prefetch(row + b);
}

/// Converts rows [first, last) of the batch: image indices[r] into row r of
/// xs, its label into ys[r].
void gatherRows(const uint8_t *images, const int64_t *labels, int64_t width,
                std::span<const int64_t> indices, int64_t first, int64_t last, float *xs,
                int64_t *ys) {
  for (int64_t r = first; r < last; ++r) {
    // Keep kRowsAhead rows in flight while this one converts: the first
    // row starts them, each later one adds the next.
    int64_t from = r == first ? r + 1 : r + kRowsAhead;
    for (int64_t ahead = from; ahead <= r + kRowsAhead && ahead < last; ++ahead)
      prefetchRow(images + indices[size_t(ahead)] * width, width);
    int64_t i = indices[size_t(r)];
    scaleRow(images + i * width, xs + r * width, width);
    ys[r] = labels[i];
  }
}

/// Writes images `indices` of `dataset` into x (f32 [B, H*W]) and their
/// labels into y (i64 [B]). The gather is the largest serial part of an
/// MNIST step (~25 us for 100 images), so its tasks go to the pool's workers
/// that are still polling after the step's last parallel kernel (never to a
/// sleeping one, which would start too late to help); each row is converted
/// by the same code on any thread.
void gatherInto(const MnistDataset &dataset, std::span<const int64_t> indices, ir::HostTensor &x,
                ir::HostTensor &y) {
  for (int64_t i : indices)
    if (i < 0 || i >= dataset.size())
      throw Error(
          ErrorKind::Usage,
          fmt::format("example index {} is out of range for a dataset of {}", i, dataset.size()));
  int64_t rows = int64_t(indices.size());
  int64_t width = dataset.imageSize();
  const auto *images = dataset.images().data<uint8_t>();
  const auto *labels = dataset.labels().data<int64_t>();
  float *xs = x.data<float>();
  int64_t *ys = y.data<int64_t>();
  int64_t perTask = rowsPerGatherTask(width);
  auto task = [&](int64_t t) {
    gatherRows(images, labels, width, indices, t * perTask, std::min(rows, (t + 1) * perTask), xs,
               ys);
  };
  if (!runtime::tryRunTasksOnAwakeWorkers((rows + perTask - 1) / perTask, runtime::maxThreads(),
                                          task))
    gatherRows(images, labels, width, indices, 0, rows, xs, ys);
}

ir::TensorType imagesType(const MnistDataset &dataset, size_t rows) {
  return {ir::DType::F32, ir::Shape{int64_t(rows), dataset.imageSize()}};
}
ir::TensorType labelsType(size_t rows) { return {ir::DType::I64, ir::Shape{int64_t(rows)}}; }

/// The batch as tensors named for the step IR (`%images`, `%labels`).
Batch namedBatch(ir::HostTensor x, ir::HostTensor y) {
  Batch b{Tensor(std::move(x)), Tensor(std::move(y))};
  b.x.set_name("images");
  b.y.set_name("labels");
  return b;
}

} // namespace

Batch gatherBatch(const MnistDataset &dataset, std::span<const int64_t> indices) {
  auto x = ir::HostTensor::uninitialized(imagesType(dataset, indices.size()));
  auto y = ir::HostTensor::uninitialized(labelsType(indices.size()));
  gatherInto(dataset, indices, x, y);
  return namedBatch(std::move(x), std::move(y));
}

DataLoader::DataLoader(MnistDataset dataset, int64_t batch_size, bool shuffle, uint64_t seed,
                       bool drop_last)
    : dataset_(std::move(dataset)), batchSize_(batch_size), shuffle_(shuffle), seed_(seed),
      dropLast_(drop_last) {
  if (batch_size < 1)
    throw Error(ErrorKind::Usage,
                fmt::format("DataLoader batch_size must be positive, got {}", batch_size));
}

int64_t DataLoader::size() const {
  int64_t n = dataset_.size();
  return dropLast_ ? n / batchSize_ : (n + batchSize_ - 1) / batchSize_;
}

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  std::vector<int64_t> order(size_t(dataset_.size()));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (!shuffle_)
    return order;
  // Fisher-Yates with kiln's platform-independent generator, seeded per epoch.
  // splitmix64 decorrelates the per-epoch seeds derived from one seed.
  Generator gen(ir::splitMix64(seed_ ^ ir::splitMix64(uint64_t(epoch))));
  for (size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[gen.below(i)]);
  return order;
}

DataLoader::iterator DataLoader::begin() {
  order_ = order(epoch_);
  ++epoch_;
  return iterator(this, 0);
}

DataLoader::iterator DataLoader::end() { return iterator(this, size()); }

Batch DataLoader::makeBatch(int64_t batchIndex) {
  int64_t first = batchIndex * batchSize_;
  int64_t count = std::min(batchSize_, dataset_.size() - first);
  auto indices = std::span(order_).subspan(size_t(first), size_t(count));
  spareImages_ = reuseOrAllocate(spareImages_, imagesType(dataset_, indices.size()));
  spareLabels_ = reuseOrAllocate(spareLabels_, labelsType(indices.size()));
  gatherInto(dataset_, indices, spareImages_, spareLabels_);
  return namedBatch(spareImages_, spareLabels_);
}

const Batch &DataLoader::iterator::operator*() {
  if (!made_) {
    batch_ = loader_->makeBatch(pos_);
    made_ = true;
  }
  return batch_;
}

DataLoader::iterator &DataLoader::iterator::operator++() {
  ++pos_;
  made_ = false;
  batch_ = {};
  return *this;
}

} // namespace kiln::data
