# Lägesbild: `make run` builds and serves the demo; `make test` runs every test.
# PROJ is compiled from source by the proj crate (minutes); a stable target directory outside the
# checkout keeps that build between runs and clones.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/lagesbild/target
export CARGO_TERM_COLOR ?= never
ADDR ?= 127.0.0.1:8080
DEMO_DB ?= lagesbild-demo.sqlite

.PHONY: run test setup check bench schemathesis

setup:
	./scripts/setup.sh

run: setup
	cargo run --bin lagesbild -- --db $(DEMO_DB) demo --addr $(ADDR)

test:
	./scripts/setup.sh --browser
	cargo test --all-targets --no-fail-fast
	cargo test --doc
	cd web && npm test

check:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

bench: setup
	cargo bench

# Generated requests from /api/openapi.json against a demo server; fails on any 5xx (~3 min).
schemathesis: setup
	cargo build --bin lagesbild
	./scripts/schemathesis.sh
