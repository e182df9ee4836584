#!/usr/bin/env bash
# Damaged index files: hnsw and ivfflat indexes whose files are overwritten
# while the server is down (random bytes in a few pages, neighbour links and
# list links set to InvalidBlockNumber or past the end, a list made a cycle)
# answer every query, insert, VACUUM and check with rows or an ERROR
# (index_corrupted XX002, or Postgres' own data_corrupted XX001 for a page
# header it refuses): never a crash, a restart of the server, an endless
# loop, an internal error or a larger index file.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P=28821
fresh_cluster corrupt "$P"
sql corrupt "$P" -c "CREATE EXTENSION pgvector_rs"
datadir=$(sql corrupt "$P" -c "SHOW data_directory")

# A fresh table with both indexes (the damage of one kind must not leak
# into the next).
create() {
    sql corrupt "$P" >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS t;
SELECT setseed(0.3);
CREATE TABLE t (id int PRIMARY KEY, v vector(8));
INSERT INTO t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 8) WHERE i > 0)
FROM generate_series(1, 3000) i;
-- <=> is served by the hnsw index, <-> by the ivfflat one.
CREATE INDEX t_h ON t USING hnsw (v vector_cosine_ops);
CREATE INDEX t_i ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10);
SQL
    hnsw_file="$datadir/$(sql corrupt "$P" -c "SELECT pg_relation_filepath('t_h')")"
    ivf_file="$datadir/$(sql corrupt "$P" -c "SELECT pg_relation_filepath('t_i')")"
}

# damage KIND FILE: rewrites FILE (run as postgres) with one kind of damage.
damage() {
    local kind=$1 file=$2
    as_postgres python3 - "$kind" "$file" <<'PY'
import random, struct, sys
kind, path = sys.argv[1], sys.argv[2]
data = bytearray(open(path, 'rb').read())
B = 8192
n = len(data) // B
rng = random.Random(kind)

def items(block):
    base = block * B
    lower = struct.unpack_from('=H', data, base + 12)[0]
    out = []
    for at in range(24, min(lower, B), 4):
        raw = struct.unpack_from('=I', data, base + at)[0]
        off, length = raw & 0x7FFF, raw >> 17
        if off >= 24 and off + length <= B:
            out.append((base + off, length))
    return out

def set_block(at, block):
    # ItemPointerData: bi_hi, bi_lo, ip_posid.
    struct.pack_into('=HH', data, at, block >> 16, block & 0xFFFF)

if kind.startswith('random'):
    for _ in range(4):
        block = rng.randrange(n)
        for _ in range(64):
            data[block * B + rng.randrange(24, B)] = rng.randrange(256)
elif kind in ('hnsw-links-invalid', 'hnsw-links-past-end'):
    bad = 0xFFFFFFFF if kind.endswith('invalid') else n + 5
    for block in range(1, n):
        for at, length in items(block):
            if data[at] == 2:  # neighbour tuple: slots from byte 8, 6 bytes each
                for slot in range(at + 8, at + length - 5, 6):
                    if struct.unpack_from('=H', data, slot + 4)[0] != 0:
                        set_block(slot, bad)
            elif data[at] == 1:  # element tuple: its neighbour pointer
                if rng.random() < 0.5:
                    set_block(at + 8, bad)
elif kind == 'hnsw-entry-invalid':
    at, _ = items(0)[0]
    # entry_block follows magic, version, dimensions, payload_size, m,
    # ef_construction, space_id, quantization (4+4+4+4+2+2+2+2 bytes).
    struct.pack_into('=I', data, at + 24, 0xFFFFFFFF)
elif kind in ('hnsw-meta-invalid', 'ivf-meta-invalid'):
    # Block 0's special space: next (4 bytes), flags (2), page id (2).
    struct.pack_into('=H', data, B - 16 + 6, 0x1234)
elif kind in ('ivf-next-past-end', 'ivf-next-cycle', 'ivf-head-invalid'):
    for block in range(1, n):
        special = block * B + B - 16
        role = struct.unpack_from('=H', data, special + 4)[0] & 0xF
        if kind == 'ivf-head-invalid' and role == 2:  # centroid page
            for at, _ in items(block):
                struct.pack_into('=II', data, at, 0xFFFFFFFE, 0xFFFFFFFE)
        elif kind != 'ivf-head-invalid' and role == 3:  # list page
            target = n + 3 if kind == 'ivf-next-past-end' else block
            struct.pack_into('=I', data, special, target)
open(path, 'wb').write(data)
PY
}

q="'[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]'"
# The statements each damaged index must survive ("|" separates commands).
statements=(
    "SET enable_seqscan = off|SELECT count(*) FROM (SELECT id FROM t ORDER BY v <=> $q LIMIT 10) s"
    "SET enable_seqscan = off|SET hnsw.ef_search = 1000|SELECT count(*) FROM (SELECT id FROM t ORDER BY v <=> $q LIMIT 500) s"
    "SET enable_seqscan = off|SET hnsw.iterative_scan = relaxed_order|SELECT count(*) FROM (SELECT id FROM t WHERE id % 50 = 0 ORDER BY v <=> $q LIMIT 40) s"
    "SET enable_seqscan = off|SET ivfflat.probes = 10|SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> $q LIMIT 100) s"
    "SET enable_seqscan = off|SET ivfflat.iterative_scan = relaxed_order|SELECT count(*) FROM (SELECT id FROM t WHERE id % 50 = 0 ORDER BY v <-> $q LIMIT 40) s"
    "SELECT pgvector_rs_hnsw_check('t_h') IS NOT NULL"
    "INSERT INTO t SELECT 100000 + i, (SELECT array_agg(random()) FROM generate_series(1, 8) WHERE i > 0) FROM generate_series(1, 20) i"
    "DELETE FROM t WHERE id % 7 = 0|VACUUM t"
)

for kind in random-a random-b hnsw-links-invalid hnsw-links-past-end hnsw-entry-invalid \
    hnsw-meta-invalid ivf-random ivf-next-past-end ivf-next-cycle ivf-head-invalid ivf-meta-invalid; do
    create
    pg_ctl_as corrupt stop
    case $kind in
    ivf-*) damage "$kind" "$ivf_file" ;;
    *) damage "$kind" "$hnsw_file" ;;
    esac
    pg_ctl_as corrupt start
    started=$(sql corrupt "$P" -c "SELECT pg_postmaster_start_time()")
    sizes_before=$(sql corrupt "$P" -c "SELECT pg_relation_size('t_h') || ' ' || pg_relation_size('t_i')")
    bad="" errors=""
    for stmt in "${statements[@]}"; do
        args=()
        IFS='|' read -ra parts <<<"$stmt"
        for part in "${parts[@]}"; do
            args+=(-c "$part")
        done
        out=$(as_postgres timeout 60 "$BIN/psql" -X -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
            -h "$(cluster_dir corrupt)" -p "$P" -d postgres "${args[@]}" 2>&1)
        rc=$?
        if [ $rc -eq 124 ]; then
            bad+=" [timeout: $stmt]"
        elif [ $rc -ne 0 ] || grep -q ERROR <<<"$out"; then
            # XX002 index_corrupted, or XX001 data_corrupted from Postgres'
            # own page header check.
            grep -Eq "ERROR:  XX00[12]: " <<<"$out" ||
                bad+=" [$stmt: $(grep -m1 -E 'ERROR|FATAL|server closed' <<<"$out")]"
            errors+="$(grep -m1 ERROR <<<"$out")"$'\n'
        fi
        if [ "$stmt" = "${statements[5]}" ]; then
            # Nothing before the inserts may grow an index.
            sizes_reads=$(sql corrupt "$P" -c "SELECT pg_relation_size('t_h') || ' ' || pg_relation_size('t_i')")
        fi
    done
    check "$kind: every statement returns rows or an index-corrupted error" "" "$bad"
    # The damage that every search meets is reported, naming the index and
    # the block.
    case $kind in
    hnsw-links-invalid)
        check "$kind: the error names the index and the block" t \
            "$(grep -q 'index "t_h" is corrupted: block 4294967295 is past the end' <<<"$errors" && echo t)" ;;
    hnsw-links-past-end | hnsw-entry-invalid)
        check "$kind: the error names the index" t \
            "$(grep -Eq 'index "t_h" is corrupted: block [0-9]+ is past the end' <<<"$errors" && echo t)" ;;
    ivf-next-past-end)
        check "$kind: the error names the index" t \
            "$(grep -Eq 'index "t_i" is corrupted: block [0-9]+ is past the end' <<<"$errors" && echo t)" ;;
    ivf-next-cycle)
        check "$kind: a cycle is reported, naming the index" t \
            "$(grep -q 'index "t_i" is corrupted: cycle in a page chain' <<<"$errors" && echo t)" ;;
    hnsw-meta-invalid)
        check "$kind: the index crate's finding names the index" t \
            "$(grep -q 'index "t_h" is corrupted: block 0 is not an HNSW meta page' <<<"$errors" && echo t)" ;;
    ivf-meta-invalid)
        check "$kind: the index crate's finding names the index" t \
            "$(grep -q 'index "t_i" is corrupted: block 0 is not an ivfflat meta page' <<<"$errors" && echo t)" ;;
    esac
    # Wherever the damage was found (the storage boundary or an index
    # crate), an index_corrupted error names the index: `index "t_h" is
    # corrupted: ...` (or the check function's `index "t_h" has N
    # inconsistencies`).
    unnamed=$(grep 'XX002' <<<"$errors" | grep -Ev 'index "t_[hi]" (is corrupted: |has [0-9]+ inconsistencies)' || true)
    check "$kind: every index_corrupted error names the index" "" "$unnamed"
    check "$kind: reads leave the index files' sizes unchanged" "$sizes_before" "$sizes_reads"
    grew=$(sql corrupt "$P" -c "SELECT pg_relation_size('t_h') <= ${sizes_before% *} + 4 * 8192 AND pg_relation_size('t_i') <= ${sizes_before#* } + 4 * 8192")
    check "$kind: 20 inserts grow an index by at most 4 pages" t "$grew"
    check "$kind: the postmaster did not restart" "$started" "$(sql corrupt "$P" -c "SELECT pg_postmaster_start_time()")"
done
log="$(cluster_dir corrupt)/server.log"
check "no backend was terminated by a signal" 0 "$(as_postgres grep -c 'terminated by signal' "$log")"
check "no PANIC in the server log" 0 "$(as_postgres grep -c 'PANIC' "$log")"
finish
