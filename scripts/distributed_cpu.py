#!/usr/bin/env python3
"""CPU time per distributed query, per server: the head's backend and the data nodes'.

Runs N executions of the benchmark's prepared statement (the queries of DATASET, sent
as text, as scripts/distributed_bench.sh does) in one psql session on the head and
reads, before and after, the CPU time (utime + stime, /proc/PID/stat) of that backend
and of every client backend of the data nodes (which serve the head's connections;
nothing else may run on them meanwhile). CPU time is much less sensitive than QPS to
other work on a shared machine. Run as root (or the postgres user).

  scripts/distributed_cpu.py HEAD_PORT NODE1_PORT NODE2_PORT [SETUP_SQL ...]
  scripts/distributed_cpu.py ONE_NODE_PORT - -        (one node holding every row)

Environment: N (1000 executions), EF (40, hnsw.ef_search set on the head), DATASET,
PSQL (psql binary), HOST (localhost).
"""
import os
import struct
import queue
import subprocess
import sys
import threading


def load_npy(path):
    with open(path, "rb") as f:
        magic = f.read(6)
        assert magic == b"\x93NUMPY", path
        major = f.read(2)[0]
        hlen = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = f.read(hlen).decode()
        code = {"'<f4'": "f", "'<f2'": "e"}[header.split("'descr':")[1].split(",")[0].strip()]
        shape = header.split("'shape':")[1].split(")")[0].strip(" (")
        rows, dim = (int(x) for x in shape.split(",")[:2])
        data = f.read(rows * dim * struct.calcsize(code))
    flat = struct.unpack(f"<{rows * dim}{code}", data)
    return [flat[i * dim:(i + 1) * dim] for i in range(rows)]


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None  # a backend that ended meanwhile: not one of this session's
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def main():
    head, n1, n2 = sys.argv[1:4]
    setup = sys.argv[4:]
    host = os.environ.get("HOST", "localhost")
    psql = os.environ.get("PSQL", "/usr/lib/postgresql/15/bin/psql")
    n = int(os.environ.get("N", "1000"))
    ef = os.environ.get("EF", "40")
    ds = os.environ.get("DATASET", "/work/shared/datasets/pypi-minilm-100k")
    queries = load_npy(os.path.join(ds, "query.npy"))
    texts = ["[" + ",".join("%.9g" % x for x in q) + "]" for q in queries]

    def one_shot(port, sql):
        return subprocess.run([psql, "-X", "-At", "-h", host, "-p", port, "-U", "postgres",
                               "-d", "postgres", "-c", sql], capture_output=True, text=True,
                              check=True).stdout.split()

    p = subprocess.Popen([psql, "-X", "-At", "-q", "-h", host, "-p", head, "-U", "postgres",
                          "-d", "postgres", "-v", "ON_ERROR_STOP=1"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    # psql's output is read by a thread, so that neither side blocks on a full pipe.
    lines = queue.Queue()

    def reader():
        for line in p.stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()

    def send(sql):
        p.stdin.write(sql + "\n")

    def until(marker):
        send(f"SELECT '{marker}';")
        p.stdin.flush()
        while True:
            line = lines.get()
            if line is None:
                raise SystemExit("psql ended early")
            if line == marker:
                return

    for s in setup:
        send(s + ";")
    send(f"SET hnsw.ef_search = {ef};")
    send("PREPARE q(vector) AS SELECT id FROM items ORDER BY emb <=> $1 LIMIT 10;")
    send("SELECT 'pid=' || pg_backend_pid();")
    p.stdin.flush()
    pid = None
    while pid is None:
        line = lines.get()
        if line is None:
            raise SystemExit("psql ended early")
        if line.startswith("pid="):
            pid = int(line[4:])
    for t in texts[:50]:
        send(f"EXECUTE q('{t}');")
    until("warm")
    nodes = []
    for port in (n1, n2):
        if port == "-":  # a single node: only its backend is measured
            continue
        nodes += [int(x) for x in one_shot(port, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")]
    before = [cpu_ticks(pid)] + [cpu_ticks(x) for x in nodes]
    for i in range(n):
        send(f"EXECUTE q('{texts[i % len(texts)]}');")
    until("done")
    after = [cpu_ticks(pid)] + [cpu_ticks(x) for x in nodes]
    p.stdin.close()
    p.wait()
    tick_ms = 1000.0 / os.sysconf("SC_CLK_TCK")
    headms = (after[0] - before[0]) * tick_ms / n
    nodems = sum(a - b for a, b in zip(after[1:], before[1:])
                 if a is not None and b is not None) * tick_ms / n
    print(f"head {headms:.3f} ms/query, data nodes {nodems:.3f} ms/query in all "
          f"({len(nodes)} backends), total {headms + nodems:.3f}")


if __name__ == "__main__":
    main()
