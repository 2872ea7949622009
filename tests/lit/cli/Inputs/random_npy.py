"""Writes a float32 .npy of the given shape with uniform values in [-1, 1).

Usage: random_npy.py FILE SEED DIM... (standard library only)."""
import random
import struct
import sys

path, seed, dims = sys.argv[1], int(sys.argv[2]), [int(d) for d in sys.argv[3:]]
count = 1
for d in dims:
    count *= d
rng = random.Random(seed)
shape = "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<%df" % count, *(rng.uniform(-1, 1) for _ in range(count))))
