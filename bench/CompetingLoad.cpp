//===- CompetingLoad.cpp --------------------------------------------------===//
#include "CompetingLoad.h"

#include "kiln/ir/Error.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace kiln::bench {

namespace {

/// The `index`-th CPU this process may run on (wrapping around), or -1.
int allowedCpu(int index) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) == 0)
    return -1;
  index %= CPU_COUNT(&set);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set) && index-- == 0)
      return cpu;
  return -1;
}

[[noreturn]] void spinForever(int cpu) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive the benchmark
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ::sched_setaffinity(0, sizeof set, &set);
  }
  for (;;)
    __asm__ __volatile__(""); // an observable side effect: the loop is not optimised away
}

} // namespace

CompetingLoad::CompetingLoad(int cpu) : cpu_(allowedCpu(cpu)) {
  pid_ = ::fork();
  if (pid_ < 0)
    throw Error(ErrorKind::Io, "cannot fork the competing load");
  if (pid_ == 0)
    spinForever(cpu_);
}

CompetingLoad::~CompetingLoad() {
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

} // namespace kiln::bench
