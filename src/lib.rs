//! Lägesbild: a shared local picture of crime, insecurity and dark walkways.
//!
//! Layout: [`ingest`] reads files into the domain [`model`]; [`store`] keeps it durably;
//! [`spatial`] holds it in R-trees in EPSG:3006; `analysis` computes hotspots and lighting from a
//! snapshot as plain functions; [`api`] serves it over HTTP; `cli` ties it together.

pub mod analysis;
pub mod api;
pub mod category;
pub mod cli;
pub mod config;
pub mod crs;
pub mod demo;
pub mod gpkg;
pub mod ingest;
pub mod model;
pub mod net;
pub mod reports;
pub mod service;
pub mod spatial;
pub mod store;
pub mod text;
pub mod tiles;
pub mod time;
