#!/usr/bin/env python3
"""Summarise scripts/distributed_bench.sh's JSON lines: for each (setting value, clients),
the median recall and QPS over the rounds of one node and of each distributed setup
(`distributed`: pgvector_rs's scan with pipelined remote transactions;
`distributed-fdw-xact`: the same scan in postgres_fdw's remote transactions;
`pgvector-fdw`: pgvector 0.8.6 over plain postgres_fdw partitions, if measured), with each
one's QPS as a ratio of one node's, as a Markdown table.
Usage: distributed_bench_summary.py [OUT.jsonl]"""
import json
import statistics
import sys
from collections import defaultdict

LABELS = ["distributed", "distributed-fdw-xact", "pgvector-fdw"]
NAMES = {
    "distributed": "distributed",
    "distributed-fdw-xact": "distributed, postgres_fdw xacts",
    "pgvector-fdw": "pgvector + plain postgres_fdw",
}

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/distributed_bench.jsonl"
runs = defaultdict(list)
for line in open(path):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    if r.get("label") not in ["one-node"] + LABELS:
        continue
    runs[(r["guc"], int(r["value"]), r["clients"], r["label"])].append(r)
present = [l for l in LABELS if any(k[3] == l for k in runs)]
keys = sorted({(g, v, c) for (g, v, c, _) in runs}, key=lambda k: (k[2], k[0], k[1]))
head = "| setting | clients | one node recall | one node QPS |"
rule = "|---|---|---|---|"
for l in present:
    head += f" {NAMES[l]} recall | QPS | ratio |"
    rule += "---|---|---|"
print(head + " rounds |")
print(rule + "---|")
for g, v, c in keys:
    one = runs.get((g, v, c, "one-node"), [])
    if not one:
        continue
    oq = statistics.median(r["qps"] for r in one)
    orc = statistics.median(r["recall"] for r in one)
    row = f"| {g} = {v} | {c} | {orc:.3f} | {oq:.0f} |"
    rounds = len(one)
    for l in present:
        d = runs.get((g, v, c, l), [])
        if not d:
            row += " | | |"
            continue
        dq = statistics.median(r["qps"] for r in d)
        drc = statistics.median(r["recall"] for r in d)
        row += f" {drc:.3f} | {dq:.0f} | {dq / oq:.2f} |"
        rounds = min(rounds, len(d))
    print(row + f" {rounds} |")

# QPS at a target recall (default 0.95), interpolated linearly between the two sweep
# points around it (median recall and QPS of each point), per setup and client count.
TARGET = float(sys.argv[2]) if len(sys.argv) > 2 else 0.95


def at_target(label, g, c):
    pts = sorted(
        (statistics.median(r["recall"] for r in rs), statistics.median(r["qps"] for r in rs))
        for (gg, v, cc, l), rs in runs.items()
        if l == label and gg == g and cc == c
    )
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= TARGET <= r1 and r1 > r0:
            return q0 + (q1 - q0) * (TARGET - r0) / (r1 - r0)
    return None


print()
print(f"| clients | one node QPS at recall {TARGET} |" + "".join(f" {NAMES[l]} QPS | ratio |" for l in present))
print("|---|---|" + "---|---|" * len(present))
for g, c in sorted({(g, c) for (g, _, c) in keys}, key=lambda k: k[1]):
    one = at_target("one-node", g, c)
    if one is None:
        continue
    row = f"| {c} | {one:.0f} |"
    for l in present:
        d = at_target(l, g, c)
        row += " | |" if d is None else f" {d:.0f} | {d / one:.2f} |"
    print(row)
