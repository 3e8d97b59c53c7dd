//! Citizen reports: what citizens tell us about dark paths, broken lamps and unsafe places.
//!
//! [`services`] defines what can be reported, [`submit`] validates a submission and places it on
//! the map, [`store`] is the storage trait, [`rate_limit`] bounds submissions per client and
//! [`publish`] makes committed changes visible to the analyses. The HTTP faces are
//! `crate::api::open311` (citizens, Open311 GeoReport v2) and `crate::api::reports`
//! (coordinators).

pub mod demo;
pub mod group_commit;
pub mod publish;
pub mod rate_limit;
pub mod services;
pub mod store;
pub mod submit;
