//===- LlvmScalarBuilder.cpp - Scalar formulas as LLVM IR -----------------===//
//
// Each method produces, in the dtype itself, the value that the reference
// interpreter (ir/ops/Evaluate.cpp) computes: integer arithmetic wraps in
// two's complement (as PyTorch), integer division by zero gives 0, float to
// integer conversion truncates and saturates (NaN -> 0), and max/min let a
// NaN first operand win.
//
//===----------------------------------------------------------------------===//
#include "LlvmScalarBuilder.h"
#include "kiln/ir/Error.h"

#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <cmath>
#include <cstdint>

namespace kiln::runtime::jit {

using ir::DType;
using ir::SV;
using llvm::Value;

llvm::Type *registerType(llvm::LLVMContext &ctx, DType t) {
  switch (t) {
  case DType::F32:
    return llvm::Type::getFloatTy(ctx);
  case DType::F64:
    return llvm::Type::getDoubleTy(ctx);
  case DType::I64:
    return llvm::Type::getInt64Ty(ctx);
  case DType::U8:
    return llvm::Type::getInt8Ty(ctx);
  case DType::Bool:
    return llvm::Type::getInt1Ty(ctx);
  }
  throw Error(ErrorKind::Internal, "registerType: unknown dtype");
}

llvm::Type *memoryType(llvm::LLVMContext &ctx, DType t) {
  return t == DType::Bool ? llvm::Type::getInt8Ty(ctx) : registerType(ctx, t);
}

namespace {

/// Integer dtypes are signed (i64) or unsigned (u8, and bool as 0/1).
bool isSigned(DType t) { return t == DType::I64; }

[[noreturn]] void unsupported(const char *op, DType t) {
  throw Error(ErrorKind::Internal,
              std::string("JIT: '") + op + "' is not defined on " + std::string(ir::dtypeName(t)));
}

void requireFloat(const char *op, SV a) {
  if (!ir::isFloat(a.dtype))
    unsupported(op, a.dtype);
}

/// `v` converted as HostTensor::set stores it into an integer dtype.
int64_t saturateToInt(double v, DType t) {
  double lo = t == DType::I64 ? -9223372036854775808.0 : 0.0;
  double hi = t == DType::I64 ? 9223372036854775807.0 : 255.0;
  if (std::isnan(v))
    return 0;
  if (v <= lo)
    return t == DType::I64 ? INT64_MIN : 0;
  if (v >= hi)
    return t == DType::I64 ? INT64_MAX : 255;
  return int64_t(v);
}

} // namespace

SV LlvmScalarBuilder::load(Value *ptr, DType t, const llvm::Twine &name) {
  Value *v = b_.CreateLoad(memoryType(b_.getContext(), t), ptr, name);
  if (t == DType::Bool) // any non-zero byte is true, as HostTensor::get reads it
    v = b_.CreateICmpNE(v, b_.getInt8(0));
  return wrap(v, t);
}

void LlvmScalarBuilder::store(SV v, Value *ptr) {
  Value *x = unwrap(v);
  if (v.dtype == DType::Bool)
    x = b_.CreateZExt(x, b_.getInt8Ty());
  b_.CreateStore(x, ptr);
}

SV LlvmScalarBuilder::constant(double v, DType t) {
  llvm::Type *ty = registerType(b_.getContext(), t);
  switch (t) {
  case DType::F32:
  case DType::F64:
    return wrap(llvm::ConstantFP::get(ty, v), t);
  case DType::I64:
  case DType::U8:
    return wrap(llvm::ConstantInt::get(ty, uint64_t(saturateToInt(v, t))), t);
  case DType::Bool:
    return wrap(b_.getInt1(v != 0), t);
  }
  unsupported("constant", t);
}

Value *LlvmScalarBuilder::intrinsic(llvm::Intrinsic::ID id, Value *a, Value *b) {
  return b ? b_.CreateBinaryIntrinsic(id, a, b) : b_.CreateUnaryIntrinsic(id, a);
}

Value *LlvmScalarBuilder::libm(llvm::StringRef name, Value *a) {
  llvm::Module *m = b_.GetInsertBlock()->getModule();
  llvm::Type *ty = a->getType();
  std::string symbol = ty->isFloatTy() ? (name + "f").str() : name.str(); // sinf, sin
  llvm::FunctionCallee callee =
      m->getOrInsertFunction(symbol, llvm::FunctionType::get(ty, {ty}, false));
  // Without errno (as under -fno-math-errno) the call reads and writes no
  // memory; only then may the vectorizer replace it by a libmvec variant.
  auto *f = llvm::cast<llvm::Function>(callee.getCallee());
  f->setDoesNotAccessMemory();
  f->setDoesNotThrow();
  f->addFnAttr(llvm::Attribute::WillReturn);
  llvm::CallInst *call = b_.CreateCall(callee, {a});
  call->setDoesNotAccessMemory();
  call->setDoesNotThrow();
  return call;
}

SV LlvmScalarBuilder::add(SV a, SV b) {
  Value *x = unwrap(a), *y = unwrap(b);
  if (ir::isFloat(a.dtype))
    return wrap(b_.CreateFAdd(x, y), a.dtype);
  return wrap(b_.CreateAdd(x, y), a.dtype);
}

SV LlvmScalarBuilder::sub(SV a, SV b) {
  Value *x = unwrap(a), *y = unwrap(b);
  if (ir::isFloat(a.dtype))
    return wrap(b_.CreateFSub(x, y), a.dtype);
  return wrap(b_.CreateSub(x, y), a.dtype);
}

SV LlvmScalarBuilder::mul(SV a, SV b) {
  Value *x = unwrap(a), *y = unwrap(b);
  if (ir::isFloat(a.dtype))
    return wrap(b_.CreateFMul(x, y), a.dtype);
  return wrap(b_.CreateMul(x, y), a.dtype);
}

Value *LlvmScalarBuilder::intDiv(SV a, SV b) {
  Value *x = unwrap(a), *y = unwrap(b);
  llvm::Type *ty = x->getType();
  Value *zero = llvm::ConstantInt::get(ty, 0), *one = llvm::ConstantInt::get(ty, 1);
  Value *byZero = b_.CreateICmpEQ(y, zero);
  if (!isSigned(a.dtype)) {
    Value *q = b_.CreateUDiv(x, b_.CreateSelect(byZero, one, y));
    return b_.CreateSelect(byZero, zero, q);
  }
  // x / -1 is -x, wrapped (INT64_MIN / -1 would trap); x / 0 is 0.
  Value *byMinusOne = b_.CreateICmpEQ(y, llvm::ConstantInt::getSigned(ty, -1));
  Value *q = b_.CreateSDiv(x, b_.CreateSelect(b_.CreateOr(byZero, byMinusOne), one, y));
  q = b_.CreateSelect(byMinusOne, b_.CreateNeg(x), q);
  return b_.CreateSelect(byZero, zero, q);
}

SV LlvmScalarBuilder::div(SV a, SV b) {
  if (ir::isFloat(a.dtype))
    return wrap(b_.CreateFDiv(unwrap(a), unwrap(b)), a.dtype);
  return wrap(intDiv(a, b), a.dtype);
}

SV LlvmScalarBuilder::neg(SV a) {
  Value *x = unwrap(a);
  if (ir::isFloat(a.dtype))
    return wrap(b_.CreateFNeg(x), a.dtype);
  return wrap(b_.CreateNeg(x), a.dtype);
}

SV LlvmScalarBuilder::minMax(SV a, SV b, bool isMin) {
  Value *x = unwrap(a), *y = unwrap(b);
  if (ir::isFloat(a.dtype)) {
    // The interpreter's rule: isnan(a) || a >= b ? a : b (<= for min). No
    // single fcmp predicate says this, nor does llvm.maxnum/maximum.
    Value *aWins = b_.CreateOr(b_.CreateFCmpUNO(x, x),
                               isMin ? b_.CreateFCmpOLE(x, y) : b_.CreateFCmpOGE(x, y));
    return wrap(b_.CreateSelect(aWins, x, y), a.dtype);
  }
  llvm::Intrinsic::ID id = isSigned(a.dtype)
                               ? (isMin ? llvm::Intrinsic::smin : llvm::Intrinsic::smax)
                               : (isMin ? llvm::Intrinsic::umin : llvm::Intrinsic::umax);
  return wrap(intrinsic(id, x, y), a.dtype);
}

SV LlvmScalarBuilder::max(SV a, SV b) { return minMax(a, b, false); }

SV LlvmScalarBuilder::maximum(SV a, SV b) {
  if (!ir::isFloat(a.dtype))
    return minMax(a, b, false);
  return wrap(intrinsic(llvm::Intrinsic::maximum, unwrap(a), unwrap(b)), a.dtype);
}
SV LlvmScalarBuilder::min(SV a, SV b) { return minMax(a, b, true); }

SV LlvmScalarBuilder::math(ir::MathFn f, SV a) {
  const ir::MathFnInfo &info = ir::mathFnInfo(f);
  requireFloat(info.name.data(), a);
  if (!info.intrinsic)
    return wrap(libm(info.name, unwrap(a)), a.dtype);
  llvm::Intrinsic::ID id = llvm::Function::lookupIntrinsicID("llvm." + std::string(info.name));
  if (id == llvm::Intrinsic::not_intrinsic)
    throw Error(ErrorKind::Internal, "JIT: LLVM has no intrinsic llvm." + std::string(info.name));
  return wrap(intrinsic(id, unwrap(a)), a.dtype);
}

SV LlvmScalarBuilder::pow(SV a, double p) {
  requireFloat("pow", a);
  Value *x = unwrap(a);
  // Exponents that have a cheaper exact (or correctly rounded) form.
  if (p == 0)
    return constant(1, a.dtype);
  if (p == 1)
    return a;
  if (p == 2)
    return wrap(b_.CreateFMul(x, x), a.dtype);
  if (p == 3)
    return wrap(b_.CreateFMul(b_.CreateFMul(x, x), x), a.dtype);
  if (p == 0.5) { // as pow: sqrt(-inf) is NaN, pow(-inf, 0.5) is +inf
    llvm::Constant *inf = llvm::ConstantFP::getInfinity(x->getType());
    Value *isMinusInf = b_.CreateFCmpOEQ(x, llvm::ConstantFP::getInfinity(x->getType(), true));
    return wrap(b_.CreateSelect(isMinusInf, inf, unwrap(math(ir::MathFn::Sqrt, a))), a.dtype);
  }
  if (p == -1)
    return wrap(b_.CreateFDiv(llvm::ConstantFP::get(x->getType(), 1.0), x), a.dtype);
  return wrap(intrinsic(llvm::Intrinsic::pow, x, llvm::ConstantFP::get(x->getType(), p)), a.dtype);
}

SV LlvmScalarBuilder::cmp(Cmp c, SV a, SV b) {
  using P = llvm::CmpInst::Predicate;
  Value *x = unwrap(a), *y = unwrap(b);
  P p;
  if (ir::isFloat(a.dtype)) {
    // Ordered, except != (true when either side is NaN), as in C.
    static constexpr P kFloat[] = {P::FCMP_OEQ, P::FCMP_UNE, P::FCMP_OLT,
                                   P::FCMP_OLE, P::FCMP_OGT, P::FCMP_OGE};
    p = kFloat[int(c)];
  } else if (isSigned(a.dtype)) {
    static constexpr P kSigned[] = {P::ICMP_EQ,  P::ICMP_NE,  P::ICMP_SLT,
                                    P::ICMP_SLE, P::ICMP_SGT, P::ICMP_SGE};
    p = kSigned[int(c)];
  } else {
    static constexpr P kUnsigned[] = {P::ICMP_EQ,  P::ICMP_NE,  P::ICMP_ULT,
                                      P::ICMP_ULE, P::ICMP_UGT, P::ICMP_UGE};
    p = kUnsigned[int(c)];
  }
  return wrap(b_.CreateCmp(p, x, y), DType::Bool);
}

SV LlvmScalarBuilder::select(SV cond, SV a, SV b) {
  return wrap(b_.CreateSelect(toBool(cond), unwrap(a), unwrap(b)), a.dtype);
}

Value *LlvmScalarBuilder::toBool(SV a) {
  Value *x = unwrap(a);
  if (a.dtype == DType::Bool)
    return x;
  if (ir::isFloat(a.dtype)) // NaN != 0 is true
    return b_.CreateFCmpUNE(x, llvm::ConstantFP::get(x->getType(), 0.0));
  return b_.CreateICmpNE(x, llvm::ConstantInt::get(x->getType(), 0));
}

Value *LlvmScalarBuilder::toFloat(SV a, DType to) {
  Value *x = unwrap(a);
  llvm::Type *ty = registerType(b_.getContext(), to);
  if (ir::isFloat(a.dtype))
    return b_.CreateFPCast(x, ty);
  if (!isSigned(a.dtype)) // u8 and bool convert exactly
    return b_.CreateUIToFP(x, ty);
  return b_.CreateSIToFP(x, ty); // one rounding, as the interpreter's cast
}

Value *LlvmScalarBuilder::toInt(SV a, DType to) {
  Value *x = unwrap(a);
  llvm::Type *ty = registerType(b_.getContext(), to);
  if (ir::isFloat(a.dtype)) // truncates toward zero, saturates, NaN -> 0
    return b_.CreateIntrinsic(isSigned(to) ? llvm::Intrinsic::fptosi_sat
                                           : llvm::Intrinsic::fptoui_sat,
                              {ty, x->getType()}, {x});
  if (!isSigned(a.dtype)) // u8 or bool: widening is exact
    return b_.CreateZExt(x, ty);
  return b_.CreateTrunc(x, ty); // i64 -> u8 wraps modulo 256
}

SV LlvmScalarBuilder::cast(SV a, DType to) {
  if (a.dtype == to)
    return a;
  switch (to) {
  case DType::Bool:
    return wrap(toBool(a), to);
  case DType::F32:
  case DType::F64:
    return wrap(toFloat(a, to), to);
  case DType::I64:
  case DType::U8:
    return wrap(toInt(a, to), to);
  }
  unsupported("cast", to);
}

} // namespace kiln::runtime::jit
