-- sparsevec: {index:value,...}/dimensions, 1-based indices in text, 0-based in binary
SELECT '{1:1.5,3:2}/5'::sparsevec;
SELECT ' { 3 : 2 , 1:1.5, 2:0 } / 5 '::sparsevec;
SELECT '{}/3'::sparsevec;
SELECT '{1:1}/1000000000'::sparsevec;
SELECT '{1:1,3:2}/5'::sparsevec(5);
SELECT '{1:1}/5'::sparsevec(4);
SELECT '{1:1}/5'::sparsevec(0);
SELECT '{1:1}/5'::sparsevec(1000000001);
-- malformed and out of range
SELECT '[1:1]/2'::sparsevec;
SELECT '{1:1}'::sparsevec;
SELECT '{1:1}/2 x'::sparsevec;
SELECT '{1:1,}/2'::sparsevec;
SELECT '{1}/2'::sparsevec;
SELECT '{a:1}/2'::sparsevec;
SELECT '{0:1}/2'::sparsevec;
SELECT '{-1:1}/2'::sparsevec;
SELECT '{3:1}/2'::sparsevec;
SELECT '{2147483648:1}/2'::sparsevec;
SELECT '{1:1,1:2}/2'::sparsevec;
SELECT '{1:NaN}/2'::sparsevec;
SELECT '{1:inf}/2'::sparsevec;
SELECT '{1:1e39}/2'::sparsevec;
SELECT '{1:1e-50}/2'::sparsevec;
SELECT '{}/0'::sparsevec;
SELECT '{}/1000000001'::sparsevec;
SELECT '{}/x'::sparsevec;
SELECT sparsevec_send('{1:1.5,3:2}/5');
-- distances and functions
SELECT '{1:3}/2'::sparsevec <-> '{2:4}/2';
SELECT '{1:1,2:2}/3'::sparsevec <#> '{2:3,3:4}/3';
SELECT '{1:1,2:2}/3'::sparsevec <=> '{1:2,2:4}/3';
SELECT '{}/3'::sparsevec <=> '{1:2}/3';
SELECT '{1:1,2:2}/3'::sparsevec <+> '{2:3,3:4}/3';
SELECT l2_distance('{1:3}/2'::sparsevec, '{1:3}/3');
SELECT inner_product('{1:1,2:2}/3'::sparsevec, '{2:3,3:4}/3'), cosine_distance('{1:1}/2'::sparsevec, '{2:1}/2'), l1_distance('{1:1}/2'::sparsevec, '{2:1}/2');
SELECT sparsevec_l2_squared_distance('{1:3}/2', '{2:4}/2'), sparsevec_negative_inner_product('{1:3}/2', '{1:4}/2');
SELECT l2_norm('{1:3,5:4}/5'::sparsevec), l2_normalize('{1:3,5:4}/5'::sparsevec), l2_normalize('{}/5'::sparsevec);
-- comparison: dense lexicographic order, then dimensions
SELECT '{1:1}/3'::sparsevec < '{2:1}/3', '{1:1}/3'::sparsevec > '{2:1}/3', '{2:-1}/3'::sparsevec < '{}/3';
SELECT '{1:1}/2'::sparsevec = '{1:1}/2', '{1:1}/2'::sparsevec = '{1:1}/3', sparsevec_cmp('{1:1}/2', '{1:1}/3');
SELECT sparsevec_cmp('{3:1}/3', '{}/2'), sparsevec_cmp('{}/3', '{}/3');
SELECT v FROM (VALUES ('{1:1}/3'::sparsevec), ('{2:1}/3'), ('{3:-1}/3'), ('{}/3'), ('{1:1}/2')) t(v) ORDER BY v;
