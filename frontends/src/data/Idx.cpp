//===- Idx.cpp - IDX reader and writer --------------------------------------===//
#include "kiln/data/Idx.h"

#include "AtomicFile.h"
#include "kiln/ir/Error.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>

namespace kiln::data {
namespace {

using ir::DType;

/// Bytes read from the decompressed stream at a time; also the most that
/// reading may allocate beyond the bytes the file really holds.
constexpr size_t kChunk = size_t(1) << 20;

std::string at(const std::filesystem::path &path, uint64_t offset) {
  return fmt::format("{} @ byte {}", path.string(), offset);
}

[[noreturn]] void formatError(const std::filesystem::path &path, uint64_t offset,
                              const std::string &message) {
  throw Error(ErrorKind::Format, message, at(path, offset));
}

/// One IDX element type: its code in the magic, its size in the file, and
/// the kiln dtype it is read as.
struct IdxType {
  uint8_t code;
  size_t fileSize;
  DType dtype;
  const char *name;
};

constexpr IdxType kIdxTypes[] = {
    {0x08, 1, DType::U8, "u8"},   {0x09, 1, DType::I64, "i8"},  {0x0B, 2, DType::I64, "i16"},
    {0x0C, 4, DType::I64, "i32"}, {0x0D, 4, DType::F32, "f32"}, {0x0E, 8, DType::F64, "f64"},
};

const IdxType *findIdxType(uint8_t code) {
  for (const IdxType &t : kIdxTypes)
    if (t.code == code)
      return &t;
  return nullptr;
}

/// Sequential reads from a raw or gzip-compressed file. Tracks the offset in
/// the (decompressed) stream for error messages.
class IdxInput {
public:
  explicit IdxInput(const std::filesystem::path &path) : path_(path) {
    // O_NONBLOCK: a FIFO that nobody writes must fail the regular-file
    // check below, not hang in open(); a regular file reads the same.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    file_ = fd < 0 ? nullptr : ::fdopen(fd, "rb");
    if (!file_) {
      int err = errno;
      if (fd >= 0)
        ::close(fd);
      throw Error(ErrorKind::Io, fmt::format("cannot open: {}", std::strerror(err)),
                  path.string());
    }
    struct stat st {};
    if (::fstat(::fileno(file_), &st) != 0 || !S_ISREG(st.st_mode)) {
      std::fclose(file_);
      throw Error(ErrorKind::Io, "not a regular file", path.string());
    }
    fileSize_ = uint64_t(st.st_size);
    unsigned char magic[2] = {0, 0};
    size_t n = std::fread(magic, 1, 2, file_);
    gzip_ = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (gzip_) {
      // The gzip trailer ends with the uncompressed size mod 2^32 (ISIZE).
      unsigned char isize[4] = {0, 0, 0, 0};
      if (fileSize_ >= 4 && std::fseek(file_, -4, SEEK_END) == 0 &&
          std::fread(isize, 1, 4, file_) == 4)
        gzipSize32_ = uint32_t(isize[0]) | uint32_t(isize[1]) << 8 | uint32_t(isize[2]) << 16 |
                      uint32_t(isize[3]) << 24;
      std::fclose(file_);
      file_ = nullptr;
      gz_ = ::gzopen(path.c_str(), "rb");
      if (!gz_)
        throw Error(ErrorKind::Io, "cannot open the gzip stream", path.string());
      ::gzbuffer(gz_, 1 << 16);
    } else {
      std::rewind(file_);
    }
  }
  ~IdxInput() {
    if (file_)
      std::fclose(file_);
    if (gz_)
      ::gzclose(gz_);
  }
  IdxInput(const IdxInput &) = delete;
  IdxInput &operator=(const IdxInput &) = delete;

  bool gzip() const { return gzip_; }
  /// The size of the file on disk (compressed, for gzip).
  uint64_t fileSize() const { return fileSize_; }
  /// For gzip, the uncompressed size mod 2^32 that the trailer claims.
  uint32_t gzipSize32() const { return gzipSize32_; }
  uint64_t offset() const { return offset_; }
  /// Bytes left in a raw file (not known for gzip).
  uint64_t rawBytesLeft() const { return fileSize_ - std::min(fileSize_, offset_); }

  /// Reads up to `size` bytes; returns how many (fewer only at the end).
  /// A corrupt gzip stream is an Error(Format).
  size_t read(void *dst, size_t size) {
    size_t done = 0;
    auto *out = static_cast<unsigned char *>(dst);
    while (done < size) {
      size_t want = std::min(size - done, kChunk);
      size_t got = gzip_ ? readGzip(out + done, want, offset_ + done)
                         : std::fread(out + done, 1, want, file_);
      if (!gzip_ && got < want && std::ferror(file_))
        throw Error(ErrorKind::Io, fmt::format("read failed: {}", std::strerror(errno)),
                    at(path_, offset_ + done));
      done += got;
      if (got < want)
        break;
    }
    offset_ += done;
    return done;
  }

  /// Reads exactly `size` bytes or throws Error(Format) naming `what`.
  void readExact(void *dst, size_t size, const char *what) {
    uint64_t start = offset_;
    size_t got = read(dst, size);
    if (got != size)
      formatError(path_, start + got,
                  fmt::format("file ends inside the {} ({} of {} bytes)", what, got, size));
  }

private:
  size_t readGzip(unsigned char *dst, size_t size, uint64_t offset) {
    int got = ::gzread(gz_, dst, unsigned(size));
    int code = Z_OK;
    const char *message = ::gzerror(gz_, &code);
    if (got < 0 || (code != Z_OK && code != Z_STREAM_END)) {
      // zlib prefixes its messages with the path, which where() already names.
      std::string text = message ? message : "unknown error";
      if (std::string prefix = path_.string() + ": "; text.starts_with(prefix))
        text.erase(0, prefix.size());
      formatError(path_, offset + size_t(std::max(got, 0)),
                  fmt::format("corrupt gzip stream: {}", text));
    }
    return size_t(got);
  }

  std::filesystem::path path_;
  std::FILE *file_ = nullptr;
  gzFile gz_ = nullptr;
  bool gzip_ = false;
  uint64_t fileSize_ = 0;
  uint32_t gzipSize32_ = 0;
  uint64_t offset_ = 0;
};

uint32_t bigEndian32(const unsigned char *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

uint64_t bigEndianN(const unsigned char *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v = v << 8 | p[i];
  return v;
}

/// Deflate cannot expand data more than about 1032 times.
constexpr uint64_t kMaxInflateRatio = 1032;

/// True when the file can hold `total` (decompressed) bytes: a raw file of
/// at least that size, or a gzip file whose trailer agrees and that is large
/// enough to inflate to it. Only then is the payload allocated up front.
bool canHold(const IdxInput &in, uint64_t total) {
  if (!in.gzip())
    return in.fileSize() >= total;
  return in.gzipSize32() == uint32_t(total) && total / kMaxInflateRatio <= in.fileSize();
}

[[noreturn]] void truncated(const IdxInput &in, const std::filesystem::path &path, uint64_t start,
                            uint64_t bytes, uint64_t got) {
  formatError(path, start + got,
              fmt::format("{} is truncated: the header declares {} bytes of data after byte {}, "
                          "the {} ends after {}",
                          in.gzip() ? "decompressed stream" : "file", bytes, start,
                          in.gzip() ? "stream" : "file", got));
}

void expectEnd(IdxInput &in, const std::filesystem::path &path, uint64_t end) {
  unsigned char extra;
  if (in.read(&extra, 1) != 0)
    formatError(path, end,
                fmt::format("trailing bytes after the {} bytes the header declares", end));
}

/// Reads exactly `bytes` into `dst` (allocated by a caller that checked canHold()).
void readPayloadInto(IdxInput &in, void *dst, uint64_t bytes, const std::filesystem::path &path) {
  uint64_t start = in.offset();
  size_t got = in.read(dst, size_t(bytes));
  if (got != bytes)
    truncated(in, path, start, bytes, got);
  expectEnd(in, path, start + bytes);
}

/// Reads `bytes` in chunks, so that a lying header cannot make us allocate
/// more than the stream really holds (plus one chunk).
std::vector<unsigned char> readPayload(IdxInput &in, uint64_t bytes,
                                       const std::filesystem::path &path) {
  uint64_t start = in.offset();
  if (!in.gzip() && in.rawBytesLeft() < bytes)
    truncated(in, path, start, bytes, in.rawBytesLeft());
  std::vector<unsigned char> data;
  while (data.size() < bytes) {
    size_t want = size_t(std::min<uint64_t>(bytes - data.size(), kChunk));
    size_t old = data.size();
    data.resize(old + want);
    size_t got = in.read(data.data() + old, want);
    if (got < want)
      truncated(in, path, start, bytes, old + got);
  }
  expectEnd(in, path, start + bytes);
  return data;
}

/// Converts big-endian file elements to the kiln tensor.
ir::HostTensor decode(const IdxType &type, ir::Shape shape, const std::vector<unsigned char> &raw) {
  ir::HostTensor t(ir::TensorType{type.dtype, std::move(shape)});
  int64_t n = t.numel();
  if (type.code == 0x08) {
    std::memcpy(t.raw(), raw.data(), size_t(n));
    return t;
  }
  for (int64_t i = 0; i < n; ++i) {
    const unsigned char *p = raw.data() + size_t(i) * type.fileSize;
    uint64_t bits = bigEndianN(p, type.fileSize);
    switch (type.code) {
    case 0x09:
      t.data<int64_t>()[i] = int8_t(uint8_t(bits));
      break;
    case 0x0B:
      t.data<int64_t>()[i] = int16_t(uint16_t(bits));
      break;
    case 0x0C:
      t.data<int64_t>()[i] = int32_t(uint32_t(bits));
      break;
    case 0x0D: {
      uint32_t b = uint32_t(bits);
      std::memcpy(&t.data<float>()[i], &b, 4);
      break;
    }
    case 0x0E:
      std::memcpy(&t.data<double>()[i], &bits, 8);
      break;
    }
  }
  return t;
}

} // namespace

ir::HostTensor readIdx(const std::filesystem::path &path, const IdxLimits &limits) {
  IdxInput in(path);
  unsigned char magic[4];
  in.readExact(magic, 4, "magic number");
  if (magic[0] != 0 || magic[1] != 0)
    formatError(path, 0,
                fmt::format("not an IDX file: magic {:02x} {:02x} {:02x} {:02x} does not start "
                            "with two zero bytes",
                            magic[0], magic[1], magic[2], magic[3]));
  const IdxType *type = findIdxType(magic[2]);
  if (!type)
    formatError(path, 2, fmt::format("unknown IDX element type 0x{:02x}", magic[2]));
  uint32_t rank = magic[3];
  if (rank > limits.maxRank)
    throw Error(ErrorKind::Resource,
                fmt::format("IDX rank {} is over the limit of {}", rank, limits.maxRank),
                at(path, 3));

  std::vector<unsigned char> dimBytes(size_t(rank) * 4);
  in.readExact(dimBytes.data(), dimBytes.size(), "dimensions");
  int64_t maxBytes = limits.maxBytes > 0 ? limits.maxBytes : ir::maxTensorBytes();
  std::vector<int64_t> dims;
  // The limit bounds both the file's payload and the tensor (i8..i32 grow to i64).
  uint64_t elementBytes = std::max(type->fileSize, ir::dtypeSize(type->dtype));
  uint64_t limitBytes = elementBytes;
  for (uint32_t i = 0; i < rank; ++i) {
    uint32_t d = bigEndian32(&dimBytes[size_t(i) * 4]);
    dims.push_back(d);
    // Checked before multiplying, so that the product cannot overflow.
    if (d != 0 && limitBytes > uint64_t(maxBytes) / d)
      throw Error(ErrorKind::Resource,
                  fmt::format("IDX dimensions [{}{}] of {} need more than the limit of {} bytes",
                              fmt::join(dims, ","), i + 1 < rank ? ",..." : "", type->name,
                              maxBytes),
                  at(path, 4 + uint64_t(i) * 4));
    limitBytes *= d;
  }
  uint64_t bytes = limitBytes / elementBytes * type->fileSize;
  if (type->dtype == DType::U8 && canHold(in, in.offset() + bytes)) {
    // Images: straight into the tensor, without a second copy of the data.
    ir::HostTensor t(ir::TensorType{DType::U8, ir::Shape(std::move(dims))});
    readPayloadInto(in, t.raw(), bytes, path);
    return t;
  }
  std::vector<unsigned char> raw = readPayload(in, bytes, path);
  return decode(*type, ir::Shape(std::move(dims)), raw);
}

namespace {

const IdxType &idxTypeFor(DType dtype) {
  switch (dtype) {
  case DType::U8:
    return kIdxTypes[0];
  case DType::I64:
    return kIdxTypes[3];
  case DType::F32:
    return kIdxTypes[4];
  case DType::F64:
    return kIdxTypes[5];
  case DType::Bool:
    break;
  }
  throw Error(ErrorKind::Usage, "IDX files cannot hold bool tensors");
}

std::vector<unsigned char> encode(const ir::HostTensor &t) {
  const IdxType &type = idxTypeFor(t.dtype());
  if (t.shape().rank() > 255)
    throw Error(ErrorKind::Usage, "IDX files hold at most rank 255");
  std::vector<unsigned char> out = {0, 0, type.code, uint8_t(t.shape().rank())};
  auto put = [&](uint64_t v, size_t n) {
    for (size_t i = n; i-- > 0;)
      out.push_back(uint8_t(v >> (8 * i)));
  };
  for (int64_t d : t.shape().dims()) {
    if (d > int64_t(std::numeric_limits<uint32_t>::max()))
      throw Error(ErrorKind::Usage, fmt::format("dimension {} does not fit IDX's u32", d));
    put(uint64_t(d), 4);
  }
  out.reserve(out.size() + size_t(t.numel()) * type.fileSize);
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype()) {
    case DType::U8:
      out.push_back(t.data<uint8_t>()[i]);
      break;
    case DType::I64: {
      int64_t v = t.data<int64_t>()[i];
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        throw Error(ErrorKind::Usage, fmt::format("value {} does not fit IDX's i32", v));
      put(uint32_t(int32_t(v)), 4);
      break;
    }
    case DType::F32: {
      uint32_t b;
      std::memcpy(&b, &t.data<float>()[i], 4);
      put(b, 4);
      break;
    }
    case DType::F64: {
      uint64_t b;
      std::memcpy(&b, &t.data<double>()[i], 8);
      put(b, 8);
      break;
    }
    case DType::Bool:
      break;
    }
  }
  return out;
}

std::vector<unsigned char> gzipCompress(const std::vector<unsigned char> &in) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (::deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    throw Error(ErrorKind::Internal, "deflateInit2 failed");
  std::vector<unsigned char> out(::deflateBound(&zs, uLong(in.size())) + 64);
  zs.next_in = const_cast<unsigned char *>(in.data());
  zs.avail_in = uInt(in.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  int rc = ::deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  ::deflateEnd(&zs);
  if (rc != Z_STREAM_END)
    throw Error(ErrorKind::Internal, "deflate did not finish");
  return out;
}

} // namespace

void writeIdx(const std::filesystem::path &path, const ir::HostTensor &t, bool gzip) {
  std::vector<unsigned char> bytes = encode(t);
  if (gzip)
    bytes = gzipCompress(bytes);
  detail::writeFileAtomically(
      path, [&](const detail::AtomicWriter &write) { write(std::as_bytes(std::span(bytes))); });
}

} // namespace kiln::data
