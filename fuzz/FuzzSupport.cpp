//===- FuzzSupport.cpp - Shared helpers of the libFuzzer targets ----------===//
#include "FuzzSupport.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace kiln::fuzz {

void fail(std::string_view what) {
  std::fprintf(stderr, "kiln fuzz finding: %.*s\n", int(what.size()), what.data());
  std::abort();
}

TempFile::TempFile(const uint8_t *data, size_t size, std::string_view suffix) {
  path_ = std::filesystem::temp_directory_path() /
          ("kiln-fuzz-" + std::to_string(getpid()) + std::string(suffix));
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(data), std::streamsize(size));
  if (!out.flush())
    fail("cannot write the temporary file " + path_.string());
}

TempFile::~TempFile() {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

} // namespace kiln::fuzz
