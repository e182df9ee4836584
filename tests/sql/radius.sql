-- Radius search: `emb <<->> sphere(q, r)` is true when `emb <-> q <= r`
-- (`<<=>>` with `<=>`, `<<#>>` with `<#>`); hnsw and ivfflat indexes answer
-- it, alone, with ORDER BY, LIMIT and other filters, and give the same rows as
-- a sequential scan.
SET client_min_messages = warning;
CREATE SCHEMA radius_test;
SET search_path = radius_test, public;

-- The operators without an index.
SELECT '[3,4]'::vector <<->> sphere('[0,0]'::vector, 5) AS on_l2, '[3,4]'::vector <<->> sphere('[0,0]'::vector, 4.99) AS off_l2;
SELECT '[1,0]'::vector <<=>> sphere('[0,1]'::vector, 1) AS on_cos, '[1,0]'::vector <<=>> sphere('[0,1]'::vector, 0.99) AS off_cos;
SELECT '[1,2]'::vector <<#>> sphere('[1,1]'::vector, -3) AS on_ip, '[1,2]'::vector <<#>> sphere('[1,1]'::vector, -3.01) AS off_ip;
SELECT '[3,4]'::halfvec <<->> sphere('[0,0]'::halfvec, 5) AS on_half, '[3,4]'::halfvec <<->> sphere('[0,0]'::halfvec, 4.99) AS off_half;
SELECT '[1,0]'::halfvec <<=>> sphere('[0,1]'::halfvec, 1) AS on_half_cos, '[1,2]'::halfvec <<#>> sphere('[1,1]'::halfvec, -3) AS on_half_ip;
SELECT sphere('[1,2]'::vector, 0.5) AS s, pg_typeof(sphere('[1,2]'::vector, 0.5)), pg_typeof(sphere('[1,2]'::halfvec, 0.5));
SELECT '[1,2]'::vector <<->> sphere('[1,2]'::vector, NULL) AS null_radius, '[1,2]'::vector <<->> sphere(NULL::vector, 1) AS null_center,
       '[1,2]'::vector <<->> NULL::sphere_vector AS null_sphere, '[1,2]'::vector <<->> sphere('[1,2]'::vector, 'NaN') AS nan_radius;
SELECT '[1,2]'::vector <<->> sphere('[1,2,3]'::vector, 1);
-- like VectorChord's, the constructor needs a typed center
SELECT sphere('[1,2]', 1);

-- 3,000 rows of 8 dimensions; 5 queries, each with the radius of its 50th
-- nearest row (real, as the operator takes it).
CREATE TABLE t (id int PRIMARY KEY, v vector(8), h halfvec(8));
INSERT INTO t SELECT i, v, v::halfvec(8) FROM (
    SELECT i, ARRAY[sin(i), cos(i * 1.1), sin(i * 0.37), cos(i * 0.53), sin(i * 1.7),
                    cos(i * 0.29), sin(i * 2.3), cos(i * 0.71)]::vector(8) AS v
    FROM generate_series(1, 3000) i) s;
CREATE TABLE queries AS
SELECT q, ARRAY[cos(q), sin(q * 1.3), cos(q * 0.4), sin(q * 0.6), cos(q * 1.9),
                sin(q * 0.2), cos(q * 2.1), sin(q * 0.8)]::vector(8) AS v
FROM generate_series(1, 5) q;
ANALYZE t;

-- What a radius scan returned to the executor: rows kept and rows removed by
-- the recheck (a scan that did not stop at the radius returns the whole table).
CREATE FUNCTION index_rows(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE plan json; node json; total bigint := 0;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || query INTO plan;
    node := plan->0->'Plan';
    WHILE node->>'Node Type' <> 'Index Scan' LOOP
        node := node->'Plans'->0;
    END LOOP;
    RETURN (node->>'Actual Rows')::bigint + coalesce((node->>'Rows Removed by Index Recheck')::bigint, 0);
END $$;

-- checks(opclass column, distance operator, sphere operator): for every query,
-- the radius query alone, with ORDER BY, with LIMIT, with a filter, and with
-- ORDER BY another center, against the exact result; and how many rows the
-- index returned.
CREATE TABLE results (name text, ok boolean, rows_in_radius bigint, index_rows bigint, failed text[]);
CREATE FUNCTION checks(col text, dist text, sop text, label text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE qv text; other text; r real; exact int[]; exact_ordered int[]; got int[]; failed text[]; returned bigint;
BEGIN
    other := CASE WHEN col = 'h' THEN '''[1,1,1,1,1,1,1,1]''::halfvec' ELSE '''[1,1,1,1,1,1,1,1]''::vector' END;
    FOR qv IN SELECT format('%L::%s', CASE WHEN col = 'h' THEN v::halfvec(8)::text ELSE v::text END,
                            CASE WHEN col = 'h' THEN 'halfvec' ELSE 'vector' END) FROM queries ORDER BY q LOOP
        -- exact answers (no index): the radius of the 50th nearest row, the rows within
        SET LOCAL enable_indexscan = off;
        EXECUTE format('SELECT (%s %s %s)::real FROM t ORDER BY 1 OFFSET 49 LIMIT 1', col, dist, qv) INTO r;
        EXECUTE format('SELECT array_agg(id ORDER BY id), array_agg(id ORDER BY %s %s %s, id) FROM t WHERE %s %s %s <= %s::real',
                       col, dist, qv, col, dist, qv, r) INTO exact, exact_ordered;
        SET LOCAL enable_indexscan = on;
        SET LOCAL enable_seqscan = off;
        failed := '{}';
        -- alone
        EXECUTE format('SELECT array_agg(id ORDER BY id) FROM t WHERE %s %s sphere(%s, %s)', col, sop, qv, r) INTO got;
        IF got IS DISTINCT FROM exact THEN failed := failed || 'alone'::text; END IF;
        -- with ORDER BY: the same rows in distance order
        EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM t WHERE %s %s sphere(%s, %s) ORDER BY %s %s %s, id) s',
                       col, sop, qv, r, col, dist, qv) INTO got;
        IF got IS DISTINCT FROM exact_ordered THEN failed := failed || 'order by'::text; END IF;
        -- with LIMIT: the 20 nearest (the sphere holds 50)
        EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM t WHERE %s %s sphere(%s, %s) ORDER BY %s %s %s, id LIMIT 20) s',
                       col, sop, qv, r, col, dist, qv) INTO got;
        IF got IS DISTINCT FROM exact_ordered[1:20] THEN failed := failed || 'limit'::text; END IF;
        -- with another filter
        EXECUTE format('SELECT array_agg(id ORDER BY id) FROM t WHERE %s %s sphere(%s, %s) AND id %% 3 = 0', col, sop, qv, r) INTO got;
        IF got IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM unnest(exact) x WHERE x % 3 = 0) THEN
            failed := failed || 'filter'::text;
        END IF;
        -- ORDER BY another center: an ordinary ordered scan (ef_search rows, or
        -- probes lists), the executor applies the radius: only rows within
        EXECUTE format('SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM t WHERE %s %s sphere(%s, %s) ORDER BY %s %s %s LIMIT 3000) s',
                       col, sop, qv, r, col, dist, other) INTO got;
        IF NOT coalesce(got <@ exact, true) THEN failed := failed || 'other center'::text; END IF;
        returned := index_rows(format('SELECT id FROM t WHERE %s %s sphere(%s, %s)', col, sop, qv, r));
        INSERT INTO results VALUES (label, cardinality(failed) = 0, cardinality(exact), returned, failed);
        RESET enable_seqscan;
        RESET enable_indexscan;
    END LOOP;
END $$;

-- hnsw
CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM t WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]'::vector, 1);
EXPLAIN (COSTS OFF) SELECT id FROM t WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]'::vector, 1) AND id > 10 ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5;
RESET enable_seqscan;
-- a NULL sphere admits no row, through the index too
SET enable_seqscan = off;
SELECT count(*) FROM t WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]'::vector, NULL);
SELECT count(*) FROM t WHERE v <<->> NULL::sphere_vector;
SELECT count(*) FROM t WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]'::vector, 'NaN');
-- a radius that holds every row: the scan continues to the end
SELECT count(*) FROM t WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]'::vector, 100);
-- a query of other dimensions is refused, as by the distance operators
SELECT count(*) FROM t WHERE v <<->> sphere('[0,0]'::vector, 1);
RESET enable_seqscan;
SELECT checks('v', '<->', '<<->>', 'hnsw vector_l2_ops');
DROP INDEX t_v;
CREATE INDEX t_v ON t USING hnsw (v vector_cosine_ops);
SELECT checks('v', '<=>', '<<=>>', 'hnsw vector_cosine_ops');
DROP INDEX t_v;
CREATE INDEX t_v ON t USING hnsw (v vector_cosine_ops) WITH (quantization = 'none');
SELECT checks('v', '<=>', '<<=>>', 'hnsw vector_cosine_ops exact');
DROP INDEX t_v;
CREATE INDEX t_v ON t USING hnsw (v vector_ip_ops);
SELECT checks('v', '<#>', '<<#>>', 'hnsw vector_ip_ops');
DROP INDEX t_v;
CREATE INDEX t_h ON t USING hnsw (h halfvec_l2_ops);
SELECT checks('h', '<->', '<<->>', 'hnsw halfvec_l2_ops');
DROP INDEX t_h;
CREATE INDEX t_h ON t USING hnsw (h halfvec_cosine_ops);
SELECT checks('h', '<=>', '<<=>>', 'hnsw halfvec_cosine_ops');
DROP INDEX t_h;

-- ivfflat (every list may be read: ivfflat.max_probes)
CREATE INDEX t_v ON t USING ivfflat (v vector_l2_ops) WITH (lists = 20);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM t WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]'::vector, 1);
SELECT count(*) FROM t WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]'::vector, NULL);
SELECT count(*) FROM t WHERE v <<->> sphere('[0,0,0,0,0,0,0,0]'::vector, 100);
RESET enable_seqscan;
SELECT checks('v', '<->', '<<->>', 'ivfflat vector_l2_ops');
DROP INDEX t_v;
CREATE INDEX t_v ON t USING ivfflat (v vector_cosine_ops) WITH (lists = 20);
SELECT checks('v', '<=>', '<<=>>', 'ivfflat vector_cosine_ops');
DROP INDEX t_v;
CREATE INDEX t_v ON t USING ivfflat (v vector_ip_ops) WITH (lists = 20);
SELECT checks('v', '<#>', '<<#>>', 'ivfflat vector_ip_ops');
DROP INDEX t_v;
CREATE INDEX t_h ON t USING ivfflat (h halfvec_l2_ops) WITH (lists = 20);
SELECT checks('h', '<->', '<<->>', 'ivfflat halfvec_l2_ops');
DROP INDEX t_h;

-- Every check returns the exact rows. hnsw radius scans stop a round or two
-- past the radius (a scan that did not would return all 3,000 rows:
-- max_scan_tuples allows it); ivfflat skips the lists a bisector separates
-- from the sphere (l2 and cosine: some lists here, this sphere holds 1.7% of
-- rows in 8 dimensions; inner product is not a metric: every list).
SELECT name, count(*) AS queries, bool_and(ok) AS exact, min(rows_in_radius) AS min_rows,
       max(rows_in_radius) AS max_rows,
       CASE WHEN name LIKE 'hnsw%' THEN max(index_rows) < 2000 ELSE min(index_rows) < 3000 END AS read_less
FROM results GROUP BY name ORDER BY name;
SELECT * FROM results WHERE NOT ok;
-- a smaller sphere (5 rows): ivfflat leaves out lists for every query
CREATE INDEX t_v ON t USING ivfflat (v vector_l2_ops) WITH (lists = 20);
SELECT q, index_rows(format('SELECT id FROM t WHERE v <<->> sphere(%L::vector, %s)', v,
                            (SELECT (t.v <-> queries.v)::real FROM t ORDER BY 1 OFFSET 4 LIMIT 1))) < 3000 AS skips_lists
FROM queries ORDER BY q;
DROP INDEX t_v;

DROP TABLE t, queries, results;
DROP FUNCTION checks(text, text, text, text);
DROP FUNCTION index_rows(text);
RESET search_path;
DROP SCHEMA radius_test;
