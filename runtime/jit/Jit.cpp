//===- Jit.cpp - Kernel compilation, caches and the public JIT API --------===//
//
// compile() looks a kernel up in three places, cheapest first: the kernels
// already loaded in this process (by the body's exact structure + name), the
// on-disk object cache (by that structure, the symbol, host CPU, kiln and
// LLVM versions, compared byte for byte: no IR is built on a hit), and
// finally LLVM: emit IR in a fresh LLVMContext, verify, optimise at -O3 for
// the host, compile to an object and store it on disk. Either way the object
// is loaded by kiln's own ObjectLoader, so a process whose kernels all come
// from the disk cache initialises no LLVM target and makes no target
// machine. Hashes only name symbols and files; they never decide a hit. A
// length-generic body (IterationSpace.h) is looked up and compiled as its
// shape-free form, so that one kernel serves each of its lengths.
//
// Each loaded kernel has its own mapping (LoadedObject). The LoopKernels
// handed out share a lifetime token; when the last one is gone (its programs
// were evicted or destroyed), the mapping is removed.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Jit.h"
#include "../cache/DiskCache.h"
#include "IterationSpace.h"
#include "LoopCodegen.h"
#include "ObjectLoader.h"
#include "Target.h"

#include <fmt/format.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/xxhash.h>

#include <cctype>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#ifndef KILN_VERSION
#define KILN_VERSION "0.1.0"
#endif

namespace kiln::runtime {

using namespace kiln::ir;

namespace {

/// Bump when codegen changes what it emits for a given body, so that objects
/// cached by an older kiln of the same version are not loaded.
constexpr int kCodegenRevision = 2;

/// A body of either kind the JIT compiles, checked as that kind.
void checkKernelBody(const Function &body, FusionKind kind) {
  if (kind == FusionKind::Loop)
    return checkLoopKernelBody(body);
  if (kind == FusionKind::Reduction)
    return checkReductionKernelBody(body);
  throw Error(ErrorKind::Internal, fmt::format("JIT: a {} kernel is neither a loop nor a reduction",
                                               fusionKindName(kind)));
}

[[noreturn]] void fail(const std::string &what, llvm::Error e) {
  throw Error(ErrorKind::Internal, "JIT: " + what + ": " + llvm::toString(std::move(e)));
}

template <class T> T orThrow(llvm::Expected<T> v, const std::string &what) {
  if (!v)
    fail(what, v.takeError());
  return std::move(*v);
}

/// `name` restricted to identifier characters, so that it reads well in
/// symbol tables, assembly and profiles.
std::string sanitize(const std::string &name) {
  std::string s;
  for (char c : name)
    s += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    s = "kernel_" + s;
  return s;
}

/// "fused_add_mul_1a2b3c4d": the name and a short hash of the body.
std::string symbolFor(const std::string &name, uint64_t hash) {
  return fmt::format("{}_{:08x}", sanitize(name), uint32_t(hash ^ (hash >> 32)));
}

} // namespace

struct Jit::Impl : std::enable_shared_from_this<Jit::Impl> {
  explicit Impl(const JitOptions &options);

  LoopKernel compile(const Function &body, const std::string &name, FusionKind kind);
  bool hasCode(const Function &body, const std::string &name);
  /// The verified, optimised module of a kernel, for the target `tm`.
  std::unique_ptr<llvm::Module> buildModule(llvm::LLVMContext &ctx, llvm::TargetMachine &tm,
                                            const Function &body, const jit::IterationSpace &space,
                                            const std::string &symbol);
  /// The kernel's object code (no lock held: kernels compile in parallel).
  std::string codegen(const Function &body, const jit::IterationSpace &space,
                      const std::string &symbol);
  /// A target machine for one compilation (they are not reentrant): one
  /// given back by an earlier compilation, or a new one; back when it ends.
  struct MachineLease {
    explicit MachineLease(Impl &jit);
    ~MachineLease();
    MachineLease(const MachineLease &) = delete;
    MachineLease &operator=(const MachineLease &) = delete;
    Impl &jit;
    std::unique_ptr<llvm::TargetMachine> tm;
  };

  /// Loads `object` into memory of its own and sets `fn` to its `symbol`
  /// (no lock held). Throws Error(Format) when the object is unusable.
  std::unique_ptr<jit::LoadedObject> load(std::string_view object, const std::string &symbol,
                                          KernelFn &fn) const;
  /// The kernel stored under `identity` on disk, loaded, or null when there
  /// is none or it does not load (then it is removed).
  std::unique_ptr<jit::LoadedObject> loadCached(const std::string &identity,
                                                const std::string &symbol, KernelFn &fn);
  /// Compiles `body` with LLVM, loads the object and stores it on disk.
  std::unique_ptr<jit::LoadedObject> compileAndStore(const Function &body,
                                                     const jit::IterationSpace &space,
                                                     const std::string &identity,
                                                     const std::string &symbol, KernelFn &fn);
  enum class Emit { LLVM, Assembly, Object };
  /// The kernel's optimised IR, assembly or object, bypassing the caches.
  std::string emit(const Function &body, const std::string &name, FusionKind kind, Emit what);
  /// A kernel in memory: the structuralKey() of the body it was built from,
  /// its name, and whether it serves every length (lengthGenericBody).
  struct KernelKey {
    std::string structure, name;
    bool anyLength = false;
    auto operator<=>(const KernelKey &) const = default;
  };
  /// What compile() builds for a body: a kernel of its own loop nest, or
  /// the length-generic kernel of its class.
  struct KernelPlan {
    std::optional<Function> generic; ///< lengthGenericBody(body)
    jit::IterationSpace space;       ///< the loop this body's calls run
    KernelKey key;
    uint64_t hash = 0; ///< structuralHash() of what is compiled
    const Function &compiled(const Function &body) const { return generic ? *generic : body; }
  };
  static KernelPlan plan(const Function &body, const std::string &name);
  std::string uniqueSymbol(const KernelKey &key, uint64_t hash);
  /// Everything that decides a kernel's object code, for the disk cache.
  std::string diskIdentity(const KernelKey &key, const std::string &symbol) const;
  /// The kernel `key` if it is loaded and alive (mu held).
  std::optional<LoopKernel> loadedLocked(const KernelKey &key);

  jit::HostTarget host;
  cache::DiskCache disk;

  /// A loaded kernel.
  struct Loaded {
    LoopKernel kernel; ///< without its lifetime
    std::weak_ptr<const void> lifetime;
    const void *token = nullptr; ///< identifies the lifetime (a new load has a new one)
    std::unique_ptr<jit::LoadedObject> code;
  };
  /// A lifetime token whose end unloads the kernel `key`.
  std::shared_ptr<const void> newLifetime(const KernelKey &key);
  /// Removes the kernel's code; `token` must be the one it was loaded with.
  void unload(const KernelKey &key, const void *token);
  void unloadLocked(std::map<KernelKey, Loaded>::iterator it);

  /// Guards everything below.
  std::mutex mu;
  /// Target machines not in use.
  std::vector<std::unique_ptr<llvm::TargetMachine>> machines;
  /// Kernels being compiled; a second caller of one waits for the first.
  std::set<KernelKey> inFlight;
  std::condition_variable compiled;
  std::map<KernelKey, Loaded> kernels;
  /// Which kernel owns each symbol, to keep symbols unique if short hashes collide.
  std::map<std::string, KernelKey> symbols;
  JitStats stats;
};

Jit::Impl::Impl(const JitOptions &options)
    : host(jit::HostTarget::detect()), disk(cache::resolveCacheDir(options.cacheDir), ".kobj") {
  // The loop vectorizer calls libmvec's _ZGV* functions; without it,
  // kernels call scalar exp/log/tanh.
  host.vectorMath = jit::libmvec() != nullptr;
}

std::unique_ptr<llvm::Module> Jit::Impl::buildModule(llvm::LLVMContext &ctx,
                                                     llvm::TargetMachine &tm, const Function &body,
                                                     const jit::IterationSpace &space,
                                                     const std::string &symbol) {
  std::unique_ptr<llvm::Module> m = jit::emitLoopKernel(ctx, body, space, symbol);
  jit::prepareModule(*m, tm);
  jit::verifyModuleOrThrow(*m);
  jit::optimizeModule(*m, tm, host);
  return m;
}

Jit::Impl::MachineLease::MachineLease(Impl &jit) : jit(jit) {
  {
    std::lock_guard lock(jit.mu);
    if (!jit.machines.empty()) {
      tm = std::move(jit.machines.back());
      jit.machines.pop_back();
      return;
    }
  }
  tm = orThrow(jit.host.machineBuilder().createTargetMachine(),
               "cannot create a target machine for the host");
  std::lock_guard lock(jit.mu);
  ++jit.stats.targetMachines;
}

Jit::Impl::MachineLease::~MachineLease() {
  std::lock_guard lock(jit.mu);
  jit.machines.push_back(std::move(tm));
}

std::string Jit::Impl::codegen(const Function &body, const jit::IterationSpace &space,
                               const std::string &symbol) {
  MachineLease machine(*this);
  llvm::LLVMContext ctx; // one context per compilation
  std::unique_ptr<llvm::Module> m = buildModule(ctx, *machine.tm, body, space, symbol);
  return jit::emitMachineCode(*m, *machine.tm, /*object=*/true);
}

std::unique_ptr<jit::LoadedObject> Jit::Impl::loadCached(const std::string &identity,
                                                         const std::string &symbol,
                                                         KernelFn &fn) {
  std::optional<std::string> cached = disk.load(identity);
  if (!cached)
    return nullptr;
  try {
    return load(*cached, symbol, fn);
  } catch (const Error &e) { // intact on disk but unusable: forget it and rebuild
    if (e.kind() != ErrorKind::Format)
      throw;
    disk.remove(identity);
    return nullptr;
  }
}

std::unique_ptr<jit::LoadedObject> Jit::Impl::compileAndStore(const Function &body,
                                                              const jit::IterationSpace &space,
                                                              const std::string &identity,
                                                              const std::string &symbol,
                                                              KernelFn &fn) {
  std::string object = codegen(body, space, symbol);
  std::unique_ptr<jit::LoadedObject> code;
  try {
    code = load(object, symbol, fn);
  } catch (const Error &e) {
    if (e.kind() != ErrorKind::Format)
      throw;
    throw Error(ErrorKind::Internal, fmt::format("JIT: cannot load kernel {} just compiled: {}",
                                                 symbol, e.message()));
  }
  disk.store(identity, object); // only what loads
  return code;
}

std::unique_ptr<jit::LoadedObject> Jit::Impl::load(std::string_view object,
                                                   const std::string &symbol, KernelFn &fn) const {
  std::unique_ptr<jit::LoadedObject> code = jit::LoadedObject::load(object, jit::kernelSymbol);
  void *address = code->symbol(symbol);
  if (!address)
    throw Error(ErrorKind::Format,
                fmt::format("kernel object: it does not define its symbol '{}'", symbol));
  fn = reinterpret_cast<KernelFn>(address);
  return code;
}

std::shared_ptr<const void> Jit::Impl::newLifetime(const KernelKey &key) {
  std::weak_ptr<Impl> self = weak_from_this();
  return std::shared_ptr<const void>(new char(0), [self, key](const char *token) {
    if (std::shared_ptr<Impl> impl = self.lock()) // else the JIT and its code are gone
      impl->unload(key, token);
    delete token;
  });
}

void Jit::Impl::unload(const KernelKey &key, const void *token) {
  std::lock_guard lock(mu);
  auto it = kernels.find(key);
  if (it != kernels.end() && it->second.token == token)
    unloadLocked(it);
}

void Jit::Impl::unloadLocked(std::map<KernelKey, Loaded>::iterator it) {
  symbols.erase(it->second.kernel.name);
  kernels.erase(it);
  ++stats.unloaded;
}

std::string Jit::Impl::emit(const Function &body, const std::string &name, FusionKind kind,
                            Emit what) {
  checkKernelBody(body, kind);
  KernelPlan p = plan(body, name);
  MachineLease machine(*this);
  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> m =
      buildModule(ctx, *machine.tm, p.compiled(body), p.space, symbolFor(name, p.hash));
  if (what != Emit::LLVM)
    return jit::emitMachineCode(*m, *machine.tm, /*object=*/what == Emit::Object);
  std::string text;
  llvm::raw_string_ostream os(text);
  m->print(os, nullptr);
  return text;
}

std::string Jit::Impl::uniqueSymbol(const KernelKey &key, uint64_t hash) {
  std::string base = symbolFor(key.name, hash), symbol = base;
  for (int i = 2;; ++i) {
    auto it = symbols.find(symbol);
    if (it == symbols.end() || it->second == key)
      return symbol;
    symbol = fmt::format("{}_{}", base, i);
  }
}

std::string Jit::Impl::diskIdentity(const KernelKey &key, const std::string &symbol) const {
  return fmt::format("symbol {}|{}|{}|{}|kiln {}|llvm {}|codegen {}|mvec {}|any length {}|body ",
                     symbol, host.triple, host.cpu, host.features, KILN_VERSION,
                     LLVM_VERSION_STRING, kCodegenRevision, host.vectorMath, key.anyLength) +
         key.structure;
}

Jit::Impl::KernelPlan Jit::Impl::plan(const Function &body, const std::string &name) {
  KernelPlan p;
  p.generic = jit::lengthGenericBody(body);
  const Function &compiled = p.compiled(body);
  p.space = p.generic ? jit::elementSpace(compiled, body.type(body.results()[0]).shape.numel())
                      : jit::analyzeIterationSpace(body);
  p.key = {compiled.structuralKey(), name, p.generic.has_value()};
  p.hash = compiled.structuralHash();
  return p;
}

std::optional<LoopKernel> Jit::Impl::loadedLocked(const KernelKey &key) {
  auto it = kernels.find(key);
  if (it == kernels.end())
    return std::nullopt;
  if (std::shared_ptr<const void> alive = it->second.lifetime.lock()) {
    LoopKernel kernel = it->second.kernel;
    kernel.lifetime = std::move(alive);
    return kernel;
  }
  unloadLocked(it); // its last user is going; its unload() will find nothing
  return std::nullopt;
}

LoopKernel Jit::Impl::compile(const Function &body, const std::string &name, FusionKind kind) {
  checkKernelBody(body, kind);
  KernelPlan p = plan(body, name);
  const KernelKey &key = p.key;
  const jit::IterationSpace &space = p.space;
  LoopKernel kernel{nullptr, {}, jit::launchRows(space), space.cols};
  if (space.reduction && space.reduction->acrossRows)
    kernel.scratchBytes = space.reduction->outputs * int64_t(sizeof(double));
  {
    std::unique_lock lock(mu);
    // The same kernel from another thread: wait for it rather than compile twice.
    compiled.wait(lock, [&] { return !inFlight.count(key); });
    if (std::optional<LoopKernel> loaded = loadedLocked(key)) {
      ++stats.memoryHits;
      kernel.fn = loaded->fn; // a length-generic kernel runs this body's length
      kernel.name = std::move(loaded->name);
      kernel.lifetime = std::move(loaded->lifetime);
      return kernel;
    }
    inFlight.insert(key);
    kernel.name = uniqueSymbol(key, p.hash);
    symbols[kernel.name] = key; // reserved while it compiles
  }
  // Whatever happens below, waiting callers go on (and compile it themselves
  // if this one failed).
  struct Done {
    Impl &jit;
    const KernelKey &key;
    ~Done() {
      {
        std::lock_guard lock(jit.mu);
        jit.inFlight.erase(key);
      }
      jit.compiled.notify_all();
    }
  } done{*this, key};
  std::string identity = diskIdentity(key, kernel.name);

  // Disk, codegen and loading without the lock: kernels of one step compile
  // in parallel.
  std::unique_ptr<jit::LoadedObject> code = loadCached(identity, kernel.name, kernel.fn);
  bool fromDisk = code != nullptr;
  if (!fromDisk)
    code = compileAndStore(p.compiled(body), space, identity, kernel.name, kernel.fn);
  std::lock_guard lock(mu);
  ++(fromDisk ? stats.diskHits : stats.compiled);
  std::shared_ptr<const void> lifetime = newLifetime(key);
  kernels[key] = Loaded{kernel, lifetime, lifetime.get(), std::move(code)};
  kernel.lifetime = std::move(lifetime);
  return kernel;
}

bool Jit::Impl::hasCode(const Function &body, const std::string &name) {
  KernelPlan p = plan(body, name);
  const KernelKey &key = p.key;
  std::string identity;
  {
    std::lock_guard lock(mu);
    if (kernels.count(key) || inFlight.count(key))
      return true;
    identity = diskIdentity(key, uniqueSymbol(key, p.hash));
  }
  return disk.enabled() && llvm::sys::fs::exists(disk.path(identity));
}

Jit &Jit::instance() {
  // Never destroyed: kernels may run until exit, after LLVM's own statics
  // are gone.
  static Jit *jit = new Jit(JitOptions{});
  return *jit;
}

Jit::Jit(JitOptions options) : impl_(std::make_shared<Impl>(options)) {}
Jit::~Jit() = default;

LoopKernel Jit::compile(const Function &body, const std::string &name, FusionKind kind) {
  return impl_->compile(body, name, kind);
}

bool Jit::hasCode(const Function &body, const std::string &name) const {
  return impl_->hasCode(body, name);
}

std::string Jit::emitLLVM(const Function &body, const std::string &name, FusionKind kind) {
  return impl_->emit(body, name, kind, Impl::Emit::LLVM);
}

std::string Jit::emitAssembly(const Function &body, const std::string &name, FusionKind kind) {
  return impl_->emit(body, name, kind, Impl::Emit::Assembly);
}

std::vector<char> Jit::emitObject(const Function &body, const std::string &name,
                                  FusionKind kind) {
  std::string object = impl_->emit(body, name, kind, Impl::Emit::Object);
  return std::vector<char>(object.begin(), object.end());
}

JitStats Jit::stats() const {
  std::lock_guard lock(impl_->mu);
  JitStats s = impl_->stats;
  s.loaded = int64_t(impl_->kernels.size());
  return s;
}

std::string Jit::hostTarget() const { return impl_->host.describe(); }

} // namespace kiln::runtime
