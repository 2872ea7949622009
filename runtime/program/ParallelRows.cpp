//===- ParallelRows.cpp ---------------------------------------------------===//
#include "ParallelRows.h"

#include <omp.h>

#include <algorithm>

namespace kiln::runtime {

void runRows(const LoopKernel &k, void **args) {
  int64_t threads = 1;
  if (k.rows > 1 && k.rows * k.cols >= kParallelElements)
    threads = std::min<int64_t>(omp_get_max_threads(), k.rows);
  if (threads <= 1) {
    k.fn(args, 0, k.rows);
    return;
  }
#pragma omp parallel num_threads(int(threads))
  {
    int64_t t = omp_get_thread_num(), n = omp_get_num_threads();
    k.fn(args, k.rows * t / n, k.rows * (t + 1) / n);
  }
}

} // namespace kiln::runtime
