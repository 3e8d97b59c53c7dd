//! The patrol plan's rules: which hotspots are significant, how they rank, and when to be there.
//!
//! **What is a significant hotspot here.** DBSCAN clusters say where incidents are dense;
//! Getis-Ord Gi* with Benjamini–Hochberg FDR says where the density is more than chance. A
//! cluster enters the plan when a Gi* cell at 95 % or more (bin ≥ 2) lies in it: the cell's
//! centre inside the cluster's hull, or the cluster's centre inside the cell. Clusters are ranked
//! by that confidence (99 % before 95 %) and then by their number of incidents.
//!
//! **When.** Each cluster's weekday × hour profile (Europe/Stockholm local time) gives up to
//! [`MAX_WINDOWS`] patrol windows: the busiest [`WINDOW_HOURS`]-hour stretch of the week, then
//! the busiest one not overlapping it, and so on, each trimmed of empty hours at its ends (the
//! rule the cluster's `peak` follows) and kept only while it holds at least
//! [`MIN_WINDOW_EVENTS`] events and is busier than chance by the peak's own test
//! ([`window_p`] at most [`PEAK_ALPHA`]): a hotspot whose events are spread over the week gets
//! no patrol window, and the plan says [`crate::analysis::hotspot::profile::NO_PATTERN_SV`].

use geo::{Contains, Point};
use serde::Serialize;

use crate::analysis::hotspot::Cluster;
use crate::analysis::hotspot::gistar::GiStarResult;
use crate::analysis::hotspot::profile::{PEAK_ALPHA, Profile, window_p, window_text};

/// Length of a patrol window in hours.
pub const WINDOW_HOURS: usize = 4;
/// A window with fewer events (aoristic weight) is not worth a patrol of its own.
pub const MIN_WINDOW_EVENTS: f64 = 2.0;
/// Windows per hotspot.
pub const MAX_WINDOWS: usize = 3;

/// One time window of the week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// Start weekday (0 = Monday) and hour, local time.
    pub weekday: usize,
    pub hour: usize,
    pub hours: usize,
    /// Events in the window (aoristic weight).
    pub count: f64,
    /// Its p-value against the week's uniform expectation ([`window_p`]).
    pub p: f64,
    /// In Swedish, e.g. `fre–lör 22–02`.
    pub label: String,
}

/// The busiest non-overlapping windows of a weekday × hour profile, busiest first.
pub fn patrol_windows(profile: &Profile, width: usize, max: usize, min_events: f64) -> Vec<Window> {
    let total = profile.total();
    let mut used = [false; 168];
    let mut out = Vec::new();
    while out.len() < max {
        let Some((start, hours, count)) = profile.busiest_window(width, &used) else {
            break;
        };
        let p = window_p(count, total, width);
        if count < min_events.max(1e-9) - 1e-9 || p > PEAK_ALPHA {
            break;
        }
        for j in 0..hours {
            used[(start + j) % 168] = true;
        }
        out.push(Window {
            weekday: start / 24,
            hour: start % 24,
            hours,
            count,
            p,
            label: window_text(start, hours),
        });
    }
    out
}

/// The strongest Gi* confidence bin (2 or 3) of a cell that lies in the cluster, if any.
pub fn significance(cluster: &Cluster, gi: &GiStarResult) -> Option<i8> {
    let half = gi.cell / 2.0;
    gi.cells
        .iter()
        .filter(|c| c.bin >= 2)
        .filter(|c| {
            let centre_in_hull = cluster.hull.contains(&Point::new(c.centre[0], c.centre[1]));
            // The cluster's centre in the cell (square or hexagon: the inscribed square is a
            // safe test for both, the circumscribed one would claim neighbours).
            let centre_in_cell = (cluster.centre[0] - c.centre[0]).abs() <= half * 0.866
                && (cluster.centre[1] - c.centre[1]).abs() <= half * 0.866;
            centre_in_hull || centre_in_cell
        })
        .map(|c| c.bin)
        .max()
}

/// A hotspot in the plan.
pub struct PlannedHotspot<'a> {
    pub rank: usize,
    pub bin: i8,
    pub cluster: &'a Cluster,
    pub windows: Vec<Window>,
}

/// Significant clusters ranked by confidence, then size; at most `limit`.
pub fn rank_hotspots<'a>(
    clusters: &'a [Cluster],
    gi: &GiStarResult,
    limit: usize,
) -> Vec<PlannedHotspot<'a>> {
    let mut sig: Vec<(i8, &Cluster)> = clusters
        .iter()
        .filter_map(|c| significance(c, gi).map(|b| (b, c)))
        .collect();
    sig.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.count().cmp(&a.1.count()))
            .then(a.1.id.cmp(&b.1.id))
    });
    sig.into_iter()
        .take(limit)
        .enumerate()
        .map(|(i, (bin, c))| PlannedHotspot {
            rank: i + 1,
            bin,
            cluster: c,
            windows: patrol_windows(&c.profile, WINDOW_HOURS, MAX_WINDOWS, MIN_WINDOW_EVENTS),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(entries: &[(usize, usize, u32)]) -> Profile {
        let mut p = Profile::default();
        for &(d, h, n) in entries {
            p.0[d][h] = f64::from(n);
        }
        p
    }

    #[test]
    fn windows_are_the_busiest_non_overlapping_stretches() {
        // Friday 22–02 (wrapping into Saturday) holds 3+4+2+1 = 10; Tuesday 15–17 holds 6;
        // a lone Sunday 03 event is below the minimum.
        let p = profile(&[
            (4, 22, 3),
            (4, 23, 4),
            (5, 0, 2),
            (5, 1, 1),
            (1, 15, 3),
            (1, 16, 3),
            (6, 3, 1),
        ]);
        let w = patrol_windows(&p, 4, 3, 2.0);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            (w[0].weekday, w[0].hour, w[0].hours, w[0].count),
            (4, 22, 4, 10.0)
        );
        assert_eq!(w[0].label, "fre–lör 22–02");
        // Trimmed to the two busy hours.
        assert_eq!(
            (w[1].weekday, w[1].hour, w[1].hours, w[1].count),
            (1, 15, 2, 6.0)
        );
        assert_eq!(w[1].label, "tis 15–17");
    }

    #[test]
    fn windows_wrap_from_sunday_into_monday() {
        let p = profile(&[(6, 23, 5), (0, 0, 5)]);
        let w = patrol_windows(&p, 4, 3, 2.0);
        assert_eq!(w.len(), 1);
        assert_eq!(
            (w[0].weekday, w[0].hour, w[0].hours, w[0].count),
            (6, 23, 2, 10.0)
        );
        assert_eq!(w[0].label, "sön–mån 23–01");
    }

    #[test]
    fn an_empty_profile_has_no_windows() {
        assert!(patrol_windows(&Profile::default(), 4, 3, 2.0).is_empty());
    }

    fn cluster(id: &str, members: usize, centre: [f64; 2]) -> Cluster {
        let [x, y] = centre;
        let hull = geo::Rect::new(
            geo::coord! { x: x - 50.0, y: y - 50.0 },
            geo::coord! { x: x + 50.0, y: y + 50.0 },
        )
        .to_polygon();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        Cluster {
            id: id.into(),
            members: (0..members).collect(),
            core_points: members,
            categories: Default::default(),
            first: day,
            last: day,
            profile: profile(&[(4, 22, members as u32)]),
            uncertain_weight: 0.0,
            without_hour: 0,
            peak: None,
            centre,
            hull,
        }
    }

    fn cell(centre: [f64; 2], bin: i8) -> crate::analysis::hotspot::gistar::GiStarCell {
        crate::analysis::hotspot::gistar::GiStarCell {
            id: (0, 0),
            centre,
            count: 1,
            neighbours: 1,
            z: 0.0,
            p: 1.0,
            bin,
        }
    }

    fn gi(cells: Vec<crate::analysis::hotspot::gistar::GiStarCell>) -> GiStarResult {
        GiStarResult {
            grid: Default::default(),
            cell: 100.0,
            band: 300.0,
            cell_derived: false,
            band_derived: false,
            analysed: cells.len(),
            fdr_cutoffs: [None; 3],
            cells,
            study_area_used: false,
        }
    }

    #[test]
    fn a_cluster_is_significant_by_its_strongest_cell_inside_it() {
        let c = cluster("a", 5, [1000.0, 1000.0]);
        // A 99 % cell 40 m off (centre in the 100 m hull) and a 95 % one: the 99 % counts.
        let g = gi(vec![cell([1040.0, 1000.0], 2), cell([960.0, 990.0], 3)]);
        assert_eq!(significance(&c, &g), Some(3));
        // 90 % (bin 1) and cold cells never make a hotspot.
        let g = gi(vec![cell([1000.0, 1000.0], 1), cell([1000.0, 1000.0], -3)]);
        assert_eq!(significance(&c, &g), None);
        // A 95 % cell whose centre is 80 m off: outside the hull (±50 m), but the cluster's
        // centre is within 0.866 × 50 = 43.3 m of the cell's? No: 80 > 43.3, so not in it.
        let g = gi(vec![cell([1080.0, 1000.0], 2)]);
        assert_eq!(significance(&c, &g), None);
        // 45 m off: the cell's centre is in the hull.
        let g = gi(vec![cell([1045.0, 1000.0], 2)]);
        assert_eq!(significance(&c, &g), Some(2));
    }

    #[test]
    fn hotspots_rank_by_confidence_then_size_and_stop_at_the_limit() {
        let clusters = vec![
            cluster("small99", 4, [0.0, 0.0]),
            cluster("big95", 30, [5000.0, 0.0]),
            cluster("none", 100, [10000.0, 0.0]),
            cluster("mid95", 12, [15000.0, 0.0]),
        ];
        let g = gi(vec![
            cell([0.0, 0.0], 3),
            cell([5000.0, 0.0], 2),
            cell([15000.0, 0.0], 2),
        ]);
        let ranked = rank_hotspots(&clusters, &g, 10);
        let order: Vec<(&str, usize, i8)> = ranked
            .iter()
            .map(|h| (h.cluster.id.as_str(), h.rank, h.bin))
            .collect();
        assert_eq!(order, [("small99", 1, 3), ("big95", 2, 2), ("mid95", 3, 2)]);
        // Each planned hotspot carries its windows: all its events fall on Friday 22.
        assert_eq!(ranked[1].windows.len(), 1);
        assert_eq!(ranked[1].windows[0].count, 30.0);
        assert_eq!(ranked[1].windows[0].label, "fre 22–23");
        assert_eq!(rank_hotspots(&clusters, &g, 2).len(), 2);
    }
}
