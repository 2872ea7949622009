//===- ChildProcess.h - Run a program, capture it, measure it ---*- C++ -*-===//
//
// The benchmarks run each configuration in its own process, so that every
// process's peak memory is its own: runChild forks, sets the extra
// environment variables, execs, captures stdout and stderr, and reaps the
// child with wait4 to read its peak resident set size (ru_maxrss).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kiln::bench {

struct ChildResult {
  /// The exit status (0-255), or 128 + the signal that ended it, or 127 when
  /// the program could not be started.
  int status = 0;
  std::string out, err;
  /// Peak resident set size of the child, in MB.
  double peakRssMb = 0;
  double wallSeconds = 0;
};

/// Runs `argv` (argv[0] is a path) with `env` added to this process's
/// environment and waits for it. Throws kiln::Error when it cannot fork.
ChildResult runChild(const std::vector<std::string> &argv,
                     const std::vector<std::pair<std::string, std::string>> &env = {});

} // namespace kiln::bench
