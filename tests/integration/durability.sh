#!/usr/bin/env bash
# Index durability: hnsw and ivfflat indexes (both also with RaBitQ
# codes, quantization = rabitq) built and then changed by
# inserts and vacuum survive an immediate shutdown (crash), also in the
# middle of inserts, and replay on a streaming standby. Indexes of UNLOGGED
# tables come back empty and usable after a crash and after a standby's
# promotion (their init forks are WAL-logged).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P=28817 S=28818
fresh_cluster crash "$P"
sql crash "$P" <<'SQL'
CREATE EXTENSION pgvector_rs;
SELECT setseed(0.1);
CREATE TABLE t (id int PRIMARY KEY, v vector(16));
INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(1, 4000) i;
CREATE INDEX t_v ON t USING hnsw (v vector_cosine_ops);
CREATE INDEX t_ivf ON t USING ivfflat (v vector_l2_ops) WITH (lists = 20);
-- A code index: <#> is served by it.
CREATE INDEX t_rq ON t USING ivfflat (v vector_ip_ops) WITH (lists = 20, quantization = rabitq);
-- An hnsw code index, on an expression the other queries do not use.
CREATE INDEX t_hrq ON t USING hnsw ((v::halfvec(16)) halfvec_l2_ops) WITH (quantization = rabitq);
-- Exact answers for a few queries, to compare with index answers later.
CREATE TABLE q AS SELECT id AS qid, v FROM t WHERE id % 500 = 1;
-- Index answers equal exact answers when the index is searched exhaustively
-- (hnsw with a huge ef_search, ivfflat probing every list).
CREATE FUNCTION index_matches_exact() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE r record; a int[]; b int[]; c int[]; d int[]; e int[]; f int[]; ok boolean := true;
BEGIN
    SET LOCAL hnsw.ef_search = 10000;
    SET LOCAL ivfflat.probes = 20;
    FOR r IN SELECT * FROM q LOOP
        SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = on;
        SELECT array_agg(id) INTO a FROM (SELECT id FROM t ORDER BY v <=> r.v LIMIT 10) s;
        SELECT array_agg(id) INTO c FROM (SELECT id FROM t ORDER BY v <-> r.v LIMIT 10) s;
        SELECT array_agg(id) INTO e FROM (SELECT id FROM t ORDER BY v <#> r.v LIMIT 10) s;
        SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = off;
        SELECT array_agg(id) INTO b FROM (SELECT id FROM t ORDER BY v <=> r.v LIMIT 10) s;
        SELECT array_agg(id) INTO d FROM (SELECT id FROM t ORDER BY v <-> r.v LIMIT 10) s;
        SELECT array_agg(id) INTO f FROM (SELECT id FROM t ORDER BY v <#> r.v LIMIT 10) s;
        ok := ok AND a = b AND c = d AND e = f;
    END LOOP;
    RETURN ok;
END $$;
CREATE FUNCTION hnsw_codes_match_exact() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE r record; a int[]; b int[]; ok boolean := true;
BEGIN
    SET LOCAL hnsw.ef_search = 10000;
    FOR r IN SELECT * FROM q LOOP
        SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = on;
        SELECT array_agg(id) INTO a FROM (SELECT id FROM t ORDER BY v::halfvec(16) <-> r.v::halfvec(16), id LIMIT 10) s;
        SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = off;
        SELECT array_agg(id) INTO b FROM (SELECT id FROM t ORDER BY v::halfvec(16) <-> r.v::halfvec(16) LIMIT 10) s;
        ok := ok AND a = b;
    END LOOP;
    RETURN ok AND pgvector_rs_hnsw_check('t_hrq') LIKE '%is consistent%';
END $$;
SQL
# WAL-logged changes after the (unlogged, then fully logged) build.
sql crash "$P" -c "INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(4001, 6000) i"
sql crash "$P" -c "DELETE FROM t WHERE id % 4 = 0" -c "VACUUM t"
sql crash "$P" -c "INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(6001, 6500) i"
before=$(sql crash "$P" -c "SELECT count(*) FROM t")

# Standby from a base backup, streaming from now on.
standby_root=$(cluster_dir standby)
"$PROJECT_DIR/scripts/cluster.sh" stop standby >/dev/null 2>&1 || true
as_root rm -rf "$standby_root" 2>/dev/null || rm -rf "$standby_root"
mkdir -p "$standby_root" && chown postgres "$standby_root" 2>/dev/null || as_root chown postgres "$standby_root"
as_postgres "$BIN/pg_basebackup" -h "$(cluster_dir crash)" -p "$P" -U postgres -D "$standby_root/data" -R -X stream >/dev/null
cat <<CONF | as_postgres tee -a "$standby_root/data/postgresql.conf" >/dev/null
port = $S
unix_socket_directories = '$standby_root'
hot_standby = on
CONF
CLUSTERS+=(standby)
pg_ctl_as standby start

# More changes on the primary after the backup: the standby must replay them.
sql crash "$P" -c "CREATE INDEX t_v_l1 ON t USING hnsw (v vector_l1_ops)"
sql crash "$P" -c "INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(6501, 7000) i"
sql crash "$P" -c "DELETE FROM t WHERE id % 5 = 0" -c "VACUUM t"
# UNLOGGED tables, one per access method; their rows are lost by a crash or
# a promotion, their (empty) indexes must not be.
sql crash "$P" <<'SQL'
CREATE UNLOGGED TABLE u_hnsw (id int, v vector(3));
CREATE INDEX u_hnsw_v ON u_hnsw USING hnsw (v vector_l2_ops);
CREATE UNLOGGED TABLE u_ivf (id int, v vector(3));
INSERT INTO u_ivf SELECT i, ARRAY[i, i % 7, i % 11] FROM generate_series(1, 500) i;
CREATE INDEX u_ivf_v ON u_ivf USING ivfflat (v vector_l2_ops) WITH (lists = 4);
INSERT INTO u_hnsw SELECT i, ARRAY[i, i % 7, i % 11] FROM generate_series(1, 500) i;
SQL
# unlogged_usable NAME PORT: both unlogged tables are empty, then take rows
# that indexed searches find.
unlogged_usable() {
    local name=$1 port=$2 when=$3
    check "$when: unlogged tables are empty" "0|0" \
        "$(sql "$name" "$port" -c "SELECT (SELECT count(*) FROM u_hnsw) || '|' || (SELECT count(*) FROM u_ivf)")"
    sql "$name" "$port" -c "INSERT INTO u_hnsw SELECT i, ARRAY[i, 0, 0] FROM generate_series(1, 300) i" \
        -c "INSERT INTO u_ivf SELECT i, ARRAY[i, 0, 0] FROM generate_series(1, 300) i"
    check "$when: unlogged hnsw index is used and answers" "Index Scan|42,43,41" \
        "$(sql "$name" "$port" -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) SELECT id FROM u_hnsw ORDER BY v <-> '[42.1,0,0]' LIMIT 3" | grep -o 'Index Scan' | head -1)|$(sql "$name" "$port" -c "SET enable_seqscan = off" \
            -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM u_hnsw ORDER BY v <-> '[42.1,0,0]' LIMIT 3) s")"
    check "$when: unlogged ivfflat index is used and answers" "Index Scan|42,43,41" \
        "$(sql "$name" "$port" -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) SELECT id FROM u_ivf ORDER BY v <-> '[42.1,0,0]' LIMIT 3" | grep -o 'Index Scan' | head -1)|$(sql "$name" "$port" -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 4" \
            -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM u_ivf ORDER BY v <-> '[42.1,0,0]' LIMIT 3) s")"
    check "$when: unlogged hnsw index consistent" t \
        "$(sql "$name" "$port" -c "SELECT pgvector_rs_hnsw_check('u_hnsw_v') LIKE '%is consistent%'")"
}
lsn=$(sql crash "$P" -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 120); do
    replayed=$(sql standby "$S" -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")
    [ "$replayed" = t ] && break
    sleep 0.5
done
check "standby replayed the primary's WAL" t "$replayed"
check "standby: index consistent" t "$(sql standby "$S" -c "SELECT pgvector_rs_hnsw_check('t_v') LIKE '%is consistent%'")"
check "standby: hnsw codes consistent" t "$(sql standby "$S" -c "SELECT pgvector_rs_hnsw_check('t_hrq') LIKE '%is consistent%'")"
check "standby: second index consistent" t "$(sql standby "$S" -c "SELECT pgvector_rs_hnsw_check('t_v_l1') LIKE '%is consistent%'")"
# (<-> is served by the ivfflat index, the only one with vector_l2_ops.)
primary_answer=$(sql crash "$P" -c "SET enable_seqscan = off" -c "SET hnsw.ef_search = 10000" -c "SELECT array_agg(id) FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM q LIMIT 1) LIMIT 10) s")
standby_answer=$(sql standby "$S" -c "SET enable_seqscan = off" -c "SET hnsw.ef_search = 10000" -c "SELECT array_agg(id) FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM q LIMIT 1) LIMIT 10) s")
check "standby answers like the primary" "$primary_answer" "$standby_answer"
check "standby: index answers are exact at large ef_search" t "$(sql standby "$S" -c "SELECT index_matches_exact()")"

# Crash the primary: no checkpoint, no flush of dirty index pages.
before=$(sql crash "$P" -c "SELECT count(*) FROM t")
pg_ctl_as crash stop -m immediate
pg_ctl_as crash start
check "rows survive the crash" "$before" "$(sql crash "$P" -c "SELECT count(*) FROM t")"
unlogged_usable crash "$P" "after crash"
check "after crash: index consistent" t "$(sql crash "$P" -c "SELECT pgvector_rs_hnsw_check('t_v') LIKE '%is consistent%'")"
check "after crash: index answers are exact at large ef_search" t "$(sql crash "$P" -c "SELECT index_matches_exact()")"
check "after crash: hnsw codes consistent and exact at large ef_search" t "$(sql crash "$P" -c "SELECT hnsw_codes_match_exact()")"
check "after crash: ivfflat returns every row with all lists probed" "$(sql crash "$P" -c "SELECT count(*) FROM t")" \
    "$(sql crash "$P" -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 20" \
        -c "SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM q LIMIT 1) LIMIT 100000) s")"
check "after crash: every row is reachable" "$(sql crash "$P" -c "SELECT count(*) FROM t")" \
    "$(sql crash "$P" -c "SET enable_seqscan = off" -c "SET hnsw.iterative_scan = relaxed_order" -c "SET hnsw.max_scan_tuples = 1000000" -c "SET hnsw.scan_mem_multiplier = 100" \
        -c "SELECT count(*) FROM (SELECT id FROM t ORDER BY v <=> (SELECT v FROM q LIMIT 1) LIMIT 100000) s")"
# And the index keeps working: inserts, vacuum, another crash in the middle of writes.
sql crash "$P" -c "INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(7001, 8000) i" -c "DELETE FROM t WHERE id % 7 = 0" -c "VACUUM t"
# Inserts in many small transactions, cut off by a crash once some have
# committed: after recovery the committed ones are there, the rest are not.
before=$(sql crash "$P" -c "SELECT count(*) FROM t")
batches=400 per_batch=100
inserts=$(mktemp); chmod 644 "$inserts"
for b in $(seq 0 $((batches - 1))); do
    lo=$((100001 + b * per_batch))
    echo "INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series($lo, $((lo + per_batch - 1))) i;"
done >"$inserts"
( sql crash "$P" -f "$inserts" >/dev/null 2>&1 & )
for _ in $(seq 1 600); do
    [ "$(sql crash "$P" -c "SELECT count(*) > $before FROM t")" = t ] && break
    sleep 0.1
done
pg_ctl_as crash stop -m immediate
rm -f "$inserts"
pg_ctl_as crash start
after=$(sql crash "$P" -c "SELECT count(*) FROM t")
check "the crash cut the inserts off (some but not all committed)" t \
    "$([ "$after" -gt "$before" ] && [ "$after" -lt $((before + batches * per_batch)) ] && echo t || echo "f: $before -> $after")"
check "after a crash during inserts: whole transactions only" 0 "$(sql crash "$P" -c "SELECT (count(*) - $before) % $per_batch FROM t")"
check "after a crash during inserts: ivfflat returns every row with all lists probed" "$after" \
    "$(sql crash "$P" -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 20" \
        -c "SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM q LIMIT 1) LIMIT 1000000) s")"
check "after a crash during inserts: rabitq ivfflat returns every row with all lists probed" "$after" \
    "$(sql crash "$P" -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 20" \
        -c "SELECT count(*) FROM (SELECT id FROM t ORDER BY v <#> (SELECT v FROM q LIMIT 1) LIMIT 1000000) s")"
check "after a crash during inserts: index consistent" t "$(sql crash "$P" -c "SELECT pgvector_rs_hnsw_check('t_v') LIKE '%is consistent%'")"
check "after a crash during inserts: exact at large ef_search" t "$(sql crash "$P" -c "SELECT index_matches_exact()")"
sql crash "$P" -c "INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(8001, 9000) i" -c "VACUUM t"
check "after recovery: inserts and vacuum work" t "$(sql crash "$P" -c "SELECT pgvector_rs_hnsw_check('t_v') LIKE '%is consistent%' AND index_matches_exact()")"
check "after recovery: hnsw codes consistent and exact" t "$(sql crash "$P" -c "SELECT hnsw_codes_match_exact()")"

# The standby, promoted: its unlogged tables start empty from their init forks.
pg_ctl_as standby promote
for _ in $(seq 1 120); do
    [ "$(sql standby "$S" -c "SELECT pg_is_in_recovery()")" = f ] && break
    sleep 0.5
done
check "standby promoted" f "$(sql standby "$S" -c "SELECT pg_is_in_recovery()")"
unlogged_usable standby "$S" "after promotion"
finish
