//===- Target.cpp - Host target, -O3 pipeline, emission -------------------===//
#include "Target.h"
#include "kiln/ir/Error.h"
#include "kiln/ir/ScalarBuilder.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace kiln::runtime::jit {

namespace {

void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

/// One vector variant of a libm function in glibc's libmvec, named by the
/// x86 vector function ABI: _ZGV<isa>N<lanes><v per arg>_<scalar name>.
struct VectorVariant {
  std::string scalar, vector, abiPrefix;
  unsigned lanes;
  char isa; // b = SSE4 (128-bit), d = AVX2 (256), e = AVX-512 (512)
};

/// pow and the vectorized math functions (MathFunctions.def) for f32 and f64
/// at every width libmvec offers, under their libm names and as LLVM
/// intrinsics. LLVM 19's own LIBMVEC-X86 table lacks tanh and the AVX-512
/// variants, hence this one.
const std::vector<VectorVariant> &libmvecVariants() {
  static const std::vector<VectorVariant> table = [] {
    struct Fn {
      std::string_view name;
      int args;
    };
    std::vector<Fn> fns = {{"pow", 2}};
    for (const ir::MathFnInfo &f : ir::kMathFns)
      if (f.vectorized)
        fns.push_back({f.name, 1});
    const std::pair<char, unsigned> isas[] = {{'b', 128}, {'d', 256}, {'e', 512}};
    std::vector<VectorVariant> out;
    for (const Fn &fn : fns)
      for (bool f32 : {true, false})
        for (auto [isa, bits] : isas) {
          unsigned lanes = bits / (f32 ? 32 : 64);
          std::string libm = std::string(fn.name) + (f32 ? "f" : "");
          std::string params(size_t(fn.args), 'v');
          std::string vector =
              "_ZGV" + std::string(1, isa) + "N" + std::to_string(lanes) + params + "_" + libm;
          std::string prefix = "_ZGV_LLVM_N" + std::to_string(lanes) + params;
          out.push_back({libm, vector, prefix, lanes, isa});
          std::string intrinsic = "llvm." + std::string(fn.name) + (f32 ? ".f32" : ".f64");
          out.push_back({intrinsic, vector, prefix, lanes, isa});
        }
    return out;
  }();
  return table;
}

void addVectorMath(llvm::TargetLibraryInfoImpl &tlii, const HostTarget &host) {
  if (!host.vectorMath)
    return;
  std::vector<llvm::VecDesc> descs;
  for (const VectorVariant &v : libmvecVariants()) {
    bool available = v.isa == 'b' || (v.isa == 'd' && host.avx2) || (v.isa == 'e' && host.avx512f);
    if (available)
      descs.emplace_back(v.scalar, v.vector, llvm::ElementCount::getFixed(v.lanes),
                         /*Masked=*/false, v.abiPrefix);
  }
  tlii.addVectorizableFunctions(descs);
}

std::vector<std::string> splitFeatures(const std::string &s) {
  std::vector<std::string> out;
  llvm::SmallVector<llvm::StringRef, 0> parts;
  llvm::StringRef(s).split(parts, ',', -1, false);
  for (llvm::StringRef p : parts)
    out.push_back(p.str());
  return out;
}

} // namespace

HostTarget HostTarget::detect() {
  HostTarget host;
  host.triple = llvm::sys::getProcessTriple();
  host.cpu = llvm::sys::getHostCPUName().str();
  std::vector<std::string> features;
  for (const auto &f : llvm::sys::getHostCPUFeatures())
    features.push_back((f.second ? "+" : "-") + f.first().str());
  std::sort(features.begin(), features.end(),
            [](const std::string &a, const std::string &b) { return a.substr(1) < b.substr(1); });
  host.features = llvm::join(features, ",");
  host.avx2 = llvm::is_contained(features, "+avx2");
  host.avx512f = llvm::is_contained(features, "+avx512f");
  return host;
}

std::string HostTarget::describe() const {
  std::vector<std::string> enabled;
  for (const std::string &f : splitFeatures(features))
    if (f[0] == '+')
      enabled.push_back(f);
  return cpu + " " + llvm::join(enabled, ",");
}

llvm::orc::JITTargetMachineBuilder HostTarget::machineBuilder() const {
  initializeNativeTarget();
  llvm::orc::JITTargetMachineBuilder jtmb{llvm::Triple(triple)};
  jtmb.setCPU(cpu);
  jtmb.addFeatures(splitFeatures(features));
  // PIC: cached objects are loaded at other addresses by later processes.
  jtmb.setRelocationModel(llvm::Reloc::PIC_);
  jtmb.setCodeModel(llvm::CodeModel::Small);
  jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  return jtmb;
}

void prepareModule(llvm::Module &m, llvm::TargetMachine &tm) {
  m.setTargetTriple(tm.getTargetTriple().str());
  m.setDataLayout(tm.createDataLayout());
  for (llvm::Function &f : m)
    if (!f.isDeclaration()) {
      f.addFnAttr("target-cpu", tm.getTargetCPU());
      f.addFnAttr("target-features", tm.getTargetFeatureString());
    }
}

void verifyModuleOrThrow(const llvm::Module &m) {
  std::string message;
  llvm::raw_string_ostream os(message);
  if (llvm::verifyModule(m, &os))
    throw Error(ErrorKind::Internal,
                "JIT: invalid LLVM IR for kernel " + m.getName().str() + ": " + os.str());
}

void optimizeModule(llvm::Module &m, llvm::TargetMachine &tm, const HostTarget &host) {
  // Declared in this order so that they are destroyed in reverse (see
  // llvm/docs/NewPassManager.rst).
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;

  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  tuning.LoopUnrolling = true;
  llvm::PassBuilder pb(&tm, tuning);

  // Registered before the defaults, which then keep it.
  llvm::TargetLibraryInfoImpl tlii{llvm::Triple(m.getTargetTriple())};
  addVectorMath(tlii, host);
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(tlii); });

  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(m, mam);
}

std::string emitMachineCode(llvm::Module &m, llvm::TargetMachine &tm, bool object) {
  llvm::SmallString<0> out;
  llvm::raw_svector_ostream os(out);
  llvm::legacy::PassManager pm;
  auto type = object ? llvm::CodeGenFileType::ObjectFile : llvm::CodeGenFileType::AssemblyFile;
  if (tm.addPassesToEmitFile(pm, os, nullptr, type))
    throw Error(ErrorKind::Internal, "JIT: the host target cannot emit this file type");
  pm.run(m);
  return std::string(out.str());
}

} // namespace kiln::runtime::jit
