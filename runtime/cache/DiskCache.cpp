//===- DiskCache.cpp - Entries kept on disk across processes --------------===//
#include "DiskCache.h"
#include "kiln/ir/ReadFile.h"
#include "kiln/ir/SplitMix.h"

#include <fmt/format.h>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::runtime::cache {

namespace {

static_assert(std::endian::native == std::endian::little, "the header is read as little-endian");

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'O', 'B', 'J', '2'};
/// magic, identity size, contents size, checksum of the contents: four 64-bit words.
constexpr size_t kHeaderSize = 32;
/// Larger entries are not kiln's (kernels are a few KB, verdicts a byte): a miss.
constexpr uint64_t kMaxEntryBytes = uint64_t(64) << 20;

/// A 64-bit hash of `bytes` for file names and the damage check, 8 bytes a
/// step through splitmix64, the same in every run and build. Not
/// cryptographic: a load compares the identity in full.
uint64_t checksum(std::string_view bytes) {
  using ir::splitMix64;
  uint64_t h = splitMix64(bytes.size());
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = splitMix64(h ^ word);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  return splitMix64(h ^ tail);
}

uint64_t read64(const char *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void write64(char *p, uint64_t v) { std::memcpy(p, &v, 8); }

std::string fromEnvOrOption(const std::string &option) {
  if (!option.empty())
    return option;
  if (const char *env = std::getenv("KILN_CACHE_DIR"); env && *env)
    return env;
  if (const char *home = std::getenv("HOME"); home && *home)
    return (std::filesystem::path(home) / ".cache" / "kiln").string();
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

/// Writes all of `bytes` to `fd`, retrying interrupted and short writes.
bool writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    bytes.remove_prefix(size_t(n));
  }
  return true;
}

} // namespace

std::string resolveCacheDir(const std::string &option) {
  std::string dir = fromEnvOrOption(option);
  return dir == "off" ? "" : dir;
}

DiskCache::DiskCache(std::string dir, std::string suffix)
    : dir_(std::move(dir)), suffix_(std::move(suffix)) {
  std::error_code ec;
  if (!dir_.empty() && !std::filesystem::create_directories(dir_, ec) &&
      !std::filesystem::is_directory(dir_, ec))
    dir_.clear(); // unusable: run without a disk cache
}

std::string DiskCache::path(std::string_view identity) const {
  return fmt::format("{}/{:016x}{}", dir_, checksum(identity), suffix_);
}

std::optional<std::string> DiskCache::load(std::string_view identity) const {
  if (!enabled())
    return std::nullopt;
  std::optional<std::string> file = readEntry(path(identity));
  if (!file)
    return std::nullopt;
  std::string_view bytes = *file;
  if (bytes.size() < kHeaderSize || !bytes.starts_with(std::string_view(kMagic, 8)))
    return std::nullopt;
  uint64_t identitySize = read64(bytes.data() + 8), contentsSize = read64(bytes.data() + 16);
  std::string_view rest = bytes.substr(kHeaderSize);
  if (identitySize != identity.size() || rest.size() != identitySize + contentsSize ||
      rest.substr(0, identitySize) != identity)
    return std::nullopt;
  std::string_view contents = rest.substr(identitySize);
  if (read64(bytes.data() + 24) != checksum(contents))
    return std::nullopt;
  return std::string(contents);
}

void DiskCache::store(std::string_view identity, std::string_view contents) const {
  if (!enabled())
    return;
  std::string final = path(identity);
  std::string temp = final + ".tmp-XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0)
    return;
  char header[kHeaderSize];
  std::memcpy(header, kMagic, 8);
  write64(header + 8, identity.size());
  write64(header + 16, contents.size());
  write64(header + 24, checksum(contents));
  bool written = writeAll(fd, std::string_view(header, kHeaderSize)) && writeAll(fd, identity) &&
                 writeAll(fd, contents);
  written = ::close(fd) == 0 && written;
  // rename() replaces whatever has the name, even a FIFO planted there.
  if (!written || std::rename(temp.c_str(), final.c_str()) != 0)
    ::unlink(temp.c_str());
}

void DiskCache::remove(std::string_view identity) const {
  if (enabled())
    ::unlink(path(identity).c_str());
}

} // namespace kiln::runtime::cache
