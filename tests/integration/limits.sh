#!/usr/bin/env bash
# Bounded memory and cancellation of index work:
# * an ivfflat scan of every list with work_mem = 64kB returns exactly what
#   it returns with a large work_mem (a scan holds at most work_mem of rows
#   and reads lists again for more, instead of growing without bound);
# * the hnsw check function holds at most work_mem: with 64kB it fails with
#   out of memory (53200) instead of growing, with 4MB it checks 30,000 rows;
# * scans under statement_timeout, and a VACUUM cancelled with
#   pg_cancel_backend, end within a second of the timeout or cancel.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P=28822
fresh_cluster limits "$P"
sql limits "$P" >/dev/null <<'SQL'
CREATE EXTENSION pgvector_rs;
SELECT setseed(0.5);
CREATE TABLE t (id int PRIMARY KEY, v vector(16));
INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)
FROM generate_series(1, 30000) i;
CREATE INDEX t_i ON t USING ivfflat (v vector_l2_ops) WITH (lists = 20);
CREATE INDEX t_h ON t USING hnsw (v vector_cosine_ops);
SQL

q="'[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]'"
# (Compared with each other, not with a sequential scan: the index's
# distance kernel may order near-ties differently from the operator's.)
ivf_query="SELECT count(*) || ' ' || md5(string_agg(id::text, ',')) FROM (SELECT id FROM t ORDER BY v <-> $q LIMIT 20000) s"
large=$(sql limits "$P" -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 20" -c "SET work_mem = '64MB'" -c "$ivf_query")
small=$(sql limits "$P" -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 20" -c "SET work_mem = '64kB'" -c "$ivf_query")
check "ivfflat scan of every list returns 20000 rows" 20000 "${large% *}"
check "with work_mem = 64kB it returns the same rows in the same order as with 64MB" "$large" "$small"
iter_query="SELECT count(*) FROM (SELECT id FROM t WHERE id % 3 = 0 ORDER BY v <-> $q LIMIT 5000) s"
check "an iterative ivfflat scan with work_mem = 64kB returns every row asked for" 5000 \
    "$(sql limits "$P" -c "SET enable_seqscan = off" -c "SET work_mem = '64kB'" -c "SET ivfflat.iterative_scan = relaxed_order" -c "SET ivfflat.max_probes = 20" -c "$iter_query")"

# The check function's summaries (about 40 bytes per element) are bounded
# by work_mem: too small a work_mem is a clean ERROR, never growth.
check_small=$(sql limits "$P" -v VERBOSITY=verbose -c "SET work_mem = '64kB'" \
    -c "SELECT pgvector_rs_hnsw_check('t_h')" 2>&1)
check "the hnsw check with work_mem = 64kB fails with out of memory (53200)" t \
    "$(grep -q 'ERROR:  53200: out of memory' <<<"$check_small" && echo t)"
check "its detail names the index and work_mem" t \
    "$(grep -q 'Checking index "t_h" needs more than work_mem (64 kB)' <<<"$check_small" && echo t)"
check "the hnsw check of 30,000 rows fits the default work_mem (4MB)" t \
    "$(sql limits "$P" -c "SET work_mem = '4MB'" -c "SELECT pgvector_rs_hnsw_check('t_h') LIKE '%is consistent: % 30000 live elements%'")"

# timed SQL...: runs the statements, prints "<milliseconds> <last error line>".
timed() {
    local start end out
    start=$(date +%s%N)
    out=$(as_postgres "$BIN/psql" -X -At -v ON_ERROR_STOP=1 -h "$(cluster_dir limits)" -p "$P" -d postgres "$@" 2>&1)
    end=$(date +%s%N)
    echo "$(((end - start) / 1000000)) $(grep -m1 ERROR <<<"$out")"
}

# Scans that visit everything: a filter no row passes. Each either finishes
# or is stopped by the 200 ms timeout, and in both cases within 1.2 s. (At
# this size they may finish first; the interrupt tests of the index crates
# prove that every loop stops.)
for scan in \
    "SET hnsw.iterative_scan = relaxed_order|SET hnsw.max_scan_tuples = 2000000000|SET hnsw.scan_mem_multiplier = 1000|SET hnsw.ef_search = 1000|SELECT count(*) FROM (SELECT id FROM t WHERE id < 0 ORDER BY v <=> $q LIMIT 10) s" \
    "SET ivfflat.probes = 20|SELECT count(*) FROM (SELECT id FROM t WHERE id < 0 ORDER BY v <-> $q LIMIT 10) s" \
    "SET ivfflat.iterative_scan = relaxed_order|SET ivfflat.max_probes = 20|SET ivfflat.probes = 1|SELECT count(*) FROM (SELECT id FROM t WHERE id < 0 ORDER BY v <-> $q LIMIT 10) s"; do
    args=(-c "SET statement_timeout = '200ms'" -c "SET enable_seqscan = off")
    IFS='|' read -ra parts <<<"$scan"
    for part in "${parts[@]}"; do
        args+=(-c "$part")
    done
    read -r ms err <<<"$(timed "${args[@]}")"
    ok=f
    if [ "$ms" -lt 1200 ] && { [ -z "$err" ] || grep -q "canceling statement due to statement timeout" <<<"$err"; }; then
        ok=t
    fi
    check "statement_timeout 200ms stops or outlasts '${parts[-1]:0:60}...' (${ms} ms, ${err:-finished})" t "$ok"
done

# VACUUM after deleting two thirds of the rows repairs much of the hnsw
# graph; cancelled after 300 ms, it ends within a second.
sql limits "$P" -c "DELETE FROM t WHERE id % 3 <> 0"
vacuum_out=$(mktemp)
chmod 666 "$vacuum_out"
start=$(date +%s%N)
(as_postgres "$BIN/psql" -X -At -h "$(cluster_dir limits)" -p "$P" -d postgres \
    -c "SET application_name = 'cancel_me'" -c "VACUUM t" >"$vacuum_out" 2>&1; date +%s%N >>"$vacuum_out") &
vacuum_pid=$!
sleep 0.3
cancelled_at=$(date +%s%N)
sql limits "$P" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'cancel_me'" >/dev/null
wait "$vacuum_pid"
ended_at=$(tail -n1 "$vacuum_out")
if grep -q "canceling statement due to user request" "$vacuum_out"; then
    check "VACUUM stops within 1 s of pg_cancel_backend ($(((ended_at - cancelled_at) / 1000000)) ms)" t \
        "$([ $(((ended_at - cancelled_at) / 1000000)) -lt 1000 ] && echo t)"
else
    # Finished before the cancel arrived: nothing to measure, but it must
    # have been quick.
    check "VACUUM finished before the cancel ($(((ended_at - start) / 1000000)) ms)" t \
        "$([ $(((ended_at - start) / 1000000)) -lt 1300 ] && echo t)"
fi
rm -f "$vacuum_out"
check "the index is consistent after the cancelled VACUUM" t \
    "$(sql limits "$P" -c "SELECT pgvector_rs_hnsw_check('t_h') LIKE '%is consistent%'")"
check "a second VACUUM completes" "" "$(sql limits "$P" -c "VACUUM t" 2>&1)"
finish
