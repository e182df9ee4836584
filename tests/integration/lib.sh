# Helpers for the integration tests: each test script gets fresh clusters of
# its own, prints one "ok - ..." or "not ok - ..." line per check (TAP
# style; scripts/test.sh counts them) and exits non-zero if any check failed.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"
set +e -uo pipefail # checks report failures; a failing step must not end the script

BIN=$(pg_bindir)
FAILURES=0
CLUSTERS=()

# fresh_cluster NAME PORT: a new, empty cluster (socket only) with the extension.
fresh_cluster() {
    local name=$1 port=$2 root
    root=$(cluster_dir "$name")
    "$PROJECT_DIR/scripts/cluster.sh" stop "$name" >/dev/null 2>&1 || true
    as_root rm -rf "$root" 2>/dev/null || rm -rf "$root"
    "$PROJECT_DIR/scripts/cluster.sh" start "$name" "$port" >/dev/null
    CLUSTERS+=("$name")
}

cleanup_clusters() {
    local name
    for name in "${CLUSTERS[@]}"; do
        "$PROJECT_DIR/scripts/cluster.sh" stop "$name" >/dev/null 2>&1 || true
    done
}
trap cleanup_clusters EXIT

# sql NAME PORT [psql args...]: psql against a cluster, unaligned, quiet, stop on error.
sql() {
    local name=$1 port=$2
    shift 2
    as_postgres "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$(cluster_dir "$name")" -p "$port" -d postgres "$@"
}

pg_ctl_as() {
    local name=$1
    shift
    as_postgres env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$BIN/pg_ctl" -D "$(cluster_dir "$name")/data" \
        -l "$(cluster_dir "$name")/server.log" -w -t 120 "$@" >/dev/null
}

# check DESCRIPTION EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then
        echo "ok - $1"
    else
        echo "not ok - $1: expected '$2', got '$3'"
        FAILURES=$((FAILURES + 1))
    fi
}

finish() {
    [ "$FAILURES" -eq 0 ]
}

# bench_setup NAME PORT WHAT: for tests on ../shared/datasets/pypi-minilm-100k (or
# $PYPI_DATASET): when it is absent, prints "ok - WHAT # SKIP" and ends the script;
# else a fresh cluster NAME on PORT, the benchmark tool built (release), and DATASET,
# BENCH and URL set for bench_check.
bench_setup() {
    local name=$1 port=$2 what=$3
    DATASET=${PYPI_DATASET:-$PROJECT_DIR/../shared/datasets/pypi-minilm-100k}
    if [ ! -f "$DATASET/base.npy" ]; then
        echo "ok - $what # SKIP no dataset at $DATASET"
        exit 0
    fi
    fresh_cluster "$name" "$port"
    cargo build --release -q -p pgvector_rs-bench
    BENCH=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/pgvector_rs-bench
    URL="host=$(cluster_dir "$name") port=$port user=postgres dbname=postgres"
}

# bench_check QUERIES LABEL MIN_RECALL ARGS...: one benchmark run over the first 20,000
# rows of the dataset and its first QUERIES queries that must reach MIN_RECALL at every
# point (ARGS: --index, --sweep, ...); prints its first result row, or the log's end.
bench_check() {
    local queries=$1 label=$2 min=$3
    shift 3
    local log
    log=$(mktemp)
    if "$BENCH" run --dataset "$DATASET" --max-base 20000 --queries "$queries" --warmup 10 --url "$URL" \
        --extension pgvector_rs --min-recall "$min" "$@" >"$log" 2>&1; then
        echo "ok - $label: $(grep -E '^\| (default|[0-9])' "$log" | head -1 | cut -d'|' -f2,3 | tr -s ' ')"
    else
        echo "not ok - $label"
        sed 's/^/# /' "$log" | grep -vE '^# +[0-9]+:' | tail -15
        FAILURES=$((FAILURES + 1))
    fi
    rm -f "$log"
}
