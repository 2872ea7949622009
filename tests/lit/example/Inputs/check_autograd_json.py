"""Checks `kiln example autograd --json` (standard input) against PyTorch 1.13.

Usage: check_autograd_json.py [--extract forward_ir|backward_ir OUT]
Exits 1 with a message on the first mismatch; prints "OK" otherwise.
"""
import json
import sys

# PyTorch 1.13 (docs/textbook.md §1): a.grad after the first and second backward.
GRAD1 = [[2.0, 2.6666667461395264, 3.3333334922790527],
         [4.0, 4.6666669845581055, 5.333333492279053]]
FREED = ("Trying to backward through the graph a second time (or directly access saved "
         "tensors after they have already been freed).")

result = json.load(sys.stdin)
if "--extract" in sys.argv:
    key, out = sys.argv[sys.argv.index("--extract") + 1:][:2]
    with open(out, "w") as f:
        f.write(result[key])


def check(cond, what):
    if not cond:
        sys.exit("mismatch: " + what + "\n" + json.dumps(result, indent=1))


def close(a, b):
    return all(abs(x - y) <= 1e-6 * max(1.0, abs(y))
               for ra, rb in zip(a, b) for x, y in zip(ra, rb))


check(list(result) == ["grad1", "grad2", "third_backward_error", "no_grad_requires_grad",
                       "detach_requires_grad", "forward_ir", "backward_ir"], "keys")
check(close(result["grad1"], GRAD1), "grad1")
check(close(result["grad2"], [[2 * x for x in row] for row in GRAD1]), "grad2 = 2 * grad1")
check(result["third_backward_error"].startswith(FREED), "third_backward_error")
check(result["no_grad_requires_grad"] is False, "no_grad_requires_grad")
check(result["detach_requires_grad"] is False, "detach_requires_grad")
print("OK")
