//===- Target.h - Host target, -O3 pipeline, emission (internal) -*- C++ -*-===//
#pragma once

#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include <memory>
#include <string>

namespace kiln::runtime::jit {

/// What kiln compiles for: this machine.
struct HostTarget {
  std::string triple;
  std::string cpu;
  /// Every feature LLVM knows, "+avx2,-avx512f,...", sorted (stable across runs).
  std::string features;
  bool avx2 = false, avx512f = false;
  /// glibc's libmvec is loaded, so vector exp/log/tanh/pow may be called.
  bool vectorMath = false;

  /// Detects the host CPU. Initialises no LLVM target: loading cached
  /// kernels needs none.
  static HostTarget detect();
  /// "znver3 +avx,+avx2,...": the CPU and its enabled features.
  std::string describe() const;
  /// Builder of TargetMachines for this host: PIC, small code model, -O3
  /// (initialising LLVM's native target on first use).
  llvm::orc::JITTargetMachineBuilder machineBuilder() const;
};

/// Sets the triple, data layout and per-function target attributes.
void prepareModule(llvm::Module &m, llvm::TargetMachine &tm);
/// Throws Error(Internal) with LLVM's diagnostics when `m` is malformed.
void verifyModuleOrThrow(const llvm::Module &m);
/// Runs the new pass manager's -O3 pipeline with the host's cost model and,
/// when `host.vectorMath`, libmvec as the vector library.
void optimizeModule(llvm::Module &m, llvm::TargetMachine &tm, const HostTarget &host);
/// Host assembly, or an ELF object when `object`.
std::string emitMachineCode(llvm::Module &m, llvm::TargetMachine &tm, bool object);

} // namespace kiln::runtime::jit
