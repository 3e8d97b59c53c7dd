//! Lägesbild's integration tests, one binary: `cargo test --test it` runs them all,
//! `cargo test --test it privacy::` one module.
//!
//! [`support`] starts a real server on port 0 over a real SQLite file and talks HTTP to it; every
//! test that needs a server uses it. Fixtures are in `tests/fixtures/` (attribution in its
//! README).

mod support;

mod answer_memory;
mod cancel;
mod emerging;
mod export_gpkg;
mod fuzz_import;
mod fuzz_open311;
mod hotspots;
mod import;
mod import_crash;
mod lagesbild;
mod lighting;
mod limits;
mod measures;
mod migrate;
mod near_repeat;
mod ogc;
mod open311;
mod openapi;
mod patrol_dosage;
mod privacy;
mod replicas;
mod reports_crash;
mod security_headers;
mod server;
mod store;
mod tiles;
mod web;
