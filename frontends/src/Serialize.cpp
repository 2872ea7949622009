//===- Serialize.cpp - safetensors save and load ----------------------------===//
#include "kiln/Serialize.h"

#include "SafetensorsHeader.h"
#include "data/AtomicFile.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; kiln writes host memory as is");

using detail::SafetensorsEntry;
using detail::SafetensorsHeader;

std::string at(const std::filesystem::path &path, uint64_t offset) {
  return fmt::format("{} @ byte {}", path.string(), offset);
}

void putU64(std::byte *out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out[i] = std::byte(v >> (8 * i));
}

/// A read-only file descriptor with its size.
class InputFile {
public:
  explicit InputFile(const std::filesystem::path &path) : path_(path) {
    // O_NONBLOCK: a FIFO that nobody writes must fail the check below, not
    // hang in open(); a regular file reads the same either way.
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0)
      throw Error(ErrorKind::Io, fmt::format("cannot open: {}", std::strerror(errno)),
                  path.string());
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw Error(ErrorKind::Io, "not a regular file", path.string());
    }
    size_ = uint64_t(st.st_size);
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile &) = delete;
  InputFile &operator=(const InputFile &) = delete;

  uint64_t size() const { return size_; }

  /// Reads exactly `n` bytes at `offset` (the caller checked the size).
  void readAt(void *dst, size_t n, uint64_t offset) const {
    auto *out = static_cast<char *>(dst);
    while (n > 0) {
      ssize_t got = ::pread(fd_, out, n, off_t(offset));
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        throw Error(ErrorKind::Io,
                    got < 0 ? fmt::format("read failed: {}", std::strerror(errno))
                            : std::string("file shrank while being read"),
                    at(path_, offset));
      out += got;
      n -= size_t(got);
      offset += uint64_t(got);
    }
  }

private:
  std::filesystem::path path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

/// Bytes that the entry's dtype and shape need; Error(Format) on overflow.
uint64_t entryBytes(const SafetensorsEntry &e, const std::filesystem::path &path,
                    uint64_t entryOffset) {
  uint64_t bytes = ir::dtypeSize(e.dtype);
  for (int64_t d : e.shape) {
    if (d != 0 && bytes > std::numeric_limits<uint64_t>::max() / uint64_t(d))
      throw Error(
          ErrorKind::Format,
          fmt::format("tensor \"{}\": shape [{}] overflows", e.name, fmt::join(e.shape, ",")),
          at(path, entryOffset));
    bytes *= uint64_t(d);
  }
  return bytes;
}

/// Checks each entry's size against its offsets, then that the entries tile
/// the data area exactly (sorted by offset: no overlap, no gap, no excess).
void checkLayout(const SafetensorsHeader &header, uint64_t dataStart, uint64_t dataSize,
                 const std::filesystem::path &path) {
  std::vector<const SafetensorsEntry *> sorted;
  for (const SafetensorsEntry &e : header.entries) {
    uint64_t entryAt = 8 + e.headerOffset;
    if (e.begin > e.end)
      throw Error(ErrorKind::Format,
                  fmt::format("tensor \"{}\": data_offsets [{},{}] end before they begin", e.name,
                              e.begin, e.end),
                  at(path, entryAt));
    uint64_t need = entryBytes(e, path, entryAt);
    if (e.end - e.begin != need)
      throw Error(ErrorKind::Format,
                  fmt::format("tensor \"{}\": {}[{}] needs {} bytes but data_offsets [{},{}] "
                              "span {}",
                              e.name, detail::safetensorsDTypeName(e.dtype),
                              fmt::join(e.shape, ","), need, e.begin, e.end, e.end - e.begin),
                  at(path, entryAt));
    if (e.end > dataSize)
      throw Error(ErrorKind::Format,
                  fmt::format("tensor \"{}\": data_offsets [{},{}] run past the end of the data "
                              "({} bytes); the file is truncated or corrupt",
                              e.name, e.begin, e.end, dataSize),
                  at(path, dataStart + dataSize));
    sorted.push_back(&e);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto *a, const auto *b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expected = 0;
  for (const SafetensorsEntry *e : sorted) {
    if (e->begin < expected)
      throw Error(ErrorKind::Format,
                  fmt::format("tensor \"{}\": data_offsets [{},{}] overlap another tensor's data",
                              e->name, e->begin, e->end),
                  at(path, 8 + e->headerOffset));
    if (e->begin > expected)
      throw Error(ErrorKind::Format,
                  fmt::format("data bytes [{},{}) belong to no tensor (next: \"{}\")", expected,
                              e->begin, e->name),
                  at(path, dataStart + expected));
    expected = e->end;
  }
  if (expected != dataSize)
    throw Error(ErrorKind::Format,
                fmt::format("{} bytes of data after the last tensor belong to no tensor",
                            dataSize - expected),
                at(path, dataStart + expected));
}

Tensor readEntry(const InputFile &file, const SafetensorsEntry &e, uint64_t dataStart,
                 const std::filesystem::path &path) {
  ir::HostTensor t(ir::TensorType{e.dtype, ir::Shape(e.shape)});
  file.readAt(t.raw(), t.bytes(), dataStart + e.begin);
  if (e.dtype == ir::DType::Bool) {
    const auto *bytes = t.data<uint8_t>();
    for (int64_t i = 0; i < t.numel(); ++i)
      if (bytes[i] > 1)
        throw Error(
            ErrorKind::Format,
            fmt::format("tensor \"{}\": bool element {} is {}, not 0 or 1", e.name, i, bytes[i]),
            at(path, dataStart + e.begin + uint64_t(i)));
  }
  return Tensor(std::move(t));
}

void checkText(std::string_view text, std::string_view what) {
  if (!detail::isUtf8(text))
    throw Error(ErrorKind::Usage,
                fmt::format("{} is not valid UTF-8, which safetensors requires", what));
}

void checkNames(const NamedTensors &tensors, const TensorMetadata &metadata) {
  std::set<std::string_view> names;
  for (const auto &[name, tensor] : tensors) {
    checkText(name, "a tensor name");
    if (name == "__metadata__")
      throw Error(ErrorKind::Usage,
                  fmt::format("cannot save a tensor named \"{}\" in safetensors", name));
    if (!names.insert(name).second)
      throw Error(ErrorKind::Usage, fmt::format("two tensors are named \"{}\"", name));
    if (!tensor.defined())
      throw Error(ErrorKind::Usage, fmt::format("tensor \"{}\" is undefined", name));
  }
  std::set<std::string_view> keys;
  for (const auto &[key, value] : metadata) {
    checkText(key, "a metadata key");
    checkText(value, fmt::format("the metadata value of \"{}\"", key));
    if (!keys.insert(key).second)
      throw Error(ErrorKind::Usage, fmt::format("two metadata entries are named \"{}\"", key));
  }
}

} // namespace

void save_safetensors(const std::filesystem::path &path, const NamedTensors &tensors,
                      const TensorMetadata &metadata) {
  checkNames(tensors, metadata);
  SafetensorsHeader header;
  header.metadata = metadata;
  std::vector<ir::HostTensor> values;
  uint64_t offset = 0;
  for (const auto &[name, tensor] : tensors) {
    const ir::HostTensor &host = tensor.host();
    values.push_back(host);
    SafetensorsEntry e;
    e.name = name;
    e.dtype = host.dtype();
    e.shape = host.shape().toVector();
    e.begin = offset;
    e.end = offset + host.bytes();
    offset = e.end;
    header.entries.push_back(std::move(e));
  }
  std::string json = detail::printSafetensorsHeader(header);
  detail::writeFileAtomically(path, [&](const detail::AtomicWriter &write) {
    std::byte length[8];
    putU64(length, json.size());
    write(length);
    write(std::as_bytes(std::span(json)));
    for (const ir::HostTensor &v : values)
      write(std::span(static_cast<const std::byte *>(v.raw()), v.bytes()));
  });
}

SafetensorsContents read_safetensors(const std::filesystem::path &path,
                                     const SafetensorsLimits &limits) {
  InputFile file(path);
  if (file.size() < 8)
    throw Error(
        ErrorKind::Format,
        fmt::format("file of {} bytes is too short for a safetensors header length", file.size()),
        at(path, file.size()));
  unsigned char lengthBytes[8];
  file.readAt(lengthBytes, 8, 0);
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = headerSize << 8 | lengthBytes[i];
  if (headerSize > limits.maxHeaderBytes)
    throw Error(ErrorKind::Resource,
                fmt::format("header length {} is over the limit of {} bytes", headerSize,
                            limits.maxHeaderBytes),
                at(path, 0));
  if (headerSize > file.size() - 8)
    throw Error(ErrorKind::Format,
                fmt::format("header length {} is more than the {} bytes after it; the file is "
                            "truncated or not safetensors",
                            headerSize, file.size() - 8),
                at(path, 0));
  std::string json(size_t(headerSize), '\0');
  file.readAt(json.data(), json.size(), 8);
  if (json.empty() || json[0] != '{')
    throw Error(ErrorKind::Format, "the header is not a JSON object", at(path, 8));

  SafetensorsHeader header;
  try {
    header = detail::parseSafetensorsHeader(json, limits);
  } catch (const detail::HeaderError &e) {
    throw Error(e.kind, "bad safetensors header: " + e.message, at(path, 8 + e.offset));
  }
  uint64_t dataStart = 8 + headerSize;
  checkLayout(header, dataStart, file.size() - dataStart, path);

  SafetensorsContents contents;
  contents.metadata = std::move(header.metadata);
  for (const SafetensorsEntry &e : header.entries)
    contents.tensors.emplace_back(e.name, readEntry(file, e, dataStart, path));
  return contents;
}

NamedTensors load_safetensors(const std::filesystem::path &path, const SafetensorsLimits &limits) {
  return read_safetensors(path, limits).tensors;
}

} // namespace kiln
