# Lägesbild: `make run` builds and serves the demo; `make test` runs every test.
# PROJ is compiled from source by the proj crate (minutes); a stable target directory outside the
# checkout keeps that build between runs and clones.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/lagesbild/target
export CARGO_TERM_COLOR ?= never
ADDR ?= 127.0.0.1:8080
DEMO_DB ?= lagesbild-demo.sqlite

.PHONY: run test setup check bench fuzz fuzz-open311 schemathesis

setup:
	./scripts/setup.sh

run: setup
	cargo run --bin lagesbild -- --db $(DEMO_DB) demo --addr $(ADDR)

test:
	./scripts/setup.sh --browser
	cargo fmt --check
	./scripts/with-postgres.sh cargo test --all-targets --no-fail-fast
	cargo test --doc
	cd web && npm test
	./scripts/schemathesis.sh
	./scripts/install-check.sh
	cargo clippy --all-targets -- -D warnings

check:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

bench: setup
	cargo bench

# Property tests of the parsers (tests/it/fuzz_*.rs, arbtest on stable Rust) for longer than the
# 2 s they get in `make test`: FUZZ_SECONDS per module. Every tests/it/fuzz_*.rs is picked up;
# FUZZ_TESTS="fuzz_import" runs only those named.
FUZZ_SECONDS ?= 60
FUZZ_TESTS ?= $(basename $(notdir $(wildcard tests/it/fuzz_*.rs)))

fuzz:
	@for t in $(FUZZ_TESTS); do \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		LAGESBILD_FUZZ_SECONDS=$(FUZZ_SECONDS) cargo test --release --test it $$t:: || exit 1; \
	done

# The Open311 form parser alone (tests/it/fuzz_open311.rs).
fuzz-open311:
	$(MAKE) fuzz FUZZ_TESTS=fuzz_open311

# Generated requests from /api/openapi.json against a demo server; fails on any 5xx (~3 min).
# (--all-targets, as `make test` builds: a bin-only build would resolve other features and
# rebuild PROJ.)
schemathesis: setup
	cargo build --all-targets
	./scripts/schemathesis.sh
