//! Analyses: plain functions over the spatial snapshot, no SQL, HTTP or global state.

pub mod lighting;
