#!/usr/bin/env bash
# Manage a throwaway PostgreSQL cluster owned by the postgres user.
#   cluster.sh start NAME PORT [tcp]   create (once) and start; safe to repeat. Without
#                                      `tcp` it listens on its own Unix socket only, so test
#                                      clusters never collide with other servers' ports
#   cluster.sh stop NAME         stop (fast) if running
#   cluster.sh dir NAME          print the data directory
# Sockets live beside the data directory; TCP (if asked for) on localhost only; trust auth.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cmd=${1:?usage: cluster.sh start|stop|dir NAME [PORT]}
name=${2:?cluster name}
root=$(cluster_dir "$name")
data="$root/data"
bin=$(pg_bindir)

case "$cmd" in
dir)
    echo "$root"
    ;;
start)
    port=${3:?port}
    listen=''
    [ "${4:-}" = tcp ] && listen='localhost'
    if [ ! -s "$data/PG_VERSION" ]; then
        mkdir -p "$root"
        chown postgres "$root" 2>/dev/null || as_root chown postgres "$root"
        chmod 755 "$(dirname "$root")" 2>/dev/null || true
        as_postgres "$bin/initdb" -D "$data" -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
        cat <<CONF | as_postgres tee -a "$data/postgresql.conf" >/dev/null
port = $port
listen_addresses = '$listen'
unix_socket_directories = '$root'
shared_buffers = '1GB'
maintenance_work_mem = '1GB'
jit = off
fsync = on
CONF
    fi
    if ! as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        # No Rust backtraces in client-visible error details.
        as_postgres env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$bin/pg_ctl" -D "$data" -l "$root/server.log" -w -t 60 start >/dev/null
    fi
    ;;
stop)
    if [ -s "$data/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
    ;;
*)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
