//===- ToolNpyTest.cpp - The .npy reader and writer of `kiln run` ---------===//
#include "support/Npy.h"

#include "kiln/ir/Error.h"

#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

using namespace kiln;
using kiln::tool::encodeNpy;

namespace {

/// A .npy image with the given header dictionary and data bytes.
std::string npyImage(const std::string &dict, const std::string &data, int major = 1) {
  std::string header = dict;
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  if (major != 1)
    out += std::string(2, '\0');
  return out + header + data;
}

std::string floats(std::initializer_list<float> values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

ir::HostTensor decode(const std::string &bytes) {
  std::istringstream in(bytes);
  return tool::readNpy(in, bytes.size(), "t.npy");
}

/// The error that decoding `bytes` throws.
Error decodeError(const std::string &bytes) {
  try {
    decode(bytes);
  } catch (const Error &e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ErrorKind::Internal, "");
}

const std::string kF32x2x2 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";

} // namespace

TEST(Npy, ReadsFloat32Matrix) {
  ir::HostTensor t = decode(npyImage(kF32x2x2, floats({1, 2, 3, 4.5f})));
  EXPECT_EQ(t.type().str(), "f32[2,2]");
  EXPECT_EQ(t.get(3), 4.5);
}

TEST(Npy, ReadsVersion2AndScalars) {
  ir::HostTensor t = decode(
      npyImage("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", std::string(8, 0), 2));
  EXPECT_EQ(t.type().str(), "f64[]");
}

TEST(Npy, RoundTripsEveryDType) {
  for (ir::DType dt :
       {ir::DType::F32, ir::DType::F64, ir::DType::I64, ir::DType::U8, ir::DType::Bool}) {
    ir::HostTensor t(ir::TensorType{dt, ir::Shape{3}});
    t.set(0, 1);
    t.set(2, 1);
    ir::HostTensor back = decode(encodeNpy(t));
    EXPECT_TRUE(back.identical(t)) << ir::dtypeName(dt);
    EXPECT_EQ((encodeNpy(t).find('\n') + 1) % 64, 0u) << "header padded to 64 bytes";
  }
}

TEST(Npy, RejectsBadMagic) {
  Error e = decodeError("NOTNUMPY-and-some-more-bytes");
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_EQ(e.where(), "t.npy @ byte 0");
}

TEST(Npy, RejectsTruncatedData) {
  Error e = decodeError(npyImage(kF32x2x2, floats({1, 2, 3})));
  EXPECT_EQ(e.where(), "t.npy @ byte 128");
  EXPECT_NE(e.message().find("promises 16 data bytes"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("holds 12"), std::string::npos) << e.message();
}

TEST(Npy, RejectsTrailingBytes) {
  Error e = decodeError(npyImage(kF32x2x2, floats({1, 2, 3, 4, 5})));
  EXPECT_NE(e.message().find("holds 20"), std::string::npos) << e.message();
}

TEST(Npy, RejectsHugeShapeBeforeAllocating) {
  Error e = decodeError(
      npyImage("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000, 1000), }", ""));
  EXPECT_EQ(e.kind(), ErrorKind::Format);
}

TEST(Npy, RejectsHeaderLengthPastEnd) {
  std::string bytes = npyImage(kF32x2x2, "");
  bytes.resize(40);
  EXPECT_EQ(decodeError(bytes).where(), "t.npy @ byte 8");
}

TEST(Npy, RejectsUnsupportedDTypes) {
  Error e = decodeError(
      npyImage("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", floats({1})));
  EXPECT_NE(e.message().find("unsupported dtype '>f4'"), std::string::npos) << e.message();
}

TEST(Npy, RejectsFortranOrder) {
  Error e = decodeError(
      npyImage("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", floats({1, 2, 3, 4})));
  EXPECT_NE(e.message().find("Fortran"), std::string::npos);
}

TEST(Npy, RejectsMalformedHeaders) {
  for (const char *dict : {
           "{'descr': '<f4', 'shape': (1,), }",                                       // missing key
           "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", // dup
           "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",              // negative
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",         // unknown key
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)",   // unterminated
           "{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", // bad quote
           "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
       }) {
    Error e = decodeError(npyImage(dict, floats({1})));
    EXPECT_EQ(e.kind(), ErrorKind::Format) << dict;
    EXPECT_NE(e.where().find("t.npy @ byte"), std::string::npos) << dict;
  }
}

TEST(Npy, RejectsNonBooleanBytes) {
  Error e = decodeError(
      npyImage("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", std::string("\1\7")));
  EXPECT_NE(e.message().find("bool element 1"), std::string::npos) << e.message();
  EXPECT_EQ(e.where(), "t.npy @ byte 129");
}

TEST(Npy, EveryTruncationIsAnError) {
  std::string bytes = npyImage(kF32x2x2, floats({1, 2, 3, 4}));
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_THROW(decode(bytes.substr(0, n)), Error) << "truncated to " << n;
}
