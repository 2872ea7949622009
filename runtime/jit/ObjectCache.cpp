//===- ObjectCache.cpp - Compiled kernels on disk -------------------------===//
#include "ObjectCache.h"

#include <llvm/IR/Module.h>
#include <llvm/Support/Endian.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/Path.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/xxhash.h>

#include <cstdlib>
#include <cstring>
#include <optional>

namespace kiln::runtime::jit {

namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'O', 'B', 'J', '1'};
/// magic, key, object size, checksum of the object: four 64-bit words.
constexpr size_t kHeaderSize = 32;
constexpr llvm::StringLiteral kModulePrefix = "kiln-kernel-";

uint64_t checksum(llvm::StringRef bytes) {
  return llvm::xxh3_64bits(
      llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size()));
}

std::string fromEnvOrOption(const std::string &option) {
  if (!option.empty())
    return option;
  if (const char *env = std::getenv("KILN_CACHE_DIR"); env && *env)
    return env;
  if (const char *home = std::getenv("HOME"); home && *home) {
    llvm::SmallString<256> dir(home);
    llvm::sys::path::append(dir, ".cache", "kiln");
    return std::string(dir.str());
  }
  return "";
}

/// The key of a module named by DiskObjectCache::moduleIdentifier, if it is one.
std::optional<uint64_t> keyOf(const llvm::Module *m) {
  llvm::StringRef id = m->getModuleIdentifier();
  uint64_t key;
  if (!id.consume_front(kModulePrefix) || id.getAsInteger(16, key))
    return std::nullopt;
  return key;
}

} // namespace

std::string resolveCacheDir(const std::string &option) {
  std::string dir = fromEnvOrOption(option);
  return dir == "off" ? "" : dir;
}

DiskObjectCache::DiskObjectCache(std::string dir) : dir_(std::move(dir)) {
  if (!dir_.empty() && llvm::sys::fs::create_directories(dir_))
    dir_.clear(); // unusable: run without a disk cache
}

std::string DiskObjectCache::path(uint64_t key) const {
  llvm::SmallString<256> p(dir_);
  llvm::sys::path::append(p, llvm::formatv("{0:x-16}.kobj", key).str());
  return std::string(p.str());
}

std::string DiskObjectCache::moduleIdentifier(uint64_t key) {
  return (kModulePrefix + llvm::formatv("{0:x-16}", key).str()).str();
}

std::unique_ptr<llvm::MemoryBuffer> DiskObjectCache::load(uint64_t key) const {
  if (!enabled())
    return nullptr;
  auto file = llvm::MemoryBuffer::getFile(path(key), /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file)
    return nullptr;
  llvm::StringRef bytes = (*file)->getBuffer();
  if (bytes.size() < kHeaderSize || !bytes.starts_with(llvm::StringRef(kMagic, 8)))
    return nullptr;
  using llvm::support::endian::read64le;
  llvm::StringRef object = bytes.drop_front(kHeaderSize);
  if (read64le(bytes.data() + 8) != key || read64le(bytes.data() + 16) != object.size() ||
      read64le(bytes.data() + 24) != checksum(object))
    return nullptr;
  // A copy, because the object must outlive the mapped file's buffer.
  return llvm::MemoryBuffer::getMemBufferCopy(object, path(key));
}

void DiskObjectCache::store(uint64_t key, llvm::StringRef object) const {
  if (!enabled())
    return;
  std::string final = path(key);
  int fd;
  llvm::SmallString<256> temp;
  if (llvm::sys::fs::createUniqueFile(final + ".tmp-%%%%%%%%", fd, temp))
    return;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    char header[kHeaderSize];
    std::memcpy(header, kMagic, 8);
    using llvm::support::endian::write64le;
    write64le(header + 8, key);
    write64le(header + 16, object.size());
    write64le(header + 24, checksum(object));
    os.write(header, kHeaderSize);
    os << object;
    os.close();
    if (os.has_error()) {
      os.clear_error();
      llvm::sys::fs::remove(temp);
      return;
    }
  }
  if (llvm::sys::fs::rename(temp, final))
    llvm::sys::fs::remove(temp);
}

void DiskObjectCache::remove(uint64_t key) const {
  if (enabled())
    llvm::sys::fs::remove(path(key));
}

void DiskObjectCache::notifyObjectCompiled(const llvm::Module *m, llvm::MemoryBufferRef object) {
  if (auto key = keyOf(m))
    store(*key, object.getBuffer());
}

std::unique_ptr<llvm::MemoryBuffer> DiskObjectCache::getObject(const llvm::Module *m) {
  auto key = keyOf(m);
  return key ? load(*key) : nullptr;
}

} // namespace kiln::runtime::jit
