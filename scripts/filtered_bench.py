#!/usr/bin/env python3
"""Filtered vector search, side by side on two servers (issue 13, item 3).

    scripts/filtered_bench.py load DSN [DSN ...]     # create and fill the table on each server
    scripts/filtered_bench.py run NAME=DSN [NAME=DSN ...] [--queries N] [--repeat R]

`load` creates `filtered_items (id int, cat int, emb vector(384))` from
`pypi-minilm-100k` (base.npy; cat = id % 1000, so `cat < 10` selects 1%, `cat < 100`
10% and `cat < 1` 0.1% of the rows, independently of the vectors), a btree index on
`cat` and an hnsw index on `emb vector_cosine_ops`, then ANALYZEs. The extension must
already be created in each database (`CREATE EXTENSION vector` on pgvector's server,
`CREATE EXTENSION pgvector_rs` on ours). Nothing is built here.

`run` sets `hnsw.iterative_scan = relaxed_order` (and, with `--target-recall X`,
`pgvector_rs.target_recall = X`; the plan column then names the ef_search the scan
starts with) and, for each selectivity, runs
`SELECT id FROM filtered_items WHERE cat < X ORDER BY emb <=> q LIMIT 10` for the first
N held-out queries (query.npy), with the planner's choice and with each plan forced
(`--modes`): the plan (graph or btree), the mean rows returned, recall@10 against the
exact filtered result (computed on the server with the vector index disabled) and the
queries per second, median of R rounds (after a first, untimed round). The machine may
be shared: QPS are only comparable within one run.

Needs psycopg 3 (`pip install 'psycopg[binary]'`); no numpy.
"""

import argparse
import os
import statistics
import struct
import sys
import time

import psycopg

DATA = os.environ.get("PGVR_DATASET", "/work/shared/datasets/pypi-minilm-100k")
SELECTIVITIES = [("1%", 10), ("10%", 100), ("0.1%", 1)]


def read_npy_f16(path, limit=None):
    """Rows of a float16 2-d .npy file as lists of floats."""
    with open(path, "rb") as f:
        data = f.read()
    header_len = struct.unpack_from("<H", data, 8)[0]
    header = data[10:10 + header_len].decode()
    assert "'<f2'" in header and "False" in header, header
    shape = header.split("(")[1].split(")")[0]
    rows, dims = (int(x) for x in shape.split(",")[:2])
    offset = 10 + header_len
    fmt = struct.Struct(f"<{dims}e")
    out = []
    for i in range(rows if limit is None else min(rows, limit)):
        out.append(fmt.unpack_from(data, offset + i * fmt.size))
    return out


def literal(v):
    return "[" + ",".join(f"{x:.6g}" for x in v) + "]"


def load(dsns):
    base = read_npy_f16(f"{DATA}/base.npy")
    for dsn in dsns:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS filtered_items")
            conn.execute("CREATE TABLE filtered_items (id int, cat int, emb vector(384))")
            with conn.cursor().copy("COPY filtered_items (id, cat, emb) FROM STDIN") as copy:
                for i, v in enumerate(base):
                    copy.write_row((i, i % 1000, literal(v)))
            conn.execute("CREATE INDEX ON filtered_items (cat)")
            conn.execute("SET maintenance_work_mem = '1GB'")
            t = time.time()
            conn.execute("CREATE INDEX ON filtered_items USING hnsw (emb vector_cosine_ops)")
            print(f"{dsn}: hnsw build {time.time() - t:.1f}s", file=sys.stderr)
            conn.execute("VACUUM ANALYZE filtered_items")


def plan_of(conn, sql):
    lines = [r[0] for r in conn.execute("EXPLAIN " + sql)]
    text = "\n".join(lines)
    if "hnsw" in text or "emb_idx" in text:
        return "graph"
    if "cat_idx" in text or "Bitmap" in text:
        return "btree"
    return "seq" if "Seq Scan" in text else "other"


MODES = {
    # what the planner chooses
    "planner": [],
    # the exact plan: no vector index scan (a btree bitmap scan, or a sequential scan,
    # and a sort)
    "exact": ["SET LOCAL enable_indexscan = off"],
    # the graph: no sort, so the ordered index scan
    "graph": ["SET LOCAL enable_sort = off"],
}


def run(servers, nqueries, repeat, modes, target=None):
    queries = [literal(q) for q in read_npy_f16(f"{DATA}/query.npy", nqueries)]
    sql = "SELECT id FROM filtered_items WHERE cat < {b} ORDER BY emb <=> '{q}' LIMIT 10"
    results = []
    for name, dsn in servers:
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
            conn.execute("SET hnsw.iterative_scan = relaxed_order")
            conn.execute("SET jit = off")
            if target is not None:
                # pgvector_rs only; on another server it is an unused placeholder
                conn.execute(f"SET pgvector_rs.target_recall = {float(target)}")
            for label, bound in SELECTIVITIES:
                # exact answers: no vector index
                with conn.transaction():
                    conn.execute(MODES["exact"][0])
                    truth = [
                        {r[0] for r in conn.execute(sql.format(b=bound, q=q))} for q in queries
                    ]
                for mode in modes:
                    with conn.transaction():
                        for setting in MODES[mode]:
                            conn.execute(setting)
                        plan = plan_of(conn, sql.format(b=bound, q=queries[0]))
                        if target is not None:
                            # the setting the scan starts with (EXPLAIN's line), if the graph
                            note = [r[0] for r in conn.execute("EXPLAIN " + sql.format(b=bound, q=queries[0]))
                                    if r[0].startswith("pgvector_rs:")]
                            if note:
                                plan += " (" + note[0].split(": ")[2].split(" (")[0] + ")"
                        got = [[r[0] for r in conn.execute(sql.format(b=bound, q=q))] for q in queries]
                        rows = statistics.mean(len(g) for g in got)
                        recall = statistics.mean(
                            len(set(g) & t) / max(len(t), 1) for g, t in zip(got, truth)
                        )
                        qps = []
                        for _ in range(repeat):
                            t0 = time.perf_counter()
                            for q in queries:
                                conn.execute(sql.format(b=bound, q=q)).fetchall()
                            qps.append(len(queries) / (time.perf_counter() - t0))
                    results.append((name, label, mode, plan, rows, recall, statistics.median(qps)))
                    print(f"{name:11} {label:5} {mode:8} plan={plan:6} rows={rows:5.1f} "
                          f"recall={recall:.3f} qps={statistics.median(qps):7.1f}", flush=True)
    print()
    print("| server | selectivity | plan forced | plan | rows | recall@10 | QPS (median) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, label, mode, plan, rows, recall, qps in results:
        forced = "no (planner)" if mode == "planner" else mode
        print(f"| {name} | {label} | {forced} | {plan} | {rows:.1f} | {recall:.3f} | {qps:.0f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pl = sub.add_parser("load")
    pl.add_argument("dsn", nargs="+")
    pr = sub.add_parser("run")
    pr.add_argument("server", nargs="+", help="NAME=DSN")
    pr.add_argument("--queries", type=int, default=50)
    pr.add_argument("--repeat", type=int, default=3)
    pr.add_argument("--target-recall", type=float,
                    help="SET pgvector_rs.target_recall to this in every session")
    pr.add_argument("--modes", default="planner,exact,graph",
                    help="comma-separated: planner (its choice), exact, graph (forced)")
    a = p.parse_args()
    if a.cmd == "load":
        load(a.dsn)
    else:
        run([tuple(s.split("=", 1)) for s in a.server], a.queries, a.repeat, a.modes.split(","), a.target_recall)


if __name__ == "__main__":
    main()
