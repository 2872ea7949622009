//===- AtomicFile.cpp -----------------------------------------------------===//
#include "AtomicFile.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::detail {
namespace {

[[noreturn]] void ioError(const std::string &what, const std::filesystem::path &path) {
  throw Error(ErrorKind::Io, fmt::format("{}: {}", what, std::strerror(errno)), path.string());
}

/// An open descriptor that is closed (and, unless released, its file removed) on scope exit.
class TempFile {
public:
  explicit TempFile(const std::filesystem::path &target) {
    std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
    name_ = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
    fd_ = ::mkstemp(name_.data());
    if (fd_ < 0)
      ioError("cannot create a temporary file next to it", target);
  }
  ~TempFile() {
    if (fd_ >= 0)
      ::close(fd_);
    if (!renamed_)
      ::unlink(name_.c_str());
  }
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;

  void write(std::span<const std::byte> bytes) {
    const std::byte *p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        ioError("cannot write", name_);
      p += n;
      left -= size_t(n);
    }
  }

  void commit(const std::filesystem::path &target) {
    // Give the file the permissions a plainly created file would get.
    mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd_, 0666 & ~mask);
    if (::fsync(fd_) != 0)
      ioError("cannot flush to disk", name_);
    if (::close(fd_) != 0) {
      fd_ = -1;
      ioError("cannot close", name_);
    }
    fd_ = -1;
    if (::rename(name_.c_str(), target.c_str()) != 0)
      ioError(fmt::format("cannot rename {} to it", name_), target);
    renamed_ = true;
    syncDirectory(target);
  }

private:
  static void syncDirectory(const std::filesystem::path &target) {
    std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
      ioError("cannot open the directory to flush it", dir);
    int rc = ::fsync(dfd);
    ::close(dfd);
    if (rc != 0)
      ioError("cannot flush the directory to disk", dir);
  }

  std::string name_;
  int fd_ = -1;
  bool renamed_ = false;
};

} // namespace

void writeFileAtomically(const std::filesystem::path &path,
                         const std::function<void(const AtomicWriter &)> &produce) {
  TempFile temp(path);
  produce([&](std::span<const std::byte> bytes) { temp.write(bytes); });
  temp.commit(path);
}

} // namespace kiln::detail
