//===- StructureEncoding.h - Types and attributes as words -----*- C++ -*-===//
//
// What identifies a type or an attribute, fed as 64-bit words and byte runs
// to a sink: Function::structuralHash hashes them, the frontend's exact step
// keys store them. One encoding, so that both always agree on what counts as
// "the same structure" (e.g. constant values by their bytes).
//
// A Sink has `void word(uint64_t)` and `void bytes(const void *, size_t)`
// (which must encode the length too).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/Attribute.h"
#include "kiln/ir/Shape.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace kiln::ir {

template <class Sink> void encodeType(Sink &sink, const TensorType &t) {
  sink.word(uint64_t(t.dtype));
  sink.word(uint64_t(t.shape.rank()));
  for (int64_t d : t.shape)
    sink.word(uint64_t(d));
}

/// The alternative, then its value (a dense value by type and bytes).
template <class Sink> void encodeAttr(Sink &sink, const Attr &a) {
  sink.word(a.index());
  std::visit(
      [&](const auto &x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, HostTensor>) {
          encodeType(sink, x.type());
          sink.bytes(x.raw(), x.bytes());
        } else if constexpr (std::is_same_v<T, IntList>) {
          sink.word(x.size());
          for (int64_t i : x)
            sink.word(uint64_t(i));
        } else if constexpr (std::is_same_v<T, double>) {
          uint64_t w;
          std::memcpy(&w, &x, sizeof w);
          sink.word(w);
        } else {
          sink.word(uint64_t(x));
        }
      },
      a);
}

/// Every attribute in order: count, then name and value of each.
template <class Sink> void encodeAttrs(Sink &sink, const AttrList &attrs) {
  sink.word(attrs.entries().size());
  for (const auto &[name, value] : attrs.entries()) {
    sink.bytes(name.data(), name.size());
    encodeAttr(sink, value);
  }
}

} // namespace kiln::ir
