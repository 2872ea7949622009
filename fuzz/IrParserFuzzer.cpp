//===- IrParserFuzzer.cpp - Fuzzing the IR parser, verifier and printer ---===//
//
// Any text: parsing and verifying either succeed or throw kiln::Error. A
// module that verifies must print to text that parses and verifies again and
// prints identically (print is a fixed point after one round).
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"
#include "kiln/ir/Error.h"
#include "kiln/ir/Parser.h"
#include "kiln/ir/Printer.h"
#include "kiln/ir/Verifier.h"

#include <optional>

using namespace kiln;

namespace {

/// Limits small enough that one input stays fast under ASan.
ir::ParseLimits fuzzLimits() {
  ir::ParseLimits limits;
  limits.maxBytes = size_t(1) << 16;
  limits.maxDenseElements = size_t(1) << 16;
  return limits;
}

std::optional<ir::Module> parseAndVerify(std::string_view text) {
  try {
    ir::Module m = ir::parseModule(text, "fuzz.kir", fuzzLimits());
    ir::verify(m);
    return m;
  } catch (const Error &) {
    return std::nullopt;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::optional<ir::Module> m =
      parseAndVerify(std::string_view(reinterpret_cast<const char *>(data), size));
  if (!m)
    return 0;
  std::string printed = ir::print(*m);
  std::optional<ir::Module> again;
  try {
    again = ir::parseModule(printed, "printed.kir", fuzzLimits());
    ir::verify(*again);
  } catch (const Error &e) {
    fuzz::fail("the printed form of a valid module does not reparse: " + std::string(e.what()) +
               "\n--- printed:\n" + printed);
  }
  std::string reprinted = ir::print(*again);
  if (reprinted != printed)
    fuzz::fail("print(parse(print(m))) != print(m)\n--- first:\n" + printed + "--- second:\n" +
               reprinted);
  return 0;
}
