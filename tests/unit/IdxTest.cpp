//===- IdxTest.cpp - Reading IDX files (MNIST's format), good and bad -----===//
#include "kiln/data/Idx.h"

#include "kiln/ir/Error.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <unistd.h>

using namespace kiln;
using kiln::data::readIdx;
using kiln::data::writeIdx;
namespace fs = std::filesystem;

namespace {

/// A fresh directory per test, removed afterwards.
class IdxFiles : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kiln-idx-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string &name, const std::string &bytes) {
    fs::path p = dir_ / name;
    // A new file each time: truncating one in place makes ext4 flush it on close.
    fs::remove(p);
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::string read(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
};

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values)
    out += char(uint8_t(v));
  return out;
}

/// gzip-compresses `raw` with zlib.
std::string gzip(const std::string &raw) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, uLong(raw.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(raw.data()));
  zs.avail_in = uInt(raw.size());
  zs.next_out = reinterpret_cast<Bytef *>(out.data());
  zs.avail_out = uInt(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

/// The kiln::Error that reading `path` throws.
Error readError(const fs::path &path, const data::IdxLimits &limits = {}) {
  try {
    readIdx(path, limits);
  } catch (const Error &e) {
    return e;
  }
  ADD_FAILURE() << "reading " << path << " did not fail";
  return Error(ErrorKind::Internal, "");
}

ir::HostTensor u8Images() {
  ir::HostTensor t(ir::TensorType{ir::DType::U8, ir::Shape{3, 2, 4}});
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<uint8_t>()[i] = uint8_t(i * 11);
  return t;
}

/// A u8 [2,3] file: header 0,0,8,2 | 2 | 3 | six bytes.
const std::string kU8Matrix = bytes({0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 255});

} // namespace

TEST_F(IdxFiles, ReadsBigEndianHeaderAndKeepsU8) {
  ir::HostTensor t = readIdx(write("m", kU8Matrix));
  EXPECT_EQ(t.type().str(), "u8[2,3]");
  EXPECT_EQ(t.get(0), 1);
  EXPECT_EQ(t.get(5), 255);
}

TEST_F(IdxFiles, ReadsSignedIntegersAndFloatsBigEndian) {
  // i32 [2]: -2, 258; i16 [1]: -1; f32 [1]: 1.5 (0x3fc00000).
  EXPECT_EQ(
      readIdx(write("i32", bytes({0, 0, 0x0C, 1, 0, 0, 0, 2, 255, 255, 255, 254, 0, 0, 1, 2})))
          .data<int64_t>()[1],
      258);
  EXPECT_EQ(readIdx(write("i32b", bytes({0, 0, 0x0C, 1, 0, 0, 0, 1, 255, 255, 255, 254}))).get(0),
            -2);
  EXPECT_EQ(readIdx(write("i16", bytes({0, 0, 0x0B, 1, 0, 0, 0, 1, 255, 255}))).get(0), -1);
  ir::HostTensor f = readIdx(write("f32", bytes({0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0})));
  EXPECT_EQ(f.type().str(), "f32[1]");
  EXPECT_EQ(f.get(0), 1.5);
}

TEST_F(IdxFiles, AFifoIsAnErrorNotAHang) {
  fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  Error e = readError(fifo);
  EXPECT_EQ(e.kind(), ErrorKind::Io);
  EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
}

TEST_F(IdxFiles, ReadsGzipByContentNotName) {
  ir::HostTensor t = readIdx(write("no-suffix", gzip(kU8Matrix)));
  EXPECT_EQ(t.type().str(), "u8[2,3]");
  EXPECT_EQ(t.get(4), 5);
}

TEST_F(IdxFiles, WriteThenReadRoundTripsEveryDtype) {
  ir::HostTensor images = u8Images();
  ir::HostTensor ints = ir::HostTensor::fromDoubles(ir::TensorType{ir::DType::I64, ir::Shape{3}},
                                                    std::vector<double>{-7, 0, 2147483647});
  ir::HostTensor floats = ir::HostTensor::fromDoubles(
      ir::TensorType{ir::DType::F32, ir::Shape{2, 1}}, std::vector<double>{0.25, -3});
  ir::HostTensor doubles = ir::HostTensor::fromDoubles(ir::TensorType{ir::DType::F64, ir::Shape{1}},
                                                       std::vector<double>{1e300});
  for (bool gz : {false, true}) {
    for (const ir::HostTensor &t : {images, ints, floats, doubles}) {
      fs::path p = dir_ / (t.type().str() + (gz ? ".gz" : ""));
      writeIdx(p, t, gz);
      EXPECT_TRUE(readIdx(p).identical(t)) << p;
    }
  }
}

TEST_F(IdxFiles, WriterRejectsWhatIdxCannotHold) {
  ir::HostTensor big = ir::HostTensor::fromDoubles(ir::TensorType{ir::DType::I64, ir::Shape{1}},
                                                   std::vector<double>{1e12});
  EXPECT_THROW(writeIdx(dir_ / "big", big), Error);
  EXPECT_THROW(writeIdx(dir_ / "bool", ir::HostTensor(ir::TensorType{ir::DType::Bool, {}})), Error);
  EXPECT_FALSE(fs::exists(dir_ / "big"));
}

TEST_F(IdxFiles, MissingFileIsAnIoError) {
  Error e = readError(dir_ / "absent");
  EXPECT_EQ(e.kind(), ErrorKind::Io);
  EXPECT_NE(e.where().find("absent"), std::string::npos);
  EXPECT_EQ(readError(dir_).kind(), ErrorKind::Io); // a directory
}

TEST_F(IdxFiles, WrongMagicIsAFormatErrorAtByteZero) {
  Error e = readError(write("npy", "\x93NUMPY\x01\x00 garbage"));
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_NE(e.where().find("@ byte 0"), std::string::npos) << e.what();
  EXPECT_EQ(readError(write("empty", "")).kind(), ErrorKind::Format);
}

TEST_F(IdxFiles, UnknownElementTypeIsAFormatErrorAtByte2) {
  Error e = readError(write("t", bytes({0, 0, 0x0A, 1, 0, 0, 0, 1, 0})));
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_NE(e.where().find("@ byte 2"), std::string::npos) << e.what();
}

TEST_F(IdxFiles, TruncatedDataNamesTheOffsetWhereTheFileEnds) {
  std::string cut = kU8Matrix.substr(0, kU8Matrix.size() - 2);
  Error e = readError(write("cut", cut));
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_NE(e.where().find("cut @ byte 16"), std::string::npos) << e.what();
  EXPECT_NE(e.message().find("truncated"), std::string::npos) << e.what();
  // Cut inside the dimensions.
  EXPECT_EQ(readError(write("cut-dims", kU8Matrix.substr(0, 9))).kind(), ErrorKind::Format);
}

TEST_F(IdxFiles, EveryTruncationOfAValidFileIsAnErrorNeverACrash) {
  std::string gz = gzip(kU8Matrix);
  for (size_t n = 0; n < kU8Matrix.size(); ++n)
    EXPECT_EQ(readError(write("raw", kU8Matrix.substr(0, n))).kind(), ErrorKind::Format) << n;
  for (size_t n = 2; n < gz.size(); ++n)
    EXPECT_EQ(readError(write("gz", gz.substr(0, n))).kind(), ErrorKind::Format) << n;
}

TEST_F(IdxFiles, TrailingBytesAreAFormatError) {
  Error e = readError(write("long", kU8Matrix + "x"));
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_NE(e.where().find("@ byte 18"), std::string::npos) << e.what();
  EXPECT_EQ(readError(write("long.gz", gzip(kU8Matrix + "xy"))).kind(), ErrorKind::Format);
}

TEST_F(IdxFiles, HugeDimensionsAreRejectedBeforeAllocating) {
  // 2^32-1 cubed elements declared by a 16-byte file.
  Error e = readError(write(
      "huge", bytes({0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255})));
  EXPECT_EQ(e.kind(), ErrorKind::Resource);
  EXPECT_NE(e.message().find("need more than the limit"), std::string::npos) << e.what();
  // Even with no limit, the product of the dimensions cannot overflow.
  data::IdxLimits unlimited;
  unlimited.maxBytes = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(readError(write("f64", bytes({0, 0, 0x0E, 3, 255, 255, 255, 255, 255, 255, 255, 255,
                                          255, 255, 255, 255})),
                      unlimited)
                .kind(),
            ErrorKind::Resource);
  // Under the limit but more than the file holds: a truncation, found before
  // allocating the 4 GB the header asks for.
  std::string claims4G = bytes({0, 0, 8, 1, 255, 255, 255, 255, 1, 2, 3});
  EXPECT_EQ(readError(write("lie", claims4G)).kind(), ErrorKind::Format);
  EXPECT_EQ(readError(write("lie.gz", gzip(claims4G))).kind(), ErrorKind::Format);
}

TEST_F(IdxFiles, ForgedGzipSizeTrailerStillEndsInATruncationError) {
  // The header claims 20,000 pixels, the stream holds 3; the trailer's size
  // field is patched to agree with the header, so the reader trusts it enough
  // to allocate 20 kB (the most a file this size could inflate to), then
  // finds the stream short (zlib also sees the size field disagree).
  std::string gz = gzip(bytes({0, 0, 8, 1, 0, 0, 0x4e, 0x20, 1, 2, 3}));
  uint32_t claimed = 8 + 20000;
  for (int i = 0; i < 4; ++i)
    gz[gz.size() - 4 + size_t(i)] = char(claimed >> (8 * i));
  Error e = readError(write("forged", gz));
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_NE(e.message().find("gzip"), std::string::npos) << e.what();
}

TEST_F(IdxFiles, TheLimitAlsoBoundsIntegersWidenedToI64) {
  // 4 i8 values are 4 bytes in the file but 32 bytes as i64.
  std::string i8 = bytes({0, 0, 0x09, 1, 0, 0, 0, 4, 1, 2, 3, 4});
  data::IdxLimits limits;
  limits.maxBytes = 16;
  EXPECT_EQ(readError(write("i8", i8), limits).kind(), ErrorKind::Resource);
  limits.maxBytes = 32;
  EXPECT_EQ(readIdx(write("i8", i8), limits).bytes(), 32u);
}

TEST_F(IdxFiles, LimitsAreConfigurable) {
  data::IdxLimits small;
  small.maxBytes = 5;
  EXPECT_EQ(readError(write("m", kU8Matrix), small).kind(), ErrorKind::Resource);
  data::IdxLimits flat;
  flat.maxRank = 1;
  EXPECT_EQ(readError(write("m", kU8Matrix), flat).kind(), ErrorKind::Resource);
}

TEST_F(IdxFiles, CorruptGzipIsAFormatError) {
  std::string gz = gzip(kU8Matrix);
  std::string flipped = gz;
  flipped[gz.size() / 2] = char(flipped[gz.size() / 2] ^ 0x5a);
  EXPECT_EQ(readError(write("flip", flipped)).kind(), ErrorKind::Format);
  std::string badCrc = gz;
  badCrc[gz.size() - 6] = char(badCrc[gz.size() - 6] ^ 1); // in the CRC-32 trailer
  Error e = readError(write("crc", badCrc));
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_EQ(readError(write("junk", "\x1f\x8b junk that is not deflate")).kind(),
            ErrorKind::Format);
}
