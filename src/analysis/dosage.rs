//! Patrol dosage: how much police presence the patrol plan's hotspots got, and whether it came
//! as the dose that deters.
//!
//! **Presence from tracks.** A track is a unit's GPS points (UTC instant, EPSG:3006 metres) in
//! time order. Two consecutive points of one run that are at most [`MAX_GAP_S`] apart form a
//! segment, travelled at constant speed in a straight line; a longer gap is a hole in the
//! record, and no presence is assumed in it. A segment's time inside a hull is computed from
//! where it crosses the hull's boundary ([`segment_inside`]), so for a straight track the
//! seconds inside are exact, not counted from samples. The boundary counts as inside.
//!
//! **Presence from visit lists.** A visit reported as (start, end, hotspot or place) is an
//! interval of presence at the hotspots it names or whose hulls hold its place.
//!
//! **Union.** Presence at a hotspot is the union of every interval from every unit and source:
//! two cars there at once, or a track and a reported visit of the same stop, are present once.
//! Delivered time is the length of that union, never a sum of unit-minutes.
//!
//! **Visits.** A visit is a maximal stay: the union's intervals with exits shorter than
//! [`MERGE_EXIT_S`] bridged (a car rounding a corner of the hull has not left). A visit's
//! length runs from its first entry to its last exit, the bridged exits included; delivered
//! time does not include them.
//!
//! **The dose** (Koper 1995: deterrence grows with the length of a stop up to about 15 minutes,
//! then levels off; Telep, Mitchell & Weisburd 2014: visits of 12–16 minutes, at least every
//! two hours). A visit *reaches* the dose when it lasts at least [`DOSE_MIN_S`] (10 min); it is
//! *in* the dose when it lasts at most [`DOSE_MAX_S`] (16 min) too. The gap that matters is the
//! time without a dose-reaching visit: the longest stretch of a window occurrence, from its
//! start, between such visits, or to its end, that no such visit covers. An occurrence *meets
//! the dose* when at least one visit reaches the dose and that longest stretch is at most
//! [`MAX_BETWEEN_S`] (2 h).
//!
//! **Windows.** A plan window is a weekday, a start hour and a length in hours, local
//! Europe/Stockholm time. Its occurrences in a period are the dates with that weekday; each
//! starts at the wall-clock start hour and ends the window's hours later on the wall clock
//! ([`occurrence`]), so a window on the night clocks go forward is an hour shorter and one on
//! the night they go back an hour longer. A visit counts in every occurrence it overlaps (one
//! that crosses midnight belongs to the window it overlaps, whichever date that started on); its
//! time inside is split at the occurrence's ends.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use geo::{BoundingRect, Coord, Intersects, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::analysis::cancel::{Cancel, Cancelled};
use crate::time::ZONE;

/// Two consecutive track points further apart than this (seconds) are a hole in the record.
pub const MAX_GAP_S: f64 = 300.0;
/// Exits from a hull shorter than this (seconds) do not end a visit.
pub const MERGE_EXIT_S: f64 = 60.0;
/// A visit of at least this many seconds reaches the Koper dose (10 min).
pub const DOSE_MIN_S: f64 = 600.0;
/// A visit of at most this many seconds is still in the dose (16 min); longer ones add little.
pub const DOSE_MAX_S: f64 = 960.0;
/// Dose-reaching visits should come at least this often (seconds, 2 h).
pub const MAX_BETWEEN_S: f64 = 7_200.0;
/// How far before and after an occurrence presence must be known to classify the visits that
/// overlap it: a visit that began earlier than this is longer than [`DOSE_MAX_S`] whatever else
/// is true, and a segment that reaches into the margin needs its first point.
pub const MARGIN_S: f64 = 1_800.0 + MAX_GAP_S;

/// Seconds since the Unix epoch (UTC). An `f64` holds today's instants to a fraction of a
/// microsecond, so crossing times keep well below a millisecond.
pub type Secs = f64;

/// An instant as [`Secs`] (to the millisecond, as the store keeps it).
pub fn secs(t: DateTime<Utc>) -> Secs {
    t.timestamp_millis() as f64 / 1000.0
}

/// One GPS fix in EPSG:3006.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    pub at: Secs,
    pub x: f64,
    pub y: f64,
}

/// A stretch of time, `start <= end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub start: Secs,
    pub end: Secs,
}

impl Interval {
    pub fn new(start: Secs, end: Secs) -> Self {
        Self { start, end }
    }

    pub fn len(&self) -> f64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Seconds this interval shares with `other`.
    pub fn overlap(&self, other: &Interval) -> f64 {
        (self.end.min(other.end) - self.start.max(other.start)).max(0.0)
    }
}

fn cross(a: Coord, b: Coord) -> f64 {
    a.x * b.y - a.y * b.x
}

fn dot(a: Coord, b: Coord) -> f64 {
    a.x * b.x + a.y * b.y
}

/// The parts of the segment `a → b` inside `poly` or on its boundary, as ranges of the
/// parameter `u` (0 at `a`, 1 at `b`), ordered and disjoint.
///
/// The segment is cut wherever it meets an edge of any ring (where it runs along an edge, at
/// that edge's ends); between two cuts it is wholly inside or wholly outside, which its midpoint
/// tells. A segment of length zero (a car standing still) is inside when its point is.
pub fn segment_inside(a: Coord, b: Coord, poly: &Polygon<f64>) -> Vec<(f64, f64)> {
    let d = b - a;
    if d.x == 0.0 && d.y == 0.0 {
        return if poly.intersects(&Point::from(a)) {
            vec![(0.0, 1.0)]
        } else {
            Vec::new()
        };
    }
    let mut cuts = vec![0.0, 1.0];
    let dd = dot(d, d);
    for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
        for edge in ring.lines() {
            let (p, e) = (edge.start, edge.end - edge.start);
            let ap = p - a;
            let den = cross(d, e);
            if den == 0.0 {
                // Parallel; when on the same line, the edge's ends cut the segment.
                if cross(ap, d) == 0.0 {
                    for c in [edge.start, edge.end] {
                        let u = dot(c - a, d) / dd;
                        if u > 0.0 && u < 1.0 {
                            cuts.push(u);
                        }
                    }
                }
                continue;
            }
            let u = cross(ap, e) / den;
            let v = cross(ap, d) / den;
            if (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v) {
                cuts.push(u);
            }
        }
    }
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let mut out: Vec<(f64, f64)> = Vec::new();
    for w in cuts.windows(2) {
        let (u0, u1) = (w[0], w[1]);
        let m = (u0 + u1) / 2.0;
        let mid = Coord {
            x: a.x + d.x * m,
            y: a.y + d.y * m,
        };
        if !poly.intersects(&Point::from(mid)) {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.1 == u0 => last.1 = u1,
            _ => out.push((u0, u1)),
        }
    }
    out
}

/// The union of `v`: sorted, disjoint intervals; touching ones are joined, empty ones dropped.
pub fn union(mut v: Vec<Interval>) -> Vec<Interval> {
    v.retain(|i| !i.is_empty());
    v.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut out: Vec<Interval> = Vec::with_capacity(v.len());
    for i in v {
        match out.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => out.push(i),
        }
    }
    out
}

/// The intervals each hull (by index) has someone inside, from the track `runs` (each in time
/// order) and the reported `visits` (hull index, interval), as [`union`]s.
pub fn presence(
    runs: &[Vec<TrackPoint>],
    hulls: &[Polygon<f64>],
    visits: &[(usize, Interval)],
    cancel: &Cancel,
) -> Result<Vec<Vec<Interval>>, Cancelled> {
    type Envelope = GeomWithData<Rectangle<[f64; 2]>, usize>;
    let boxes: Vec<Envelope> = hulls
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let r = h.bounding_rect()?;
            Some(GeomWithData::new(
                Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                i,
            ))
        })
        .collect();
    let tree = RTree::bulk_load(boxes);
    let mut found: Vec<Vec<Interval>> = vec![Vec::new(); hulls.len()];
    let mut n = 0usize;
    for run in runs {
        for w in run.windows(2) {
            cancel.check_every(n)?;
            n += 1;
            let (p, q) = (w[0], w[1]);
            let dt = q.at - p.at;
            if !(0.0..=MAX_GAP_S).contains(&dt) {
                continue;
            }
            let env =
                AABB::from_corners([p.x.min(q.x), p.y.min(q.y)], [p.x.max(q.x), p.y.max(q.y)]);
            for hit in tree.locate_in_envelope_intersecting(&env) {
                let (a, b) = (Coord { x: p.x, y: p.y }, Coord { x: q.x, y: q.y });
                for (u0, u1) in segment_inside(a, b, &hulls[hit.data]) {
                    found[hit.data].push(Interval::new(p.at + u0 * dt, p.at + u1 * dt));
                }
            }
        }
    }
    for &(i, v) in visits {
        if let Some(f) = found.get_mut(i) {
            f.push(v);
        }
    }
    Ok(found.into_iter().map(union).collect())
}

/// One stay at a hotspot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Visit {
    /// First entry and last exit.
    pub span: Interval,
    /// Seconds inside (the span less its short exits).
    pub inside: f64,
}

impl Visit {
    pub fn len(&self) -> f64 {
        self.span.len()
    }

    /// At least [`DOSE_MIN_S`].
    pub fn reaches_dose(&self) -> bool {
        self.len() >= DOSE_MIN_S
    }

    /// From [`DOSE_MIN_S`] to [`DOSE_MAX_S`].
    pub fn in_dose(&self) -> bool {
        self.reaches_dose() && self.len() <= DOSE_MAX_S
    }
}

/// The visits of a hotspot's presence (a [`union`]): exits shorter than [`MERGE_EXIT_S`] bridged.
pub fn visits(presence: &[Interval]) -> Vec<Visit> {
    let mut out: Vec<Visit> = Vec::new();
    for i in presence {
        match out.last_mut() {
            Some(v) if i.start - v.span.end < MERGE_EXIT_S => {
                v.span.end = i.end;
                v.inside += i.len();
            }
            _ => out.push(Visit {
                span: *i,
                inside: i.len(),
            }),
        }
    }
    out
}

/// Which instant a wall-clock time means when the clocks change: a window's start takes the
/// earliest instant that shows it, its end the latest (so the autumn's repeated hour is inside
/// the window), and a time the spring skips means the instant the clocks jump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Start,
    End,
}

/// The instant the Stockholm wall clock shows `t`, by [`Side`].
pub fn local_instant(t: NaiveDateTime, side: Side) -> DateTime<Utc> {
    match ZONE.from_local_datetime(&t) {
        LocalResult::Single(x) => x.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => match side {
            Side::Start => a.min(b).with_timezone(&Utc),
            Side::End => a.max(b).with_timezone(&Utc),
        },
        LocalResult::None => {
            // In the skipped hour: the last minute before it, plus a minute, is the jump
            // (Stockholm's changes fall on whole hours, and windows on whole hours too).
            let mut probe = t;
            for _ in 0..24 * 60 {
                probe -= Duration::minutes(1);
                if let Some(x) = ZONE.from_local_datetime(&probe).latest() {
                    return x.with_timezone(&Utc) + Duration::minutes(1);
                }
            }
            // Unreachable for any real zone: no day is skipped whole.
            Utc.from_utc_datetime(&t)
        }
    }
}

/// A plan window: weekday (0 = Monday), start hour and length in hours, local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    pub weekday: usize,
    pub hour: usize,
    pub hours: usize,
}

/// One occurrence of a window: the local date it starts on, and its instants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Occurrence {
    pub date: NaiveDate,
    pub span: Interval,
}

/// The occurrence of `w` that starts on `date` (whatever weekday that is).
pub fn occurrence(w: WindowSpec, date: NaiveDate) -> Occurrence {
    let start = date.and_hms_opt(0, 0, 0).expect("midnight") + Duration::hours(w.hour as i64);
    let end = start + Duration::hours(w.hours as i64);
    Occurrence {
        date,
        span: Interval::new(
            secs(local_instant(start, Side::Start)),
            secs(local_instant(end, Side::End)),
        ),
    }
}

/// The occurrences of `w` that start on a local date from `from` to `to`, both included. The
/// dates must leave a day of room at the ends of chrono's calendar (the service keeps to the
/// years 1970–9999).
pub fn occurrences(w: WindowSpec, from: NaiveDate, to: NaiveDate) -> Vec<Occurrence> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| d.weekday().num_days_from_monday() as usize == w.weekday)
        .map(|d| occurrence(w, d))
        .collect()
}

/// What one occurrence got.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Dose {
    /// Seconds the occurrence lasts.
    pub planned: f64,
    /// Seconds someone was inside the hull during it.
    pub delivered: f64,
    /// Visits that overlap it, and of them those in the dose (10–16 min), shorter, longer.
    pub visits: u32,
    pub dose_visits: u32,
    pub short_visits: u32,
    pub long_visits: u32,
    /// The longest stretch of the occurrence without a dose-reaching visit, in seconds.
    pub longest_gap: f64,
    pub meets_dose: bool,
}

/// The dose of one occurrence, from the hotspot's presence and visits (both in time order).
pub fn dose(occ: &Occurrence, presence: &[Interval], visits: &[Visit]) -> Dose {
    let w = occ.span;
    let delivered = overlapping(presence, &w).map(|i| i.overlap(&w)).sum();
    let mut d = Dose {
        planned: w.len(),
        delivered,
        ..Dose::default()
    };
    let mut covered_to = w.start;
    let mut longest = 0.0f64;
    let mut reached = 0;
    for v in overlapping(visits, &w) {
        d.visits += 1;
        if v.in_dose() {
            d.dose_visits += 1;
        } else if v.reaches_dose() {
            d.long_visits += 1;
        } else {
            d.short_visits += 1;
        }
        if v.reaches_dose() {
            reached += 1;
            longest = longest.max(v.span.start - covered_to);
            covered_to = covered_to.max(v.span.end);
        }
    }
    longest = longest.max(w.end - covered_to);
    d.longest_gap = longest.max(0.0);
    d.meets_dose = reached > 0 && d.longest_gap <= MAX_BETWEEN_S;
    d
}

/// Something that lasts: a presence interval or a visit.
pub trait Timed {
    fn span(&self) -> Interval;
}

impl Timed for Interval {
    fn span(&self) -> Interval {
        *self
    }
}

impl Timed for Visit {
    fn span(&self) -> Interval {
        self.span
    }
}

/// The items of `sorted` (ordered, disjoint) that overlap `w`, found by binary search, so that
/// a year of presence is not walked for every occurrence.
pub fn overlapping<'a, T: Timed>(sorted: &'a [T], w: &Interval) -> impl Iterator<Item = &'a T> {
    let first = sorted.partition_point(|i| i.span().end <= w.start);
    let end = w.end;
    sorted[first..]
        .iter()
        .take_while(move |i| i.span().start < end)
}

/// Occurrences summed: planned against delivered.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Seconds planned and delivered.
    pub planned: f64,
    pub delivered: f64,
    pub occurrences: u32,
    /// Occurrences that met the dose.
    pub meeting_dose: u32,
    pub visits: u32,
    pub dose_visits: u32,
}

impl Totals {
    /// The sum of `doses`.
    pub fn of<'a>(doses: impl IntoIterator<Item = &'a Dose>) -> Self {
        let mut t = Self::default();
        for d in doses {
            t.add(d);
        }
        t
    }

    pub fn add(&mut self, d: &Dose) {
        self.planned += d.planned;
        self.delivered += d.delivered;
        self.occurrences += 1;
        self.meeting_dose += u32::from(d.meets_dose);
        self.visits += d.visits;
        self.dose_visits += d.dose_visits;
    }
}

/// `rows` summed by key, in key order.
pub fn totals_by<'a, K: Ord>(rows: impl IntoIterator<Item = (K, &'a Dose)>) -> BTreeMap<K, Totals> {
    let mut out: BTreeMap<K, Totals> = BTreeMap::new();
    for (k, d) in rows {
        out.entry(k).or_default().add(d);
    }
    out
}

/// The ISO 8601 week of a local date, e.g. `2025-W13` (the year is the week's, which differs
/// from the date's around New Year).
pub fn iso_week(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{:04}-W{:02}", w.year(), w.week())
}

/// The calendar month of a local date, e.g. `2025-03`.
pub fn month(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, polygon};

    /// The square hull 0..100 × 0..100 m.
    fn square() -> Polygon<f64> {
        polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)]
    }

    fn pt(at: f64, x: f64, y: f64) -> TrackPoint {
        TrackPoint { at, x, y }
    }

    fn utc(s: &str) -> Secs {
        secs(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    fn present(runs: &[Vec<TrackPoint>], hull: Polygon<f64>) -> Vec<Interval> {
        presence(runs, &[hull], &[], &Cancel::never())
            .unwrap()
            .remove(0)
    }

    fn total(v: &[Interval]) -> f64 {
        v.iter().map(Interval::len).sum()
    }

    /// A car at 2 m/s along y = 50, a fix every 20 s: x = −70, −30, 10, 50, 90, 130 from
    /// t = 1 000 s. It crosses x = 0 three quarters into the second segment (t = 1 035) and
    /// x = 100 a quarter into the fifth (t = 1 085): 100 m at 2 m/s, 50 s inside.
    #[test]
    fn a_straight_track_through_a_square_is_inside_for_its_crossing_time() {
        let run: Vec<TrackPoint> = (0..6)
            .map(|k| pt(1_000.0 + 20.0 * k as f64, -70.0 + 40.0 * k as f64, 50.0))
            .collect();
        let p = present(&[run], square());
        assert_eq!(p, vec![Interval::new(1_035.0, 1_085.0)]);
    }

    /// Diagonally through two corners, one segment of 120 s from (−10, −10) to (110, 110):
    /// inside from u = 10/120 to u = 110/120, 100 s. The corners are cut once each.
    #[test]
    fn a_track_through_the_corners_is_cut_once_at_each() {
        let run = vec![pt(0.0, -10.0, -10.0), pt(120.0, 110.0, 110.0)];
        assert_eq!(present(&[run], square()), vec![Interval::new(10.0, 110.0)]);
        // Along the boundary y = 0 from x = −10 to 110 in 120 s: the edge counts as inside.
        let along = vec![pt(0.0, -10.0, 0.0), pt(120.0, 110.0, 0.0)];
        assert_eq!(
            present(&[along], square()),
            vec![Interval::new(10.0, 110.0)]
        );
    }

    /// A hole (a block of houses inside the hotspot) from x = 40 to 60: a track at 1 m/s
    /// along y = 50 from x = −10 is inside 10–50 s and 70–110 s.
    #[test]
    fn a_hole_is_outside() {
        let hole = LineString::from(vec![(40.0, 40.0), (60.0, 40.0), (60.0, 60.0), (40.0, 60.0)]);
        let hull = Polygon::new(square().exterior().clone(), vec![hole]);
        let run = vec![pt(0.0, -10.0, 50.0), pt(120.0, 110.0, 50.0)];
        assert_eq!(
            present(&[run], hull),
            vec![Interval::new(10.0, 50.0), Interval::new(70.0, 110.0)]
        );
    }

    /// Standing still inside for two minutes is two minutes; a fix 301 s after the last is a
    /// hole in the record, not presence; a run that never comes near is nothing.
    #[test]
    fn standing_still_counts_and_holes_in_the_record_do_not() {
        let run = vec![
            pt(0.0, 50.0, 50.0),
            pt(60.0, 50.0, 50.0),
            pt(120.0, 50.0, 50.0),
            pt(421.0, 50.0, 50.0),
        ];
        let far = vec![pt(0.0, 5_000.0, 5_000.0), pt(60.0, 5_100.0, 5_000.0)];
        assert_eq!(
            present(&[run, far], square()),
            vec![Interval::new(0.0, 120.0)]
        );
    }

    /// Two cars inside at once are present once: 0–100 s and 60–160 s are 160 s, not 200. A
    /// reported visit of 150–200 s joins them.
    #[test]
    fn presence_is_a_union_over_units_and_sources() {
        let a = vec![pt(0.0, 50.0, 50.0), pt(100.0, 50.0, 50.0)];
        let b = vec![pt(60.0, 20.0, 20.0), pt(160.0, 20.0, 20.0)];
        let reported = [(0, Interval::new(150.0, 200.0))];
        let p = presence(&[a, b], &[square()], &reported, &Cancel::never()).unwrap();
        assert_eq!(p[0], vec![Interval::new(0.0, 200.0)]);
        // A reported visit for a hull that is not there is ignored.
        let p = presence(
            &[],
            &[square()],
            &[(3, Interval::new(0.0, 1.0))],
            &Cancel::never(),
        );
        assert_eq!(p.unwrap()[0], vec![]);
    }

    /// Exits under a minute do not end a visit; the visit's length includes them, the time
    /// inside does not. 0–300 s and 359–620 s are one visit of 620 s (in the dose), though only
    /// 561 s of it are inside; 680–800 s, after an exit of a whole minute, is a second.
    #[test]
    fn short_exits_are_bridged() {
        let p = union(vec![
            Interval::new(0.0, 300.0),
            Interval::new(359.0, 620.0),
            Interval::new(680.0, 800.0),
        ]);
        let v = visits(&p);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].span, Interval::new(0.0, 620.0));
        assert_eq!(v[0].inside, 561.0);
        assert!(v[0].in_dose());
        assert_eq!(v[1].span, Interval::new(680.0, 800.0));
        assert!(!v[1].reaches_dose());
    }

    #[test]
    fn dose_classes() {
        let v = |len: f64| Visit {
            span: Interval::new(0.0, len),
            inside: len,
        };
        assert!(!v(599.0).reaches_dose());
        assert!(v(600.0).in_dose() && v(960.0).in_dose());
        assert!(v(961.0).reaches_dose() && !v(961.0).in_dose());
    }

    /// Local wall-clock times to instants on the nights the clocks change (2025-03-30 02:00 CET
    /// → 03:00 CEST; 2025-10-26 03:00 CEST → 02:00 CET).
    #[test]
    fn wall_clock_times_on_the_nights_the_clocks_change() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let z = |t: DateTime<Utc>| t.to_rfc3339();
        // Spring: 02:30 does not exist; start and end both mean the jump, 01:00Z.
        for side in [Side::Start, Side::End] {
            assert_eq!(
                z(local_instant(at("2025-03-30 02:30"), side)),
                "2025-03-30T01:00:00+00:00"
            );
        }
        // Autumn: 02:30 happens twice, at 00:30Z (CEST) and 01:30Z (CET).
        assert_eq!(
            z(local_instant(at("2025-10-26 02:30"), Side::Start)),
            "2025-10-26T00:30:00+00:00"
        );
        assert_eq!(
            z(local_instant(at("2025-10-26 02:30"), Side::End)),
            "2025-10-26T01:30:00+00:00"
        );
        assert_eq!(
            z(local_instant(at("2025-01-10 22:00"), Side::Start)),
            "2025-01-10T21:00:00+00:00"
        );
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Sunday 00–04 is 4 h on an ordinary Sunday, 3 h on 2025-03-30 and 5 h on 2025-10-26;
    /// Sunday 02–06 on the spring night starts at the jump (3 h), Sunday 02–03 on the autumn
    /// night takes both 02 hours (2 h).
    #[test]
    fn windows_on_the_nights_the_clocks_change_are_an_hour_shorter_or_longer() {
        let sunday_night = WindowSpec {
            weekday: 6,
            hour: 0,
            hours: 4,
        };
        let len = |w: WindowSpec, d: &str| occurrence(w, day(d)).span.len();
        assert_eq!(len(sunday_night, "2025-03-23"), 14_400.0);
        assert_eq!(len(sunday_night, "2025-03-30"), 10_800.0);
        assert_eq!(len(sunday_night, "2025-10-26"), 18_000.0);
        let o = occurrence(sunday_night, day("2025-10-26"));
        assert_eq!(o.span.start, utc("2025-10-25T22:00:00Z"));
        assert_eq!(o.span.end, utc("2025-10-26T03:00:00Z"));
        let late = WindowSpec {
            weekday: 6,
            hour: 2,
            hours: 4,
        };
        let o = occurrence(late, day("2025-03-30"));
        assert_eq!(
            o.span,
            Interval::new(utc("2025-03-30T01:00:00Z"), utc("2025-03-30T04:00:00Z"))
        );
        let repeated = WindowSpec {
            weekday: 6,
            hour: 2,
            hours: 1,
        };
        assert_eq!(len(repeated, "2025-10-26"), 7_200.0);
    }

    #[test]
    fn occurrences_are_the_dates_with_the_weekday() {
        let friday = WindowSpec {
            weekday: 4,
            hour: 22,
            hours: 4,
        };
        // 2025-01-01 is a Wednesday: the Fridays of January 2025 are the 3rd … 31st.
        let o = occurrences(friday, day("2025-01-01"), day("2025-01-31"));
        let dates: Vec<String> = o.iter().map(|o| o.date.to_string()).collect();
        assert_eq!(
            dates,
            [
                "2025-01-03",
                "2025-01-10",
                "2025-01-17",
                "2025-01-24",
                "2025-01-31"
            ]
        );
        // The last one runs into February: it is whole.
        assert_eq!(o[4].span.end, utc("2025-02-01T01:00:00Z"));
        assert!(occurrences(friday, day("2025-01-04"), day("2025-01-09")).is_empty());
    }

    /// A unit standing in the hull from Friday 23:52 to Saturday 00:05 local (2025-01-10/11,
    /// CET): a 13-minute visit, in the dose. Friday 22–02 gets all 780 s; Friday 20–24 gets
    /// the 480 s before midnight and Saturday 00–04 the 300 s after, and each counts the visit.
    #[test]
    fn a_visit_across_midnight_belongs_to_every_window_it_overlaps() {
        // 23:52 CET is 22:52Z; a fix a minute, 14 fixes to 23:05Z.
        let start = utc("2025-01-10T22:52:00Z");
        let run: Vec<TrackPoint> = (0..=13)
            .map(|k| pt(start + 60.0 * k as f64, 50.0, 50.0))
            .collect();
        let p = present(&[run], square());
        assert_eq!(total(&p), 780.0);
        let v = visits(&p);
        let spec = |weekday, hour| WindowSpec {
            weekday,
            hour,
            hours: 4,
        };
        let fri = |w: WindowSpec| dose(&occurrence(w, day("2025-01-10")), &p, &v);
        let sat = |w: WindowSpec| dose(&occurrence(w, day("2025-01-11")), &p, &v);
        let across = fri(spec(4, 22));
        assert_eq!((across.planned, across.delivered), (14_400.0, 780.0));
        assert_eq!((across.visits, across.dose_visits), (1, 1));
        // Without police 22:00–23:52 (6 720 s) and 00:05–02:00 (6 900 s): at most 2 h.
        assert_eq!(across.longest_gap, 6_900.0);
        assert!(across.meets_dose);
        let evening = fri(spec(4, 20));
        assert_eq!(
            (evening.delivered, evening.visits, evening.dose_visits),
            (480.0, 1, 1)
        );
        // 20:00–23:52 without a dose-reaching visit: 13 920 s.
        assert_eq!(evening.longest_gap, 13_920.0);
        assert!(!evening.meets_dose);
        let night = sat(spec(5, 0));
        assert_eq!((night.delivered, night.visits), (300.0, 1));
        // From 00:05 to 04:00 CET: 14 100 s.
        assert_eq!(night.longest_gap, 14_100.0);
    }

    /// Spring, 2025-03-30: standing in the hull from 00:30 CET (23:30Z on the 29th) to 03:30
    /// CEST (01:30Z) reads three hours on the wall clock but is two: 7 200 s delivered of the
    /// window Sunday 00–04, which is 10 800 s long that night. The gaps are the 30 minutes at
    /// either end.
    #[test]
    fn a_track_on_the_spring_night_counts_real_seconds() {
        let start = utc("2025-03-29T23:30:00Z");
        let run: Vec<TrackPoint> = (0..=120)
            .map(|k| pt(start + 60.0 * k as f64, 30.0, 70.0))
            .collect();
        let p = present(&[run], square());
        let v = visits(&p);
        let w = WindowSpec {
            weekday: 6,
            hour: 0,
            hours: 4,
        };
        let d = dose(&occurrence(w, day("2025-03-30")), &p, &v);
        assert_eq!((d.planned, d.delivered), (10_800.0, 7_200.0));
        assert_eq!((d.visits, d.dose_visits, d.long_visits), (1, 0, 1));
        assert_eq!(d.longest_gap, 1_800.0);
        assert!(d.meets_dose);
    }

    /// Autumn, 2025-10-26: standing in the hull from 00:30 CEST (22:30Z on the 25th) to 03:30
    /// CET (02:30Z) is four hours, of the window's five.
    #[test]
    fn a_track_on_the_autumn_night_counts_the_repeated_hour() {
        let start = utc("2025-10-25T22:30:00Z");
        let run: Vec<TrackPoint> = (0..=240)
            .map(|k| pt(start + 60.0 * k as f64, 30.0, 70.0))
            .collect();
        let p = present(&[run], square());
        let w = WindowSpec {
            weekday: 6,
            hour: 0,
            hours: 4,
        };
        let d = dose(&occurrence(w, day("2025-10-26")), &p, &visits(&p));
        assert_eq!((d.planned, d.delivered), (18_000.0, 14_400.0));
        assert_eq!(d.longest_gap, 1_800.0);
    }

    /// Monday 18–22 on 2025-01-06 (17:00Z–21:00Z): visits of 12 min at 17:30Z, 13 min at
    /// 19:00Z and 3 min at 20:00Z. Without a dose-reaching visit: 17:00–17:30 (1 800 s),
    /// 17:42–19:00 (4 680 s), 19:13–21:00 (6 420 s): the dose is met. Without the 19:00 visit
    /// the stretch 17:42–21:00 is 11 880 s: not met.
    #[test]
    fn the_longest_stretch_without_a_dose_visit_decides() {
        let o = occurrence(
            WindowSpec {
                weekday: 0,
                hour: 18,
                hours: 4,
            },
            day("2025-01-06"),
        );
        let i = |a: &str, b: &str| Interval::new(utc(a), utc(b));
        let all = vec![
            i("2025-01-06T17:30:00Z", "2025-01-06T17:42:00Z"),
            i("2025-01-06T19:00:00Z", "2025-01-06T19:13:00Z"),
            i("2025-01-06T20:00:00Z", "2025-01-06T20:03:00Z"),
        ];
        let d = dose(&o, &all, &visits(&all));
        assert_eq!(d.delivered, 720.0 + 780.0 + 180.0);
        assert_eq!((d.visits, d.dose_visits, d.short_visits), (3, 2, 1));
        assert_eq!(d.longest_gap, 6_420.0);
        assert!(d.meets_dose);
        let fewer = vec![all[0], all[2]];
        let d = dose(&o, &fewer, &visits(&fewer));
        assert_eq!(d.longest_gap, 11_880.0);
        assert!(!d.meets_dose);
        // No visit at all: the whole window is the gap.
        let d = dose(&o, &[], &[]);
        assert_eq!(
            (d.delivered, d.longest_gap, d.meets_dose),
            (0.0, 14_400.0, false)
        );
    }

    #[test]
    fn weeks_and_months_of_local_dates() {
        assert_eq!(iso_week(day("2025-03-30")), "2025-W13");
        assert_eq!(iso_week(day("2025-03-31")), "2025-W14");
        // 2024-12-30 is a Monday in the first ISO week of 2025.
        assert_eq!(iso_week(day("2024-12-30")), "2025-W01");
        assert_eq!(month(day("2024-12-30")), "2024-12");
        let a = Dose {
            planned: 100.0,
            delivered: 10.0,
            visits: 2,
            dose_visits: 1,
            meets_dose: true,
            ..Dose::default()
        };
        let b = Dose {
            planned: 50.0,
            ..Dose::default()
        };
        let t = totals_by([("w1", &a), ("w2", &b), ("w1", &b)]);
        assert_eq!(t["w1"].planned, 150.0);
        assert_eq!((t["w1"].occurrences, t["w1"].meeting_dose), (2, 1));
        assert_eq!((t["w1"].visits, t["w1"].dose_visits), (2, 1));
        assert_eq!(t["w2"].delivered, 0.0);
    }

    #[test]
    fn a_cancelled_token_stops_the_scan() {
        let c = Cancel::new();
        c.cancel();
        let run: Vec<TrackPoint> = (0..10).map(|k| pt(k as f64, 0.0, 0.0)).collect();
        assert_eq!(presence(&[run], &[square()], &[], &c), Err(Cancelled));
    }
}
