//===- Error.cpp ----------------------------------------------------------===//
#include "kiln/ir/Error.h"

#include <fmt/format.h>

namespace kiln {

std::string Location::str() const {
  if (!known())
    return {};
  return fmt::format("{}:{}:{}", file ? *file : std::string("<input>"), line, col);
}

static std::string describe(const std::string &message, const std::string &where) {
  return where.empty() ? message : fmt::format("{}: error: {}", where, message);
}

Error::Error(ErrorKind kind, std::string message, std::string where)
    : std::runtime_error(describe(message, where)), kind_(kind), message_(std::move(message)),
      where_(std::move(where)) {}

void check(bool cond, const char *what) {
  if (!cond)
    throw Error(ErrorKind::Internal, fmt::format("internal error: {}", what));
}

} // namespace kiln
