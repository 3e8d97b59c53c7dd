//! The lägesbild summary: `GET /api/v1/lagesbild?from&to&area` (police, coordinators, admins),
//! everything the one-page printable lägesbild shows.
//!
//! - **Counts per crime group and per district**, for the period and for the period of equal
//!   length just before it, so the change can be read off. Events known only to the
//!   municipality (or county) count towards the groups when the whole municipality is asked for,
//!   but never towards a district: they have no place. With `area` they are left out and counted
//!   apart (`municipality_only`). Point-level events outside every district count as district
//!   `null`.
//! - **Top hotspots**: the largest DBSCAN clusters of the period (default radius and minimum
//!   from the hotspot module) as hull polygons with their peak window.
//! - **Top dark stretches**: the first stretches of the lighting action plan (within the area,
//!   when one is given).
//! - **Reports by status**: the backlog (open, acknowledged, in progress; not merged
//!   duplicates) and the reports closed within the period.
//! - **BRÅ context**: the imported yearly counts of reported crimes.
//!
//! The date filters are local dates (Europe/Stockholm), both ends included; without them the
//! period is the last 365 days up to today.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, NaiveDate, Utc};
use geo::Point;
use serde_json::{Value, json};

use super::auth::Caller;
use super::geometry::{lonlat, multipolygon_json, polygon_json};
use super::{ApiResult, AppError, AppState, analysis};
use crate::analysis::filter::{
    AreaFilter, HourSet, IncidentFilter, WeekdaySet, parse_bbox, parse_categories, parse_date,
    parse_groups,
};
use crate::analysis::hotspot;
use crate::analysis::lighting::{self as lighting_analysis, LightingInputs};
use crate::category::CategoryGroup;
use crate::model::{CitizenReport, Incident, LocationPrecision, ReportStatus, Role};
use crate::spatial::{AreaLayer, Snapshot};

/// Hotspots and dark stretches on the page.
pub const TOP_N: usize = 5;
/// Length of the default period.
pub const DEFAULT_DAYS: i64 = 365;
/// BRÅ years shown.
pub const BRA_YEARS: usize = 6;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/lagesbild", get(lagesbild))
}

/// The filters of a summary (the lägesbild, the patrol plan) with the period made explicit.
pub struct SummaryQuery {
    pub filter: IncidentFilter,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl SummaryQuery {
    /// Reads the shared filters; `extra` names the endpoint's own parameters. Unknown
    /// parameters are refused, so a misspelt filter never silently widens the picture.
    pub fn parse(
        q: &HashMap<String, String>,
        snap: &Snapshot,
        extra: &[&str],
        attributes: bool,
    ) -> ApiResult<Self> {
        let bad = |e: crate::analysis::filter::FilterError| AppError::BadRequest(e.to_string());
        let filter_params = super::query::names::<crate::service::filter::FilterParams>();
        let mut unknown: Vec<&str> = q
            .keys()
            .map(String::as_str)
            .filter(|k| {
                !extra.contains(k)
                    && if attributes {
                        !filter_params.iter().any(|p| p == k)
                    } else {
                        !["from", "to", "area"].contains(k)
                    }
            })
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(AppError::BadRequest(format!(
                "unknown parameter(s) {}",
                unknown.join(", ")
            )));
        }
        let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let today = crate::time::local_date(&Utc::now().fixed_offset());
        let to = get("to")
            .map(|v| parse_date("to", v))
            .transpose()
            .map_err(bad)?
            .unwrap_or(today);
        let from = get("from")
            .map(|v| parse_date("from", v))
            .transpose()
            .map_err(bad)?
            .unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
        if from > to {
            return Err(AppError::BadRequest(format!(
                "from={from} is after to={to}"
            )));
        }
        let mut filter = IncidentFilter {
            from: Some(from),
            to: Some(to),
            ..IncidentFilter::default()
        };
        if let Some(v) = get("categories") {
            filter.categories = Some(parse_categories(v).map_err(bad)?);
        }
        if let Some(v) = get("groups") {
            filter.groups = Some(parse_groups(v).map_err(bad)?);
        }
        if let Some(v) = get("hours") {
            filter.hours = Some(HourSet::parse(v).map_err(bad)?);
        }
        if let Some(v) = get("weekdays") {
            filter.weekdays = Some(WeekdaySet::parse(v).map_err(bad)?);
        }
        filter.area = match (get("area"), get("bbox")) {
            (Some(_), Some(_)) => {
                return Err(AppError::BadRequest(
                    "give either area (a district name) or bbox, not both".into(),
                ));
            }
            (Some(name), None) => Some(AreaFilter::district(&snap.areas, name).map_err(bad)?),
            (None, Some(b)) => {
                Some(AreaFilter::wgs84_bbox(parse_bbox(b).map_err(bad)?).map_err(bad)?)
            }
            (None, None) => None,
        };
        Ok(Self { filter, from, to })
    }

    /// The period of equal length just before.
    pub fn previous(&self) -> (NaiveDate, NaiveDate) {
        let days = (self.to - self.from).num_days() + 1;
        let to = self.from - Duration::days(1);
        (to - Duration::days(days - 1), to)
    }

    pub fn period_json(&self) -> Value {
        let (pf, pt) = self.previous();
        json!({
            "from": self.from.to_string(),
            "to": self.to.to_string(),
            "days": (self.to - self.from).num_days() + 1,
            "previous_from": pf.to_string(),
            "previous_to": pt.to_string(),
        })
    }
}

/// Incidents of one period, counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeriodCounts {
    pub total: usize,
    pub by_group: BTreeMap<CategoryGroup, usize>,
    /// By the district containing the event; `None`: point-level but outside every district.
    pub by_district: BTreeMap<Option<String>, usize>,
    /// Known only to the municipality or county.
    pub municipality_only: usize,
}

/// Counts the incidents `filter` selects (see the module documentation for the rules).
pub fn count_period(
    incidents: &[Incident],
    filter: &IncidentFilter,
    areas: &AreaLayer,
) -> PeriodCounts {
    let mut c = PeriodCounts::default();
    for inc in incidents {
        if !filter.passes_attributes(inc) {
            continue;
        }
        let placed = matches!(
            inc.precision,
            LocationPrecision::Exact | LocationPrecision::Street
        );
        if !placed {
            c.municipality_only += 1;
            if filter.area.is_some() {
                continue;
            }
        } else if filter
            .area
            .as_ref()
            .is_some_and(|a| !a.contains(inc.location))
        {
            continue;
        }
        c.total += 1;
        *c.by_group.entry(inc.group).or_insert(0) += 1;
        if placed {
            let d = areas.containing(inc.location).map(|a| a.name.clone());
            *c.by_district.entry(d).or_insert(0) += 1;
        }
    }
    c
}

/// Reports by status: the open backlog and those closed within `[from, to]`.
pub fn reports_by_status(
    reports: &[CitizenReport],
    from: NaiveDate,
    to: NaiveDate,
    area: Option<&AreaFilter>,
) -> BTreeMap<&'static str, usize> {
    let mut out: BTreeMap<&'static str, usize> = [
        ReportStatus::Open,
        ReportStatus::Acknowledged,
        ReportStatus::InProgress,
        ReportStatus::Closed,
    ]
    .into_iter()
    .map(|s| (s.as_str(), 0))
    .collect();
    for r in reports {
        if r.merged_into.is_some() || area.is_some_and(|a| !a.contains(r.location)) {
            continue;
        }
        if r.status == ReportStatus::Closed {
            let d = crate::time::local_date(&r.updated_at.fixed_offset());
            if d < from || d > to {
                continue;
            }
        }
        *out.entry(r.status.as_str()).or_insert(0) += 1;
    }
    out
}

async fn lagesbild(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Police)?;
    let snap = state.spatial.load();
    let query = SummaryQuery::parse(&q, &snap, &[], true)?;
    let plan = crate::api::lighting::class_plan(None, None, &state.config)
        .map_err(AppError::BadRequest)?;
    let (lsnap, lighting) = crate::api::lighting::analysis(&state, plan).await?;
    let body = analysis(&state, move |cancel| {
        let filter = &query.filter;
        let (pf, pt) = query.previous();
        let now = count_period(&snap.incidents.items, filter, &snap.areas);
        let before = count_period(
            &snap.incidents.items,
            &filter.with_dates(Some(pf), Some(pt)),
            &snap.areas,
        );

        let mut groups: Vec<CategoryGroup> = CategoryGroup::ALL
            .into_iter()
            .filter(|g| {
                g.is_crime() || now.by_group.contains_key(g) || before.by_group.contains_key(g)
            })
            .collect();
        groups.sort_by_key(|g| std::cmp::Reverse(now.by_group.get(g).copied().unwrap_or(0)));
        let counts_by_group: Vec<Value> = groups
            .iter()
            .filter(|g| filter.groups.as_ref().is_none_or(|s| s.contains(g)))
            .map(|g| {
                json!({
                    "group": g.as_str(),
                    "label": g.label_sv(),
                    "count": now.by_group.get(g).copied().unwrap_or(0),
                    "previous": before.by_group.get(g).copied().unwrap_or(0),
                })
            })
            .collect();

        let mut districts: Vec<Option<String>> = match &filter.area {
            Some(a) => vec![Some(a.name.clone())],
            None => snap.areas.items.iter().map(|a| Some(a.name.clone())).collect(),
        };
        if filter.area.is_none()
            && (now.by_district.contains_key(&None) || before.by_district.contains_key(&None))
        {
            districts.push(None);
        }
        let counts_by_district: Vec<Value> = districts
            .iter()
            .map(|d| {
                json!({
                    "district": d.clone().unwrap_or_else(|| "Utanför områdena".into()),
                    "outside": d.is_none(),
                    "count": now.by_district.get(d).copied().unwrap_or(0),
                    "previous": before.by_district.get(d).copied().unwrap_or(0),
                })
            })
            .collect();

        let sel = filter.select(&snap.incidents.items);
        let clusters = hotspot::clusters_with(
            &sel.points,
            hotspot::DEFAULT_EPS,
            hotspot::DEFAULT_MIN_POINTS,
            cancel,
        )?;
        let mut hotspots = Vec::new();
        for (i, c) in clusters.iter().take(TOP_N).enumerate() {
            let district = snap
                .areas
                .containing(Point::new(c.centre[0], c.centre[1]))
                .map(|a| a.name.clone());
            hotspots.push(json!({
                "type": "Feature",
                "id": c.id,
                "geometry": polygon_json(&c.hull)?,
                "properties": {
                    "rank": i + 1,
                    "id": c.id,
                    "name": district,
                    "count": c.count(),
                    "peak": c.peak.as_ref().map(|p| p.text.clone()),
                    "categories": c.categories,
                    "centre": lonlat(c.centre)?,
                    "first": c.first.to_string(),
                    "last": c.last.to_string(),
                }
            }));
        }

        let inputs = LightingInputs::from_snapshot(&lsnap);
        let stretches: Vec<Value> = lighting_analysis::top_stretches(&lighting, usize::MAX)
            .into_iter()
            .filter(|s| {
                filter.area.as_ref().is_none_or(|a| {
                    s.geometry.points().any(|p| a.contains(p))
                })
            })
            .take(TOP_N)
            .map(|s| crate::api::lighting::stretch_feature(s, &inputs, false))
            .collect();

        let mut bra: Vec<_> = snap.bra.iter().collect();
        bra.sort_by(|a, b| b.year.cmp(&a.year).then(a.municipality.cmp(&b.municipality)));
        let bra: Vec<Value> = bra
            .into_iter()
            .take(BRA_YEARS)
            .map(|b| json!({ "year": b.year, "municipality": b.municipality, "count": b.count, "per_100k": b.per_100k }))
            .collect();

        Ok(json!({
            "generated_at": Utc::now().to_rfc3339(),
            "demo": snap.demo,
            "period": query.period_json(),
            "area": filter.area.as_ref().map(|a| a.name.clone()),
            "area_geometry": match &filter.area {
                Some(a) => Some(multipolygon_json(&a.geometry)?),
                None => None,
            },
            "total": { "count": now.total, "previous": before.total },
            "counts_by_group": counts_by_group,
            "counts_by_district": counts_by_district,
            "municipality_only": now.municipality_only,
            "hotspots": { "type": "FeatureCollection", "features": hotspots },
            "dark_stretches": { "type": "FeatureCollection", "features": stretches },
            "lighting_class": lighting.params.classes.default.to_string(),
            "reports_by_status": reports_by_status(&snap.reports.items, query.from, query.to, filter.area.as_ref()),
            "bra": bra,
        }))
    })
    .await?;
    Ok(Json(body))
}

/// OpenAPI 3.1 `paths` entries of this endpoint.
pub fn openapi_paths() -> Value {
    json!({
        "/api/v1/lagesbild": { "get": {
            "summary": "The one-page lägesbild: counts with change, top hotspots, dark stretches, reports, BRÅ",
            "description": "Police, coordinators and admins. `period {from, to, days, previous_from, previous_to}`, `total`, `counts_by_group [{group, label, count, previous}]`, `counts_by_district [{district, outside, count, previous}]`, `municipality_only`, `hotspots` and `dark_stretches` (FeatureCollections), `reports_by_status`, `bra`, `area_geometry`.",
            "security": [{ "bearer": [] }],
            "parameters": [
                { "name": "from", "in": "query", "schema": { "type": "string", "format": "date" }, "description": "First local date (default: 364 days before `to`)." },
                { "name": "to", "in": "query", "schema": { "type": "string", "format": "date" }, "description": "Last local date (default: today)." },
                { "name": "area", "in": "query", "schema": { "type": "string" }, "description": "District name; or `bbox`. The hotspot filters groups, categories, hours and weekdays apply too." }
            ],
            "responses": { "200": { "description": "JSON object" }, "400": { "description": "A parameter is invalid" }, "401": { "description": "No token" }, "403": { "description": "Role too low" } }
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Area, ServiceCode};
    use chrono::{DateTime, FixedOffset, TimeZone};
    use geo::{MultiPolygon, Rect, coord};

    fn inc(
        id: &str,
        at: &str,
        group: CategoryGroup,
        x: f64,
        y: f64,
        p: LocationPrecision,
    ) -> Incident {
        Incident {
            source: "t".into(),
            source_id: id.into(),
            occurred_at: DateTime::<FixedOffset>::parse_from_rfc3339(at).unwrap(),
            category: "x".into(),
            group,
            label: "x".into(),
            location: Point::new(x, y),
            precision: p,
            place: None,
            summary: None,
        }
    }

    fn square(id: i64, name: &str, x0: f64, y0: f64) -> Area {
        let r = Rect::new(
            coord! { x: x0, y: y0 },
            coord! { x: x0 + 1000.0, y: y0 + 1000.0 },
        );
        Area {
            id,
            name: name.into(),
            geometry: MultiPolygon(vec![r.to_polygon()]),
            source: "t".into(),
        }
    }

    fn filter(from: &str, to: &str) -> IncidentFilter {
        IncidentFilter {
            from: Some(from.parse().unwrap()),
            to: Some(to.parse().unwrap()),
            ..IncidentFilter::default()
        }
    }

    #[test]
    fn counts_follow_groups_districts_and_precision() {
        use CategoryGroup::*;
        use LocationPrecision::*;
        let areas = AreaLayer::new(vec![
            square(1, "Norr", 0.0, 1000.0),
            square(2, "Söder", 0.0, 0.0),
        ]);
        let incidents = vec![
            inc(
                "1",
                "2026-03-01T22:00:00+01:00",
                Violence,
                500.0,
                1500.0,
                Exact,
            ),
            inc(
                "2",
                "2026-03-02T10:00:00+01:00",
                Property,
                500.0,
                500.0,
                Street,
            ),
            inc(
                "3",
                "2026-03-03T10:00:00+01:00",
                Property,
                500.0,
                500.0,
                Exact,
            ),
            inc(
                "4",
                "2026-03-04T10:00:00+01:00",
                Property,
                5000.0,
                5000.0,
                Exact,
            ),
            inc(
                "5",
                "2026-03-05T10:00:00+01:00",
                Violence,
                0.0,
                0.0,
                Municipality,
            ),
            // Outside the period, and not crime.
            inc(
                "6",
                "2026-02-01T10:00:00+01:00",
                Violence,
                500.0,
                500.0,
                Exact,
            ),
            inc(
                "7",
                "2026-03-05T10:00:00+01:00",
                Traffic,
                500.0,
                500.0,
                Exact,
            ),
        ];
        let c = count_period(&incidents, &filter("2026-03-01", "2026-03-31"), &areas);
        assert_eq!(c.total, 5);
        assert_eq!(c.by_group.get(&Violence), Some(&2));
        assert_eq!(c.by_group.get(&Property), Some(&3));
        assert_eq!(c.by_group.get(&Traffic), None);
        assert_eq!(c.by_district.get(&Some("Norr".into())), Some(&1));
        assert_eq!(c.by_district.get(&Some("Söder".into())), Some(&2));
        assert_eq!(c.by_district.get(&None), Some(&1));
        assert_eq!(c.municipality_only, 1);

        // Within one district the municipality-level event has no place: counted apart.
        let mut f = filter("2026-03-01", "2026-03-31");
        f.area = Some(AreaFilter::district(&areas, "söder").unwrap());
        let c = count_period(&incidents, &f, &areas);
        assert_eq!(c.total, 2);
        assert_eq!(c.by_group.get(&Violence), None);
        assert_eq!(c.municipality_only, 1);
    }

    #[test]
    fn the_previous_period_has_the_same_length() {
        let q = SummaryQuery {
            filter: IncidentFilter::default(),
            from: "2026-03-01".parse().unwrap(),
            to: "2026-03-31".parse().unwrap(),
        };
        let (pf, pt) = q.previous();
        assert_eq!(pf.to_string(), "2026-01-29");
        assert_eq!(pt.to_string(), "2026-02-28");
        assert_eq!((pt - pf).num_days() + 1, 31);
    }

    #[test]
    fn reports_count_the_backlog_and_the_closed_of_the_period() {
        let t = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
        let report =
            |id: i64, status: ReportStatus, updated: u32, merged: Option<i64>| CitizenReport {
                id,
                service: ServiceCode::DarkPath,
                status,
                description: String::new(),
                location: Point::new(0.0, 0.0),
                original_location: Point::new(0.0, 0.0),
                walkway_id: None,
                lamp_id: None,
                address: None,
                media_url: None,
                status_notes: None,
                agency_responsible: None,
                requested_at: t(1),
                updated_at: t(updated),
                hidden: false,
                merged_into: merged,
                attributes: Value::Null,
            };
        let reports = vec![
            report(1, ReportStatus::Open, 2, None),
            report(2, ReportStatus::Open, 2, Some(1)),
            report(3, ReportStatus::InProgress, 3, None),
            report(4, ReportStatus::Closed, 10, None),
            report(5, ReportStatus::Closed, 25, None),
        ];
        let from = "2026-03-01".parse().unwrap();
        let to = "2026-03-15".parse().unwrap();
        let by = reports_by_status(&reports, from, to, None);
        assert_eq!(by["open"], 1);
        assert_eq!(by["acknowledged"], 0);
        assert_eq!(by["in_progress"], 1);
        assert_eq!(by["closed"], 1);
    }
}
