-- the declared surface: strictness, volatility and parallel safety as pgvector declares them
SELECT count(*) AS not_immutable_strict_safe FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgvector_rs'
  WHERE p.prokind = 'f' AND p.proname NOT LIKE 'pgvector_rs%' AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's')
    AND p.prorettype NOT IN ('index_am_handler'::regtype, 'internal'::regtype);
-- access method handlers and support functions: volatile and not strict, like pgvector's
SELECT p.proname, p.provolatile, p.proisstrict FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgvector_rs'
  WHERE p.prorettype IN ('index_am_handler'::regtype, 'internal'::regtype) ORDER BY 1;
SELECT oprname, format_type(oprleft, NULL) AS l, format_type(oprright, NULL) AS r, oprresult::regtype
  FROM pg_operator o JOIN pg_depend d ON d.objid = o.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgvector_rs'
  ORDER BY 2, 1, 3;
SELECT format_type(castsource, NULL) AS source, format_type(casttarget, NULL) AS target, castcontext
  FROM pg_cast c JOIN pg_depend d ON d.objid = c.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgvector_rs'
  ORDER BY 1, 2;
SELECT typname, typstorage, typalign, typlen FROM pg_type WHERE typname IN ('vector', 'halfvec', 'sparsevec') ORDER BY 1;
SELECT pgvector_rs_simd() = split_part(pgvector_rs_simd_paths(), ',', 1) AS best_path_is_active;
SELECT pgvector_rs_force_simd('scalar');
SELECT '[1,2,3]'::vector <-> '[3,2,1]', '[1,2]'::halfvec <=> '[2,1]';
SELECT pgvector_rs_force_simd(split_part(pgvector_rs_simd_paths(), ',', 1)) = split_part(pgvector_rs_simd_paths(), ',', 1) AS restored;
SELECT '[1,2,3]'::vector <-> '[3,2,1]', '[1,2]'::halfvec <=> '[2,1]';
SELECT pgvector_rs_force_simd('sse9');
