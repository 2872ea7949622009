//===- IdxFuzzer.cpp - Fuzzing the IDX reader -----------------------------===//
//
// Any file, raw or gzip: readIdx returns a tensor whose payload fits the
// limit, or throws kiln::Error.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"
#include "kiln/data/Idx.h"
#include "kiln/ir/Error.h"

using namespace kiln;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::TempFile file(data, size, ".idx");
  data::IdxLimits limits;
  limits.maxBytes = int64_t(1) << 22; // a gzip bomb must stop here
  try {
    ir::HostTensor t = data::readIdx(file.path(), limits);
    if (int64_t(t.bytes()) > limits.maxBytes)
      fuzz::fail("readIdx returned more bytes than IdxLimits::maxBytes");
  } catch (const Error &) {
  }
  return 0;
}
