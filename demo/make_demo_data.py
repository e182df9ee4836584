#!/usr/bin/env python3
"""Regenerate demo/pypi_demo.csv.gz: the first N rows of the pypi-minilm-100k dataset
(package name, summary, 384-d all-MiniLM-L6-v2 embedding) as CSV for `make run`.

Usage: python3 demo/make_demo_data.py ../shared/datasets/pypi-minilm-100k [N]
Only the standard library is needed (NumPy v1 .npy header parsed by hand, float16 via struct).
"""
import ast
import csv
import gzip
import struct
import sys


def read_npy_rows(path, count):
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise SystemExit(f"{path}: not a .npy file")
        major, _minor = f.read(2)
        header_len = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = ast.literal_eval(f.read(header_len).decode("latin1"))
        if header["descr"] != "<f2" or header["fortran_order"]:
            raise SystemExit(f"{path}: expected little-endian float16 in C order")
        rows, dims = header["shape"]
        for _ in range(min(count, rows)):
            yield struct.unpack(f"<{dims}e", f.read(2 * dims))


def main():
    dataset = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    with open(f"{dataset}/names.txt") as f:
        names = [line.rstrip("\n") for _, line in zip(range(count), f)]
    with open(f"{dataset}/texts.txt") as f:
        texts = [line.rstrip("\n") for _, line in zip(range(count), f)]
    with gzip.open("demo/pypi_demo.csv.gz", "wt", newline="") as out:
        writer = csv.writer(out)
        for i, vector in enumerate(read_npy_rows(f"{dataset}/base.npy", count)):
            # float16 values print exactly with 5 significant digits' worth of precision.
            literal = "[" + ",".join(f"{v:.5g}" for v in vector) + "]"
            writer.writerow([i, names[i], texts[i], literal])


if __name__ == "__main__":
    main()
