#!/usr/bin/env python3
"""PyTorch's times for kiln-bench-backend's graphs (a) and (b), measured like
kiln's harness (warmup, then many timed calls; median and minimum, ns).
Prints one line per graph: NAME MEDIAN_NS MIN_NS REPS. Exits 3 without torch."""
import sys
import time

try:
    import torch
except ImportError:
    sys.exit(3)


def measure(fn, warmup=5, min_reps=20, min_seconds=0.5):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter_ns()
    while len(times) < min_reps or time.perf_counter_ns() - start < min_seconds * 1e9:
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    return median, times[0], n


def main():
    torch.manual_seed(0)
    with torch.no_grad():
        n = 1 << 20
        a, b, c = (torch.rand(n) for _ in range(3))
        out = torch.empty(n)
        # Like kiln's run(inputs, outputs): the result lands in a given tensor.
        def chain():
            torch.mul(torch.tanh(torch.addcmul(c, a, b)), 0.5, out=out)

        x, w, bias = torch.rand(100, 784), torch.rand(784, 10), torch.rand(10)
        y = torch.empty(100, 10)

        def dense():
            torch.relu_(torch.addmm(bias, x, w, out=y))

        for name, fn in (("chain", chain), ("dense", dense)):
            median, best, reps = measure(fn)
            print(name, median, best, reps)
    print("threads", torch.get_num_threads(), torch.__version__)


if __name__ == "__main__":
    main()
