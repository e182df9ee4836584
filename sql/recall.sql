-- Recall targets (pgvector_rs.target_recall): calibration of hnsw and
-- ivfflat indexes, and measuring the recall a query gets.

-- Measures the index's calibration again from its table (builds and VACUUM
-- do it too) and stores it on the index's meta page; returns what it
-- measured. It writes the index, so, like REINDEX, not for PUBLIC.
CREATE FUNCTION pgvector_rs_calibrate(index regclass) RETURNS text
	AS 'MODULE_PATHNAME', 'pgvr_calibrate_index' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION pgvector_rs_calibrate(regclass) FROM PUBLIC;

-- The calibration stored in the index (read-only).
CREATE FUNCTION pgvector_rs_calibration(index regclass) RETURNS text
	AS 'MODULE_PATHNAME', 'pgvr_calibration' LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- The recall@k the index achieves for this query under the current
-- settings (hnsw.ef_search, ivfflat.probes, iterative scans,
-- pgvector_rs.target_recall, index options): the fraction of the exact k
-- nearest rows that a scan of this index returns, a row at the exact k-th
-- distance or nearer counting (ties and duplicates), against an exact scan
-- (sequential scan and sort) in the same snapshot (the function is STABLE:
-- both queries read with the caller's snapshot). 1.0 when the table has no
-- rows. The planner settings it needs are changed for its two queries only.
CREATE FUNCTION pgvector_rs_evaluate_recall(index regclass, query anyelement, k integer)
RETURNS float8 LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
AS $$
DECLARE
	tab regclass;
	col text;
	opnsp name;
	opname name;
	am name;
	sql text;
	scans bigint;
	approx float8[];
	exact float8[];
	n integer;
	old_seqscan text := current_setting('enable_seqscan');
	old_indexscan text := current_setting('enable_indexscan');
	old_bitmapscan text := current_setting('enable_bitmapscan');
BEGIN
	SELECT i.indrelid::regclass, pg_get_indexdef(i.indexrelid, 1, true), n.nspname, o.oprname, a.amname
	INTO tab, col, opnsp, opname, am
	FROM pg_index i
	JOIN pg_class c ON c.oid = i.indexrelid
	JOIN pg_am a ON a.oid = c.relam
	JOIN pg_opclass oc ON oc.oid = i.indclass[0]
	JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoppurpose = 'o'
		AND ao.amoplefttype = oc.opcintype
	JOIN pg_operator o ON o.oid = ao.amopopr
	JOIN pg_namespace n ON n.oid = o.oprnamespace
	WHERE i.indexrelid = index
	LIMIT 1;
	IF am IS NULL OR am NOT IN ('hnsw', 'ivfflat') THEN
		RAISE EXCEPTION '"%" is not an hnsw or ivfflat index', index
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF k < 1 THEN
		RAISE EXCEPTION 'k must be at least 1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- LIMIT is a literal, so that a recall target sees the query's k.
	sql := format('SELECT array_agg(d ORDER BY d) FROM (SELECT (%s) OPERATOR(%I.%s) $1 AS d FROM %s ORDER BY (%s) OPERATOR(%I.%s) $1 LIMIT %s) s',
		col, opnsp, opname, tab, col, opnsp, opname, k);
	-- Through the index.
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	scans := pg_catalog.pg_stat_get_xact_numscans(index);
	EXECUTE sql INTO approx USING query;
	-- The scan counter of the index says whether the plan used it (when
	-- statistics are collected).
	IF current_setting('track_counts')::boolean
		AND pg_catalog.pg_stat_get_xact_numscans(index) = scans THEN
		RAISE EXCEPTION 'the query does not use index "%"', index
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Another index answers the same ORDER BY: measure that one.';
	END IF;
	-- Exactly.
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	EXECUTE sql INTO exact USING query;
	PERFORM set_config('enable_seqscan', old_seqscan, true);
	PERFORM set_config('enable_indexscan', old_indexscan, true);
	PERFORM set_config('enable_bitmapscan', old_bitmapscan, true);
	n := coalesce(array_length(exact, 1), 0);
	IF n = 0 THEN
		RETURN 1.0;
	END IF;
	RETURN (SELECT count(*) FROM unnest(approx) d WHERE d <= exact[n])::float8 / n;
END
$$;
