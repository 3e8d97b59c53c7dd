//! Analyses over a [`crate::spatial::Snapshot`]: plain functions over plain data, with no SQL,
//! HTTP or global state inside, so that each can be tested against reference numbers and
//! benchmarked alone.
//!
//! - [`cancel`]: the token long analyses look at to stop early (request dropped, shutdown).
//! - [`filter`]: the filters every method shares (dates, categories, hours, weekdays, area) and
//!   the split of incidents into point-level ones and those known only to a municipality or
//!   county.
//! - [`hotspot`]: DBSCAN clusters, Getis-Ord Gi* on a grid, kernel density, patrol profiles and
//!   period comparison.
//! - [`lighting`]: the illuminance model along walkways, EN 13201 P-classes, dark stretches with
//!   their priorities, and the what-if tool for proposed lamps.
//! - [`privacy`]: the public product — what anonymous callers may ask and what their answers
//!   may carry.
//! - [`patrol`]: the patrol plan's rules — which hotspots are significant, their ranking and
//!   patrol windows.
//! - [`summary`]: the lägesbild's counts per group and district with the change from the
//!   period before, and reports by status.
//! - [`limits`]: how much work one request may cause, checked before an analysis starts.
//! - [`effect`]: whether a measure worked: the odds ratio of target against comparison area,
//!   before against after.
//! - [`dosage`]: patrol presence against the patrol plan: time inside each hotspot's hull from
//!   GPS tracks and reported visits, visits, the Koper dose, per window occurrence.

pub mod cancel;
pub mod dosage;
pub mod effect;
pub mod filter;
pub mod hotspot;
pub mod lighting;
pub mod limits;
pub mod near_repeat;
pub mod patrol;
pub mod privacy;
pub mod summary;
