-- ivfflat: every operator class, build paths, options, GUCs, inserts, vacuum, scans.
-- Builds are deterministic (seeded sample and k-means), and with
-- ivfflat.probes = lists a scan reads every list, so it must return exactly
-- what exact search returns.
-- Its own schema, so that tables other tests leave behind cannot collide.
CREATE SCHEMA ivfflat_test;
SET search_path = ivfflat_test, public;
SELECT setseed(0.42);
CREATE TABLE t (id int PRIMARY KEY, v vector(4), h halfvec(4), b bit(16));
INSERT INTO t SELECT i, v, v::halfvec(4), b FROM (
  SELECT i, ARRAY[random() - 0.5, random() - 0.5, random() - 0.5, random() - 0.5]::vector(4) AS v,
         (random() * 65535)::int::bit(16) AS b
  FROM generate_series(1, 1000) i) s;
CREATE TABLE queries (id int, v vector(4), h halfvec(4), b bit(16));
INSERT INTO queries SELECT i, v, v::halfvec(4), b FROM (
  SELECT i, ARRAY[random() - 0.5, random() - 0.5, random() - 0.5, random() - 0.5]::vector(4) AS v,
         (random() * 65535)::int::bit(16) AS b
  FROM generate_series(1, 5) i) s;
SET enable_seqscan = off;
SET ivfflat.probes = 10;

-- vector_l2_ops (the default class)
CREATE INDEX t_idx ON t USING ivfflat (v) WITH (lists = 10);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 5;
SELECT id FROM t ORDER BY v <-> (SELECT v FROM queries WHERE id = 1) LIMIT 5;
SELECT q.id, ARRAY(SELECT t.id FROM t ORDER BY t.v <-> q.v LIMIT 10)
     = ARRAY(SELECT t.id FROM t ORDER BY (t.v <-> q.v) + 0, t.id LIMIT 10) AS exact
FROM queries q ORDER BY q.id;
DROP INDEX t_idx;

-- vector_ip_ops
CREATE INDEX t_idx ON t USING ivfflat (v vector_ip_ops) WITH (lists = 10);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <#> '[0,0,0,0]' LIMIT 5;
SELECT q.id, ARRAY(SELECT t.id FROM t ORDER BY t.v <#> q.v LIMIT 10)
     = ARRAY(SELECT t.id FROM t ORDER BY (t.v <#> q.v) + 0, t.id LIMIT 10) AS exact
FROM queries q ORDER BY q.id;
DROP INDEX t_idx;

-- vector_cosine_ops (half-precision storage by default, rows rechecked by
-- the executor), and with full precision
CREATE INDEX t_idx ON t USING ivfflat (v vector_cosine_ops) WITH (lists = 10);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <=> '[1,0,0,0]' LIMIT 5;
SELECT q.id, ARRAY(SELECT t.id FROM t ORDER BY t.v <=> q.v LIMIT 10)
     = ARRAY(SELECT t.id FROM t ORDER BY (t.v <=> q.v) + 0, t.id LIMIT 10) AS exact
FROM queries q ORDER BY q.id;
DROP INDEX t_idx;
CREATE INDEX t_idx ON t USING ivfflat (v vector_cosine_ops) WITH (lists = 10, quantization = none);
SELECT q.id, ARRAY(SELECT t.id FROM t ORDER BY t.v <=> q.v LIMIT 10)
     = ARRAY(SELECT t.id FROM t ORDER BY (t.v <=> q.v) + 0, t.id LIMIT 10) AS exact
FROM queries q ORDER BY q.id;
DROP INDEX t_idx;
-- exact order where half precision cannot tell rows apart (angles 0.002
-- rad apart), also for rows inserted after the build
CREATE TABLE arc (id int, v vector(2));
INSERT INTO arc SELECT i, ARRAY[cos(i * 0.002), sin(i * 0.002)] FROM generate_series(0, 199) i;
CREATE INDEX arc_idx ON arc USING ivfflat (v vector_cosine_ops) WITH (lists = 4);
INSERT INTO arc SELECT i, ARRAY[cos(i * 0.002), sin(i * 0.002)] FROM generate_series(200, 299) i;
SET ivfflat.probes = 4;
SELECT array_agg(id) = array_agg(id ORDER BY id) AS exact_order, count(*)
FROM (SELECT id FROM arc ORDER BY v <=> '[1,0]' LIMIT 250) s;
SET ivfflat.probes = 10;
DROP TABLE arc;
-- L2 and inner product: half precision on request, bounds from the largest
-- stored norm (raised by inserts); points 0.004 apart where f16's spacing
-- is 0.0078
CREATE TABLE line (id int, v vector(2));
INSERT INTO line SELECT i, ARRAY[10 + i * 0.004, 5] FROM generate_series(0, 299) i;
CREATE INDEX line_l2 ON line USING ivfflat (v vector_l2_ops) WITH (lists = 3, quantization = half);
CREATE INDEX line_ip ON line USING ivfflat (v vector_ip_ops) WITH (lists = 3, quantization = half);
SET ivfflat.probes = 3;
SELECT array_agg(id) = array_agg(id ORDER BY id) AS exact_order, count(*)
FROM (SELECT id FROM line ORDER BY v <-> '[9,5]' LIMIT 100) s;
SELECT array_agg(id) = array_agg(id ORDER BY id DESC) AS exact_order, count(*)
FROM (SELECT id FROM line ORDER BY v <#> '[1,0.001]' LIMIT 100) s;
INSERT INTO line VALUES (1000, '[3000,50]'), (1001, '[-2999,7]');
SELECT id FROM line ORDER BY v <#> '[1,0]' LIMIT 1;
SELECT id FROM line ORDER BY v <-> '[-3000,0]' LIMIT 1;
INSERT INTO line VALUES (1002, '[70000,1]');
CREATE INDEX ON line USING ivfflat ((v::halfvec(2)) halfvec_l2_ops) WITH (quantization = half);
SET ivfflat.probes = 10;
DROP TABLE line;

-- halfvec_l2_ops, halfvec_ip_ops, halfvec_cosine_ops
CREATE INDEX t_idx ON t USING ivfflat (h halfvec_l2_ops) WITH (lists = 10);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY h <-> '[0,0,0,0]' LIMIT 5;
SELECT q.id, ARRAY(SELECT t.id FROM t ORDER BY t.h <-> q.h LIMIT 10)
     = ARRAY(SELECT t.id FROM t ORDER BY (t.h <-> q.h) + 0, t.id LIMIT 10) AS exact
FROM queries q ORDER BY q.id;
DROP INDEX t_idx;
CREATE INDEX t_idx ON t USING ivfflat (h halfvec_ip_ops) WITH (lists = 10);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY h <#> '[0,0,0,0]' LIMIT 5;
SELECT q.id, ARRAY(SELECT t.id FROM t ORDER BY t.h <#> q.h LIMIT 10)
     = ARRAY(SELECT t.id FROM t ORDER BY (t.h <#> q.h) + 0, t.id LIMIT 10) AS exact
FROM queries q ORDER BY q.id;
DROP INDEX t_idx;
CREATE INDEX t_idx ON t USING ivfflat (h halfvec_cosine_ops) WITH (lists = 10);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY h <=> '[1,0,0,0]' LIMIT 5;
-- halfvec cosine payloads are kept as they are and compared with the
-- operator's own kernel (normalising into halfvec would round near-ties apart)
SELECT q.id, ARRAY(SELECT t.id FROM t ORDER BY t.h <=> q.h LIMIT 10)
     = ARRAY(SELECT t.id FROM t ORDER BY (t.h <=> q.h) + 0, t.id LIMIT 10) AS exact
FROM queries q ORDER BY q.id;
DROP INDEX t_idx;

-- bit_hamming_ops: integer distances tie often; both sides break ties by
-- heap order, which is id order in this insert-only table.
CREATE INDEX t_idx ON t USING ivfflat (b bit_hamming_ops) WITH (lists = 10);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY b <~> B'0000000000000000' LIMIT 5;
SELECT q.id, ARRAY(SELECT t.id FROM t ORDER BY t.b <~> q.b LIMIT 10)
     = ARRAY(SELECT t.id FROM t ORDER BY (t.b <~> q.b) + 0, t.id LIMIT 10) AS exact
FROM queries q ORDER BY q.id;
DROP INDEX t_idx;

-- fewer probes read fewer lists: never more rows than all lists hold
CREATE INDEX t_idx ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10);
SET ivfflat.probes = 1;
SELECT count(*) < 1000 AS partial FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 1000) s;
SET ivfflat.probes = 100;  -- more probes than lists: every list
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 1000) s;

-- iterative scans: a filter keeps only 1 row in 20, so one list (about 100
-- rows) cannot supply 20 of them; relaxed_order reads more lists
SET ivfflat.probes = 1;
SELECT count(*) < 20 AS too_few FROM (SELECT id FROM t WHERE id % 20 = 0 ORDER BY v <-> '[0,0,0,0]' LIMIT 20) s;
SET ivfflat.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM t WHERE id % 20 = 0 ORDER BY v <-> '[0,0,0,0]' LIMIT 20) s;
-- ... and, asked for all 50 filtered rows, reads every list and returns them
-- all. Only in relaxed order (each batch of lists is sorted on its own), so
-- re-sort them: "+ 0" keeps the planner from trusting the index's order.
SELECT ARRAY(SELECT id FROM (SELECT id, v <-> '[0,0,0,0]' AS d FROM t WHERE id % 20 = 0 ORDER BY v <-> '[0,0,0,0]' LIMIT 50) s ORDER BY d + 0, id)
     = ARRAY(SELECT id FROM t WHERE id % 20 = 0 ORDER BY (v <-> '[0,0,0,0]') + 0, id LIMIT 50) AS exact;
SET ivfflat.max_probes = 1;
SELECT count(*) < 20 AS too_few FROM (SELECT id FROM t WHERE id % 20 = 0 ORDER BY v <-> '[0,0,0,0]' LIMIT 20) s;
RESET ivfflat.max_probes;
RESET ivfflat.iterative_scan;
-- scans are counted in the statistics
SELECT pg_stat_force_next_flush();
SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 't_idx';

-- inserts after the build, NULLs skipped, delete + VACUUM
SET ivfflat.probes = 10;
INSERT INTO t (id, v) VALUES (1001, '[0.01,0.01,0.01,0.01]'), (1002, NULL), (1003, '[0,0,0,0]');
SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 3;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 2000) s;
DELETE FROM t WHERE id % 2 = 0;
VACUUM t;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 2000) s;
SELECT q.id, ARRAY(SELECT t.id FROM t ORDER BY t.v <-> q.v LIMIT 10)
     = ARRAY(SELECT t.id FROM t ORDER BY (t.v <-> q.v) + 0, t.id LIMIT 10) AS exact
FROM queries q ORDER BY q.id;
-- freed space is reused by inserts
INSERT INTO t (id, v) SELECT i, ARRAY[random() - 0.5, random() - 0.5, random() - 0.5, random() - 0.5]::vector(4)
  FROM generate_series(2001, 2500) i;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 2000) s;
-- a NULL query returns rows (in list order; the distance is NULL)
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> NULL LIMIT 5) s;
-- query dimensions must match
SELECT id FROM t ORDER BY v <-> '[1,2,3]' LIMIT 1;
DROP INDEX t_idx;

-- cosine: zero vectors are not indexed; a zero query is equally far from everything
CREATE TABLE c (id int, v vector(2));
INSERT INTO c VALUES (1, '[1,0]'), (2, '[0,1]'), (3, '[0,0]'), (4, '[1,1]'), (5, '[-1,0.1]');
CREATE INDEX ON c USING ivfflat (v vector_cosine_ops) WITH (lists = 2);
SET ivfflat.probes = 2;
SELECT id FROM c ORDER BY v <=> '[1,0.1]' LIMIT 10;
INSERT INTO c VALUES (6, '[0,0]'), (7, '[2,0.1]');
SELECT id FROM c ORDER BY v <=> '[1,0.1]' LIMIT 10;
SELECT count(*) FROM (SELECT id FROM c ORDER BY v <=> '[0,0]' LIMIT 10) s;
DROP TABLE c;

-- little data: fewer rows than lists, and an empty table that fills later
CREATE TABLE s (id int, v vector(2));
INSERT INTO s VALUES (1, '[1,1]'), (2, '[2,2]'), (3, '[3,3]');
CREATE INDEX ON s USING ivfflat (v) WITH (lists = 5);
SET ivfflat.probes = 5;
SELECT id FROM s ORDER BY v <-> '[2.1,2.1]' LIMIT 10;
DROP TABLE s;
CREATE TABLE e (id int, v vector(2));
CREATE INDEX ON e USING ivfflat (v) WITH (lists = 4);
INSERT INTO e SELECT i, ARRAY[i, i % 7]::real[] FROM generate_series(1, 100) i;
SET ivfflat.probes = 4;
SELECT ARRAY(SELECT id FROM e ORDER BY v <-> '[50,3]' LIMIT 10)
     = ARRAY(SELECT id FROM e ORDER BY (v <-> '[50,3]') + 0, id LIMIT 10) AS exact;
DROP TABLE e;

-- expression index and partial index
SET ivfflat.probes = 10;
CREATE INDEX t_expr ON t USING ivfflat ((v::halfvec(4)) halfvec_l2_ops) WITH (lists = 10);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v::halfvec(4) <-> '[0,0,0,0]' LIMIT 5;
SELECT ARRAY(SELECT id FROM t ORDER BY v::halfvec(4) <-> '[0.1,0.2,0.3,0.4]' LIMIT 10)
     = ARRAY(SELECT id FROM t ORDER BY (v::halfvec(4) <-> '[0.1,0.2,0.3,0.4]') + 0, id LIMIT 10) AS exact;
DROP INDEX t_expr;
-- (rows added after the first load have no halfvec value)
CREATE INDEX t_part ON t USING ivfflat (v) WITH (lists = 10) WHERE h IS NOT NULL;
EXPLAIN (COSTS OFF) SELECT id FROM t WHERE h IS NOT NULL ORDER BY v <-> '[0,0,0,0]' LIMIT 5;
SELECT ARRAY(SELECT id FROM t WHERE h IS NOT NULL ORDER BY v <-> '[0.1,0.2,0.3,0.4]' LIMIT 10)
     = ARRAY(SELECT id FROM t WHERE h IS NOT NULL ORDER BY (v <-> '[0.1,0.2,0.3,0.4]') + 0, id LIMIT 10) AS exact;
SELECT count(*) FROM (SELECT id FROM t WHERE h IS NOT NULL ORDER BY v <-> '[0,0,0,0]' LIMIT 2000) s;
DROP INDEX t_part;

-- CREATE INDEX CONCURRENTLY (its validation pass bulk-deletes nothing but
-- must see every TID) and REINDEX, plain and concurrent
CREATE INDEX CONCURRENTLY t_conc ON t USING ivfflat (v) WITH (lists = 10);
SELECT ARRAY(SELECT id FROM t ORDER BY v <-> '[0.1,0.2,0.3,0.4]' LIMIT 10)
     = ARRAY(SELECT id FROM t ORDER BY (v <-> '[0.1,0.2,0.3,0.4]') + 0, id LIMIT 10) AS exact;
REINDEX INDEX t_conc;
REINDEX INDEX CONCURRENTLY t_conc;
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 2000) s;
DROP INDEX t_conc;

-- unlogged table (the init fork is built by ambuildempty)
CREATE UNLOGGED TABLE u (id int, v vector(2));
INSERT INTO u SELECT i, ARRAY[i, -i]::real[] FROM generate_series(1, 50) i;
CREATE INDEX ON u USING ivfflat (v) WITH (lists = 2);
SET ivfflat.probes = 2;
SELECT id FROM u ORDER BY v <-> '[10,-10]' LIMIT 3;
DROP TABLE u;

-- options, GUCs and limits
CREATE INDEX ON t USING ivfflat (v) WITH (lists = 0);
CREATE INDEX ON t USING ivfflat (v) WITH (lists = 32769);
CREATE INDEX ON t USING ivfflat (v) WITH (lists = 'many');
CREATE INDEX ON t USING ivfflat (v) WITH (m = 16);
SET ivfflat.probes = 0;
SET ivfflat.probes = 32769;
SET ivfflat.max_probes = 0;
SET ivfflat.iterative_scan = strict_order;
SHOW ivfflat.probes;
SHOW ivfflat.iterative_scan;
SHOW ivfflat.max_probes;
CREATE TABLE big (v vector(2001), h halfvec(4001), b bit(64001), u vector);
CREATE INDEX ON big USING ivfflat (v);
CREATE INDEX ON big USING ivfflat (h halfvec_l2_ops);
CREATE INDEX ON big USING ivfflat (b bit_hamming_ops);
CREATE INDEX ON big USING ivfflat (u);
DROP TABLE big;
CREATE TABLE sp (v sparsevec(3));
CREATE INDEX ON sp USING ivfflat (v);
DROP TABLE sp;
-- the largest dimensions build
CREATE TABLE wide (v vector(2000), b bit(64000));
INSERT INTO wide SELECT array_fill(i::real, ARRAY[2000]), repeat(i::bit(1)::text, 64000)::bit(64000) FROM generate_series(0, 1) i;
CREATE INDEX ON wide USING ivfflat (v) WITH (lists = 1);
CREATE INDEX ON wide USING ivfflat (b bit_hamming_ops) WITH (lists = 1);
-- the sample must fit in maintenance_work_mem (the message gives the full
-- sample's need, 10,000 rows here)
INSERT INTO wide (v) SELECT array_fill(i::real, ARRAY[2000]) FROM generate_series(1, 100) i;
SET maintenance_work_mem = '1MB';
CREATE INDEX ON wide USING ivfflat (v) WITH (lists = 1);
RESET maintenance_work_mem;
DROP TABLE wide;

-- the catalog: pgvector's operator classes and support functions
SELECT opc.opcname, opc.opcdefault, format_type(opc.opcintype, NULL) AS type,
       array_agg(amp.amprocnum || ':' || amp.amproc::regproc ORDER BY amp.amprocnum) AS support
FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod AND am.amname = 'ivfflat'
JOIN pg_amproc amp ON amp.amprocfamily = opc.opcfamily
GROUP BY 1, 2, 3 ORDER BY 1;

-- varbit has no fixed dimensions: refused as pgvector refuses it.
CREATE TABLE vb (v varbit(8));
CREATE INDEX ON vb USING ivfflat (v bit_hamming_ops);
DROP TABLE vb;

-- Build threads: pgvector's DEBUG line when k-means and the assignment use
-- more than the backend; the GUC lowers the count.
ALTER TABLE t SET (parallel_workers = 1);
SET client_min_messages = debug1;
SET min_parallel_table_scan_size = 0;
CREATE INDEX t_threads ON t USING ivfflat (v vector_l2_ops) WITH (lists = 4);
SET pgvector_rs.build_threads = 1;
CREATE INDEX t_threads1 ON t USING ivfflat (v vector_l2_ops) WITH (lists = 4);
RESET pgvector_rs.build_threads;
RESET min_parallel_table_scan_size;
RESET client_min_messages;
DROP INDEX t_threads, t_threads1;
ALTER TABLE t RESET (parallel_workers);

-- bit(64000) at the default maintenance_work_mem builds, as in pgvector;
-- the memory errors are pgvector's, with its figures.
CREATE TABLE wide_bits (val bit(64000));
SET maintenance_work_mem = '1MB';
CREATE INDEX ON wide_bits USING ivfflat (val bit_hamming_ops);
DROP INDEX wide_bits_val_idx;
INSERT INTO wide_bits (val) VALUES (B'0'::bit(64000));
SET maintenance_work_mem = '29MB';
CREATE INDEX ON wide_bits USING ivfflat (val bit_hamming_ops);
DROP INDEX wide_bits_val_idx;
SET maintenance_work_mem = '28MB';
CREATE INDEX ON wide_bits USING ivfflat (val bit_hamming_ops);
RESET maintenance_work_mem;
INSERT INTO wide_bits SELECT (SELECT string_agg(((i * j) % 3 = 0)::int::text, '') FROM generate_series(1, 64000) j)::bit(64000) FROM generate_series(1, 199) i;
CREATE INDEX ON wide_bits USING ivfflat (val bit_hamming_ops);
SET ivfflat.probes = 100;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT val FROM wide_bits ORDER BY val <~> (SELECT val FROM wide_bits LIMIT 1) LIMIT 1000) s;
RESET enable_seqscan;
RESET ivfflat.probes;
DROP TABLE wide_bits;

-- pgvector's cost estimate: with 5,000 rows of 384 dimensions and 5 lists
-- the planner picks the index, as it does with pgvector.
SELECT setseed(0.7);
CREATE TABLE tst (i int4, v vector(384));
INSERT INTO tst SELECT i, ARRAY(SELECT random() FROM generate_series(1, 384) WHERE i > 0) FROM generate_series(1, 5000) i;
CREATE INDEX ON tst USING ivfflat (v vector_l2_ops) WITH (lists = 5);
ANALYZE tst;
CREATE FUNCTION plan_uses(query text, idx text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        IF position(idx IN line) > 0 THEN RETURN true; END IF;
    END LOOP;
    RETURN false;
END $$;
SELECT v AS qv FROM tst WHERE i = 7 \gset
SELECT plan_uses(format('SELECT i FROM tst ORDER BY v <-> %L LIMIT 10', :'qv'), 'tst_v_idx');
SELECT plan_uses(format('SELECT i FROM tst WHERE v <-> %L < 1 ORDER BY v <-> %L LIMIT 10', :'qv', :'qv'), 'tst_v_idx');
DROP FUNCTION plan_uses(text, text);
DROP TABLE tst;

DROP TABLE t, queries;
RESET search_path;
DROP SCHEMA ivfflat_test;
