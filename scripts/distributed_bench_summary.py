#!/usr/bin/env python3
"""Summarise scripts/distributed_bench.sh's JSON lines: for each (setting value, clients),
the median QPS over the rounds of one node and of the distributed setup, their recall, and
the ratio, as a Markdown table.  Usage: distributed_bench_summary.py [OUT.jsonl]"""
import json
import statistics
import sys
from collections import defaultdict

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/distributed_bench.jsonl"
runs = defaultdict(list)
for line in open(path):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    if r.get("label") not in ("one-node", "distributed"):
        continue
    runs[(r["guc"], int(r["value"]), r["clients"], r["label"])].append(r)
keys = sorted({(g, v, c) for (g, v, c, _) in runs})
print("| setting | clients | one node recall | one node QPS | distributed recall | distributed QPS | QPS ratio | rounds |")
print("|---|---|---|---|---|---|---|---|")
for g, v, c in keys:
    one = runs.get((g, v, c, "one-node"), [])
    dist = runs.get((g, v, c, "distributed"), [])
    if not one or not dist:
        continue
    oq = statistics.median(r["qps"] for r in one)
    dq = statistics.median(r["qps"] for r in dist)
    orc = statistics.median(r["recall"] for r in one)
    drc = statistics.median(r["recall"] for r in dist)
    print(f"| {g} = {v} | {c} | {orc:.3f} | {oq:.0f} | {drc:.3f} | {dq:.0f} | {dq / oq:.2f} | {min(len(one), len(dist))} |")
