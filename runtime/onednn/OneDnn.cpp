//===- OneDnn.cpp - Cached oneDNN primitives for matmul and softmax -------===//
//
// Matmul and Softmax wrap oneDNN 2.6 primitives, created for a fixed shape and
// attribute set and cached process-wide: the lowering asks for its primitives
// once and then only calls run(). Every primitive runs on one OpenMP thread;
// a large matmul is cut into tiles (MatmulTiles.h), one primitive call each,
// which kiln's pool shares out.
//
// Matmul maps to dnnl::matmul on plain row-major views (a transposed operand
// is the same buffer with swapped strides), the bias to a [1,n] argument, the
// activation to an eltwise post-op and accumulation to a sum post-op.
// oneDNN's GEMM-based matmul takes a sum post-op only before an eltwise one,
// and the order kiln needs (act, then sum) falls back to oneDNN's reference
// matmul, ~2500x slower at 100x784x10; so with both, the product goes to a
// scratch buffer and the sum is a loop. Relu is applied by Matmul after the
// primitive, not as oneDNN's post-op, which gives 0 for NaN and +0 for -0
// where PyTorch's relu (and kiln's) keep them: a NaN in a layer's output
// would vanish silently.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/OneDnn.h"
#include "../parallel/MeasuredSplit.h"
#include "MatmulTiles.h"
#include "Primitive.h"
#include "ProbeVerdicts.h"
#include "kiln/ir/Error.h"
#include "kiln/ir/SplitMix.h"
#include "kiln/runtime/Threads.h"

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>
#ifdef __SSE__
#include <immintrin.h>
#endif

namespace kiln::runtime::onednn {

using detail::ArgSpec;
using detail::BoundPrimitive;
using detail::MatmulTiles;
using detail::SerialScope;

namespace {

using Tag = ::dnnl::memory::format_tag;
using DataType = ::dnnl::memory::data_type;

//===----------------------------------------------------------------------===//
// Caching
//===----------------------------------------------------------------------===//

/// Combines `v` into the hash `h` (boost::hash_combine).
template <class T> void hashCombine(size_t &h, const T &v) {
  h ^= std::hash<T>()(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
}

struct MatmulDescHash {
  size_t operator()(const MatmulDesc &d) const {
    size_t h = 0;
    for (int64_t dim : {d.m, d.k, d.n})
      hashCombine(h, dim);
    for (bool flag : {d.transposeA, d.transposeB, d.bias, d.accumulate})
      hashCombine(h, flag);
    hashCombine(h, int(d.activation));
    hashCombine(h, d.beta);
    return h;
  }
};

struct SoftmaxKey {
  int64_t rows, cols;
  bool log;
  bool operator==(const SoftmaxKey &) const = default;
};

struct SoftmaxKeyHash {
  size_t operator()(const SoftmaxKey &k) const {
    size_t h = 0;
    hashCombine(h, k.rows);
    hashCombine(h, k.cols);
    hashCombine(h, k.log);
    return h;
  }
};

/// A thread-safe map from a key to the one object created for it.
template <class Key, class Object, class Hash> class Cache {
public:
  /// The object for `key`, made by `create()` on first use. A creation that
  /// throws caches nothing.
  template <class Create> std::shared_ptr<Object> get(const Key &key, Create create) {
    std::lock_guard lock(mutex_);
    if (auto it = map_.find(key); it != map_.end())
      return it->second;
    std::shared_ptr<Object> object = create();
    detail::countCreation();
    map_.emplace(key, object);
    return object;
  }

private:
  std::mutex mutex_;
  std::unordered_map<Key, std::shared_ptr<Object>, Hash> map_;
};

/// The process-wide cache for one kind of object. The engine is created first
/// so that it outlives every cached primitive at exit.
template <class Key, class Object, class Hash> Cache<Key, Object, Hash> &cacheOf() {
  detail::cpuEngine();
  static Cache<Key, Object, Hash> cache;
  return cache;
}

//===----------------------------------------------------------------------===//
// Validation and messages
//===----------------------------------------------------------------------===//

/// Throws Error(Usage) for a negative dimension and Error(Resource) for one
/// beyond what oneDNN's GEMM indexes (int).
void checkDim(int64_t dim, const char *name, const char *op) {
  if (dim < 0)
    throw Error(ErrorKind::Usage,
                fmt::format("oneDNN {}: negative dimension {}={}", op, name, dim));
  if (dim > INT_MAX)
    throw Error(ErrorKind::Resource,
                fmt::format("oneDNN {}: dimension {}={} exceeds {}", op, name, dim, INT_MAX));
}

const char *activationName(Activation a) {
  switch (a) {
  case Activation::None:
    return "none";
  case Activation::Relu:
    return "relu";
  case Activation::Sigmoid:
    return "sigmoid";
  case Activation::Tanh:
    return "tanh";
  }
  return "?";
}

/// "C f32[2,4] = A f32[3,2]^T x B f32[3,4] + bias f32[4], relu, + 0.5 * C".
std::string describe(const MatmulDesc &d) {
  auto matrix = [](const char *name, int64_t rows, int64_t cols, bool transposed) {
    return transposed ? fmt::format("{} f32[{},{}]^T", name, cols, rows)
                      : fmt::format("{} f32[{},{}]", name, rows, cols);
  };
  std::string s =
      fmt::format("C f32[{},{}] = {} x {}", d.m, d.n, matrix("A", d.m, d.k, d.transposeA),
                  matrix("B", d.k, d.n, d.transposeB));
  if (d.bias)
    s += fmt::format(" + bias f32[{}]", d.n);
  if (d.activation != Activation::None)
    s += fmt::format(", {}", activationName(d.activation));
  if (d.accumulate)
    s += fmt::format(", + {} * C", d.beta);
  return s;
}

std::string describeSoftmax(int64_t rows, int64_t cols, bool log) {
  return fmt::format("{} f32[{},{}] along axis 1", log ? "log_softmax" : "softmax", rows, cols);
}

/// Rethrows the exception in flight (a ::dnnl::error or kiln::Error) as a
/// kiln::Error naming `what`.
[[noreturn]] void rethrowAsError(const std::string &what) {
  try {
    throw;
  } catch (const Error &) {
    throw;
  } catch (const ::dnnl::error &e) {
    throw Error(ErrorKind::Runtime, fmt::format("oneDNN: {}: {}", what, e.what()));
  }
}

//===----------------------------------------------------------------------===//
// Matmul construction
//===----------------------------------------------------------------------===//

/// The key a desc is cached under: beta means nothing without accumulate.
MatmulDesc normalized(MatmulDesc d) {
  if (!d.accumulate)
    d.beta = 1.0f;
  return d;
}

/// A row-major [rows, cols] f32 matrix.
::dnnl::memory::desc matrixDesc(int64_t rows, int64_t cols) {
  return {{rows, cols}, DataType::f32, Tag::ab};
}

::dnnl::algorithm eltwiseAlgorithm(Activation a) {
  switch (a) {
  case Activation::Relu:
    return ::dnnl::algorithm::eltwise_relu;
  case Activation::Sigmoid:
    return ::dnnl::algorithm::eltwise_logistic;
  case Activation::Tanh:
    return ::dnnl::algorithm::eltwise_tanh;
  case Activation::None:
    break;
  }
  return ::dnnl::algorithm::undef;
}

/// Whether Matmul applies the activation itself after the primitive.
bool activatesAfter(const MatmulDesc &d) { return d.activation == Activation::Relu; }

/// The epilogue in the order the header defines: act(...) + beta * C.
::dnnl::primitive_attr matmulAttr(const MatmulDesc &d) {
  ::dnnl::post_ops ops;
  if (d.activation != Activation::None && !activatesAfter(d))
    ops.append_eltwise(1.0f, eltwiseAlgorithm(d.activation), 0.0f, 0.0f);
  if (d.accumulate)
    ops.append_sum(d.beta);
  ::dnnl::primitive_attr attr = detail::primitiveAttr();
  attr.set_post_ops(ops);
  return attr;
}

/// Whether Matmul does the accumulation itself rather than by a post-op.
bool accumulatesAfter(const MatmulDesc &d) {
  return d.accumulate && d.activation != Activation::None;
}

/// The primitive for a tile of `extent` rows or columns of `d` (see
/// MatmulTiles.h), without the accumulation when accumulatesAfter(d).
std::unique_ptr<BoundPrimitive> createMatmulTile(MatmulDesc d, const MatmulTiles &t,
                                                 int64_t extent) {
  if (accumulatesAfter(d))
    d.accumulate = false;
  std::array<ArgSpec, 4> args = detail::tileArgs(d, t, extent);
  using detail::ArgA, detail::ArgB, detail::ArgBias, detail::ArgC;
  SerialScope scope;
  auto op =
      d.bias ? ::dnnl::matmul::desc(args[ArgA].md, args[ArgB].md, args[ArgBias].md, args[ArgC].md)
             : ::dnnl::matmul::desc(args[ArgA].md, args[ArgB].md, args[ArgC].md);
  ::dnnl::matmul::primitive_desc pd(op, matmulAttr(d), detail::cpuEngine());
  return std::make_unique<BoundPrimitive>(::dnnl::matmul(pd),
                                          std::span(args.data(), d.bias ? 4 : 3));
}

float activate(Activation a, float v) {
  switch (a) {
  case Activation::None:
    return v;
  case Activation::Relu:
    return relu(v);
  case Activation::Sigmoid:
    return 1 / (1 + std::exp(-v));
  case Activation::Tanh:
    return std::tanh(v);
  }
  return v;
}

/// C = act(product) + beta * C over a [rows, cols] block, C with row stride
/// `cStride`, the product with `productStride`; `act` is the activation the
/// primitive left out.
void accumulate(float *c, int64_t cStride, const float *product, int64_t productStride,
                Activation act, float beta, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      c[i * cStride + j] =
          activate(act, product[i * productStride + j]) + beta * c[i * cStride + j];
}

/// Copies a [rows, cols] block between buffers of the given row strides.
void copyBlock(float *to, int64_t toStride, const float *from, int64_t fromStride, int64_t rows,
               int64_t cols) {
  for (int64_t i = 0; i < rows; ++i)
    std::memcpy(to + i * toStride, from + i * fromStride, size_t(cols) * sizeof(float));
}

/// relu over a [rows, cols] block with row stride `stride`, in place. Four
/// at a time: max(0, x) returns x when x is NaN or -0, as relu() does, and
/// GCC's -O2 keeps the scalar loop branchy (~1 ns an element on random signs).
void reluInPlace(float *c, int64_t rows, int64_t cols, int64_t stride) {
  for (int64_t i = 0; i < rows; ++i) {
    float *row = c + i * stride;
    int64_t j = 0;
#ifdef __SSE__
    const __m128 zero = _mm_setzero_ps();
    for (; j + 4 <= cols; j += 4)
      _mm_storeu_ps(row + j, _mm_max_ps(zero, _mm_loadu_ps(row + j)));
#endif
    for (; j < cols; ++j)
      row[j] = relu(row[j]);
  }
}

/// The calling thread's scratch buffers (MatmulBuffers::product, ::packedA).
enum class Scratch { Product, PackedA };

/// The calling thread's scratch buffer `which`, grown to at least `size` floats.
float *threadScratch(Scratch which, int64_t size) {
  thread_local std::array<std::vector<float>, 2> scratch;
  std::vector<float> &buffer = scratch[size_t(which)];
  if (int64_t(buffer.size()) < size)
    buffer.resize(size_t(size));
  return buffer.data();
}

/// C = act(bias or 0) (+ beta * C) for k = 0, where the product is all zeros.
/// oneDNN skips a primitive whose source is empty, leaving C untouched.
void runEmptyProduct(const MatmulDesc &d, const float *bias, float *c) {
  for (int64_t i = 0; i < d.m; ++i)
    for (int64_t j = 0; j < d.n; ++j) {
      float v = activate(d.activation, d.bias ? bias[j] : 0.0f);
      float &out = c[i * d.n + j];
      out = d.accumulate ? v + d.beta * out : v;
    }
}

} // namespace

std::optional<Activation> activationFor(ir::OpKind op) {
  switch (op) {
  case ir::OpKind::Relu: return Activation::Relu;
  case ir::OpKind::Sigmoid: return Activation::Sigmoid;
  case ir::OpKind::Tanh: return Activation::Tanh;
  default: return std::nullopt;
  }
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

/// Operands of one run: C from A, B and the bias, and an [m, n] buffer for
/// what the primitives write before it is stored into C (Impl::runBlock).
struct MatmulBuffers {
  const float *a, *b, *bias;
  float *c, *product;
  /// [m, k]: the tiles' dense copies of a transposed A (Impl::runBlock).
  float *packedA;
};

/// Most elements of A, B and C together for which Matmul probes, when it is
/// created, whether the untiled product gives the tiles' bits (the probe
/// computes the product twice on buffers of that size).
constexpr int64_t kMostProbedElements = int64_t(1) << 24;

struct Matmul::Impl {
  MatmulDesc desc;
  MatmulTiles tiles;
  /// The primitive of every tile but the last, and of the last one.
  std::unique_ptr<BoundPrimitive> tile, lastTile;
  /// The untiled product, kept only where it gives exactly the tiles' bits
  /// (probed at creation; so far always where the cut is along the
  /// transposed operand): a run on one thread makes one call instead of one
  /// per tile, which saves the tiles' repacking of the uncut operand.
  std::unique_ptr<BoundPrimitive> whole;
  /// The primitive writes act(A x B + bias) to scratch; run() adds beta * C.
  bool accumulatesAfter;
  /// On how many threads the tiles run.
  parallel::MeasuredSplit split;

  explicit Impl(const MatmulDesc &d);

  void run(const MatmulBuffers &io) const;
  /// Computes tile `index` of C.
  void runTile(int64_t index, const MatmulBuffers &io) const;
  void runWhole(const MatmulBuffers &io) const;
  /// Runs `p` on the block of `rows` x `cols` of C at element offsets `at`.
  void runBlock(const BoundPrimitive &p, const std::array<int64_t, 4> &at, int64_t rows,
                int64_t cols, const MatmulBuffers &io) const;
  /// Whether run() needs MatmulBuffers::product: for accumulatesAfter, and
  /// for the dense blocks of column tiles (runBlock).
  bool usesProductBuffer() const;
  /// Whether run() needs MatmulBuffers::packedA: tiles of rows of a transposed A.
  bool packsA() const;
  /// Whether runWhole gives runTile's bits: the verdict stored on disk for
  /// this product on this machine, else wholeMatchesTiles() (then stored).
  bool wholeGivesTheTilesBits() const;
  /// Whether runWhole gives runTile's bits, on random operands (the probe).
  bool wholeMatchesTiles() const;
};

Matmul::Impl::Impl(const MatmulDesc &d)
    : desc(d), tiles(detail::tilesOf(d)), tile(createMatmulTile(d, tiles, tiles.size)),
      lastTile(tiles.lastSize == tiles.size ? nullptr
                                            : createMatmulTile(d, tiles, tiles.lastSize)),
      accumulatesAfter(onednn::accumulatesAfter(d)), split(tiles.count) {
  // In double: each dimension may be up to INT_MAX, their products overflow.
  double m = double(d.m), k = double(d.k), n = double(d.n);
  double elements = m * k + k * n + m * n;
  if (tiles.count == 1 || elements > double(kMostProbedElements))
    return;
  whole = createMatmulTile(d, MatmulTiles{.size = d.m, .lastSize = d.m}, d.m);
  if (!wholeGivesTheTilesBits())
    whole.reset();
}

bool Matmul::Impl::wholeGivesTheTilesBits() const {
  const BoundPrimitive *primitives[] = {tile.get(), lastTile.get(), whole.get()};
  std::string identity = detail::probeIdentity(describe(desc), tiles, primitives);
  if (std::optional<bool> known = detail::storedVerdict(identity))
    return *known;
  bool matches = wholeMatchesTiles();
  detail::storeVerdict(identity, matches);
  return matches;
}

void Matmul::Impl::run(const MatmulBuffers &io) const {
  auto runOne = [&](int64_t index) { runTile(index, io); };
  if (!whole)
    return split.run(runOne);
  split.run(runOne, [&](int64_t) { runWhole(io); });
}

void Matmul::Impl::runTile(int64_t index, const MatmulBuffers &io) const {
  bool last = index == tiles.count - 1;
  int64_t extent = last ? tiles.lastSize : tiles.size;
  int64_t rows = tiles.alongColumns ? desc.m : extent;
  int64_t cols = tiles.alongColumns ? extent : desc.n;
  runBlock(last && lastTile ? *lastTile : *tile, detail::tileOffsets(desc, tiles, index), rows,
           cols, io);
}

void Matmul::Impl::runWhole(const MatmulBuffers &io) const {
  runBlock(*whole, {0, 0, 0, 0}, desc.m, desc.n, io);
}

void Matmul::Impl::runBlock(const BoundPrimitive &p, const std::array<int64_t, 4> &at,
                            int64_t rows, int64_t cols, const MatmulBuffers &io) const {
  using detail::ArgA, detail::ArgB, detail::ArgBias, detail::ArgC;
  float *c = io.c + at[ArgC];
  const float *a = io.a + at[ArgA];
  // A tile of rows of a transposed A reads a dense copy of its columns of A
  // (see tileArgs), in a stretch of the packedA buffer of its own.
  if (detail::readsPackedA(desc, rows)) {
    float *packed = io.packedA + at[ArgA] * desc.k;
    copyBlock(packed, rows, a, desc.m, desc.k, rows);
    a = packed;
  }
  // A block narrower than C is written dense (see tileArgs), to a stretch of
  // the product buffer of its own, and then stored into C; a block as wide as
  // C is written in C's layout, to C or (accumulatesAfter) the product buffer.
  bool dense = detail::writesDenseBlock(desc, cols);
  float *out = dense ? io.product + at[ArgC] * rows : accumulatesAfter ? io.product + at[ArgC] : c;
  int64_t outStride = dense ? cols : desc.n;
  if (dense && desc.accumulate && !accumulatesAfter)
    copyBlock(out, outStride, c, desc.n, rows, cols); // for the sum post-op to read
  void *buffers[] = {const_cast<float *>(a), const_cast<float *>(io.b) + at[ArgB], out,
                     desc.bias ? const_cast<float *>(io.bias) + at[ArgBias] : nullptr};
  p.run(std::span(buffers, desc.bias ? 4 : 3));
  Activation after = activatesAfter(desc) ? desc.activation : Activation::None;
  if (accumulatesAfter)
    return accumulate(c, desc.n, out, outStride, after, desc.beta, rows, cols);
  if (dense)
    copyBlock(c, desc.n, out, outStride, rows, cols);
  if (after == Activation::Relu)
    reluInPlace(c, rows, cols, desc.n);
}

// tiles.size decides for every tile: the last is no larger, and a single
// tile is all of C (neither packed nor dense).
bool Matmul::Impl::usesProductBuffer() const {
  return accumulatesAfter || (tiles.alongColumns && detail::writesDenseBlock(desc, tiles.size));
}

bool Matmul::Impl::packsA() const {
  return !tiles.alongColumns && detail::readsPackedA(desc, tiles.size);
}

namespace {

/// Numbers for the probe below: splitmix64, a few instructions per number.
/// The probe only needs values whose sums round differently in different
/// orders; std::mt19937 with a distribution took ~10 ns a number, a few
/// milliseconds of a new MLP step's compile.
class ProbeNumbers {
public:
  /// Uniform in [-1, 1), multiples of 2^-23.
  float next() {
    uint64_t z = ir::splitMix64(state_);
    state_ += ir::kSplitMix64Increment;
    return float(int64_t(z >> 40) - (int64_t(1) << 23)) * (1.0f / float(1 << 23));
  }

private:
  uint64_t state_ = 1;
};

/// `n` floats on a 64-byte boundary, as a program's buffers are (oneDNN may
/// pick its code by the operands' alignment), uniform in [-1, 1).
std::shared_ptr<float[]> randomFloats(int64_t n, ProbeNumbers &numbers) {
  size_t bytes = (size_t(n) * sizeof(float) + 63) / 64 * 64;
  std::shared_ptr<float[]> v(static_cast<float *>(std::aligned_alloc(64, bytes)), std::free);
  if (!v)
    throw std::bad_alloc();
  for (int64_t i = 0; i < n; ++i)
    v[i] = numbers.next();
  return v;
}

/// Probes run in this process, for matmulProbesRun().
std::atomic<int64_t> gProbesRun{0};

} // namespace

int64_t matmulProbesRun() { return gProbesRun.load(std::memory_order_relaxed); }

bool Matmul::Impl::wholeMatchesTiles() const {
  gProbesRun.fetch_add(1, std::memory_order_relaxed);
  ProbeNumbers rng;
  int64_t size = desc.m * desc.n;
  auto a = randomFloats(desc.m * desc.k, rng), b = randomFloats(desc.k * desc.n, rng);
  auto bias = randomFloats(desc.n, rng), c = randomFloats(size, rng);
  auto viaTiles = randomFloats(size, rng), product = randomFloats(size, rng);
  auto packedA = packsA() ? randomFloats(desc.m * desc.k, rng) : nullptr;
  std::memcpy(viaTiles.get(), c.get(), size_t(size) * sizeof(float));
  for (int64_t i = 0; i < tiles.count; ++i)
    runTile(i, {a.get(), b.get(), bias.get(), viaTiles.get(), product.get(), packedA.get()});
  runWhole({a.get(), b.get(), bias.get(), c.get(), product.get(), packedA.get()});
  return std::memcmp(c.get(), viaTiles.get(), size_t(size) * sizeof(float)) == 0;
}

std::future<void> setUpMatmulsAsync() {
  static std::once_flag started;
  std::future<void> setup;
  std::call_once(started, [&] {
    if (maxThreads() < 2)
      return;
    setup = std::async(std::launch::async, [] {
      try { // an 8x8x8 product sets up what every f32 matmul uses
        MatmulDesc d{.m = 8, .k = 8, .n = 8};
        std::vector<float> a(64), b(64), c(64);
        Matmul::get(d)->run(a.data(), b.data(), nullptr, c.data());
      } catch (...) { // the caller's own first run reports what went wrong
      }
    });
  });
  return setup;
}

std::shared_ptr<Matmul> Matmul::get(const MatmulDesc &desc) {
  checkDim(desc.m, "m", "matmul");
  checkDim(desc.k, "k", "matmul");
  checkDim(desc.n, "n", "matmul");
  MatmulDesc key = normalized(desc);
  return cacheOf<MatmulDesc, Matmul, MatmulDescHash>().get(
      key, [&] { return std::shared_ptr<Matmul>(new Matmul(key)); });
}

Matmul::Matmul(const MatmulDesc &desc) : desc_(desc) {
  if (desc.m == 0 || desc.k == 0 || desc.n == 0)
    return; // no product to compute: run() handles it without oneDNN
  try {
    impl_ = std::make_unique<Impl>(desc);
  } catch (...) {
    rethrowAsError("cannot create matmul " + describe(desc));
  }
}

Matmul::~Matmul() = default;

void Matmul::run(const float *a, const float *b, const float *bias, float *c) const {
  if (desc_.m == 0 || desc_.n == 0)
    return;
  bool inputsUsed = desc_.k > 0;
  if (!c || (inputsUsed && (!a || !b)) || (desc_.bias && !bias))
    throw Error(ErrorKind::Usage, "oneDNN: null buffer for matmul " + describe(desc_));
  if (!impl_)
    return runEmptyProduct(desc_, bias, c);
  float *product =
      impl_->usesProductBuffer() ? threadScratch(Scratch::Product, desc_.m * desc_.n) : nullptr;
  float *packedA = impl_->packsA() ? threadScratch(Scratch::PackedA, desc_.m * desc_.k) : nullptr;
  try {
    impl_->run({a, b, bias, c, product, packedA});
  } catch (...) {
    rethrowAsError("matmul " + describe(desc_) + " failed");
  }
}

int64_t Matmul::tiles() const { return impl_ ? impl_->tiles.count : 1; }

//===----------------------------------------------------------------------===//
// Softmax
//===----------------------------------------------------------------------===//

struct Softmax::Impl {
  BoundPrimitive primitive;
};

namespace {

/// softmax_forward or logsoftmax_forward (separate primitives in 2.6) along
/// axis 1 of [rows, cols]; the source and destination share one layout.
BoundPrimitive createSoftmax(int64_t rows, int64_t cols, bool log) {
  ::dnnl::memory::desc md = matrixDesc(rows, cols);
  std::array<ArgSpec, 2> args = {ArgSpec{DNNL_ARG_SRC, md}, ArgSpec{DNNL_ARG_DST, md}};
  const auto kind = ::dnnl::prop_kind::forward_inference;
  const ::dnnl::engine &engine = detail::cpuEngine();
  SerialScope scope;
  ::dnnl::primitive primitive =
      log ? ::dnnl::primitive(::dnnl::logsoftmax_forward(::dnnl::logsoftmax_forward::primitive_desc(
                {kind, md, 1}, detail::primitiveAttr(), engine)))
          : ::dnnl::primitive(::dnnl::softmax_forward(::dnnl::softmax_forward::primitive_desc(
                {kind, md, 1}, detail::primitiveAttr(), engine)));
  return BoundPrimitive(std::move(primitive), args);
}

} // namespace

std::shared_ptr<Softmax> Softmax::get(int64_t rows, int64_t cols, bool log) {
  checkDim(rows, "rows", "softmax");
  checkDim(cols, "cols", "softmax");
  return cacheOf<SoftmaxKey, Softmax, SoftmaxKeyHash>().get(
      {rows, cols, log}, [&] { return std::shared_ptr<Softmax>(new Softmax(rows, cols, log)); });
}

Softmax::Softmax(int64_t rows, int64_t cols, bool log) : rows_(rows), cols_(cols), log_(log) {
  if (rows == 0 || cols == 0)
    return; // nothing to compute: run() returns at once
  try {
    impl_.reset(new Impl{createSoftmax(rows, cols, log)});
  } catch (...) {
    rethrowAsError("cannot create " + describeSoftmax(rows, cols, log));
  }
}

Softmax::~Softmax() = default;

void Softmax::run(const float *src, float *dst) const {
  if (!impl_)
    return;
  if (!src || !dst)
    throw Error(ErrorKind::Usage, "oneDNN: null buffer for " + describeSoftmax(rows_, cols_, log_));
  void *buffers[] = {const_cast<float *>(src), dst};
  try {
    impl_->primitive.run(buffers);
  } catch (...) {
    rethrowAsError(describeSoftmax(rows_, cols_, log_) + " failed");
  }
}

} // namespace kiln::runtime::onednn
