//===- TextCursor.h - Shared base of small hand-written parsers -*- C++ -*-===//
//
// The .npy and safetensors headers are short JSON-like texts, each read by a
// small recursive-descent parser that derives from this cursor: it owns the
// position and the whitespace and punctuation matching; each parser words and
// locates its own errors (a file offset, a format name).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <string_view>

namespace kiln::ir {

class TextCursor {
protected:
  explicit TextCursor(std::string_view text) : text_(text) {}

  bool atEnd() const { return pos_ >= text_.size(); }

  /// Skips JSON whitespace: space, tab, newline, carriage return.
  void skipSpace() {
    while (!atEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                        text_[pos_] == '\r'))
      ++pos_;
  }

  /// Skips whitespace and returns the offset of what follows (for errors).
  size_t skipSpaceAndOffset() {
    skipSpace();
    return pos_;
  }

  /// Skips whitespace, then consumes `c` if it comes next.
  bool consume(char c) {
    skipSpace();
    if (atEnd() || text_[pos_] != c)
      return false;
    ++pos_;
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

} // namespace kiln::ir
