//===- ProbeVerdicts.cpp - The matmul probe's verdicts on disk ------------===//
#include "ProbeVerdicts.h"
#include "../cache/DiskCache.h"

#include <fmt/format.h>

#include <array>
#include <cstring>

#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace kiln::runtime::onednn::detail {

namespace {

/// Bump when the probe or the primitives it compares change in a way the
/// identity does not show (their memory descriptors, attributes, operands).
constexpr int kProbeRevision = 1;

/// The CPU as oneDNN's code choice sees it: vendor, model and brand from
/// CPUID, the cache sizes and the processor count.
std::string cpuDescription() {
  std::string s;
#if defined(__x86_64__) || defined(__i386__)
  unsigned regs[4] = {};
  if (__get_cpuid(0, &regs[0], &regs[1], &regs[2], &regs[3])) {
    char vendor[13] = {};
    std::memcpy(vendor, &regs[1], 4);
    std::memcpy(vendor + 4, &regs[3], 4);
    std::memcpy(vendor + 8, &regs[2], 4);
    s += vendor;
  }
  if (__get_cpuid(1, &regs[0], &regs[1], &regs[2], &regs[3]))
    s += fmt::format(" signature {:08x}", regs[0]);
  std::array<unsigned, 12> brand{};
  for (unsigned i = 0; i < 3; ++i)
    __get_cpuid(0x80000002u + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2],
                &brand[4 * i + 3]);
  char text[49] = {};
  std::memcpy(text, brand.data(), 48);
  s += fmt::format(" \"{}\"", text);
#endif
  s += fmt::format(" caches {} {} {} cpus {}", ::sysconf(_SC_LEVEL1_DCACHE_SIZE),
                   ::sysconf(_SC_LEVEL2_CACHE_SIZE), ::sysconf(_SC_LEVEL3_CACHE_SIZE),
                   ::sysconf(_SC_NPROCESSORS_CONF));
  return s;
}

const std::string &oneDnnDescription() {
  static const std::string description = [] {
    const ::dnnl::version_t *v = ::dnnl::version();
    return fmt::format("oneDNN {}.{}.{} {} isa {} cpu {}", v->major, v->minor, v->patch,
                       v->hash ? v->hash : "", int(::dnnl::get_effective_cpu_isa()),
                       cpuDescription());
  }();
  return description;
}

cache::DiskCache verdicts() { return cache::DiskCache(cache::resolveCacheDir(""), ".kprobe"); }

} // namespace

std::string probeIdentity(const std::string &product, const MatmulTiles &tiles,
                          std::span<const BoundPrimitive *const> primitives) {
  std::string s = fmt::format("kiln {} matmul probe {}\n{}\n{}\n", KILN_VERSION, kProbeRevision,
                              oneDnnDescription(), product);
  s += fmt::format("{} tiles of {} {}, the last of {}\n", tiles.count, tiles.size,
                   tiles.alongColumns ? "columns" : "rows", tiles.lastSize);
  for (const BoundPrimitive *p : primitives)
    s += p ? p->implementation() + "\n" : "-\n";
  return s;
}

std::optional<bool> storedVerdict(const std::string &identity) {
  std::optional<std::string> stored = verdicts().load(identity);
  if (!stored || stored->size() != 1 || (*stored != "0" && *stored != "1"))
    return std::nullopt;
  return *stored == "1";
}

void storeVerdict(const std::string &identity, bool wholeMatchesTiles) {
  verdicts().store(identity, wholeMatchesTiles ? "1" : "0");
}

} // namespace kiln::runtime::onednn::detail
