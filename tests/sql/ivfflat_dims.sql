-- ivfflat with quantization = rabitq beyond pgvector's dimension limits
-- (2,000 for vector, 4,000 for halfvec): vector and halfvec columns up to
-- 16,000 dimensions. The lists hold codes (16 + dims × bits / 8 bytes: 8,016
-- at 16,000 dimensions and 4 bits), the f32 centroids span pages (format
-- version 3). With ivfflat.probes = lists a scan reads every list, so its
-- rows must be exactly those of exact search, in exact order.
CREATE SCHEMA ivfflat_dims_test;
SET search_path = ivfflat_dims_test, public;
SELECT setseed(0.29);
SET enable_seqscan = off;
SET ivfflat.probes = 4;

-- The index's first 10 rows for each query equal exact search's (ids, ties
-- in any order) and come in exact order (their distances).
CREATE FUNCTION exact(tab text, queries text, col text, op text)
RETURNS TABLE (q int, same_ids bool, same_distances bool) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format($f$
    SELECT q.id,
           ARRAY(SELECT id FROM (SELECT t.id, t.%3$I %4$s q.%3$I AS d FROM %1$I t
                                 ORDER BY t.%3$I %4$s q.%3$I LIMIT 10) s ORDER BY d, id)
         = ARRAY(SELECT t.id FROM %1$I t ORDER BY (t.%3$I %4$s q.%3$I) + 0, t.id LIMIT 10),
           ARRAY(SELECT t.%3$I %4$s q.%3$I FROM %1$I t ORDER BY t.%3$I %4$s q.%3$I LIMIT 10)
         = ARRAY(SELECT t.%3$I %4$s q.%3$I FROM %1$I t ORDER BY (t.%3$I %4$s q.%3$I) + 0, t.id LIMIT 10)
    FROM %2$I q ORDER BY q.id $f$, tab, queries, col, op);
END $$;

-- 3,072 dimensions (centroids of two pages), 300 rows around 4 centres.
CREATE TABLE t3 (id int PRIMARY KEY, v vector(3072), h halfvec(3072));
INSERT INTO t3 SELECT i, v, v::halfvec(3072) FROM (
  SELECT i, (SELECT array_agg(random() - 0.5 + c) FROM generate_series(1, 3072), (SELECT (i % 4) * 0.05 AS c) k)::vector(3072) AS v
  FROM generate_series(1, 300) i) s;
CREATE TABLE q3 (id int, v vector(3072), h halfvec(3072));
INSERT INTO q3 SELECT i, v, v::halfvec(3072) FROM (
  SELECT i, (SELECT array_agg(random() - 0.45) FROM generate_series(1, 3072) WHERE i > 0)::vector(3072) AS v
  FROM generate_series(1, 3) i) s;

-- Without codes, pgvector's limit and message, and a hint (half precision
-- takes vector columns up to 4,000 dimensions).
CREATE INDEX ON t3 USING ivfflat (v vector_l2_ops) WITH (lists = 4);
CREATE INDEX ON t3 USING ivfflat (v vector_cosine_ops) WITH (lists = 4, quantization = none);

-- vector_l2_ops: build, insert, delete and VACUUM.
CREATE INDEX t3_v ON t3 USING ivfflat (v vector_l2_ops) WITH (lists = 4, quantization = rabitq);
EXPLAIN (COSTS OFF) SELECT id FROM t3 ORDER BY v <-> (SELECT v FROM q3 WHERE id = 1) LIMIT 10;
SELECT * FROM exact('t3', 'q3', 'v', '<->');
SELECT pgvector_rs_last_scan_stats() LIKE 'index t3_v: 4 lists read, % rows returned, % rows rechecked' AS stats;
-- Each scan logs the same at DEBUG1.
SET client_min_messages = debug1;
SELECT id FROM t3 ORDER BY v <-> (SELECT v FROM q3 WHERE id = 1) LIMIT 1 \g /dev/null
RESET client_min_messages;
-- Copies of the queries inserted after the build come first, at distance 0.
INSERT INTO t3 SELECT 1000 + id, v, h FROM q3;
SELECT q.id, (SELECT t.id FROM t3 t ORDER BY t.v <-> q.v LIMIT 1) = 1000 + q.id AS own_copy_first,
       (SELECT t.v <-> q.v FROM t3 t ORDER BY t.v <-> q.v LIMIT 1) AS distance
FROM q3 q ORDER BY q.id;
SELECT * FROM exact('t3', 'q3', 'v', '<->');
DELETE FROM t3 WHERE id % 3 = 0;
VACUUM t3;
SELECT * FROM exact('t3', 'q3', 'v', '<->');
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM t3 ORDER BY v <-> (SELECT v FROM q3 WHERE id = 2)) s;
DROP INDEX t3_v;
-- vector_ip_ops (8 bits: 3,088-byte codes) and vector_cosine_ops.
CREATE INDEX t3_v ON t3 USING ivfflat (v vector_ip_ops) WITH (lists = 4, quantization = rabitq, bits = 8);
SELECT * FROM exact('t3', 'q3', 'v', '<#>');
DROP INDEX t3_v;
CREATE INDEX t3_v ON t3 USING ivfflat (v vector_cosine_ops) WITH (lists = 4, quantization = rabitq);
SELECT * FROM exact('t3', 'q3', 'v', '<=>');
DROP INDEX t3_v;
-- halfvec (within pgvector's 4,000, stored as codes).
CREATE INDEX t3_h ON t3 USING ivfflat (h halfvec_l2_ops) WITH (lists = 4, quantization = rabitq);
SELECT * FROM exact('t3', 'q3', 'h', '<->');
DROP INDEX t3_h;
CREATE INDEX t3_h ON t3 USING ivfflat (h halfvec_cosine_ops) WITH (lists = 4, quantization = rabitq, bits = 2);
SELECT * FROM exact('t3', 'q3', 'h', '<=>');
DROP INDEX t3_h;

-- 16,000 dimensions (centroids of eight pages), 120 rows.
CREATE TABLE t16 (id int PRIMARY KEY, v vector(16000), h halfvec(16000));
INSERT INTO t16 SELECT i, v, v::halfvec(16000) FROM (
  SELECT i, (SELECT array_agg(random() - 0.5 + c) FROM generate_series(1, 16000), (SELECT (i % 3) * 0.02 AS c) k)::vector(16000) AS v
  FROM generate_series(1, 120) i) s;
CREATE TABLE q16 (id int, v vector(16000), h halfvec(16000));
INSERT INTO q16 SELECT i, v, v::halfvec(16000) FROM (
  SELECT i, (SELECT array_agg(random() - 0.48) FROM generate_series(1, 16000) WHERE i > 0)::vector(16000) AS v
  FROM generate_series(1, 3) i) s;

-- Without codes: pgvector's limits (2,000 for vector, 4,000 for halfvec and
-- for vector in half precision, the default under cosine) with the hint.
CREATE INDEX ON t16 USING ivfflat (v vector_l2_ops) WITH (lists = 4);
CREATE INDEX ON t16 USING ivfflat (v vector_cosine_ops) WITH (lists = 4);
CREATE INDEX ON t16 USING ivfflat (h halfvec_l2_ops) WITH (lists = 4);
-- Codes of more than 4 bits per dimension do not fit a page at 16,000 dimensions.
CREATE INDEX ON t16 USING ivfflat (v vector_l2_ops) WITH (lists = 4, quantization = rabitq, bits = 5);
CREATE INDEX ON t16 USING ivfflat (h halfvec_l2_ops) WITH (lists = 4, quantization = rabitq, bits = 8);
-- bit columns have no codes: pgvector's message alone.
CREATE TABLE b (v bit(64001));
CREATE INDEX ON b USING ivfflat (v bit_hamming_ops);
DROP TABLE b;
-- The sample k-means trains on stays within maintenance_work_mem.
SET maintenance_work_mem = '1MB';
CREATE INDEX ON t16 USING ivfflat (v vector_l2_ops) WITH (lists = 4, quantization = rabitq);
RESET maintenance_work_mem;

-- vector_l2_ops at 4 bits (the default): build, insert, delete and VACUUM.
CREATE INDEX t16_v ON t16 USING ivfflat (v vector_l2_ops) WITH (lists = 4, quantization = rabitq);
EXPLAIN (COSTS OFF) SELECT id FROM t16 ORDER BY v <-> (SELECT v FROM q16 WHERE id = 1) LIMIT 10;
SELECT * FROM exact('t16', 'q16', 'v', '<->');
INSERT INTO t16 SELECT 1000 + id, v, h FROM q16;
SELECT q.id, (SELECT t.id FROM t16 t ORDER BY t.v <-> q.v LIMIT 1) = 1000 + q.id AS own_copy_first,
       (SELECT t.v <-> q.v FROM t16 t ORDER BY t.v <-> q.v LIMIT 1) AS distance
FROM q16 q ORDER BY q.id;
SELECT * FROM exact('t16', 'q16', 'v', '<->');
DELETE FROM t16 WHERE id % 3 = 0;
VACUUM t16;
SELECT * FROM exact('t16', 'q16', 'v', '<->');
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM t16 ORDER BY v <-> (SELECT v FROM q16 WHERE id = 2)) s;
-- A meta page, four centroids of 8 pages each, and one 8,016-byte code per
-- list page (123 rows inserted): 1.2 MiB against the vectors' 7.5 MiB.
SELECT pg_relation_size('t16_v') / 8192 AS pages;
-- An iterative scan with a filter finds every row that passes it.
SET ivfflat.iterative_scan = relaxed_order;
SET ivfflat.probes = 1;
SELECT count(*) = (SELECT count(*) FROM t16 WHERE id % 5 = 1) AS all_filtered_rows FROM (
  SELECT id FROM t16 WHERE id % 5 = 1 ORDER BY v <-> (SELECT v FROM q16 WHERE id = 3)) s;
RESET ivfflat.iterative_scan;
SET ivfflat.probes = 4;
DROP INDEX t16_v;
-- vector_ip_ops at 1 bit, vector_cosine_ops.
CREATE INDEX t16_v ON t16 USING ivfflat (v vector_ip_ops) WITH (lists = 4, quantization = rabitq, bits = 1);
SELECT * FROM exact('t16', 'q16', 'v', '<#>');
DROP INDEX t16_v;
CREATE INDEX t16_v ON t16 USING ivfflat (v vector_cosine_ops) WITH (lists = 4, quantization = rabitq);
SELECT * FROM exact('t16', 'q16', 'v', '<=>');
DROP INDEX t16_v;
-- halfvec(16000): l2 with an insert after the build, cosine.
CREATE INDEX t16_h ON t16 USING ivfflat (h halfvec_l2_ops) WITH (lists = 4, quantization = rabitq);
SELECT * FROM exact('t16', 'q16', 'h', '<->');
INSERT INTO t16 SELECT 2000 + id, v, h FROM q16;
SELECT * FROM exact('t16', 'q16', 'h', '<->');
DROP INDEX t16_h;
CREATE INDEX t16_h ON t16 USING ivfflat (h halfvec_cosine_ops) WITH (lists = 4, quantization = rabitq, bits = 3);
SELECT * FROM exact('t16', 'q16', 'h', '<=>');
DROP INDEX t16_h;
-- An unlogged table's index (its init fork's centroids span pages too).
CREATE UNLOGGED TABLE u16 (id int, v vector(16000));
CREATE INDEX u16_v ON u16 USING ivfflat (v vector_cosine_ops) WITH (lists = 2, quantization = rabitq);
INSERT INTO u16 SELECT id, v FROM t16 WHERE id <= 30;
SELECT count(*) FROM (SELECT id FROM u16 ORDER BY v <=> (SELECT v FROM q16 WHERE id = 1)) s;

RESET ivfflat.probes;
RESET enable_seqscan;
DROP SCHEMA ivfflat_dims_test CASCADE;
