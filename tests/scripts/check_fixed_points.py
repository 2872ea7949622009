#!/usr/bin/env python3
"""Every .kir file under tests/ and examples/ that kiln accepts prints to a fixed point.

For each file, `kiln print FILE` either fails cleanly (exit 1, a test of an
error) or gives text T such that `kiln print` of T is T again. A crash (a
signal) fails the check either way.

usage: check_fixed_points.py KILN ROOT...
"""
import pathlib
import subprocess
import sys


def kiln_print(kiln, path=None, text=None):
    args = [kiln, "print", path if path else "-"]
    return subprocess.run(args, input=text, capture_output=True, text=True, timeout=60)


def main():
    kiln, roots = sys.argv[1], sys.argv[2:]
    files = sorted(p for root in roots for p in pathlib.Path(root).rglob("*.kir"))
    failures, printed = [], 0
    for path in files:
        first = kiln_print(kiln, str(path))
        if first.returncode < 0 or first.returncode not in (0, 1):
            failures.append(f"{path}: kiln print exited with {first.returncode}")
            continue
        if first.returncode == 1:
            continue  # an error test: the message is checked by its own RUN lines
        second = kiln_print(kiln, text=first.stdout)
        printed += 1
        if second.returncode != 0 or second.stdout != first.stdout:
            failures.append(f"{path}: printing the printed IR changes it")
    for f in failures:
        print(f"FAIL: {f}")
    print(f"{printed} files printed to a fixed point, {len(failures)} failures "
          f"({len(files)} .kir files)")
    return 1 if failures or printed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
