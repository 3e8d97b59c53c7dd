//! Citizen reports: what citizens tell us about dark paths, broken lamps and unsafe places.
//!
//! [`services`] defines what can be reported, [`submit`] validates a submission and places it on
//! the map, [`group_commit`] stores concurrent submissions in one transaction, [`rate_limit`]
//! bounds submissions per client and [`publish`] makes committed changes visible to the
//! analyses. What a report is lives in `crate::model`, its storage in `crate::store::reports`.
//! What citizens and coordinators are answered is `crate::service::open311` (Open311 GeoReport
//! v2) and `crate::service::reports`; `crate::api::open311` and `crate::api::reports` translate
//! them to HTTP.

pub mod demo;
pub mod group_commit;
pub mod publish;
pub mod rate_limit;
pub mod services;
pub mod submit;
