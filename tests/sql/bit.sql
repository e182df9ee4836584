-- binary vectors: Postgres bit with Hamming and Jaccard distances
SELECT B'1010' <~> B'0110';
SELECT hamming_distance(B'11111111', B'00000000');
SELECT B'1100' <%> B'1010';
SELECT jaccard_distance(B'0000', B'0000');
SELECT jaccard_distance(B'1111', B'1111');
SELECT B'101' <~> B'1010';
SELECT B'101' <%> B'1010';
SELECT binary_quantize('[1,-1,0.5,0,2]'::vector) <~> binary_quantize('[1,1,-0.5,0,2]'::vector);
SELECT repeat('10', 500)::bit(1000) <~> repeat('01', 500)::bit(1000);
