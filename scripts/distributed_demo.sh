#!/usr/bin/env bash
# Distributed search demo: a head and two data nodes, each its own cluster owned by
# postgres on a loopback TCP port. The head holds a hash-partitioned table whose
# partitions are postgres_fdw foreign tables on the data nodes; the data nodes hold the
# rows and their HNSW indexes. The query is the one `make run` shows, run on the head.
#   scripts/distributed_demo.sh          # start (or reuse) the clusters, load, query
#   scripts/distributed_demo.sh stop     # stop the three clusters
# Ports: HEAD_PORT (28861), NODE1_PORT (28862), NODE2_PORT (28863).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$PROJECT_DIR"
HEAD_PORT=${HEAD_PORT:-28861}
NODE1_PORT=${NODE1_PORT:-28862}
NODE2_PORT=${NODE2_PORT:-28863}

if [ "${1:-}" = stop ]; then
    for c in dist-head dist-node1 dist-node2; do scripts/cluster.sh stop "$c"; done
    exit 0
fi

scripts/cluster.sh start dist-node1 "$NODE1_PORT" tcp
scripts/cluster.sh start dist-node2 "$NODE2_PORT" tcp
scripts/cluster.sh start dist-head "$HEAD_PORT" tcp
psql_at() { # psql_at NAME PORT [args]
    local name=$1 port=$2
    shift 2
    as_postgres "$(pg_bindir)/psql" -X -q -h "$(cluster_dir "$name")" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}
echo_run() { # show a command, then run it
    echo "\$ $*" | sed "s|$(cluster_dir dist-head)|\$HEAD_SOCKET|"
    "$@"
}

for node in "dist-node1 $NODE1_PORT" "dist-node2 $NODE2_PORT"; do
    # shellcheck disable=SC2086
    psql_at $node <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS items;
DROP EXTENSION IF EXISTS pgvector_rs CASCADE;
CREATE EXTENSION pgvector_rs;
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, summary text NOT NULL, embedding vector(384) NOT NULL);
SQL
done

echo "==> On the head (port $HEAD_PORT): two postgres_fdw servers and a table partitioned over them"
psql_at dist-head "$HEAD_PORT" -e <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS items;
DROP EXTENSION IF EXISTS postgres_fdw CASCADE;
DROP EXTENSION IF EXISTS pgvector_rs CASCADE;
CREATE EXTENSION pgvector_rs;
CREATE EXTENSION postgres_fdw;
CREATE SERVER node1 FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host 'localhost', port '$NODE1_PORT', dbname 'postgres', extensions 'pgvector_rs', connect_timeout '2', parallel_commit 'true');
CREATE SERVER node2 FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host 'localhost', port '$NODE2_PORT', dbname 'postgres', extensions 'pgvector_rs', connect_timeout '2', parallel_commit 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER node1 OPTIONS (user 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER node2 OPTIONS (user 'postgres');
CREATE TABLE items (id int, name text NOT NULL, summary text NOT NULL, embedding vector(384) NOT NULL)
    PARTITION BY HASH (id);
CREATE FOREIGN TABLE items_node1 PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER 0)
    SERVER node1 OPTIONS (table_name 'items');
CREATE FOREIGN TABLE items_node2 PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER 1)
    SERVER node2 OPTIONS (table_name 'items');
SQL

echo "==> Loading demo/pypi_demo.csv.gz through the head (rows are routed to the data nodes)"
gzip -dc demo/pypi_demo.csv.gz | psql_at dist-head "$HEAD_PORT" -c "\copy items FROM STDIN WITH (FORMAT csv)"
for node in "dist-node1 $NODE1_PORT" "dist-node2 $NODE2_PORT"; do
    # shellcheck disable=SC2086
    echo "    ${node%% *}: $(psql_at $node -At -c 'SELECT count(*) FROM items') rows, hnsw index:" \
        "$(psql_at $node -At -c 'CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops)' -c 'ANALYZE items' -c "SELECT pg_size_pretty(pg_relation_size('items_embedding_idx'))")"
done
psql_at dist-head "$HEAD_PORT" -c "ANALYZE items" 2>/dev/null

echo
echo "==> The query, on the head"
query=$(cat <<'SQL'
SELECT embedding AS q FROM items WHERE id = 7 \gset
SET hnsw.ef_search = 100;
PREPARE search(vector) AS
SELECT name, round((embedding <=> $1)::numeric, 4) AS distance, left(summary, 50) AS summary
FROM items ORDER BY embedding <=> $1 LIMIT 5;
EXECUTE search(:'q');
SET plan_cache_mode = force_generic_plan;  -- show the plan with $1, as a driver's prepared statement has it
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE search(:'q');
SQL
)
echo "$query" | sed 's/^/  /'
echo
echo "$query" | psql_at dist-head "$HEAD_PORT"
echo "Head:   psql -h localhost -p $HEAD_PORT -U postgres postgres"
echo "Nodes:  ports $NODE1_PORT and $NODE2_PORT.  Stop with: scripts/distributed_demo.sh stop"
