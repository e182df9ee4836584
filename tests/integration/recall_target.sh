#!/usr/bin/env bash
# Recall targets on real data: the first 20,000 rows of
# ../shared/datasets/pypi-minilm-100k (384-d sentence embeddings), 500
# held-out queries (not rows of the table, unlike the calibration's sample),
# exact ground truth recomputed by the benchmark tool. For each index (hnsw
# at default build settings, vector_cosine_ops, half precision by default;
# ivfflat with 100 lists) and each pgvector_rs.target_recall of 0.90, 0.95
# and 0.99, the measured recall@10 must reach the target within sampling
# noise: 500 queries measure a mean recall@10 to about +-0.005 (one standard
# error), the calibration's 200 sample queries predict it to about +-0.007;
# the allowance is 0.015 under the target (0.01 at 0.99, where both errors
# are smaller). Also at LIMIT 100 for hnsw (recall@100), and for hnsw after a
# refresh (pgvector_rs_calibrate, leave-one-out). Skipped when the
# dataset is not beside the checkout.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P=28822
bench_setup recall_target "$P" "recall targets on real data"

# run LABEL MIN_RECALL ARGS...: one bench run that must reach MIN_RECALL.
run() { bench_check 500 "$@"; }

HNSW="USING hnsw (emb vector_cosine_ops)"
IVF="USING ivfflat (emb vector_cosine_ops) WITH (lists = 100)"
first=""
for target in 0.90:0.885 0.95:0.935 0.99:0.98; do
    t=${target%%:*} min=${target##*:}
    run "hnsw, target_recall $t: recall@10 >= $min" "$min" --metric cosine --index "$HNSW" $first \
        --sweep pgvector_rs.target_recall=$t
    first=--reuse
done
for target in 0.90:0.885 0.95:0.935 0.99:0.98; do
    t=${target%%:*} min=${target##*:}
    run "hnsw, target_recall $t: recall@100 >= $min" "$min" --metric cosine --index "$HNSW" --reuse -k 100 \
        --sweep pgvector_rs.target_recall=$t
done
# A refresh (pgvector_rs_calibrate, as VACUUM's) measures with rows of the index as
# queries; the HNSW search must not reach the query's own row (its links lead to its
# neighbours: before, this read 0.959 at ef_search 16 where held-out queries get 0.87,
# and targets 0.90 / 0.95 gave 0.83 / 0.86 on all 100,000 rows).
sql recall_target "$P" -c "SELECT pgvector_rs_calibrate('items_emb_idx')" >/dev/null
check "hnsw refresh measures leave-one-out" "rows of the index, leave-one-out" \
    "$(sql recall_target "$P" -c "SELECT pgvector_rs_calibration('items_emb_idx')" | head -1 | grep -o 'rows of the index, leave-one-out')"
for target in 0.90:0.885 0.95:0.935; do
    t=${target%%:*} min=${target##*:}
    run "hnsw after a refresh, target_recall $t: recall@10 >= $min" "$min" --metric cosine --index "$HNSW" --reuse \
        --sweep pgvector_rs.target_recall=$t
done
first=""
for target in 0.90:0.885 0.95:0.935 0.99:0.98; do
    t=${target%%:*} min=${target##*:}
    run "ivfflat (lists 100), target_recall $t: recall@10 >= $min" "$min" --metric cosine --index "$IVF" $first \
        --sweep pgvector_rs.target_recall=$t
    first=--reuse
done
finish
