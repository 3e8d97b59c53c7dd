//! The lägesbild summary for police, coordinators and admins: everything the one-page
//! printable lägesbild shows, for a period and the period of equal length before it.
//!
//! - **Counts per crime group and per district** with the change
//!   ([`crate::analysis::summary`] has the rules).
//! - **Top hotspots**: the largest DBSCAN clusters of the period (the hotspot module's default
//!   radius and minimum) as hull polygons with their peak window.
//! - **Top dark stretches**: the first stretches of the lighting action plan (within the area,
//!   when one is given).
//! - **Reports by status**: the backlog and the reports closed within the period.
//! - **BRÅ context**: the imported yearly counts of reported crimes.
//!
//! The dates are local dates (Europe/Stockholm), both ends included; without them the period
//! is the last 365 days up to today.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use geo::Point;
use serde::Serialize;
use utoipa::ToSchema;

use super::filter::{FilterParams, PeriodEcho};
use super::geojson::{Feature, Features, Geometry, Position, lonlat};
use super::lighting::{StretchProps, stretch_feature};
use super::{ServiceError, ServiceResult, Viewer};
use crate::analysis::cancel::Cancel;
use crate::analysis::hotspot;
use crate::analysis::lighting::{self as lighting, LightingInputs, LightingResult};
use crate::analysis::summary::{self, count_period, reports_by_status};
use crate::spatial::Snapshot;

/// Hotspots and dark stretches on the page.
pub const TOP_N: usize = 5;
/// BRÅ years shown.
pub const BRA_YEARS: usize = 6;

/// The summary.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Lagesbild {
    /// When it was made (RFC 3339, UTC).
    pub generated_at: String,
    /// The data is the fictitious demo dataset.
    pub demo: bool,
    pub period: PeriodEcho,
    /// The district asked for, or `bbox`; null for the whole municipality.
    pub area: Option<String>,
    /// The area's outline, WGS84 MultiPolygon.
    pub area_geometry: Option<Geometry>,
    pub total: Total,
    /// The crime groups and any other group with events, most events first.
    pub counts_by_group: Vec<GroupCount>,
    /// Every district (or the one asked for), then the events outside them.
    pub counts_by_district: Vec<DistrictCount>,
    /// Events known only to the municipality or county: in the group counts for the whole
    /// municipality, in no district.
    pub municipality_only: usize,
    /// The largest DBSCAN clusters of the period (at most five).
    pub hotspots: Features<Feature<SummaryHotspot>>,
    /// The first stretches of the lighting action plan (at most five).
    pub dark_stretches: Features<Feature<StretchProps>>,
    /// The EN 13201 P-class the stretches were judged against.
    pub lighting_class: String,
    pub reports_by_status: ReportCounts,
    /// The latest imported BRÅ years, newest first (at most six rows).
    pub bra: Vec<BraRow>,
    /// The follow-up of the åtgärdsplan and the medborgarlöften as they stand today, for the
    /// whole municipality whatever the period and area asked for (the printed lägesbild's
    /// second page); filled by the HTTP layer, which holds the store.
    pub follow_up: Option<FollowUpSection>,
}

/// The most measures the follow-up lists: a printed page.
pub const FOLLOW_UP_MEASURES: usize = 12;
/// Done measures older than this many days are no longer followed up.
pub const FOLLOW_UP_DONE_DAYS: i64 = 730;

/// What was planned and done, what it achieved, and the pledges in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUpSection {
    /// Measures in progress, planned, and done in the last two years: in progress first, then
    /// planned by date, then done, newest first; at most [`FOLLOW_UP_MEASURES`].
    pub measures: Vec<FollowUpMeasure>,
    /// Such measures left out by the limit.
    pub measures_more: usize,
    /// The medborgarlöften whose period holds the lägesbild's last date, with their indicators.
    pub pledges: Vec<super::pledges::PledgeView>,
}

/// One measure as the follow-up shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUpMeasure {
    pub id: i64,
    pub title: String,
    pub kind: crate::store::measures::MeasureKind,
    pub status: crate::store::measures::MeasureStatus,
    pub agency: Option<String>,
    pub planned_date: Option<NaiveDate>,
    pub done_date: Option<NaiveDate>,
    /// For a done measure, its effect in words (the odds ratio against the comparison area,
    /// "för tidigt att bedöma", "för få händelser"), or why there is none; null otherwise.
    pub effect: Option<String>,
}

/// The measures the follow-up shows (see [`FollowUpSection::measures`]) and how many more
/// there were.
pub fn follow_up_measures(
    all: &[crate::store::measures::Measure],
    today: NaiveDate,
) -> (Vec<&crate::store::measures::Measure>, usize) {
    use crate::store::measures::MeasureStatus as S;
    let since = today - chrono::Duration::days(FOLLOW_UP_DONE_DAYS);
    let mut v: Vec<&crate::store::measures::Measure> = all
        .iter()
        .filter(|m| match m.spec.status {
            S::InProgress | S::Planned => true,
            S::Done => m.spec.done_date.is_some_and(|d| d >= since && d <= today),
            S::Cancelled => false,
        })
        .collect();
    let rank = |s: S| match s {
        S::InProgress => 0,
        S::Planned => 1,
        _ => 2,
    };
    v.sort_by(|a, b| {
        let (x, y) = (&a.spec, &b.spec);
        rank(x.status).cmp(&rank(y.status)).then_with(|| {
            if x.status == S::Done {
                y.done_date.cmp(&x.done_date)
            } else {
                // Undated plans last.
                (x.planned_date.is_none(), x.planned_date)
                    .cmp(&(y.planned_date.is_none(), y.planned_date))
            }
            .then(b.id.cmp(&a.id))
        })
    });
    let more = v.len().saturating_sub(FOLLOW_UP_MEASURES);
    v.truncate(FOLLOW_UP_MEASURES);
    (v, more)
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Total {
    pub count: usize,
    /// The period before.
    pub previous: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupCount {
    /// The group's code.
    pub group: &'static str,
    /// Its Swedish name.
    pub label: &'static str,
    pub count: usize,
    pub previous: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DistrictCount {
    /// The district's name; `Utanför områdena` for events outside every district.
    pub district: String,
    pub outside: bool,
    pub count: usize,
    pub previous: usize,
}

/// A cluster on the page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SummaryHotspot {
    /// 1 for the largest.
    pub rank: usize,
    pub id: String,
    /// The district containing the centre.
    pub name: Option<String>,
    pub count: usize,
    /// The busiest window, in words, or "för få händelser för ett tidsmönster" when it is not
    /// busier than chance.
    pub peak: Option<String>,
    /// Events per category code.
    pub categories: BTreeMap<String, usize>,
    /// `[lon, lat]`, WGS84.
    #[schema(value_type = Vec<f64>)]
    pub centre: Position,
    /// First and last local date.
    pub first: String,
    pub last: String,
}

/// Reports by status: the backlog, and `closed` within the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReportCounts {
    pub open: usize,
    pub acknowledged: usize,
    pub in_progress: usize,
    pub closed: usize,
}

/// One BRÅ year.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BraRow {
    pub year: i32,
    pub municipality: String,
    /// Reported crimes.
    pub count: i64,
    pub per_100k: Option<f64>,
}

/// The lägesbild of `filter`'s period and area (period: see [`FilterParams::summary`]), with
/// the lighting analysis `lighting` of the snapshot `lighting_snap`.
pub fn lagesbild(
    snap: &Snapshot,
    params: &FilterParams,
    viewer: &Viewer,
    today: NaiveDate,
    lighting: (&Snapshot, &LightingResult),
    cancel: &Cancel,
) -> ServiceResult<Lagesbild> {
    if !viewer.sees_points() {
        return Err(ServiceError::Forbidden("police"));
    }
    let (filter, period) = params.summary(snap, today)?;
    let before = period.previous();
    let incidents = &snap.incidents.items;
    let now = count_period(incidents, &filter, &snap.areas);
    let prev = count_period(
        incidents,
        &filter.with_dates(Some(before.from), Some(before.to)),
        &snap.areas,
    );
    let counts_by_group = summary::group_changes(&now, &prev, &filter)
        .into_iter()
        .map(|c| GroupCount {
            group: c.key.as_str(),
            label: c.key.label_sv(),
            count: c.count,
            previous: c.previous,
        })
        .collect();
    let counts_by_district = summary::district_changes(&now, &prev, &filter, &snap.areas)
        .into_iter()
        .map(|c| DistrictCount {
            outside: c.key.is_none(),
            district: c.key.unwrap_or_else(|| "Utanför områdena".into()),
            count: c.count,
            previous: c.previous,
        })
        .collect();

    let sel = filter.select(incidents);
    let clusters = hotspot::clusters_with(
        &sel.points,
        hotspot::DEFAULT_EPS,
        hotspot::DEFAULT_MIN_POINTS,
        cancel,
    )?;
    let hotspots = clusters
        .iter()
        .take(TOP_N)
        .enumerate()
        .map(|(i, c)| {
            let props = SummaryHotspot {
                rank: i + 1,
                id: c.id.clone(),
                name: snap
                    .areas
                    .containing(Point::new(c.centre[0], c.centre[1]))
                    .map(|a| a.name.clone()),
                count: c.count(),
                peak: c.peak.as_ref().map(|p| p.words().to_string()),
                categories: c.categories.clone(),
                centre: lonlat(c.centre)?,
                first: c.first.to_string(),
                last: c.last.to_string(),
            };
            Ok(Feature::new(Geometry::polygon(&c.hull)?, props).with_id(c.id.clone()))
        })
        .collect::<ServiceResult<Vec<_>>>()?;

    let (lighting_snap, result) = lighting;
    let inputs = LightingInputs::from_snapshot(lighting_snap);
    let dark_stretches = lighting::top_stretches(result, usize::MAX)
        .into_iter()
        .filter(|s| {
            filter
                .area
                .as_ref()
                .is_none_or(|a| s.geometry.points().any(|p| a.contains(p)))
        })
        .take(TOP_N)
        .map(|s| stretch_feature(s, &inputs, false))
        .collect::<ServiceResult<Vec<_>>>()?;

    let by_status = reports_by_status(
        &snap.reports.items,
        period.from,
        period.to,
        filter.area.as_ref(),
    );
    let status = |s: &str| by_status.get(s).copied().unwrap_or(0);
    let mut bra: Vec<_> = snap.bra.iter().collect();
    bra.sort_by(|a, b| {
        b.year
            .cmp(&a.year)
            .then(a.municipality.cmp(&b.municipality))
    });

    Ok(Lagesbild {
        generated_at: Utc::now().to_rfc3339(),
        demo: snap.demo,
        period: period.echo(),
        area: filter.area.as_ref().map(|a| a.name.clone()),
        area_geometry: filter
            .area
            .as_ref()
            .map(|a| Geometry::multipolygon(&a.geometry))
            .transpose()?,
        total: Total {
            count: now.total,
            previous: prev.total,
        },
        counts_by_group,
        counts_by_district,
        municipality_only: now.municipality_only,
        hotspots: Features::new(hotspots),
        dark_stretches: Features::new(dark_stretches),
        lighting_class: result.params.classes.default.to_string(),
        reports_by_status: ReportCounts {
            open: status("open"),
            acknowledged: status("acknowledged"),
            in_progress: status("in_progress"),
            closed: status("closed"),
        },
        bra: bra
            .into_iter()
            .take(BRA_YEARS)
            .map(|b| BraRow {
                year: b.year,
                municipality: b.municipality.clone(),
                count: b.count,
                per_100k: b.per_100k,
            })
            .collect(),
        follow_up: None,
    })
}
