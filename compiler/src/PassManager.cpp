//===- PassManager.cpp ----------------------------------------------------===//
#include "kiln/compiler/Pass.h"
#include "kiln/ir/Printer.h"
#include "kiln/ir/Verifier.h"

#include <fmt/format.h>

#include <fstream>

namespace kiln::compiler {

using namespace kiln::ir;

void PassManager::addPipeline(std::string_view list) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos)
      end = list.size();
    std::string_view name = list.substr(start, end - start);
    start = end + 1;
    if (name.empty()) {
      if (list.empty())
        return; // no passes
      throw Error(ErrorKind::Usage, fmt::format("empty pass name in '{}'", list));
    }
    const PassInfo *found = nullptr;
    for (const PassInfo &info : registeredPasses())
      if (info.name == name)
        found = &info;
    if (!found) {
      std::string known;
      for (const PassInfo &info : registeredPasses())
        known += fmt::format("{}{}", known.empty() ? "" : ", ", info.name);
      throw Error(ErrorKind::Usage, fmt::format("unknown pass '{}' (known: {})", name, known));
    }
    add(found->create(options_.context));
  }
}

Function PassManager::run(Function f) {
  for (const auto &pass : passes_) {
    f = pass->run(f);
    if (options_.verifyEach) {
      try {
        verify(f);
      } catch (const Error &e) {
        throw Error(ErrorKind::Internal, fmt::format("pass '{}' produced invalid IR: {}",
                                                     pass->name(), e.what()));
      }
    }
    std::string name(pass->name());
    bool show = options_.printAfterAll || options_.printAfter.count(name);
    if (show && options_.print)
      options_.print(fmt::format("// -----// IR Dump After {} //----- //\n{}", name, print(f)));
    if (!options_.dumpDir.empty()) {
      std::string path = fmt::format("{}/{:02}-{}-{}.kir", options_.dumpDir, ++dumpCounter_,
                                     f.name(), name);
      std::ofstream out(path);
      out << print(f);
      if (!out)
        throw Error(ErrorKind::Io, fmt::format("cannot write '{}'", path));
    }
  }
  return f;
}

Module PassManager::run(Module m) {
  for (Function &f : m.functions)
    f = run(std::move(f));
  return m;
}

} // namespace kiln::compiler
