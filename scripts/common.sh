# Shared helpers for the project's scripts: where Postgres is, and how to run commands as
# the `postgres` user (Postgres refuses to run as root).
set -euo pipefail

PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
PG_MAJOR=${PG_MAJOR:-15}

pg_bindir() {
    local bindir
    bindir=$("$PG_CONFIG" --bindir 2>/dev/null || true)
    if [ -n "$bindir" ] && [ -x "$bindir/pg_ctl" ]; then
        echo "$bindir"
    else
        echo "/usr/lib/postgresql/$PG_MAJOR/bin"
    fi
}

# Run a command as the postgres user, whether we are root (CI) or a user with sudo.
as_postgres() {
    if [ "$(id -un)" = postgres ]; then
        "$@"
    elif [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres -- "$@"
    fi
}

# Run a command as root (installs), directly when we are root.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -- "$@"; fi
}

# A directory for cluster NAME that the postgres user can reach: under the project when
# it can (a checkout under /root cannot), else under /var/tmp.
cluster_dir() {
    local name=$1
    if as_postgres test -x "$PROJECT_DIR" 2>/dev/null && as_postgres test -r "$PROJECT_DIR" 2>/dev/null; then
        echo "$PROJECT_DIR/.pgdata/$name"
    else
        local tag
        tag=$(printf '%s' "$PROJECT_DIR" | md5sum | cut -c1-8)
        echo "/var/tmp/pgvector_rs-$tag/$name"
    fi
}
