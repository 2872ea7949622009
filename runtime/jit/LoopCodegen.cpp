//===- LoopCodegen.cpp - LLVM IR for a loop kernel ------------------------===//
//
// The kernel is a two-level loop nest, rows [begin, end) x cols, in rotated
// (do-while) form with a constant inner trip count (a length-generic kernel:
// one loop over the elements [begin, end)); each element evaluates
// the body's scalar expressions through LlvmScalarBuilder. Inputs are loaded
// once (splats), once per row (broadcast along the row) or per element.
//
// A reduction kernel walks its input's iteration space the same way and
// folds each element into a double accumulator with its op's ReductionDef
// (the interpreter's fold): in a register along a reduced inner loop (the
// combine is `reassoc`, so the vectorizer keeps several partial results),
// or element by element along a kept inner loop. When
// rows meet in the same outputs, the partial results go through a double
// scratch array, finished (mean: divided by the count) and rounded at the end.
//
//===----------------------------------------------------------------------===//
#include "LoopCodegen.h"
#include "LlvmScalarBuilder.h"
#include "kiln/ir/OpDef.h"

#include <functional>

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
  void loadSplats();
  void loadRowInputs(const std::vector<Value *> &rowOff);
  /// Loads the element's inputs and evaluates the body's elementwise nodes.
  void evaluateElement(Value *col, const std::vector<Value *> &rowOff);
  void emitElement(Value *col, Value *outRow, const std::vector<Value *> &rowOff);
  SV constantValue(const Node &n);

  /// for (i = from; i < to; ++i) body(i), in rotated form; the insertion
  /// point ends after the loop.
  void emitFor(Value *from, Value *to, const llvm::Twine &name,
               const std::function<void(Value *)> &body);

  // ---- Reduction kernels ----------------------------------------------------
  void emitReduction(llvm::Function *f);
  void emitReductionRow(Value *row);
  /// The reduction's input at the current element, as a double.
  Value *reducedElement(Value *col, const std::vector<Value *> &rowOff);
  /// The reduction's fold (its op's ReductionDef).
  const ir::ReductionDef &fold() const;
  Value *identity();
  Value *combine(Value *acc, Value *x, bool reassociate);
  /// Stores finish(acc) -- acc, or acc / count for a mean -- to output element `index`.
  void storeFinished(Value *acc, Value *index);
  Value *scratchPtr(Value *index);

  size_t numInputs() const { return body_.params().size(); }
  size_t numOutputs() const { return body_.results().size(); }
  bool hasScratch() const { return space_.reduction && space_.reduction->acrossRows; }
  size_t numBuffers() const { return numInputs() + numOutputs() + (hasScratch() ? 1 : 0); }

  llvm::LLVMContext &ctx_;
  llvm::Module &m_;
  const Function &body_;
  const IterationSpace &space_;
  llvm::IRBuilder<> b_;
  LlvmScalarBuilder sb_;
  /// The scalar of each body value at the current element.
  std::vector<SV> env_;
  /// The inner function's pointer arguments: inputs, outputs, then scratch.
  std::vector<Value *> buffers_;
  /// The function being emitted (for new blocks).
  llvm::Function *fn_ = nullptr;
};

llvm::Function *KernelEmitter::declareBody(llvm::StringRef symbol) {
  size_t n = numBuffers();
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
    bool scratch = i >= numInputs() + numOutputs();
    if (!scratch)
      f->addParamAttr(i, i < numInputs() ? llvm::Attribute::ReadOnly : llvm::Attribute::WriteOnly);
    f->addParamAttr(i, llvm::Attribute::getWithAlignment(ctx_, llvm::Align(kBufferAlign)));
    f->getArg(i)->setName(scratch           ? llvm::Twine("scratch")
                          : i < numInputs() ? "in" + llvm::Twine(i)
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
  for (size_t i = 0; i < numBuffers(); ++i) {
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

/// Offset of row `row` in each input (and last, for a reduction, in its
/// output): the row's multi-index over the outer dims (constant divisors)
/// dotted with the strides.
std::vector<Value *> KernelEmitter::rowOffsets(Value *row) {
  const std::vector<int64_t> &dims = space_.outerDims;
  std::vector<Value *> index(dims.size());
  int64_t inner = 1;
  for (size_t j = dims.size(); j-- > 0;) {
    Value *i = inner == 1 ? row : b_.CreateUDiv(row, b_.getInt64(inner));
    index[j] = j == 0 ? i : b_.CreateURem(i, b_.getInt64(dims[j]));
    inner *= dims[j];
  }
  std::vector<const std::vector<int64_t> *> strides;
  for (const InputAccess &in : space_.inputs)
    strides.push_back(&in.outerStrides);
  if (space_.reduction)
    strides.push_back(&space_.reduction->outerStrides);
  std::vector<Value *> offsets;
  for (const std::vector<int64_t> *st : strides) {
    Value *off = b_.getInt64(0);
    for (size_t j = 0; j < dims.size(); ++j)
      if ((*st)[j] != 0)
        off = b_.CreateAdd(off, b_.CreateMul(index[j], b_.getInt64((*st)[j]), "", true, true), "",
                           true, true);
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

void KernelEmitter::loadSplats() {
  for (size_t k = 0; k < numInputs(); ++k)
    if (space_.inputs[k].splat) {
      ValueId p = body_.params()[k];
      env_[size_t(p.id)] = sb_.load(buffers_[k], body_.type(p).dtype, "splat" + llvm::Twine(k));
    }
}

void KernelEmitter::loadRowInputs(const std::vector<Value *> &rowOff) {
  for (size_t k = 0; k < numInputs(); ++k) {
    const InputAccess &in = space_.inputs[k];
    if (!in.splat && in.innerStride == 0) {
      ValueId p = body_.params()[k];
      env_[size_t(p.id)] = sb_.load(elementPtr(p, buffers_[k], rowOff[k]), body_.type(p).dtype,
                                    "row" + llvm::Twine(k));
    }
  }
}

void KernelEmitter::evaluateElement(Value *col, const std::vector<Value *> &rowOff) {
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
    if (!opDef(n.op).scalar)
      continue; // the reduction, which the caller folds
    args.clear();
    for (ValueId v : n.operands)
      args.push_back(env_[size_t(v.id)]);
    DType to = body_.type(n.result()).dtype;
    env_[size_t(n.result().id)] = opDef(n.op).scalar(sb_, args, n.attrs, to);
  }
}

void KernelEmitter::emitElement(Value *col, Value *outRow, const std::vector<Value *> &rowOff) {
  evaluateElement(col, rowOff);
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
  loadSplats();
  if (space_.elementRange) { // one loop whose length is known only at run time
    std::vector<Value *> noOffsets(numInputs(), b_.getInt64(0));
    emitFor(begin, end, "elements",
            [&](Value *i) { emitElement(i, /*outRow=*/b_.getInt64(0), noOffsets); });
    b_.CreateRetVoid();
    return;
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
  loadRowInputs(rowOff);
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

void KernelEmitter::emitFor(Value *from, Value *to, const llvm::Twine &name,
                            const std::function<void(Value *)> &body) {
  llvm::BasicBlock *before = b_.GetInsertBlock();
  auto *loop = llvm::BasicBlock::Create(ctx_, name, fn_);
  auto *done = llvm::BasicBlock::Create(ctx_, name + ".end", fn_);
  b_.CreateCondBr(b_.CreateICmpSLT(from, to), loop, done);
  b_.SetInsertPoint(loop);
  llvm::PHINode *i = b_.CreatePHI(b_.getInt64Ty(), 2, name + ".i");
  i->addIncoming(from, before);
  body(i);
  Value *next = b_.CreateAdd(i, b_.getInt64(1), name + ".next", true, true);
  i->addIncoming(next, b_.GetInsertBlock());
  b_.CreateCondBr(b_.CreateICmpSLT(next, to), loop, done);
  b_.SetInsertPoint(done);
}

// ---- Reduction kernels ------------------------------------------------------

const ReductionDef &KernelEmitter::fold() const { return *opDef(space_.reduction->op).reduction; }

Value *KernelEmitter::identity() {
  return LlvmScalarBuilder::unwrap(sb_.constant(fold().identity, DType::F64));
}

/// The op's own combine (as the interpreter's); `reassoc` where the
/// vectorizer may keep several partial results.
Value *KernelEmitter::combine(Value *acc, Value *x, bool reassociate) {
  using W = LlvmScalarBuilder;
  Value *folded =
      W::unwrap(fold().combine(sb_, W::wrap(acc, DType::F64), W::wrap(x, DType::F64)));
  auto *inst = llvm::dyn_cast<llvm::Instruction>(folded);
  if (inst && reassociate && fold().reassociates && llvm::isa<llvm::FPMathOperator>(inst))
    inst->setHasAllowReassoc(true);
  return folded;
}

void KernelEmitter::storeFinished(Value *acc, Value *index) {
  const ReductionAccess &red = *space_.reduction;
  if (fold().finish) {
    using W = LlvmScalarBuilder;
    SV count = sb_.constant(double(red.count), DType::F64);
    acc = W::unwrap(fold().finish(sb_, W::wrap(acc, DType::F64), count));
  }
  ValueId r = body_.results()[0];
  DType t = body_.type(r).dtype;
  sb_.store(sb_.cast(LlvmScalarBuilder::wrap(acc, DType::F64), t),
            elementPtr(r, buffers_[numInputs()], index));
}

Value *KernelEmitter::scratchPtr(Value *index) {
  return b_.CreateInBoundsGEP(b_.getDoubleTy(), buffers_.back(), index);
}

Value *KernelEmitter::reducedElement(Value *col, const std::vector<Value *> &rowOff) {
  evaluateElement(col, rowOff);
  SV x = env_[size_t(reductionNode(body_)->operands[0].id)];
  return LlvmScalarBuilder::unwrap(sb_.cast(x, DType::F64));
}

/// One row of the input space: folded into one output element when the
/// inner loop is reduced, else into `cols` consecutive output elements.
void KernelEmitter::emitReductionRow(Value *row) {
  const ReductionAccess &red = *space_.reduction;
  std::vector<Value *> rowOff = rowOffsets(row);
  loadRowInputs(rowOff);
  Value *outOff = rowOff.back();
  Value *cols = b_.getInt64(space_.cols);
  if (red.innerStride == 0) {
    // acc is a phi of the column loop; emitFor's blocks are known after it.
    llvm::BasicBlock *before = b_.GetInsertBlock();
    llvm::PHINode *acc = nullptr;
    Value *folded = nullptr;
    emitFor(b_.getInt64(0), cols, "cols", [&](Value *col) {
      acc = b_.CreatePHI(b_.getDoubleTy(), 2, "acc");
      acc->addIncoming(identity(), before);
      folded = combine(acc, reducedElement(col, rowOff), /*reassociate=*/true);
      acc->addIncoming(folded, b_.GetInsertBlock());
    });
    llvm::PHINode *total = b_.CreatePHI(b_.getDoubleTy(), 2, "row.acc");
    total->addIncoming(identity(), before); // cols >= 1, so never taken
    total->addIncoming(folded, llvm::cast<llvm::Instruction>(folded)->getParent());
    if (red.acrossRows) {
      Value *p = scratchPtr(outOff);
      b_.CreateStore(combine(b_.CreateLoad(b_.getDoubleTy(), p), total, false), p);
    } else {
      storeFinished(total, outOff);
    }
    return;
  }
  emitFor(b_.getInt64(0), cols, "cols", [&](Value *col) {
    Value *x = reducedElement(col, rowOff);
    Value *index = b_.CreateAdd(outOff, col, "", true, true);
    if (red.acrossRows) {
      Value *p = scratchPtr(index);
      b_.CreateStore(combine(b_.CreateLoad(b_.getDoubleTy(), p), x, false), p);
    } else {
      storeFinished(combine(identity(), x, false), index);
    }
  });
}

/// A call with begin < end runs rows [begin, end) -- or, when rows meet in
/// the same outputs (launchRows = 1), initialises the scratch, runs every
/// row and finishes the outputs.
void KernelEmitter::emitReduction(llvm::Function *f) {
  const ReductionAccess &red = *space_.reduction;
  b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", f));
  Value *begin = f->getArg(unsigned(buffers_.size()));
  Value *end = f->getArg(unsigned(buffers_.size() + 1));
  if (red.outputs == 0) {
    b_.CreateRetVoid();
    return;
  }
  Value *outputs = b_.getInt64(red.outputs);
  if (space_.rows == 0 || space_.cols == 0) { // an empty input: every output is the identity
    auto *work = llvm::BasicBlock::Create(ctx_, "work", f);
    auto *exit = llvm::BasicBlock::Create(ctx_, "exit", f);
    b_.CreateCondBr(b_.CreateICmpSLT(begin, end), work, exit);
    b_.SetInsertPoint(work);
    emitFor(b_.getInt64(0), outputs, "fill", [&](Value *o) { storeFinished(identity(), o); });
    b_.CreateBr(exit);
    b_.SetInsertPoint(exit);
    b_.CreateRetVoid();
    return;
  }
  loadSplats();
  if (!red.acrossRows) {
    emitFor(begin, end, "rows", [&](Value *row) { emitReductionRow(row); });
    b_.CreateRetVoid();
    return;
  }
  auto *work = llvm::BasicBlock::Create(ctx_, "work", f);
  auto *exit = llvm::BasicBlock::Create(ctx_, "exit", f);
  b_.CreateCondBr(b_.CreateICmpSLT(begin, end), work, exit);
  b_.SetInsertPoint(work);
  emitFor(b_.getInt64(0), outputs, "init",
          [&](Value *o) { b_.CreateStore(identity(), scratchPtr(o)); });
  emitFor(b_.getInt64(0), b_.getInt64(space_.rows), "rows",
          [&](Value *row) { emitReductionRow(row); });
  emitFor(b_.getInt64(0), outputs, "finish",
          [&](Value *o) { storeFinished(b_.CreateLoad(b_.getDoubleTy(), scratchPtr(o)), o); });
  b_.CreateBr(exit);
  b_.SetInsertPoint(exit);
  b_.CreateRetVoid();
}

void KernelEmitter::emit(llvm::StringRef symbol) {
  llvm::Function *inner = declareBody(symbol);
  fn_ = inner;
  for (size_t i = 0; i < numBuffers(); ++i)
    buffers_.push_back(inner->getArg(unsigned(i)));
  if (space_.reduction)
    emitReduction(inner);
  else
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
