//===- ReadFile.cpp -------------------------------------------------------===//
#include "kiln/ir/ReadFile.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::ir {
namespace {

[[noreturn]] void ioError(const char *verb, const std::string &path, int err) {
  throw Error(ErrorKind::Io, fmt::format("cannot {} '{}': {}", verb, path == "-" ? "<stdin>" : path,
                                         std::strerror(err)));
}

/// Closes a descriptor it opened on scope exit (never standard input).
struct OwnedFd {
  int fd;
  bool owned;
  ~OwnedFd() {
    if (owned && fd >= 0)
      ::close(fd);
  }
};

} // namespace

std::string readFileBounded(const std::string &path, size_t maxBytes) {
  OwnedFd file{path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC),
               path != "-"};
  if (file.fd < 0)
    ioError("open", path, errno);
  struct stat st {};
  if (::fstat(file.fd, &st) != 0)
    ioError("read", path, errno);
  if (S_ISDIR(st.st_mode))
    ioError("read", path, EISDIR);
  // Opened: from here on, wait for data as any reader does (a FIFO without
  // writers reads as end of file, a pipe waits for its writer).
  if (file.owned) {
    int flags = ::fcntl(file.fd, F_GETFL);
    if (flags < 0 || ::fcntl(file.fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
      ioError("read", path, errno);
  }
  std::string out;
  if (int err = readUpTo(file.fd, maxBytes + 1, out))
    ioError("read", path, err);
  return out;
}

int readUpTo(int fd, size_t limit, std::string &out) {
  constexpr size_t kChunk = size_t(1) << 16;
  while (out.size() < limit) {
    size_t start = out.size(), want = std::min(kChunk, limit - start);
    out.resize(start + want);
    ssize_t n = ::read(fd, out.data() + start, want);
    int err = errno;
    out.resize(start + (n > 0 ? size_t(n) : 0));
    if (n < 0 && err == EINTR)
      continue;
    if (n < 0)
      return err;
    if (n == 0)
      break;
  }
  return 0;
}

} // namespace kiln::ir
