//===- Attribute.h - Compile-time operands of ops ---------------*- C++ -*-===//
#pragma once

#include "kiln/ir/HostTensor.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace kiln::ir {

using IntList = std::vector<int64_t>;

/// What kind of kernel a `fused` node is, decided once by the pass that made
/// it and read by whoever lowers it (XLA keeps the fusion kind on the
/// instruction alike): a loop over elementwise ops, such a loop feeding one
/// reduction, a matmul with its epilogue (transposed operands, bias,
/// activation), or softmax + cross-entropy (the fuse-xent pass).
enum class FusionKind : unsigned char { Loop, Reduction, Matmul, SoftmaxCrossEntropy };
/// As printed: loop, reduction, matmul, softmax_xent.
std::string_view fusionKindName(FusionKind k);
std::optional<FusionKind> parseFusionKind(std::string_view s);

/// An attribute value: 2, 0.5, true, [0, 1], f32, dense<[1, 2]>, loop.
using Attr = std::variant<int64_t, double, bool, IntList, DType, HostTensor, FusionKind>;

enum class AttrKind { Int, Float, Bool, Ints, Type, Dense, Fusion };
AttrKind attrKind(const Attr &a);
std::string_view attrKindName(AttrKind k);

/// Attributes of one node, kept sorted by name so that printing and hashing
/// are deterministic. Copies share the entries until one of them is changed
/// (set): every recorded op copies its attributes into the pending graph and
/// its autograd node, and the autodiff'd step's nodes into each step.
class AttrList {
public:
  AttrList() = default;
  AttrList(std::initializer_list<std::pair<std::string, Attr>> init);

  void set(std::string name, Attr value);
  bool has(std::string_view name) const { return find(name) != nullptr; }
  const Attr *find(std::string_view name) const;

  int64_t getInt(std::string_view name) const;
  double getFloat(std::string_view name) const;
  bool getBool(std::string_view name) const;
  const IntList &getInts(std::string_view name) const;
  const HostTensor &getDense(std::string_view name) const;
  FusionKind getFusionKind(std::string_view name) const;

  using Entries = std::vector<std::pair<std::string, Attr>>;
  const Entries &entries() const { return entries_ ? *entries_ : kNoEntries; }
  bool empty() const { return !entries_ || entries_->empty(); }
  bool operator==(const AttrList &o) const;

private:
  static const Entries kNoEntries;
  /// Null when empty; shared by copies, copied by set() when shared.
  std::shared_ptr<Entries> entries_;
};

} // namespace kiln::ir
