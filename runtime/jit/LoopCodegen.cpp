//===- LoopCodegen.cpp - LLVM IR for a loop kernel ------------------------===//
//
// The kernel is a two-level loop nest, rows [begin, end) x cols, in rotated
// (do-while) form with a constant inner trip count; each element evaluates
// the body's scalar expressions through LlvmScalarBuilder. Inputs are loaded
// once (splats), once per row (broadcast along the row) or per element.
//
//===----------------------------------------------------------------------===//
#include "LoopCodegen.h"
#include "LlvmScalarBuilder.h"
#include "kiln/ir/OpDef.h"

namespace kiln::runtime::jit {

using namespace kiln::ir;
using llvm::Value;

namespace {

/// HostTensor storage is 64-byte aligned (ir/src/HostTensor.cpp).
constexpr uint64_t kBufferAlign = 64;

class KernelEmitter {
public:
  KernelEmitter(llvm::Module &m, const Function &body, const IterationSpace &space)
      : ctx_(m.getContext()), m_(m), body_(body), space_(space), b_(ctx_), sb_(b_),
        env_(body.numValues()) {}

  void emit(llvm::StringRef symbol);

private:
  llvm::Function *declareBody(llvm::StringRef symbol);
  void emitEntry(llvm::StringRef symbol, llvm::Function *inner);
  void emitLoops(llvm::Function *f);
  std::vector<Value *> rowOffsets(Value *row);
  Value *elementPtr(ValueId v, Value *base, Value *index);
  void emitElement(Value *col, Value *outRow, const std::vector<Value *> &rowOff);
  SV constantValue(const Node &n);

  size_t numInputs() const { return body_.params().size(); }
  size_t numOutputs() const { return body_.results().size(); }

  llvm::LLVMContext &ctx_;
  llvm::Module &m_;
  const Function &body_;
  const IterationSpace &space_;
  llvm::IRBuilder<> b_;
  LlvmScalarBuilder sb_;
  /// The scalar of each body value at the current element.
  std::vector<SV> env_;
  /// The inner function's pointer arguments: inputs, then outputs.
  std::vector<Value *> buffers_;
};

llvm::Function *KernelEmitter::declareBody(llvm::StringRef symbol) {
  size_t n = numInputs() + numOutputs();
  std::vector<llvm::Type *> params(n, b_.getPtrTy());
  params.push_back(b_.getInt64Ty());
  params.push_back(b_.getInt64Ty());
  auto *f = llvm::Function::Create(llvm::FunctionType::get(b_.getVoidTy(), params, false),
                                   llvm::GlobalValue::InternalLinkage, symbol + ".body", m_);
  f->addFnAttr(llvm::Attribute::AlwaysInline);
  f->addFnAttr(llvm::Attribute::NoUnwind);
  for (unsigned i = 0; i < n; ++i) {
    f->addParamAttr(i, llvm::Attribute::NoAlias);
    f->addParamAttr(i, llvm::Attribute::NoCapture);
    f->addParamAttr(i, i < numInputs() ? llvm::Attribute::ReadOnly : llvm::Attribute::WriteOnly);
    f->addParamAttr(i, llvm::Attribute::getWithAlignment(ctx_, llvm::Align(kBufferAlign)));
    f->getArg(i)->setName(i < numInputs() ? "in" + llvm::Twine(i)
                                          : "out" + llvm::Twine(i - numInputs()));
  }
  f->getArg(unsigned(n))->setName("begin");
  f->getArg(unsigned(n + 1))->setName("end");
  return f;
}

void KernelEmitter::emitEntry(llvm::StringRef symbol, llvm::Function *inner) {
  auto *f = llvm::Function::Create(
      llvm::FunctionType::get(b_.getVoidTy(), {b_.getPtrTy(), b_.getInt64Ty(), b_.getInt64Ty()},
                              false),
      llvm::GlobalValue::ExternalLinkage, symbol, m_);
  f->addFnAttr(llvm::Attribute::NoUnwind);
  f->addParamAttr(0, llvm::Attribute::NoAlias);
  f->addParamAttr(0, llvm::Attribute::NoCapture);
  f->addParamAttr(0, llvm::Attribute::ReadOnly);
  f->getArg(0)->setName("buffers");
  f->getArg(1)->setName("begin");
  f->getArg(2)->setName("end");
  b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", f));
  llvm::MDNode *align =
      llvm::MDNode::get(ctx_, llvm::ConstantAsMetadata::get(b_.getInt64(kBufferAlign)));
  std::vector<Value *> args;
  for (size_t i = 0; i < numInputs() + numOutputs(); ++i) {
    Value *slot = b_.CreateConstInBoundsGEP1_64(b_.getPtrTy(), f->getArg(0), i);
    auto *p = b_.CreateLoad(b_.getPtrTy(), slot);
    p->setMetadata(llvm::LLVMContext::MD_align, align);
    args.push_back(p);
  }
  args.push_back(f->getArg(1));
  args.push_back(f->getArg(2));
  b_.CreateCall(inner, args);
  b_.CreateRetVoid();
}

/// Offset of row `row` in each input: the row's multi-index over the outer
/// dims (constant divisors) dotted with the input's strides.
std::vector<Value *> KernelEmitter::rowOffsets(Value *row) {
  const std::vector<int64_t> &dims = space_.outerDims;
  std::vector<Value *> index(dims.size());
  int64_t inner = 1;
  for (size_t j = dims.size(); j-- > 0;) {
    Value *i = inner == 1 ? row : b_.CreateUDiv(row, b_.getInt64(inner));
    index[j] = j == 0 ? i : b_.CreateURem(i, b_.getInt64(dims[j]));
    inner *= dims[j];
  }
  std::vector<Value *> offsets;
  for (const InputAccess &in : space_.inputs) {
    Value *off = b_.getInt64(0);
    for (size_t j = 0; j < dims.size(); ++j)
      if (in.outerStrides[j] != 0)
        off = b_.CreateAdd(off,
                           b_.CreateMul(index[j], b_.getInt64(in.outerStrides[j]), "", true, true),
                           "", true, true);
    offsets.push_back(off);
  }
  return offsets;
}

Value *KernelEmitter::elementPtr(ValueId v, Value *base, Value *index) {
  return b_.CreateInBoundsGEP(memoryType(ctx_, body_.type(v).dtype), base, index);
}

SV KernelEmitter::constantValue(const Node &n) {
  const HostTensor &value = n.attrs.getDense("value");
  DType t = value.dtype();
  if (value.numel() == 0) // never read
    return sb_.constant(0, t);
  if (t == DType::I64) // exactly, beyond double's 53 bits
    return LlvmScalarBuilder::wrap(b_.getInt64(uint64_t(value.data<int64_t>()[0])), t);
  return sb_.constant(value.get(0), t);
}

void KernelEmitter::emitElement(Value *col, Value *outRow, const std::vector<Value *> &rowOff) {
  for (size_t k = 0; k < numInputs(); ++k) {
    const InputAccess &in = space_.inputs[k];
    if (in.splat || in.innerStride == 0)
      continue; // loaded before the loop or per row
    ValueId p = body_.params()[k];
    Value *index = b_.CreateAdd(rowOff[k], col, "", true, true);
    env_[size_t(p.id)] =
        sb_.load(elementPtr(p, buffers_[k], index), body_.type(p).dtype, "x" + llvm::Twine(k));
  }
  std::vector<SV> args;
  for (const Node &n : body_.nodes()) {
    if (n.op == OpKind::Constant) {
      env_[size_t(n.result().id)] = constantValue(n);
      continue;
    }
    args.clear();
    for (ValueId v : n.operands)
      args.push_back(env_[size_t(v.id)]);
    DType to = body_.type(n.result()).dtype;
    env_[size_t(n.result().id)] = opDef(n.op).scalar(sb_, args, n.attrs, to);
  }
  Value *index = b_.CreateAdd(outRow, col, "", true, true);
  for (size_t i = 0; i < numOutputs(); ++i) {
    ValueId r = body_.results()[i];
    sb_.store(env_[size_t(r.id)], elementPtr(r, buffers_[numInputs() + i], index));
  }
}

void KernelEmitter::emitLoops(llvm::Function *f) {
  auto *entry = llvm::BasicBlock::Create(ctx_, "entry", f);
  b_.SetInsertPoint(entry);
  if (space_.rows == 0 || space_.cols == 0) {
    b_.CreateRetVoid();
    return;
  }
  Value *begin = f->getArg(unsigned(buffers_.size()));
  Value *end = f->getArg(unsigned(buffers_.size() + 1));
  for (size_t k = 0; k < numInputs(); ++k)
    if (space_.inputs[k].splat) {
      ValueId p = body_.params()[k];
      env_[size_t(p.id)] = sb_.load(buffers_[k], body_.type(p).dtype, "splat" + llvm::Twine(k));
    }
  auto *rows = llvm::BasicBlock::Create(ctx_, "rows", f);
  auto *cols = llvm::BasicBlock::Create(ctx_, "cols", f);
  auto *rowEnd = llvm::BasicBlock::Create(ctx_, "row.end", f);
  auto *exit = llvm::BasicBlock::Create(ctx_, "exit", f);
  b_.CreateCondBr(b_.CreateICmpSLT(begin, end), rows, exit);

  b_.SetInsertPoint(rows);
  llvm::PHINode *row = b_.CreatePHI(b_.getInt64Ty(), 2, "row");
  row->addIncoming(begin, entry);
  std::vector<Value *> rowOff = rowOffsets(row);
  for (size_t k = 0; k < numInputs(); ++k) {
    const InputAccess &in = space_.inputs[k];
    if (!in.splat && in.innerStride == 0) {
      ValueId p = body_.params()[k];
      env_[size_t(p.id)] = sb_.load(elementPtr(p, buffers_[k], rowOff[k]), body_.type(p).dtype,
                                    "row" + llvm::Twine(k));
    }
  }
  Value *outRow = b_.CreateMul(row, b_.getInt64(space_.cols), "out.row", true, true);
  b_.CreateBr(cols);

  b_.SetInsertPoint(cols);
  llvm::PHINode *col = b_.CreatePHI(b_.getInt64Ty(), 2, "col");
  col->addIncoming(b_.getInt64(0), rows);
  emitElement(col, outRow, rowOff);
  Value *nextCol = b_.CreateAdd(col, b_.getInt64(1), "col.next", true, true);
  col->addIncoming(nextCol, b_.GetInsertBlock());
  b_.CreateCondBr(b_.CreateICmpEQ(nextCol, b_.getInt64(space_.cols)), rowEnd, cols);

  b_.SetInsertPoint(rowEnd);
  Value *nextRow = b_.CreateAdd(row, b_.getInt64(1), "row.next", true, true);
  row->addIncoming(nextRow, rowEnd);
  b_.CreateCondBr(b_.CreateICmpSLT(nextRow, end), rows, exit);

  b_.SetInsertPoint(exit);
  b_.CreateRetVoid();
}

void KernelEmitter::emit(llvm::StringRef symbol) {
  llvm::Function *inner = declareBody(symbol);
  for (size_t i = 0; i < numInputs() + numOutputs(); ++i)
    buffers_.push_back(inner->getArg(unsigned(i)));
  emitLoops(inner);
  emitEntry(symbol, inner);
}

} // namespace

std::unique_ptr<llvm::Module> emitLoopKernel(llvm::LLVMContext &ctx, const Function &body,
                                             const IterationSpace &space, llvm::StringRef symbol) {
  auto m = std::make_unique<llvm::Module>(symbol, ctx);
  KernelEmitter(*m, body, space).emit(symbol);
  return m;
}

} // namespace kiln::runtime::jit
