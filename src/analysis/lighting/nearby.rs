//! What lies near a stretch: citizen reports, incidents after dark, the lamps on either side,
//! lamps that are off, and parks.
//!
//! * **Reports**: citizen reports about darkness (`dark_path`, `broken_lamp`, `vegetation`)
//!   within `report_radius_m` (25 m) of the stretch line, not closed, not hidden, not merged into
//!   another report (the surviving report counts once).
//! * **Incidents after dark**: crimes (not traffic, fires or summaries) with point-level
//!   precision within `incident_radius_m` (50 m), that happened between sunset and sunrise on
//!   their local date at the stretch ([`super::sun`]). Municipality-centre events never count.
//! * **Lamps before and after**: working lamps within `lamp_side_m` (25 m) of the walkway,
//!   projected onto it; the nearest one before the stretch start and after its end, and the
//!   distance along the walkway between them.
//! * **Park**: the walkway's name says park (`…park…`), or the stretch's midpoint lies in an area
//!   whose name does.

use std::collections::HashMap;

use chrono::NaiveDate;
use geo::{Coord, LineString};
use rstar::AABB;

use super::illuminance::LampModel;
use super::line::{Measured, distance_to_line};
use super::sun::{SunDay, sun_day};
use super::{LightingInputs, LightingParams};
use crate::model::ReportStatus;

fn envelope(line: &LineString<f64>, grow: f64) -> AABB<[f64; 2]> {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for c in &line.0 {
        lo = [lo[0].min(c.x), lo[1].min(c.y)];
        hi = [hi[0].max(c.x), hi[1].max(c.y)];
    }
    AABB::from_corners([lo[0] - grow, lo[1] - grow], [hi[0] + grow, hi[1] + grow])
}

/// Ids of open darkness reports within the report radius, ascending.
pub fn darkness_reports(
    inputs: &LightingInputs<'_>,
    params: &LightingParams,
    line: &LineString<f64>,
) -> Vec<i64> {
    let r = params.report_radius_m;
    let mut ids: Vec<i64> = inputs
        .report_tree
        .locate_in_envelope(&envelope(line, r))
        .map(|e| &inputs.reports[e.data])
        .filter(|rep| {
            rep.service.is_darkness()
                && rep.status != ReportStatus::Closed
                && !rep.hidden
                && rep.merged_into.is_none()
        })
        .filter(|rep| distance_to_line(line, rep.location.0) <= r)
        .map(|rep| rep.id)
        .collect();
    ids.sort_unstable();
    ids
}

/// Crimes with point-level precision within the incident radius that happened after dark.
pub fn incidents_after_dark(
    inputs: &LightingInputs<'_>,
    params: &LightingParams,
    line: &LineString<f64>,
) -> usize {
    let r = params.incident_radius_m;
    let near: Vec<usize> = inputs
        .incident_tree
        .locate_in_envelope(&envelope(line, r))
        .map(|e| e.data)
        .filter(|&i| {
            let inc = &inputs.incidents[i];
            inc.precision.is_point_level()
                && inc.group.is_crime()
                && distance_to_line(line, inc.location.0) <= r
        })
        .collect();
    if near.is_empty() {
        return 0;
    }
    // The sun is computed at the stretch's middle: across one stretch it moves by seconds.
    let mid = line.0[line.0.len() / 2];
    let Ok((lon, lat)) = crate::crs::to_wgs84(mid.x, mid.y) else {
        return 0;
    };
    let mut days: HashMap<NaiveDate, SunDay> = HashMap::new();
    near.into_iter()
        .filter(|&i| {
            // After dark needs the hour: events known to a date, month or window are not
            // counted as after dark (nor as daytime).
            if !inputs.incidents[i].time_precision.hour_known() {
                return false;
            }
            let t = &inputs.incidents[i].occurred_at;
            let date = crate::time::local_date(t);
            let day = *days.entry(date).or_insert_with(|| sun_day(date, lat, lon));
            let t = t.with_timezone(&chrono::Utc);
            match day {
                SunDay::Normal { sunrise, sunset } => t < sunrise || t > sunset,
                SunDay::PolarDay => false,
                SunDay::PolarNight => true,
            }
        })
        .count()
}

/// Working lamps beside a walkway: (metres along, lamp index), sorted along.
pub fn lamps_along(
    inputs: &LightingInputs<'_>,
    params: &LightingParams,
    lamps: &[LampModel],
    line: &Measured<'_>,
) -> Vec<(f64, usize)> {
    let r = params.lamp_side_m;
    let mut seen = Vec::new();
    for s in 0..line.segments() {
        let (a, b) = (line.coords[s], line.coords[s + 1]);
        let env = AABB::from_corners(
            [a.x.min(b.x) - r, a.y.min(b.y) - r],
            [a.x.max(b.x) + r, a.y.max(b.y) + r],
        );
        seen.extend(
            inputs
                .lamp_tree
                .locate_in_envelope(&env)
                .map(|e| e.data)
                .filter(|&k| lamps[k].is_on()),
        );
    }
    seen.sort_unstable();
    seen.dedup();
    let mut out: Vec<(f64, usize)> = seen
        .into_iter()
        .filter_map(|k| {
            let (m, d) = line.locate(Coord {
                x: lamps[k].x,
                y: lamps[k].y,
            });
            (d <= r).then_some((m, k))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    out
}

/// A lamp's position along a walkway and its index.
pub type LampAlong = (f64, usize);

/// The nearest lamp at or before `from` and at or after `to` along the walkway.
pub fn lamps_around(
    along: &[(f64, usize)],
    from: f64,
    to: f64,
) -> (Option<LampAlong>, Option<LampAlong>) {
    let before = along.iter().rev().find(|(m, _)| *m <= from).copied();
    let after = along.iter().find(|(m, _)| *m >= to).copied();
    (before, after)
}

/// Lamps that are off but whose light would reach the line (indices, ascending).
pub fn off_lamps_reaching(
    inputs: &LightingInputs<'_>,
    lamps: &[LampModel],
    max_reach: f64,
    line: &LineString<f64>,
) -> Vec<usize> {
    let mut out: Vec<usize> = inputs
        .lamp_tree
        .locate_in_envelope(&envelope(line, max_reach))
        .map(|e| e.data)
        .filter(|&k| {
            let l = &lamps[k];
            !l.is_on() && {
                let d = distance_to_line(line, Coord { x: l.x, y: l.y });
                d * d <= l.reach2
            }
        })
        .collect();
    out.sort_unstable();
    out
}

fn says_park(name: &str) -> bool {
    name.to_lowercase().contains("park")
}

/// The park the stretch goes through, if any.
pub fn park(
    inputs: &LightingInputs<'_>,
    walkway_name: Option<&str>,
    line: &LineString<f64>,
) -> Option<String> {
    if let Some(n) = walkway_name.filter(|n| says_park(n)) {
        return Some(n.to_string());
    }
    use geo::Contains;
    let mid = geo::Point(line.0[line.0.len() / 2]);
    inputs
        .areas
        .iter()
        .filter(|a| says_park(&a.name))
        .find(|a| a.geometry.contains(&mid))
        .map(|a| a.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lamps_on_either_side() {
        let along = [(10.0, 1), (40.0, 2), (190.0, 3), (220.0, 4)];
        let (b, a) = lamps_around(&along, 54.0, 176.0);
        assert_eq!(b, Some((40.0, 2)));
        assert_eq!(a, Some((190.0, 3)));
        assert_eq!(lamps_around(&along, 5.0, 8.0).0, None);
        assert_eq!(lamps_around(&along, 225.0, 230.0).1, None);
    }

    #[test]
    fn park_names() {
        assert!(says_park("Näsbyparken"));
        assert!(says_park("Parkstråket"));
        assert!(!says_park("Centrumstråket"));
    }
}
