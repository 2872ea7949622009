"""Writes a tiny MNIST-format directory of learnable synthetic digits.

Usage: make_mnist.py DIR [TRAIN TEST]
Image k has class k % 10: a bright 3x3 patch at a class-specific place on a
dim noisy background, so that a linear model can learn it in a few steps.
"""
import os
import random
import struct
import sys

out = sys.argv[1]
n_train = int(sys.argv[2]) if len(sys.argv) > 2 else 200
n_test = int(sys.argv[3]) if len(sys.argv) > 3 else 50
os.makedirs(out, exist_ok=True)
rng = random.Random(1)


def image(label):
    pixels = [rng.randrange(0, 40) for _ in range(28 * 28)]
    row, col = 3 + (label // 5) * 12, 2 + (label % 5) * 5
    for r in range(row, row + 3):
        for c in range(col, col + 3):
            pixels[r * 28 + c] = 255
    return bytes(pixels)


def write(prefix, n):
    labels = [k % 10 for k in range(n)]
    with open(os.path.join(out, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">4BIII", 0, 0, 8, 3, n, 28, 28))
        for label in labels:
            f.write(image(label))
    with open(os.path.join(out, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">4BI", 0, 0, 8, 1, n))
        f.write(bytes(labels))


write("train", n_train)
write("t10k", n_test)
