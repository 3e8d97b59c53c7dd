//! The patrol plan: where and when visible police presence matters most, for police,
//! coordinators and admins (it is built from incident points).
//!
//! [`plan`] clusters the filtered incidents (DBSCAN), tests them with Gi\* (FDR), keeps and
//! ranks the significant clusters and gives each its patrol windows; the rules are
//! [`crate::analysis::patrol`]'s. The answer is [`PatrolPlan`]; [`plan_csv`] (one row per
//! hotspot) and [`plan_gpx`] (GPX 1.1, one waypoint per hotspot centre, its name the rank and
//! district, its description the windows, for GPS units and planning tools) render it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{NaiveDate, Utc};
use geo::{Point, Polygon};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::filter::{FilterParams, PeriodEcho};
use super::geojson::{Geometry, Position, lonlat};
use super::hotspots::DbscanParameters;
use super::{ServiceError, ServiceResult, Viewer};
use crate::analysis::cancel::Cancel;
use crate::analysis::hotspot::gistar::{self, GiStarParams};
use crate::analysis::hotspot::profile::{NO_PATTERN_SV, round4, weight_sv};
use crate::analysis::hotspot::{self, Cluster};
use crate::analysis::patrol::{self, Window};
use crate::spatial::Snapshot;
use crate::text::{csv_text, xml_safe};

/// Hotspots in a plan unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 10;
/// The most hotspots one plan holds; with at most [`patrol::MAX_WINDOWS`] windows and a
/// 7 × 24 profile each, a JSON plan stays below about 2 MB.
pub const MAX_LIMIT: usize = 500;

/// The plan's own parameters (the incident filter is [`FilterParams`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct PlanParams {
    /// DBSCAN radius in metres, 5–2000 (default 100).
    #[arg(long)]
    pub eps: Option<f64>,
    /// DBSCAN minimum number of events within `eps` of a core event, 2–10000 (default 5).
    #[arg(long)]
    pub min_points: Option<usize>,
    /// Hotspots in the plan, 1–500 (default 10).
    #[arg(long)]
    pub limit: Option<usize>,
}

impl PlanParams {
    /// `(eps, min_points, limit)` with the defaults, each checked against its range.
    pub fn resolved(&self) -> ServiceResult<(f64, usize, usize)> {
        fn check<T: PartialOrd + std::fmt::Display + Copy>(
            name: &str,
            v: Option<T>,
            lo: T,
            hi: T,
            default: T,
        ) -> ServiceResult<T> {
            match v {
                None => Ok(default),
                Some(v) if v >= lo && v <= hi => Ok(v),
                Some(v) => Err(ServiceError::Invalid(format!(
                    "{name}={v}: expected a number from {lo} to {hi}"
                ))),
            }
        }
        Ok((
            check("eps", self.eps, 5.0, 2_000.0, hotspot::DEFAULT_EPS)?,
            check(
                "min_points",
                self.min_points,
                2,
                10_000,
                hotspot::DEFAULT_MIN_POINTS,
            )?,
            check("limit", self.limit, 1, MAX_LIMIT, DEFAULT_LIMIT)?,
        ))
    }
}

/// The plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PatrolPlan {
    /// When the plan was made (RFC 3339, UTC).
    pub generated_at: String,
    pub period: PeriodEcho,
    /// The district asked for, or `bbox`.
    pub area: Option<String>,
    /// The data is the fictitious demo dataset.
    pub demo: bool,
    pub method: PlanMethod,
    /// DBSCAN clusters found.
    pub clusters: usize,
    /// Of them, significant (and in the plan, up to `limit`).
    pub significant: usize,
    /// Point-level events the filter selected.
    pub included: usize,
    /// Events the filter selected that are known only to a municipality or county.
    pub excluded_by_precision: usize,
    /// Best first.
    pub hotspots: Vec<PlanHotspot>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanMethod {
    pub dbscan: DbscanParameters,
    pub gistar: PlanGistar,
    /// Length of a patrol window in hours.
    pub window_hours: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanGistar {
    /// Cell side (or hexagon width) in metres.
    pub cell: f64,
    /// Distance band in metres.
    pub band: f64,
    /// `square` or `hex`.
    pub grid: &'static str,
    /// The weakest Gi\* bin that makes a cluster significant (2: 95 %).
    pub min_bin: i8,
}

/// One hotspot of the plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanHotspot {
    /// 1 for the first.
    pub rank: usize,
    /// The DBSCAN cluster's stable id.
    pub id: String,
    /// The district containing the centre (as `district`; the name the plan shows).
    pub name: Option<String>,
    pub district: Option<String>,
    pub count: usize,
    /// The strongest Gi\* bin in the cluster: 3 (99 %) or 2 (95 %).
    pub max_bin: i8,
    /// `[lon, lat]`, WGS84.
    #[schema(value_type = Vec<f64>)]
    pub centre: Position,
    /// The cluster's busiest window, in words, when it is busier than chance (`peak_p` at most
    /// 0.05); null otherwise.
    pub peak: Option<String>,
    /// The peak's p-value against the week's uniform expectation: the exact binomial tail of
    /// its events at 4/168, times 168 (Bonferroni).
    pub peak_p: Option<f64>,
    /// "för få händelser för ett tidsmönster" when the events hold no time pattern.
    pub peak_note: Option<&'static str>,
    /// Up to three patrol windows, busiest first, each busier than chance; none without a
    /// time pattern.
    pub windows: Vec<PlanWindow>,
    /// Events per weekday (Monday first) and local hour: 7 rows of 24 aoristic weights.
    pub profile: Vec<Vec<f64>>,
    /// Of the profile's weight, what came from events known only to a window.
    pub uncertain_weight: f64,
    /// Events known only to a date or month: counted, not in the profile or the windows.
    pub without_hour: usize,
    /// Events per category code.
    pub categories: BTreeMap<String, usize>,
    /// The most frequent category (the alphabetically first of a tie).
    pub top_category: Option<String>,
    /// First and last local date.
    pub first: String,
    pub last: String,
    /// The cluster's hull, WGS84 Polygon.
    pub hull: Geometry,
}

/// A patrol window of the week, local time.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PlanWindow {
    /// Start weekday (0 = Monday).
    pub weekday: usize,
    /// Start hour.
    pub hour: usize,
    /// Length in hours.
    pub hours: usize,
    /// Events in the window (aoristic weight).
    pub count: f64,
    /// Its p-value against the week's uniform expectation (as `peak_p`).
    pub p: f64,
    /// In Swedish, e.g. `fre–lör 22–02`.
    pub label: String,
}

impl From<&Window> for PlanWindow {
    fn from(w: &Window) -> Self {
        Self {
            weekday: w.weekday,
            hour: w.hour,
            hours: w.hours,
            count: round4(w.count),
            p: w.p,
            label: w.label.clone(),
        }
    }
}

/// The cluster's peak when it is a time pattern.
pub fn pattern(c: &Cluster) -> Option<&crate::analysis::hotspot::profile::Peak> {
    c.peak.as_ref().filter(|p| p.is_pattern())
}

/// [`NO_PATTERN_SV`] when the cluster has no time pattern.
pub fn no_pattern(c: &Cluster) -> Option<&'static str> {
    pattern(c).is_none().then_some(NO_PATTERN_SV)
}

/// The most frequent category of a cluster; a tie goes to the alphabetically first.
fn top_category(c: &Cluster) -> Option<String> {
    c.categories
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(k, _)| k.clone())
}

/// The patrol plan for `filter` (period: see [`FilterParams::summary`]) and `params`.
pub fn plan(
    snap: &Snapshot,
    filter: &FilterParams,
    params: &PlanParams,
    viewer: &Viewer,
    today: NaiveDate,
    cancel: &Cancel,
) -> ServiceResult<PatrolPlan> {
    plan_with_hulls(snap, filter, params, viewer, today, cancel).map(|(plan, _)| plan)
}

/// [`plan`], and each hotspot's hull in EPSG:3006 (in the order of `hotspots`), for the
/// metric work that follows a plan (the patrol dosage).
pub fn plan_with_hulls(
    snap: &Snapshot,
    filter: &FilterParams,
    params: &PlanParams,
    viewer: &Viewer,
    today: NaiveDate,
    cancel: &Cancel,
) -> ServiceResult<(PatrolPlan, Vec<Polygon<f64>>)> {
    if !viewer.sees_points() {
        return Err(ServiceError::Forbidden("police"));
    }
    let (filter, period) = filter.summary(snap, today)?;
    let (eps, min_points, limit) = params.resolved()?;
    let sel = filter.select_in(&snap.incidents);
    let pts = sel.coords();
    let clusters = hotspot::clusters_of(&sel.points, &pts, eps, min_points, cancel)?;
    let area = filter.area.as_ref().map(|a| a as &dyn gistar::StudyArea);
    let gi = gistar::hot_spots_with(&pts, &GiStarParams::default(), area, cancel)?;
    let ranked = patrol::rank_hotspots(&clusters, &gi, limit);
    let hulls: Vec<Polygon<f64>> = ranked.iter().map(|h| h.cluster.hull.clone()).collect();
    let hotspots = ranked
        .into_iter()
        .map(|h| {
            let c = h.cluster;
            let district = snap
                .areas
                .containing(Point::new(c.centre[0], c.centre[1]))
                .map(|a| a.name.clone());
            Ok(PlanHotspot {
                rank: h.rank,
                id: c.id.clone(),
                name: district.clone(),
                district,
                count: c.count(),
                max_bin: h.bin,
                centre: lonlat(c.centre)?,
                peak: pattern(c).map(|p| p.text.clone()),
                peak_p: c.peak.as_ref().map(|p| p.p),
                peak_note: no_pattern(c),
                windows: h.windows.iter().map(PlanWindow::from).collect(),
                profile: c.profile.rows(),
                uncertain_weight: round4(c.uncertain_weight),
                without_hour: c.without_hour,
                categories: c.categories.clone(),
                top_category: top_category(c),
                first: c.first.to_string(),
                last: c.last.to_string(),
                hull: Geometry::polygon(&c.hull)?,
            })
        })
        .collect::<ServiceResult<Vec<_>>>()?;
    let plan = PatrolPlan {
        generated_at: Utc::now().to_rfc3339(),
        period: period.echo(),
        area: filter.area.as_ref().map(|a| a.name.clone()),
        demo: snap.demo,
        method: PlanMethod {
            dbscan: DbscanParameters { eps, min_points },
            gistar: PlanGistar {
                cell: gi.cell,
                band: gi.band,
                grid: gi.grid.as_str(),
                min_bin: 2,
            },
            window_hours: patrol::WINDOW_HOURS,
        },
        clusters: clusters.len(),
        significant: hotspots.len(),
        included: sel.points.len(),
        excluded_by_precision: sel.excluded_by_precision(),
        hotspots,
    };
    Ok((plan, hulls))
}

fn windows_text(h: &PlanHotspot) -> Vec<String> {
    h.windows
        .iter()
        .map(|w| format!("{} ({} händelser)", w.label, weight_sv(w.count)))
        .collect()
}

/// A number as the JSON plan writes it.
fn number(v: f64) -> String {
    serde_json::to_string(&v).unwrap_or_default()
}

/// One row per hotspot; RFC 4180 quoting by the `csv` crate. Text cells (district names come
/// from imported data) go through [`csv_text`] so that no cell is read as a spreadsheet formula;
/// the numbers of the plan (rank, coordinates, count) are written as numbers.
pub fn plan_csv(plan: &PatrolPlan) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let head = [
        "rank",
        "id",
        "district",
        "lon",
        "lat",
        "count",
        "confidence",
        "peak",
        "window_1",
        "window_2",
        "window_3",
        "top_category",
        "first",
        "last",
    ];
    w.write_record(head).expect("writing to memory");
    let text = |v: Option<&str>| v.map_or_else(String::new, |s| csv_text(s).into_owned());
    for h in &plan.hotspots {
        let ws = windows_text(h);
        let window = |i: usize| text(ws.get(i).map(String::as_str));
        let confidence = match h.max_bin {
            3 => "99 %",
            2 => "95 %",
            _ => "",
        };
        w.write_record([
            h.rank.to_string(),
            text(Some(&h.id)),
            text(h.district.as_deref()),
            number(h.centre[0]),
            number(h.centre[1]),
            h.count.to_string(),
            confidence.to_string(),
            text(h.peak.as_deref().or(h.peak_note)),
            window(0),
            window(1),
            window(2),
            text(h.top_category.as_deref()),
            text(Some(&h.first)),
            text(Some(&h.last)),
        ])
        .expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("flushing memory")).expect("CSV of UTF-8 text")
}

fn xml_escape(s: &str) -> String {
    // Names come from imported data: characters XML cannot carry become U+FFFD.
    xml_safe(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// GPX 1.1: one waypoint per hotspot centre.
pub fn plan_gpx(plan: &PatrolPlan) -> String {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        "<gpx version=\"1.1\" creator=\"Lägesbild\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n",
    );
    let _ = writeln!(
        out,
        "  <metadata><name>{}</name><desc>{}</desc><time>{}</time></metadata>",
        xml_escape(&format!(
            "Patrullplan {} – {}",
            plan.period.from, plan.period.to
        )),
        xml_escape(&format!(
            "Signifikanta brottskluster (Gi* ≥ 95 % efter FDR) med patrulltider i lokal tid{}",
            if plan.demo {
                ". DEMODATA, inget är verkligt"
            } else {
                ""
            }
        )),
        xml_escape(&plan.generated_at),
    );
    for h in &plan.hotspots {
        let [lon, lat] = h.centre;
        let name = match &h.district {
            Some(d) => format!("{}. {d}", h.rank),
            None => format!("{}. Kluster {}", h.rank, h.id),
        };
        let desc = format!(
            "{} händelser. Patrulltider: {}",
            h.count,
            windows_text(h).join("; ")
        );
        let _ = writeln!(
            out,
            "  <wpt lat=\"{lat:.7}\" lon=\"{lon:.7}\"><name>{}</name><desc>{}</desc><type>hotspot</type></wpt>",
            xml_escape(&name),
            xml_escape(&desc)
        );
    }
    out.push_str("</gpx>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(label: &str, count: u32) -> PlanWindow {
        PlanWindow {
            weekday: 4,
            hour: 22,
            hours: 4,
            count: f64::from(count),
            p: 0.001,
            label: label.into(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn hotspot(
        rank: usize,
        id: &str,
        district: Option<&str>,
        count: usize,
        max_bin: i8,
        centre: Position,
        peak: Option<&str>,
        windows: Vec<PlanWindow>,
        top_category: Option<&str>,
        first: &str,
        last: &str,
    ) -> PlanHotspot {
        PlanHotspot {
            rank,
            id: id.into(),
            name: district.map(Into::into),
            district: district.map(Into::into),
            count,
            max_bin,
            centre,
            peak: peak.map(Into::into),
            peak_p: peak.map(|_| 0.001),
            peak_note: None,
            windows,
            profile: vec![vec![0.0; 24]; 7],
            uncertain_weight: 0.0,
            without_hour: 0,
            categories: BTreeMap::new(),
            top_category: top_category.map(Into::into),
            first: first.into(),
            last: last.into(),
            hull: Geometry::Polygon(vec![]),
        }
    }

    fn plan_of(hotspots: Vec<PlanHotspot>, demo: bool) -> PatrolPlan {
        PatrolPlan {
            generated_at: "2026-11-23T10:00:00+00:00".into(),
            period: PeriodEcho {
                from: "2026-01-01".into(),
                to: "2026-06-30".into(),
                days: 181,
                previous_from: "2025-07-04".into(),
                previous_to: "2025-12-31".into(),
            },
            area: None,
            demo,
            method: PlanMethod {
                dbscan: DbscanParameters {
                    eps: 100.0,
                    min_points: 5,
                },
                gistar: PlanGistar {
                    cell: 100.0,
                    band: 300.0,
                    grid: "square",
                    min_bin: 2,
                },
                window_hours: 4,
            },
            clusters: hotspots.len(),
            significant: hotspots.len(),
            included: 0,
            excluded_by_precision: 0,
            hotspots,
        }
    }

    #[test]
    fn parameters_default_and_are_range_checked() {
        assert_eq!(
            PlanParams::default().resolved().unwrap(),
            (
                hotspot::DEFAULT_EPS,
                hotspot::DEFAULT_MIN_POINTS,
                DEFAULT_LIMIT
            )
        );
        let p = PlanParams {
            eps: Some(4.9),
            ..Default::default()
        };
        assert_eq!(
            p.resolved().unwrap_err().to_string(),
            "eps=4.9: expected a number from 5 to 2000"
        );
        let p = PlanParams {
            limit: Some(501),
            ..Default::default()
        };
        assert_eq!(
            p.resolved().unwrap_err().to_string(),
            "limit=501: expected a number from 1 to 500"
        );
        let p = PlanParams {
            eps: Some(2000.0),
            min_points: Some(2),
            limit: Some(1),
        };
        assert_eq!(p.resolved().unwrap(), (2000.0, 2, 1));
    }

    #[test]
    fn the_plan_is_for_roles_that_see_points() {
        let snap = Snapshot::empty();
        let viewer = Viewer::new(
            crate::model::Role::Anonymous,
            crate::config::Config::default().public_rules(),
        );
        let today = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let e = plan(
            &snap,
            &FilterParams::default(),
            &PlanParams::default(),
            &viewer,
            today,
            &Cancel::never(),
        )
        .unwrap_err();
        assert!(matches!(e, ServiceError::Forbidden("police")), "{e}");
    }

    #[test]
    fn gpx_and_csv_carry_every_hotspot() {
        let plan = plan_of(
            vec![
                hotspot(
                    1,
                    "c1",
                    Some("Täby centrum"),
                    40,
                    3,
                    [18.0686, 59.4439],
                    Some("fre–lör 22–02"),
                    vec![window("fre–lör 22–02", 12)],
                    Some("assault"),
                    "2026-01-03",
                    "2026-06-28",
                ),
                hotspot(
                    2,
                    "c2",
                    None,
                    9,
                    2,
                    [18.05, 59.43],
                    None,
                    vec![],
                    None,
                    "2026-02-01",
                    "2026-03-01",
                ),
            ],
            true,
        );
        let gpx = plan_gpx(&plan);
        assert_eq!(gpx.matches("<wpt ").count(), 2);
        assert!(
            gpx.contains("<wpt lat=\"59.4439000\" lon=\"18.0686000\"><name>1. Täby centrum</name>")
        );
        assert!(gpx.contains("fre–lör 22–02 (12 händelser)"));
        assert!(gpx.contains("<name>2. Kluster c2</name>"));
        assert!(gpx.contains("<name>Patrullplan 2026-01-01 – 2026-06-30</name>"));
        assert!(gpx.contains("DEMODATA"));
        let csv = plan_csv(&plan);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("rank,id,district,lon,lat,count,confidence,peak"));
        assert!(lines[1].starts_with(
            "1,c1,Täby centrum,18.0686,59.4439,40,99 %,fre–lör 22–02,fre–lör 22–02 (12 händelser)"
        ));
        assert!(lines[2].starts_with("2,c2,,18.05,59.43,9,95 %,,"));
    }

    /// Imported names must not become spreadsheet formulas (nor markup in GPX); the plan's own
    /// numbers stay numbers, a negative one too.
    #[test]
    fn csv_text_cells_cannot_be_formulas_and_gpx_text_is_not_markup() {
        let plan = plan_of(
            vec![hotspot(
                1,
                "@c1",
                Some("=HYPERLINK(\"http://evil.example\",\"Täby\")"),
                12,
                3,
                [-0.5, 59.4439],
                Some("+fre 22–02"),
                vec![window("-1+1", 4)],
                Some("\tassault"),
                "2026-01-03",
                "\r2026-06-28",
            )],
            false,
        );
        let csv = plan_csv(&plan);
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let row: Vec<String> = r
            .records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        assert_eq!(
            row,
            [
                "1",
                "'@c1",
                "'=HYPERLINK(\"http://evil.example\",\"Täby\")",
                "-0.5",
                "59.4439",
                "12",
                "99 %",
                "'+fre 22–02",
                "'-1+1 (4 händelser)",
                "",
                "",
                "'\tassault",
                "2026-01-03",
                "'\r2026-06-28",
            ]
        );
        let mut evil = plan;
        evil.hotspots[0].district = Some("<b>Näby</b> & \u{1}".into());
        let gpx = plan_gpx(&evil);
        assert!(
            gpx.contains("<name>1. &lt;b&gt;Näby&lt;/b&gt; &amp; \u{fffd}</name>"),
            "{gpx}"
        );
        assert!(!gpx.contains("DEMODATA"));
    }
}
