//! The filters every hotspot method shares, and the split of incidents by precision.
//!
//! A filter selects incidents by
//! - **date** (`from`, `to`, both inclusive, as calendar dates in Europe/Stockholm: an event at
//!   00:30 local time on 1 May belongs to 1 May even though it is 30 April in UTC),
//! - **category** codes and **category groups** (no categories and no groups given: the crime
//!   groups, [`CategoryGroup::is_crime`]; categories given without groups: exactly those
//!   categories, whatever their group, so `traffic_accident` can be asked for by name),
//! - **hours of day** in Stockholm local time, where a range wraps midnight (`22-04` is 22:00 up
//!   to 04:00, i.e. the hours 22, 23, 0, 1, 2, 3: the end is exclusive),
//! - **weekdays** in Stockholm local time (0 = Monday),
//! - **area**: a district polygon (by name, from the snapshot's areas) or a WGS84 box.
//!
//! Then [`IncidentFilter::select`] splits what passes into the *point-level* incidents (exact or
//! street precision), the only ones clustered, gridded or smoothed, and the ones known only to a
//! municipality or county. Polisen places those on the municipality's centre: treating them as
//! points would turn a town-hall square into the worst hotspot of the county, so they are only
//! counted and reported ("N events known only to the municipality"). An area filter cannot say
//! whether such an event happened inside the area, so they are counted whenever the other
//! filters let them through.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use geo::{BoundingRect, Contains, Coord, LineString, MultiPolygon, Point, Polygon, Rect};

use crate::category::CategoryGroup;
use crate::model::{LocationPrecision, TimePrecision};
use crate::spatial::{AreaLayer, SnapIncident};

/// Why a filter parameter was refused; the message names the parameter and the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{param}={value:?}: {expected}")]
pub struct FilterError {
    pub param: &'static str,
    pub value: String,
    pub expected: String,
}

impl FilterError {
    fn new(param: &'static str, value: &str, expected: impl Into<String>) -> Self {
        Self {
            param,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// A set of hours of the day (Stockholm local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HourSet(pub [bool; 24]);

impl HourSet {
    /// Parses `22-04` (a range, end exclusive, wrapping midnight), `8,9,10` (single hours) or a
    /// mix, `7-9,17-19`.
    pub fn parse(s: &str) -> Result<Self, FilterError> {
        let bad = |why: &str| {
            FilterError::new(
                "hours",
                s,
                format!(
                    "{why}; expected hours 0-23 as a list (8,9,10) or ranges with an exclusive end, wrapping midnight (22-04)"
                ),
            )
        };
        let mut set = [false; 24];
        let mut any = false;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            any = true;
            if let Some((a, b)) = part.split_once('-') {
                let a: usize = a.trim().parse().map_err(|_| bad("not a number"))?;
                let b: usize = b.trim().parse().map_err(|_| bad("not a number"))?;
                if a > 23 || b > 24 {
                    return Err(bad("hour out of range"));
                }
                let b = b % 24;
                if a == b {
                    return Err(bad("a range must not start where it ends"));
                }
                let mut h = a;
                while h != b {
                    set[h] = true;
                    h = (h + 1) % 24;
                }
            } else {
                let h: usize = part.parse().map_err(|_| bad("not a number"))?;
                if h > 23 {
                    return Err(bad("hour out of range"));
                }
                set[h] = true;
            }
        }
        if !any {
            return Err(bad("empty"));
        }
        Ok(Self(set))
    }

    pub fn contains(&self, hour: usize) -> bool {
        self.0[hour % 24]
    }
}

/// A set of weekdays, 0 = Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WeekdaySet(pub [bool; 7]);

impl WeekdaySet {
    /// Parses `fri,sat`, `fre,lör`, `4,5` (0 = Monday) or ranges such as `mon-fri`, `fri-sun`,
    /// `sat-mon` (wrapping the week; both ends inclusive).
    pub fn parse(s: &str) -> Result<Self, FilterError> {
        let bad = || {
            FilterError::new(
                "weekdays",
                s,
                "expected weekdays as mon..sun, mån..sön or 0..6 (0 = Monday), comma separated, or ranges like mon-fri",
            )
        };
        let mut set = [false; 7];
        let mut any = false;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            any = true;
            if let Some((a, b)) = part.split_once('-') {
                let a = weekday_index(a).ok_or_else(bad)?;
                let b = weekday_index(b).ok_or_else(bad)?;
                let mut d = a;
                loop {
                    set[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            } else {
                set[weekday_index(part).ok_or_else(bad)?] = true;
            }
        }
        if !any {
            return Err(bad());
        }
        Ok(Self(set))
    }

    pub fn contains(&self, weekday: usize) -> bool {
        self.0[weekday % 7]
    }
}

fn weekday_index(s: &str) -> Option<usize> {
    let t = s.trim().to_lowercase();
    const EN: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    const EN_LONG: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    const SV_LONG: [&str; 7] = [
        "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag",
    ];
    if let Ok(n) = t.parse::<usize>() {
        return (n < 7).then_some(n);
    }
    (0..7).find(|&i| {
        t == EN[i] || t == EN_LONG[i] || t == crate::time::WEEKDAYS_SV[i] || t == SV_LONG[i]
    })
}

/// Parses a comma list of category group names (`violence,drugs`).
pub fn parse_groups(s: &str) -> Result<BTreeSet<CategoryGroup>, FilterError> {
    let mut out = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let g = CategoryGroup::parse(part).ok_or_else(|| {
            let names: Vec<&str> = CategoryGroup::ALL.iter().map(|g| g.as_str()).collect();
            FilterError::new(
                "groups",
                part,
                format!("expected one of {}", names.join(", ")),
            )
        })?;
        out.insert(g);
    }
    if out.is_empty() {
        return Err(FilterError::new("groups", s, "empty list"));
    }
    Ok(out)
}

/// Parses a comma list of category codes (`assault,robbery`).
pub fn parse_categories(s: &str) -> Result<BTreeSet<String>, FilterError> {
    let out: BTreeSet<String> = s
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if out.is_empty() {
        return Err(FilterError::new("categories", s, "empty list"));
    }
    Ok(out)
}

/// Parses a `YYYY-MM-DD` date parameter.
pub fn parse_date(param: &'static str, s: &str) -> Result<NaiveDate, FilterError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| FilterError::new(param, s, "expected a date YYYY-MM-DD"))
}

/// Parses a period bound: a date `YYYY-MM-DD`, or a month `YYYY-MM` meaning its first day
/// (`end: false`) or its last day (`end: true`).
pub fn parse_period_bound(
    param: &'static str,
    s: &str,
    end: bool,
) -> Result<NaiveDate, FilterError> {
    let t = s.trim();
    if t.len() == 7 {
        let first = NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d").map_err(|_| {
            FilterError::new(param, s, "expected a date YYYY-MM-DD or a month YYYY-MM")
        })?;
        if !end {
            return Ok(first);
        }
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(|| FilterError::new(param, s, "month out of range"))?;
        return next
            .pred_opt()
            .ok_or_else(|| FilterError::new(param, s, "month out of range"));
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map_err(|_| FilterError::new(param, s, "expected a date YYYY-MM-DD or a month YYYY-MM"))
}

/// Parses a WGS84 box `w,s,e,n`.
pub fn parse_bbox(s: &str) -> Result<[f64; 4], FilterError> {
    let bad = |why: &str| {
        FilterError::new(
            "bbox",
            s,
            format!("{why}; expected west,south,east,north in WGS84 degrees"),
        )
    };
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("not four numbers"))?;
    if v.len() != 4 || v.iter().any(|x| !x.is_finite()) {
        return Err(bad("not four numbers"));
    }
    if v[0] >= v[2] || v[1] >= v[3] {
        return Err(bad("west must be less than east and south less than north"));
    }
    if v[0] < -180.0 || v[2] > 180.0 || v[1] < -90.0 || v[3] > 90.0 {
        return Err(bad("outside the range of longitudes and latitudes"));
    }
    Ok([v[0], v[1], v[2], v[3]])
}

/// An area in EPSG:3006 with its bounding box, to test many points quickly.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaFilter {
    /// The district's name, or `bbox` for a box.
    pub name: String,
    pub geometry: MultiPolygon<f64>,
    pub bounds: Rect<f64>,
}

impl AreaFilter {
    pub fn new(name: impl Into<String>, geometry: MultiPolygon<f64>) -> Option<Self> {
        let bounds = geometry.bounding_rect()?;
        Some(Self {
            name: name.into(),
            geometry,
            bounds,
        })
    }

    /// A district by name (case-insensitive), from the snapshot's areas.
    pub fn district(areas: &AreaLayer, name: &str) -> Result<Self, FilterError> {
        let area = areas.by_name(name).ok_or_else(|| {
            let mut known: Vec<&str> = areas.items.iter().map(|a| a.name.as_str()).collect();
            known.sort_unstable();
            known.truncate(20);
            FilterError::new(
                "area",
                name,
                if known.is_empty() {
                    "no districts are loaded (import areas first, or use bbox)".to_string()
                } else {
                    format!("no such district; known: {}", known.join(", "))
                },
            )
        })?;
        Self::new(area.name.clone(), area.geometry.clone())
            .ok_or_else(|| FilterError::new("area", name, "the district has an empty geometry"))
    }

    /// A WGS84 box `[w, s, e, n]`. Its edges are densified before projecting, because a
    /// meridian is not a straight north-south line in SWEREF 99 TM.
    pub fn wgs84_bbox(b: [f64; 4]) -> Result<Self, FilterError> {
        const STEPS: usize = 16;
        let mut ring = Vec::with_capacity(4 * STEPS + 1);
        let corners = [(b[0], b[1]), (b[2], b[1]), (b[2], b[3]), (b[0], b[3])];
        for k in 0..4 {
            let (x0, y0) = corners[k];
            let (x1, y1) = corners[(k + 1) % 4];
            for s in 0..STEPS {
                let t = s as f64 / STEPS as f64;
                ring.push((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t));
            }
        }
        crate::crs::transform_in_place(crate::crs::WGS84_EPSG, crate::crs::WORK_EPSG, &mut ring)
            .map_err(|e| FilterError::new("bbox", &format!("{b:?}"), e.to_string()))?;
        if ring.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
            return Err(FilterError::new(
                "bbox",
                &format!("{b:?}"),
                "outside the area SWEREF 99 TM can represent",
            ));
        }
        let mut coords: Vec<Coord<f64>> = ring.into_iter().map(|(x, y)| Coord { x, y }).collect();
        coords.push(coords[0]);
        let poly = Polygon::new(LineString::new(coords), vec![]);
        Self::new("bbox", MultiPolygon::new(vec![poly]))
            .ok_or_else(|| FilterError::new("bbox", &format!("{b:?}"), "empty box"))
    }

    pub fn contains(&self, p: Point<f64>) -> bool {
        let (x, y) = (p.x(), p.y());
        let (min, max) = (self.bounds.min(), self.bounds.max());
        x >= min.x && x <= max.x && y >= min.y && y <= max.y && self.geometry.contains(&p)
    }
}

/// Which incidents a hotspot method looks at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentFilter {
    /// First local date included.
    pub from: Option<NaiveDate>,
    /// Last local date included.
    pub to: Option<NaiveDate>,
    pub categories: Option<BTreeSet<String>>,
    pub groups: Option<BTreeSet<CategoryGroup>>,
    pub hours: Option<HourSet>,
    pub weekdays: Option<WeekdaySet>,
    pub area: Option<AreaFilter>,
}

/// Incidents split by what the methods may do with them: the point-level ones as `T` (the
/// incidents themselves in a [`Selection`], or only their coordinates from
/// [`IncidentFilter::coords_in`]), the others counted.
#[derive(Debug, Clone)]
pub struct Selected<T> {
    /// Exact or street precision: these enter the point methods.
    pub points: Vec<T>,
    /// Passed the filters but known only to the municipality (placed on its centre).
    pub municipality_only: usize,
    /// Passed the filters but known only to the county.
    pub county_only: usize,
    /// Did not pass the filters.
    pub filtered_out: usize,
}

/// The incidents a filter selected.
pub type Selection<'a> = Selected<&'a SnapIncident>;

impl<T> Default for Selected<T> {
    fn default() -> Self {
        Self {
            points: Vec::new(),
            municipality_only: 0,
            county_only: 0,
            filtered_out: 0,
        }
    }
}

impl Selection<'_> {
    /// The point-level incidents' coordinates in EPSG:3006.
    pub fn coords(&self) -> Vec<[f64; 2]> {
        use rayon::prelude::*;
        let xy = |i: &&SnapIncident| [i.location.x(), i.location.y()];
        if self.points.len() < 1 << 17 {
            return self.points.iter().map(xy).collect();
        }
        self.points.par_iter().map(xy).collect()
    }
}

impl<T> Selected<T> {
    /// Adds a lot's counts of the incidents not among the points.
    fn count_with<U>(&mut self, lot: &Selected<U>) {
        self.municipality_only += lot.municipality_only;
        self.county_only += lot.county_only;
        self.filtered_out += lot.filtered_out;
    }

    /// Events that passed the filters but cannot be placed on the map.
    pub fn excluded_by_precision(&self) -> usize {
        self.municipality_only + self.county_only
    }

    /// "N events known only to the municipality", in Swedish and English, for the meta member.
    pub fn precision_note(&self) -> String {
        match (self.municipality_only, self.county_only) {
            (0, 0) => "all selected events have a point location".to_string(),
            (m, 0) => {
                format!("{m} events known only to the municipality are not placed on the map")
            }
            (0, c) => format!("{c} events known only to the county are not placed on the map"),
            (m, c) => format!(
                "{m} events known only to the municipality and {c} known only to the county are not placed on the map"
            ),
        }
    }
}

/// An incident's local dates and hour, worked out once when the snapshot is loaded: the time
/// zone conversion is the dearest part of a filter, and every request would repeat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTimes {
    /// [`crate::model::Incident::local_days`].
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// [`crate::model::Incident::weekday_hour`] (weekday from Monday = 0, hour 0–23).
    pub weekday_hour: Option<(u8, u8)>,
}

impl LocalTimes {
    /// The times of an incident at `at` known to `precision` (to `to`, for a window).
    pub fn compute(
        at: &DateTime<FixedOffset>,
        precision: TimePrecision,
        to: Option<DateTime<FixedOffset>>,
    ) -> Self {
        let (first, last) = crate::model::local_days(at, precision, to);
        let weekday_hour = precision.hour_known().then(|| {
            let (d, h) = crate::time::weekday_hour(at);
            (d as u8, h as u8)
        });
        Self {
            first,
            last,
            weekday_hour,
        }
    }

    /// `inc`'s, as the snapshot worked them out.
    pub fn of(inc: &SnapIncident) -> Self {
        inc.times()
    }

    /// The local date, when the time falls on one date ([`crate::model::Incident::local_day`]).
    pub fn day(&self) -> Option<NaiveDate> {
        (self.first == self.last).then_some(self.first)
    }
}

/// What a filter reads of an incident, in 24 bytes: a layer keeps one per incident in a column
/// beside them ([`crate::spatial::IncidentLayer::rows`]), so that a selection over a million
/// incidents reads 24 MB in order instead of the incidents' own rows, six times as wide and
/// mostly strings the filter never looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterRow {
    /// The location in EPSG:3006.
    pub xy: [f64; 2],
    /// The first local date ([`LocalTimes::first`]) as days from the common era.
    first: i32,
    /// Days from the first local date to the last; [`Self::LONG`] for that many or more, when
    /// the incident's own times say.
    span: u16,
    /// The local hour (0–23, or [`Self::NO_HOUR`]) in the low five bits; in the high three the
    /// weekday of the local date when the time falls on one (0 = Monday, or [`Self::NO_DAY`]).
    when: u8,
    /// The category group's place in [`CategoryGroup::ALL`] times four plus the location
    /// precision's place in [`LocationPrecision::ALL`].
    kind: u8,
}

impl FilterRow {
    const LONG: u16 = u16::MAX;
    const NO_HOUR: u8 = 31;
    const NO_DAY: u8 = 7;

    pub fn of(inc: &SnapIncident) -> Self {
        let t = inc.times();
        let first = t.first.num_days_from_ce();
        let span = u16::try_from(t.last.num_days_from_ce() - first)
            .ok()
            .filter(|&s| s < Self::LONG)
            .unwrap_or(Self::LONG);
        let hour = t.weekday_hour.map_or(Self::NO_HOUR, |(_, h)| h);
        let day = t
            .day()
            .map_or(Self::NO_DAY, |d| d.weekday().num_days_from_monday() as u8);
        Self {
            xy: [inc.location.x(), inc.location.y()],
            first,
            span,
            when: day << 5 | hour,
            kind: (inc.group as u8) << 2 | inc.precision as u8,
        }
    }

    fn hour(&self) -> u8 {
        self.when & 31
    }

    fn weekday(&self) -> u8 {
        self.when >> 5
    }

    fn group_bit(&self) -> u16 {
        1 << (self.kind >> 2)
    }

    fn precision(&self) -> LocationPrecision {
        LocationPrecision::ALL[usize::from(self.kind & 3)]
    }
}

/// The incidents a parallel lot of a selection holds.
const LOT: usize = 1 << 16;

/// A filter made ready for scanning rows: sets as bit masks, dates as day numbers.
struct RowTest<'f> {
    /// One bit per group at its place in [`CategoryGroup::ALL`].
    groups: u16,
    categories: Option<&'f BTreeSet<String>>,
    from: Option<i32>,
    to: Option<i32>,
    /// One bit per hour; bit 31 ([`FilterRow::NO_HOUR`]) is never set.
    hours: Option<u32>,
    /// One bit per weekday; bit 7 ([`FilterRow::NO_DAY`]) is never set.
    weekdays: Option<u8>,
    area: Option<&'f AreaFilter>,
}

impl<'f> RowTest<'f> {
    fn new(f: &'f IncidentFilter) -> Self {
        let mask = |groups: &mut dyn Iterator<Item = CategoryGroup>| {
            groups.fold(0u16, |m, g| m | 1 << (g as u8))
        };
        let groups = match (&f.categories, &f.groups) {
            (None, None) => mask(&mut CategoryGroup::ALL.into_iter().filter(|g| g.is_crime())),
            (_, Some(g)) => mask(&mut g.iter().copied()),
            // Categories alone: exactly those, whatever their group.
            (Some(_), None) => u16::MAX,
        };
        let bits = |on: &[bool]| {
            on.iter()
                .enumerate()
                .fold(0u32, |m, (i, &b)| if b { m | 1 << i } else { m })
        };
        Self {
            groups,
            categories: f.categories.as_ref(),
            from: f.from.map(|d| d.num_days_from_ce()),
            to: f.to.map(|d| d.num_days_from_ce()),
            hours: f.hours.map(|h| bits(&h.0)),
            weekdays: f.weekdays.map(|w| bits(&w.0) as u8),
            area: f.area.as_ref(),
        }
    }

    /// Whether the incident of `row` passes every filter but the area; `inc` is read only for
    /// a category filter or a time longer than [`FilterRow::LONG`] days.
    #[inline]
    fn passes<'a>(&self, row: &FilterRow, inc: impl Fn() -> &'a SnapIncident) -> bool {
        if self.groups & row.group_bit() == 0 {
            return false;
        }
        if let Some(c) = self.categories
            && !c.contains(&*inc().category)
        {
            return false;
        }
        // Every date the time may fall on lies in the period: a month-only event counts in a
        // period holding its whole month, a window in one holding all of it.
        if self.from.is_some_and(|f| row.first < f) {
            return false;
        }
        if let Some(t) = self.to {
            let last = if row.span == FilterRow::LONG {
                inc().times().last.num_days_from_ce()
            } else {
                row.first + i32::from(row.span)
            };
            if last > t {
                return false;
            }
        }
        // Without a known hour an event is in no hour range, without a known date on no
        // weekday: their bits are never set.
        if self.hours.is_some_and(|m| m >> row.hour() & 1 == 0) {
            return false;
        }
        if self.weekdays.is_some_and(|m| m >> row.weekday() & 1 == 0) {
            return false;
        }
        true
    }

    /// The incidents of `rows` split as [`IncidentFilter::select`] does, `each` making what the
    /// selection keeps of a point-level one.
    fn select<'a, T>(
        &self,
        rows: impl ExactSizeIterator<Item = (FilterRow, &'a SnapIncident)>,
        each: impl Fn(&'a SnapIncident, &FilterRow) -> T,
    ) -> Selected<T> {
        // Room for all of them at once: growing the list as it fills copied it and touched
        // new pages at every doubling, a fifth of a million-incident selection's time.
        let mut sel = Selected {
            points: Vec::with_capacity(rows.len()),
            ..Selected::default()
        };
        for (row, inc) in rows {
            match self.place(&row, inc) {
                Place::Point => sel.points.push(each(inc, &row)),
                Place::Municipality => sel.municipality_only += 1,
                Place::County => sel.county_only += 1,
                Place::Out => sel.filtered_out += 1,
            }
        }
        sel
    }

    /// Where the incident of `row` goes in a selection.
    #[inline]
    fn place(&self, row: &FilterRow, inc: &SnapIncident) -> Place {
        if !self.passes(row, || inc) {
            return Place::Out;
        }
        match row.precision() {
            LocationPrecision::Exact | LocationPrecision::Street => {
                if self
                    .area
                    .is_some_and(|a| !a.contains(Point::new(row.xy[0], row.xy[1])))
                {
                    Place::Out
                } else {
                    Place::Point
                }
            }
            LocationPrecision::Municipality => Place::Municipality,
            LocationPrecision::County => Place::County,
        }
    }
}

/// Where an incident goes in a [`Selected`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Point,
    Municipality,
    County,
    Out,
}

impl IncidentFilter {
    /// Whether an incident passes every filter except the area (which needs a point location).
    pub fn passes_attributes(&self, inc: &SnapIncident) -> bool {
        self.attribute_test()(inc)
    }

    /// [`Self::passes_attributes`] with the filter made ready once, for a loop over many
    /// incidents.
    pub fn attribute_test(&self) -> impl Fn(&SnapIncident) -> bool + Sync + '_ {
        let test = RowTest::new(self);
        move |inc| test.passes(&FilterRow::of(inc), || inc)
    }

    /// Splits `incidents` into point-level ones that pass, the ones known only to a
    /// municipality or county that pass, and the rest.
    pub fn select<'a>(&self, incidents: &'a [SnapIncident]) -> Selection<'a> {
        RowTest::new(self).select(incidents.iter().map(|i| (FilterRow::of(i), i)), |i, _| i)
    }

    /// [`Self::select`] over a snapshot's incidents, scanning the layer's filter column: in
    /// parallel lots over a large layer, the lots' points joined in the layer's order (so the
    /// selection is the one a single pass makes).
    pub fn select_in<'a>(&self, layer: &'a crate::spatial::IncidentLayer) -> Selection<'a> {
        self.select_in_as(layer, |i, _| i)
    }

    /// [`Self::select_in`] keeping only the point-level incidents' coordinates (EPSG:3006), for
    /// the methods that need no more of them: read from the filter column alone, without
    /// touching the incidents (unless a category filter asks for theirs).
    pub fn coords_in(&self, layer: &crate::spatial::IncidentLayer) -> Selected<[f64; 2]> {
        use rayon::prelude::*;
        let (items, rows) = (&layer.items[..], layer.rows());
        if items.len() < 2 * LOT {
            return self.select_in_as(layer, |_, r| r.xy);
        }
        // First each lot's counts, then each lot's points written straight into their place in
        // one list: no list per lot to join after (at 1M, a serial copy of 16 MB into as many
        // fresh pages again).
        let test = RowTest::new(self);
        let counts: Vec<Selected<()>> = items
            .par_chunks(LOT)
            .zip(rows.par_chunks(LOT))
            .map(|(items, rows)| test.select(rows.iter().copied().zip(items), |_, _| ()))
            .collect();
        let mut sel = Selected::default();
        for c in &counts {
            sel.count_with(c);
        }
        sel.points = vec![[0.0; 2]; counts.iter().map(|c| c.points.len()).sum()];
        let mut rest = &mut sel.points[..];
        let mut places = Vec::with_capacity(counts.len());
        for c in &counts {
            let (lot, after) = rest.split_at_mut(c.points.len());
            places.push(lot);
            rest = after;
        }
        items
            .par_chunks(LOT)
            .zip(rows.par_chunks(LOT))
            .zip(places)
            .for_each(|((items, rows), out)| {
                let mut next = out.iter_mut();
                for (row, inc) in rows.iter().zip(items) {
                    if test.place(row, inc) == Place::Point {
                        *next.next().expect("counted in the first pass") = row.xy;
                    }
                }
            });
        sel
    }

    fn select_in_as<'a, T: Send>(
        &self,
        layer: &'a crate::spatial::IncidentLayer,
        each: impl Fn(&'a SnapIncident, &FilterRow) -> T + Sync,
    ) -> Selected<T> {
        use rayon::prelude::*;
        let test = RowTest::new(self);
        let (items, rows) = (&layer.items[..], layer.rows());
        let lot = |items: &'a [SnapIncident], rows: &[FilterRow]| {
            test.select(rows.iter().copied().zip(items), &each)
        };
        if items.len() < 2 * LOT {
            return lot(items, rows);
        }
        let lots: Vec<Selected<T>> = items
            .par_chunks(LOT)
            .zip(rows.par_chunks(LOT))
            .map(|(items, rows)| lot(items, rows))
            .collect();
        let mut sel = Selected {
            points: Vec::with_capacity(lots.iter().map(|l| l.points.len()).sum()),
            ..Selected::default()
        };
        for lot in lots {
            sel.count_with(&lot);
            sel.points.extend(lot.points);
        }
        sel
    }

    /// The same filter for another date range (period comparison).
    pub fn with_dates(&self, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Self {
        Self {
            from,
            to,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, FixedOffset, Timelike};

    fn incident(
        id: &str,
        at: &str,
        cat: &str,
        group: CategoryGroup,
        p: LocationPrecision,
    ) -> SnapIncident {
        SnapIncident {
            source: "test".into(),
            source_id: crate::spatial::SourceId::new(id),
            occurred_at: DateTime::<FixedOffset>::parse_from_rfc3339(at).unwrap(),
            time_precision: Default::default(),
            occurred_to: None,
            category: cat.into(),
            group,
            label: cat.into(),
            location: Point::new(674_000.0, 6_593_000.0),
            precision: p,
            times: LocalTimes::compute(
                &DateTime::<FixedOffset>::parse_from_rfc3339(at).unwrap(),
                Default::default(),
                None,
            ),
            key_rank: 0,
        }
    }

    #[test]
    fn a_large_layer_is_selected_in_lots_as_in_one_pass() {
        // Over two lots' worth, so select_in splits; precisions, groups and dates mixed.
        let precisions = [
            LocationPrecision::Exact,
            LocationPrecision::Street,
            LocationPrecision::Municipality,
            LocationPrecision::County,
        ];
        let groups = [
            CategoryGroup::Violence,
            CategoryGroup::Property,
            CategoryGroup::Traffic,
        ];
        let mut b = crate::spatial::IncidentLayer::builder(300_000);
        for i in 0..300_000u32 {
            let day = 1 + (i * 7919) % 28;
            let inc = incident(
                &i.to_string(),
                &format!("2025-02-{day:02}T{:02}:00:00+01:00", i % 24),
                "theft",
                groups[(i as usize * 31) % 3],
                precisions[(i as usize * 13) % 4],
            );
            b.push(&crate::model::Incident {
                source: inc.source.to_string(),
                source_id: i.to_string(),
                occurred_at: inc.occurred_at,
                time_precision: inc.time_precision,
                occurred_to: None,
                category: inc.category.to_string(),
                group: inc.group,
                label: inc.label.to_string(),
                location: Point::new(
                    674_000.0 + f64::from(i % 1000),
                    6_593_000.0 + f64::from(i / 1000),
                ),
                precision: inc.precision,
                place: None,
                summary: None,
            });
        }
        let layer = b.build();
        let f = IncidentFilter {
            from: NaiveDate::from_ymd_opt(2025, 2, 5),
            to: NaiveDate::from_ymd_opt(2025, 2, 20),
            ..IncidentFilter::default()
        };
        let lots = f.select_in(&layer);
        let once = f.select(&layer.items);
        assert!(lots.points.len() > 50_000 && lots.municipality_only > 0 && lots.county_only > 0);
        assert_eq!(lots.points.len(), once.points.len());
        assert!(
            lots.points
                .iter()
                .zip(&once.points)
                .all(|(a, b)| std::ptr::eq(*a, *b))
        );
        assert_eq!(
            (lots.municipality_only, lots.county_only, lots.filtered_out),
            (once.municipality_only, once.county_only, once.filtered_out)
        );
        // Coordinates alone: the planted incidents a reader picks out by hand (5–20 February,
        // not traffic, exact or street precision), in the layer's order, and the same counts.
        let coords = f.coords_in(&layer);
        let by_hand: Vec<[f64; 2]> = layer
            .items
            .iter()
            .filter(|i| {
                (5..=20).contains(&i.occurred_at.day())
                    && i.group != CategoryGroup::Traffic
                    && matches!(
                        i.precision,
                        LocationPrecision::Exact | LocationPrecision::Street
                    )
            })
            .map(|i| [i.location.x(), i.location.y()])
            .collect();
        assert_eq!(coords.points, by_hand);
        assert_eq!(
            (
                coords.municipality_only,
                coords.county_only,
                coords.filtered_out
            ),
            (once.municipality_only, once.county_only, once.filtered_out)
        );
    }

    #[test]
    fn the_filter_column_selects_what_a_reader_picks_by_hand() {
        // February 2025 (1 February a Saturday, all of it UTC+1), every hour, three categories
        // of which some assaults are filed as traffic, four precisions, a 500 × 300 m raster.
        let cats = [
            ("theft", CategoryGroup::Property),
            ("assault", CategoryGroup::Violence),
            ("assault", CategoryGroup::Traffic),
            ("speeding", CategoryGroup::Traffic),
        ];
        let n = 150_000u32;
        let mut b = crate::spatial::IncidentLayer::builder(n as usize);
        for i in 0..n {
            let (cat, group) = cats[(i as usize * 7) % 4];
            b.push(&crate::model::Incident {
                source: "test".into(),
                source_id: i.to_string(),
                occurred_at: DateTime::parse_from_rfc3339(&format!(
                    "2025-02-{:02}T{:02}:30:00+01:00",
                    1 + (i * 7919) % 28,
                    i % 24
                ))
                .unwrap(),
                time_precision: Default::default(),
                occurred_to: None,
                category: cat.into(),
                group,
                label: cat.into(),
                location: Point::new(
                    674_000.0 + f64::from(i % 500),
                    6_593_000.0 + f64::from(i / 500),
                ),
                precision: LocationPrecision::ALL[(i as usize / 3) % 4],
                place: None,
                summary: None,
            });
        }
        let layer = b.build();
        let point_level = |i: &SnapIncident| {
            matches!(
                i.precision,
                LocationPrecision::Exact | LocationPrecision::Street
            )
        };
        let check = |f: IncidentFilter, by_hand: &dyn Fn(&SnapIncident) -> bool| {
            let want: Vec<[f64; 2]> = layer
                .items
                .iter()
                .filter(|i| point_level(i) && by_hand(i))
                .map(|i| [i.location.x(), i.location.y()])
                .collect();
            let got = f.coords_in(&layer);
            assert!(!want.is_empty() && want.len() < n as usize / 2, "{f:?}");
            assert_eq!(got.points, want, "{f:?}");
            let sel = f.select_in(&layer);
            assert!(
                sel.points
                    .iter()
                    .map(|i| [i.location.x(), i.location.y()])
                    .eq(want)
            );
        };
        let crime = |i: &SnapIncident| i.group.is_crime();
        // Friday to Sunday nights, 22 to 04.
        check(
            IncidentFilter {
                hours: Some(HourSet::parse("22-04").unwrap()),
                weekdays: Some(WeekdaySet::parse("fri-sun").unwrap()),
                ..IncidentFilter::default()
            },
            &|i| {
                let h = i.occurred_at.hour();
                let d = i.occurred_at.date_naive().weekday();
                crime(i)
                    && !(4..22).contains(&h)
                    && matches!(
                        d,
                        chrono::Weekday::Fri | chrono::Weekday::Sat | chrono::Weekday::Sun
                    )
            },
        );
        // A category by name, whatever its group.
        check(
            IncidentFilter {
                categories: Some(["assault".to_string()].into()),
                ..IncidentFilter::default()
            },
            &|i| &*i.category == "assault",
        );
        // A group, with dates: 10 to 14 February.
        check(
            IncidentFilter {
                groups: Some([CategoryGroup::Traffic].into()),
                from: NaiveDate::from_ymd_opt(2025, 2, 10),
                to: NaiveDate::from_ymd_opt(2025, 2, 14),
                ..IncidentFilter::default()
            },
            &|i| i.group == CategoryGroup::Traffic && (10..=14).contains(&i.occurred_at.day()),
        );
        // An area: the box 99.5–199.5 m east, 49.5–99.5 m north of the raster's corner, so that
        // no planted point lies on its edge.
        let square = Polygon::new(
            LineString::from(vec![
                (674_099.5, 6_593_049.5),
                (674_199.5, 6_593_049.5),
                (674_199.5, 6_593_099.5),
                (674_099.5, 6_593_099.5),
                (674_099.5, 6_593_049.5),
            ]),
            vec![],
        );
        check(
            IncidentFilter {
                area: AreaFilter::new("square", MultiPolygon::new(vec![square])),
                ..IncidentFilter::default()
            },
            &|i| {
                let (x, y) = (i.location.x() - 674_000.0, i.location.y() - 6_593_000.0);
                crime(i) && (100.0..200.0).contains(&x) && (50.0..100.0).contains(&y)
            },
        );
    }

    #[test]
    fn groups_and_precisions_are_packed_by_their_place() {
        for (k, g) in CategoryGroup::ALL.into_iter().enumerate() {
            assert_eq!(g as usize, k);
        }
        for (k, p) in LocationPrecision::ALL.into_iter().enumerate() {
            assert_eq!(p as usize, k);
        }
        // The column's byte holds the largest group beside the largest precision.
        assert!(CategoryGroup::ALL.len() <= 16 && LocationPrecision::ALL.len() <= 4);
    }

    #[test]
    fn a_window_longer_than_the_column_holds_is_dated_by_the_incident() {
        // 1850 to 2100: more days (91 311) than the column's span holds (65 534).
        let mut i = incident(
            "long",
            "1850-01-01T00:00:00+01:00",
            "burglary",
            CategoryGroup::Property,
            LocationPrecision::Exact,
        );
        i.time_precision = crate::model::TimePrecision::Window;
        i.occurred_to = Some(DateTime::parse_from_rfc3339("2100-01-01T00:00:00+01:00").unwrap());
        i.retime();
        let incs = [i];
        let to = |y: i32| IncidentFilter {
            to: NaiveDate::from_ymd_opt(y, 12, 31),
            ..IncidentFilter::default()
        };
        // The window ends on 31 December 2099: a period to the end of 2099 holds it, one to
        // the end of 2098 does not (nor would 1850 + 65 534 days, in 2029, say otherwise).
        assert_eq!(to(2099).select(&incs).points.len(), 1);
        assert_eq!(to(2098).select(&incs).points.len(), 0);
        assert_eq!(to(2030).select(&incs).points.len(), 0);
    }

    #[test]
    fn months_are_their_first_and_last_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            parse_period_bound("from", "2024-02", false),
            Ok(d("2024-02-01"))
        );
        assert_eq!(
            parse_period_bound("to", "2024-02", true),
            Ok(d("2024-02-29"))
        );
        assert_eq!(
            parse_period_bound("to", "2026-12", true),
            Ok(d("2026-12-31"))
        );
        assert_eq!(
            parse_period_bound("to", "2026-04-30", true),
            Ok(d("2026-04-30"))
        );
        assert_eq!(
            parse_period_bound("from", "2026-13", false)
                .unwrap_err()
                .param,
            "from"
        );
        assert!(parse_period_bound("from", "2026-1", false).is_err());
    }

    #[test]
    fn hour_ranges_wrap_midnight_with_an_exclusive_end() {
        let h = HourSet::parse("22-04").unwrap();
        let on: Vec<usize> = (0..24).filter(|&i| h.contains(i)).collect();
        assert_eq!(on, vec![0, 1, 2, 3, 22, 23]);
        let l = HourSet::parse("8,9,10").unwrap();
        assert_eq!((0..24).filter(|&i| l.contains(i)).count(), 3);
        assert!(HourSet::parse("20-24").unwrap().contains(23));
        assert!(!HourSet::parse("20-24").unwrap().contains(0));
        assert!(HourSet::parse("25").is_err());
        assert!(HourSet::parse("5-5").is_err());
        assert!(HourSet::parse("").is_err());
    }

    #[test]
    fn weekdays_parse_names_numbers_and_wrapping_ranges() {
        assert_eq!(
            WeekdaySet::parse("fri,sat").unwrap(),
            WeekdaySet::parse("4,5").unwrap()
        );
        assert_eq!(
            WeekdaySet::parse("fre,lör").unwrap(),
            WeekdaySet::parse("4,5").unwrap()
        );
        let w = WeekdaySet::parse("sat-mon").unwrap();
        assert_eq!(w.0, [true, false, false, false, false, true, true]);
        assert!(WeekdaySet::parse("7").is_err());
        assert!(WeekdaySet::parse("someday").is_err());
    }

    #[test]
    fn default_groups_are_crime_and_named_categories_override_them() {
        let incs = vec![
            incident(
                "1",
                "2026-05-01T12:00:00+02:00",
                "assault",
                CategoryGroup::Violence,
                LocationPrecision::Exact,
            ),
            incident(
                "2",
                "2026-05-01T12:00:00+02:00",
                "traffic_accident",
                CategoryGroup::Traffic,
                LocationPrecision::Exact,
            ),
        ];
        let sel = IncidentFilter::default().select(&incs);
        assert_eq!(sel.points.len(), 1);
        assert_eq!(sel.filtered_out, 1);
        let f = IncidentFilter {
            categories: Some(parse_categories("traffic_accident").unwrap()),
            ..Default::default()
        };
        let sel = f.select(&incs);
        assert_eq!(sel.points[0].source_id, "2");
    }

    #[test]
    fn dates_hours_and_weekdays_are_stockholm_local() {
        // 2026-04-30T22:30Z is Friday 1 May 00:30 in Stockholm (CEST).
        let incs = vec![incident(
            "1",
            "2026-04-30T22:30:00+00:00",
            "assault",
            CategoryGroup::Violence,
            LocationPrecision::Street,
        )];
        let may1 = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        let f = IncidentFilter {
            from: Some(may1),
            to: Some(may1),
            hours: Some(HourSet::parse("22-02").unwrap()),
            weekdays: Some(WeekdaySet::parse("fri").unwrap()),
            ..Default::default()
        };
        assert_eq!(f.select(&incs).points.len(), 1);
        let thursday = IncidentFilter {
            weekdays: Some(WeekdaySet::parse("thu").unwrap()),
            ..Default::default()
        };
        assert_eq!(thursday.select(&incs).points.len(), 0);
    }

    #[test]
    fn what_is_not_known_of_a_time_never_passes_a_filter_on_it() {
        use crate::model::TimePrecision;
        let with = |id: &str, at: &str, p: TimePrecision, to: Option<&str>| {
            let mut i = incident(
                id,
                at,
                "burglary",
                CategoryGroup::Property,
                LocationPrecision::Exact,
            );
            i.time_precision = p;
            i.occurred_to = to.map(|t| DateTime::parse_from_rfc3339(t).unwrap());
            i.retime();
            i
        };
        // Friday 6 March 2026 (a date), February 2026 (a month), Friday 18:00 to Monday 07:00
        // (a window), and Friday 22:00 (an hour).
        let incs = [
            with(
                "date",
                "2026-03-06T00:00:00+01:00",
                TimePrecision::Date,
                None,
            ),
            with(
                "month",
                "2026-02-01T00:00:00+01:00",
                TimePrecision::Month,
                None,
            ),
            with(
                "window",
                "2026-03-06T18:00:00+01:00",
                TimePrecision::Window,
                Some("2026-03-09T07:00:00+01:00"),
            ),
            with(
                "hour",
                "2026-03-06T22:00:00+01:00",
                TimePrecision::Hour,
                None,
            ),
        ];
        let ids = |f: &IncidentFilter| -> Vec<&str> {
            f.select(&incs)
                .points
                .iter()
                .map(|i| i.source_id.as_str())
                .collect()
        };
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        // An hour range: only the event whose hour is known (not the date at its midnight).
        let night = IncidentFilter {
            hours: Some(HourSet::parse("22-02").unwrap()),
            ..Default::default()
        };
        assert_eq!(ids(&night), ["hour"]);
        let midnight = IncidentFilter {
            hours: Some(HourSet::parse("0-1").unwrap()),
            ..Default::default()
        };
        assert!(ids(&midnight).is_empty());
        // Fridays: the date and the hour, not the month or the window over the weekend.
        let fridays = IncidentFilter {
            weekdays: Some(WeekdaySet::parse("fri").unwrap()),
            ..Default::default()
        };
        assert_eq!(ids(&fridays), ["date", "hour"]);
        // A period holds an event only when it holds every date the event may fall on.
        let march_6 = IncidentFilter {
            from: d("2026-03-06"),
            to: d("2026-03-06"),
            ..Default::default()
        };
        assert_eq!(ids(&march_6), ["date", "hour"]);
        let weekend = IncidentFilter {
            from: d("2026-03-06"),
            to: d("2026-03-09"),
            ..Default::default()
        };
        assert_eq!(ids(&weekend), ["date", "window", "hour"]);
        let half_february = IncidentFilter {
            from: d("2026-02-01"),
            to: d("2026-02-14"),
            ..Default::default()
        };
        assert!(ids(&half_february).is_empty());
        let february = IncidentFilter {
            from: d("2026-02-01"),
            to: d("2026-02-28"),
            ..Default::default()
        };
        assert_eq!(ids(&february), ["month"]);
    }

    #[test]
    fn municipality_and_county_events_are_counted_apart() {
        let incs = vec![
            incident(
                "1",
                "2026-05-01T12:00:00+02:00",
                "assault",
                CategoryGroup::Violence,
                LocationPrecision::Municipality,
            ),
            incident(
                "2",
                "2026-05-01T12:00:00+02:00",
                "assault",
                CategoryGroup::Violence,
                LocationPrecision::County,
            ),
            incident(
                "3",
                "2026-05-01T12:00:00+02:00",
                "assault",
                CategoryGroup::Violence,
                LocationPrecision::Exact,
            ),
        ];
        let sel = IncidentFilter::default().select(&incs);
        assert_eq!(sel.points.len(), 1);
        assert_eq!((sel.municipality_only, sel.county_only), (1, 1));
        assert!(
            sel.precision_note()
                .contains("1 events known only to the municipality")
        );
    }

    #[test]
    fn bbox_parsing_checks_order() {
        assert!(parse_bbox("18.0,59.4,18.1,59.5").is_ok());
        assert!(parse_bbox("18.1,59.4,18.0,59.5").is_err());
        assert!(parse_bbox("18.0,59.4,18.1").is_err());
    }
}
