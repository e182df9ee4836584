-- Filtered vector queries take the cheaper of the graph and the exact plan
-- (a btree bitmap scan of the matching rows and a sort): an ordered index
-- scan under a filter that keeps a fraction s of the rows must read about
-- LIMIT / s rows in index order, which the cost estimate now charges.
SET client_min_messages = warning;
CREATE SCHEMA filtered_plan;
SET search_path = filtered_plan, public;

SELECT setseed(0.42);
CREATE TABLE items (id int, cat int, emb vector(32));
INSERT INTO items SELECT i, i % 1000, ARRAY(SELECT random() - 0.5 FROM generate_series(1, 32) WHERE i >= 0)
FROM generate_series(0, 29999) i;
CREATE INDEX items_cat ON items (cat);
CREATE INDEX items_graph ON items USING hnsw (emb vector_cosine_ops);
VACUUM ANALYZE items;
SELECT emb AS q FROM items WHERE id = 123 \gset

-- The plan's access path: graph, btree (bitmap or index scan of cat) or seq.
CREATE FUNCTION plan_kind(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; kind text := 'other';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        IF position('items_graph' IN line) > 0 OR position('items_ivf' IN line) > 0 THEN RETURN 'graph'; END IF;
        IF position('items_cat' IN line) > 0 THEN kind := 'btree'; END IF;
        IF kind = 'other' AND position('Seq Scan' IN line) > 0 THEN kind := 'seq'; END IF;
    END LOOP;
    RETURN kind;
END $$;
CREATE FUNCTION plans(label text) RETURNS TABLE (setting text, selectivity text, plan text) LANGUAGE sql AS $$
    SELECT label, s.label, plan_kind(format('SELECT id FROM items WHERE %s ORDER BY emb <=> %L LIMIT 10', s.filter, current_setting('my.q')))
    FROM (VALUES ('none', 'true'), ('50%', 'cat < 500'), ('10%', 'cat < 100'),
                 ('1%', 'cat < 10'), ('0.1%', 'cat < 1')) s(label, filter)
$$;
SELECT set_config('my.q', :'q', false) IS NOT NULL AS q_set;

-- hnsw, iterative scans: the graph while the filter keeps enough rows, the
-- exact plan below
SET hnsw.iterative_scan = relaxed_order;
SELECT * FROM plans('hnsw relaxed_order');
SET hnsw.iterative_scan = strict_order;
SELECT * FROM plans('hnsw strict_order');
-- a plain scan returns at most ef_search rows: under a selective filter it
-- would return fewer rows than LIMIT; it is charged for the rows it would
-- need, so the exact plan is preferred where it keeps the promise cheaper
SET hnsw.iterative_scan = off;
SELECT * FROM plans('hnsw off');
-- LIMIT matters: 1,000 rows under a 10% filter need most of the graph
SET hnsw.iterative_scan = relaxed_order;
SELECT plan_kind(format('SELECT id FROM items WHERE cat < 100 ORDER BY emb <=> %L LIMIT 1000', :'q')) AS limit_1000;
RESET hnsw.iterative_scan;
DROP INDEX items_graph;

-- ivfflat (100 lists of 300 rows): reading the lists that hold LIMIT / s
-- rows is cheap down to 1% here (4 lists); 0.1% needs a third of them
CREATE INDEX items_ivf ON items USING ivfflat (emb vector_cosine_ops) WITH (lists = 100);
ANALYZE items;
SET ivfflat.iterative_scan = relaxed_order;
SELECT * FROM plans('ivfflat relaxed_order');
SET ivfflat.iterative_scan = off;
SELECT * FROM plans('ivfflat off');
SET ivfflat.probes = 10;
SELECT * FROM plans('ivfflat off, probes 10');
RESET ivfflat.probes;
RESET ivfflat.iterative_scan;

DROP TABLE items;

-- Under a recall target the graph is charged at the ef_search the target
-- will choose (the index's calibration at the query's LIMIT, the same
-- decision the scan makes), not at hnsw.ef_search. On data where a high
-- recall needs a large beam (random 128-d vectors: recall@10 0.99 needs
-- ef_search about 640 here, 0.9 about 150), a high target makes the exact
-- plan win where it is cheaper than the graph at that recall; a low target
-- keeps the graph.
SELECT setseed(0.42);
CREATE TABLE items (id int, cat int, emb vector(128));
INSERT INTO items SELECT i, i % 1000, ARRAY(SELECT random() - 0.5 FROM generate_series(1, 128) WHERE i >= 0)
FROM generate_series(0, 9999) i;
CREATE INDEX items_cat ON items (cat);
CREATE INDEX items_graph ON items USING hnsw (emb vector_l2_ops);
VACUUM ANALYZE items;
SELECT emb AS q FROM items WHERE id = 123 \gset
CREATE FUNCTION target_plans(target text) RETURNS TABLE (target_recall text, selectivity text, plan text) LANGUAGE plpgsql AS $$
DECLARE s record;
BEGIN
    PERFORM set_config('pgvector_rs.target_recall', target, true);
    FOR s IN SELECT * FROM (VALUES ('20%', 'cat < 200'), ('10%', 'cat < 100'), ('1%', 'cat < 10')) v(label, filter) LOOP
        target_recall := target;
        selectivity := s.label;
        plan := plan_kind(format('SELECT id FROM items WHERE %s ORDER BY emb <-> %L LIMIT 10', s.filter, current_setting('my.q')));
        RETURN NEXT;
    END LOOP;
END $$;
SELECT set_config('my.q', :'q', false) IS NOT NULL AS q_set;
SET hnsw.iterative_scan = relaxed_order;
SELECT * FROM target_plans('0');
SELECT * FROM target_plans('0.9');
SELECT * FROM target_plans('0.99');
-- an explicitly set hnsw.ef_search wins over the target, in the estimate too
SET hnsw.ef_search = 40;
SELECT * FROM target_plans('0.99');
RESET hnsw.ef_search;
-- so does the index's own option
ALTER INDEX items_graph SET (ef_search = 40);
SELECT * FROM target_plans('0');
ALTER INDEX items_graph SET (ef_search = 1000);
SELECT * FROM target_plans('0');
ALTER INDEX items_graph RESET (ef_search);
RESET hnsw.iterative_scan;
DROP TABLE items;
DROP FUNCTION target_plans(text);
DROP FUNCTION plans(text);
DROP FUNCTION plan_kind(text);
RESET my.q;
RESET search_path;
DROP SCHEMA filtered_plan;
