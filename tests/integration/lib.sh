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
