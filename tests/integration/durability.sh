#!/usr/bin/env bash
# Index durability: hnsw and ivfflat indexes built and then changed by
# inserts and vacuum survive an immediate shutdown (crash), also in the
# middle of inserts, and replay on a streaming standby.
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
-- Exact answers for a few queries, to compare with index answers later.
CREATE TABLE q AS SELECT id AS qid, v FROM t WHERE id % 500 = 1;
-- Index answers equal exact answers when the index is searched exhaustively
-- (hnsw with a huge ef_search, ivfflat probing every list).
CREATE FUNCTION index_matches_exact() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE r record; a int[]; b int[]; c int[]; d int[]; ok boolean := true;
BEGIN
    SET LOCAL hnsw.ef_search = 10000;
    SET LOCAL ivfflat.probes = 20;
    FOR r IN SELECT * FROM q LOOP
        SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = on;
        SELECT array_agg(id) INTO a FROM (SELECT id FROM t ORDER BY v <=> r.v LIMIT 10) s;
        SELECT array_agg(id) INTO c FROM (SELECT id FROM t ORDER BY v <-> r.v LIMIT 10) s;
        SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = off;
        SELECT array_agg(id) INTO b FROM (SELECT id FROM t ORDER BY v <=> r.v LIMIT 10) s;
        SELECT array_agg(id) INTO d FROM (SELECT id FROM t ORDER BY v <-> r.v LIMIT 10) s;
        ok := ok AND a = b AND c = d;
    END LOOP;
    RETURN ok;
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
lsn=$(sql crash "$P" -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 120); do
    replayed=$(sql standby "$S" -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")
    [ "$replayed" = t ] && break
    sleep 0.5
done
check "standby replayed the primary's WAL" t "$replayed"
check "standby: index consistent" t "$(sql standby "$S" -c "SELECT pgvector_rs_hnsw_check('t_v') LIKE '%is consistent%'")"
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
check "after crash: index consistent" t "$(sql crash "$P" -c "SELECT pgvector_rs_hnsw_check('t_v') LIKE '%is consistent%'")"
check "after crash: index answers are exact at large ef_search" t "$(sql crash "$P" -c "SELECT index_matches_exact()")"
check "after crash: ivfflat returns every row with all lists probed" "$(sql crash "$P" -c "SELECT count(*) FROM t")" \
    "$(sql crash "$P" -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 20" \
        -c "SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM q LIMIT 1) LIMIT 100000) s")"
check "after crash: every row is reachable" "$(sql crash "$P" -c "SELECT count(*) FROM t")" \
    "$(sql crash "$P" -c "SET enable_seqscan = off" -c "SET hnsw.iterative_scan = relaxed_order" -c "SET hnsw.max_scan_tuples = 1000000" -c "SET hnsw.scan_mem_multiplier = 100" \
        -c "SELECT count(*) FROM (SELECT id FROM t ORDER BY v <=> (SELECT v FROM q LIMIT 1) LIMIT 100000) s")"
# And the index keeps working: inserts, vacuum, another crash in the middle of writes.
sql crash "$P" -c "INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(7001, 8000) i" -c "DELETE FROM t WHERE id % 7 = 0" -c "VACUUM t"
( sql crash "$P" -c "INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(8001, 20000) i" >/dev/null 2>&1 & )
sleep 2
pg_ctl_as crash stop -m immediate
pg_ctl_as crash start
check "after a crash during inserts: index consistent" t "$(sql crash "$P" -c "SELECT pgvector_rs_hnsw_check('t_v') LIKE '%is consistent%'")"
check "after a crash during inserts: exact at large ef_search" t "$(sql crash "$P" -c "SELECT index_matches_exact()")"
sql crash "$P" -c "INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(8001, 9000) i" -c "VACUUM t"
check "after recovery: inserts and vacuum work" t "$(sql crash "$P" -c "SELECT pgvector_rs_hnsw_check('t_v') LIKE '%is consistent%' AND index_matches_exact()")"
finish
