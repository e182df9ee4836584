#!/usr/bin/env bash
# hnsw builds: progress in pg_stat_progress_create_index, graceful
# degradation when the graph outgrows maintenance_work_mem, prompt
# cancellation while worker threads run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P=28821
fresh_cluster build "$P"
sql build "$P" <<'SQL'
CREATE EXTENSION pgvector_rs;
SELECT setseed(0.3);
CREATE TABLE t (id int PRIMARY KEY, v vector(64));
INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 64) WHERE i > 0) FROM generate_series(1, 60000) i;
ANALYZE t;
SQL

# Progress: poll while a build runs.
( sql build "$P" -c "CREATE INDEX t_progress ON t USING hnsw (v)" >/dev/null 2>&1 & )
phases=""
tuples=0
for _ in $(seq 1 200); do
    row=$(sql build "$P" -c "SELECT phase || '|' || tuples_done FROM pg_stat_progress_create_index")
    if [ -n "$row" ]; then
        phases="$phases${row%%|*};"
        [ "${row##*|}" -gt "$tuples" ] && tuples=${row##*|}
    elif [ -n "$phases" ]; then
        break
    fi
    sleep 0.1
done
echo "# phases seen: $(echo "$phases" | tr ';' '\n' | sort -u | tr '\n' ';')"
check "progress shows the graph phase" t "$(echo "$phases" | grep -q 'building index: building graph' && echo t || echo f)"
check "progress counts tuples" t "$([ "$tuples" -gt 0 ] && echo t || echo f)"
sleep 1
for _ in $(seq 1 100); do
    [ -z "$(sql build "$P" -c "SELECT 1 FROM pg_stat_progress_create_index")" ] && break
    sleep 0.5
done
check "index built" t "$(sql build "$P" -c "SELECT pgvector_rs_hnsw_check('t_progress') LIKE '%is consistent%'")"
sql build "$P" -c "DROP INDEX t_progress"

# A budget far below the graph's size: a NOTICE, then on-page inserts; the
# index is complete and answers exactly at large ef_search.
notice=$(sql build "$P" -c "SET maintenance_work_mem = '1MB'" -c "CREATE INDEX t_small ON t USING hnsw (v) WHERE id <= 8000" 2>&1)
check "NOTICE when the graph outgrows maintenance_work_mem" t \
    "$(echo "$notice" | grep -q 'hnsw graph no longer fits into maintenance_work_mem' && echo t || echo f)"
check "index built past the budget is consistent" t "$(sql build "$P" -c "SELECT pgvector_rs_hnsw_check('t_small') ~ 'is consistent: [0-9]+ pages, 8000 live elements'")"
check "index built past the budget is exact at large ef_search" t "$(sql build "$P" <<'SQL'
SET hnsw.ef_search = 10000;
SELECT bool_and(a = b) FROM (
    SELECT (SELECT array_agg(id) FROM (SELECT id FROM t WHERE id <= 8000 ORDER BY v <-> q.v LIMIT 10) s) AS b,
           (SELECT array_agg(id) FROM (SELECT id FROM t WHERE id <= 8000 ORDER BY (v <-> q.v) + 0 LIMIT 10) s) AS a
    FROM (SELECT v FROM t WHERE id % 1000 = 3) q) r;
SQL
)"

# Cancellation while worker threads build the graph: the ERROR comes within
# seconds, the backend survives, nothing is left behind.
start=$(date +%s)
err=$(sql build "$P" -c "SET statement_timeout = '1500ms'" -c "CREATE INDEX t_cancel ON t USING hnsw (v) WITH (m = 48, ef_construction = 400)" 2>&1)
elapsed=$(( $(date +%s) - start ))
check "statement_timeout cancels a build" t "$(echo "$err" | grep -q 'canceling statement due to statement timeout' && echo t || echo f)"
check "cancellation is prompt (< 10 s)" t "$([ "$elapsed" -lt 10 ] && echo t || echo f)"
check "no index left behind" 0 "$(sql build "$P" -c "SELECT count(*) FROM pg_class WHERE relname = 't_cancel'")"
check "server still up, no crash" 1 "$(sql build "$P" -c "SELECT 1")"
check "no backend crashed" 0 "$(grep -c 'terminated by signal\|was terminated' "$(cluster_dir build)/server.log" || true)"
finish
