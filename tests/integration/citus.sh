#!/usr/bin/env bash
# pgvector_rs as a Citus-distributed extension: a coordinator and two workers (three
# clusters owned by postgres, on loopback TCP). CREATE EXTENSION on the coordinator
# reaches the workers, create_distributed_table on a table with a vector column, hnsw
# and ivfflat indexes created on every shard, ORDER BY emb <op> q LIMIT k returns the
# global top-k (equal to exact search), search settings reach the shard queries by
# SET LOCAL with citus.propagate_set_commands = 'local' and by the index options
# (ALTER INDEX ... SET on the coordinator reaches every shard's index).
#
# Runs only when Citus is installed in the target PostgreSQL ($(pg_config
# --pkglibdir)/citus.so); prints a SKIP otherwise. docs/distributed.md has the recipe
# that builds Citus from source for PostgreSQL 15.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
    echo "ok - citus # SKIP Citus is not installed in $("$PG_CONFIG" --pkglibdir) (see docs/distributed.md, Citus)"
    exit 0
fi

C=28871 W1=28872 W2=28873
# fresh_citus NAME PORT [LIBRARIES]: a TCP cluster with Citus preloaded.
fresh_citus() {
    local name=$1 port=$2 libs=${3:-citus} root
    root=$(cluster_dir "$name")
    "$PROJECT_DIR/scripts/cluster.sh" stop "$name" >/dev/null 2>&1 || true
    as_root rm -rf "$root" 2>/dev/null || rm -rf "$root"
    "$PROJECT_DIR/scripts/cluster.sh" start "$name" "$port" tcp >/dev/null
    CLUSTERS+=("$name")
    cat <<CONF | as_postgres tee -a "$root/data/postgresql.conf" >/dev/null
shared_preload_libraries = '$libs'
max_prepared_transactions = 100
shared_buffers = '128MB'
CONF
    pg_ctl_as "$name" restart
}
# The coordinator preloads pgvector_rs after Citus (its planner hook chained after
# Citus's hooks in every session); the workers load it on first use.
fresh_citus ccoord "$C" citus,pgvector_rs
fresh_citus cwork1 "$W1"
fresh_citus cwork2 "$W2"
cq() { sql ccoord "$C" "$@"; }
w1() { sql cwork1 "$W1" "$@"; }
w2() { sql cwork2 "$W2" "$@"; }

for n in "ccoord $C" "cwork1 $W1" "cwork2 $W2"; do
    # shellcheck disable=SC2086
    sql $n -c "CREATE EXTENSION citus"
done
(cq <<SQL
SELECT citus_set_coordinator_host('localhost', $C);
SELECT citus_add_node('localhost', $W1);
SELECT citus_add_node('localhost', $W2);
SQL
) >/dev/null
check "the coordinator preloads citus, then pgvector_rs" "citus,pgvector_rs" "$(cq -c "SHOW shared_preload_libraries")"
check "two active workers" 2 "$(cq -c "SELECT count(*) FROM citus_get_active_worker_nodes()")"

# CREATE EXTENSION on the coordinator is propagated to the workers.
check "the workers have no pgvector_rs yet" "00" \
    "$(w1 -c "SELECT count(*) FROM pg_extension WHERE extname = 'pgvector_rs'")$(w2 -c "SELECT count(*) FROM pg_extension WHERE extname = 'pgvector_rs'")"
cq -c "CREATE EXTENSION pgvector_rs"
check "CREATE EXTENSION on the coordinator reaches both workers" "0.1.00.1.0" \
    "$(w1 -c "SELECT extversion FROM pg_extension WHERE extname = 'pgvector_rs'")$(w2 -c "SELECT extversion FROM pg_extension WHERE extname = 'pgvector_rs'")"
check "the types and operators exist on a worker" "1.41421" \
    "$(w1 -c "SELECT round(('[1,0]'::vector <-> '[0,1]'::vector)::numeric, 5)")"

cq <<'SQL' >/dev/null
SET client_min_messages = warning;
SET citus.shard_count = 4;
CREATE TABLE items (id bigint PRIMARY KEY, cat int, emb vector(3), note text);
SELECT create_distributed_table('items', 'id');
SELECT setseed(0.42);
CREATE TABLE ref AS
SELECT i::bigint AS id, i % 7 AS cat,
       ARRAY[round(random()::numeric, 6), round(random()::numeric, 6), round(random()::numeric, 6)]::real[]::vector(3) AS emb,
       md5(i::text) AS note
FROM generate_series(1, 2000) i;
UPDATE ref SET emb = NULL WHERE id % 97 = 0;
INSERT INTO items SELECT * FROM ref;
CREATE TABLE queries AS SELECT i AS qid, ARRAY[random(), random(), random()]::real[]::vector(3) AS q FROM generate_series(1, 6) i;
SELECT create_reference_table('queries');
SQL
check "items is distributed over 4 shards" 4 \
    "$(cq -c "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'items'::regclass")"
check "both workers hold rows" "truetrue" \
    "$(cq -c "SELECT string_agg((n > 500)::text, '' ORDER BY nodeport) FROM (SELECT nodeport, sum(result::int) AS n FROM run_command_on_shards('items', 'SELECT count(*) FROM %s') r JOIN citus_shards s USING (shardid) GROUP BY nodeport) x")"

Q1="[0.5,0.25,0.75]"
# same DESCRIPTION QUERY_ON_items [psql args]: the query on the distributed table and on
# the coordinator's local copy `ref` (exact, no index) print the same rows.
same() {
    local desc=$1 query=$2 dist local
    dist=$(cq "${@:3}" -c "$query" 2>&1)
    local=$(cq -c "${query//FROM items/FROM ref}" 2>&1)
    if [ "$dist" = "$local" ] && ! grep ERROR <<<"$dist" >/dev/null; then
        echo "ok - $desc"
    else
        echo "not ok - $desc"
        echo "#   citus: $(tr '\n' ' ' <<<"$dist" | cut -c1-400)"
        echo "#   exact: $(tr '\n' ' ' <<<"$local" | cut -c1-400)"
        FAILURES=$((FAILURES + 1))
    fi
}
for op in '<->' '<#>' '<=>' '<+>'; do
    same "no index: top 10 by $op equals exact search" \
        "SELECT id, round((emb $op '$Q1')::numeric, 5) FROM items ORDER BY emb $op '$Q1' LIMIT 10"
done
same "no index: LIMIT with OFFSET" "SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 5 OFFSET 7"
same "no index: WHERE clause" "SELECT id, cat FROM items WHERE cat = 3 ORDER BY emb <=> '$Q1' LIMIT 10"
same "no index: all columns and expressions" \
    "SELECT id, emb, note, (emb <-> '$Q1') * 2 AS d2 FROM items ORDER BY emb <-> '$Q1' LIMIT 5"
same "no index: LIMIT larger than the table (NULL distances last)" \
    "SELECT count(*), count(d), max(d) FROM (SELECT emb <-> '$Q1' AS d FROM items ORDER BY emb <-> '$Q1' LIMIT 5000) s"
# Seven executions: Citus plans the statement again for each one's parameters.
exec_args=(-c "PREPARE p(vector, int) AS SELECT id FROM items ORDER BY emb <-> \$1 LIMIT \$2")
exact=""
for i in 1 2 3 4 5 6 7; do
    exec_args+=(-c "EXECUTE p('[0.$i,0.25,0.75]', $i)")
    exact+="$(cq -c "SELECT id FROM ref ORDER BY emb <-> '[0.$i,0.25,0.75]' LIMIT $i")"$'\n'
done
check "prepared statement with parameters, 7 executions, equals exact search" "${exact%$'\n'}" "$(cq "${exec_args[@]}")"

# Indexes on the distributed table are created on every shard.
cq -c "CREATE INDEX items_hnsw ON items USING hnsw (emb vector_l2_ops)" \
   -c "SET client_min_messages = warning" \
   -c "CREATE INDEX items_ivf ON items USING ivfflat (emb vector_cosine_ops) WITH (lists = 4)"
shard_indexes() {
    local n
    n=$(( $(w1 -c "SET citus.override_table_visibility = off" -c "SELECT count(*) FROM pg_indexes WHERE indexname LIKE '$1%'") \
        + $(w2 -c "SET citus.override_table_visibility = off" -c "SELECT count(*) FROM pg_indexes WHERE indexname LIKE '$1%'") ))
    echo "$n"
}
check "the hnsw index exists on all 4 shards" 4 "$(shard_indexes items_hnsw_)"
check "the ivfflat index exists on all 4 shards" 4 "$(shard_indexes items_ivf_)"
check "a shard's hnsw index is an hnsw index" hnsw \
    "$(w1 -c "SET citus.override_table_visibility = off" -c "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname LIKE 'items_hnsw_%' LIMIT 1")"

# The workers use the indexes (no sequential scans), so the settings decide recall.
# (Citus refuses ALTER DATABASE on a worker: ALTER SYSTEM there.)
for w in w1 w2; do $w -c "ALTER SYSTEM SET enable_seqscan = off" -c "SELECT pg_reload_conf()" >/dev/null; done
plan=$(cq -c "SET citus.explain_all_tasks = on" -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10")
echo "$plan" | sed 's/^/# /' | head -24
check "EXPLAIN: Citus runs one task per shard" t "$(grep 'Task Count: 4' <<<"$plan" >/dev/null && echo t || echo f)"
check "EXPLAIN: each shard runs LIMIT over an hnsw index scan by distance" 4 \
    "$(tr '\n' ' ' <<<"$plan" | grep -o 'Limit *-> *Index Scan using items_hnsw_[0-9]* on items_[0-9]* items' | wc -l | tr -d ' ')"
check "EXPLAIN: our distributed scan stays out of Citus plans" f \
    "$(grep VectorDistributedTopK <<<"$plan" >/dev/null && echo t || echo f)"
same "hnsw on every shard, exact ef_search: top 10 equals exact search" \
    "SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10" \
    -c "BEGIN" -c "SET LOCAL citus.propagate_set_commands = 'local'" -c "SET LOCAL hnsw.ef_search = 1000"

# Settings: ef_search = 1 without iterative scan gives one row per shard (4), 40 all 10.
count_q="SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> '$Q1' LIMIT 10) s"
check "SET LOCAL with citus.propagate_set_commands = 'local' reaches the shards" 4 \
    "$(cq -c "BEGIN" -c "SET LOCAL citus.propagate_set_commands = 'local'" -c "SET LOCAL hnsw.ef_search = 1" -c "$count_q" -c "COMMIT")"
check "SET LOCAL hnsw.iterative_scan reaches the shards too" 10 \
    "$(cq -c "BEGIN" -c "SET LOCAL citus.propagate_set_commands = 'local'" -c "SET LOCAL hnsw.ef_search = 1" -c "SET LOCAL hnsw.iterative_scan = relaxed_order" -c "$count_q" -c "COMMIT")"
check "a plain SET does not reach the shards (Citus does not propagate it)" 10 \
    "$(cq -c "SET hnsw.ef_search = 1" -c "$count_q")"
check "SET LOCAL without citus.propagate_set_commands does not reach the shards" 10 \
    "$(cq -c "BEGIN" -c "SET LOCAL hnsw.ef_search = 1" -c "$count_q" -c "COMMIT")"
check "ivfflat.probes by SET LOCAL: 1 probe of 4 lists finds fewer rows than 4 probes" t \
    "$(a=$(cq -c "BEGIN" -c "SET LOCAL citus.propagate_set_commands = 'local'" -c "SET LOCAL ivfflat.probes = 1" -c "SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY emb <=> '$Q1' LIMIT 200) s" -c "COMMIT")
       b=$(cq -c "BEGIN" -c "SET LOCAL citus.propagate_set_commands = 'local'" -c "SET LOCAL ivfflat.probes = 4" -c "SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY emb <=> '$Q1' LIMIT 200) s" -c "COMMIT")
       e=$(cq -c "SELECT array_agg(id) FROM (SELECT id FROM ref ORDER BY emb <=> '$Q1' LIMIT 200) s")
       [ "$b" = "$e" ] && [ "$a" != "$e" ] && echo t || echo f)"

# Index options: ALTER INDEX ... SET on the coordinator reaches every shard's index and
# the shard searches use it when no setting is given.
opts=$(cq -v ON_ERROR_STOP=0 -c "ALTER INDEX items_hnsw SET (ef_search = 1)" 2>&1)
if grep -q 'unrecognized parameter "ef_search"' <<<"$opts"; then
    echo "ok - index options # SKIP this build has no ef_search index option"
else
    check "ALTER INDEX ... SET (ef_search = 1) on the coordinator: no error" "" "$(grep ERROR <<<"$opts")"
    shard_opts=$( (w1 -c "SET citus.override_table_visibility = off" -c "SELECT DISTINCT array_to_string(reloptions, ',') FROM pg_class WHERE relname LIKE 'items_hnsw_%'"
        w2 -c "SET citus.override_table_visibility = off" -c "SELECT DISTINCT array_to_string(reloptions, ',') FROM pg_class WHERE relname LIKE 'items_hnsw_%'") | sort -u)
    check "the option reached every shard's index" "ef_search=1" "$shard_opts"
    check "index option ef_search = 1, nothing set: one row per shard" 4 "$(cq -c "$count_q")"
    check "SET LOCAL propagated overrides the index option" 10 \
        "$(cq -c "BEGIN" -c "SET LOCAL citus.propagate_set_commands = 'local'" -c "SET LOCAL hnsw.ef_search = 40" -c "$count_q" -c "COMMIT")"
    cq -c "ALTER INDEX items_hnsw RESET (ef_search)"
    check "ALTER INDEX ... RESET reaches the shards" 10 "$(cq -c "$count_q")"
    cq -c "ALTER INDEX items_ivf SET (probes = 4)"
    check "ivfflat probes = 4 as an index option: exact top 200" \
        "$(cq -c "SELECT array_agg(id) FROM (SELECT id FROM ref ORDER BY emb <=> '$Q1' LIMIT 200) s")" \
        "$(cq -c "SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY emb <=> '$Q1' LIMIT 200) s")"
    cq -c "CREATE INDEX items_hnsw2 ON items USING hnsw (emb vector_l1_ops) WITH (ef_search = 1)"
    check "CREATE INDEX ... WITH (ef_search = 1) reaches the shards" 4 \
        "$(cq -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <+> '$Q1' LIMIT 10) s")"
fi

# A distributed partitioned table: the shells on the coordinator are local partitions,
# our scan stays out, Citus plans it.
cq <<'SQL' >/dev/null
CREATE TABLE pitems (id bigint, cat int, emb vector(3), note text) PARTITION BY RANGE (id);
CREATE TABLE pitems_lo PARTITION OF pitems FOR VALUES FROM (MINVALUE) TO (1000);
CREATE TABLE pitems_hi PARTITION OF pitems FOR VALUES FROM (1000) TO (MAXVALUE);
SELECT create_distributed_table('pitems', 'id');
INSERT INTO pitems SELECT * FROM ref;
SQL
check "a distributed partitioned table: top 10 equals exact search" \
    "$(cq -c "SELECT id FROM ref ORDER BY emb <-> '$Q1' LIMIT 10")" "$(cq -c "SELECT id FROM pitems ORDER BY emb <-> '$Q1' LIMIT 10")"

# Our postgres_fdw distributed scan in a Citus coordinator's sessions (Citus's planner
# hook first, ours chained): a local table partitioned over foreign tables on the
# workers' (non-distributed) tables.
for w in w1 w2; do $w -c "CREATE TABLE fitems (id bigint, cat int, emb vector(3), note text)"; done
cq <<SQL >/dev/null
CREATE EXTENSION postgres_fdw;
CREATE SERVER fw1 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost', port '$W1', dbname 'postgres', extensions 'pgvector_rs');
CREATE SERVER fw2 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost', port '$W2', dbname 'postgres', extensions 'pgvector_rs');
CREATE USER MAPPING FOR CURRENT_USER SERVER fw1 OPTIONS (user 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER fw2 OPTIONS (user 'postgres');
CREATE TABLE fparts (id bigint, cat int, emb vector(3), note text) PARTITION BY HASH (id);
CREATE FOREIGN TABLE fparts_0 PARTITION OF fparts FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER fw1 OPTIONS (table_name 'fitems');
CREATE FOREIGN TABLE fparts_1 PARTITION OF fparts FOR VALUES WITH (MODULUS 2, REMAINDER 1) SERVER fw2 OPTIONS (table_name 'fitems');
INSERT INTO fparts SELECT * FROM ref;
SQL
check "postgres_fdw partitions on a Citus coordinator: the distributed scan is planned" t \
    "$(cq -c "EXPLAIN (COSTS OFF) SELECT id FROM fparts ORDER BY emb <-> '$Q1' LIMIT 10" | grep 'Custom Scan (VectorDistributedTopK)' >/dev/null && echo t || echo f)"
check "postgres_fdw partitions on a Citus coordinator: top 10 equals exact search" \
    "$(cq -c "SELECT id FROM ref WHERE cat = 2 ORDER BY emb <=> '$Q1' LIMIT 10")" \
    "$(cq -c "SELECT id FROM fparts WHERE cat = 2 ORDER BY emb <=> '$Q1' LIMIT 10")"

for name in ccoord cwork1 cwork2; do
    check "no crash in $name's log" 0 "$(grep -c -e 'terminated by signal' -e PANIC "$(cluster_dir $name)/server.log")"
done
finish
