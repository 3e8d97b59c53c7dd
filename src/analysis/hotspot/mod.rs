//! Crime hotspots: where, and when.
//!
//! Three methods over the point-level incidents a [`crate::analysis::filter::IncidentFilter`]
//! selects, one per file:
//! - [`dbscan`]: density clusters (the same labels as `geo`'s `Dbscan`, faster), outlined by
//!   [`hull`], each with its category mix, dates and weekday × hour [`profile`];
//! - [`gistar`]: Getis-Ord Gi* on a square or hexagonal [`grid`], with Benjamini–Hochberg FDR;
//! - [`kde`]: quartic kernel density;
//! - [`ehsa`]: emerging hot spots, Gi* over a space-time cube of cells × weeks or months with a
//!   Mann–Kendall trend per cell, classified as ArcGIS's Emerging Hot Spot Analysis does;
//!
//! and [`compare`] for period A against period B. Everything here works in EPSG:3006 metres;
//! the API turns results into WGS84 GeoJSON.

pub mod compare;
pub mod dbscan;
pub mod ehsa;
pub mod gistar;
pub mod grid;
pub mod hull;
pub mod kde;
pub mod profile;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use geo::Polygon;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::analysis::cancel::{Cancel, Cancelled};
use crate::analysis::filter::IncidentFilter;
use crate::spatial::SnapIncident;
use crate::spatial::Snapshot;

use profile::{Peak, Profile};

/// DBSCAN radius used when none is given, in metres.
pub const DEFAULT_EPS: f64 = 100.0;
/// DBSCAN minimum neighbourhood (the point itself included) used when none is given.
pub const DEFAULT_MIN_POINTS: usize = 5;

/// One DBSCAN cluster of incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Stable for the same members: `c` and the first 16 hex digits of the SHA-256 of the
    /// members' sorted `source:source_id`.
    pub id: String,
    /// Indices into the slice of incidents given to [`clusters`].
    pub members: Vec<usize>,
    pub core_points: usize,
    /// Events per category code.
    pub categories: BTreeMap<String, usize>,
    /// First and last local (Stockholm) date.
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Aoristic weekday × hour weights (see [`profile`]).
    pub profile: Profile,
    /// Of the profile's weight, what came from events known only to a window.
    pub uncertain_weight: f64,
    /// Members known only to a date or a month: in the cluster, not in its profile.
    pub without_hour: usize,
    pub peak: Option<Peak>,
    /// Mean of the members, EPSG:3006.
    pub centre: [f64; 2],
    /// EPSG:3006.
    pub hull: Polygon<f64>,
}

impl Cluster {
    pub fn count(&self) -> usize {
        self.members.len()
    }
}

/// The stable id of a set of incidents.
pub fn cluster_id<'a>(members: impl IntoIterator<Item = &'a SnapIncident>) -> String {
    let mut keys: Vec<&SnapIncident> = members.into_iter().collect();
    // The keys `source:source_id`, sorted as those strings would be: by the ranks the layer
    // gave its incidents when all have one, else by the strings themselves.
    if keys.iter().all(|k| k.key_rank > 0) {
        keys.sort_unstable_by_key(|k| k.key_rank);
    } else {
        keys.sort_unstable_by(|a, b| crate::spatial::key_order(a, b));
    }
    let mut text = Vec::with_capacity(keys.len() * 16);
    for k in &keys {
        text.extend_from_slice(k.source.as_bytes());
        text.push(b':');
        text.extend_from_slice(k.source_id.as_bytes());
        text.push(b'\n');
    }
    format!("c{}", &hex::encode(Sha256::digest(&text))[..16])
}

/// DBSCAN clusters of `incidents` (which should be point-level), largest first.
pub fn clusters(incidents: &[&SnapIncident], eps: f64, min_points: usize) -> Vec<Cluster> {
    clusters_with(incidents, eps, min_points, &Cancel::never()).expect("never cancelled")
}

/// [`clusters`], stopping with [`Cancelled`] soon after `cancel` is tripped.
pub fn clusters_with(
    incidents: &[&SnapIncident],
    eps: f64,
    min_points: usize,
    cancel: &Cancel,
) -> Result<Vec<Cluster>, Cancelled> {
    let pts: Vec<[f64; 2]> = incidents
        .iter()
        .map(|i| [i.location.x(), i.location.y()])
        .collect();
    clusters_of(incidents, &pts, eps, min_points, cancel)
}

/// [`clusters_with`] when the caller has the incidents' coordinates already (`pts[i]` is
/// `incidents[i]`'s location, as [`crate::analysis::filter::Selection::coords`] gives them).
pub fn clusters_of(
    incidents: &[&SnapIncident],
    pts: &[[f64; 2]],
    eps: f64,
    min_points: usize,
    cancel: &Cancel,
) -> Result<Vec<Cluster>, Cancelled> {
    assert_eq!(incidents.len(), pts.len(), "one coordinate per incident");
    let groups = dbscan::labelled_with(pts, eps, min_points, cancel)?.clusters();
    let mut out: Vec<Cluster> = groups
        .into_par_iter()
        .filter(|(m, _)| !m.is_empty())
        .map(|(members, core_points)| -> Result<Cluster, Cancelled> {
            cancel.check()?;
            let incs: Vec<&SnapIncident> = members.iter().map(|&i| incidents[i]).collect();
            let mut categories: BTreeMap<&str, usize> = BTreeMap::new();
            let mut first = NaiveDate::MAX;
            let mut last = NaiveDate::MIN;
            let mut profile = Profile::default();
            let (mut uncertain_weight, mut without_hour) = (0.0, 0);
            let (mut sx, mut sy) = (0.0, 0.0);
            for inc in &incs {
                *categories.entry(&*inc.category).or_insert(0) += 1;
                let (a, b) = inc.local_days();
                first = first.min(a);
                last = last.max(b);
                // Aoristic: a window spreads over its hours; a date or a month has none and
                // would pile up at midnight.
                match profile.add_incident(inc) {
                    Some(w) => uncertain_weight += w,
                    None => without_hour += 1,
                }
                sx += inc.location.x();
                sy += inc.location.y();
            }
            let n = members.len() as f64;
            let member_pts: Vec<[f64; 2]> = members.iter().map(|&i| pts[i]).collect();
            Ok(Cluster {
                id: cluster_id(incs.iter().copied()),
                core_points,
                categories: categories
                    .into_iter()
                    .map(|(c, n)| (c.to_string(), n))
                    .collect(),
                first,
                last,
                peak: profile.peak(),
                profile,
                uncertain_weight,
                without_hour,
                centre: [sx / n, sy / n],
                hull: hull::cluster_hull(&member_pts, eps),
                members,
            })
        })
        .collect::<Result<_, Cancelled>>()?;
    out.sort_by(|a, b| b.count().cmp(&a.count()).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

/// A hotspot in one line, for the lägesbild summary page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotspotSummary {
    pub id: String,
    /// EPSG:3006.
    pub centre: [f64; 2],
    /// WGS84 `[lon, lat]` (rounded to 7 decimals), when PROJ can transform the centre.
    pub centre_wgs84: Option<[f64; 2]>,
    pub count: usize,
    /// The busiest four hours, e.g. `fre–lör 22–02`, or
    /// [`profile::NO_PATTERN_SV`] when they are not busier than chance.
    pub peak: Option<String>,
    /// The most frequent category code.
    pub top_category: Option<String>,
    /// A district containing the centre, when districts are loaded.
    pub district: Option<String>,
}

/// The `n` largest DBSCAN clusters (default radius and minimum) of the incidents `filter`
/// selects from the snapshot, as one-line summaries. Events known only to a municipality or
/// county never form a hotspot.
pub fn top_hotspots(snapshot: &Snapshot, filter: &IncidentFilter, n: usize) -> Vec<HotspotSummary> {
    top_hotspots_with(snapshot, filter, n, &Cancel::never()).expect("never cancelled")
}

/// [`top_hotspots`], stopping with [`Cancelled`] soon after `cancel` is tripped.
pub fn top_hotspots_with(
    snapshot: &Snapshot,
    filter: &IncidentFilter,
    n: usize,
    cancel: &Cancel,
) -> Result<Vec<HotspotSummary>, Cancelled> {
    let sel = filter.select_in(&snapshot.incidents);
    Ok(
        clusters_with(&sel.points, DEFAULT_EPS, DEFAULT_MIN_POINTS, cancel)?
            .into_iter()
            .take(n)
            .map(|c| HotspotSummary {
                centre_wgs84: crate::crs::to_wgs84(c.centre[0], c.centre[1])
                    .ok()
                    .map(|(lon, lat)| [crate::crs::round7(lon), crate::crs::round7(lat)]),
                district: snapshot
                    .areas
                    .containing(geo::Point::new(c.centre[0], c.centre[1]))
                    .map(|a| a.name.clone()),
                top_category: c
                    .categories
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                    .map(|(k, _)| k.clone()),
                peak: c.peak.as_ref().map(|p| p.words().to_string()),
                count: c.count(),
                centre: c.centre,
                id: c.id,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CategoryGroup, LocationPrecision};
    use chrono::{DateTime, FixedOffset};
    use geo::Point;

    #[test]
    fn cluster_ids_hash_the_sorted_source_keys() {
        // Sources where sorting (source, id) pairs and sorting "source:id" strings differ:
        // "a-" < "a" < "ab" as pairs, but "a-:…" < "a:…" < "ab:…" only by the joined strings.
        let mut members = Vec::new();
        for (src, id) in [
            ("ab", "1"),
            ("a", "9"),
            ("a-", "2"),
            ("a", "10"),
            ("b", "0"),
            // A byte below the newline that follows each key: "a:9" < "a:9\t" as strings.
            ("a", "9\t"),
        ] {
            let mut i = inc(0, 0.0, 0.0, "2025-01-01T12:00:00+01:00");
            i.source = src.into();
            i.source_id = id.into();
            members.push(i);
        }
        // The definition: the strings "source:source_id", sorted, each with a newline.
        let mut keys: Vec<String> = members
            .iter()
            .map(|i| format!("{}:{}", i.source, i.source_id))
            .collect();
        keys.sort();
        let mut h = Sha256::new();
        for k in &keys {
            h.update(format!("{k}\n").as_bytes());
        }
        let want = format!("c{}", &hex::encode(h.finalize())[..16]);
        assert_eq!(cluster_id(members.iter()), want);
        assert_eq!(
            cluster_id(members.iter().rev()),
            want,
            "order of members does not matter"
        );
        // In a layer the members carry ranks in key order and are sorted by them: the same id.
        let mut b = crate::spatial::IncidentLayer::builder(members.len());
        for m in members.iter().rev() {
            b.push(&crate::model::Incident {
                source: m.source.to_string(),
                source_id: m.source_id.to_string(),
                occurred_at: m.occurred_at,
                time_precision: m.time_precision,
                occurred_to: None,
                category: m.category.to_string(),
                group: m.group,
                label: m.label.to_string(),
                location: m.location,
                precision: m.precision,
                place: None,
                summary: None,
            });
        }
        let layer = b.build();
        assert!(layer.items.iter().all(|i| i.key_rank > 0));
        assert_eq!(cluster_id(layer.items.iter()), want);
        assert_eq!(cluster_id(layer.items.iter().rev().take(3)), {
            let mut k: Vec<String> = layer
                .items
                .iter()
                .rev()
                .take(3)
                .map(|i| format!("{}:{}\n", i.source, i.source_id))
                .collect();
            k.sort();
            format!(
                "c{}",
                &hex::encode(Sha256::digest(k.concat().as_bytes()))[..16]
            )
        });
    }

    fn inc(id: usize, x: f64, y: f64, at: &str) -> SnapIncident {
        SnapIncident {
            source: "t".into(),
            source_id: crate::spatial::SourceId::new(&id.to_string()),
            occurred_at: DateTime::<FixedOffset>::parse_from_rfc3339(at).unwrap(),
            time_precision: Default::default(),
            occurred_to: None,
            category: if id % 3 == 0 { "robbery" } else { "assault" }.into(),
            group: CategoryGroup::Violence,
            label: "x".into(),
            location: Point::new(x, y),
            precision: LocationPrecision::Exact,
            times: crate::analysis::filter::LocalTimes::compute(
                &DateTime::<FixedOffset>::parse_from_rfc3339(at).unwrap(),
                Default::default(),
                None,
            ),
            key_rank: 0,
        }
    }

    #[test]
    fn cluster_properties_and_stable_ids() {
        let mut incs = Vec::new();
        for k in 0..30 {
            let a = k as f64 * 0.7;
            incs.push(inc(
                k,
                1000.0 + 20.0 * a.cos(),
                2000.0 + 20.0 * a.sin(),
                "2026-05-01T22:30:00+02:00",
            ));
        }
        incs.push(inc(99, 5000.0, 5000.0, "2026-03-01T12:00:00+01:00"));
        let refs: Vec<&SnapIncident> = incs.iter().collect();
        let cs = clusters(&refs, 30.0, 5);
        assert_eq!(cs.len(), 1);
        let c = &cs[0];
        assert_eq!(c.count(), 30);
        assert_eq!(c.categories["robbery"], 10);
        assert_eq!(c.first, NaiveDate::from_ymd_opt(2026, 5, 1).unwrap());
        // All at Friday 22:30 local: the window is trimmed to the hour that holds them.
        assert_eq!(c.peak.as_ref().unwrap().text, "fre 22–23");
        // Reversed input order gives the same id.
        let rev: Vec<&SnapIncident> = incs.iter().rev().collect();
        assert_eq!(clusters(&rev, 30.0, 5)[0].id, c.id);
    }

    #[test]
    fn events_without_an_hour_are_in_the_cluster_but_not_its_hours() {
        use crate::model::TimePrecision;
        // 20 events on Friday 22:30, and 20 known only to the date (Saturday 2 May), stored at
        // its midnight: the cluster holds 40 and spans both dates, but its profile holds the 20
        // with an hour, none at Saturday 00:00.
        let mut incs = Vec::new();
        for k in 0..40 {
            let a = k as f64 * 0.7;
            let (at, p) = if k < 20 {
                ("2026-05-01T22:30:00+02:00", TimePrecision::Exact)
            } else {
                ("2026-05-02T00:00:00+02:00", TimePrecision::Date)
            };
            let mut i = inc(k, 1000.0 + 20.0 * a.cos(), 2000.0 + 20.0 * a.sin(), at);
            i.time_precision = p;
            incs.push(i);
        }
        let refs: Vec<&SnapIncident> = incs.iter().collect();
        let cs = clusters(&refs, 30.0, 5);
        assert_eq!(cs.len(), 1);
        let c = &cs[0];
        assert_eq!(c.count(), 40);
        assert_eq!(c.last, NaiveDate::from_ymd_opt(2026, 5, 2).unwrap());
        assert_eq!(c.profile.total(), 20.0);
        assert_eq!(c.profile.0[4][22], 20.0);
        assert_eq!(c.profile.0[5][0], 0.0);
        assert_eq!((c.without_hour, c.uncertain_weight), (20, 0.0));
        assert_eq!(c.peak.as_ref().unwrap().text, "fre 22–23");
    }
}
