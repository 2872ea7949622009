//===- ParallelRows.cpp ---------------------------------------------------===//
#include "ParallelRows.h"

#include <algorithm>

namespace kiln::runtime {

namespace {

using parallel::ceilDiv;

int64_t rowsPerTaskOf(const LoopKernel &k) {
  if (k.rows <= 1 || k.cols <= 0)
    return std::max<int64_t>(k.rows, 1);
  int64_t rows = std::max<int64_t>(1, ceilDiv(kMinTaskElements, k.cols));
  return std::max(rows, ceilDiv(k.rows, kMostTasks));
}

} // namespace

RowKernel::RowKernel(LoopKernel k)
    : k_(std::move(k)), rowsPerTask_(rowsPerTaskOf(k_)),
      split_(k_.rows > 0 ? ceilDiv(k_.rows, rowsPerTask_) : 1) {}

void RowKernel::run(void **args) const {
  if (split_.tasks() == 1)
    return k_.fn(args, 0, k_.rows);
  split_.run([&](int64_t task) {
    int64_t begin = task * rowsPerTask_;
    k_.fn(args, begin, std::min(k_.rows, begin + rowsPerTask_));
  });
}

} // namespace kiln::runtime
