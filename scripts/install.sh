#!/usr/bin/env bash
# Build in release mode and install into the PostgreSQL that pg_config names.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$PROJECT_DIR"
sudo_flag=()
[ "$(id -u)" -eq 0 ] || sudo_flag=(--sudo)
cargo pgrx install --release --pg-config "$PG_CONFIG" "${sudo_flag[@]}" 2>&1 | grep -vE '^\s*(Compiling|Downloaded|Downloading)' || true
test -f "$("$PG_CONFIG" --sharedir)/extension/pgvector_rs.control"
