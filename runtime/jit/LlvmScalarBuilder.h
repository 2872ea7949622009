//===- LlvmScalarBuilder.h - Scalar formulas as LLVM IR (internal) -*- C++ -*-===//
//
// The JIT's implementation of ir::ScalarBuilder: the very formula that the
// interpreter evaluates on doubles (ir/ops/Evaluate.cpp) becomes LLVM IR here,
// one element at a time; the loop vectorizer widens it afterwards. Where
// LLVM's plain instruction would differ from the interpreter (integer
// overflow, division by zero, NaN in max/min, float->int conversion), the
// builder emits the interpreter's semantics explicitly.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/ScalarBuilder.h"

#include <llvm/IR/IRBuilder.h>

namespace kiln::runtime::jit {

/// Register type of a dtype: float, double, i64, i8, and i1 for bool.
llvm::Type *registerType(llvm::LLVMContext &ctx, ir::DType t);
/// In-memory element type: as registerType, but bool is stored as one byte.
llvm::Type *memoryType(llvm::LLVMContext &ctx, ir::DType t);

class LlvmScalarBuilder final : public ir::ScalarBuilder {
public:
  explicit LlvmScalarBuilder(llvm::IRBuilder<> &b) : b_(b) {}

  static ir::SV wrap(llvm::Value *v, ir::DType t) { return {.dtype = t, .handle = v}; }
  static llvm::Value *unwrap(ir::SV v) { return static_cast<llvm::Value *>(v.handle); }

  /// Loads one element of dtype `t` from `ptr` as a register value.
  ir::SV load(llvm::Value *ptr, ir::DType t, const llvm::Twine &name = "");
  /// Stores `v` to `ptr` in its in-memory representation.
  void store(ir::SV v, llvm::Value *ptr);

  ir::SV constant(double v, ir::DType t) override;
  ir::SV add(ir::SV a, ir::SV b) override;
  ir::SV sub(ir::SV a, ir::SV b) override;
  ir::SV mul(ir::SV a, ir::SV b) override;
  ir::SV div(ir::SV a, ir::SV b) override;
  ir::SV neg(ir::SV a) override;
  ir::SV max(ir::SV a, ir::SV b) override;
  ir::SV min(ir::SV a, ir::SV b) override;
  ir::SV maximum(ir::SV a, ir::SV b) override;
  ir::SV math(ir::MathFn f, ir::SV a) override;
  ir::SV pow(ir::SV a, double p) override;
  ir::SV cmp(Cmp c, ir::SV a, ir::SV b) override;
  ir::SV select(ir::SV cond, ir::SV a, ir::SV b) override;
  ir::SV cast(ir::SV a, ir::DType to) override;

private:
  llvm::Value *intrinsic(llvm::Intrinsic::ID id, llvm::Value *a, llvm::Value *b = nullptr);
  /// A call to a pure libm function (no errno), so that it may be vectorized.
  llvm::Value *libm(llvm::StringRef name, llvm::Value *a);
  /// min(a, b) if `isMin`, else max(a, b), with the interpreter's NaN rule.
  ir::SV minMax(ir::SV a, ir::SV b, bool isMin);
  llvm::Value *intDiv(ir::SV a, ir::SV b);
  llvm::Value *toBool(ir::SV a);
  llvm::Value *toFloat(ir::SV a, ir::DType to);
  llvm::Value *toInt(ir::SV a, ir::DType to);

  llvm::IRBuilder<> &b_;
};

} // namespace kiln::runtime::jit
