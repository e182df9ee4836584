-- ivfflat with quantization = rabitq: the lists hold RaBitQ codes (bits per
-- dimension: the bits option, 4 by default); scans report a provable lower
-- bound of each row's distance and the executor rechecks it on the heap row,
-- so rows come back in exact order with exact distances. With
-- ivfflat.probes = lists a scan reads every list, so it must return exactly
-- what exact search returns. Builds are deterministic (seeded sample,
-- k-means and rotation).
CREATE SCHEMA ivfflat_rabitq_test;
SET search_path = ivfflat_rabitq_test, public;
SELECT setseed(0.17);
CREATE TABLE t (id int PRIMARY KEY, v vector(64), h halfvec(64));
INSERT INTO t SELECT i, v, v::halfvec(64) FROM (
  SELECT i, (SELECT array_agg(random() - 0.3 + c) FROM generate_series(1, 64), (SELECT (i % 5) * 0.1 AS c) k)::vector(64) AS v
  FROM generate_series(1, 3000) i) s;
CREATE TABLE queries (id int, v vector(64), h halfvec(64));
INSERT INTO queries SELECT i, v, v::halfvec(64) FROM (
  SELECT i, (SELECT array_agg(random() - 0.3) FROM generate_series(1, 64) WHERE i > 0)::vector(64) AS v
  FROM generate_series(1, 5) i) s;
SET enable_seqscan = off;
SET ivfflat.probes = 10;

-- The index's first 20 rows equal exact search's (ids, ties between copies
-- of a vector in any order) and come in exact order (their distances).
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
-- Rows the last scan returned to the executor, which rechecked each one.
CREATE FUNCTION last_rechecked() RETURNS int LANGUAGE sql AS $$
  SELECT substring(pgvector_rs_last_scan_stats() FROM '(\d+) rows rechecked')::int $$;

-- vector_l2_ops
CREATE INDEX t_idx ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10, quantization = rabitq);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <-> '[1,2,3]' LIMIT 5;
SELECT * FROM exact_l2();
-- The rows the executor reranks: a few more than the LIMIT, not the 3000 of the table.
SELECT id FROM t ORDER BY v <-> (SELECT v FROM queries WHERE id = 1) LIMIT 10 \g /dev/null
SELECT last_rechecked() BETWEEN 10 AND 300 AS few_rechecked,
       pgvector_rs_last_scan_stats() LIKE 'index t_idx: 10 lists read, % rows returned, % rows rechecked' AS stats;
-- All 3000 rows are found once each.
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM queries WHERE id = 2)) s;
-- Inserts after the build, found in exact order (the copies of the queries first, at distance 0).
INSERT INTO t SELECT 10000 + i, v, h FROM (SELECT id AS i, v, h FROM queries) s;
INSERT INTO t SELECT 20000 + i, v, v::halfvec(64) FROM (
  SELECT i, (SELECT array_agg(random() - 0.3) FROM generate_series(1, 64) WHERE i > 0)::vector(64) AS v
  FROM generate_series(1, 300) i) s;
SELECT q.id, (SELECT t.id FROM t ORDER BY t.v <-> q.v LIMIT 1) = 10000 + q.id AS own_copy_first,
       (SELECT t.v <-> q.v FROM t ORDER BY t.v <-> q.v LIMIT 1) AS distance
FROM queries q ORDER BY q.id;
SELECT * FROM exact_l2();
-- Vacuum: a third of the rows deleted, the rest found in exact order.
DELETE FROM t WHERE id % 3 = 0;
VACUUM t;
SELECT * FROM exact_l2();
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM queries WHERE id = 2)) s;
-- Inserts after vacuum.
INSERT INTO t SELECT 30000 + i, v, h FROM (SELECT id AS i, v, h FROM queries) s;
SELECT * FROM exact_l2();
-- A rebuild on the changed rows moves the centroids; this session's scans
-- kept the old ones' rotations (per backend, checked against the centroids
-- read), and still return the exact rows.
REINDEX INDEX t_idx;
SELECT * FROM exact_l2();
-- Iterative scan with a filter: as many rows as asked for, all passing it.
SET ivfflat.iterative_scan = relaxed_order;
SET ivfflat.probes = 1;
SET ivfflat.max_probes = 10;
SELECT count(*), bool_and(id % 7 = 1) FROM (
  SELECT id FROM t WHERE id % 7 = 1 ORDER BY v <-> (SELECT v FROM queries WHERE id = 3) LIMIT 30) s;
-- With max_probes = lists every row passing the filter is reachable.
SELECT count(*) = (SELECT count(*) FROM t WHERE id % 97 = 1) AS all_filtered_rows FROM (
  SELECT id FROM t WHERE id % 97 = 1 ORDER BY v <-> (SELECT v FROM queries WHERE id = 3)) s;
RESET ivfflat.iterative_scan;
RESET ivfflat.max_probes;
SET ivfflat.probes = 10;
-- Radius: the rows within the radius, as a sequential scan finds them.
CREATE FUNCTION radius_l2(r real) RETURNS TABLE (q int, within int, same bool) LANGUAGE sql AS $$
  SELECT q.id, (SELECT count(*)::int FROM t WHERE (t.v <-> q.v) + 0 <= r),
         ARRAY(SELECT t.id FROM t WHERE t.v <<->> sphere(q.v, r) ORDER BY t.id)
       = ARRAY(SELECT t.id FROM t WHERE (t.v <-> q.v) + 0 <= r ORDER BY t.id)
  FROM queries q ORDER BY q.id $$;
EXPLAIN (COSTS OFF) SELECT id FROM t WHERE v <<->> sphere('[1,2,3]'::vector(3), 2.5);
SELECT * FROM radius_l2(2.8);
DROP INDEX t_idx;

-- vector_ip_ops, 1 and 8 bits
CREATE INDEX t_idx ON t USING ivfflat (v vector_ip_ops) WITH (lists = 10, quantization = rabitq, bits = 1);
SELECT * FROM exact_ip();
DROP INDEX t_idx;
CREATE INDEX t_idx ON t USING ivfflat (v vector_ip_ops) WITH (lists = 10, quantization = rabitq, bits = 8);
SELECT * FROM exact_ip();
DROP INDEX t_idx;

-- vector_cosine_ops
CREATE INDEX t_idx ON t USING ivfflat (v vector_cosine_ops) WITH (lists = 10, quantization = rabitq);
SELECT * FROM exact_cos();
INSERT INTO t SELECT 40000 + i, v, h FROM (
  SELECT id AS i, w AS v, w::halfvec(64) AS h
  FROM (SELECT id, (SELECT array_agg(x * 3) FROM unnest(v::real[]) x)::vector(64) AS w FROM queries) s3) s;
SELECT q.id, (SELECT t.v <=> q.v FROM t ORDER BY t.v <=> q.v LIMIT 1) < 1e-6 AS scaled_copy_first
FROM queries q ORDER BY q.id;
SELECT * FROM exact_cos();
CREATE FUNCTION radius_cos(r real) RETURNS TABLE (q int, within int, same bool) LANGUAGE sql AS $$
  SELECT q.id, (SELECT count(*)::int FROM t WHERE (t.v <=> q.v) + 0 <= r),
         ARRAY(SELECT t.id FROM t WHERE t.v <<=>> sphere(q.v, r) ORDER BY t.id)
       = ARRAY(SELECT t.id FROM t WHERE (t.v <=> q.v) + 0 <= r ORDER BY t.id)
  FROM queries q ORDER BY q.id $$;
SELECT * FROM radius_cos(0.45);
DROP INDEX t_idx;

-- halfvec_l2_ops, halfvec_ip_ops, halfvec_cosine_ops
CREATE INDEX t_idx ON t USING ivfflat (h halfvec_l2_ops) WITH (lists = 10, quantization = rabitq);
SELECT * FROM exact_h_l2();
INSERT INTO t SELECT 50000 + i, v, h FROM (SELECT id AS i, v, h FROM queries) s;
SELECT * FROM exact_h_l2();
DROP INDEX t_idx;
CREATE INDEX t_idx ON t USING ivfflat (h halfvec_ip_ops) WITH (lists = 10, quantization = rabitq, bits = 2);
SELECT * FROM exact_h_ip();
DROP INDEX t_idx;
CREATE INDEX t_idx ON t USING ivfflat (h halfvec_cosine_ops) WITH (lists = 10, quantization = rabitq);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY h <=> '[1,2,3]' LIMIT 5;
SELECT * FROM exact_h_cos();
DELETE FROM t WHERE id % 5 = 0;
VACUUM t;
SELECT * FROM exact_h_cos();
DROP INDEX t_idx;

-- Codes are smaller than half precision (64 dimensions: 48-byte 4-bit codes
-- and 24-byte 1-bit codes against 128-byte halves per row).
CREATE INDEX t_half ON t USING ivfflat (v vector_cosine_ops) WITH (lists = 10, quantization = half);
CREATE INDEX t_codes ON t USING ivfflat (v vector_cosine_ops) WITH (lists = 10, quantization = rabitq);
CREATE INDEX t_codes1 ON t USING ivfflat (v vector_cosine_ops) WITH (lists = 10, quantization = rabitq, bits = 1);
SELECT pg_relation_size('t_codes') < 0.6 * pg_relation_size('t_half') AS codes_smaller,
       pg_relation_size('t_codes1') < pg_relation_size('t_codes') AS one_bit_smaller;
DROP INDEX t_codes1;
-- The build calibrated the index for recall targets.
SELECT split_part(pgvector_rs_calibration('t_codes'), E'\n', 1) LIKE 'calibrated probes at recall@k%' AS calibrated;
DROP INDEX t_half, t_codes;

-- Options: bits needs rabitq, 1 to 8; rabitq is for ivfflat's float classes.
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10, bits = 4);
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10, quantization = half, bits = 4);
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10, quantization = rabitq, bits = 0);
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10, quantization = rabitq, bits = 9);
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10, quantization = rabitq4);
CREATE INDEX ON t USING hnsw (v vector_l2_ops) WITH (quantization = rabitq);
CREATE TABLE b (id int, v bit(64));
INSERT INTO b SELECT i, (random() * 1e9)::bigint::bit(64) FROM generate_series(1, 100) i;
CREATE INDEX ON b USING ivfflat (v bit_hamming_ops) WITH (lists = 2, quantization = rabitq);
CREATE INDEX t_idx ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10);
ALTER INDEX t_idx SET (bits = 2);
DROP INDEX t_idx;
-- An unlogged table's index (its init fork is a code index too).
CREATE UNLOGGED TABLE u (id int, v vector(64));
CREATE INDEX u_idx ON u USING ivfflat (v vector_cosine_ops) WITH (lists = 3, quantization = rabitq);
INSERT INTO u SELECT id, v FROM t WHERE id <= 100;
SELECT count(*) FROM (SELECT id FROM u ORDER BY v <=> (SELECT v FROM queries WHERE id = 1)) s;

RESET ivfflat.probes;
RESET enable_seqscan;
DROP SCHEMA ivfflat_rabitq_test CASCADE;
