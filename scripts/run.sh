#!/usr/bin/env bash
# `make run`: a local cluster with the extension and a small real demo table, then one
# similarity query. Safe to run again: it reuses the cluster and reloads the demo table.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$PROJECT_DIR"
PORT=${PORT:-28815}

"$PROJECT_DIR/scripts/cluster.sh" start run "$PORT" tcp
root=$(cluster_dir run)
psql_run() { "$(pg_bindir)/psql" -X -q -h "$root" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }

psql_run -d postgres -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS pgvector_rs CASCADE" -c "CREATE EXTENSION pgvector_rs"
psql_run -d postgres <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS pypi_demo;
CREATE TABLE pypi_demo (id int PRIMARY KEY, name text NOT NULL, summary text NOT NULL, embedding vector(384) NOT NULL);
SQL
gzip -dc demo/pypi_demo.csv.gz | psql_run -d postgres -c "\copy pypi_demo FROM STDIN WITH (FORMAT csv)"
psql_run -d postgres -c "ANALYZE pypi_demo"

echo
echo "Loaded $(psql_run -d postgres -At -c 'SELECT count(*) FROM pypi_demo') PyPI package summaries with all-MiniLM-L6-v2 embeddings."
echo "Packages most similar to '$(psql_run -d postgres -At -c "SELECT name FROM pypi_demo WHERE id = 7")' (cosine distance, <=>):"
echo
psql_run -d postgres <<'SQL'
SELECT p.name, round((p.embedding <=> q.embedding)::numeric, 4) AS distance, left(p.summary, 60) AS summary
FROM pypi_demo p, (SELECT embedding FROM pypi_demo WHERE id = 7) q
ORDER BY p.embedding <=> q.embedding
LIMIT 5;
SQL
echo "Connect with:  psql -h $root -p $PORT -U postgres postgres"
echo "         or:   psql -h localhost -p $PORT -U postgres postgres"
echo "Stop with:     scripts/cluster.sh stop run"
