//===- AtomicFile.cpp -----------------------------------------------------===//
//
// What careful tools (install(1), SQLite, git) do when they replace a file:
// refuse what is not a regular file, write through symbolic links to the real
// file, keep its permissions, never leave a temporary file behind for good,
// and name the file the user gave in every error.
//
//===----------------------------------------------------------------------===//
#include "AtomicFile.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::detail {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void ioError(const std::string &what, const fs::path &path, int error = errno) {
  throw Error(ErrorKind::Io, fmt::format("{}: {}", what, std::strerror(error)), path.string());
}

std::string describeFileType(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

/// The file to replace: `path` with every symbolic link resolved (a link to
/// a file that does not exist yet names the file to create).
fs::path resolveTarget(const fs::path &path) {
  fs::path target = path;
  for (int hops = 0; hops < 40; ++hops) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(target, ec)))
      return target;
    fs::path next = fs::read_symlink(target, ec);
    if (ec)
      ioError("cannot read the symbolic link", target, ec.value());
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  throw Error(ErrorKind::Io, "too many levels of symbolic links", path.string());
}

/// The existing target's mode and ownership, or nothing when it does not
/// exist; refuses a target that is not a single regular file.
std::optional<struct stat> existingTarget(const fs::path &target, const fs::path &given) {
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return std::nullopt;
    ioError("cannot inspect the file to replace", given);
  }
  if (!S_ISREG(st.st_mode))
    throw Error(ErrorKind::Io,
                fmt::format("refusing to replace {}: it is {}", target.string(),
                            describeFileType(st.st_mode)),
                given.string());
  if (st.st_nlink > 1)
    throw Error(ErrorKind::Io,
                fmt::format("refusing to replace {}: it has {} hard links, and a new file would "
                            "leave the others holding the old data",
                            target.string(), st.st_nlink),
                given.string());
  return st;
}

std::string tempPrefix(const fs::path &target) {
  return "." + target.filename().string() + ".tmp.";
}

/// Removes temporary files of earlier saves of `target` that were killed
/// before they finished. A save in progress holds a lock on its temporary
/// file, so only abandoned ones can be locked here.
void removeAbandonedTemps(const fs::path &dir, const fs::path &target) {
  std::string prefix = tempPrefix(target);
  std::error_code ec;
  for (const fs::directory_entry &entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() != prefix.size() + 6 || !name.starts_with(prefix) || !entry.is_regular_file(ec))
      continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
      continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
      ::unlink(entry.path().c_str());
    ::close(fd);
  }
}

/// An open, locked temporary file next to the target; closed and (unless
/// renamed) removed on scope exit.
class TempFile {
public:
  TempFile(const fs::path &target, const fs::path &given) : given_(given) {
    fs::path dir = target.parent_path().empty() ? "." : target.parent_path();
    removeAbandonedTemps(dir, target);
    name_ = (dir / (tempPrefix(target) + "XXXXXX")).string();
    fd_ = ::mkostemp(name_.data(), O_CLOEXEC);
    if (fd_ < 0)
      ioError(fmt::format("cannot create a temporary file in {}", dir.string()), given_);
    ::flock(fd_, LOCK_EX); // a fresh file: nobody else holds it
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
        ioError("cannot write", given_, n == 0 ? ENOSPC : errno);
      p += n;
      left -= size_t(n);
    }
  }

  /// Gives the file `existing`'s permissions (and owner, where allowed), or
  /// those of a plainly created file; then makes it durable and renames it
  /// over `target`.
  void commit(const fs::path &target, const std::optional<struct stat> &existing) {
    if (existing) {
      ::fchmod(fd_, existing->st_mode & 07777);
      if (::fchown(fd_, existing->st_uid, existing->st_gid) != 0) {
        // Not the owner: the file becomes ours, as with any editor's save.
      }
    } else {
      mode_t mask = ::umask(0);
      ::umask(mask);
      ::fchmod(fd_, 0666 & ~mask);
    }
    if (::fsync(fd_) != 0)
      ioError("cannot flush to disk", given_);
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0)
      ioError("cannot close", given_);
    if (::rename(name_.c_str(), target.c_str()) != 0)
      ioError(fmt::format("cannot rename the temporary file {} to {}", name_, target.string()),
              given_);
    renamed_ = true;
    syncDirectory(target);
  }

private:
  void syncDirectory(const fs::path &target) const {
    fs::path dir = target.parent_path().empty() ? "." : target.parent_path();
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
      ioError(fmt::format("cannot open {} to flush it", dir.string()), given_);
    int rc = ::fsync(dfd);
    int error = errno;
    ::close(dfd);
    if (rc != 0)
      ioError(fmt::format("cannot flush {} to disk", dir.string()), given_, error);
  }

  fs::path given_;
  std::string name_;
  int fd_ = -1;
  bool renamed_ = false;
};

} // namespace

void writeFileAtomically(const fs::path &path,
                         const std::function<void(const AtomicWriter &)> &produce) {
  fs::path target = resolveTarget(path);
  std::optional<struct stat> existing = existingTarget(target, path);
  TempFile temp(target, path);
  produce([&](std::span<const std::byte> bytes) { temp.write(bytes); });
  temp.commit(target, existing);
}

} // namespace kiln::detail
