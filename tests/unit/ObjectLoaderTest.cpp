//===- ObjectLoaderTest.cpp - Kernel objects loaded without LLVM ----------===//
//
// The loader runs what LLVM emitted as the JIT does, puts external calls
// behind stubs of its own, protects code from writes, and turns every
// malformed or unsupported object into an Error(Format) that says what is
// wrong: never a crash, never a kernel linked by guess. Every other JIT test
// loads its kernels through it as well.
//
//===----------------------------------------------------------------------===//
#include "../../runtime/jit/ObjectLoader.h"
#include "../../runtime/cache/DiskCache.h"
#include "JitTestSupport.h"

#include "kiln/ir/Builder.h"
#include "kiln/ir/Error.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

using namespace kiln;
using namespace kiln::ir;
using namespace kiln::runtime;
using jit::LoadedObject;
using kiln::jittest::TempDir;
using kiln::jittest::uncachedJit;

namespace {

/// tanh(x * 0.5 + 1.5) over f32[n]: constants and a libm or libmvec call, so
/// that its object has PC-relative and call relocations.
Function tanhKernel(int64_t n = 1000) {
  Function f("tanh_kernel");
  Builder b(f);
  ValueId x = b.param("x", {DType::F32, Shape{n}});
  ValueId half = b.scalar(0.5);
  ValueId offset = b.scalar(1.5);
  f.setResults({b.create(OpKind::Tanh, {b.add(b.mul(x, half), offset)})});
  return f;
}

std::string objectOf(const Function &f) {
  std::vector<char> bytes = uncachedJit().emitObject(f, f.name());
  return std::string(bytes.begin(), bytes.end());
}

template <class T> T readAt(const std::string &elf, size_t offset) {
  T value;
  std::memcpy(&value, elf.data() + offset, sizeof(T));
  return value;
}
template <class T> std::string withAt(std::string elf, size_t offset, T value) {
  std::memcpy(elf.data() + offset, &value, sizeof(T));
  return elf;
}

/// The file offset of the header of the first section of `type` (and with
/// `flag` set, when given).
size_t sectionHeader(const std::string &elf, uint32_t type, uint64_t flag = 0) {
  auto header = readAt<Elf64_Ehdr>(elf, 0);
  for (size_t i = 0; i < header.e_shnum; ++i) {
    size_t at = header.e_shoff + i * sizeof(Elf64_Shdr);
    auto section = readAt<Elf64_Shdr>(elf, at);
    if (section.sh_type == type && (section.sh_flags & flag) == flag)
      return at;
  }
  return 0;
}

/// Expects loading `elf` to throw Error(Format) whose message contains `words`.
::testing::AssertionResult rejects(const std::string &elf, const std::string &words) {
  try {
    LoadedObject::load(elf, jit::kernelSymbol);
  } catch (const Error &e) {
    if (e.kind() != ErrorKind::Format || e.message().find(words) == std::string::npos)
      return ::testing::AssertionFailure() << "wrong error: " << e.what();
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "loaded";
}

/// The permissions ("r-xp") of the mapping that holds `address`.
std::string permissionsAt(const void *address) {
  std::ifstream maps("/proc/self/maps");
  auto at = reinterpret_cast<uintptr_t>(address);
  for (std::string line; std::getline(maps, line);) {
    std::istringstream in(line);
    uintptr_t start = 0, end = 0;
    char dash = 0;
    std::string permissions;
    in >> std::hex >> start >> dash >> end >> permissions;
    if (start <= at && at < end)
      return permissions;
  }
  return "";
}

} // namespace

TEST(ObjectLoader, ItsKernelComputesWhatTheInterpreterDoes) {
  Function f = tanhKernel();
  LoopKernel compiled = uncachedJit().compile(f, f.name());
  std::unique_ptr<LoadedObject> object = LoadedObject::load(objectOf(f), jit::kernelSymbol);
  LoopKernel loaded = compiled;
  loaded.fn = reinterpret_cast<KernelFn>(object->symbol(compiled.name));
  ASSERT_NE(loaded.fn, nullptr) << compiled.name;
  std::mt19937 rng(5);
  std::vector<HostTensor> inputs = {jittest::randomTensor(f.type(f.params()[0]), rng)};
  EXPECT_TRUE(jittest::matchesInterpreter(f, inputs, jittest::runKernel(loaded, f, inputs, 3)));
  EXPECT_EQ(object->symbol("no_such_kernel"), nullptr);
  EXPECT_EQ(object->mappedBytes() % size_t(::sysconf(_SC_PAGESIZE)), 0u);
}

TEST(ObjectLoader, ExternalFunctionsComeFromTheResolverAndCodeIsNotWritable) {
  std::set<std::string> asked;
  auto recording = [&](const std::string &name) {
    asked.insert(name);
    return jit::kernelSymbol(name);
  };
  std::unique_ptr<LoadedObject> object = LoadedObject::load(objectOf(tanhKernel()), recording);
  bool tanh = false;
  for (const std::string &name : asked)
    tanh |= name.find("tanh") != std::string::npos;
  EXPECT_TRUE(tanh) << "the kernel calls libm's or libmvec's tanhf";
  Function f = tanhKernel();
  void *code = object->symbol(uncachedJit().compile(f, f.name()).name);
  ASSERT_NE(code, nullptr);
  EXPECT_EQ(permissionsAt(code), "r-xp");
}

TEST(ObjectLoader, AnUndefinedSymbolIsAnErrorThatNamesIt) {
  try {
    LoadedObject::load(objectOf(tanhKernel()), [](const std::string &) { return nullptr; });
    FAIL() << "loaded without its external functions";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format);
    // libm's tanhf, or libmvec's _ZGV..._tanhf where the kernel is vectorized.
    EXPECT_NE(e.message().find("undefined symbol '"), std::string::npos) << e.what();
    EXPECT_NE(e.message().find("tanhf'"), std::string::npos) << e.what();
  }
}

TEST(ObjectLoader, SaysWhatItDoesNotSupport) {
  std::string elf = objectOf(tanhKernel());
  EXPECT_TRUE(rejects("", "past the end"));
  EXPECT_TRUE(rejects(std::string(64, 'x'), "not an ELF file"));
  EXPECT_TRUE(rejects(withAt<uint16_t>(elf, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64),
                      "not an x86-64 relocatable object"));
  EXPECT_TRUE(rejects(withAt<uint16_t>(elf, offsetof(Elf64_Ehdr, e_type), ET_DYN),
                      "not an x86-64 relocatable object"));

  size_t relocations = sectionHeader(elf, SHT_RELA);
  ASSERT_NE(relocations, 0u) << "the kernel's object has relocations";
  auto rela = readAt<Elf64_Shdr>(elf, relocations);
  size_t info = rela.sh_offset + offsetof(Elf64_Rela, r_info);
  uint64_t first = readAt<uint64_t>(elf, info);
  EXPECT_TRUE(rejects(withAt<uint64_t>(elf, info, ELF64_R_INFO(ELF64_R_SYM(first), R_X86_64_32S)),
                      "relocation type 11"));
  EXPECT_TRUE(rejects(
      withAt<uint64_t>(elf, rela.sh_offset + offsetof(Elf64_Rela, r_offset), uint64_t(1) << 40),
      "past the end of its section"));

  size_t text = sectionHeader(elf, SHT_PROGBITS, SHF_EXECINSTR);
  ASSERT_NE(text, 0u);
  EXPECT_TRUE(rejects(withAt<uint64_t>(elf, text + offsetof(Elf64_Shdr, sh_addralign), 1 << 20),
                      "alignment"));
  EXPECT_TRUE(rejects(withAt<uint64_t>(elf, text + offsetof(Elf64_Shdr, sh_size), 1ull << 40),
                      "past the end of the"));
  EXPECT_TRUE(rejects(withAt<uint64_t>(elf, text + offsetof(Elf64_Shdr, sh_flags),
                                       SHF_ALLOC | SHF_EXECINSTR | SHF_TLS),
                      "thread-local"));
}

/// Every truncation and every flipped byte of a real object either loads or
/// is an Error(Format); the sanitizer stage checks that no read strays.
TEST(ObjectLoader, DamagedObjectsAreErrorsNotCrashes) {
  std::string elf = objectOf(tanhKernel());
  int rejected = 0;
  auto tryLoad = [&](const std::string &bytes) {
    try {
      LoadedObject::load(bytes, jit::kernelSymbol);
    } catch (const Error &e) {
      EXPECT_EQ(e.kind(), ErrorKind::Format) << e.what();
      ++rejected;
    }
  };
  for (size_t size = 0; size < elf.size(); ++size)
    tryLoad(elf.substr(0, size));
  EXPECT_EQ(rejected, int(elf.size())) << "every truncation is rejected";
  for (size_t i = 0; i < elf.size(); ++i) {
    std::string flipped = elf;
    flipped[i] = char(flipped[i] ^ 0xff);
    tryLoad(flipped);
  }
}

TEST(ObjectLoader, AnIntactCacheEntryWhoseObjectDoesNotLoadIsRebuilt) {
  TempDir dir;
  Function f = tanhKernel(1031);
  Jit(JitOptions{dir.path()}).compile(f, "k");
  std::string path;
  for (const auto &entry : std::filesystem::directory_iterator(dir.path()))
    path = entry.path().string();
  std::string entry;
  {
    std::ifstream in(path, std::ios::binary);
    entry.assign(std::istreambuf_iterator<char>(in), {});
  }
  // The entry's layout (DiskCache.cpp): magic, identity size, contents
  // size, checksum, identity, contents. Store an AArch64 object under the
  // same identity, with a checksum that holds.
  auto identitySize = readAt<uint64_t>(entry, 8);
  std::string identity = entry.substr(32, identitySize);
  std::string object = entry.substr(32 + identitySize);
  cache::DiskCache disk(dir.path(), ".kobj");
  disk.store(identity, withAt<uint16_t>(object, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64));
  ASSERT_TRUE(disk.load(identity).has_value()) << "intact for the disk cache";

  Jit jit(JitOptions{dir.path()});
  LoopKernel k = jit.compile(f, "k");
  EXPECT_EQ(jit.stats().diskHits, 0);
  EXPECT_EQ(jit.stats().compiled, 1);
  std::mt19937 rng(7);
  std::vector<HostTensor> inputs = {jittest::randomTensor(f.type(f.params()[0]), rng)};
  EXPECT_TRUE(jittest::matchesInterpreter(f, inputs, jittest::runKernel(k, f, inputs)));
  Jit warm(JitOptions{dir.path()}); // the rebuilt entry loads
  warm.compile(f, "k");
  EXPECT_EQ(warm.stats().diskHits, 1);
}
