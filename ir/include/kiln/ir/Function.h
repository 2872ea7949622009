//===- Function.h - SSA functions and modules -------------------*- C++ -*-===//
//
// A Function is a straight-line SSA program: typed parameters, a list of
// nodes in program order (each defines fresh values), and returned values.
// Values are dense integer ids into the function's value table, so a
// function is cheap to copy, hash and rebuild; passes build a new function
// rather than mutate in place.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Attribute.h"
#include "kiln/ir/Error.h"
#include "kiln/ir/Shape.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace kiln::ir {

enum class OpKind : uint16_t {
#define KILN_OP(Name) Name,
#include "kiln/ir/Ops.def"
};

struct ValueId {
  int32_t id = -1;
  bool valid() const { return id >= 0; }
  bool operator==(const ValueId &o) const { return id == o.id; }
  bool operator!=(const ValueId &o) const { return id != o.id; }
  bool operator<(const ValueId &o) const { return id < o.id; }
};

/// What the function knows about one value.
struct ValueInfo {
  TensorType type;
  /// Name for printing ("x", "loss"); empty = printed as a number.
  std::string name;
  /// Index of the defining node, or -1 for a parameter.
  int32_t defNode = -1;
  /// For a parameter, its position; otherwise the result index within its node.
  int32_t index = 0;
};

class Function;

struct Node {
  OpKind op;
  std::vector<ValueId> operands;
  AttrList attrs;
  std::vector<ValueId> results;
  Location loc;
  /// The region of a `fused` node: a function whose parameters receive the
  /// operands and whose results are the node's results. Null for other ops.
  std::shared_ptr<const Function> body;

  ValueId result() const { return results.at(0); }
};

class Function {
public:
  Function() = default;
  explicit Function(std::string name) : name_(std::move(name)) {}

  const std::string &name() const { return name_; }
  void setName(std::string n) { name_ = std::move(n); }
  Location loc;

  // Parameters and results.
  ValueId addParam(TensorType type, std::string name = {});
  const std::vector<ValueId> &params() const { return params_; }
  const std::vector<ValueId> &results() const { return results_; }
  void setResults(std::vector<ValueId> results) { results_ = std::move(results); }
  /// Locations of the returned values (for diagnostics); may be empty.
  std::vector<Location> resultLocs;

  // Values.
  size_t numValues() const { return values_.size(); }
  const ValueInfo &value(ValueId v) const { return values_.at(size_t(v.id)); }
  ValueInfo &value(ValueId v) { return values_.at(size_t(v.id)); }
  const TensorType &type(ValueId v) const { return value(v).type; }
  bool isParam(ValueId v) const { return value(v).defNode < 0; }
  /// The node defining v; v must not be a parameter.
  const Node &defOf(ValueId v) const { return nodes_.at(size_t(value(v).defNode)); }

  // Nodes, in program order. Nodes and values live in deques: appending
  // never moves them, so a reference from defOf(), value() or type() stays
  // valid while a pass builds into the function it reads.
  const std::deque<Node> &nodes() const { return nodes_; }
  /// Appends a node whose results get the given types; returns its index.
  /// Does not check types: use Builder (checked) or run the verifier.
  size_t appendNode(OpKind op, std::vector<ValueId> operands, AttrList attrs,
                    std::vector<TensorType> resultTypes, Location loc = {},
                    std::shared_ptr<const Function> body = nullptr);

  /// Deterministic structural hash: ops, attributes, types and the shape of
  /// the dataflow; independent of value names, the function name and locations.
  /// 64 bits: equal hashes do not mean equal structures (compare keys).
  uint64_t structuralHash() const;
  /// The exact bytes that structuralHash() hashes: two functions have the
  /// same key exactly when they have the same structure. For caches.
  std::string structuralKey() const;

private:
  uint64_t position(ValueId v) const;
  template <class Sink> void encodeStructure(Sink &sink) const;

  std::string name_;
  std::deque<ValueInfo> values_;
  std::vector<ValueId> params_;
  std::deque<Node> nodes_;
  std::vector<ValueId> results_;
};

/// A list of functions, as in one .kir file.
class Module {
public:
  std::vector<Function> functions;
  /// The function named `name` (without '@'), or nullptr.
  const Function *find(std::string_view name) const;
  Function *find(std::string_view name);
};

} // namespace kiln::ir
