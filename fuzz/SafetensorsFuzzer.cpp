//===- SafetensorsFuzzer.cpp - Fuzzing the safetensors loader -------------===//
//
// Any file: read_safetensors returns tensors that the file could hold, or
// throws kiln::Error. What it returns saves and reads back identically.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"
#include "kiln/Serialize.h"
#include "kiln/ir/Error.h"

using namespace kiln;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::TempFile file(data, size, ".safetensors");
  SafetensorsContents contents;
  try {
    contents = read_safetensors(file.path());
  } catch (const Error &) {
    return 0;
  }
  size_t payload = 0;
  for (const auto &[name, t] : contents.tensors)
    payload += size_t(t.numel()) * ir::dtypeSize(t.dtype());
  if (payload > size)
    fuzz::fail("read_safetensors returned more tensor bytes than the file holds");
  // What was accepted saves and reads back as the same names and values.
  fuzz::TempFile copy(nullptr, 0, ".copy.safetensors");
  save_safetensors(copy.path(), contents.tensors, contents.metadata);
  SafetensorsContents back = read_safetensors(copy.path());
  if (back.tensors.size() != contents.tensors.size())
    fuzz::fail("a saved file reads back with another number of tensors");
  for (size_t i = 0; i < back.tensors.size(); ++i)
    if (back.tensors[i].first != contents.tensors[i].first ||
        !back.tensors[i].second.host().identical(contents.tensors[i].second.host()))
      fuzz::fail("tensor '" + contents.tensors[i].first + "' changed in a save and read back");
  return 0;
}
