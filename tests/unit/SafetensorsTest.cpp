//===- SafetensorsTest.cpp - Saving and loading tensors -------------------===//
#include "kiln/Serialize.h"

#include "kiln/Random.h"
#include "kiln/ir/Error.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace kiln;
namespace fs = std::filesystem;

namespace {

class Safetensors : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kiln-st-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path writeBytes(const std::string &name, const std::string &bytes) {
    fs::path p = dir_ / name;
    // A new file each time: truncating one in place makes ext4 flush it on close.
    fs::remove(p);
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  static std::string readBytes(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
};

/// A file image: 8-byte little-endian length, `json`, `data`.
std::string image(const std::string &json, const std::string &data, uint64_t length = ~0ull) {
  if (length == ~0ull)
    length = json.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[size_t(i)] = char(length >> (8 * i));
  return out + json + data;
}

std::string floatBytes(std::initializer_list<float> values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

Error loadError(const fs::path &p) {
  try {
    load_safetensors(p);
  } catch (const Error &e) {
    return e;
  }
  ADD_FAILURE() << "loading " << p << " did not fail";
  return Error(ErrorKind::Internal, "");
}

bool sameValues(const NamedTensors &a, const NamedTensors &b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !a[i].second.host().identical(b[i].second.host()))
      return false;
  return true;
}

NamedTensors everyDtype() {
  return {
      {"w", tensor({{1.5, -2}, {3, 4}}, f32)},
      {"b64", tensor({0.1, 1e300}, f64)},
      {"steps", tensor({int64_t(-5), int64_t(1) << 40}, i64)},
      {"pixels", tensor({0, 7, 255}, u8)},
      {"mask", tensor({true, false, true})},
      {"scalar", scalar_tensor(2.5)},
      {"empty", zeros({0, 3})},
  };
}

const std::string kOneTensor = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

} // namespace

TEST_F(Safetensors, RoundTripsEveryDtypeInOrderWithMetadata) {
  NamedTensors saved = everyDtype();
  save_safetensors(dir_ / "m.safetensors", saved, {{"format", "pt"}, {"epoch", "3"}});
  SafetensorsContents loaded = read_safetensors(dir_ / "m.safetensors");
  EXPECT_TRUE(sameValues(loaded.tensors, saved));
  EXPECT_EQ(loaded.metadata, (TensorMetadata{{"format", "pt"}, {"epoch", "3"}}));
  EXPECT_FALSE(loaded.tensors[0].second.requires_grad());
}

TEST_F(Safetensors, WritesTheDocumentedLayout) {
  save_safetensors(dir_ / "m", {{"w", tensor({1.0, 2.0}, f32)}});
  std::string json = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  json.append((8 - json.size() % 8) % 8, ' '); // padded so that the data is 8-aligned
  EXPECT_EQ(readBytes(dir_ / "m"), image(json, floatBytes({1, 2})));
}

TEST_F(Safetensors, ReadsHandWrittenFilesWithEscapesAndSpaces) {
  std::string json = " { \"__metadata__\" : { \"k\\u00e9y\" : \"a\\\"b\" } ,\n"
                     " \"l\\u0061yer.w\" : { \"shape\" : [ 2 ] , \"data_offsets\" : [ 0 , 8 ] ,"
                     " \"dtype\" : \"F32\" } }  ";
  // A header must start with '{': the leading space is rejected...
  EXPECT_EQ(loadError(writeBytes("lead", image(json, floatBytes({1, 2})))).kind(),
            ErrorKind::Format);
  // ...and accepted without it.
  SafetensorsContents c =
      read_safetensors(writeBytes("ok", image(json.substr(1), floatBytes({1, 2}))));
  ASSERT_EQ(c.tensors.size(), 1u);
  EXPECT_EQ(c.tensors[0].first, "layer.w");
  EXPECT_EQ(c.metadata[0].first, "k\xc3\xa9y");
  EXPECT_EQ(c.metadata[0].second, "a\"b");
}

TEST_F(Safetensors, SaveRejectsBadNamesAndKeepsTheOldFile) {
  save_safetensors(dir_ / "m", {{"w", ones({2})}});
  std::string before = readBytes(dir_ / "m");
  EXPECT_THROW(save_safetensors(dir_ / "m", {{"w", ones({3})}, {"w", ones({3})}}), Error);
  EXPECT_THROW(save_safetensors(dir_ / "m", {{"__metadata__", ones({3})}}), Error);
  // Names and metadata must be UTF-8: PyTorch's reader refuses the whole file otherwise.
  EXPECT_THROW(save_safetensors(dir_ / "m", {{"w\xff", ones({3})}}), Error);
  EXPECT_THROW(save_safetensors(dir_ / "m", {{"\xc0\xaf", ones({3})}}), Error);   // overlong '/'
  EXPECT_THROW(save_safetensors(dir_ / "m", {{"\xed\xa0\x80", ones({3})}}), Error); // a surrogate
  EXPECT_THROW(save_safetensors(dir_ / "m", {{"w", ones({3})}}, {{"k", "\xe2\x82"}}), Error);
  save_safetensors(dir_ / "ok", {{"gewicht_\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80", ones({1})}});
  EXPECT_EQ(load_safetensors(dir_ / "ok")[0].first, "gewicht_\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80");
  fs::remove(dir_ / "ok");
  EXPECT_EQ(readBytes(dir_ / "m"), before);
  try {
    save_safetensors(dir_ / "no-such-dir" / "m", {{"w", ones({2})}});
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1)
      << "no temporary file is left behind";
}

TEST_F(Safetensors, EveryTruncationIsAnErrorNeverACrash) {
  save_safetensors(dir_ / "m", everyDtype());
  std::string whole = readBytes(dir_ / "m");
  for (size_t n = 0; n < whole.size(); ++n) {
    Error e = loadError(writeBytes("cut", whole.substr(0, n)));
    EXPECT_TRUE(e.kind() == ErrorKind::Format) << n << ": " << e.what();
    EXPECT_NE(e.where().find("cut @ byte"), std::string::npos) << e.what();
  }
}

TEST_F(Safetensors, EveryBitFlipInTheHeaderIsAnErrorOrAValidFile) {
  save_safetensors(dir_ / "m", everyDtype());
  std::string whole = readBytes(dir_ / "m");
  uint64_t headerEnd = 8 + uint64_t(uint8_t(whole[0])) + (uint64_t(uint8_t(whole[1])) << 8);
  int errors = 0, loads = 0;
  for (size_t i = 0; i < headerEnd; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = whole;
      flipped[i] = char(flipped[i] ^ (1 << bit));
      fs::path p = writeBytes("flip", flipped);
      try {
        load_safetensors(p);
        ++loads; // e.g. a flip inside a name or in the padding
      } catch (const Error &e) {
        ++errors;
        EXPECT_TRUE(e.kind() == ErrorKind::Format || e.kind() == ErrorKind::Resource) << e.what();
      }
    }
  }
  EXPECT_GT(errors, loads);
}

TEST_F(Safetensors, HugeHeaderLengthIsRejectedBeforeAllocating) {
  Error e = loadError(writeBytes("huge", image("{}", "", ~0ull - 1)));
  EXPECT_EQ(e.kind(), ErrorKind::Resource);
  EXPECT_NE(e.where().find("@ byte 0"), std::string::npos);
  // Under the limit but longer than the file.
  e = loadError(writeBytes("long", image("{}", "", 1000)));
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_NE(e.message().find("truncated"), std::string::npos) << e.what();
}

TEST_F(Safetensors, OffsetsMustTileTheDataExactly) {
  auto file = [](const std::string &a, const std::string &b, int dataFloats) {
    std::string json = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":)" + a +
                       R"(},"b":{"dtype":"F32","shape":[1],"data_offsets":)" + b + "}}";
    return image(json, std::string(size_t(dataFloats) * 4, '\0'));
  };
  EXPECT_NO_THROW(load_safetensors(writeBytes("ok", file("[4,8]", "[0,4]", 2))));
  Error overlap = loadError(writeBytes("overlap", file("[0,4]", "[0,4]", 2)));
  EXPECT_NE(overlap.message().find("overlap"), std::string::npos) << overlap.what();
  Error gap = loadError(writeBytes("gap", file("[0,4]", "[8,12]", 3)));
  EXPECT_NE(gap.message().find("belong to no tensor"), std::string::npos) << gap.what();
  Error extra = loadError(writeBytes("extra", file("[0,4]", "[4,8]", 3)));
  EXPECT_NE(extra.message().find("after the last tensor"), std::string::npos) << extra.what();
  Error past = loadError(writeBytes("past", file("[0,4]", "[4,8]", 1)));
  EXPECT_NE(past.message().find("past the end"), std::string::npos) << past.what();
  Error backwards = loadError(writeBytes("backwards", file("[4,0]", "[0,4]", 1)));
  EXPECT_EQ(backwards.kind(), ErrorKind::Format);
}

TEST_F(Safetensors, ShapeTimesDtypeSizeMustMatchTheOffsets) {
  std::string json = R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})";
  Error e = loadError(writeBytes("m", image(json, floatBytes({1, 2}))));
  EXPECT_NE(e.message().find("needs 16 bytes"), std::string::npos) << e.what();
  std::string overflow =
      R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})";
  EXPECT_EQ(loadError(writeBytes("o", image(overflow, floatBytes({1, 2})))).kind(),
            ErrorKind::Format);
}

TEST_F(Safetensors, MalformedHeadersNameTheProblemAndItsByte) {
  struct Case {
    std::string json;
    std::string message;
  };
  std::vector<Case> cases = {
      {R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", "unsupported dtype \"F16\""},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{}})", "duplicate key"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", "unknown key \"x\""},
      {R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", "has no \"shape\""},
      {R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", "non-negative integer"},
      {R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", "must be an integer"},
      {R"({"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}})", "too large"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} x)", "after the header"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8])", "expected '}'"},
      {R"({"__metadata__":{"a":1},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
       "not a string"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)", "expected '\"'"},
  };
  for (const Case &c : cases) {
    Error e = loadError(writeBytes("bad", image(c.json, floatBytes({1, 2}))));
    EXPECT_EQ(e.kind(), ErrorKind::Format) << c.json;
    EXPECT_NE(e.message().find(c.message), std::string::npos) << c.json << " -> " << e.what();
    EXPECT_NE(e.where().find("bad @ byte "), std::string::npos) << e.what();
  }
}

TEST_F(Safetensors, DeeplyNestedInputIsRejectedWithoutRecursion) {
  std::string json = R"({"w":{"dtype":"F32","shape":)" + std::string(1000000, '[');
  Error e = loadError(writeBytes("deep", image(json, "")));
  EXPECT_EQ(e.kind(), ErrorKind::Format);
}

TEST_F(Safetensors, BoolValuesMustBeZeroOrOne) {
  std::string json = R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})";
  Error e = loadError(writeBytes("m", image(json, std::string("\x01\x02", 2))));
  EXPECT_NE(e.message().find("not 0 or 1"), std::string::npos) << e.what();
  EXPECT_NE(e.where().find("@ byte " + std::to_string(8 + json.size() + 1)), std::string::npos)
      << e.what();
}

TEST_F(Safetensors, ResourceLimitsAreEnforced) {
  SafetensorsLimits few;
  few.maxTensors = 1;
  save_safetensors(dir_ / "m", everyDtype());
  try {
    read_safetensors(dir_ / "m", few);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Resource);
  }
  SafetensorsLimits flat;
  flat.maxRank = 1;
  EXPECT_THROW(read_safetensors(dir_ / "m", flat), Error);
}

// ---- Interoperability with PyTorch -------------------------------------------

namespace {

const char *kPython = "/usr/bin/python3";

/// Runs a python program that imports torch; returns its exit status, or
/// -1 when PyTorch is not available (the program then exits with 77).
int runTorch(const std::string &program, const fs::path &dir) {
  fs::path script = dir / "check.py";
  std::ofstream(script) << program;
  int status =
      std::system((std::string(kPython) + " " + script.string() + " " + dir.string()).c_str());
  if (status == -1 || !WIFEXITED(status))
    return status;
  return WEXITSTATUS(status) == 77 ? -1 : WEXITSTATUS(status);
}

/// The safetensors format in a few lines of Python, independent of kiln.
const char *kPythonSafetensors = R"(
import json, struct, sys
try:
    import torch
except ImportError:
    sys.exit(77)
DT = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "U8": torch.uint8,
      "BOOL": torch.bool}
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:end]), dtype=DT[e["dtype"]]) if end > b else \
            torch.empty(0, dtype=DT[e["dtype"]])
        out[name] = t.reshape(e["shape"])
    return out
def save(path, tensors):
    names = {v: k for k, v in DT.items()}
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
d = sys.argv[1]
)";

} // namespace

TEST_F(Safetensors, ExchangesFilesWithPyTorchBothWays) {
  save_safetensors(dir_ / "kiln.safetensors", everyDtype());
  int status = runTorch(std::string(kPythonSafetensors) + R"(
t = load(d + "/kiln.safetensors")
assert list(t) == ["w", "b64", "steps", "pixels", "mask", "scalar", "empty"], list(t)
assert torch.equal(t["w"], torch.tensor([[1.5, -2], [3, 4]]))
assert torch.equal(t["b64"], torch.tensor([0.1, 1e300], dtype=torch.float64))
assert torch.equal(t["steps"], torch.tensor([-5, 1 << 40]))
assert torch.equal(t["pixels"], torch.tensor([0, 7, 255], dtype=torch.uint8))
assert torch.equal(t["mask"], torch.tensor([True, False, True]))
assert t["scalar"].shape == () and t["scalar"].item() == 2.5
assert t["empty"].shape == (0, 3)

torch.manual_seed(0)
lin = torch.nn.Linear(3, 2)
save(d + "/torch.safetensors", {"weight": lin.weight.detach(), "bias": lin.bias.detach(),
                                "ids": torch.tensor([3, -1]), "mask": torch.tensor([False, True])})
with open(d + "/expected.txt", "w") as f:
    f.write(" ".join(repr(v) for v in lin.weight.detach().flatten().tolist()))
)",
                        dir_);
  if (status == -1)
    GTEST_SKIP() << "PyTorch is not installed for " << kPython;
  ASSERT_EQ(status, 0) << "PyTorch could not read kiln's file";
  NamedTensors t = load_safetensors(dir_ / "torch.safetensors");
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].first, "weight");
  EXPECT_EQ(t[0].second.shape(), (Shape{2, 3}));
  std::ifstream expected(dir_ / "expected.txt");
  for (double v : t[0].second.to_vector()) {
    double w = 0;
    expected >> w;
    EXPECT_EQ(v, w);
  }
  EXPECT_EQ(t[2].second.to_vector(), (std::vector<double>{3, -1}));
  EXPECT_EQ(t[3].second.dtype(), boolean);
}

// ---- Durability ------------------------------------------------------------------

TEST_F(Safetensors, KillDuringSaveLeavesTheOldOrTheNewFileWhole) {
  // Two states big enough (4 MB) that a kill often lands inside a save.
  auto state = [](float v) {
    return NamedTensors{{"w", full({1024, 1024}, v)}, {"step", scalar_tensor(v, i64)}};
  };
  NamedTensors a = state(1), b = state(2);
  fs::path path = dir_ / "ckpt.safetensors";
  // Kills land anywhere in the first few saves, however fast this build is
  // (a sanitizer build on a busy machine saves 10x slower than a release one).
  auto saveStart = std::chrono::steady_clock::now();
  save_safetensors(path, a);
  auto saveUs = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - saveStart)
                    .count();
  uint64_t killWindowUs = uint64_t(std::max<int64_t>(20000, 4 * saveUs));
  std::mt19937 rng(7);
  int sawA = 0, sawB = 0;
  for (int iteration = 0; iteration < 100; ++iteration) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        for (int k = 0;; ++k)
          save_safetensors(path, k % 2 ? a : b);
      } catch (...) {
      }
      ::_exit(1); // never return into the test runner
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % killWindowUs));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    NamedTensors loaded;
    try {
      loaded = load_safetensors(path);
    } catch (const Error &e) {
      FAIL() << "iteration " << iteration << ": " << e.what();
    }
    bool isA = sameValues(loaded, a), isB = sameValues(loaded, b);
    ASSERT_TRUE(isA || isB) << "iteration " << iteration << ": a mixed file";
    sawA += isA;
    sawB += isB;
  }
  EXPECT_GT(sawA, 0);
  EXPECT_GT(sawB, 0);
}

namespace {

/// The message of the Error(Io) that `save` throws; "" when it succeeds.
std::string saveError(const fs::path &path, const NamedTensors &tensors) {
  try {
    save_safetensors(path, tensors);
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io) << e.what();
    return e.what();
  }
  return "";
}

} // namespace

TEST_F(Safetensors, LoadRefusesStringsThatAreNotUtf8) {
  // Whatever loads must save again (the fuzz target's round trip found a
  // metadata key with a raw 0x90 byte that loaded and then could not be saved).
  std::string data(8, '\0');
  for (const std::string json :
       {"{\"__metadata__\":{\"k\x90\":\"v\"}}", "{\"__metadata__\":{\"k\":\"\xc0\xaf\"}}",
        "{\"w\xff\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}"}) {
    try {
      load_safetensors(writeBytes("bad", image(json, data)));
      ADD_FAILURE() << "loaded: " << json;
    } catch (const Error &e) {
      EXPECT_EQ(e.kind(), ErrorKind::Format) << e.what();
      EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
    }
  }
}

TEST_F(Safetensors, LoadingAFifoIsAnErrorNotAHang) {
  fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  try {
    load_safetensors(fifo);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
}

TEST_F(Safetensors, SaveRefusesTargetsThatAreNotRegularFiles) {
  fs::path fifo = dir_ / "fifo", sub = dir_ / "sub";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  fs::create_directory(sub);
  std::string error = saveError(fifo, {{"w", ones({2})}});
  EXPECT_NE(error.find("refusing to replace"), std::string::npos) << error;
  EXPECT_NE(error.find("a FIFO"), std::string::npos) << error;
  EXPECT_TRUE(fs::is_fifo(fifo));
  error = saveError(sub, {{"w", ones({2})}});
  EXPECT_NE(error.find("a directory"), std::string::npos) << error;
  // A character device (as root, /dev/null itself was replaced once), through a link.
  fs::create_symlink("/dev/null", dir_ / "null");
  error = saveError(dir_ / "null", {{"w", ones({2})}});
  EXPECT_NE(error.find("a character device"), std::string::npos) << error;
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 3)
      << "no temporary file is left behind";
}

TEST_F(Safetensors, SaveWritesThroughSymlinksAndKeepsTheMode) {
  fs::path real = dir_ / "real.safetensors", link = dir_ / "link.safetensors";
  save_safetensors(real, {{"w", ones({2})}});
  ::chmod(real.c_str(), 0600);
  fs::create_symlink("real.safetensors", link); // relative, as `ln -s` makes it
  save_safetensors(link, {{"w", full({3}, 2.0)}});
  EXPECT_TRUE(fs::is_symlink(link)) << "the link is kept, not replaced";
  EXPECT_EQ(load_safetensors(real)[0].second.to_vector(), (std::vector<double>{2, 2, 2}));
  struct stat st {};
  ASSERT_EQ(::stat(real.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // A link to a file that does not exist yet creates that file.
  fs::create_symlink("later.safetensors", dir_ / "dangling");
  save_safetensors(dir_ / "dangling", {{"w", ones({1})}});
  EXPECT_TRUE(fs::is_regular_file(dir_ / "later.safetensors"));
}

TEST_F(Safetensors, SaveRefusesAFileWithOtherHardLinks) {
  fs::path a = dir_ / "a", b = dir_ / "b";
  save_safetensors(a, {{"w", ones({2})}});
  fs::create_hard_link(a, b);
  std::string error = saveError(a, {{"w", ones({3})}});
  EXPECT_NE(error.find("hard links"), std::string::npos) << error;
  EXPECT_EQ(load_safetensors(b)[0].second.numel(), 2);
}

TEST_F(Safetensors, SaveRemovesTemporaryFilesOfKilledSaves) {
  fs::path path = dir_ / "m.safetensors";
  // What a save killed by SIGKILL leaves: a temporary file nobody holds.
  std::ofstream(dir_ / ".m.safetensors.tmp.AbC123") << "partial";
  std::ofstream(dir_ / ".other.tmp.AbC123") << "another file's";
  save_safetensors(path, {{"w", ones({2})}});
  EXPECT_FALSE(fs::exists(dir_ / ".m.safetensors.tmp.AbC123"));
  EXPECT_TRUE(fs::exists(dir_ / ".other.tmp.AbC123"));
  // One that a save in progress holds (locked) stays.
  fs::path live = dir_ / ".m.safetensors.tmp.Live99";
  std::ofstream(live) << "in progress";
  int fd = ::open(live.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  save_safetensors(path, {{"w", ones({2})}});
  EXPECT_TRUE(fs::exists(live));
  ::close(fd);
}

TEST_F(Safetensors, SaveErrorsNameTheTargetNotTheTemporaryFile) {
  // A write that fails half way (as on a full disk): a child process whose
  // file size limit is 4 KB saves 4 MB and reports the error through a pipe.
  fs::path path = dir_ / "m.safetensors";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN); // write() then fails with EFBIG
    struct rlimit limit {
      4096, 4096
    };
    ::setrlimit(RLIMIT_FSIZE, &limit);
    std::string error = saveError(path, {{"w", full({1024, 1024}, 1.0)}});
    ssize_t written = ::write(fds[1], error.data(), error.size());
    ::_exit(written == ssize_t(error.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string error;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;)
    error.append(buffer, size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_NE(error.find(path.string() + ": error: cannot write"), std::string::npos) << error;
  EXPECT_EQ(error.find(".tmp."), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 0)
      << "no temporary file is left behind";
}
