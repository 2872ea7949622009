//===- Step.cpp - Step boundaries, execution mode, the program cache ------===//
#include "kiln/Step.h"
#include "Lazy.h"
#include "LazyState.h"
#include "kiln/runtime/Threads.h"

#include <fmt/format.h>

#include <cstdlib>
#include <string_view>

namespace kiln {

namespace {

Execution modeFromEnvironment() {
  const char *v = std::getenv("KILN_BACKEND");
  std::string_view s = v ? v : "";
  if (s == "eager")
    return Execution::Eager;
  if (s == "interp" || s == "interpreter")
    return Execution::Interpreted;
  if (!s.empty() && s != "jit" && s != "compiled")
    fmt::print(stderr, "kiln: warning: KILN_BACKEND={} is not eager, interp or jit; using jit\n",
               s);
  return Execution::Compiled;
}

int compileAfterFromEnvironment() {
  const char *v = std::getenv("KILN_COMPILE_AFTER");
  if (!v || !*v || std::string_view(v) == "auto")
    return kCompileAfterAuto;
  char *end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (*end || n < 0 || n > 1000000) {
    fmt::print(stderr, "kiln: warning: KILN_COMPILE_AFTER={} is not a count or auto; using auto\n",
               v);
    return kCompileAfterAuto;
  }
  return int(n);
}

bool checkNumericsFromEnvironment() {
  const char *v = std::getenv("KILN_CHECK_NUMERICS");
  return v && *v && std::string_view(v) != "0";
}

detail::StepSettings &settings() { return detail::lazyState().settings; }
bool &checkNumerics() { return settings().checkNumerics; }
Execution &mode() { return settings().mode; }
int &compileAfter() { return settings().compileAfter; }

void dropCachedSteps() {
  detail::LazyState &st = detail::lazyState();
  st.cache.clear();
  st.byStructure.clear();
  st.last.reset();
  st.recording.forgetScript();
}

} // namespace

namespace detail {
StepSettings settingsFromEnvironment() {
  return {modeFromEnvironment(), compileAfterFromEnvironment(), checkNumericsFromEnvironment()};
}
} // namespace detail

void sync() {
  if (detail::traceObserver())
    return; // a compiled step being traced: its end is the boundary
  detail::flushPending();
}

Execution execution() { return mode(); }

void set_execution(Execution m) {
  if (m == mode())
    return;
  sync();
  mode() = m;
}

int compile_after() { return compileAfter(); }

void set_compile_after(int n) {
  if (n < kCompileAfterAuto)
    throw Error(ErrorKind::Usage,
                fmt::format("set_compile_after: {} is neither a count nor kCompileAfterAuto", n));
  compileAfter() = n;
}

int num_threads() { return runtime::maxThreads(); }

void set_num_threads(int n) { runtime::setMaxThreads(n); }

bool check_numerics() { return checkNumerics(); }

void set_check_numerics(bool on) {
  if (on == checkNumerics())
    return;
  sync();
  dropCachedSteps(); // compiled with the other setting
  checkNumerics() = on;
}

size_t step_cache_capacity() { return detail::lazyState().cache.capacity(); }

void set_step_cache_capacity(size_t n) {
  if (n == 0)
    throw Error(ErrorKind::Usage, "set_step_cache_capacity: the capacity must be at least 1");
  detail::lazyState().cache.setCapacity(n);
}

StepCacheStats step_cache_stats() {
  detail::LazyState &st = detail::lazyState();
  StepCacheStats s = st.stats;
  s.entries = st.cache.size();
  s.evictions = st.cache.evictions();
  return s;
}

void clear_step_cache() {
  dropCachedSteps();
  detail::lazyState().stats = {};
}

ir::Function last_step_ir(bool optimized) {
  const auto &last = detail::lazyState().last;
  if (!last)
    return ir::Function("step");
  if (!optimized)
    return last->fn;
  if (!last->program)
    throw Error(ErrorKind::Usage, "last_step_ir: the last step was interpreted, not compiled "
                                  "(see set_compile_after)");
  return last->program->optimized();
}

} // namespace kiln
