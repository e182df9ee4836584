#!/usr/bin/env bash
# Benchmark: one node holding every row vs a head whose table is hash-partitioned over
# two postgres_fdw data nodes, on pypi-minilm-100k (HNSW m = 16, ef_construction = 64),
# swept hnsw.ef_search, several client counts, ROUNDS rounds alternating the two setups
# in the same run. Results go to OUT (JSON lines of pgvector_rs-bench); summarise with
# scripts/distributed_bench_summary.py.
#
#   scripts/distributed_bench.sh [--start] [--setup] ONE HEAD NODE1 NODE2
#
# ONE, HEAD, NODE1, NODE2: TCP ports on HOST (default localhost) of the single node, the
# head and the two data nodes (user postgres, database postgres, trust auth). The head
# reaches the data nodes at HOST:NODE1 and HOST:NODE2.
#   --start   start (creating them once) throwaway clusters bsingle, bhead, bn1, bn2
#             on those ports with scripts/cluster.sh (each its own cluster owned by postgres)
#   --setup   load the dataset into ONE (and build its index), split it by hash(id) into
#             NODE1/NODE2 (index each), and create the partitioned table on HEAD
# Environment: SWEEP (default hnsw.ef_search=40,80), Q queries per point (1000),
# CLIENTS (1,8), ROUNDS (3), OUT (/tmp/distributed_bench.jsonl), DATASET, BENCH (the
# pgvector_rs-bench binary; build it with `cargo build --release -p pgvector_rs-bench`).
# PGVECTOR_FDW_URL: optionally, the connection string of a head running pgvector whose
# `items` is partitioned over plain postgres_fdw foreign tables on data nodes running
# pgvector (set up by hand, see docs/distributed.md): measured in each round too, as
# `pgvector-fdw`. LABELS (default one-node,distributed,distributed-fdw-xact,pgvector-fdw)
# picks the setups to run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/common.sh
START=0 SETUP=0
while [ $# -gt 0 ]; do
    case "$1" in
    --start) START=1; shift ;;
    --setup) SETUP=1; shift ;;
    *) break ;;
    esac
done
S=${1:?usage: distributed_bench.sh [--start] [--setup] ONE HEAD NODE1 NODE2}
H=${2:?head port} N1=${3:?node 1 port} N2=${4:?node 2 port}
HOST=${HOST:-localhost}
BIN=$(pg_bindir)
B=${BENCH:-target/release/pgvector_rs-bench}
DS=${DATASET:-/work/shared/datasets/pypi-minilm-100k}
SWEEP=${SWEEP:-hnsw.ef_search=40,80}
Q=${Q:-1000}
CLIENTS=${CLIENTS:-1,8}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-/tmp/distributed_bench.jsonl}
INDEX="USING hnsw (emb vector_cosine_ops) WITH (m=16, ef_construction=64)"
[ -x "$B" ] || { echo "missing $B: cargo build --release -p pgvector_rs-bench" >&2; exit 1; }
[ -d "$DS" ] || { echo "missing dataset $DS" >&2; exit 1; }

if [ $START = 1 ]; then
    for c in "bsingle $S" "bhead $H" "bn1 $N1" "bn2 $N2"; do
        # shellcheck disable=SC2086
        scripts/cluster.sh start $c tcp
    done
fi
psqlp() { local port=$1; shift; as_postgres "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$HOST" -p "$port" -U postgres -d postgres "$@"; }
url() { echo "host=$HOST port=$1 user=postgres dbname=postgres"; }

if [ $SETUP = 1 ]; then
    # One node: load and build (a short first sweep).
    $B run --dataset "$DS" --url "$(url $S)" --extension pgvector_rs --index "$INDEX" \
        --setup "SET maintenance_work_mem='1GB'" --sweep hnsw.ef_search=40 --queries 50 --clients 1 --label warm >/dev/null
    for p in $N1 $N2; do
        psqlp $p -c "DROP TABLE IF EXISTS items" -c "CREATE EXTENSION IF NOT EXISTS pgvector_rs" -c "CREATE TABLE items (id int PRIMARY KEY, emb vector(384))"
    done
    psqlp $S <<SQL
DROP TABLE IF EXISTS hp;
CREATE TABLE hp (id int) PARTITION BY HASH (id);
CREATE TABLE hp0 PARTITION OF hp FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE hp1 PARTITION OF hp FOR VALUES WITH (MODULUS 2, REMAINDER 1);
SQL
    psqlp $S -c "COPY (SELECT * FROM items WHERE satisfies_hash_partition('hp'::regclass, 2, 0, id)) TO STDOUT (FORMAT binary)" | psqlp $N1 -c "COPY items FROM STDIN (FORMAT binary)"
    psqlp $S -c "COPY (SELECT * FROM items WHERE satisfies_hash_partition('hp'::regclass, 2, 1, id)) TO STDOUT (FORMAT binary)" | psqlp $N2 -c "COPY items FROM STDIN (FORMAT binary)"
    for p in $N1 $N2; do
        psqlp $p -c "SET maintenance_work_mem = '1GB'" -c "CREATE INDEX items_emb_idx ON items $INDEX" -c "VACUUM ANALYZE items" &
    done
    wait
    # pgvector_rs-bench keeps its dataset fingerprint in the table comment (for --reuse).
    comment=$(psqlp $S -c "SELECT obj_description('items'::regclass, 'pg_class')")
    psqlp $H <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS items;
DROP EXTENSION IF EXISTS postgres_fdw CASCADE;
CREATE EXTENSION IF NOT EXISTS pgvector_rs;
CREATE EXTENSION postgres_fdw;
CREATE SERVER n1 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$HOST', port '$N1', dbname 'postgres', extensions 'pgvector_rs', parallel_commit 'true');
CREATE SERVER n2 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$HOST', port '$N2', dbname 'postgres', extensions 'pgvector_rs', parallel_commit 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER n1 OPTIONS (user 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER n2 OPTIONS (user 'postgres');
CREATE TABLE items (id int, emb vector(384)) PARTITION BY HASH (id);
CREATE FOREIGN TABLE items_n1 PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER n1 OPTIONS (table_name 'items');
CREATE FOREIGN TABLE items_n2 PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER 1) SERVER n2 OPTIONS (table_name 'items');
SQL
    psqlp $H -c "COMMENT ON TABLE items IS \$c\$$comment\$c\$"
    echo "rows: $(psqlp $N1 -c 'SELECT count(*) FROM items') + $(psqlp $N2 -c 'SELECT count(*) FROM items')"
fi

LABELS=${LABELS:-one-node,distributed,distributed-fdw-xact,pgvector-fdw}
want() { [[ ",$LABELS," == *",$1,"* ]]; }
for round in $(seq "$ROUNDS"); do
    echo "# round $round" >&2
    want one-node && $B run --dataset "$DS" --url "$(url $S)" --extension pgvector_rs --index "$INDEX" --reuse \
        --sweep "$SWEEP" --queries "$Q" --clients "$CLIENTS" --label one-node --out "$OUT"
    # A search that is a statement of its own: pipelined remote transactions.
    want distributed && $B run --dataset "$DS" --url "$(url $H)" --extension pgvector_rs --reuse \
        --sweep "$SWEEP" --queries "$Q" --clients "$CLIENTS" --label distributed --out "$OUT"
    # The same searches in postgres_fdw's remote transactions (START TRANSACTION and
    # COMMIT each a round trip of their own, per server), as inside a transaction block.
    want distributed-fdw-xact && $B run --dataset "$DS" --url "$(url $H)" --extension pgvector_rs --reuse \
        --setup "SET pgvector_rs.distributed_pipelined_transactions = off" \
        --sweep "$SWEEP" --queries "$Q" --clients "$CLIENTS" --label distributed-fdw-xact --out "$OUT"
    if [ -n "${PGVECTOR_FDW_URL:-}" ] && want pgvector-fdw; then
        $B run --dataset "$DS" --url "$PGVECTOR_FDW_URL" --extension vector --reuse \
            --sweep "$SWEEP" --queries "$Q" --clients "$CLIENTS" --label pgvector-fdw --out "$OUT"
    fi
done
