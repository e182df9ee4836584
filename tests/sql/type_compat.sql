-- Type-level behaviour that once differed from pgvector 0.8.6 (issue 10, item 1), each
-- case as pgvector answers it.
-- halfvec errors name halfvec
SELECT '[]'::halfvec;
SELECT ('[' || repeat('1,', 16000) || '1]')::halfvec;
SELECT '[1,2]'::halfvec + '[1]';
SELECT '[1,2]'::halfvec - '[1]';
SELECT '[1,2]'::halfvec * '[1]';
SELECT '[1,2]'::halfvec <-> '[1]';
SELECT '[1,2]'::halfvec <#> '[1]';
SELECT '[1,2]'::halfvec <=> '[1]';
SELECT '[1,2]'::halfvec <+> '[1]';
SELECT halfvec_l2_squared_distance('[1,2]', '[1]');
SELECT halfvec_spherical_distance('[1,2]', '[1]');
SELECT array_fill(1, ARRAY[8000])::halfvec || array_fill(1, ARRAY[8001])::halfvec;
SELECT subvector('[1,2,3]'::halfvec, 4, 1);
SELECT subvector('[1,2,3]'::halfvec, 1, 0);
SELECT subvector('[1,2,3]'::halfvec, -5, 3);
SELECT '{}/3'::sparsevec::halfvec;
SELECT '{}/16001'::sparsevec::halfvec;
SELECT '{}'::real[]::halfvec;
SELECT array_fill(1, ARRAY[16001])::halfvec;
SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[1]')) t(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::halfvec), ('[1]')) t(v);
SELECT halfvec_avg('{1}');
SELECT halfvec_avg(array_fill(1::float8, ARRAY[16002]));
SELECT halfvec_accum('{1,1,1}', '[1]');
-- the combine function is shared with vector and says vector
SELECT halfvec_combine('{0}', '{0}');
-- sparsevec indices
SELECT '{0:1}/3'::sparsevec;
SELECT '{-1:1}/3'::sparsevec;
SELECT '{4:1}/3'::sparsevec;
SELECT '{2147483648:1}/3'::sparsevec;
SELECT '{99999999999999999999:1}/3'::sparsevec;
SELECT '{-99999999999999999999:1}/3'::sparsevec;
SELECT '{2:1,2:2}/3'::sparsevec;
SELECT '{3:1,1:2,3:3}/3'::sparsevec;
SELECT '{5:1,5:2}/3'::sparsevec;
-- zero elements are dropped before the index checks
SELECT '{0:0}/3'::sparsevec;
SELECT '{9:0,1:1}/3'::sparsevec;
SELECT '{1:0,1:0,1:5}/3'::sparsevec;
-- the whole literal is parsed first, then dimensions, values, indices
SELECT '{0:1,x}/3'::sparsevec;
SELECT '{0:1}/3x'::sparsevec;
SELECT '{0:1}'::sparsevec;
SELECT '{0:1}/0'::sparsevec;
SELECT '{0:1}/1000000001'::sparsevec;
SELECT '{0:1}/99999999999999999999'::sparsevec;
SELECT '{0:1}/-99999999999999999999'::sparsevec;
SELECT '{0:NaN}/3'::sparsevec;
SELECT '{0:inf}/3'::sparsevec;
SELECT '{0:1e39}/3'::sparsevec;
SELECT '{0:1e-50}/3'::sparsevec;
SELECT '{0:1}/3'::sparsevec(4);
-- norms of nothing are +0
SELECT l2_norm('{}/2'::sparsevec);
SELECT l2_normalize('{}/2'::sparsevec);
SELECT l2_normalize('[0,-0]'::vector), l2_normalize('[0,-0]'::halfvec);
-- combine: an empty result and an oversized state are errors
SELECT vector_combine('{0}', '{0}');
SELECT vector_combine('{0}', array_fill(1::float8, ARRAY[16002]));
SELECT vector_combine(array_fill(1::float8, ARRAY[16002]), '{0}');
SELECT vector_combine('{1,1}', '{1,2,3}');
SELECT vector_combine('{0}', '{2,1}'), vector_combine('{2,1}', '{0,5,5}'), vector_combine('{1,1}', '{2,3}');
-- out-of-range elements quote the text as written
SELECT '[1e38]'::halfvec;
SELECT '[-1e5]'::halfvec;
SELECT '[65520]'::halfvec;
SELECT '[0x1p20]'::halfvec;
SELECT '[1e39]'::vector;
SELECT '[-1e39]'::vector;
SELECT '[1e400]'::vector;
SELECT '{1:1e39}/2'::sparsevec;
-- but casts from arrays and floats show the float value
SELECT ARRAY[1e38]::real[]::halfvec;
SELECT ARRAY[-1e5]::float8[]::halfvec;
SELECT '[1e5]'::vector::halfvec;
-- arrays: elements are narrowed in order, then checked for NaN and infinity
SELECT ARRAY[1e5, 'NaN']::float8[]::halfvec;
SELECT ARRAY['NaN', 1e5]::float8[]::halfvec;
SELECT ARRAY['NaN', 'Infinity']::real[]::vector;
SELECT ARRAY[1e39]::float8[]::vector;
SELECT ARRAY[0, 'NaN']::real[]::sparsevec;
SELECT ARRAY[0, 1, 0]::numeric[]::sparsevec;
SELECT ARRAY[1, NULL]::real[]::vector;
SELECT ARRAY[[1, 2], [3, 4]]::real[]::halfvec;
SELECT ARRAY[1, 2]::text[]::vector;
SELECT '{}'::text[]::vector;
