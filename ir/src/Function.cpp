//===- Function.cpp -------------------------------------------------------===//
#include "kiln/ir/Function.h"
#include "kiln/ir/StructureEncoding.h"

#include <cstring>

namespace kiln::ir {

ValueId Function::addParam(TensorType type, std::string name) {
  ValueId v{int32_t(values_.size())};
  values_.push_back({std::move(type), std::move(name), -1, int32_t(params_.size())});
  params_.push_back(v);
  return v;
}

size_t Function::appendNode(OpKind op, std::vector<ValueId> operands, AttrList attrs,
                            std::vector<TensorType> resultTypes, Location loc,
                            std::shared_ptr<const Function> body) {
  size_t index = nodes_.size();
  Node n{op, std::move(operands), std::move(attrs), {}, std::move(loc), std::move(body)};
  for (size_t i = 0; i < resultTypes.size(); ++i) {
    n.results.push_back(ValueId{int32_t(values_.size())});
    values_.push_back({std::move(resultTypes[i]), {}, int32_t(index), int32_t(i)});
  }
  nodes_.push_back(std::move(n));
  return index;
}

namespace {
/// The words and byte runs themselves, little-endian: an exact key.
struct KeyWriter {
  std::string out;
  void word(uint64_t w) {
    for (int i = 0; i < 8; ++i)
      out.push_back(char((w >> (8 * i)) & 0xff));
  }
  void bytes(const void *p, size_t n) {
    word(n);
    out.append(static_cast<const char *>(p), n);
  }
};

/// FNV-1a over a stream of 64-bit words: deterministic across runs and
/// machines, unlike std::hash. A sink of StructureEncoding.h.
struct Hasher {
  uint64_t h = 1469598103934665603ull;
  void word(uint64_t w) {
    for (int i = 0; i < 8; ++i) {
      h ^= (w >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  void bytes(const void *p, size_t n) {
    word(n);
    const auto *b = static_cast<const unsigned char *>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ull;
    }
  }
};
} // namespace

/// Where a value comes from, independent of how ids were assigned.
uint64_t Function::position(ValueId v) const {
  const ValueInfo &info = value(v);
  if (info.defNode < 0)
    return (uint64_t(1) << 63) | uint64_t(info.index);
  return (uint64_t(info.defNode) << 16) | uint64_t(info.index);
}

template <class Sink> void Function::encodeStructure(Sink &sink) const {
  sink.word(params_.size());
  for (ValueId p : params_)
    encodeType(sink, type(p));
  for (const Node &n : nodes_) {
    sink.word(uint64_t(n.op));
    sink.word(n.operands.size());
    for (ValueId v : n.operands)
      sink.word(position(v));
    encodeAttrs(sink, n.attrs);
    for (ValueId r : n.results)
      encodeType(sink, type(r));
  }
  sink.word(results_.size());
  for (ValueId r : results_)
    sink.word(position(r));
}

uint64_t Function::structuralHash() const {
  Hasher h;
  encodeStructure(h);
  return h.h;
}

std::string Function::structuralKey() const {
  KeyWriter w;
  encodeStructure(w);
  return std::move(w.out);
}

const Function *Module::find(std::string_view name) const {
  for (const Function &f : functions)
    if (f.name() == name)
      return &f;
  return nullptr;
}

Function *Module::find(std::string_view name) {
  for (Function &f : functions)
    if (f.name() == name)
      return &f;
  return nullptr;
}

} // namespace kiln::ir
