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
-- numeric elements are converted one at a time: the first bad element decides
SELECT ARRAY[-70000, 1e300]::numeric[]::halfvec;
SELECT ARRAY[1e300, -70000]::numeric[]::halfvec;
SELECT ARRAY[3e38, 1e39]::numeric[]::halfvec(2);
-- float4 output: never a digit string on the rounding boundary, ties to even
SELECT '[87931936,-44566528,288145984,-1009084032,104270624]'::vector;
SELECT '[7.09765625,5.05078125,0.455078125,-4.26953125,8.8359375]'::vector;
SELECT '[7.098,5.049,0.455,-4.27,3.536,-7.524]'::halfvec;
-- halfvec distances in pgvector's order of operations
SELECT '[0.786,65504,100,65504,3.354,0,65504,-8.644,-65504]'::halfvec <#> '[65504,65504,65504,-65504,1e-7,0.293,-4.14,-7.689,3.16]';
SELECT '[-3,3.791,-0,-2.349,-9.514,100,7.723,-1.277,-8.033]'::halfvec <-> '[-1,65504,8.849,2.493,0.0001,-9.523,2,-0,0.0001]';
SELECT '[100,-6.38,65504,2.13,-9.808,0.5,65504,9.749,-7.592]'::halfvec <+> '[1,-0,-7.905,-5.116,4.031,1e-30,-1.92,-6.452,-7.072]';
SELECT '[-5.628,-9.46,-2.617,65504]'::halfvec <=> '[-8.987,-1,0.5,-1]';
SELECT '[-7.534,0.774,7.757]'::halfvec <-> '[-1.615,-2.296,2.238]';
-- hex literals round once, like strtof
SELECT '[0x1.000001p0,0x1.0000010000000000000001p0,0x1p-149,0x1.8p-150]'::vector;
-- binary_quantize and l2_normalize of zeros
SELECT binary_quantize('[0,-0,1,-1,0.5,0,0,0,2]'::vector), binary_quantize('[0,-0,1]'::halfvec);
-- vector and sparsevec distances and norms in pgvector's order of operations
SELECT '[-3.609,-2.869,-0.192]'::vector <+> '[0,1e-30,1e-7]';
SELECT vector_negative_inner_product('[9.058,8.652,-3]', '[2.556,100,3.406]');
SELECT vector_l2_squared_distance('[1.164,3.22,-1.599]', '[7.405,-6.258,-1.0]');
SELECT '[-7.137,-1.944,-1]'::vector <-> '[-4.463,1e-7,0.664]';
SELECT '[9.014,7.236,1.5,-3,2.5,1,0.608,0.0001,3.097]'::vector <=> '[2.5,4.443,0.5,-1,2,6.282,9.893,1.773,65504]';
SELECT '[-0.264,0.0001,4.678,100,-0,2.5,0.019,-1,6.053]'::vector <-> '[-0.957,-7.752,100,-4.923,0.0001,1.513,-4.283,-6.587,2]';
SELECT '[0.0001,-0.169,8.955,-1.27,0.5,-0,1e30,0,-4.459]'::vector <#> '[1e-7,0,0.5,2,2.5,2,0,100,-1]';
SELECT vector_norm('[3.356,0.0001,-9.627,4.217]'), l2_normalize('[3.356,0.0001,-9.627,4.217,1.5]'::vector);
SELECT l2_norm('{1:-0.396,2:7.195,3:2.5,4:-3.154,5:0.0001,8:1}/9'::sparsevec);
SELECT l2_distance('{1:-2.567,2:-3.994}/3'::sparsevec, '{1:2.5,3:0.448}/3');
SELECT '{1:1,3:3e38,4:-1,5:1e-30,6:-2.583,7:3e38,8:-65504,9:0.0001}/9'::sparsevec <#> '{1:0.5,2:-65504,3:8.746,4:3e38,5:1,6:9.047,7:-3e38,8:-5.134,9:7.71}/9';
SELECT '{1:1.5,2:-2.25,5:3,6:0.1,7:0.2,8:0.3,9:0.4}/9'::sparsevec <-> '{3:1}/9', '{1:1.5,2:-2.25,5:3,6:0.1,7:0.2,8:0.3,9:0.4}/9'::sparsevec <+> '{3:1}/9', '{1:1.5,2:-2.25,5:3,6:0.1,7:0.2,8:0.3,9:0.4}/9'::sparsevec <=> '{1:1,3:1}/9';
