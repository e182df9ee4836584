-- Index block reads are counted in the statistics views however the buffer
-- is found. A read that finds its block in the buffer where this backend last
-- saw it pins that buffer without searching the shared buffer table
-- (ReadRecentBuffer, which checks the buffer still holds the block), and
-- counts it as the ordinary read does: the same scan twice in one
-- transaction, first mostly through the buffer table, then entirely through
-- the remembered buffers, counts the same blocks fetched and hit.
CREATE SCHEMA buffer_stats_test;
SET search_path = buffer_stats_test, public;
CREATE TABLE t (id int, v vector(3));
INSERT INTO t SELECT i, ARRAY[sin(i), cos(i), sin(0.3 * i)]::real[]::vector(3) FROM generate_series(1, 3000) i;
CREATE INDEX t_idx ON t USING hnsw (v vector_l2_ops);
\c
SET search_path = buffer_stats_test, public;
SET enable_seqscan = off;
-- A new session: a one-row scan opens the index (its cached information).
SET hnsw.ef_search = 1;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[-0.9,0.1,-0.5]' LIMIT 1) s;
RESET hnsw.ef_search;
BEGIN;
-- (The "xact" counters include what this backend has not reported yet.)
SELECT pg_stat_get_xact_blocks_fetched('t_idx'::regclass) AS f0,
       pg_stat_get_xact_blocks_hit('t_idx'::regclass) AS h0 \gset
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0.1,0.2,0.3]' LIMIT 10) s;
SELECT pg_stat_get_xact_blocks_fetched('t_idx'::regclass) AS f1,
       pg_stat_get_xact_blocks_hit('t_idx'::regclass) AS h1 \gset
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0.1,0.2,0.3]' LIMIT 10) s;
SELECT :f1 - :f0 > 10 AS read_blocks, :h1 - :h0 = :f1 - :f0 AS all_hits,
       pg_stat_get_xact_blocks_fetched('t_idx'::regclass) - :f1 = :f1 - :f0 AS fetched_again,
       pg_stat_get_xact_blocks_hit('t_idx'::regclass) - :h1 = :h1 - :h0 AS hit_again;
COMMIT;
DROP SCHEMA buffer_stats_test CASCADE;
