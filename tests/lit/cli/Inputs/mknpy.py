#!/usr/bin/env python3
"""Writes a .npy file with the standard library only (no numpy), optionally
damaged, for the tests of `kiln run`'s .npy reader.

  mknpy.py OUT DESCR SHAPE VALUES [--version 2] [--magic BYTES] [--fortran]
           [--header-len N] [--drop N] [--extra N] [--raw-header TEXT]

SHAPE is "2,3" ("" for a scalar), VALUES a comma-separated list.
"""
import argparse
import struct

FORMATS = {"<f4": "<f", "<f8": "<d", "<i8": "<q", "|u1": "B", "|b1": "B", ">f4": ">f", "<i4": "<i"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("descr")
    p.add_argument("shape")
    p.add_argument("values")
    p.add_argument("--version", type=int, default=1)
    p.add_argument("--magic", default="\x93NUMPY")
    p.add_argument("--fortran", action="store_true")
    p.add_argument("--header-len", type=int, help="lie about the header length")
    p.add_argument("--drop", type=int, default=0, help="remove N bytes from the end")
    p.add_argument("--extra", type=int, default=0, help="append N zero bytes")
    p.add_argument("--raw-header", help="use this header dictionary text as is")
    a = p.parse_args()

    dims = [int(d) for d in a.shape.split(",") if d]
    shape = "(" + "".join("%d, " % d for d in dims).rstrip(" ")
    shape = shape[:-1] + ")" if len(dims) > 1 else shape + ")"
    header = a.raw_header or "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        a.descr, "True" if a.fortran else "False", shape)
    header = header.encode("latin-1")
    prefix = 10 if a.version == 1 else 12
    header += b" " * ((-(prefix + len(header) + 1)) % 64) + b"\n"
    length = a.header_len if a.header_len is not None else len(header)
    length_bytes = struct.pack("<H" if a.version == 1 else "<I", length)

    fmt = FORMATS[a.descr]
    values = [float(v) for v in a.values.split(",") if v]
    if fmt[-1] in "qBi":
        values = [int(v) for v in values]
    data = b"".join(struct.pack(fmt, v) for v in values)

    blob = a.magic.encode("latin-1") + bytes([a.version, 0]) + length_bytes + header + data
    blob += b"\0" * a.extra
    if a.drop:
        blob = blob[: -a.drop]
    with open(a.out, "wb") as f:
        f.write(blob)


main()
