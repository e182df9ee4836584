#!/usr/bin/env python3
"""The `demo` data (demo/pypi_demo.csv.gz: 2,000 rows of pypi-minilm-100k, all-MiniLM-L6-v2,
384-d) as a benchmark dataset with held-out queries: every 10th row becomes a query (200),
the other 1,800 rows the base, written as float32 base.npy / query.npy. The benchmark
computes the exact ground truth itself (no neighbors.npy). It is a subset of the same
corpus as pypi-minilm-100k, not another corpus.

  scripts/demo_dataset.py OUT_DIR      (keep OUT_DIR out of git, e.g. /var/tmp/pypi-demo)

Only the standard library.
"""
import csv
import gzip
import os
import struct
import sys

DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "demo", "pypi_demo.csv.gz")


def write_npy(path, rows):
    dims = len(rows[0])
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows), dims)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        for r in rows:
            f.write(struct.pack(f"<{dims}f", *r))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    base, query = [], []
    with gzip.open(DEMO, "rt") as f:
        for i, row in enumerate(csv.reader(f)):
            vec = [float(x) for x in row[3].strip("[]").split(",")]
            (query if i % 10 == 9 else base).append(vec)
    write_npy(os.path.join(out, "base.npy"), base)
    write_npy(os.path.join(out, "query.npy"), query)
    print(f"{out}: {len(base)} base rows, {len(query)} queries")


if __name__ == "__main__":
    main()
