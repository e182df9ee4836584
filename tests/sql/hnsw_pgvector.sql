-- pgvector's own hnsw checks (its TAP tests test/t/012, 024 and 028 for build
-- recall, 044 for iterative scans, 011 for space reuse), reproduced with
-- seeded data: the same data generation, query sets, recall computation and
-- thresholds. Each check prints whether it passed, so the output does not
-- depend on the exact recall.
CREATE SCHEMA hnsw_pgvector_test;
SET search_path = hnsw_pgvector_test, public;

-- Recall of `ORDER BY v op q LIMIT 20` through the index against exact
-- search, over the queries in `qtbl` (text literals).
-- Without a filter (build recall): the share of the exact 20 nearest ids
-- that the index returns. With `WHERE i % c = 0` (iterative scans): the
-- share of returned ids that are among the rows at most as far as the exact
-- 20th nearest (so ties count).
CREATE FUNCTION recall(tbl text, op text, qtbl text, c int DEFAULT NULL) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    q text;
    filter text := 'true';
    expected int[];
    actual int[];
    correct int := 0;
    total int := 0;
BEGIN
    IF c IS NOT NULL THEN
        filter := format('i %% %s = 0', c);
    END IF;
    FOR q IN EXECUTE format('SELECT q FROM %I ORDER BY id', qtbl) LOOP
        PERFORM set_config('enable_indexscan', 'off', true);
        PERFORM set_config('enable_seqscan', 'on', true);
        IF c IS NULL THEN
            EXECUTE format('SELECT array_agg(i) FROM (SELECT i FROM %I ORDER BY v %s %L LIMIT 20) s',
                           tbl, op, q) INTO expected;
        ELSE
            EXECUTE format('WITH top AS (SELECT v %2$s %3$L AS d FROM %1$I WHERE %4$s ORDER BY d LIMIT 20)
                            SELECT array_agg(i) FROM %1$I
                            WHERE %4$s AND (v %2$s %3$L) <= (SELECT max(d) FROM top)',
                           tbl, op, q, filter) INTO expected;
        END IF;
        PERFORM set_config('enable_indexscan', 'on', true);
        PERFORM set_config('enable_seqscan', 'off', true);
        EXECUTE format('SELECT array_agg(i) FROM (SELECT i FROM %I WHERE %s ORDER BY v %s %L LIMIT 20) s',
                       tbl, filter, op, q) INTO actual;
        IF c IS NULL THEN
            correct := correct + (SELECT count(*) FROM unnest(expected) e WHERE e = ANY (actual));
            total := total + cardinality(expected);
        ELSE
            correct := correct + (SELECT count(*) FROM unnest(actual) a WHERE a = ANY (expected));
            total := total + 20;
        END IF;
    END LOOP;
    RETURN correct::float8 / total;
END
$$;

-- Builds an hnsw index with `opclass` on `tbl`, once without and once with
-- build threads (pgvector: a serial and a parallel build), and records
-- whether recall reaches `min` each time.
CREATE TABLE results (check_name text, passed boolean, recall float8);
CREATE FUNCTION check_build(tbl text, opclass text, op text, qtbl text, min float8) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r float8;
BEGIN
    PERFORM set_config('max_parallel_maintenance_workers', '0', true);
    EXECUTE format('CREATE INDEX idx ON %I USING hnsw (v %s)', tbl, opclass);
    r := recall(tbl, op, qtbl);
    INSERT INTO results VALUES (opclass || ' serial', r >= min, r);
    DROP INDEX idx;
    PERFORM set_config('max_parallel_maintenance_workers', '2', true);
    EXECUTE format('CREATE INDEX idx ON %I USING hnsw (v %s)', tbl, opclass);
    r := recall(tbl, op, qtbl);
    INSERT INTO results VALUES (opclass || ' parallel', r >= min, r);
    DROP INDEX idx;
END
$$;

-- Build recall (012, 024, 028): 10,000 rows, 20 random queries, k = 20.
SELECT setseed(0.12);
CREATE TABLE tst (i int4, v vector(3));
INSERT INTO tst SELECT i, ARRAY[random() * random(), random() * random(), random() * random()]
    FROM generate_series(1, 10000) i;
CREATE TABLE queries (id int, q text);
INSERT INTO queries SELECT id, ARRAY[random(), random(), random()]::vector::text
    FROM generate_series(1, 20) id;
CREATE TABLE tst_s (i int4, v sparsevec(3));
INSERT INTO tst_s SELECT i, v::sparsevec FROM tst;
CREATE TABLE queries_s (id int, q text);
INSERT INTO queries_s SELECT id, q::vector::sparsevec::text FROM queries;
CREATE TABLE tst_h (i int4, v halfvec(10));
INSERT INTO tst_h SELECT i, (SELECT array_agg(2 * random() * random()) FROM generate_series(1, 10) d WHERE i > 0)
    FROM generate_series(1, 10000) i;
CREATE TABLE queries_h (id int, q text);
INSERT INTO queries_h SELECT id, (SELECT array_agg(random()) FROM generate_series(1, 10) d WHERE id > 0)::halfvec::text
    FROM generate_series(1, 20) id;
ANALYZE tst, tst_s, tst_h;

-- The recall queries use the index.
CREATE INDEX idx ON tst USING hnsw (v vector_ip_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT i FROM tst ORDER BY v <#> '[0.5,0.5,0.5]' LIMIT 20;
RESET enable_seqscan;
DROP INDEX idx;

SELECT check_build('tst', 'vector_l2_ops', '<->', 'queries', 0.99);
SELECT check_build('tst', 'vector_ip_ops', '<#>', 'queries', 0.97);
SELECT check_build('tst', 'vector_cosine_ops', '<=>', 'queries', 0.99);
SELECT check_build('tst', 'vector_l1_ops', '<+>', 'queries', 0.99);
SELECT check_build('tst_h', 'halfvec_l2_ops', '<->', 'queries_h', 0.98);
SELECT check_build('tst_h', 'halfvec_ip_ops', '<#>', 'queries_h', 0.98);
SELECT check_build('tst_h', 'halfvec_cosine_ops', '<=>', 'queries_h', 0.98);
SELECT check_build('tst_h', 'halfvec_l1_ops', '<+>', 'queries_h', 0.98);
SELECT check_build('tst_s', 'sparsevec_l2_ops', '<->', 'queries_s', 0.99);
SELECT check_build('tst_s', 'sparsevec_ip_ops', '<#>', 'queries_s', 0.97);
SELECT check_build('tst_s', 'sparsevec_cosine_ops', '<=>', 'queries_s', 0.99);
SELECT check_build('tst_s', 'sparsevec_l1_ops', '<+>', 'queries_s', 0.99);
SELECT check_name, passed FROM results ORDER BY check_name;
-- Any shortfall, with the recall reached.
SELECT check_name, recall FROM results WHERE NOT passed ORDER BY check_name;
DELETE FROM results;

-- Iterative scans (044): 50,000 rows of random() vectors, `WHERE i % c = 0`
-- for c = 50 and 500, ef_search 40, LIMIT 20, recall >= 0.99 in both modes,
-- under L2 and cosine.
CREATE TABLE tst_it (i int4, v vector(3));
INSERT INTO tst_it SELECT i, ARRAY[random(), random(), random()] FROM generate_series(1, 50000) i;
ANALYZE tst_it;
CREATE FUNCTION check_iterative(opclass text, op text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    c int;
    mode text;
    r float8;
BEGIN
    PERFORM set_config('maintenance_work_mem', '128MB', true);
    EXECUTE format('CREATE INDEX idx ON tst_it USING hnsw (v %s)', opclass);
    PERFORM set_config('hnsw.ef_search', '40', true);
    FOREACH c IN ARRAY ARRAY[50, 500] LOOP
        FOREACH mode IN ARRAY ARRAY['strict_order', 'relaxed_order'] LOOP
            PERFORM set_config('hnsw.iterative_scan', mode, true);
            r := recall('tst_it', op, 'queries', c);
            INSERT INTO results VALUES (format('%s %s %s', opclass, mode, c), r >= 0.99, r);
        END LOOP;
    END LOOP;
    DROP INDEX idx;
END
$$;
CREATE INDEX idx ON tst_it USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
SET hnsw.iterative_scan = strict_order;
EXPLAIN (COSTS OFF) SELECT i FROM tst_it WHERE i % 50 = 0 ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 20;
RESET hnsw.iterative_scan;
RESET enable_seqscan;
DROP INDEX idx;
SELECT check_iterative('vector_l2_ops', '<->');
-- Under cosine the index stores half-precision unit vectors (the default):
-- in this dense 3-d data, near neighbours are ~1e-5 apart in <=>, less than
-- the ~1e-4 a half's rounding moves a dot product, so the index compares
-- cosines of the halves (their norms cancel most of the rounding).
SELECT check_iterative('vector_cosine_ops', '<=>');
SELECT check_name, passed FROM results ORDER BY check_name;
SELECT check_name, recall FROM results WHERE NOT passed ORDER BY check_name;

-- Space reuse (011): 10,000 rows whose coordinates are `i % c` (many rows
-- repeat), delete them all, vacuum, insert the same rows again: the index
-- grows by at most 2%. Then delete all but one row: a search finds it.
CREATE TABLE tst_vac (i int4, v vector(3));
INSERT INTO tst_vac SELECT i, ARRAY[i % 211, i % 577, i % 919] FROM generate_series(1, 10000) i;
CREATE INDEX tst_vac_idx ON tst_vac USING hnsw (v vector_l2_ops);
CREATE TABLE sizes AS SELECT pg_total_relation_size('tst_vac_idx') AS built;
DELETE FROM tst_vac;
VACUUM tst_vac;
INSERT INTO tst_vac SELECT i, ARRAY[i % 211, i % 577, i % 919] FROM generate_series(1, 10000) i;
SELECT pg_total_relation_size('tst_vac_idx') <= built * 1.02 AS reuses_space FROM sizes;
-- The sizes when it does not.
SELECT built, pg_total_relation_size('tst_vac_idx') AS after FROM sizes
    WHERE pg_total_relation_size('tst_vac_idx') > built * 1.02;
DELETE FROM tst_vac WHERE i != 123;
VACUUM tst_vac;
SET enable_seqscan = off;
SELECT i FROM tst_vac ORDER BY v <-> '[0,0,0]' LIMIT 10;
RESET enable_seqscan;

RESET search_path;
DROP SCHEMA hnsw_pgvector_test CASCADE;
