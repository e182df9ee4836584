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
