#!/usr/bin/env bash
# Install what building and testing need, skipping whatever is already there:
# Debian's PostgreSQL 15 (server, headers, contrib), clang for bindgen, sudo, and the
# pinned cargo-pgrx 0.18.0 (about 10 minutes to compile, so only when missing).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

packages=(postgresql-15 postgresql-server-dev-15 postgresql-contrib libclang-dev clang sudo pkg-config make)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! cargo pgrx --version 2>/dev/null | grep -q ' 0\.18\.0'; then
    echo "==> installing cargo-pgrx 0.18.0 (takes about 10 minutes)"
    cargo install cargo-pgrx --version 0.18.0 --locked
fi

if ! grep -q '^pg15' "${PGRX_HOME:-$HOME/.pgrx}/config.toml" 2>/dev/null; then
    echo "==> cargo pgrx init --pg15 $PG_CONFIG"
    cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
fi
