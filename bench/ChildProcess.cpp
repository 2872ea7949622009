//===- ChildProcess.cpp - Run a program, capture it, measure it -----------===//
#include "ChildProcess.h"
#include "Timing.h"

#include "kiln/ir/Error.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kiln::bench {

namespace {

/// Reads both pipes until both are closed (reading one at a time could
/// deadlock when the child fills the other).
void drain(int outFd, int errFd, std::string &out, std::string &err) {
  pollfd fds[2] = {{outFd, POLLIN, 0}, {errFd, POLLIN, 0}};
  std::string *sinks[2] = {&out, &err};
  int open = 2;
  char buffer[65536];
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, size_t(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
}

[[noreturn]] void execChild(const std::vector<std::string> &argv,
                            const std::vector<std::pair<std::string, std::string>> &env, int outFd,
                            int errFd) {
  ::dup2(outFd, STDOUT_FILENO);
  ::dup2(errFd, STDERR_FILENO);
  for (const auto &[name, value] : env)
    ::setenv(name.c_str(), value.c_str(), 1);
  std::vector<char *> args;
  for (const std::string &a : argv)
    args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  std::string message = "cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
  (void)!::write(STDERR_FILENO, message.data(), message.size());
  ::_exit(127);
}

} // namespace

ChildResult runChild(const std::vector<std::string> &argv,
                     const std::vector<std::pair<std::string, std::string>> &env) {
  int outPipe[2], errPipe[2];
  if (argv.empty() || ::pipe2(outPipe, O_CLOEXEC) != 0)
    throw Error(ErrorKind::Io, "cannot create a pipe for a child process");
  if (::pipe2(errPipe, O_CLOEXEC) != 0) {
    ::close(outPipe[0]);
    ::close(outPipe[1]);
    throw Error(ErrorKind::Io, "cannot create a pipe for a child process");
  }
  int64_t start = nowNs();
  pid_t pid = ::fork();
  if (pid == 0)
    execChild(argv, env, outPipe[1], errPipe[1]);
  ::close(outPipe[1]);
  ::close(errPipe[1]);
  if (pid < 0) {
    ::close(outPipe[0]);
    ::close(errPipe[0]);
    throw Error(ErrorKind::Io, "cannot fork to run " + argv[0]);
  }
  ChildResult r;
  drain(outPipe[0], errPipe[0], r.out, r.err);
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  r.wallSeconds = double(nowNs() - start) * 1e-9;
  r.peakRssMb = double(usage.ru_maxrss) / 1024.0; // kB on Linux
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

} // namespace kiln::bench
