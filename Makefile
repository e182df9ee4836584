# pgvector_rs — the README's commands. Everything else lives in scripts/.
PG_CONFIG ?= /usr/bin/pg_config
export PG_CONFIG

.PHONY: run test install deps bench clean-clusters

## make run: install what is missing, build, install, start a local cluster, load the demo
run: deps install
	@scripts/run.sh

## make test: unit, property, in-database and SQL regression tests
test: deps
	@scripts/test.sh

## make install: build in release mode and install into the Postgres named by PG_CONFIG
install: deps
	@scripts/install.sh

deps:
	@scripts/deps.sh

## make bench: criterion micro-benchmarks of the kernels and literal parsing
bench:
	cargo bench -p pgvector_rs-kernels --bench distance
	cargo bench -p pgvector_rs-format --bench parse

clean-clusters:
	-scripts/cluster.sh stop run
	-scripts/cluster.sh stop regress
