-- hnsw access method: every operator class against exact search, options,
-- GUCs, NULLs, expression/partial/partitioned indexes, iterative scans,
-- vacuum, duplicates, concurrent builds and reindex.
-- Its own schema, so that tables cannot collide with other suites'.
CREATE SCHEMA hnsw_test;
SET search_path = hnsw_test, public;

-- Runs `sql` (SELECT d ... ORDER BY ... LIMIT n, with d the distance) with
-- exact search and with the index; reports whether the index was used and
-- whether both return the same distances (ties may swap ids, not distances).
CREATE FUNCTION check_index(sql text, idx text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    exact float8[];
    approx float8[];
    plan text := '';
    line text;
BEGIN
    SET LOCAL enable_indexscan = off;
    SET LOCAL enable_bitmapscan = off;
    SET LOCAL enable_seqscan = on;
    EXECUTE 'SELECT array_agg(round(d::numeric, 5)) FROM (' || sql || ') s' INTO exact;
    SET LOCAL enable_indexscan = on;
    SET LOCAL enable_seqscan = off;
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || sql LOOP
        plan := plan || line || ' ';
    END LOOP;
    IF position(idx IN plan) = 0 THEN
        RETURN 'index not used: ' || plan;
    END IF;
    EXECUTE 'SELECT array_agg(round(d::numeric, 5)) FROM (' || sql || ') s' INTO approx;
    IF exact IS DISTINCT FROM approx THEN
        RETURN format('differs: exact %s index %s', exact, approx);
    END IF;
    RETURN 'ok (' || coalesce(array_length(approx, 1), 0) || ' rows)';
END
$$;

CREATE TABLE items (id int PRIMARY KEY, v vector(3), h halfvec(3), s sparsevec(5), b bit(8));
INSERT INTO items
SELECT i,
       ARRAY[sin(i), cos(i * 1.3), sin(i * 0.7) + i % 7]::vector,
       ARRAY[sin(i), cos(i * 1.3), sin(i * 0.7) + i % 7]::halfvec,
       ARRAY[sin(i), 0, cos(i * 1.3), 0, (i % 5) * 0.1]::sparsevec,
       (i * 37 % 256)::bit(8)
FROM generate_series(1, 300) i;
INSERT INTO items (id) VALUES (301);
SET hnsw.ef_search = 400;

CREATE INDEX i_v_l2 ON items USING hnsw (v vector_l2_ops);
SELECT check_index('SELECT v <-> ''[0.5,0.5,3]'' AS d FROM items ORDER BY v <-> ''[0.5,0.5,3]'' LIMIT 10', 'i_v_l2');
CREATE INDEX i_v_ip ON items USING hnsw (v vector_ip_ops);
SELECT check_index('SELECT v <#> ''[0.5,0.5,3]'' AS d FROM items ORDER BY v <#> ''[0.5,0.5,3]'' LIMIT 10', 'i_v_ip');
CREATE INDEX i_v_cos ON items USING hnsw (v vector_cosine_ops);
SELECT check_index('SELECT v <=> ''[0.5,0.5,3]'' AS d FROM items ORDER BY v <=> ''[0.5,0.5,3]'' LIMIT 10', 'i_v_cos');
CREATE INDEX i_v_l1 ON items USING hnsw (v vector_l1_ops);
SELECT check_index('SELECT v <+> ''[0.5,0.5,3]'' AS d FROM items ORDER BY v <+> ''[0.5,0.5,3]'' LIMIT 10', 'i_v_l1');

CREATE INDEX i_h_l2 ON items USING hnsw (h halfvec_l2_ops);
SELECT check_index('SELECT h <-> ''[0.5,0.5,3]'' AS d FROM items ORDER BY h <-> ''[0.5,0.5,3]'' LIMIT 10', 'i_h_l2');
CREATE INDEX i_h_ip ON items USING hnsw (h halfvec_ip_ops);
SELECT check_index('SELECT h <#> ''[0.5,0.5,3]'' AS d FROM items ORDER BY h <#> ''[0.5,0.5,3]'' LIMIT 10', 'i_h_ip');
CREATE INDEX i_h_cos ON items USING hnsw (h halfvec_cosine_ops);
SELECT check_index('SELECT h <=> ''[0.5,0.5,3]'' AS d FROM items ORDER BY h <=> ''[0.5,0.5,3]'' LIMIT 10', 'i_h_cos');
CREATE INDEX i_h_l1 ON items USING hnsw (h halfvec_l1_ops);
SELECT check_index('SELECT h <+> ''[0.5,0.5,3]'' AS d FROM items ORDER BY h <+> ''[0.5,0.5,3]'' LIMIT 10', 'i_h_l1');

CREATE INDEX i_s_l2 ON items USING hnsw (s sparsevec_l2_ops);
SELECT check_index('SELECT s <-> ''{1:0.5,3:0.5,5:0.2}/5'' AS d FROM items ORDER BY s <-> ''{1:0.5,3:0.5,5:0.2}/5'' LIMIT 10', 'i_s_l2');
CREATE INDEX i_s_ip ON items USING hnsw (s sparsevec_ip_ops);
SELECT check_index('SELECT s <#> ''{1:0.5,3:0.5,5:0.2}/5'' AS d FROM items ORDER BY s <#> ''{1:0.5,3:0.5,5:0.2}/5'' LIMIT 10', 'i_s_ip');
CREATE INDEX i_s_cos ON items USING hnsw (s sparsevec_cosine_ops);
SELECT check_index('SELECT s <=> ''{1:0.5,3:0.5,5:0.2}/5'' AS d FROM items ORDER BY s <=> ''{1:0.5,3:0.5,5:0.2}/5'' LIMIT 10', 'i_s_cos');
CREATE INDEX i_s_l1 ON items USING hnsw (s sparsevec_l1_ops);
SELECT check_index('SELECT s <+> ''{1:0.5,3:0.5,5:0.2}/5'' AS d FROM items ORDER BY s <+> ''{1:0.5,3:0.5,5:0.2}/5'' LIMIT 10', 'i_s_l1');

CREATE INDEX i_b_ham ON items USING hnsw (b bit_hamming_ops);
SELECT check_index('SELECT b <~> B''10101010'' AS d FROM items ORDER BY b <~> B''10101010'' LIMIT 10', 'i_b_ham');
CREATE INDEX i_b_jac ON items USING hnsw (b bit_jaccard_ops);
SELECT check_index('SELECT b <%> B''10101010'' AS d FROM items ORDER BY b <%> B''10101010'' LIMIT 10', 'i_b_jac');

-- Every index is consistent.
SELECT c.relname, pgvector_rs_hnsw_check(c.oid) LIKE '%is consistent%' AS consistent
FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
WHERE i.indrelid = 'items'::regclass AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'hnsw')
ORDER BY 1;
SELECT pgvector_rs_hnsw_check('items_pkey');

-- The planner uses the index for ORDER BY ... LIMIT over a big table, a
-- selective btree when there is one, and never the index without ORDER BY.
CREATE TABLE big (id int PRIMARY KEY, v vector(3));
INSERT INTO big SELECT i, ARRAY[sin(i), cos(i * 1.3), sin(i * 0.7)] FROM generate_series(1, 20000) i;
CREATE INDEX big_v ON big USING hnsw (v);
ANALYZE big;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY v <-> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM big WHERE id = 5 ORDER BY v <-> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM big WHERE v <-> '[1,2,3]' < 1;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY v <-> '[1,2,3]';
DROP TABLE big;

-- NULL query: rows come back (distance NULL), as with pgvector.
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> NULL LIMIT 5) s;
-- Wrong dimensions: the operator's error.
SELECT id FROM items ORDER BY v <-> '[1,2]' LIMIT 1;
SELECT id FROM items ORDER BY b <~> B'101' LIMIT 1;
RESET enable_seqscan;

-- Iterative scans return LIMIT rows through a selective filter.
SET hnsw.ef_search = 10;
SET enable_seqscan = off;
SELECT count(*) < 20 AS fewer FROM (SELECT id FROM items WHERE id % 10 = 0 ORDER BY v <-> '[0,0,0]' LIMIT 20) s;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM items WHERE id % 10 = 0 ORDER BY v <-> '[0,0,0]' LIMIT 20) s;
SET hnsw.iterative_scan = strict_order;
SELECT count(*), bool_and(ok) AS ordered FROM (
    SELECT d >= coalesce(lag(d) OVER (), 0) AS ok FROM (
        SELECT v <-> '[0,0,0]' AS d FROM items WHERE id % 10 = 0 ORDER BY v <-> '[0,0,0]' LIMIT 20) s) t;
SET hnsw.max_scan_tuples = 1;
SELECT count(*) < 20 AS stopped FROM (SELECT id FROM items WHERE id % 10 = 0 ORDER BY v <-> '[0,0,0]' LIMIT 20) s;
RESET hnsw.max_scan_tuples;
RESET hnsw.iterative_scan;
RESET enable_seqscan;
SET hnsw.ef_search = 400;

-- Inserts, deletes, vacuum: results stay exact and deleted rows disappear.
INSERT INTO items (id, v) SELECT i, ARRAY[sin(i), cos(i * 1.3), sin(i * 0.7) + i % 7] FROM generate_series(302, 600) i;
DELETE FROM items WHERE id % 3 = 0;
VACUUM items;
SELECT check_index('SELECT v <-> ''[0.5,0.5,3]'' AS d FROM items ORDER BY v <-> ''[0.5,0.5,3]'' LIMIT 10', 'i_v_l2');
SELECT check_index('SELECT v <=> ''[0.5,0.5,3]'' AS d FROM items ORDER BY v <=> ''[0.5,0.5,3]'' LIMIT 10', 'i_v_cos');
SET enable_seqscan = off;
SELECT count(*) AS deleted_returned FROM (SELECT id FROM items ORDER BY v <-> '[0.5,0.5,3]' LIMIT 400) s WHERE id % 3 = 0;
RESET enable_seqscan;
SELECT pgvector_rs_hnsw_check('i_v_l2') LIKE '%is consistent%' AS consistent;
-- Slots freed by vacuum are reused: the index does not grow under churn.
SELECT pg_relation_size('i_v_l2') AS size_before \gset
UPDATE items SET v = v + '[0.001,0,0]' WHERE id % 3 = 1;
VACUUM items;
UPDATE items SET v = v + '[0.001,0,0]' WHERE id % 3 = 1;
VACUUM items;
SELECT pg_relation_size('i_v_l2') <= 2 * :size_before AS bounded_growth;
SELECT check_index('SELECT v <-> ''[0.5,0.5,3]'' AS d FROM items ORDER BY v <-> ''[0.5,0.5,3]'' LIMIT 10', 'i_v_l2');

-- Duplicates: every copy is found.
CREATE TABLE dups (id int, v vector(2));
INSERT INTO dups SELECT i, '[1,1]' FROM generate_series(1, 50) i;
INSERT INTO dups SELECT i, ARRAY[i, -i] FROM generate_series(51, 100) i;
CREATE INDEX ON dups USING hnsw (v);
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM dups ORDER BY v <-> '[1,1]' LIMIT 50) s WHERE id <= 50;
INSERT INTO dups SELECT i, '[1,1]' FROM generate_series(101, 120) i;
SELECT count(*) FROM (SELECT id FROM dups ORDER BY v <-> '[1,1]' LIMIT 70) s WHERE id <= 50 OR id > 100;
RESET enable_seqscan;

-- Zero vectors cannot be ranked by cosine and are not indexed (as in pgvector).
CREATE TABLE zeros (id int, v vector(2));
INSERT INTO zeros VALUES (1, '[0,0]'), (2, '[1,0]'), (3, '[0,1]');
CREATE INDEX ON zeros USING hnsw (v vector_cosine_ops);
SET enable_seqscan = off;
SELECT id FROM zeros ORDER BY v <=> '[1,1]' LIMIT 3;
SELECT count(*) FROM (SELECT id FROM zeros ORDER BY v <=> '[0,0]' LIMIT 3) s;
RESET enable_seqscan;

-- Expression, partial and partitioned indexes.
CREATE INDEX i_expr_half ON items USING hnsw ((v::halfvec(3)) halfvec_l2_ops);
SELECT check_index('SELECT v::halfvec(3) <-> ''[0.5,0.5,3]'' AS d FROM items ORDER BY v::halfvec(3) <-> ''[0.5,0.5,3]'' LIMIT 10', 'i_expr_half');
CREATE INDEX i_expr_bits ON items USING hnsw ((binary_quantize(v)::bit(3)) bit_hamming_ops);
SELECT check_index('SELECT binary_quantize(v)::bit(3) <~> B''101'' AS d FROM items ORDER BY binary_quantize(v)::bit(3) <~> B''101'' LIMIT 10', 'i_expr_bits');
CREATE INDEX i_partial ON items USING hnsw (v vector_l1_ops) WHERE id < 100;
SELECT check_index('SELECT v <+> ''[1,1,1]'' AS d FROM items WHERE id < 100 ORDER BY v <+> ''[1,1,1]'' LIMIT 10', 'i_partial');
CREATE TABLE parts (id int, v vector(3)) PARTITION BY RANGE (id);
CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (150);
CREATE TABLE parts_2 PARTITION OF parts FOR VALUES FROM (150) TO (1000);
INSERT INTO parts SELECT id, v FROM items WHERE v IS NOT NULL;
CREATE INDEX i_parts ON parts USING hnsw (v vector_l2_ops);
SELECT check_index('SELECT v <-> ''[0.5,0.5,3]'' AS d FROM parts ORDER BY v <-> ''[0.5,0.5,3]'' LIMIT 10', 'parts_1_v_idx');

-- Concurrent builds, reindex, unlogged and temporary tables.
CREATE INDEX CONCURRENTLY i_conc ON items USING hnsw (v vector_ip_ops);
REINDEX INDEX i_conc;
REINDEX INDEX CONCURRENTLY i_conc;
SELECT check_index('SELECT v <#> ''[0.5,0.5,3]'' AS d FROM items ORDER BY v <#> ''[0.5,0.5,3]'' LIMIT 10', 'i_conc');
CREATE UNLOGGED TABLE unlogged_items (id int, v vector(3));
INSERT INTO unlogged_items SELECT id, v FROM items;
CREATE INDEX i_unlogged ON unlogged_items USING hnsw (v);
SELECT check_index('SELECT v <-> ''[0.5,0.5,3]'' AS d FROM unlogged_items ORDER BY v <-> ''[0.5,0.5,3]'' LIMIT 10', 'i_unlogged');
CREATE TEMP TABLE temp_items (id int, v vector(3));
INSERT INTO temp_items SELECT id, v FROM items;
CREATE INDEX i_temp ON temp_items USING hnsw (v);
SELECT check_index('SELECT v <-> ''[0.5,0.5,3]'' AS d FROM temp_items ORDER BY v <-> ''[0.5,0.5,3]'' LIMIT 10', 'i_temp');

-- Empty table, then inserts.
CREATE TABLE empty_items (id int, v vector(3));
CREATE INDEX i_empty ON empty_items USING hnsw (v);
SET enable_seqscan = off;
SELECT id FROM empty_items ORDER BY v <-> '[1,1,1]' LIMIT 1;
INSERT INTO empty_items VALUES (1, '[1,1,1]'), (2, '[2,2,2]');
SELECT id FROM empty_items ORDER BY v <-> '[2,2,2]' LIMIT 2;
RESET enable_seqscan;

-- Half-precision storage: vector_cosine_ops indexes store normalised halves
-- by default (quantization = auto) and report lower bounds that the executor
-- rechecks, so rows come back in exact distance order even where halves
-- cannot tell the distances apart. Angles 0.002 rad apart: neighbouring
-- distances differ by far less than f16 resolves.
CREATE TABLE arc (id int, v vector(2));
INSERT INTO arc SELECT i, ARRAY[cos(i * 0.002), sin(i * 0.002)] FROM generate_series(0, 299) i;
CREATE INDEX i_arc ON arc USING hnsw (v vector_cosine_ops);
CREATE INDEX i_arc_full ON arc USING hnsw (v vector_cosine_ops) WITH (quantization = none);
SELECT pgvector_rs_hnsw_check('i_arc') LIKE '%is consistent%' AS consistent;
SET hnsw.ef_search = 400;
SET enable_seqscan = off;
DROP INDEX i_arc_full;
SELECT array_agg(id) = array_agg(id ORDER BY id) AS exact_order, count(*)
FROM (SELECT id FROM arc ORDER BY v <=> '[1,0]' LIMIT 40) s;
SELECT bool_and(d >= prev) AS sorted FROM (
    SELECT d, lag(d, 1, 0::float8) OVER () AS prev FROM (
        SELECT v <=> '[1,0.3]' AS d FROM arc ORDER BY v <=> '[1,0.3]' LIMIT 100) s) t;
-- Default ef_search: still sorted, the nearest row first.
RESET hnsw.ef_search;
SELECT (array_agg(id))[1] AS nearest, bool_and(d >= prev) AS sorted FROM (
    SELECT id, d, lag(d, 1, 0::float8) OVER () AS prev FROM (
        SELECT id, v <=> '[1,0.1]' AS d FROM arc ORDER BY v <=> '[1,0.1]' LIMIT 30) s) t;
-- Iterative scans through a filter: LIMIT rows, in exact order for
-- strict_order.
SET hnsw.ef_search = 10;
SET hnsw.iterative_scan = strict_order;
SELECT array_agg(id) = array_agg(id ORDER BY id) AS exact_order, count(*)
FROM (SELECT id FROM arc WHERE id % 7 = 0 ORDER BY v <=> '[1,0]' LIMIT 20) s;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM arc WHERE id % 7 = 0 ORDER BY v <=> '[1,0]' LIMIT 20) s;
RESET hnsw.iterative_scan;
RESET hnsw.ef_search;
-- Inserted rows are stored the same way.
INSERT INTO arc SELECT i, ARRAY[cos(i * 0.002), sin(i * 0.002)] FROM generate_series(300, 399) i;
SET hnsw.ef_search = 500;
SELECT array_agg(id) = array_agg(id ORDER BY id) AS exact_order, count(*)
FROM (SELECT id FROM arc ORDER BY v <=> '[1,0]' LIMIT 400) s;
-- What the executor reranks (pgvector_rs_last_scan_stats()): each row a
-- half-precision scan returns comes with a lower bound, so the executor
-- rechecks it on its heap row. Without iterative scans a scan returns at
-- most ef_search rows (one per element here: no duplicates), so a LIMIT 10
-- query with ef_search = 40 reranks 10 to 40 rows, and a query without
-- LIMIT gets exactly the rows counted.
CREATE FUNCTION last_stat(what text) RETURNS bigint LANGUAGE sql AS $$
  SELECT substring(pgvector_rs_last_scan_stats() FROM '(\d+) ' || what)::bigint $$;
SET hnsw.ef_search = 40;
SELECT id FROM arc ORDER BY v <=> '[1,0.3]' LIMIT 10 \g /dev/null
SELECT pgvector_rs_last_scan_stats() LIKE 'index i_arc: % elements visited, % rows returned, % rows rechecked' AS stats,
       last_stat('rows returned') BETWEEN 10 AND 40 AS reranked_10_to_40,
       last_stat('rows rechecked') = last_stat('rows returned') AS all_rechecked,
       last_stat('elements visited') >= last_stat('rows returned') AS visited_each;
CREATE TEMP TABLE n AS SELECT count(*) AS rows FROM (SELECT id FROM arc ORDER BY v <=> '[1,0.3]') s;
SELECT rows BETWEEN 1 AND 40 AS at_most_ef_search, rows = last_stat('rows returned') AS counted,
       last_stat('rows rechecked') = rows AS all_rechecked FROM n;
-- A NULL query has nothing to rerank (every row at distance NULL; a
-- subquery, since a NULL constant is folded and the index left unused):
-- no reorder queue, so the scan returns just the LIMIT rows.
SELECT count(*) FROM (SELECT id FROM arc ORDER BY v <=> (SELECT NULL::vector) LIMIT 5) s;
SELECT last_stat('rows returned') = 5 AS returned, last_stat('rows rechecked') = 0 AS none_rechecked;
-- Exact storage: no row rechecked. Each scan logs the same at DEBUG1 (a
-- single row: its distance is computed descending and again on layer 0).
CREATE TABLE one (id int, v vector(2));
INSERT INTO one VALUES (1, '[1,0]');
CREATE INDEX i_one ON one USING hnsw (v vector_cosine_ops) WITH (quantization = none);
SELECT id FROM one ORDER BY v <=> '[1,0.3]' LIMIT 10 \g /dev/null
SELECT pgvector_rs_last_scan_stats();
CREATE INDEX i_one_half ON one USING hnsw (v vector_cosine_ops) WITH (quantization = half);
DROP INDEX i_one;
SET client_min_messages = debug1;
SELECT id FROM one ORDER BY v <=> '[1,0.3]' LIMIT 10 \g /dev/null
RESET client_min_messages;
SELECT pgvector_rs_last_scan_stats();
DROP TABLE n, one;
DROP FUNCTION last_stat(text);
RESET enable_seqscan;
RESET hnsw.ef_search;
-- Smaller than full precision even at 64 dimensions (the graph's links
-- take the same room either way); the pages, not the
-- option, decide how an existing index reads its vectors.
CREATE TABLE wide (id int, v vector(64));
INSERT INTO wide SELECT i, (SELECT array_agg(sin(i * j + j)) FROM generate_series(1, 64) j) FROM generate_series(1, 500) i;
CREATE INDEX i_wide_half ON wide USING hnsw (v vector_cosine_ops) WITH (quantization = half);
CREATE INDEX i_wide_full ON wide USING hnsw (v vector_cosine_ops) WITH (quantization = none);
SELECT pg_relation_size('i_wide_half')::float8 / pg_relation_size('i_wide_full') < 0.85 AS smaller;
ALTER INDEX i_wide_half SET (quantization = none);
SET hnsw.ef_search = 600;
SELECT check_index('SELECT v <=> (SELECT v FROM wide WHERE id = 7) AS d FROM wide ORDER BY v <=> (SELECT v FROM wide WHERE id = 7) LIMIT 10', 'i_wide_');
REINDEX INDEX i_wide_half;
SELECT pg_relation_size('i_wide_half') = pg_relation_size('i_wide_full') AS full_after_reindex;
RESET hnsw.ef_search;
-- Under L2 and inner product, half precision is asked for (auto keeps full
-- precision: the rounding error depends on the data's scale). Points on a
-- line far from the origin, closer together than f16 resolves there, still
-- come back in exact order.
CREATE INDEX i_wide_l2 ON wide USING hnsw (v vector_l2_ops) WITH (quantization = auto);
CREATE INDEX i_wide_l2_half ON wide USING hnsw (v vector_l2_ops) WITH (quantization = half);
SELECT pg_relation_size('i_wide_l2_half')::float8 / pg_relation_size('i_wide_l2') < 0.85 AS smaller;
DROP INDEX i_wide_l2_half;
SET hnsw.ef_search = 600;
SELECT check_index('SELECT v <-> (SELECT v FROM wide WHERE id = 7) AS d FROM wide ORDER BY v <-> (SELECT v FROM wide WHERE id = 7) LIMIT 10', 'i_wide_l2');
CREATE INDEX i_wide_ip ON wide USING hnsw (v vector_ip_ops) WITH (quantization = half);
SELECT check_index('SELECT v <#> (SELECT v FROM wide WHERE id = 9) AS d FROM wide ORDER BY v <#> (SELECT v FROM wide WHERE id = 9) LIMIT 10', 'i_wide_ip');
-- Points 0.004 apart where f16's spacing is 0.0078.
CREATE TABLE line (id int, v vector(2));
INSERT INTO line SELECT i, ARRAY[10 + i * 0.004, 5] FROM generate_series(0, 299) i;
CREATE INDEX i_line_l2 ON line USING hnsw (v vector_l2_ops) WITH (quantization = half);
SET enable_seqscan = off;
SELECT array_agg(id) = array_agg(id ORDER BY id) AS exact_order, count(*)
FROM (SELECT id FROM line ORDER BY v <-> '[9,5]' LIMIT 60) s;
-- Longer vectors inserted later raise the bound the index reports.
INSERT INTO line VALUES (1000, '[3000,50]');
SELECT id FROM line ORDER BY v <-> '[2999,50]' LIMIT 1;
INSERT INTO wide SELECT 1000, array_fill(100, ARRAY[64])::vector;
SELECT id FROM wide ORDER BY v <#> array_fill(1, ARRAY[64])::vector LIMIT 1;
RESET enable_seqscan;
SELECT check_index('SELECT v <-> ''[10.5,4]'' AS d FROM line ORDER BY v <-> ''[10.5,4]'' LIMIT 10', 'i_line_l2');
SELECT check_index('SELECT v <#> (SELECT v FROM wide WHERE id = 9) AS d FROM wide ORDER BY v <#> (SELECT v FROM wide WHERE id = 9) LIMIT 10', 'i_wide_ip');
SELECT pgvector_rs_hnsw_check('i_line_l2') LIKE '%is consistent%' AS consistent;
-- Beyond half precision's range: an error, not a row left out.
INSERT INTO line VALUES (1002, '[70000,1]');
CREATE TABLE big (v vector(2));
INSERT INTO big VALUES ('[1,1]'), ('[1e6,1]');
CREATE INDEX ON big USING hnsw (v vector_l2_ops) WITH (quantization = half);
CREATE INDEX i_big_cos ON big USING hnsw (v vector_cosine_ops);
RESET hnsw.ef_search;
-- L1 and other types have no half storage; other values are rejected.
CREATE INDEX ON wide USING hnsw (v vector_l1_ops) WITH (quantization = half);
CREATE INDEX ON wide USING hnsw ((v::halfvec(64)) halfvec_cosine_ops) WITH (quantization = half);
CREATE INDEX ON wide USING hnsw (v vector_l2_ops) WITH (quantization = sq8);
DROP TABLE arc, wide, line, big;
SET hnsw.ef_search = 400;

-- Options: pgvector's ranges and messages.
CREATE INDEX ON items USING hnsw (v) WITH (m = 1);
CREATE INDEX ON items USING hnsw (v) WITH (m = 101);
CREATE INDEX ON items USING hnsw (v) WITH (ef_construction = 3);
CREATE INDEX ON items USING hnsw (v) WITH (ef_construction = 1001);
CREATE INDEX ON items USING hnsw (v) WITH (m = 16, ef_construction = 31);
CREATE INDEX ON items USING hnsw (v) WITH (lists = 5);
CREATE INDEX ON items USING hnsw (v, h);
CREATE INDEX ON items USING hnsw (id);
CREATE TABLE nodims (v vector);
CREATE INDEX ON nodims USING hnsw (v);
CREATE TABLE bigdims (v vector(2001));
CREATE INDEX ON bigdims USING hnsw (v);
-- Half-precision storage indexes vectors up to halfvec's 4,000 dimensions.
CREATE TABLE widedims (id int, v vector(4000));
INSERT INTO widedims SELECT i, (SELECT array_agg(sin(i * j)) FROM generate_series(1, 4000) j) FROM generate_series(1, 30) i;
CREATE INDEX i_widedims ON widedims USING hnsw (v vector_cosine_ops);
SELECT check_index('SELECT v <=> (SELECT v FROM widedims WHERE id = 3) AS d FROM widedims ORDER BY v <=> (SELECT v FROM widedims WHERE id = 3) LIMIT 5', 'i_widedims');
CREATE INDEX ON widedims USING hnsw (v vector_cosine_ops) WITH (quantization = none);
CREATE TABLE widerdims (v vector(4001));
CREATE INDEX ON widerdims USING hnsw (v vector_cosine_ops);
DROP TABLE widedims, widerdims;
CREATE TABLE bigsparse (s sparsevec(2000));
CREATE INDEX ON bigsparse USING hnsw (s sparsevec_l2_ops);
INSERT INTO bigsparse SELECT ('{' || string_agg(i || ':1', ',') || '}/2000')::sparsevec FROM generate_series(1, 1001) i;
INSERT INTO bigsparse SELECT ('{' || string_agg(i || ':1', ',') || '}/2000')::sparsevec FROM generate_series(1, 1000) i;

-- GUCs: pgvector's names, defaults and bounds (ef_search may exceed 1000).
SHOW hnsw.ef_search;
RESET hnsw.ef_search;
SHOW hnsw.ef_search;
SHOW hnsw.iterative_scan;
SHOW hnsw.max_scan_tuples;
SHOW hnsw.scan_mem_multiplier;
SET hnsw.ef_search = 0;
SET hnsw.ef_search = 5000;
SET hnsw.ef_search = 100001;
SET hnsw.iterative_scan = on;
SET hnsw.max_scan_tuples = 0;
SET hnsw.scan_mem_multiplier = 0.5;
SET hnsw.scan_mem_multiplier = 1001;
SET hnsw.nonexistent = 1;

-- Index scans are counted in the statistics views.
SELECT pg_stat_force_next_flush();
SELECT idx_scan > 0 AS counted FROM pg_stat_user_indexes WHERE indexrelname = 'i_v_l2';

-- Builds past maintenance_work_mem say so with pgvector's NOTICE, DETAIL and HINT.
CREATE TABLE overflow (v vector(64));
INSERT INTO overflow SELECT (SELECT array_agg(((i * 31 + j * 17) % 101)::real) FROM generate_series(1, 64) j) FROM generate_series(1, 3000) i;
SET maintenance_work_mem = '1MB';
CREATE INDEX overflow_v ON overflow USING hnsw (v vector_l2_ops);
RESET maintenance_work_mem;
SELECT pgvector_rs_hnsw_check('overflow_v') LIKE '%is consistent%' AS consistent;

-- Build threads: pgvector's DEBUG line when the build uses more than the
-- backend; the table's parallel_workers and the GUC lower the count.
ALTER TABLE overflow SET (parallel_workers = 1);
SET client_min_messages = debug1;
SET min_parallel_table_scan_size = 0;
CREATE INDEX overflow_v2 ON overflow USING hnsw (v vector_l2_ops);
SET pgvector_rs.build_threads = 1;
CREATE INDEX overflow_v3 ON overflow USING hnsw (v vector_l2_ops);
RESET pgvector_rs.build_threads;
RESET min_parallel_table_scan_size;
RESET client_min_messages;
DROP TABLE overflow;

-- varbit has no fixed dimensions: refused as pgvector refuses it.
CREATE TABLE vb (v varbit(8));
CREATE INDEX ON vb USING hnsw (v bit_hamming_ops);
DROP TABLE vb;

-- The check function is not executable by PUBLIC; it holds a lock that
-- keeps VACUUM out (SHARE UPDATE EXCLUSIVE on the table) until commit.
CREATE TABLE checked (v vector(3));
INSERT INTO checked SELECT ARRAY[i, i % 5, 1] FROM generate_series(1, 50) i;
CREATE INDEX checked_v ON checked USING hnsw (v vector_l2_ops);
CREATE ROLE pgvector_rs_check_user;
GRANT USAGE ON SCHEMA hnsw_test TO pgvector_rs_check_user;
GRANT SELECT ON checked TO pgvector_rs_check_user;
SET ROLE pgvector_rs_check_user;
SELECT pgvector_rs_hnsw_check('checked_v');
RESET ROLE;
BEGIN;
SELECT pgvector_rs_hnsw_check('checked_v');
SELECT mode FROM pg_locks WHERE relation = 'checked'::regclass AND pid = pg_backend_pid() ORDER BY mode;
COMMIT;
DROP TABLE checked;
REVOKE USAGE ON SCHEMA hnsw_test FROM pgvector_rs_check_user;
DROP ROLE pgvector_rs_check_user;

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA hnsw_test CASCADE;
