//===- ObjectLoaderFuzzer.cpp - Fuzzing the JIT's object loader -----------===//
//
// Any bytes: LoadedObject::load maps and relocates them, or throws
// kiln::Error (Format for what it does not accept, Resource when memory
// cannot be mapped). Nothing loaded is run. Every external symbol resolves
// to one dummy address, so that relocations against them are exercised.
//
//===----------------------------------------------------------------------===//
#include "../runtime/jit/ObjectLoader.h"
#include "FuzzSupport.h"
#include "kiln/ir/Error.h"

using namespace kiln;

namespace {
char gExternal;
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    auto object = runtime::jit::LoadedObject::load(
        std::string_view(reinterpret_cast<const char *>(data), size),
        [](const std::string &) -> void * { return &gExternal; });
    if (object->mappedBytes() % 4096 != 0)
      fuzz::fail("a loaded object's mapping is not whole pages");
  } catch (const Error &e) {
    if (e.kind() != ErrorKind::Format && e.kind() != ErrorKind::Resource)
      fuzz::fail(std::string("an error of an unexpected kind: ") + e.what());
  }
  return 0;
}
