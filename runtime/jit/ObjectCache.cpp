//===- ObjectCache.cpp - Compiled kernels on disk -------------------------===//
#include "ObjectCache.h"
#include "kiln/ir/ReadFile.h"

#include <llvm/Support/Endian.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/Path.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/xxhash.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::runtime::jit {

namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'O', 'B', 'J', '2'};
/// magic, identity size, object size, checksum of the object: four 64-bit words.
constexpr size_t kHeaderSize = 32;
/// Larger entries are not kernels of kiln's (they are a few KB): a miss.
constexpr uint64_t kMaxEntryBytes = uint64_t(64) << 20;

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

/// The whole file at `path` if it is a regular file (not a FIFO, device or
/// symbolic link) of at most kMaxEntryBytes; opened without blocking.
std::optional<std::string> readEntry(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  struct stat st {};
  std::optional<std::string> bytes;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && uint64_t(st.st_size) <= kMaxEntryBytes) {
    bytes.emplace();
    bytes->reserve(size_t(st.st_size));
    if (ir::readUpTo(fd, size_t(st.st_size), *bytes) != 0 || bytes->size() != size_t(st.st_size))
      bytes.reset(); // unreadable, or shorter than it said
  }
  ::close(fd);
  return bytes;
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

std::string DiskObjectCache::path(const std::string &identity) const {
  llvm::SmallString<256> p(dir_);
  llvm::sys::path::append(p, llvm::formatv("{0:x-16}.kobj", checksum(identity)).str());
  return std::string(p.str());
}

std::unique_ptr<llvm::MemoryBuffer> DiskObjectCache::load(const std::string &identity) const {
  if (!enabled())
    return nullptr;
  std::optional<std::string> file = readEntry(path(identity));
  if (!file)
    return nullptr;
  llvm::StringRef bytes = *file;
  if (bytes.size() < kHeaderSize || !bytes.starts_with(llvm::StringRef(kMagic, 8)))
    return nullptr;
  using llvm::support::endian::read64le;
  uint64_t identitySize = read64le(bytes.data() + 8), objectSize = read64le(bytes.data() + 16);
  llvm::StringRef rest = bytes.drop_front(kHeaderSize);
  if (identitySize != identity.size() || rest.size() != identitySize + objectSize ||
      rest.take_front(identitySize) != identity)
    return nullptr;
  llvm::StringRef object = rest.drop_front(identitySize);
  if (read64le(bytes.data() + 24) != checksum(object))
    return nullptr;
  return llvm::MemoryBuffer::getMemBufferCopy(object, path(identity));
}

void DiskObjectCache::store(const std::string &identity, llvm::StringRef object) const {
  if (!enabled())
    return;
  std::string final = path(identity);
  int fd;
  llvm::SmallString<256> temp;
  if (llvm::sys::fs::createUniqueFile(final + ".tmp-%%%%%%%%", fd, temp))
    return;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    char header[kHeaderSize];
    std::memcpy(header, kMagic, 8);
    using llvm::support::endian::write64le;
    write64le(header + 8, identity.size());
    write64le(header + 16, object.size());
    write64le(header + 24, checksum(object));
    os.write(header, kHeaderSize);
    os << identity << object;
    os.close();
    if (os.has_error()) {
      os.clear_error();
      llvm::sys::fs::remove(temp);
      return;
    }
  }
  // rename() replaces whatever has the name, even a FIFO planted there.
  if (llvm::sys::fs::rename(temp, final))
    llvm::sys::fs::remove(temp);
}

void DiskObjectCache::remove(const std::string &identity) const {
  if (enabled())
    llvm::sys::fs::remove(path(identity));
}

} // namespace kiln::runtime::jit
