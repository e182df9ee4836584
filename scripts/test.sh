#!/usr/bin/env bash
# `make test`: everything, from a fresh clone.
#   1. the pure crates' unit and property tests (cargo test, no Postgres)
#   2. the #[pg_test] tests inside a temporary Postgres (cargo pgrx test)
#   3. the SQL regression suite (tests/sql vs tests/expected) with pg_regress against the
#      release build installed into the system's PostgreSQL 15
#   4. integration tests (tests/integration/*.sh) that need servers of their own: crash
#      recovery, streaming replication, concurrent writers with vacuum, real-data recall
# Ends with one line "N passed, N failed" counting the tests of all four.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$PROJECT_DIR"
log_dir=$(mktemp -d)
passed=0
failed=0

# Add the counts from cargo's "test result:" lines in a log to the totals.
tally_cargo() {
    local counts
    counts=$(awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
                  END { print p + 0, f + 0 }' "$1")
    passed=$((passed + ${counts% *}))
    failed=$((failed + ${counts#* }))
}

echo "==> 1/4 pure crates: cargo test"
status=0
cargo test --release --workspace --exclude pgvector_rs 2>&1 | tee "$log_dir/crates.log" | grep -E '^(test result|running|error)|FAILED|panicked' || true
grep -q '^error' "$log_dir/crates.log" && status=1
tally_cargo "$log_dir/crates.log"

echo "==> 2/4 in-database tests: cargo pgrx test"
pgrx_data=$(cluster_dir pgrx-test)
mkdir -p "$pgrx_data"
chown postgres "$pgrx_data" 2>/dev/null || as_root chown postgres "$pgrx_data"
cargo pgrx test pg15 --runas postgres --pgdata "$pgrx_data" 2>&1 | tee "$log_dir/pgrx.log" | grep -E '^(test |test result|error)|FAILED|panicked' || true
grep -qE '^test result: ok' "$log_dir/pgrx.log" || status=1
tally_cargo "$log_dir/pgrx.log"

echo "==> 3/4 SQL regression suite: pg_regress"
"$PROJECT_DIR/scripts/install.sh" >"$log_dir/install.log" 2>&1 || { cat "$log_dir/install.log"; exit 1; }
PORT=${TEST_PORT:-28816}
"$PROJECT_DIR/scripts/cluster.sh" start regress "$PORT"
trap '"$PROJECT_DIR/scripts/cluster.sh" stop regress' EXIT
root=$(cluster_dir regress)
out_dir="$root/regress-out"
as_postgres mkdir -p "$out_dir"
tests=$(cd tests/sql && ls *.sql | sed 's/\.sql$//' | sort)
regress=$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress
set +e
as_postgres "$regress" --bindir="$(pg_bindir)" --inputdir="$PROJECT_DIR/tests" --outputdir="$out_dir" \
    --host="$root" --port="$PORT" --user=postgres --dbname=pgvector_rs_regress \
    --load-extension=pgvector_rs $tests 2>&1 | tee "$log_dir/regress.log"
regress_status=${PIPESTATUS[0]}
set -e
if [ "$regress_status" -ne 0 ]; then
    status=1
    [ -f "$out_dir/regression.diffs" ] && head -200 "$out_dir/regression.diffs"
fi
passed=$((passed + $(grep -cE '^(ok|test) .* ok' "$log_dir/regress.log" || true)))
failed=$((failed + $(grep -cE 'FAILED|failed \(ignored\)' "$log_dir/regress.log" || true)))

echo "==> 4/4 integration tests"
for script in tests/integration/*.sh; do
    case "$script" in */lib.sh) continue ;; esac
    echo "--- $script"
    set +e
    bash "$script" 2>&1 | tee "$log_dir/integration.log"
    script_status=${PIPESTATUS[0]}
    set -e
    [ "$script_status" -eq 0 ] || status=1
    passed=$((passed + $(grep -c '^ok - ' "$log_dir/integration.log" || true)))
    failed=$((failed + $(grep -c '^not ok - ' "$log_dir/integration.log" || true)))
    if [ "$script_status" -ne 0 ] && ! grep -q '^not ok - ' "$log_dir/integration.log"; then
        failed=$((failed + 1)) # died before reporting
    fi
done

echo
echo "tests: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
