//! Citizen reports: what citizens tell us about dark paths, broken lamps and unsafe places.

pub mod store;
