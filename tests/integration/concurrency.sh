#!/usr/bin/env bash
# Indexes under concurrency: several sessions insert, update, delete and
# query (hnsw and ivfflat) while VACUUM runs in a loop; afterwards the hnsw
# index is consistent, answers are exact at large ef_search, reachability
# and recall match a fresh build of the same rows, and the ivfflat index
# answers exactly with every list probed. The hnsw index stores half
# precision (as vector_cosine_ops indexes do by default), so concurrent
# inserts also raise the norm its lower bounds use while scans run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P=28819
DURATION=${HNSW_CONCURRENCY_SECONDS:-20}
fresh_cluster concurrency "$P"
sql concurrency "$P" <<'SQL'
CREATE EXTENSION pgvector_rs;
SELECT setseed(0.2);
CREATE TABLE t (id bigserial PRIMARY KEY, v vector(24));
INSERT INTO t (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 24) WHERE i > 0) FROM generate_series(1, 3000) i;
CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32, quantization = half);
CREATE INDEX t_ivf ON t USING ivfflat (v vector_cosine_ops) WITH (lists = 10);
SQL
work=$(mktemp -d)
chmod 755 "$work"
cat >"$work/insert.sql" <<'SQL'
INSERT INTO t (v) SELECT array_agg(random())::vector FROM generate_series(1, 24);
SQL
cat >"$work/update.sql" <<'SQL'
\set id random(1, 3000)
UPDATE t SET v = (SELECT array_agg(random())::vector FROM generate_series(1, 24)) WHERE id = :id;
SQL
cat >"$work/query.sql" <<'SQL'
SET enable_seqscan = off;
SELECT id FROM t ORDER BY v <-> (SELECT array_agg(random())::vector FROM generate_series(1, 24)) LIMIT 10;
SELECT id FROM t ORDER BY v <=> (SELECT array_agg(random())::vector FROM generate_series(1, 24)) LIMIT 10;
SQL
cat >"$work/delete.sql" <<'SQL'
\set id random(1, 6000)
DELETE FROM t WHERE id = :id;
SQL
chmod 644 "$work"/*.sql

as_postgres "$BIN/pgbench" -n -h "$(cluster_dir concurrency)" -p "$P" -c 4 -j 2 -T "$DURATION" \
    -f "$work/insert.sql@4" -f "$work/update.sql@2" -f "$work/query.sql@4" -f "$work/delete.sql@1" postgres \
    >"$work/pgbench.log" 2>&1 &
bench=$!
vacuums=0
while kill -0 "$bench" 2>/dev/null; do
    sql concurrency "$P" -c "VACUUM t" && vacuums=$((vacuums + 1))
    sleep 1
done
wait "$bench"
check "pgbench ran without errors" 0 "$?"
grep -E "number of transactions actually processed|number of failed" "$work/pgbench.log" | sed 's/^/# /'
echo "# $vacuums vacuums ran concurrently"
check "vacuums ran during the workload" t "$([ "$vacuums" -ge 2 ] && echo t || echo f)"
sql concurrency "$P" -c "VACUUM t"

check "ivfflat: exact with every list probed" t "$(sql concurrency "$P" <<'SQL'
SET ivfflat.probes = 10;
SET enable_seqscan = off;
SELECT bool_and(a = b) FROM (
    SELECT (SELECT array_agg(id) FROM (SELECT id FROM t ORDER BY v <=> q.v LIMIT 10) s) AS a,
           (SELECT array_agg(id) FROM (SELECT id FROM t ORDER BY (v <=> q.v) + 0 LIMIT 10) s) AS b
    FROM (SELECT v FROM t ORDER BY id DESC LIMIT 20) q) r;
SQL
)"
check "index consistent" t "$(sql concurrency "$P" -c "SELECT pgvector_rs_hnsw_check('t_v') LIKE '%is consistent%'")"

# Reachability and recall of the index that lived through the workload,
# compared with a fresh build of the same rows (HNSW pruning leaves a few
# elements without incoming links even in a fresh build of uniform data).
# Recall is measured over 200 queries (2,000 neighbours), at an ef_search
# where it is near 0.95. At ef_search 40 (recall about 0.85 on this uniform
# 24-d data with m = 8) the gap to a fresh build moved between -0.02 and
# +0.053 from run to run, mostly build-to-build noise; at 100 it stayed
# within +-0.014 in the runs measured.
RECALL_EF=100
reachable() {
    sql concurrency "$P" -c "SET enable_seqscan = off" -c "SET hnsw.iterative_scan = relaxed_order" \
        -c "SET hnsw.max_scan_tuples = 1000000" -c "SET hnsw.scan_mem_multiplier = 100" \
        -c "SELECT count(DISTINCT id) FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM t ORDER BY id LIMIT 1) LIMIT 1000000) s"
}
sql concurrency "$P" <<'SQL'
CREATE TABLE q AS SELECT id, v FROM t ORDER BY id DESC LIMIT 200;
CREATE FUNCTION recall(ef int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE r record; a bigint[]; b bigint[]; hits int := 0;
BEGIN
    PERFORM set_config('hnsw.ef_search', ef::text, true);
    FOR r IN SELECT * FROM q LOOP
        SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = on;
        SELECT array_agg(id) INTO a FROM (SELECT id FROM t ORDER BY v <-> r.v LIMIT 10) s;
        SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = off;
        SELECT array_agg(id) INTO b FROM (SELECT id FROM t ORDER BY v <-> r.v LIMIT 10) s;
        hits := hits + (SELECT count(*) FROM unnest(a) x WHERE x = ANY (b));
    END LOOP;
    RETURN hits / 2000.0;
END $$;
SQL
live=$(sql concurrency "$P" -c "SELECT count(*) FROM t")
reach_churned=$(reachable)
recall_churned=$(sql concurrency "$P" -c "SELECT recall($RECALL_EF)")
# Not exactly 1: the 0.1-0.2% of elements that pruning leaves without
# incoming links (fresh builds too, as in pgvector) are missed by any search.
check "exact at large ef_search (recall >= 0.995)" t "$(sql concurrency "$P" -c "SELECT recall(100000) >= 0.995")"
sql concurrency "$P" -c "REINDEX INDEX t_v"
reach_fresh=$(reachable)
recall_fresh=$(sql concurrency "$P" -c "SELECT recall($RECALL_EF)")
echo "# live rows $live; reachable: after the workload $reach_churned, fresh build $reach_fresh"
echo "# recall@10 at ef_search $RECALL_EF: after the workload $recall_churned, fresh build $recall_fresh"
# A fresh build repairs reachability (every live row reachable); inserts and
# vacuum do not yet, so the index that lived through the workload misses
# about what pgvector's own builds leave unlinked. Measured over six CI runs
# of this workload: 0.12%, 0.14%, 0.17%, 0.17%, 0.17% and 0.23% of the live
# rows. The check allows 0.5%: a vacuum or insert bug that disconnects parts
# of the graph loses far more.
check "reachable rows within 0.5% of a fresh build" t \
    "$(sql concurrency "$P" -c "SELECT $reach_churned >= $reach_fresh - 0.005 * $live")"
check "recall within 0.05 of a fresh build" t "$(sql concurrency "$P" -c "SELECT $recall_churned >= $recall_fresh - 0.05")"
rm -rf "$work"
finish
