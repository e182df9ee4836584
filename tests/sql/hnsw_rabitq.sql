-- hnsw with quantization = rabitq: element tuples hold RaBitQ codes (bits
-- per dimension: the bits option, 4 by default). The graph is built from
-- the vectors themselves; scans navigate on the codes' distance estimates
-- and report a provable lower bound of each row's distance, which the
-- executor rechecks on the heap row, so rows come back in exact order with
-- exact distances. With hnsw.ef_search above the table's rows the scan
-- returns every reachable row, so it must return what exact search returns
-- (the order and the distances are the mechanism's; which rows a smaller
-- beam finds is measured by the benchmark).
CREATE SCHEMA hnsw_rabitq_test;
SET search_path = hnsw_rabitq_test, public;
SELECT setseed(0.23);
CREATE TABLE t (id int PRIMARY KEY, v vector(64), h halfvec(64));
INSERT INTO t SELECT i, v, v::halfvec(64) FROM (
  SELECT i, (SELECT array_agg(random() - 0.3 + c) FROM generate_series(1, 64), (SELECT (i % 5) * 0.1 AS c) k)::vector(64) AS v
  FROM generate_series(1, 2000) i) s;
CREATE TABLE queries (id int, v vector(64), h halfvec(64));
INSERT INTO queries SELECT i, v, v::halfvec(64) FROM (
  SELECT i, (SELECT array_agg(random() - 0.3) FROM generate_series(1, 64) WHERE i > 0)::vector(64) AS v
  FROM generate_series(1, 5) i) s;
SET enable_seqscan = off;
SET hnsw.ef_search = 3000;

-- The index's first 20 rows equal exact search's (ids, ties in any order)
-- and come in exact order (their distances).
CREATE FUNCTION exact_l2() RETURNS TABLE (q int, same_ids bool, same_distances bool) LANGUAGE sql AS $$
  SELECT q.id,
         ARRAY(SELECT id FROM (SELECT t.id, t.v <-> q.v AS d FROM t ORDER BY t.v <-> q.v LIMIT 20) s ORDER BY d, id)
       = ARRAY(SELECT t.id FROM t ORDER BY (t.v <-> q.v) + 0, t.id LIMIT 20),
         ARRAY(SELECT t.v <-> q.v FROM t ORDER BY t.v <-> q.v LIMIT 20)
       = ARRAY(SELECT t.v <-> q.v FROM t ORDER BY (t.v <-> q.v) + 0, t.id LIMIT 20)
  FROM queries q ORDER BY q.id $$;
CREATE FUNCTION exact_ip() RETURNS TABLE (q int, same_ids bool, same_distances bool) LANGUAGE sql AS $$
  SELECT q.id,
         ARRAY(SELECT id FROM (SELECT t.id, t.v <#> q.v AS d FROM t ORDER BY t.v <#> q.v LIMIT 20) s ORDER BY d, id)
       = ARRAY(SELECT t.id FROM t ORDER BY (t.v <#> q.v) + 0, t.id LIMIT 20),
         ARRAY(SELECT t.v <#> q.v FROM t ORDER BY t.v <#> q.v LIMIT 20)
       = ARRAY(SELECT t.v <#> q.v FROM t ORDER BY (t.v <#> q.v) + 0, t.id LIMIT 20)
  FROM queries q ORDER BY q.id $$;
CREATE FUNCTION exact_cos() RETURNS TABLE (q int, same_ids bool, same_distances bool) LANGUAGE sql AS $$
  SELECT q.id,
         ARRAY(SELECT id FROM (SELECT t.id, t.v <=> q.v AS d FROM t ORDER BY t.v <=> q.v LIMIT 20) s ORDER BY d, id)
       = ARRAY(SELECT t.id FROM t ORDER BY (t.v <=> q.v) + 0, t.id LIMIT 20),
         ARRAY(SELECT t.v <=> q.v FROM t ORDER BY t.v <=> q.v LIMIT 20)
       = ARRAY(SELECT t.v <=> q.v FROM t ORDER BY (t.v <=> q.v) + 0, t.id LIMIT 20)
  FROM queries q ORDER BY q.id $$;
CREATE FUNCTION exact_h_l2() RETURNS TABLE (q int, same_ids bool, same_distances bool) LANGUAGE sql AS $$
  SELECT q.id,
         ARRAY(SELECT id FROM (SELECT t.id, t.h <-> q.h AS d FROM t ORDER BY t.h <-> q.h LIMIT 20) s ORDER BY d, id)
       = ARRAY(SELECT t.id FROM t ORDER BY (t.h <-> q.h) + 0, t.id LIMIT 20),
         ARRAY(SELECT t.h <-> q.h FROM t ORDER BY t.h <-> q.h LIMIT 20)
       = ARRAY(SELECT t.h <-> q.h FROM t ORDER BY (t.h <-> q.h) + 0, t.id LIMIT 20)
  FROM queries q ORDER BY q.id $$;
CREATE FUNCTION exact_h_ip() RETURNS TABLE (q int, same_ids bool, same_distances bool) LANGUAGE sql AS $$
  SELECT q.id,
         ARRAY(SELECT id FROM (SELECT t.id, t.h <#> q.h AS d FROM t ORDER BY t.h <#> q.h LIMIT 20) s ORDER BY d, id)
       = ARRAY(SELECT t.id FROM t ORDER BY (t.h <#> q.h) + 0, t.id LIMIT 20),
         ARRAY(SELECT t.h <#> q.h FROM t ORDER BY t.h <#> q.h LIMIT 20)
       = ARRAY(SELECT t.h <#> q.h FROM t ORDER BY (t.h <#> q.h) + 0, t.id LIMIT 20)
  FROM queries q ORDER BY q.id $$;
CREATE FUNCTION exact_h_cos() RETURNS TABLE (q int, same_ids bool, same_distances bool) LANGUAGE sql AS $$
  SELECT q.id,
         ARRAY(SELECT id FROM (SELECT t.id, t.h <=> q.h AS d FROM t ORDER BY t.h <=> q.h LIMIT 20) s ORDER BY d, id)
       = ARRAY(SELECT t.id FROM t ORDER BY (t.h <=> q.h) + 0, t.id LIMIT 20),
         ARRAY(SELECT t.h <=> q.h FROM t ORDER BY t.h <=> q.h LIMIT 20)
       = ARRAY(SELECT t.h <=> q.h FROM t ORDER BY (t.h <=> q.h) + 0, t.id LIMIT 20)
  FROM queries q ORDER BY q.id $$;

-- vector_l2_ops
CREATE INDEX t_idx ON t USING hnsw (v vector_l2_ops) WITH (quantization = rabitq);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <-> '[1,2,3]' LIMIT 5;
SELECT * FROM exact_l2();
SELECT pgvector_rs_hnsw_check('t_idx') LIKE 'index "t_idx" is consistent: % 2000 live elements%' AS consistent;
-- The rows the executor reranks (pgvector_rs_last_scan_stats()): every row
-- the scan returns comes with a lower bound and is rechecked on its heap
-- row. Without iterative scans a scan returns at most ef_search rows (one
-- per element: no duplicates here), so a LIMIT 10 query with ef_search = 40
-- reranks 10 to 40 rows, not the 2000 of the table.
CREATE FUNCTION last_stat(what text) RETURNS bigint LANGUAGE sql AS $$
  SELECT substring(pgvector_rs_last_scan_stats() FROM '(\d+) ' || what)::bigint $$;
SET hnsw.ef_search = 40;
SELECT id FROM t ORDER BY v <-> (SELECT v FROM queries WHERE id = 1) LIMIT 10 \g /dev/null
SELECT pgvector_rs_last_scan_stats() LIKE 'index t_idx: % elements visited, % rows returned, % rows rechecked' AS stats,
       last_stat('rows returned') BETWEEN 10 AND 40 AS reranked_10_to_40,
       last_stat('rows rechecked') = last_stat('rows returned') AS all_rechecked,
       last_stat('elements visited') >= last_stat('rows returned') AS visited_each;
-- Without LIMIT: ef_search rows at most, each counted.
CREATE TEMP TABLE n AS SELECT count(*) AS rows FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM queries WHERE id = 2)) s;
SELECT rows BETWEEN 1 AND 40 AS at_most_ef_search, rows = last_stat('rows returned') AS counted,
       last_stat('rows rechecked') = rows AS all_rechecked FROM n;
DROP TABLE n;
-- Iterative scans: bounded by hnsw.max_scan_tuples, the elements visited
-- (it stops before the next expansion past the limit, which visits at most
-- 2 * m = 32 more); every row returned is of an element visited.
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.max_scan_tuples = 300;
CREATE TEMP TABLE n AS SELECT count(*) AS rows FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM queries WHERE id = 2)) s;
SELECT rows > 40 AS more_than_one_round, rows = last_stat('rows returned') AS counted,
       last_stat('elements visited') BETWEEN 300 AND 300 + 32 AS visited_bounded,
       rows <= last_stat('elements visited') AS returned_bounded,
       last_stat('rows rechecked') = rows AS all_rechecked FROM n;
DROP TABLE n;
RESET hnsw.max_scan_tuples;
RESET hnsw.iterative_scan;
SET hnsw.ef_search = 3000;
-- Inserts after the build, found in exact order (the copies of the queries first, at distance 0).
INSERT INTO t SELECT 10000 + i, v, h FROM (SELECT id AS i, v, h FROM queries) s;
INSERT INTO t SELECT 20000 + i, v, v::halfvec(64) FROM (
  SELECT i, (SELECT array_agg(random() - 0.3) FROM generate_series(1, 64) WHERE i > 0)::vector(64) AS v
  FROM generate_series(1, 200) i) s;
SELECT q.id, (SELECT t.id FROM t ORDER BY t.v <-> q.v LIMIT 1) = 10000 + q.id AS own_copy_first,
       (SELECT t.v <-> q.v FROM t ORDER BY t.v <-> q.v LIMIT 1) AS distance
FROM queries q ORDER BY q.id;
SELECT * FROM exact_l2();
-- Vacuum: a third of the rows deleted, the rest found in exact order.
DELETE FROM t WHERE id % 3 = 0;
VACUUM t;
SELECT * FROM exact_l2();
SELECT pgvector_rs_hnsw_check('t_idx') LIKE 'index "t_idx" is consistent:%' AS consistent;
-- Inserts after vacuum.
INSERT INTO t SELECT 30000 + i, v, h FROM (SELECT id AS i, v, h FROM queries) s;
SELECT * FROM exact_l2();
-- Iterative scan with a filter: as many rows as asked for, all passing it,
-- in exact order.
SET hnsw.ef_search = 40;
SET hnsw.iterative_scan = strict_order;
SELECT count(*), bool_and(id % 7 = 1), bool_and(ordered) FROM (
  SELECT id, d >= lag(d, 1, 0) OVER () AS ordered FROM (
    SELECT id, v <-> (SELECT v FROM queries WHERE id = 3) AS d FROM t WHERE id % 7 = 1
    ORDER BY v <-> (SELECT v FROM queries WHERE id = 3) LIMIT 30) s) s2;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*), bool_and(id % 7 = 1) FROM (
  SELECT id FROM t WHERE id % 7 = 1 ORDER BY v <-> (SELECT v FROM queries WHERE id = 3) LIMIT 30) s;
RESET hnsw.iterative_scan;
SET hnsw.ef_search = 3000;
-- Radius: the rows within the radius, as a sequential scan finds them.
CREATE FUNCTION radius_l2(r real) RETURNS TABLE (q int, within int, same bool) LANGUAGE sql AS $$
  SELECT q.id, (SELECT count(*)::int FROM t WHERE (t.v <-> q.v) + 0 <= r),
         ARRAY(SELECT t.id FROM t WHERE t.v <<->> sphere(q.v, r) ORDER BY t.id)
       = ARRAY(SELECT t.id FROM t WHERE (t.v <-> q.v) + 0 <= r ORDER BY t.id)
  FROM queries q ORDER BY q.id $$;
SELECT * FROM radius_l2(2.8);
-- A radius scan's rows are all rechecked (the radius, on the heap row).
SELECT count(*) FROM t WHERE v <<->> sphere((SELECT v FROM queries WHERE id = 1), 2.8) \g /dev/null
SELECT last_stat('rows rechecked') = last_stat('rows returned') AS all_rechecked;
DROP INDEX t_idx;

-- vector_ip_ops, 1 and 8 bits
CREATE INDEX t_idx ON t USING hnsw (v vector_ip_ops) WITH (quantization = rabitq, bits = 1);
SELECT * FROM exact_ip();
DROP INDEX t_idx;
CREATE INDEX t_idx ON t USING hnsw (v vector_ip_ops) WITH (quantization = rabitq, bits = 8);
SELECT * FROM exact_ip();
DROP INDEX t_idx;

-- vector_cosine_ops
CREATE INDEX t_idx ON t USING hnsw (v vector_cosine_ops) WITH (quantization = rabitq);
SELECT * FROM exact_cos();
INSERT INTO t SELECT 40000 + i, v, h FROM (
  SELECT id AS i, w AS v, w::halfvec(64) AS h
  FROM (SELECT id, (SELECT array_agg(x * 3) FROM unnest(v::real[]) x)::vector(64) AS w FROM queries) s3) s;
SELECT q.id, (SELECT t.v <=> q.v FROM t ORDER BY t.v <=> q.v LIMIT 1) < 1e-6 AS scaled_copy_first
FROM queries q ORDER BY q.id;
SELECT * FROM exact_cos();
DROP INDEX t_idx;

-- halfvec_l2_ops, halfvec_ip_ops, halfvec_cosine_ops
CREATE INDEX t_idx ON t USING hnsw (h halfvec_l2_ops) WITH (quantization = rabitq);
SELECT * FROM exact_h_l2();
-- The copies move to new rows, so that no two rows hold the same vector
-- below: a known hnsw issue (any quantization) can leave one of two
-- identical vectors out of a later build.
DELETE FROM t WHERE id BETWEEN 30001 AND 30005;
INSERT INTO t SELECT 50000 + i, v, h FROM (SELECT id AS i, v, h FROM queries) s;
SELECT * FROM exact_h_l2();
DROP INDEX t_idx;
CREATE INDEX t_idx ON t USING hnsw (h halfvec_ip_ops) WITH (quantization = rabitq, bits = 2);
SELECT * FROM exact_h_ip();
DROP INDEX t_idx;
CREATE INDEX t_idx ON t USING hnsw (h halfvec_cosine_ops) WITH (quantization = rabitq);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY h <=> '[1,2,3]' LIMIT 5;
SELECT * FROM exact_h_cos();
DELETE FROM t WHERE id % 5 = 0;
VACUUM t;
SELECT * FROM exact_h_cos();
SELECT pgvector_rs_hnsw_check('t_idx') LIKE 'index "t_idx" is consistent:%' AS consistent;
DROP INDEX t_idx;

-- Codes are smaller than half precision (64 dimensions: 48-byte 4-bit codes
-- against 128-byte halves per element).
CREATE INDEX t_half ON t USING hnsw (v vector_cosine_ops) WITH (quantization = half);
CREATE INDEX t_codes ON t USING hnsw (v vector_cosine_ops) WITH (quantization = rabitq);
SELECT pg_relation_size('t_codes') < pg_relation_size('t_half') AS codes_smaller;
DROP INDEX t_half, t_codes;

-- Options: bits needs rabitq, 1 to 8; rabitq is for the float classes.
CREATE INDEX ON t USING hnsw (v vector_l2_ops) WITH (bits = 4);
CREATE INDEX ON t USING hnsw (v vector_l2_ops) WITH (quantization = half, bits = 4);
CREATE INDEX ON t USING hnsw (v vector_l2_ops) WITH (quantization = rabitq, bits = 0);
CREATE INDEX ON t USING hnsw (v vector_l2_ops) WITH (quantization = rabitq, bits = 9);
CREATE INDEX ON t USING hnsw (v vector_l1_ops) WITH (quantization = rabitq);
CREATE TABLE b (id int, v bit(64));
INSERT INTO b SELECT i, (random() * 1e9)::bigint::bit(64) FROM generate_series(1, 100) i;
CREATE INDEX ON b USING hnsw (v bit_hamming_ops) WITH (quantization = rabitq);
-- An unlogged table's index (its init fork is a code index too).
CREATE UNLOGGED TABLE u (id int, v vector(64));
CREATE INDEX u_idx ON u USING hnsw (v vector_cosine_ops) WITH (quantization = rabitq);
INSERT INTO u SELECT id, v FROM t WHERE id <= 100;
SELECT count(*) FROM (SELECT id FROM u ORDER BY v <=> (SELECT v FROM queries WHERE id = 1)) s;

-- Dimensions: 3,072 and 16,000 with codes (beyond 2,000 without them).
CREATE TABLE big (id int, v vector(3072));
CREATE INDEX ON big USING hnsw (v vector_l2_ops);
CREATE INDEX ON big USING hnsw (v vector_l2_ops) WITH (quantization = half);
INSERT INTO big SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 3072) WHERE i > 0)::vector(3072)
  FROM generate_series(1, 200) i;
CREATE INDEX big_idx ON big USING hnsw (v vector_cosine_ops) WITH (quantization = rabitq);
SELECT ARRAY(SELECT id FROM big ORDER BY v <=> (SELECT v FROM big WHERE id = 7) LIMIT 5)
     = ARRAY(SELECT id FROM big ORDER BY (v <=> (SELECT v FROM big WHERE id = 7)) + 0, id LIMIT 5) AS exact_top5;
CREATE TABLE huge (id int, v vector(16000), h halfvec(16000));
CREATE INDEX ON huge USING hnsw (v vector_l2_ops) WITH (quantization = rabitq, bits = 8);
INSERT INTO huge SELECT i, v, v::halfvec(16000) FROM (
  SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16000) WHERE i > 0)::vector(16000) AS v
  FROM generate_series(1, 40) i) s;
CREATE INDEX huge_idx ON huge USING hnsw (v vector_l2_ops) WITH (quantization = rabitq);
CREATE INDEX huge_h_idx ON huge USING hnsw (h halfvec_ip_ops) WITH (quantization = rabitq, bits = 1);
SELECT ARRAY(SELECT id FROM huge ORDER BY v <-> (SELECT v FROM huge WHERE id = 3) LIMIT 5)
     = ARRAY(SELECT id FROM huge ORDER BY (v <-> (SELECT v FROM huge WHERE id = 3)) + 0, id LIMIT 5) AS exact_top5;
SELECT ARRAY(SELECT id FROM huge ORDER BY h <#> (SELECT h FROM huge WHERE id = 3) LIMIT 5)
     = ARRAY(SELECT id FROM huge ORDER BY (h <#> (SELECT h FROM huge WHERE id = 3)) + 0, id LIMIT 5) AS exact_top5_halfvec;

RESET hnsw.ef_search;
RESET enable_seqscan;
DROP SCHEMA hnsw_rabitq_test CASCADE;
