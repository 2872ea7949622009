//===- IrInput.cpp --------------------------------------------------------===//
#include "IrInput.h"

#include "kiln/ir/Parser.h"
#include "kiln/ir/ReadFile.h"
#include "kiln/ir/Verifier.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace kiln::tool {

namespace {

std::string displayName(const std::string &path) { return path == "-" ? "<stdin>" : path; }

[[noreturn]] void throwIo(const std::string &verb, const std::string &path, int err) {
  throw Error(ErrorKind::Io, fmt::format("cannot {} '{}': {}", verb, displayName(path),
                                         err ? std::strerror(err) : "I/O error"));
}

} // namespace

std::string readInput(const std::string &path, size_t maxBytes) {
  std::string text = ir::readFileBounded(path, maxBytes);
  if (text.size() > maxBytes)
    throw Error(ErrorKind::Resource, fmt::format("'{}' is larger than the limit of {} bytes",
                                                 displayName(path), maxBytes));
  return text;
}

ir::Module loadModule(const std::string &path) {
  ir::ParseLimits limits;
  std::string text = readInput(path, limits.maxBytes);
  ir::Module m = ir::parseModule(text, displayName(path), limits);
  ir::verify(m);
  return m;
}

static std::string functionList(const ir::Module &m) {
  std::string names;
  for (const ir::Function &f : m.functions)
    names += fmt::format("{}@{}", names.empty() ? "" : ", ", f.name());
  return names;
}

const ir::Function &selectFunction(const ir::Module &m, std::string_view name) {
  if (m.functions.empty())
    throw Error(ErrorKind::Usage, "the module has no functions");
  if (name.empty()) {
    if (m.functions.size() == 1)
      return m.functions.front();
    throw Error(ErrorKind::Usage,
                fmt::format("the module has {} functions ({}); choose one with --func",
                            m.functions.size(), functionList(m)));
  }
  if (name.front() == '@')
    name.remove_prefix(1);
  if (const ir::Function *f = m.find(name))
    return *f;
  throw Error(ErrorKind::Usage,
              fmt::format("no function @{} in the module (it has {})", name, functionList(m)));
}

void writeOutput(const std::string &path, std::string_view text) {
  if (path.empty() || path == "-") {
    std::cout.write(text.data(), std::streamsize(text.size()));
    std::cout.flush();
    if (!std::cout)
      throwIo("write", "<stdout>", errno);
    return;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    throwIo("open", path, errno);
  out.write(text.data(), std::streamsize(text.size()));
  out.close();
  if (!out)
    throwIo("write", path, errno);
}

} // namespace kiln::tool
