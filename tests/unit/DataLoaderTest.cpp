//===- DataLoaderTest.cpp - MNIST directories and batches -----------------===//
#include "kiln/data/DataLoader.h"
#include "kiln/data/Idx.h"
#include "kiln/data/Mnist.h"

#include "kiln/ir/Error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <set>
#include <unistd.h>

using namespace kiln;
using namespace kiln::data;
namespace fs = std::filesystem;

namespace {

/// n images of 2x3 pixels where image i holds pixels i, i+1, ... (mod 256)
/// and label i % 10, so that a batch row tells which example it is.
MnistDataset numbered(int64_t n) {
  ir::HostTensor images(ir::TensorType{ir::DType::U8, ir::Shape{n, 2, 3}});
  ir::HostTensor labels(ir::TensorType{ir::DType::U8, ir::Shape{n}});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < 6; ++j)
      images.data<uint8_t>()[i * 6 + j] = uint8_t((i + j) % 256);
    labels.data<uint8_t>()[i] = uint8_t(i % 10);
  }
  return MnistDataset(images, labels);
}

/// Which example each row of a batch of numbered() is (from its first pixel
/// and label; unique for n <= 2560).
std::vector<int64_t> exampleIds(const Batch &b) {
  std::vector<int64_t> ids;
  for (int64_t r = 0; r < b.y.size(0); ++r) {
    int64_t first = int64_t(b.x.host().data<float>()[r * 6] * 255 + 0.5);
    int64_t label = b.y.host().data<int64_t>()[r];
    // i % 256 == first and i % 10 == label: i in [0, 1280) is unique.
    for (int64_t i = first; i < 1280; i += 256)
      if (i % 10 == label)
        ids.push_back(i);
  }
  return ids;
}

std::vector<int64_t> epochIds(DataLoader &loader) {
  std::vector<int64_t> ids;
  for (const Batch &b : loader) {
    std::vector<int64_t> part = exampleIds(b);
    ids.insert(ids.end(), part.begin(), part.end());
  }
  return ids;
}

class MnistDir : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kiln-mnist-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void writeSplit(const std::string &prefix, int64_t images, int64_t labels, bool gz,
                  const std::string &sep = "-", int labelValue = 3) {
    ir::HostTensor im(ir::TensorType{ir::DType::U8, ir::Shape{images, 28, 28}});
    ir::HostTensor lb(ir::TensorType{ir::DType::U8, ir::Shape{labels}});
    for (int64_t i = 0; i < labels; ++i)
      lb.data<uint8_t>()[i] = uint8_t(labelValue);
    std::string ext = gz ? ".gz" : "";
    writeIdx(dir_ / (prefix + "-images" + sep + "idx3-ubyte" + ext), im, gz);
    writeIdx(dir_ / (prefix + "-labels" + sep + "idx1-ubyte" + ext), lb, gz);
  }

  fs::path dir_;
};

} // namespace

TEST_F(MnistDir, LoadsBothSplitsRawOrGzipInEitherSpelling) {
  writeSplit("train", 5, 5, /*gz=*/false);
  writeSplit("t10k", 2, 2, /*gz=*/true, ".");
  MnistDataset train = MnistDataset::load(dir_, Split::Train);
  MnistDataset test = MnistDataset::load(dir_, Split::Test);
  EXPECT_EQ(train.size(), 5);
  EXPECT_EQ(test.size(), 2);
  EXPECT_EQ(train.images().type().str(), "u8[5,28,28]");
  EXPECT_EQ(train.labels().type().str(), "i64[5]");
  EXPECT_EQ(train.imageSize(), 784);
  EXPECT_EQ(test.labels().data<int64_t>()[1], 3);
}

TEST_F(MnistDir, MissingFilesAreAnIoErrorListingTheNamesTried) {
  try {
    MnistDataset::load(dir_, Split::Test);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_NE(e.message().find("t10k-images-idx3-ubyte.gz"), std::string::npos) << e.what();
  }
}

TEST_F(MnistDir, CountMismatchBetweenImagesAndLabelsIsAFormatError) {
  writeSplit("train", 5, 4, false);
  try {
    MnistDataset::load(dir_, Split::Train);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format);
    EXPECT_NE(e.message().find("4 labels"), std::string::npos) << e.what();
  }
}

TEST_F(MnistDir, LabelsOutsideTheTenDigitsAreAFormatError) {
  writeSplit("train", 2, 2, false, "-", /*labelValue=*/10);
  EXPECT_THROW(MnistDataset::load(dir_, Split::Train), Error);
}

TEST_F(MnistDir, ImagesMustBeU8OfRank3) {
  writeSplit("train", 2, 2, false);
  writeIdx(dir_ / "train-images-idx3-ubyte",
           ir::HostTensor(ir::TensorType{ir::DType::F32, ir::Shape{2, 28, 28}}));
  EXPECT_THROW(MnistDataset::load(dir_, Split::Train), Error);
}

TEST(DataLoader, BatchesAreScaledF32RowsAndI64Labels) {
  DataLoader loader(numbered(5), 2);
  DataLoader::iterator it = loader.begin();
  const Batch &b = *it;
  EXPECT_EQ(b.x.dtype(), f32);
  EXPECT_EQ(b.x.shape(), (Shape{2, 6}));
  EXPECT_EQ(b.y.dtype(), i64);
  EXPECT_EQ(b.y.to_vector(), (std::vector<double>{0, 1}));
  EXPECT_FLOAT_EQ(b.x.host().data<float>()[6 + 2], 3.0f / 255.0f);
  EXPECT_FALSE(b.x.requires_grad());
  EXPECT_TRUE(b.x.is_leaf());
  EXPECT_EQ(b.x.name(), "images"); // the step IR's %images and %labels
  EXPECT_EQ(b.y.name(), "labels");
}

TEST(DataLoader, ScalingIsExactlyPyTorchsFloatDivisionBy255ForEveryPixel) {
  ir::HostTensor images(ir::TensorType{ir::DType::U8, ir::Shape{1, 16, 16}});
  for (int p = 0; p < 256; ++p)
    images.data<uint8_t>()[p] = uint8_t(p);
  MnistDataset one(images, ir::HostTensor(ir::TensorType{ir::DType::I64, ir::Shape{1}}));
  std::vector<int64_t> first = {0};
  Batch b = gatherBatch(one, first);
  for (int p = 0; p < 256; ++p)
    EXPECT_EQ(b.x.host().data<float>()[p], float(p) / 255.0f) << p;
}

// 28x28 images: a batch of 103 is cut into tasks of 20 rows (16K pixels
// each), which the pool's threads may share; every row must land in its place.
TEST(DataLoader, ABatchOfSeveralTasksGathersEveryRowInItsPlace) {
  constexpr int64_t kImages = 300, kWidth = 28 * 28;
  ir::HostTensor images(ir::TensorType{ir::DType::U8, ir::Shape{kImages, 28, 28}});
  ir::HostTensor labels(ir::TensorType{ir::DType::U8, ir::Shape{kImages}});
  for (int64_t i = 0; i < kImages; ++i) {
    for (int64_t j = 0; j < kWidth; ++j)
      images.data<uint8_t>()[i * kWidth + j] = uint8_t((i * 7 + j) % 256);
    labels.data<uint8_t>()[i] = uint8_t(i % 10);
  }
  MnistDataset dataset(images, labels);
  std::vector<int64_t> indices;
  for (int64_t r = 0; r < 103; ++r)
    indices.push_back((r * 37 + 11) % kImages);
  Batch b = gatherBatch(dataset, indices);
  ASSERT_EQ(b.x.shape(), (Shape{103, kWidth}));
  for (int64_t r = 0; r < 103; ++r) {
    int64_t i = indices[size_t(r)];
    ASSERT_EQ(b.y.host().data<int64_t>()[r], i % 10) << "row " << r;
    for (int64_t j = 0; j < kWidth; ++j)
      ASSERT_EQ(b.x.host().data<float>()[r * kWidth + j], float((i * 7 + j) % 256) / 255.0f)
          << "row " << r << ", pixel " << j;
  }
}

TEST(DataLoader, WithoutShuffleVisitsExamplesInOrderAndTheLastBatchIsSmaller) {
  DataLoader loader(numbered(7), 3);
  EXPECT_EQ(loader.size(), 3);
  std::vector<int64_t> sizes;
  for (const Batch &b : loader)
    sizes.push_back(b.y.size(0));
  EXPECT_EQ(sizes, (std::vector<int64_t>{3, 3, 1}));
  std::vector<int64_t> expected(7);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(epochIds(loader), expected);
}

TEST(DataLoader, DropLastSkipsTheIncompleteBatch) {
  DataLoader loader(numbered(7), 3, false, 0, /*drop_last=*/true);
  EXPECT_EQ(loader.size(), 2);
  EXPECT_EQ(epochIds(loader).size(), 6u);
  DataLoader exact(numbered(6), 3, false, 0, true);
  EXPECT_EQ(exact.size(), 2);
}

TEST(DataLoader, ShuffleIsAPermutationDeterminedBySeedAndEpoch) {
  DataLoader a(numbered(50), 8, /*shuffle=*/true, /*seed=*/42);
  DataLoader b(numbered(50), 8, true, 42);
  DataLoader other(numbered(50), 8, true, 43);
  std::vector<int64_t> a0 = epochIds(a), a1 = epochIds(a);
  EXPECT_EQ(a0, epochIds(b));
  EXPECT_EQ(a1, epochIds(b));
  EXPECT_NE(a0, a1) << "every epoch is reshuffled";
  EXPECT_NE(a0, epochIds(other));
  for (const std::vector<int64_t> &ids : {a0, a1}) {
    std::vector<int64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(50);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all);
  }
  EXPECT_EQ(a.epoch(), 2);
  EXPECT_EQ(a.order(1), b.order(1));
}

/// A loop that keeps no batch gathers each batch into the previous one's
/// buffers (no allocation per batch); a batch still held keeps its buffers
/// and values, and the next batch gets new ones.
TEST(DataLoader, ABatchNobodyHoldsLendsItsBuffersToTheNext) {
  DataLoader loader(numbered(9), 3);
  std::vector<const void *> buffers;
  for (const Batch &b : loader)
    buffers.push_back(b.x.host().raw());
  EXPECT_EQ(buffers[1], buffers[0]);
  EXPECT_EQ(buffers[2], buffers[0]);

  std::vector<Batch> kept;
  for (const Batch &b : loader)
    kept.push_back(b);
  EXPECT_NE(kept[1].x.host().raw(), kept[0].x.host().raw());
  EXPECT_NE(kept[2].x.host().raw(), kept[1].x.host().raw());
  for (int64_t k = 0; k < 3; ++k) // row 0 of batch k is example 3k: pixels 3k, 3k+1, ...
    EXPECT_EQ(kept[size_t(k)].x.host().data<float>()[1], float(3 * k + 1) / 255.0f) << k;
}

TEST(DataLoader, BadArgumentsAreUsageErrors) {
  EXPECT_THROW(DataLoader(numbered(3), 0), Error);
  std::vector<int64_t> outside = {3};
  EXPECT_THROW(gatherBatch(numbered(3), outside), Error);
  EXPECT_THROW(MnistDataset(ir::HostTensor(ir::TensorType{ir::DType::U8, ir::Shape{2, 4}}),
                            ir::HostTensor(ir::TensorType{ir::DType::I64, ir::Shape{2}})),
               Error);
}

TEST(DataLoader, DefaultDirectoryFollowsKilnDataDir) {
  const char *old = std::getenv("KILN_DATA_DIR");
  std::string saved = old ? old : "";
  ::setenv("KILN_DATA_DIR", "/some/where", 1);
  EXPECT_EQ(defaultMnistDir(), fs::path("/some/where"));
  if (old)
    ::setenv("KILN_DATA_DIR", saved.c_str(), 1);
  else
    ::unsetenv("KILN_DATA_DIR");
}

TEST(DataLoader, EmbeddedSampleHasTheDocumentedSplit) {
  if (const char *env = std::getenv("KILN_DATA_DIR"); env && *env)
    GTEST_SKIP() << "KILN_DATA_DIR points elsewhere";
  fs::path dir = defaultMnistDir();
  if (!fs::exists(dir / "SAMPLE.json"))
    GTEST_SKIP() << "no embedded sample in " << dir << " (run scripts/setup)";
  MnistDataset train = MnistDataset::load(dir, Split::Train);
  MnistDataset test = MnistDataset::load(dir, Split::Test);
  ASSERT_EQ(train.size(), 8000);
  ASSERT_EQ(test.size(), 2000);
  // Per digit, test holds 20% of the package's samples (largest remainder).
  std::vector<int64_t> testCounts(10), trainCounts(10);
  for (int64_t i = 0; i < test.size(); ++i)
    ++testCounts[size_t(test.labels().data<int64_t>()[i])];
  for (int64_t i = 0; i < train.size(); ++i)
    ++trainCounts[size_t(train.labels().data<int64_t>()[i])];
  EXPECT_EQ(testCounts, (std::vector<int64_t>{200, 225, 198, 206, 196, 173, 203, 214, 189, 196}));
  EXPECT_EQ(trainCounts, (std::vector<int64_t>{801, 902, 793, 826, 784, 690, 811, 856, 755, 782}));
}

TEST(DataLoader, ReadsDebiansGzippedFashionMnistWhenInstalled) {
  fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir / "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "the Debian package dataset-fashion-mnist is not installed";
  MnistDataset train = MnistDataset::load(dir, Split::Train);
  MnistDataset test = MnistDataset::load(dir, Split::Test);
  EXPECT_EQ(train.images().type().str(), "u8[60000,28,28]");
  EXPECT_EQ(test.size(), 10000);
  // Fashion-MNIST is balanced: 6,000 training images per class.
  std::vector<int64_t> counts(10);
  for (int64_t i = 0; i < train.size(); ++i)
    ++counts[size_t(train.labels().data<int64_t>()[i])];
  EXPECT_EQ(counts, std::vector<int64_t>(10, 6000));
}
