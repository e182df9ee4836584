-- Search settings that travel with the index (WITH (ef_search / probes)),
-- recall targets (pgvector_rs.target_recall) over each index's calibration,
-- and pgvector_rs_evaluate_recall.
-- Its own schema, so that tables cannot collide with other suites'.
CREATE SCHEMA recall_target_test;
SET search_path = recall_target_test, public;
SET enable_seqscan = off;

-- EXPLAIN's pgvector_rs lines, with the measured numbers masked (they
-- depend on the graph a build makes) unless the reason is not a target.
CREATE FUNCTION notes(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF line LIKE 'pgvector_rs:%' THEN
            RETURN NEXT regexp_replace(regexp_replace(line,
                '(ef_search|probes) = \d+ \(target', '\1 = N (target'),
                'calibrated recall [0-9.]+', 'calibrated recall R');
        END IF;
    END LOOP;
END
$$;

-- EXPLAIN ANALYZE's whole plan, masked the same way.
CREATE FUNCTION plan_masked(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        RETURN NEXT regexp_replace(regexp_replace(line,
            '(ef_search|probes) = \d+ \(target', '\1 = N (target'),
            'calibrated recall [0-9.]+', 'calibrated recall R');
    END LOOP;
END
$$;

SELECT setseed(0.5);
CREATE TABLE t (id int PRIMARY KEY, v vector(8));
INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 8) WHERE i > 0)::vector
    FROM generate_series(1, 2000) i;

-- 1. Index options. A non-iterative hnsw scan returns at most ef_search
-- rows, which shows the setting a scan used.
CREATE INDEX t_hnsw ON t USING hnsw (v vector_l2_ops) WITH (ef_search = 100);
\d+ t_hnsw
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 500) s;
-- The session's setting wins, SET LOCAL too; RESET gives the option back.
SET hnsw.ef_search = 40;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 500) s;
RESET hnsw.ef_search;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 500) s;
BEGIN;
SET LOCAL hnsw.ef_search = 60;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 500) s;
COMMIT;
ALTER INDEX t_hnsw SET (ef_search = 200);
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 500) s;
ALTER INDEX t_hnsw RESET (ef_search);
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 500) s;
-- The option's range is the setting's.
ALTER INDEX t_hnsw SET (ef_search = 0);
ALTER INDEX t_hnsw SET (ef_search = 100001);
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 4, probes = 0);
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 4, probes = 32769);
-- EXPLAIN says when an index option decided.
SELECT * FROM notes($$SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5$$);
ALTER INDEX t_hnsw SET (ef_search = 100);
SELECT * FROM notes($$SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5$$);

-- 2. Calibration: measured at build, stored in the index.
SELECT split_part(pgvector_rs_calibration('t_hnsw'), E'\n', 1);
SELECT array_length(regexp_split_to_array(pgvector_rs_calibration('t_hnsw'), E'\n'), 1) AS lines;
-- The build measured the graph without its sample of rows, then inserted
-- them: every row is in the index.
SELECT substring(pgvector_rs_hnsw_check('t_hnsw') from '\d+ live elements \(\d+ heap tuples\)');
SET hnsw.ef_search = 2000;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 2000) s;
RESET hnsw.ef_search;

-- 3. Targets. EXPLAIN shows the setting and why, with the query's k
-- (LIMIT + OFFSET).
SET pgvector_rs.target_recall = 0.9;
SELECT * FROM notes($$SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10$$);
SELECT * FROM notes($$SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 20 OFFSET 5$$);
SELECT * FROM notes($$SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT (SELECT 3)$$);
SELECT * FROM notes($$SELECT * FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 7) s WHERE id > 0$$);
-- EXPLAIN ANALYZE too; other formats are unchanged.
SELECT * FROM plan_masked($$SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 1) LIMIT 1$$);
EXPLAIN (COSTS OFF, FORMAT JSON) SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10;
-- An HNSW scan starts with ef_search >= k: with a target any index meets,
-- the scan returns k rows.
SET pgvector_rs.target_recall = 0.01;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 300) s;
-- k from a parameter of a generic plan; unknown k is 10.
SET plan_cache_mode = force_generic_plan;
PREPARE top(vector, bigint) AS
    SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> $1 LIMIT $2) s;
EXECUTE top('[0,0,0,0,0,0,0,0]', 250);
EXECUTE top('[0,0,0,0,0,0,0,0]', 30);
PREPARE top_unknown(vector, int) AS
    SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> $1 LIMIT (SELECT $2)) s;
EXECUTE top_unknown('[0,0,0,0,0,0,0,0]', 250);
RESET plan_cache_mode;
-- An explicitly set hnsw.ef_search wins over the target.
SET pgvector_rs.target_recall = 0.9;
SET hnsw.ef_search = 33;
SELECT * FROM notes($$SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10$$);
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 300) s;
RESET hnsw.ef_search;
-- Iterative scans start with the chosen ef_search and go on.
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 300) s;
RESET hnsw.iterative_scan;
-- A target outside 0..1 is refused; 0 turns it off.
SET pgvector_rs.target_recall = 1.5;
SET pgvector_rs.target_recall = 0;
SELECT * FROM notes($$SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10$$);

-- 4. An index without a calibration (built on an empty table): the option,
-- then the default, and EXPLAIN says so. VACUUM calibrates it once it has
-- rows, and again when its size moved by more than 20%.
CREATE TABLE e (id int, v vector(8));
CREATE INDEX e_hnsw ON e USING hnsw (v vector_l2_ops) WITH (ef_search = 77);
SELECT pgvector_rs_calibration('e_hnsw');
SET pgvector_rs.target_recall = 0.9;
SELECT * FROM notes($$SELECT id FROM e ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10$$);
ALTER INDEX e_hnsw RESET (ef_search);
SELECT * FROM notes($$SELECT id FROM e ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10$$);
INSERT INTO e SELECT id, v FROM t WHERE id <= 500;
VACUUM e;
SELECT split_part(pgvector_rs_calibration('e_hnsw'), E'\n', 1);
SELECT * FROM notes($$SELECT id FROM e ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10$$);
INSERT INTO e SELECT id, v FROM t WHERE id > 500 AND id <= 550;
VACUUM e;
SELECT split_part(pgvector_rs_calibration('e_hnsw'), E'\n', 1);
DELETE FROM e WHERE id > 300;
VACUUM e;
SELECT split_part(pgvector_rs_calibration('e_hnsw'), E'\n', 1);
-- Explicitly.
INSERT INTO e SELECT id, v FROM t WHERE id > 300 AND id <= 320;
SELECT split_part(pgvector_rs_calibrate('e_hnsw'), E'\n', 1);
SELECT pgvector_rs_calibrate('e');
SELECT pgvector_rs_calibrate('t_pkey');
SELECT pgvector_rs_calibration('t_pkey');

-- 5. ivfflat and half precision.
CREATE INDEX t_ivf ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10);
SELECT split_part(pgvector_rs_calibration('t_ivf'), E'\n', 1);
DROP INDEX t_hnsw;
SELECT * FROM notes($$SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10$$);
SET ivfflat.probes = 3;
SELECT * FROM notes($$SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10$$);
RESET ivfflat.probes;
-- A target of 1: the largest measured setting (the calibration stops where
-- recall@100 reaches 0.995), never more lists than exist.
SET pgvector_rs.target_recall = 1;
SELECT count(*) BETWEEN 1000 AND 2000 AS most_lists
    FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 2000) s;
DROP INDEX t_ivf;
CREATE INDEX t_half ON t USING hnsw (v vector_cosine_ops) WITH (quantization = half);
SELECT split_part(pgvector_rs_calibration('t_half'), E'\n', 1);
SET pgvector_rs.target_recall = 0.95;
SELECT * FROM notes($$SELECT id FROM t ORDER BY v <=> '[1,1,1,1,1,1,1,1]' LIMIT 10$$);
DROP INDEX t_half;
RESET pgvector_rs.target_recall;

-- 6. pgvector_rs_evaluate_recall. Exact on small data: an ivfflat index
-- probing every list, an hnsw index searching past the table's size.
CREATE INDEX t_ivf ON t USING ivfflat (v vector_l2_ops) WITH (lists = 4);
SET ivfflat.probes = 4;
SELECT pgvector_rs_evaluate_recall('t_ivf', '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]'::vector, 10);
SELECT pgvector_rs_evaluate_recall('t_ivf', v, 100) FROM t WHERE id = 17;
RESET ivfflat.probes;
DROP INDEX t_ivf;
CREATE INDEX e_exact ON e USING hnsw (v vector_l2_ops) WITH (ef_search = 1000);
DROP INDEX e_hnsw;
SELECT pgvector_rs_evaluate_recall('e_exact', v, 10) FROM e WHERE id = 3;
-- More than the table holds: what exists is the denominator.
SELECT pgvector_rs_evaluate_recall('e_exact', '[0,0,0,0,0,0,0,0]'::vector, 1000);
-- A known loss: two clusters, one list probed, the query between them
-- nearer the first: the 10 rows of the other cluster are missed of 20.
CREATE TABLE two (id int, v vector(1));
INSERT INTO two SELECT i, ARRAY[i]::vector FROM generate_series(0, 9) i;
INSERT INTO two SELECT i, ARRAY[i]::vector FROM generate_series(100, 109) i;
CREATE INDEX two_ivf ON two USING ivfflat (v vector_l2_ops) WITH (lists = 2);
SELECT pgvector_rs_evaluate_recall('two_ivf', '[50]'::vector, 20);
SELECT pgvector_rs_evaluate_recall('two_ivf', '[50]'::vector, 5);
SET ivfflat.probes = 2;
SELECT pgvector_rs_evaluate_recall('two_ivf', '[50]'::vector, 20);
RESET ivfflat.probes;
-- The same with the target: the calibration knows the index needs 2 probes
-- for its own rows' 20 neighbours (one list holds 10).
SELECT pgvector_rs_evaluate_recall('two_ivf', '[3]'::vector, 20);
SET pgvector_rs.target_recall = 0.99;
SELECT pgvector_rs_evaluate_recall('two_ivf', '[3]'::vector, 20);
RESET pgvector_rs.target_recall;
-- Empty tables, wrong indexes, bad k.
CREATE TABLE empty (v vector(2));
CREATE INDEX empty_hnsw ON empty USING hnsw (v vector_l2_ops);
SELECT pgvector_rs_evaluate_recall('empty_hnsw', '[1,1]'::vector, 10);
SELECT pgvector_rs_evaluate_recall('t_pkey', '[1,1]'::vector, 10);
SELECT pgvector_rs_evaluate_recall('empty_hnsw', '[1,1]'::vector, 0);
SELECT pgvector_rs_evaluate_recall('empty_hnsw', '[1,1,1]'::vector, 10);
-- Its planner settings do not leak.
SHOW enable_seqscan;
SHOW enable_indexscan;

-- Code indexes calibrate to what the executor returns: it rechecks every
-- row an ivfflat scan reports (codes report lower bounds), so a query gets
-- the exact top k of the probed lists, as with half precision. Two tables
-- of the same rows in the same order (same sample, same lists): the
-- rabitq index needs no more probes than the half-precision one.
SELECT setseed(0.25);
CREATE TABLE codes_h AS SELECT i AS id, (SELECT array_agg(random() + c) FROM generate_series(1, 32), (SELECT (i % 7) * 0.2 AS c) k)::vector(32) AS v
  FROM generate_series(1, 4000) i;
CREATE TABLE codes_r AS SELECT * FROM codes_h ORDER BY id;
CREATE INDEX ON codes_h USING ivfflat (v vector_l2_ops) WITH (lists = 20);
CREATE INDEX ON codes_r USING ivfflat (v vector_l2_ops) WITH (lists = 20, quantization = rabitq);
CREATE FUNCTION probes_for(tbl text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT id FROM %I ORDER BY v <-> (SELECT v FROM %I WHERE id = 7) LIMIT 10', tbl, tbl) LOOP
        IF line LIKE 'pgvector_rs:%' THEN
            RETURN substring(line FROM 'probes = (\d+)')::int;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
SET pgvector_rs.target_recall = 0.9;
SELECT probes_for('codes_r') <= probes_for('codes_h') AS not_above, probes_for('codes_h') BETWEEN 2 AND 19 AS half_needs_some;
SET pgvector_rs.target_recall = 0.99;
SELECT probes_for('codes_r') <= probes_for('codes_h') AS not_above, probes_for('codes_r') < 20 AS not_every_list;
RESET pgvector_rs.target_recall;
-- The ivfflat ladder carries each query's scan from one probes to the next
-- (one list at a time); when the scans do not fit half of
-- maintenance_work_mem it starts them again at each setting. Both measure
-- the same (a refresh samples the same rows as the build).
SELECT pgvector_rs_calibration('codes_h_v_idx') AS built_h, pgvector_rs_calibration('codes_r_v_idx') AS built_r \gset
SET maintenance_work_mem = '1MB';
SELECT pgvector_rs_calibrate('codes_h_v_idx') = :'built_h' AS same_h, pgvector_rs_calibrate('codes_r_v_idx') = :'built_r' AS same_r;
RESET maintenance_work_mem;

-- pgvector_rs.calibrate_on_build = off: the build measures nothing, a
-- target is ignored (EXPLAIN says so) until pgvector_rs_calibrate.
SET pgvector_rs.calibrate_on_build = off;
CREATE TABLE uncal AS SELECT * FROM codes_h;
CREATE INDEX uncal_hnsw ON uncal USING hnsw (v vector_l2_ops);
CREATE INDEX uncal_ivf ON uncal USING ivfflat (v vector_l2_ops) WITH (lists = 20);
RESET pgvector_rs.calibrate_on_build;
SELECT pgvector_rs_calibration('uncal_hnsw');
SELECT pgvector_rs_calibration('uncal_ivf');
-- Every row is in the graph (none held out for a calibration).
SELECT relname, reltuples FROM pg_class WHERE relname IN ('uncal_hnsw', 'uncal_ivf') ORDER BY relname;
SET pgvector_rs.target_recall = 0.9;
SELECT * FROM notes('SELECT id FROM uncal ORDER BY v <-> (SELECT v FROM uncal WHERE id = 7) LIMIT 10');
SELECT pgvector_rs_calibrate('uncal_ivf') LIKE 'calibrated probes at recall@k on 50 sample queries%' AS calibrated;
RESET pgvector_rs.target_recall;

DROP SCHEMA recall_target_test CASCADE;
