#!/usr/bin/env bash
# Distributed top-k over postgres_fdw partitions: a head and three data nodes on
# loopback TCP. Results equal exact search, EXPLAIN shows the custom scan with the
# per-partition LIMIT and the forwarded settings, hnsw.ef_search on the head reaches the
# shards, and the faults (node down, node without the extension, statement_timeout,
# an error on one shard) give clean errors and leave the session usable.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H=28851 N1=28852 N2=28853 N3=28854 DOWN=28859 HANG=28858
# fresh_tcp NAME PORT: like fresh_cluster, listening on localhost too (postgres_fdw).
fresh_tcp() {
    local name=$1 port=$2 root
    root=$(cluster_dir "$name")
    "$PROJECT_DIR/scripts/cluster.sh" stop "$name" >/dev/null 2>&1 || true
    as_root rm -rf "$root" 2>/dev/null || rm -rf "$root"
    "$PROJECT_DIR/scripts/cluster.sh" start "$name" "$port" tcp >/dev/null
    CLUSTERS+=("$name")
}
fresh_tcp dhead "$H"
fresh_tcp dnode1 "$N1"
fresh_tcp dnode2 "$N2"
fresh_tcp dnode3 "$N3"
hq() { sql dhead "$H" "$@"; }

for n in "dnode1 $N1" "dnode2 $N2"; do
    # shellcheck disable=SC2086
    sql $n <<'SQL'
CREATE EXTENSION pgvector_rs;
CREATE TABLE items (id int PRIMARY KEY, cat int, emb vector(3), bits bit(12), note text);
-- a shard that sleeps, and one that fails, for the fault checks
CREATE VIEW slow_items AS SELECT i.* FROM items i, (SELECT pg_sleep(30) AS s) s;
CREATE VIEW bad_items AS SELECT * FROM items WHERE 1 / (id - id) = 0;
-- which remote backend serves the head's connection (kept or replaced after an error)
CREATE VIEW backend_pid AS SELECT pg_backend_pid() AS pid;
SQL
done
# A node without the extension: same table name, no vector type.
sql dnode3 "$N3" -c "CREATE TABLE items (id int PRIMARY KEY, cat int, emb real[], bits bit(12), note text)"

hq <<SQL
CREATE EXTENSION pgvector_rs;
CREATE EXTENSION postgres_fdw;
CREATE SERVER n1 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost', port '$N1', dbname 'postgres', extensions 'pgvector_rs', connect_timeout '2');
CREATE SERVER n2 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost', port '$N2', dbname 'postgres', extensions 'pgvector_rs', connect_timeout '2');
CREATE SERVER n3 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost', port '$N3', dbname 'postgres', extensions 'pgvector_rs', connect_timeout '2');
CREATE SERVER ndown FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost', port '$DOWN', dbname 'postgres', connect_timeout '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER n1 OPTIONS (user 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER n2 OPTIONS (user 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER n3 OPTIONS (user 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER ndown OPTIONS (user 'postgres');
CREATE SERVER nhang FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost', port '$HANG', dbname 'postgres', connect_timeout '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER nhang OPTIONS (user 'postgres');
CREATE TABLE items (id int, cat int, emb vector(3), bits bit(12), note text) PARTITION BY HASH (id);
CREATE FOREIGN TABLE items_p0 PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER n1 OPTIONS (table_name 'items');
CREATE FOREIGN TABLE items_p1 PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER 1) SERVER n2 OPTIONS (table_name 'items');
CREATE FOREIGN TABLE pid_n1 (pid int) SERVER n1 OPTIONS (table_name 'backend_pid');
CREATE FOREIGN TABLE pid_n2 (pid int) SERVER n2 OPTIONS (table_name 'backend_pid');
SELECT setseed(0.42);
CREATE TABLE ref AS
SELECT i AS id, i % 7 AS cat,
       ARRAY[round(random()::numeric, 6), round(random()::numeric, 6), round(random()::numeric, 6)]::real[]::vector(3) AS emb,
       (floor(random() * 4096)::int)::bit(12) AS bits, md5(i::text) AS note
FROM generate_series(1, 2000) i;
UPDATE ref SET emb = NULL WHERE id % 97 = 0;
INSERT INTO items SELECT * FROM ref;
CREATE TABLE queries AS SELECT i AS qid, ARRAY[random(), random(), random()]::real[]::vector(3) AS q FROM generate_series(1, 8) i;
ANALYZE ref; ANALYZE queries;
SQL
check "rows were routed to both data nodes" "2000" \
    "$(( $(sql dnode1 "$N1" -c 'SELECT count(*) FROM items') + $(sql dnode2 "$N2" -c 'SELECT count(*) FROM items') ))"
check "both data nodes hold rows" "tt" "$(sql dnode1 "$N1" -c 'SELECT count(*) > 500 FROM items')$(sql dnode2 "$N2" -c 'SELECT count(*) > 500 FROM items')"

Q1="[0.5,0.25,0.75]"
plan=$(hq -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10")
echo "$plan" | sed 's/^/# /'
check "EXPLAIN shows the distributed scan" t "$(grep -q 'Custom Scan (VectorDistributedTopK)' <<<"$plan" && echo t || echo f)"
check "EXPLAIN shows both partitions and servers" t \
    "$(grep -q 'Partitions: items_p0 on server n1, items_p1 on server n2' <<<"$plan" && echo t || echo f)"
check "EXPLAIN shows the per-partition LIMIT in the remote SQL" t \
    "$(grep -q 'Remote SQL (items_p0 on n1): SELECT (emb OPERATOR(public.<->) \$1::public.vector), id FROM public.items ORDER BY (emb OPERATOR(public.<->) \$1::public.vector) LIMIT \$2::pg_catalog.int8' <<<"$plan" && echo t || echo f)"
check "EXPLAIN shows the forwarded settings" t \
    "$(hq -c "SET hnsw.ef_search = 123" -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10" | grep "Forwarded Settings: hnsw.ef_search = '123'\$" >/dev/null && echo t || echo f)"
check "EXPLAIN: nothing set on the head, nothing forwarded" t \
    "$(hq -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10" | grep "Forwarded Settings: none (the servers' own settings apply)" >/dev/null && echo t || echo f)"
check "EXPLAIN without the switch is the ordinary plan" f \
    "$(hq -c "SET pgvector_rs.distributed_search = off" -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10" | grep 'VectorDistributedTopK' >/dev/null && echo t || echo f)"
an=$(hq -c "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF) SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10")
echo "$an" | sed 's/^/# /'
check "EXPLAIN ANALYZE shows each partition's rows and time" 2 \
    "$(grep -cE 'Remote Result \(items_p[01] on n[12]\): actual rows=10 loops=1 time=[0-9]+\.[0-9]{3} ms$' <<<"$an")"
check "EXPLAIN ANALYZE names the connections used" t \
    "$(grep -q 'Remote Connections: pgvector_rs (one pipeline per server' <<<"$an" && echo t || echo f)"
check "EXPLAIN ANALYZE in a transaction block after a foreign scan: postgres_fdw's connections" t \
    "$(hq -c "BEGIN" -c "SELECT count(*) FROM pid_n2" -c "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF, TIMING OFF) SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10" -c "COMMIT" | grep -q 'Remote Connections: postgres_fdw (its remote transactions)' && echo t || echo f)"
lat=$(hq -c "LOAD 'pgvector_rs'" -c "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF, TIMING OFF) SELECT qid, id FROM queries, LATERAL (SELECT id FROM items ORDER BY emb <-> q LIMIT 3) s")
echo "$lat" | sed 's/^/# /'
check "EXPLAIN ANALYZE of a scan run per outer row averages its rows over the loops" 2 \
    "$(echo "$lat" | grep -cE 'Remote Result \(items_p[01] on n[12]\): actual rows=3 loops=8$')"
check "plain EXPLAIN shows no remote results" 0 \
    "$(hq -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10" | grep -c 'Remote Result')"

# same DESCRIPTION QUERY_ON_items: the distributed query and the same query on the
# local copy `ref` (exact, no index) print the same rows.
same() {
    local desc=$1 query=$2 dist local
    dist=$(hq "${@:3}" -c "$query" 2>&1)
    local=$(hq -c "${query//FROM items/FROM ref}" 2>&1)
    if [ "$dist" = "$local" ] && ! echo "$dist" | grep ERROR >/dev/null; then
        echo "ok - $desc"
    else
        echo "not ok - $desc"
        echo "#   distributed: $(echo "$dist" | tr '\n' ' ' | cut -c1-400)"
        echo "#   exact:       $(echo "$local" | tr '\n' ' ' | cut -c1-400)"
        FAILURES=$((FAILURES + 1))
    fi
}
uses_scan() { hq "${@:2}" -c "EXPLAIN (COSTS OFF) $1" | grep 'VectorDistributedTopK' >/dev/null && echo t || echo f; }

for op in '<->' '<#>' '<=>' '<+>'; do
    same "top 10 by $op equals exact search" \
        "SELECT id, round((emb $op '$Q1')::numeric, 5) FROM items ORDER BY emb $op '$Q1' LIMIT 10"
done
check "the $op query used the distributed scan" t "$(uses_scan "SELECT id FROM items ORDER BY emb <+> '$Q1' LIMIT 10")"
# Hamming and Jaccard have ties: compare the distances (the set of top-k distances is unique).
same "top 15 distances by <~> equal exact search" \
    "SELECT bits <~> B'101010101010' AS d FROM items ORDER BY bits <~> B'101010101010' LIMIT 15" -c "LOAD 'pgvector_rs'"
same "top 15 distances by <%> equal exact search" \
    "SELECT round((bits <%> B'101010101010')::numeric, 6) FROM items ORDER BY bits <%> B'101010101010' LIMIT 15" -c "LOAD 'pgvector_rs'"
check "the bit query used the distributed scan (library loaded)" t "$(uses_scan "SELECT id FROM items ORDER BY bits <~> B'101010101010' LIMIT 15" -c "LOAD 'pgvector_rs'")"
check "a session that never loaded the library plans as usual" f "$(uses_scan "SELECT id FROM items ORDER BY bits <~> B'101010101010' LIMIT 15")"
same "commuted operands" "SELECT id FROM items ORDER BY '$Q1' <=> emb LIMIT 7"
same "LIMIT with OFFSET" "SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 5 OFFSET 7"
same "OFFSET beyond the rows" "SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 5 OFFSET 5000"
same "LIMIT 0" "SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 0"
same "LIMIT larger than the table (NULL distances last)" \
    "SELECT count(*), count(d), max(d) FROM (SELECT emb <-> '$Q1' AS d FROM items ORDER BY emb <-> '$Q1' LIMIT 5000) s"
same "WHERE clause shipped" "SELECT id, cat FROM items WHERE cat = 3 AND note > '4' ORDER BY emb <=> '$Q1' LIMIT 10"
check "the WHERE query used the distributed scan" t "$(uses_scan "SELECT id FROM items WHERE cat = 3 AND note > '4' ORDER BY emb <=> '$Q1' LIMIT 10")"
same "WHERE on the partition key (pruned to one partition)" "SELECT id FROM items WHERE id = 42 ORDER BY emb <=> '$Q1' LIMIT 10"
same "all columns and expressions in the output" \
    "SELECT id, emb, note, upper(note), (emb <-> '$Q1') * 2 AS d2, emb <-> '$Q1' AS d FROM items ORDER BY emb <-> '$Q1' LIMIT 5"
same "a WHERE clause that cannot be shipped falls back" \
    "SELECT id FROM items WHERE note::text || '' ~ '^[0-7]' AND random() < 2 ORDER BY emb <-> '$Q1' LIMIT 6"
check "the non-shippable WHERE did not use the distributed scan" f "$(uses_scan "SELECT id FROM items WHERE random() < 2 ORDER BY emb <-> '$Q1' LIMIT 6")"
same "a subquery per outer row (correlated parameter, rescans)" \
    "SELECT qid, (SELECT id FROM items ORDER BY emb <-> q LIMIT 1) FROM queries ORDER BY qid"
same "LATERAL top-k per query" \
    "SELECT qid, id FROM queries, LATERAL (SELECT id FROM items ORDER BY emb <=> q LIMIT 3) s ORDER BY qid, id"

# Prepared statements: custom plans, then the generic plan with $1 and $2 as parameters.
prep_dist=$(hq <<SQL
PREPARE p(vector, int, bigint) AS SELECT id FROM items WHERE cat = \$2 ORDER BY emb <-> \$1 LIMIT \$3;
EXECUTE p('[0.1,0.2,0.3]', 1, 4); EXECUTE p('[0.9,0.2,0.3]', 2, 4); EXECUTE p('[0.1,0.8,0.3]', 3, 4);
EXECUTE p('[0.1,0.2,0.7]', 4, 4); EXECUTE p('[0.5,0.5,0.5]', 5, 4); EXECUTE p('[0.3,0.2,0.1]', 6, 4);
EXECUTE p('[0.7,0.1,0.9]', 0, 4); EXECUTE p('[0.2,0.6,0.4]', 1, 6);
SET plan_cache_mode = force_generic_plan;
EXECUTE p('[0.4,0.4,0.1]', 2, 5);
EXPLAIN (COSTS OFF, VERBOSE) EXECUTE p('[0.4,0.4,0.1]', 2, 5);
SQL
)
prep_ref=$(hq <<SQL
PREPARE p(vector, int, bigint) AS SELECT id FROM ref WHERE cat = \$2 ORDER BY emb <-> \$1 LIMIT \$3;
EXECUTE p('[0.1,0.2,0.3]', 1, 4); EXECUTE p('[0.9,0.2,0.3]', 2, 4); EXECUTE p('[0.1,0.8,0.3]', 3, 4);
EXECUTE p('[0.1,0.2,0.7]', 4, 4); EXECUTE p('[0.5,0.5,0.5]', 5, 4); EXECUTE p('[0.3,0.2,0.1]', 6, 4);
EXECUTE p('[0.7,0.1,0.9]', 0, 4); EXECUTE p('[0.2,0.6,0.4]', 1, 6);
SET plan_cache_mode = force_generic_plan;
EXECUTE p('[0.4,0.4,0.1]', 2, 5);
SQL
)
check "prepared statement, 9 executions incl. the generic plan, equal exact search" \
    "$prep_ref" "$(echo "$prep_dist" | grep -v -e '^Custom Scan' -e '^  ' -e '^Output' | grep -v '^$')"
check "the generic plan is the distributed scan with parameters" t \
    "$(grep -q 'WHERE ((cat = \$1::integer)) ORDER BY (emb OPERATOR(public.<->) \$2::public.vector) LIMIT \$3::pg_catalog.int8' <<<"$prep_dist" && echo t || echo f)"
out=$(hq -v ON_ERROR_STOP=0 -c "PREPARE n(bigint, bigint) AS SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT \$1 OFFSET \$2" -c "EXECUTE n(-1, 0)" -c "EXECUTE n(1, -1)" 2>&1)
check "negative LIMIT and OFFSET are errors, as in Postgres" t \
    "$(echo "$out" | tr '\n' ' ' | grep 'LIMIT must not be negative.*OFFSET must not be negative' >/dev/null && echo t || echo f)"

# Mixed local and foreign partitions: one distributed scan; the local partitions are
# searched by their own plans inside it (an index scan by distance, or a bounded sort
# when there is no index), merged with the remote results. Here the remainder-1 half of
# the rows is local, split by range into an indexed and an unindexed partition.
hq <<'SQL'
CREATE TABLE mixed (id int, cat int, emb vector(3), bits bit(12), note text) PARTITION BY HASH (id);
CREATE FOREIGN TABLE mixed_p0 PARTITION OF mixed FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER n1 OPTIONS (table_name 'items');
CREATE TABLE mixed_p1 PARTITION OF mixed FOR VALUES WITH (MODULUS 2, REMAINDER 1) PARTITION BY RANGE (id);
CREATE TABLE mixed_lo PARTITION OF mixed_p1 FOR VALUES FROM (MINVALUE) TO (1000);
-- columns in another order and a dropped column: the child plans use their own attnos
CREATE TABLE mixed_hi (note text, dropped int, bits bit(12), emb vector(3), cat int, id int);
ALTER TABLE mixed_hi DROP COLUMN dropped;
ALTER TABLE mixed_p1 ATTACH PARTITION mixed_hi FOR VALUES FROM (1000) TO (MAXVALUE);
INSERT INTO mixed_p1 SELECT * FROM ref WHERE satisfies_hash_partition('mixed'::regclass, 2, 1, id);
CREATE INDEX ON mixed_lo USING hnsw (emb vector_l2_ops);
CREATE INDEX ON mixed_lo USING hnsw (emb vector_cosine_ops);
ANALYZE mixed_p1;
SQL
check "mixed: both local partitions hold rows" "tt" \
    "$(hq -c "SELECT count(*) > 200 FROM mixed_lo")$(hq -c "SELECT count(*) > 200 FROM mixed_hi")"
# An exact local index search (large ef_search) and index scans wherever possible.
MIX=(-c "SET hnsw.ef_search = 1000" -c "SET enable_seqscan = off")
plan=$(hq "${MIX[@]}" -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM mixed ORDER BY emb <-> '$Q1' LIMIT 10")
echo "$plan" | sed 's/^/# /'
check "mixed: EXPLAIN shows the distributed scan" t "$(grep -q 'Custom Scan (VectorDistributedTopK)' <<<"$plan" && echo t || echo f)"
check "mixed: EXPLAIN lists the remote and the local partitions" t \
    "$(grep -q 'Partitions: mixed_p0 on server n1, mixed_lo (local), mixed_hi (local)' <<<"$plan" && echo t || echo f)"
check "mixed: the indexed local partition is searched with its index" t \
    "$(grep -q 'Index Scan using mixed_lo_emb_idx on public.mixed_lo' <<<"$plan" && echo t || echo f)"
check "mixed: the unindexed local partition is sorted" t \
    "$(echo "$plan" | tr '\n' ' ' | grep 'Sort .* Sort Key: ((mixed_1.emb <-> .* Seq Scan on public.mixed_hi mixed_1' >/dev/null && echo t || echo f)"
# same_mixed DESCRIPTION QUERY_ON_mixed [psql args]: as `same`, against `ref`.
same_mixed() {
    local desc=$1 query=$2 dist local
    dist=$(hq "${@:3}" -c "$query" 2>&1)
    local=$(hq -c "${query//FROM mixed/FROM ref}" 2>&1)
    if [ "$dist" = "$local" ] && ! echo "$dist" | grep ERROR >/dev/null; then
        echo "ok - mixed: $desc"
    else
        echo "not ok - mixed: $desc"
        echo "#   distributed: $(echo "$dist" | tr '\n' ' ' | cut -c1-400)"
        echo "#   exact:       $(echo "$local" | tr '\n' ' ' | cut -c1-400)"
        FAILURES=$((FAILURES + 1))
    fi
}
for op in '<->' '<=>'; do
    same_mixed "top 10 by $op equals exact search" \
        "SELECT id, round((emb $op '$Q1')::numeric, 5) FROM mixed ORDER BY emb $op '$Q1' LIMIT 10" "${MIX[@]}"
done
same_mixed "LIMIT with OFFSET" "SELECT id FROM mixed ORDER BY emb <-> '$Q1' LIMIT 5 OFFSET 7" "${MIX[@]}"
same_mixed "LIMIT 0" "SELECT id FROM mixed ORDER BY emb <-> '$Q1' LIMIT 0" "${MIX[@]}"
same_mixed "WHERE clause (shipped, and applied by the local plans)" \
    "SELECT id, cat FROM mixed WHERE cat = 3 AND note > '4' ORDER BY emb <=> '$Q1' LIMIT 10" "${MIX[@]}"
same_mixed "all columns and expressions in the output" \
    "SELECT id, emb, note, bits, upper(note), (emb <-> '$Q1') * 2 AS d2, emb <-> '$Q1' AS d FROM mixed ORDER BY emb <-> '$Q1' LIMIT 8" "${MIX[@]}"
same_mixed "LIMIT larger than the table, no local index (NULL distances last)" \
    "SELECT count(*), count(d), max(d) FROM (SELECT emb <-> '$Q1' AS d FROM mixed ORDER BY emb <-> '$Q1' LIMIT 5000) s" \
    -c "SET enable_indexscan = off"
same_mixed "a subquery per outer row (rescans with new parameters)" \
    "SELECT qid, (SELECT id FROM mixed ORDER BY emb <-> q LIMIT 1) FROM queries ORDER BY qid" "${MIX[@]}"
same_mixed "LATERAL top-k per query" \
    "SELECT qid, id FROM queries, LATERAL (SELECT id FROM mixed ORDER BY emb <=> q LIMIT 3) s ORDER BY qid, id" "${MIX[@]}"
check "mixed: the per-row subquery used the distributed scan" t \
    "$(hq "${MIX[@]}" -c "EXPLAIN (COSTS OFF) SELECT qid, (SELECT id FROM mixed ORDER BY emb <-> q LIMIT 1) FROM queries" | grep VectorDistributedTopK >/dev/null && echo t || echo f)"
check "mixed: a generic plan with parameters equals exact search" \
    "$(hq -c "SELECT id FROM ref WHERE cat = 2 ORDER BY emb <-> '[0.4,0.4,0.1]' LIMIT 5")" \
    "$(hq "${MIX[@]}" -c "SET plan_cache_mode = force_generic_plan" \
        -c "PREPARE m(vector, int, bigint) AS SELECT id FROM mixed WHERE cat = \$2 ORDER BY emb <-> \$1 LIMIT \$3" \
        -c "EXECUTE m('[0.4,0.4,0.1]', 2, 5)")"
check "mixed: EXPLAIN ANALYZE runs the local plans inside the scan" t \
    "$(hq "${MIX[@]}" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM mixed ORDER BY emb <-> '$Q1' LIMIT 10" | grep 'Index Scan using mixed_lo_emb_idx on mixed_lo mixed (actual rows=10 loops=1)' >/dev/null && echo t || echo f)"
check "only local partitions: ordinary plan" f "$(uses_scan "SELECT id FROM mixed_p1 ORDER BY emb <-> '$Q1' LIMIT 5")"

# Search settings reach the shards: HNSW indexes, the data nodes forced to use them;
# with ef_search = 1 and no iterative scan each shard returns 1 row, at 40 all 10.
for n in "dnode1 $N1" "dnode2 $N2"; do
    # shellcheck disable=SC2086
    sql $n -c "CREATE INDEX ON items USING hnsw (emb vector_l2_ops)" -c "ALTER DATABASE postgres SET enable_seqscan = off"
done
check "hnsw.ef_search = 1 on the head: one row per shard" 2 \
    "$(hq -c "SET hnsw.ef_search = 1" -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10) s")"
check "hnsw.ef_search = 40 on the head: all 10 rows" 10 \
    "$(hq -c "SET hnsw.ef_search = 40" -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10) s")"
check "hnsw.iterative_scan is forwarded too" 10 \
    "$(hq -c "SET hnsw.ef_search = 1" -c "SET hnsw.iterative_scan = relaxed_order" -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10) s")"
check "ordinary plan: the settings do not reach the shards" 10 \
    "$(hq -c "SET pgvector_rs.distributed_search = off" -c "SET hnsw.ef_search = 1" -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10) s")"
# Index options (issue 11 item 2) reach the searches through the remote index: with
# ef_search = 1 on the data nodes' indexes, a head that sets nothing gets one row per
# shard; a head that sets hnsw.ef_search overrides it; after RESET (even inside the
# same transaction, whose remote transaction had the SET LOCAL) the option applies again.
for n in "dnode1 $N1" "dnode2 $N2"; do
    # shellcheck disable=SC2086
    sql $n -c "ALTER INDEX items_emb_idx SET (ef_search = 1)"
done
check "remote index option ef_search = 1, nothing set on the head: one row per shard" 2 \
    "$(hq -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10) s")"
check "remote index option ef_search = 1, hnsw.ef_search = 40 on the head: all 10 rows" 10 \
    "$(hq -c "SET hnsw.ef_search = 40" -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10) s")"
check "SET then RESET in one transaction: the index option applies again" "10 2" \
    "$(hq -c "BEGIN" -c "SET hnsw.ef_search = 40" -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10) s" \
        -c "RESET hnsw.ef_search" -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10) s" -c "COMMIT" | tr '\n' ' ' | sed 's/ $//')"
for n in "dnode1 $N1" "dnode2 $N2"; do
    # shellcheck disable=SC2086
    sql $n -c "ALTER INDEX items_emb_idx RESET (ef_search)"
done
hq -c "ALTER DATABASE postgres SET hnsw.ef_search = 1000"
same "with indexes and a large ef_search on the head: exact" \
    "SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10"
hq -c "ALTER DATABASE postgres RESET hnsw.ef_search"

# Pipelined remote transactions: a statement that is a transaction of its own runs on
# the scan's own connections (START TRANSACTION, settings, search, COMMIT in one
# pipeline); anything that could see the difference runs in postgres_fdw's.
sql dnode1 "$N1" -c "CREATE VIEW our_conns AS SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'pgvector_rs_distributed'"
hq -c "CREATE FOREIGN TABLE our_conns_n1 (n bigint) SERVER n1 OPTIONS (table_name 'our_conns')"
searched() { hq "$@" | tr '\n' ' ' | sed 's/ $//'; }
# Sessions that ended close their connections as they exit: wait for that.
no_ours_left() {
    for _ in $(seq 50); do
        [ "$(sql dnode1 "$N1" -c 'SELECT n FROM our_conns')" = 0 ] && return
        sleep 0.1
    done
}
# A new session once the earlier ones' connections are gone.
fresh() { no_ours_left; searched "$@"; }
S3="SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 3) s"
check "a statement of its own: the scan's own connection, one per server" "3 3 1" \
    "$(fresh -c "$S3" -c "$S3" -c "SELECT n FROM our_conns_n1")"
# (The transaction that loads the library counts as one that may have run a foreign
# scan: LOAD it first, as session_preload_libraries would.)
check "inside a READ COMMITTED transaction block: the scan's own connection" "3 3 1" \
    "$(fresh -c "LOAD 'pgvector_rs'" -c "BEGIN" -c "$S3" -c "$S3" -c "SELECT n FROM our_conns_n1" -c "COMMIT")"
check "inside the transaction block that loaded the library: postgres_fdw's connections" "3 0" \
    "$(fresh -c "BEGIN" -c "$S3" -c "SELECT n FROM our_conns_n1" -c "COMMIT")"
check "inside a transaction block after a foreign scan: postgres_fdw's connections" "1 3 0" \
    "$(fresh -c "LOAD 'pgvector_rs'" -c "BEGIN" -c "SELECT count(*) FROM pid_n2" -c "$S3" -c "SELECT n FROM our_conns_n1" -c "COMMIT")"
check "inside a transaction block after a foreign scan in a function: postgres_fdw's connections" "1 3 0" \
    "$(fresh -c "CREATE FUNCTION pg_temp.npid() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM pid_n2'" -c "LOAD 'pgvector_rs'" -c "BEGIN" -c "SELECT pg_temp.npid()" -c "$S3" -c "SELECT n FROM our_conns_n1" -c "COMMIT")"
check "pgvector_rs.distributed_pipelined_transactions = off: postgres_fdw's connections" "3 0" \
    "$(fresh -c "SET pgvector_rs.distributed_pipelined_transactions = off" -c "$S3" -c "SELECT n FROM our_conns_n1")"
check "REPEATABLE READ, a statement of its own: the scan's own connection" "3 1" \
    "$(fresh -c "SET default_transaction_isolation = 'repeatable read'" -c "$S3" -c "SELECT n FROM our_conns_n1")"
check "REPEATABLE READ inside a transaction block: postgres_fdw's connections" "3 0" \
    "$(fresh -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "$S3" -c "SELECT n FROM our_conns_n1" -c "COMMIT")"
# The remote transaction's isolation level, seen from the data node: a partition whose
# remote table is a view that reports it.
sql dnode1 "$N1" -c "CREATE VIEW items_iso AS SELECT id, cat, emb, bits, current_setting('transaction_isolation') AS note FROM items"
hq <<'SQL'
CREATE TABLE iso_t (LIKE items) PARTITION BY HASH (id);
CREATE FOREIGN TABLE iso_t_a PARTITION OF iso_t FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER n1 OPTIONS (table_name 'items_iso');
CREATE FOREIGN TABLE iso_t_b PARTITION OF iso_t FOR VALUES WITH (MODULUS 2, REMAINDER 1) SERVER n2 OPTIONS (table_name 'items');
SQL
ISO="SELECT DISTINCT note FROM (SELECT note FROM iso_t ORDER BY emb <-> '$Q1' LIMIT 500) s WHERE note IN ('read committed', 'repeatable read', 'serializable')"
check "READ COMMITTED statement: the remote search is one statement (read committed), own connection" "read committed 1" \
    "$(fresh -c "$ISO" -c "SELECT n FROM our_conns_n1")"
check "REPEATABLE READ statement: a repeatable read remote transaction, pipelined, own connection" "repeatable read 1" \
    "$(fresh -c "SET default_transaction_isolation = 'repeatable read'" -c "$ISO" -c "SELECT n FROM our_conns_n1")"
check "SERIALIZABLE statement: a serializable remote transaction, pipelined, own connection" "serializable 1" \
    "$(fresh -c "SET default_transaction_isolation = 'serializable'" -c "$ISO" -c "SELECT n FROM our_conns_n1")"
check "SERIALIZABLE transaction block: postgres_fdw's serializable remote transaction" "serializable 0" \
    "$(fresh -c "BEGIN ISOLATION LEVEL SERIALIZABLE" -c "$ISO" -c "SELECT n FROM our_conns_n1" -c "COMMIT")"
check "another foreign table in the statement: postgres_fdw's connections" "3 0" \
    "$(fresh -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 3) s, pid_n2" -c "SELECT n FROM our_conns_n1")"
# Read-your-writes: a row at distance 0 from Q1, written through postgres_fdw first.
check "after a remote write in a transaction block, the search sees it" 900001 \
    "$(searched -c "BEGIN" -c "INSERT INTO items (id, cat, emb) VALUES (900001, 0, '$Q1')" -c "SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 1" -c "ROLLBACK")"
hq <<'SQL'
CREATE FUNCTION ins_then_search(q vector, new_id int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE r int;
BEGIN
    INSERT INTO items (id, cat, emb) VALUES (new_id, 0, q);
    SELECT id INTO r FROM items ORDER BY emb <-> q LIMIT 1;
    DELETE FROM items WHERE id = new_id;
    RETURN r;
END $$;
CREATE FUNCTION search_first(q vector) RETURNS int LANGUAGE sql AS $$
    SELECT id FROM items ORDER BY emb <-> q LIMIT 1
$$;
SQL
check "a function that writes through postgres_fdw then searches sees its write" 900002 \
    "$(searched -c "SELECT ins_then_search('$Q1', 900002)")"
check "a write then a search in one implicit transaction (one Query message) sees the write" 900003 \
    "$(searched -c "INSERT INTO items (id, cat, emb) VALUES (900003, 0, '$Q1'); SELECT search_first('$Q1'); DELETE FROM items WHERE id = 900003")"
# Two partitions on one server: one pipeline, inside START TRANSACTION ... COMMIT (one
# snapshot for both), on the scan's own connection.
sql dnode1 "$N1" -c "CREATE VIEW items_even AS SELECT * FROM items WHERE id % 2 = 0" -c "CREATE VIEW items_odd AS SELECT * FROM items WHERE id % 2 = 1"
hq <<'SQL'
CREATE TABLE two_on_n1 (LIKE items) PARTITION BY HASH (id);
CREATE FOREIGN TABLE two_on_n1_a PARTITION OF two_on_n1 FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER n1 OPTIONS (table_name 'items_even');
CREATE FOREIGN TABLE two_on_n1_b PARTITION OF two_on_n1 FOR VALUES WITH (MODULUS 2, REMAINDER 1) SERVER n1 OPTIONS (table_name 'items_odd');
SQL
check "two partitions on one server: the top 7 of that server's rows, on one own connection" \
    "$(sql dnode1 "$N1" -c "SET enable_indexscan = off" -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY emb <-> '$Q1', id LIMIT 7) s") 1" \
    "$(fresh -c "SET hnsw.ef_search = 1000" -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM two_on_n1 ORDER BY emb <-> '$Q1' LIMIT 7) s" -c "SELECT n FROM our_conns_n1")"
check "the writes were rolled back or deleted" 0 "$(hq -c "SELECT count(*) FROM items WHERE id > 900000")"

# The scan's own connections honour what postgres_fdw's do.
sql dnode1 "$N1" -c "CREATE VIEW conns_named AS SELECT application_name AS a, count(*) AS n FROM pg_stat_activity GROUP BY 1"
hq -c "CREATE FOREIGN TABLE conns_named_n1 (a text, n bigint) SERVER n1 OPTIONS (table_name 'conns_named')"
named() { echo "SELECT coalesce(sum(n), 0) FROM conns_named_n1 WHERE a = '$1'"; }
check "postgres_fdw_disconnect('n1') closes the scan's connection to n1 too" "3 f 0" \
    "$(fresh -c "$S3" -c "SELECT postgres_fdw_disconnect('n1')" -c "SELECT n FROM our_conns_n1")"
check "postgres_fdw_disconnect('n2') leaves the one to n1" "3 f 1" \
    "$(fresh -c "$S3" -c "SELECT postgres_fdw_disconnect('n2')" -c "SELECT n FROM our_conns_n1")"
check "postgres_fdw_disconnect_all() closes the scan's connections" "3 f 0" \
    "$(fresh -c "$S3" -c "SELECT postgres_fdw_disconnect_all()" -c "SELECT n FROM our_conns_n1")"
hq -c "ALTER SERVER n1 OPTIONS (ADD keep_connections 'off')"
check "keep_connections 'off': the scan's connection is closed after each search" "3 3 0" \
    "$(fresh -c "$S3" -c "$S3" -c "SELECT n FROM our_conns_n1")"
hq -c "ALTER SERVER n1 OPTIONS (DROP keep_connections)"
check "postgres_fdw.application_name (with its escapes) names the scan's connections" "3 2 0" \
    "$(fresh -c "SET postgres_fdw.application_name = 'dist_%u_x'" -c "$S3" -c "$(named dist_postgres_x)" -c "SELECT n FROM our_conns_n1")"
sql dnode1 "$N1" -c "CREATE ROLE dist_other LOGIN SUPERUSER" \
    -c "CREATE VIEW our_users AS SELECT coalesce(string_agg(usename::text, ','), '') AS u FROM pg_stat_activity WHERE application_name = 'pgvector_rs_distributed'"
hq -c "CREATE FOREIGN TABLE our_users_n1 (u text) SERVER n1 OPTIONS (table_name 'our_users')"
check "ALTER USER MAPPING reconnects the scan's connection with the new options" "3 postgres 3 dist_other" \
    "$(fresh -c "$S3" -c "SELECT u FROM our_users_n1" \
        -c "ALTER USER MAPPING FOR CURRENT_USER SERVER n1 OPTIONS (SET user 'dist_other')" \
        -c "$S3" -c "SELECT u FROM our_users_n1")"
hq -c "ALTER USER MAPPING FOR CURRENT_USER SERVER n1 OPTIONS (SET user 'postgres')"
check "ALTER SERVER reconnects the scan's connection with the new options" "3 1 3 2 0" \
    "$(fresh -c "$S3" -c "SELECT n FROM our_conns_n1" \
        -c "ALTER SERVER n1 OPTIONS (ADD application_name 'srv_app')" \
        -c "$S3" -c "$(named srv_app)" -c "SELECT n FROM our_conns_n1")"
hq -c "ALTER SERVER n1 OPTIONS (DROP application_name)"

# Faults.
hq <<SQL
CREATE TABLE f_down (LIKE items) PARTITION BY HASH (id);
CREATE FOREIGN TABLE f_down_0 PARTITION OF f_down FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER n1 OPTIONS (table_name 'items');
CREATE FOREIGN TABLE f_down_1 PARTITION OF f_down FOR VALUES WITH (MODULUS 2, REMAINDER 1) SERVER ndown OPTIONS (table_name 'items');
CREATE TABLE f_hang (LIKE items) PARTITION BY HASH (id);
CREATE FOREIGN TABLE f_hang_0 PARTITION OF f_hang FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER n1 OPTIONS (table_name 'items');
CREATE FOREIGN TABLE f_hang_1 PARTITION OF f_hang FOR VALUES WITH (MODULUS 2, REMAINDER 1) SERVER nhang OPTIONS (table_name 'items');
CREATE TABLE f_noext (LIKE items) PARTITION BY HASH (id);
CREATE FOREIGN TABLE f_noext_0 PARTITION OF f_noext FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER n1 OPTIONS (table_name 'items');
CREATE FOREIGN TABLE f_noext_1 PARTITION OF f_noext FOR VALUES WITH (MODULUS 2, REMAINDER 1) SERVER n3 OPTIONS (table_name 'items');
CREATE TABLE f_slow (LIKE items) PARTITION BY HASH (id);
CREATE FOREIGN TABLE f_slow_0 PARTITION OF f_slow FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER n1 OPTIONS (table_name 'items');
CREATE FOREIGN TABLE f_slow_1 PARTITION OF f_slow FOR VALUES WITH (MODULUS 2, REMAINDER 1) SERVER n2 OPTIONS (table_name 'slow_items');
CREATE TABLE f_bad (LIKE items) PARTITION BY HASH (id);
CREATE FOREIGN TABLE f_bad_0 PARTITION OF f_bad FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER n1 OPTIONS (table_name 'items');
CREATE FOREIGN TABLE f_bad_1 PARTITION OF f_bad FOR VALUES WITH (MODULUS 2, REMAINDER 1) SERVER n2 OPTIONS (table_name 'bad_items');
SQL
start=$(date +%s)
out=$(hq -c "SELECT id FROM f_down ORDER BY emb <-> '$Q1' LIMIT 3" 2>&1)
echo "# node down: $out" | head -2
check "a node that is down: ERROR naming the server" t "$(grep -q 'could not connect to server "ndown"' <<<"$out" && echo t || echo f)"
check "a node that is down: within connect_timeout" t "$([ $(( $(date +%s) - start )) -le 10 ] && echo t || echo f)"
# n1's search is already sent (in pipeline mode) when ndown fails: the connection to n1
# must come back out of pipeline mode and be kept, not replaced.
out=$(hq -v ON_ERROR_STOP=0 -c "SELECT 'before:' || pid FROM pid_n1" -c "SELECT id FROM f_down ORDER BY emb <-> '$Q1' LIMIT 3" -c "SELECT 'after:' || pid FROM pid_n1" 2>&1)
check "a node that is down: the other server's connection is kept" t \
    "$(b=$(grep -o 'before:[0-9]*' <<<"$out" | cut -d: -f2); a=$(grep -o 'after:[0-9]*' <<<"$out" | cut -d: -f2); [ -n "$b" ] && [ "$b" = "$a" ] && ! grep -q WARNING <<<"$out" && echo t || echo f)"
# A server that accepts TCP connections but never answers: connect_timeout applies.
python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $HANG)); s.listen(8); time.sleep(30)" &
hang_pid=$!
sleep 0.5
start=$(date +%s)
out=$(hq -c "SELECT id FROM f_hang ORDER BY emb <-> '$Q1' LIMIT 3" 2>&1)
elapsed=$(( $(date +%s) - start ))
kill "$hang_pid" 2>/dev/null; wait "$hang_pid" 2>/dev/null
echo "# unresponsive node (${elapsed}s): $(echo "$out" | tr '\n' ' ')"
check "an unresponsive node: ERROR naming the server" t "$(grep -q 'could not connect to server "nhang"' <<<"$out" && echo t || echo f)"
check "an unresponsive node: within connect_timeout (2 s), not a hang" t "$([ "$elapsed" -le 6 ] && echo t || echo f)"
out=$(hq -c "SELECT id FROM f_noext ORDER BY emb <-> '$Q1' LIMIT 3" 2>&1)
echo "# no extension: $out" | head -3
check "a node without the extension: ERROR naming the server" t \
    "$(grep -q 'ERROR:  error from server "n3" for partition "f_noext_1": type "public.vector" does not exist' <<<"$out" && echo t || echo f)"
check "a node without the extension: a hint" t "$(grep -q 'HINT:.*pgvector_rs' <<<"$out" && echo t || echo f)"
# The searches' own faults, on the scan's own connections (on) and on postgres_fdw's (off).
for mode in on off; do
export PGOPTIONS="-c pgvector_rs.distributed_pipelined_transactions=$mode"
no_ours_left
start=$(date +%s)
out=$(hq -v ON_ERROR_STOP=0 <<SQL 2>&1
SELECT 'pid-before:' || pid FROM pid_n2;
SET statement_timeout = '1s';
SELECT id FROM f_slow ORDER BY emb <-> '$Q1' LIMIT 3;
SELECT 'after:' || count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 3) s;
SELECT 'pid-after:' || pid FROM pid_n2;
SQL
)
elapsed=$(( $(date +%s) - start ))
echo "# statement_timeout (${elapsed}s): $(echo "$out" | tr '\n' ' ')"
check "statement_timeout cancels the distributed query ($mode)" t "$(grep -q 'canceling statement due to statement timeout' <<<"$out" && echo t || echo f)"
check "statement_timeout: promptly ($mode)" t "$([ "$elapsed" -le 10 ] && echo t || echo f)"
check "statement_timeout: the remote query was cancelled ($mode)" 0 \
    "$(sql dnode2 "$N2" -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%slow_items%' AND state = 'active' AND pid <> pg_backend_pid()")"
check "statement_timeout: the session's connections work afterwards ($mode)" t "$(grep -q 'after:3' <<<"$out" && echo t || echo f)"
check "statement_timeout: the connection is kept (cancelled and rolled back, not replaced) ($mode)" t \
    "$(b=$(grep -o 'pid-before:[0-9]*' <<<"$out" | cut -d: -f2); a=$(grep -o 'pid-after:[0-9]*' <<<"$out" | cut -d: -f2); [ -n "$b" ] && [ "$b" = "$a" ] && ! grep -q WARNING <<<"$out" && echo t || echo f)"
out=$(hq -v ON_ERROR_STOP=0 <<SQL 2>&1
SELECT id FROM f_bad ORDER BY emb <-> '$Q1' LIMIT 3;
SELECT 'after:' || count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 3) s;
BEGIN;
SELECT 'in-xact:' || count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 4) s;
SAVEPOINT a;
SELECT id FROM f_bad ORDER BY emb <-> '$Q1' LIMIT 3;
ROLLBACK TO a;
SELECT 'after-savepoint:' || count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 5) s;
COMMIT;
SELECT 'ours:' || n FROM our_conns_n1;
SQL
)
echo "# shard error: $(echo "$out" | tr '\n' ' ' | cut -c1-300)"
check "an error on one shard: ERROR with the remote message and server ($mode)" t \
    "$(grep -q 'ERROR:  error from server "n2" for partition "f_bad_1": division by zero' <<<"$out" && echo t || echo f)"
check "an error on one shard: the next query works ($mode)" t "$(grep -q 'after:3' <<<"$out" && echo t || echo f)"
check "an error on one shard inside a savepoint: the transaction goes on ($mode)" t "$(grep -q 'after-savepoint:5' <<<"$out" && echo t || echo f)"
check "an error on one shard: no connection of ours left behind ($mode)" "$([ $mode = on ] && echo 1 || echo 0)" \
    "$(grep -o 'ours:[0-9]*' <<<"$out" | cut -d: -f2)"
done
unset PGOPTIONS

# Ordinary queries are untouched: a plain table, a partitioned local table.
hq -c "CREATE TABLE plain AS SELECT * FROM ref" >/dev/null
check "a plain table: ordinary plan" f "$(uses_scan "SELECT id FROM plain ORDER BY emb <-> '$Q1' LIMIT 5")"
for name in dhead dnode1 dnode2; do
    check "no crash in $name's log" 0 "$(grep -c -e 'terminated by signal' -e PANIC "$(cluster_dir $name)/server.log")"
done
finish
