//! Hotspots: DBSCAN clusters, Getis-Ord Gi\* cells and kernel density, a period comparison,
//! the density overlay and the incident points, as typed queries and answers.
//!
//! Signed-in roles (police, coordinators, admins) get the analyses with free parameters, within
//! their [`WorkLimits`]; anonymous callers get the public product of [`public`] (built from
//! [`crate::analysis::privacy`]): Gi\* on public cells, the heat map of events moved to their
//! cell's centre, a comparison of whole months — never DBSCAN, whose hulls are drawn through
//! incident points, and never single points.

pub mod ehsa;
pub mod public;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::filter::{FilterEcho, FilterParams};
use super::geojson::{
    CellCollection, CellFeatures, Feature, FeatureCollection, Geometry, Position, lonlat,
    positions_shared, round_to,
};
use super::{ServiceError, ServiceResult, Viewer};
use crate::analysis::cancel::Cancel;
use crate::analysis::filter::{IncidentFilter, Selected, parse_period_bound};
use crate::analysis::hotspot::compare::{self, ClusterOutline};
use crate::analysis::hotspot::gistar::{self, GiStarParams, StudyArea};
use crate::analysis::hotspot::grid::{CellId, Grid, GridKind};
use crate::analysis::hotspot::kde::{self, DensityGrid, KdeParams};
use crate::analysis::hotspot::profile::round4;
use crate::analysis::hotspot::{self, Cluster, DEFAULT_EPS, DEFAULT_MIN_POINTS};
use crate::analysis::limits::{self, WorkLimits};
use crate::crs;
use crate::spatial::Snapshot;

// ---------------------------------------------------------------------------------------------
// Queries

/// A hotspot method.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Dbscan,
    #[serde(alias = "gi*", alias = "getis-ord")]
    Gistar,
    Kde,
    /// Emerging hot spots: Gi\* over a space-time cube with a Mann–Kendall trend per cell.
    Ehsa,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dbscan => "dbscan",
            Self::Gistar => "gistar",
            Self::Kde => "kde",
            Self::Ehsa => "ehsa",
        }
    }
}

/// The method and its parameters (`GET /api/v1/hotspots`; also the comparison's, without kde).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct MethodParams {
    /// dbscan (signed-in roles), gistar, kde or ehsa (emerging hot spots). Required.
    #[arg(long, value_enum)]
    #[param(inline)]
    pub method: Option<Method>,
    /// DBSCAN radius in metres (1–5000, default 30).
    #[arg(long)]
    #[param(minimum = 1, maximum = 5000)]
    pub eps: Option<f64>,
    /// DBSCAN minimum neighbourhood, the point itself included (2–100000, default 20).
    #[arg(long)]
    #[param(minimum = 2, maximum = 100000)]
    pub min_points: Option<usize>,
    /// Gi\* and ehsa: cell size in metres (square side or hexagon centre spacing; public: 200,
    /// 400, 800 or 1600); KDE: raster cell in metres (signed-in roles). Derived from the data
    /// when absent.
    #[arg(long)]
    #[param(minimum = 2, maximum = 5000)]
    pub cell: Option<f64>,
    /// Gi\* and ehsa distance band in metres, inclusive (public: one to ten cells). Derived when
    /// absent.
    #[arg(long)]
    #[param(minimum = 10, maximum = 50000)]
    pub band: Option<f64>,
    /// Gi\* and ehsa grid: square (default) or hex (signed-in roles).
    #[arg(long)]
    pub grid: Option<String>,
    /// ehsa: time step, `month` (calendar months, the default; the only one for the public)
    /// or `week` (ISO weeks, Monday–Sunday). Whole steps of the period only.
    #[arg(long)]
    pub step: Option<String>,
    /// ehsa: earlier steps in each bin's neighbourhood (0–12, default 1: the step and the one
    /// before).
    #[arg(long)]
    #[param(minimum = 0, maximum = 12)]
    pub neighbourhood_steps: Option<usize>,
    /// KDE quartic kernel bandwidth in metres (public: at least the public minimum). Derived
    /// when absent.
    #[arg(long)]
    #[param(minimum = 10, maximum = 20000)]
    pub bandwidth: Option<f64>,
}

/// The two periods of a comparison (`GET /api/v1/hotspots/compare`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// Period A's first local date, YYYY-MM-DD or YYYY-MM. Required.
    #[arg(long)]
    pub a_from: Option<String>,
    /// Period A's last local date. Required.
    #[arg(long)]
    pub a_to: Option<String>,
    /// Period B's first local date. Required.
    #[arg(long)]
    pub b_from: Option<String>,
    /// Period B's last local date. Required.
    #[arg(long)]
    pub b_to: Option<String>,
}

impl PeriodParams {
    /// Whether any period bound is given (the CLI compares then).
    pub fn any(&self) -> bool {
        self.a_from.is_some() || self.a_to.is_some() || self.b_from.is_some() || self.b_to.is_some()
    }

    fn period(
        from: (&'static str, &Option<String>),
        to: (&'static str, &Option<String>),
    ) -> ServiceResult<(NaiveDate, NaiveDate)> {
        let get = |(name, v): (&'static str, &Option<String>), end: bool| {
            let v = v.as_deref().ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "{name} is required (YYYY-MM-DD): compare needs a_from, a_to, b_from, b_to"
                ))
            })?;
            Ok::<_, ServiceError>(parse_period_bound(name, v, end)?)
        };
        let (a, b) = (get(from, false)?, get(to, true)?);
        if a > b {
            return Err(ServiceError::Invalid(format!(
                "{}={a} is after {}={b}",
                from.0, to.0
            )));
        }
        Ok((a, b))
    }

    /// Periods A and B.
    pub fn periods(&self) -> ServiceResult<Periods> {
        Ok(Periods {
            a: Self::period(("a_from", &self.a_from), ("a_to", &self.a_to))?,
            b: Self::period(("b_from", &self.b_from), ("b_to", &self.b_to))?,
        })
    }
}

/// Checked periods, first and last day included.
#[derive(Debug, Clone, Copy)]
pub struct Periods {
    pub a: (NaiveDate, NaiveDate),
    pub b: (NaiveDate, NaiveDate),
}

impl Periods {
    pub fn days(&self) -> (f64, f64) {
        let d = |(f, t): (NaiveDate, NaiveDate)| (t - f).num_days() as f64 + 1.0;
        (d(self.a), d(self.b))
    }

    fn text(&self) -> ([String; 2], [String; 2]) {
        (
            [self.a.0.to_string(), self.a.1.to_string()],
            [self.b.0.to_string(), self.b.1.to_string()],
        )
    }
}

/// The point list's own parameters (`GET /api/v1/incidents`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct IncidentParams {
    /// point (exact and street precision, the default) or all (adds the events known only to
    /// a municipality or county, at its centre).
    #[arg(long)]
    pub precision: Option<String>,
    /// At most this many points, newest first (default 50000, at most 500000).
    #[arg(long)]
    #[param(minimum = 1, maximum = 500000)]
    pub limit: Option<usize>,
}

/// `name` within `lo..=hi`.
pub(crate) fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    v: Option<T>,
    lo: T,
    hi: T,
) -> ServiceResult<Option<T>> {
    match v {
        Some(x) if x < lo || x > hi => Err(ServiceError::Invalid(format!(
            "{name}={x}: expected a number from {lo} to {hi}"
        ))),
        _ => Ok(v),
    }
}

/// Why anonymous callers get no DBSCAN.
pub const DBSCAN_SIGNED_IN: &str = "method=dbscan is for signed-in roles: its hulls are drawn through incident points; the public product is Gi* cells (method=gistar) and the heat map (method=kde)";

impl MethodParams {
    /// The method, one of `allowed`; parameters of other methods are refused.
    pub fn method(&self, allowed: &[Method]) -> ServiceResult<Method> {
        let names = allowed
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let m = self
            .method
            .ok_or_else(|| ServiceError::Invalid(format!("method is required: one of {names}")))?;
        if !allowed.contains(&m) {
            return Err(ServiceError::Invalid(format!(
                "method={:?}: expected one of {names}",
                m.as_str()
            )));
        }
        let given: [(&str, bool, &[Method]); 8] = [
            ("eps", self.eps.is_some(), &[Method::Dbscan]),
            ("min_points", self.min_points.is_some(), &[Method::Dbscan]),
            (
                "cell",
                self.cell.is_some(),
                &[Method::Gistar, Method::Kde, Method::Ehsa],
            ),
            ("band", self.band.is_some(), &[Method::Gistar, Method::Ehsa]),
            ("grid", self.grid.is_some(), &[Method::Gistar, Method::Ehsa]),
            ("bandwidth", self.bandwidth.is_some(), &[Method::Kde]),
            ("step", self.step.is_some(), &[Method::Ehsa]),
            (
                "neighbourhood_steps",
                self.neighbourhood_steps.is_some(),
                &[Method::Ehsa],
            ),
        ];
        for (name, present, applies) in given {
            if present && !applies.contains(&m) {
                let to: Vec<&str> = applies.iter().map(|m| m.as_str()).collect();
                return Err(ServiceError::Invalid(format!(
                    "{name} does not apply to method={}: it is a parameter of method={}",
                    m.as_str(),
                    to.join(" and method=")
                )));
            }
        }
        Ok(m)
    }

    fn dbscan(&self) -> ServiceResult<DbscanArgs> {
        Ok(DbscanArgs {
            eps: in_range("eps", self.eps, 1.0, 5_000.0)?.unwrap_or(DEFAULT_EPS),
            min_points: in_range("min_points", self.min_points, 2, 100_000)?
                .unwrap_or(DEFAULT_MIN_POINTS),
        })
    }

    fn grid_kind(&self) -> ServiceResult<GridKind> {
        match &self.grid {
            None => Ok(GridKind::Square),
            Some(g) => GridKind::parse(g).ok_or_else(|| {
                ServiceError::Invalid(format!("grid={g:?}: expected square or hex"))
            }),
        }
    }

    fn gistar(&self) -> ServiceResult<GiStarParams> {
        let cell = in_range("cell", self.cell, 10.0, 5_000.0)?;
        let band = in_range("band", self.band, 10.0, 50_000.0)?;
        if let (Some(c), Some(b)) = (cell, band)
            && b < c
        {
            return Err(ServiceError::Invalid(format!(
                "band={b} is smaller than cell={c}: no cell would have a neighbour"
            )));
        }
        Ok(GiStarParams {
            grid: self.grid_kind()?,
            cell,
            band,
        })
    }

    fn kde(&self) -> ServiceResult<KdeParams> {
        Ok(KdeParams {
            bandwidth: in_range("bandwidth", self.bandwidth, 10.0, 20_000.0)?,
            cell: in_range("cell", self.cell, 2.0, 5_000.0)?,
            frame: None,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct DbscanArgs {
    eps: f64,
    min_points: usize,
}

// ---------------------------------------------------------------------------------------------
// Answers

/// Events that passed the filters but have no point location.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Excluded {
    pub municipality: usize,
    pub county: usize,
    pub total: usize,
    pub note: String,
}

impl Excluded {
    fn of<T>(sel: &Selected<T>) -> Self {
        Self {
            municipality: sel.municipality_only,
            county: sel.county_only,
            total: sel.excluded_by_precision(),
            note: sel.precision_note(),
        }
    }
}

/// What every signed-in answer's `meta` says.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Common {
    pub method: &'static str,
    /// Point-level events that entered the analysis.
    pub included: usize,
    pub excluded_by_precision: Excluded,
    pub filtered_out: usize,
    /// The public minimum count.
    pub k: u32,
    pub role: &'static str,
    pub snapshot_version: u64,
    pub demo: bool,
    pub filters: FilterEcho,
}

impl Common {
    fn new<T>(
        method: &'static str,
        sel: &Selected<T>,
        viewer: &Viewer,
        snap: &Snapshot,
        f: &IncidentFilter,
    ) -> Self {
        Self {
            method,
            included: sel.points.len(),
            excluded_by_precision: Excluded::of(sel),
            filtered_out: sel.filtered_out,
            k: viewer.rules.k,
            role: viewer.role.as_str(),
            snapshot_version: snap.version,
            demo: snap.demo,
            filters: FilterEcho::of(f),
        }
    }
}

/// A DBSCAN cluster.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterProps {
    pub id: String,
    pub count: usize,
    /// Events per category code.
    pub categories: std::collections::BTreeMap<String, usize>,
    /// First local date.
    pub first: String,
    pub last: String,
    /// Events per weekday (Monday first) and local hour: 7 rows of 24 aoristic weights (an
    /// event known to a window spreads over its hours; one known to a date or month is not
    /// in it).
    pub profile: Vec<Vec<f64>>,
    /// Of the profile's weight, what came from events known only to a window.
    pub uncertain_weight: f64,
    /// Events known only to a date or month: counted, not in the profile.
    pub without_hour: usize,
    /// The busiest window, in words, when it is busier than chance (`peak_p` at most 0.05).
    pub peak: Option<String>,
    /// The peak's p-value against the week's uniform expectation: the exact binomial tail of
    /// its events at 4/168, times 168 (Bonferroni).
    pub peak_p: Option<f64>,
    /// "för få händelser för ett tidsmönster" when the events hold no time pattern.
    pub peak_note: Option<&'static str>,
    pub core_points: usize,
    #[schema(value_type = Vec<f64>)]
    pub centre: Position,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DbscanParameters {
    pub eps: f64,
    pub min_points: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DbscanMeta {
    #[serde(flatten)]
    pub common: Common,
    pub parameters: DbscanParameters,
    pub clusters: usize,
    /// Events in any cluster.
    pub clustered: usize,
}

/// A Gi\* cell as a signed-in role sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GistarProps {
    /// Column and row of the cell in its grid.
    #[schema(value_type = Vec<i32>)]
    pub cell: [i32; 2],
    pub count: u32,
    pub neighbours: u32,
    pub z: f64,
    /// Two-sided p.
    pub p: f64,
    /// -3..3 after the Benjamini-Hochberg FDR: ±3 at 99 %, ±2 at 95 %, ±1 at 90 %.
    pub bin: i8,
}

/// Written by hand: a Gi\* answer is tens of thousands of these, and serde's map machinery
/// (its keys escaped a character at a time) was a tenth of writing one.
impl super::geojson::CellProps for GistarProps {
    fn write_json(&self, buf: &mut Vec<u8>) -> serde_json::Result<()> {
        let mut n = itoa::Buffer::new();
        buf.extend_from_slice(b"{\"cell\":[");
        buf.extend_from_slice(n.format(self.cell[0]).as_bytes());
        buf.push(b',');
        buf.extend_from_slice(n.format(self.cell[1]).as_bytes());
        buf.extend_from_slice(b"],\"count\":");
        buf.extend_from_slice(n.format(self.count).as_bytes());
        buf.extend_from_slice(b",\"neighbours\":");
        buf.extend_from_slice(n.format(self.neighbours).as_bytes());
        buf.extend_from_slice(b",\"z\":");
        super::geojson::write_f64(buf, self.z);
        buf.extend_from_slice(b",\"p\":");
        super::geojson::write_f64(buf, self.p);
        buf.extend_from_slice(b",\"bin\":");
        buf.extend_from_slice(n.format(self.bin).as_bytes());
        buf.push(b'}');
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FdrCutoffs {
    #[serde(rename = "90")]
    pub p90: Option<f64>,
    #[serde(rename = "95")]
    pub p95: Option<f64>,
    #[serde(rename = "99")]
    pub p99: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GistarParameters {
    pub grid: &'static str,
    pub cell: f64,
    pub band: f64,
    pub cell_derived: bool,
    pub band_derived: bool,
    pub study_area: bool,
    pub analysed_cells: usize,
    pub fdr: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fdr_cutoffs: Option<FdrCutoffs>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GistarMeta {
    #[serde(flatten)]
    pub common: Common,
    pub parameters: GistarParameters,
    pub hot_cells_95: usize,
    pub cold_cells_95: usize,
}

/// A kernel density cell as a signed-in role sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KdeProps {
    /// Events per km², 4 decimals.
    pub density: f64,
    /// Events within the bandwidth of the cell's centre.
    pub support: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KdeParameters {
    pub kernel: &'static str,
    pub bandwidth: f64,
    pub cell: f64,
    pub bandwidth_derived: bool,
    pub cell_derived: bool,
    pub unit: &'static str,
    /// What the kernel smoothed (public answers: events at their cell's centre).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KdeMeta {
    #[serde(flatten)]
    pub common: Common,
    pub parameters: KdeParameters,
    /// WGS84 west, south, east, north of the raster.
    #[schema(value_type = Option<Vec<f64>>)]
    pub bounds: Option<[f64; 4]>,
    pub max_density: f64,
}

/// The raster's cells as square features, written one by one from the grid (no copy of the
/// answer in between): the cells `props` gives properties for.
pub struct KdeCells<P> {
    grid: DensityGrid,
    props: P,
}

impl<P, T> Serialize for KdeCells<P>
where
    P: Fn(&DensityGrid, usize) -> Option<T>,
    T: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let g = &self.grid;
        let mut seq = s.serialize_seq(None)?;
        for row in 0..g.height {
            for col in 0..g.width {
                let Some(p) = (self.props)(g, row * g.width + col) else {
                    continue;
                };
                let geometry =
                    Geometry::square(g.centre(col, row), g.cell).map_err(S::Error::custom)?;
                seq.serialize_element(&Feature::new(geometry, p))?;
            }
        }
        seq.end()
    }
}

/// A kernel density answer: the cells streamed from the raster, and the meta. Its shape is
/// [`KdeAnswerDoc`]'s (the OpenAPI document names that one).
#[derive(Serialize)]
#[serde(bound = "KdeCells<P>: Serialize, M: Serialize")]
pub struct KdeCollection<P, M> {
    #[serde(rename = "type")]
    pub kind: super::geojson::CollectionType,
    pub features: KdeCells<P>,
    pub meta: M,
}

/// A signed-in kernel density answer.
pub type SignedInKde = KdeCollection<fn(&DensityGrid, usize) -> Option<KdeProps>, KdeMeta>;

/// The shape of a signed-in kernel density answer.
pub type KdeAnswerDoc = FeatureCollection<Feature<KdeProps>, KdeMeta>;

pub type DbscanAnswer = FeatureCollection<Feature<ClusterProps>, DbscanMeta>;
pub type GistarAnswer = CellCollection<GistarProps, GistarMeta>;

/// The answer of `GET /api/v1/hotspots`: one of the methods' collections, signed-in or public.
#[derive(Serialize)]
#[serde(untagged)]
pub enum HotspotAnswer {
    Dbscan(DbscanAnswer),
    Gistar(GistarAnswer),
    Kde(SignedInKde),
    PublicGistar(public::GistarAnswer),
    PublicKde(public::KdeAnswer),
    Ehsa(ehsa::EhsaAnswer),
    PublicEhsa(ehsa::PublicEhsaAnswer),
}

// ---------------------------------------------------------------------------------------------
// Work checks

/// An upper bound of the cells a signed-in grid analysis lays out: the area's box, or at most
/// one per point (the dense counting rectangle checked against its limit first).
pub(crate) fn cells_bound(
    pts: &[[f64; 2]],
    grid: &Grid,
    area: Option<&dyn StudyArea>,
) -> ServiceResult<f64> {
    Ok(match area {
        Some(a) => {
            let (lo, hi) = a.bounds();
            ((hi[0] - lo[0]) / grid.cell + 2.0) * ((hi[1] - lo[1]) / grid.cell + 2.0)
        }
        None => {
            let extent = limits::extent(pts);
            limits::gistar_grid(extent, grid.cell_area(), &WorkLimits::for_role(true))?;
            limits::gistar_cells_bound(extent, pts.len(), grid.cell_area())
        }
    })
}

/// A signed-in Gi\* request's size when its cell and band are given (derived ones are sized
/// from the data and always modest).
pub(crate) fn check_gistar_work(
    pts: &[[f64; 2]],
    params: &GiStarParams,
    area: Option<&dyn StudyArea>,
) -> ServiceResult<()> {
    let (Some(cell), Some(band)) = (params.cell, params.band) else {
        return Ok(());
    };
    let grid = Grid::new(params.grid, cell);
    let cells = cells_bound(pts, &grid, area)?;
    limits::gistar_features(cells, &WorkLimits::for_role(true))?;
    Ok(limits::gistar(
        cells,
        grid.cell_area(),
        band,
        &WorkLimits::for_role(true),
    )?)
}

/// A signed-in kernel density request's size (a derived cell is at least 5 m and a 250th of
/// the extent, as `kde::density` derives it).
pub(crate) fn check_kde_work(pts: &[[f64; 2]], params: &KdeParams) -> ServiceResult<()> {
    let h = params
        .bandwidth
        .unwrap_or_else(|| kde::default_bandwidth(pts));
    let cell = match params.cell {
        Some(c) => c,
        None => match limits::extent(pts) {
            Some((lo, hi)) => (((hi[0] - lo[0]).min(hi[1] - lo[1]) + 2.0 * h) / 250.0).max(5.0),
            None => return Ok(()),
        },
    };
    Ok(limits::kde(
        pts.len(),
        h,
        cell,
        &WorkLimits::for_role(true),
    )?)
}

/// How many Gi\* cells are hot and cold spots at 95 % or more.
pub(crate) fn hot_and_cold(cells: &[gistar::GiStarCell]) -> (usize, usize) {
    (
        cells.iter().filter(|c| c.bin >= 2).count(),
        cells.iter().filter(|c| c.bin <= -2).count(),
    )
}

// ---------------------------------------------------------------------------------------------
// The analyses

/// `GET /api/v1/hotspots` (and `lagesbild hotspots`) as `viewer` sees it.
pub fn hotspots(
    snap: &Snapshot,
    filter: &FilterParams,
    params: &MethodParams,
    viewer: &Viewer,
    cancel: &Cancel,
) -> ServiceResult<HotspotAnswer> {
    let m = params.method(&[Method::Dbscan, Method::Gistar, Method::Kde, Method::Ehsa])?;
    let f = filter.filter(snap, true)?;
    if !viewer.sees_points() {
        public::check_filter(filter, params, &f, &viewer.rules)?;
        return match m {
            Method::Dbscan => Err(ServiceError::Invalid(DBSCAN_SIGNED_IN.into())),
            Method::Ehsa => {
                ehsa::public(snap, params, &f, &viewer.rules, cancel).map(HotspotAnswer::PublicEhsa)
            }
            Method::Gistar => public::gistar(snap, params, &f, &viewer.rules, cancel)
                .map(HotspotAnswer::PublicGistar),
            Method::Kde => {
                public::kde(snap, params, &f, &viewer.rules, cancel).map(HotspotAnswer::PublicKde)
            }
        };
    }
    match m {
        Method::Dbscan => {
            dbscan(snap, &f, params.dbscan()?, viewer, cancel).map(HotspotAnswer::Dbscan)
        }
        Method::Gistar => {
            gistar(snap, &f, params.gistar()?, viewer, cancel).map(HotspotAnswer::Gistar)
        }
        Method::Kde => kde_answer(snap, &f, params.kde()?, viewer, cancel).map(HotspotAnswer::Kde),
        Method::Ehsa => ehsa::signed_in(snap, &f, params, viewer, cancel).map(HotspotAnswer::Ehsa),
    }
}

fn cluster_feature(c: &Cluster) -> ServiceResult<Feature<ClusterProps>> {
    let props = ClusterProps {
        id: c.id.clone(),
        count: c.count(),
        categories: c.categories.clone(),
        first: c.first.to_string(),
        last: c.last.to_string(),
        profile: c.profile.rows(),
        uncertain_weight: round4(c.uncertain_weight),
        without_hour: c.without_hour,
        peak: crate::service::patrol::pattern(c).map(|p| p.text.clone()),
        peak_p: c.peak.as_ref().map(|p| p.p),
        peak_note: crate::service::patrol::no_pattern(c),
        core_points: c.core_points,
        centre: lonlat(c.centre)?,
    };
    Ok(Feature::new(Geometry::polygon(&c.hull)?, props).with_id(c.id.clone()))
}

fn dbscan(
    snap: &Snapshot,
    f: &IncidentFilter,
    args: DbscanArgs,
    viewer: &Viewer,
    cancel: &Cancel,
) -> ServiceResult<DbscanAnswer> {
    let sel = f.select_in(&snap.incidents);
    let pts = sel.coords();
    limits::dbscan(&pts, args.eps, &WorkLimits::for_role(true))?;
    let clusters = hotspot::clusters_of(&sel.points, &pts, args.eps, args.min_points, cancel)?;
    let features = clusters
        .iter()
        .map(cluster_feature)
        .collect::<ServiceResult<Vec<_>>>()?;
    let meta = DbscanMeta {
        common: Common::new("dbscan", &sel, viewer, snap, f),
        parameters: DbscanParameters {
            eps: args.eps,
            min_points: args.min_points,
        },
        clusters: clusters.len(),
        clustered: clusters.iter().map(|c| c.count()).sum(),
    };
    Ok(FeatureCollection::new(features, meta))
}

/// Cells of `grid` as features, the properties from `props`: built in parallel, a few
/// thousand cells at a time, each lot's corners transformed to WGS84 in one pass.
pub(crate) fn cell_features<C: Sync, P: Send>(
    grid: &Grid,
    cells: &[C],
    props: impl Fn(&C) -> (CellId, P) + Sync,
) -> ServiceResult<CellFeatures<P>> {
    use rayon::prelude::*;
    let ring = grid.ring_offsets();
    let lots = cells
        .par_chunks(2_048)
        .map(|lot| {
            let mut corners = Vec::with_capacity(lot.len() * ring.len());
            let props: Vec<P> = lot
                .iter()
                .map(|c| {
                    let (id, p) = props(c);
                    let [cx, cy] = grid.centre(id);
                    corners.extend(ring.iter().map(|[dx, dy]| [cx + dx, cy + dy]));
                    p
                })
                .collect();
            Ok((positions_shared(&corners)?, props))
        })
        .collect::<ServiceResult<Vec<_>>>()?;
    Ok(CellFeatures::from_lots(ring.len(), lots))
}

fn gistar(
    snap: &Snapshot,
    f: &IncidentFilter,
    params: GiStarParams,
    viewer: &Viewer,
    cancel: &Cancel,
) -> ServiceResult<GistarAnswer> {
    let sel = f.coords_in(&snap.incidents);
    let pts = &sel.points;
    let area = f.area.as_ref().map(|a| a as &dyn StudyArea);
    check_gistar_work(pts, &params, area)?;
    let res = gistar::hot_spots_with(pts, &params, area, cancel)?;
    let grid = Grid::new(params.grid, res.cell);
    let features = cell_features(&grid, &res.cells, |c| {
        let props = GistarProps {
            cell: [c.id.0, c.id.1],
            count: c.count,
            neighbours: c.neighbours,
            z: round_to(c.z, 6),
            p: c.p,
            bin: c.bin,
        };
        (c.id, props)
    })?;
    let (hot, cold) = hot_and_cold(&res.cells);
    let meta = GistarMeta {
        common: Common::new("gistar", &sel, viewer, snap, f),
        parameters: GistarParameters {
            grid: res.grid.as_str(),
            cell: res.cell,
            band: res.band,
            cell_derived: res.cell_derived,
            band_derived: res.band_derived,
            study_area: res.study_area_used,
            analysed_cells: res.analysed,
            fdr: "Benjamini-Hochberg",
            fdr_cutoffs: Some(FdrCutoffs {
                p90: res.fdr_cutoffs[0],
                p95: res.fdr_cutoffs[1],
                p99: res.fdr_cutoffs[2],
            }),
        },
        hot_cells_95: hot,
        cold_cells_95: cold,
    };
    Ok(CellCollection::new(features, meta))
}

/// The WGS84 bounds of a raster, rounded; `None` for an empty one.
pub(crate) fn raster_bounds(grid: &DensityGrid) -> ServiceResult<Option<[f64; 4]>> {
    if grid.width == 0 {
        return Ok(None);
    }
    let b = kde::wgs84_bounds(grid).map_err(ServiceError::internal)?;
    Ok(Some(b.map(crs::round7)))
}

fn signed_in_kde_props(g: &DensityGrid, i: usize) -> Option<KdeProps> {
    let d = round_to(g.density[i], 4);
    (d > 0.0).then(|| KdeProps {
        density: d,
        support: g.support[i],
    })
}

fn kde_answer(
    snap: &Snapshot,
    f: &IncidentFilter,
    params: KdeParams,
    viewer: &Viewer,
    cancel: &Cancel,
) -> ServiceResult<SignedInKde> {
    let sel = f.coords_in(&snap.incidents);
    let pts = &sel.points;
    check_kde_work(pts, &params)?;
    let grid = kde::density_with(pts, &params, cancel)?;
    // Densities are given to 4 decimals (events per km²); cells that round to zero are left out.
    let shown = grid
        .density
        .iter()
        .filter(|d| round_to(**d, 4) > 0.0)
        .count();
    limits::kde_features(shown, &WorkLimits::for_role(true))?;
    let meta = KdeMeta {
        common: Common::new("kde", &sel, viewer, snap, f),
        parameters: KdeParameters {
            kernel: "quartic",
            bandwidth: grid.bandwidth,
            cell: grid.cell,
            bandwidth_derived: grid.bandwidth_derived,
            cell_derived: grid.cell_derived,
            unit: "events per km²",
            input: None,
        },
        bounds: raster_bounds(&grid)?,
        max_density: round_to(grid.max_density(), 4),
    };
    Ok(KdeCollection {
        kind: super::geojson::CollectionType::FeatureCollection,
        features: KdeCells {
            grid,
            props: signed_in_kde_props,
        },
        meta,
    })
}

impl<P> KdeCells<P> {
    pub(crate) fn new(grid: DensityGrid, props: P) -> Self {
        Self { grid, props }
    }
}

// ---------------------------------------------------------------------------------------------
// The overlay

/// The kernel density PNG overlay (`GET /api/v1/hotspots/kde.png`) and its WGS84 bounds.
pub fn kde_png(
    snap: &Snapshot,
    filter: &FilterParams,
    params: &MethodParams,
    viewer: &Viewer,
    cancel: &Cancel,
) -> ServiceResult<kde::Overlay> {
    if let Some(m) = params.method
        && m != Method::Kde
    {
        return Err(ServiceError::Invalid(format!(
            "method={:?}: the PNG overlay is kernel density only (method=kde or leave it out)",
            m.as_str()
        )));
    }
    let params = MethodParams {
        method: Some(Method::Kde),
        ..params.clone()
    };
    params.method(&[Method::Kde])?;
    let f = filter.filter(snap, true)?;
    if !viewer.sees_points() {
        public::check_filter(filter, &params, &f, &viewer.rules)?;
        let Some(d) = public::density(snap, &params, &f, &viewer.rules, cancel)? else {
            return Err(ServiceError::NotFound(
                "no point-level incidents in the data: nothing to draw".into(),
            ));
        };
        return kde::overlay_png(&d.grid, viewer.rules.k).map_err(ServiceError::Internal);
    }
    let kp = params.kde()?;
    let pts = f.coords_in(&snap.incidents).points;
    check_kde_work(&pts, &kp)?;
    let grid = kde::density_with(&pts, &kp, cancel)?;
    if grid.width == 0 {
        return Err(ServiceError::NotFound(
            "no point-level incidents match these filters: nothing to draw".into(),
        ));
    }
    kde::overlay_png(&grid, 1).map_err(ServiceError::Internal)
}

// ---------------------------------------------------------------------------------------------
// Comparison

/// What a signed-in comparison's `meta` says, per period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompareCommon {
    pub method: &'static str,
    pub included: Pair<usize>,
    pub excluded_by_precision: Pair<Excluded>,
    pub filtered_out: Pair<usize>,
    pub k: u32,
    pub role: &'static str,
    pub snapshot_version: u64,
    pub filters: FilterEcho,
}

/// A value for period A and one for period B.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Pair<T> {
    pub a: T,
    pub b: T,
}

impl CompareCommon {
    fn new<T>(
        method: &'static str,
        a: &Selected<T>,
        b: &Selected<T>,
        viewer: &Viewer,
        snap: &Snapshot,
        f: &IncidentFilter,
    ) -> Self {
        Self {
            method,
            included: Pair {
                a: a.points.len(),
                b: b.points.len(),
            },
            excluded_by_precision: Pair {
                a: Excluded::of(a),
                b: Excluded::of(b),
            },
            filtered_out: Pair {
                a: a.filtered_out,
                b: b.filtered_out,
            },
            k: viewer.rules.k,
            role: viewer.role.as_str(),
            snapshot_version: snap.version,
            filters: FilterEcho::of(f),
        }
    }
}

impl super::geojson::CellProps for CellChangeProps {}

/// A Gi\* cell hot in either period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CellChangeProps {
    #[schema(value_type = Vec<i32>)]
    pub cell: [i32; 2],
    pub count_a: u32,
    pub count_b: u32,
    pub bin_a: i8,
    pub bin_b: i8,
    /// new, gone, up, down or same.
    pub change: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GistarCompareParameters {
    pub grid: &'static str,
    pub cell: f64,
    pub band: f64,
    pub cell_derived: bool,
    pub band_derived: bool,
    #[schema(value_type = Vec<String>)]
    pub a: [String; 2],
    #[schema(value_type = Vec<String>)]
    pub b: [String; 2],
    pub hot: &'static str,
    pub rate_test: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GistarCompareMeta {
    #[serde(flatten)]
    pub common: CompareCommon,
    pub parameters: GistarCompareParameters,
}

/// A cluster of period B matched to those of A (or one of A that is gone).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterChangeProps {
    pub id: String,
    pub count_a: usize,
    pub count_b: usize,
    pub change: &'static str,
    /// The ids of A's clusters this one continues.
    pub continues: Vec<String>,
    #[schema(value_type = Vec<f64>)]
    pub centre: Position,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DbscanCompareParameters {
    pub eps: f64,
    pub min_points: usize,
    #[schema(value_type = Vec<String>)]
    pub a: [String; 2],
    #[schema(value_type = Vec<String>)]
    pub b: [String; 2],
    pub rate_test: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DbscanCompareMeta {
    #[serde(flatten)]
    pub common: CompareCommon,
    pub parameters: DbscanCompareParameters,
}

/// The answer of `GET /api/v1/hotspots/compare`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum CompareAnswer {
    Gistar(CellCollection<CellChangeProps, GistarCompareMeta>),
    Dbscan(FeatureCollection<Feature<ClusterChangeProps>, DbscanCompareMeta>),
    Public(public::CompareAnswer),
}

const RATE_TEST: &str = "conditional binomial test of two Poisson rates, 5 %";
const HOT: &str = "bin >= 2 (95 % after Benjamini-Hochberg FDR)";

/// `GET /api/v1/hotspots/compare` as `viewer` sees it.
pub fn compare(
    snap: &Snapshot,
    filter: &FilterParams,
    params: &MethodParams,
    periods: &PeriodParams,
    viewer: &Viewer,
    cancel: &Cancel,
) -> ServiceResult<CompareAnswer> {
    let m = params.method(&[Method::Gistar, Method::Dbscan])?;
    let p = periods.periods()?;
    let f = filter.filter(snap, false)?;
    if !viewer.sees_points() {
        if m == Method::Dbscan {
            return Err(ServiceError::Invalid(DBSCAN_SIGNED_IN.into()));
        }
        public::check_filter(filter, params, &f, &viewer.rules)?;
        return public::compare(snap, params, &f, &viewer.rules, &p, cancel)
            .map(CompareAnswer::Public);
    }
    let fa = f.with_dates(Some(p.a.0), Some(p.a.1));
    let fb = f.with_dates(Some(p.b.0), Some(p.b.1));
    let sa = fa.select_in(&snap.incidents);
    let sb = fb.select_in(&snap.incidents);
    let (a_text, b_text) = p.text();
    match m {
        Method::Gistar => {
            let params = params.gistar()?;
            let area = f.area.as_ref().map(|a| a as &dyn StudyArea);
            let (pa, pb) = (sa.coords(), sb.coords());
            check_gistar_work(&pa, &params, area)?;
            check_gistar_work(&pb, &params, area)?;
            let res = compare::compare_gistar_with(&pa, &pb, p.days(), &params, area, cancel)?;
            let grid = Grid::new(params.grid, res.cell);
            let features = cell_features(&grid, &res.cells, |c| {
                let props = CellChangeProps {
                    cell: [c.id.0, c.id.1],
                    count_a: c.count_a,
                    count_b: c.count_b,
                    bin_a: c.bin_a,
                    bin_b: c.bin_b,
                    change: c.change.as_str(),
                };
                (c.id, props)
            })?;
            let meta = GistarCompareMeta {
                common: CompareCommon::new("gistar", &sa, &sb, viewer, snap, &f),
                parameters: GistarCompareParameters {
                    grid: params.grid.as_str(),
                    cell: res.cell,
                    band: res.band,
                    cell_derived: res.cell_derived,
                    band_derived: res.band_derived,
                    a: a_text,
                    b: b_text,
                    hot: HOT,
                    rate_test: RATE_TEST,
                },
            };
            Ok(CompareAnswer::Gistar(CellCollection::new(features, meta)))
        }
        Method::Dbscan => {
            let args = params.dbscan()?;
            let signed_in = WorkLimits::for_role(true);
            let (pa, pb) = (sa.coords(), sb.coords());
            limits::dbscan(&pa, args.eps, &signed_in)?;
            limits::dbscan(&pb, args.eps, &signed_in)?;
            let outline = |c: &Cluster| ClusterOutline {
                id: c.id.clone(),
                hull: c.hull.clone(),
                count: c.count(),
                centre: c.centre,
            };
            let ca: Vec<ClusterOutline> =
                hotspot::clusters_of(&sa.points, &pa, args.eps, args.min_points, cancel)?
                    .iter()
                    .map(outline)
                    .collect();
            let cb: Vec<ClusterOutline> =
                hotspot::clusters_of(&sb.points, &pb, args.eps, args.min_points, cancel)?
                    .iter()
                    .map(outline)
                    .collect();
            let features = compare::compare_clusters(&ca, &cb, p.days())
                .iter()
                .map(|r| {
                    let props = ClusterChangeProps {
                        id: r.id.clone(),
                        count_a: r.count_a,
                        count_b: r.count_b,
                        change: r.change.as_str(),
                        continues: r.continues.clone(),
                        centre: lonlat(r.centre)?,
                    };
                    Ok(Feature::new(Geometry::polygon(&r.hull)?, props).with_id(r.id.clone()))
                })
                .collect::<ServiceResult<Vec<_>>>()?;
            let meta = DbscanCompareMeta {
                common: CompareCommon::new("dbscan", &sa, &sb, viewer, snap, &f),
                parameters: DbscanCompareParameters {
                    eps: args.eps,
                    min_points: args.min_points,
                    a: a_text,
                    b: b_text,
                    rate_test: RATE_TEST,
                },
            };
            Ok(CompareAnswer::Dbscan(FeatureCollection::new(
                features, meta,
            )))
        }
        Method::Kde | Method::Ehsa => unreachable!("method() refuses kde and ehsa for compare"),
    }
}

// ---------------------------------------------------------------------------------------------
// Points

pub const DEFAULT_INCIDENT_LIMIT: usize = 50_000;
pub const MAX_INCIDENT_LIMIT: usize = 500_000;

/// One incident.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentProps {
    pub source: String,
    pub source_id: String,
    /// RFC 3339: the time, or the start of the hour, date, month or window it is known to.
    pub time: String,
    /// How precisely `time` is known: exact, hour, date, month or window.
    pub time_precision: &'static str,
    /// The end of a window (exclusive), RFC 3339; null otherwise.
    pub time_to: Option<String>,
    pub category: String,
    pub group: &'static str,
    pub label: String,
    /// exact, street, municipality or county.
    pub precision: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentMeta {
    #[serde(flatten)]
    pub common: Common,
    pub returned: usize,
    pub matching: usize,
    pub truncated: bool,
    pub limit: usize,
    pub order: &'static str,
}

pub type IncidentAnswer = FeatureCollection<Feature<IncidentProps>, IncidentMeta>;

/// `GET /api/v1/incidents`: points, newest first, for roles that see points.
pub fn incidents(
    snap: &Snapshot,
    filter: &FilterParams,
    params: &IncidentParams,
    viewer: &Viewer,
) -> ServiceResult<IncidentAnswer> {
    if !viewer.sees_points() {
        return Err(ServiceError::Forbidden("police"));
    }
    let all = match params.precision.as_deref() {
        None | Some("point") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ServiceError::Invalid(format!(
                "precision={other:?}: expected point (exact and street, the default) or all"
            )));
        }
    };
    let limit =
        in_range("limit", params.limit, 1, MAX_INCIDENT_LIMIT)?.unwrap_or(DEFAULT_INCIDENT_LIMIT);
    let f = filter.filter(snap, true)?;
    let sel = f.select_in(&snap.incidents);
    let mut chosen: Vec<&crate::spatial::SnapIncident> = sel.points.clone();
    if all {
        let passes = f.attribute_test();
        chosen.extend(
            snap.incidents
                .items
                .iter()
                .filter(|i| !i.precision.is_point_level() && passes(i)),
        );
    }
    let matching = chosen.len();
    chosen.sort_by_key(|i| std::cmp::Reverse(i.occurred_at));
    chosen.truncate(limit);
    let pts = super::geojson::positions(chosen.iter().map(|i| [i.location.x(), i.location.y()]))?;
    let features: Vec<Feature<IncidentProps>> = chosen
        .iter()
        .zip(pts)
        .map(|(i, p)| {
            Feature::new(
                Geometry::Point(p),
                IncidentProps {
                    source: i.source.to_string(),
                    source_id: i.source_id.to_string(),
                    time: i.occurred_at.to_rfc3339(),
                    time_precision: i.time_precision.as_str(),
                    time_to: i.occurred_to.map(|t| t.to_rfc3339()),
                    category: i.category.to_string(),
                    group: i.group.as_str(),
                    label: i.label.to_string(),
                    precision: i.precision.as_str(),
                },
            )
            .with_id(format!("{}:{}", i.source, i.source_id))
        })
        .collect();
    let meta = IncidentMeta {
        common: Common::new("incidents", &sel, viewer, snap, &f),
        returned: features.len(),
        matching,
        truncated: matching > features.len(),
        limit,
        order: "newest first",
    };
    Ok(FeatureCollection::new(features, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gistar_props_written_by_hand_are_what_serde_writes() {
        use crate::service::geojson::CellProps;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        let odd = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            5e-324,
            1e-300,
            1e300,
            -123.456_789,
        ];
        for k in 0..100_000usize {
            let r: u64 = rng.random();
            let unit: f64 = rng.random();
            let props = GistarProps {
                cell: match k % 3 {
                    0 => [i32::MIN, i32::MAX],
                    _ => [r as i32, (r >> 32) as i32],
                },
                count: if k % 5 == 0 {
                    u32::MAX
                } else {
                    (r >> 40) as u32
                },
                neighbours: (r >> 20) as u32 % 50,
                z: if k % 11 == 0 {
                    odd[k / 11 % odd.len()]
                } else {
                    round_to((unit - 0.5) * 40.0, 6)
                },
                p: if k % 13 == 0 {
                    odd[k / 13 % odd.len()]
                } else {
                    unit.powi((k % 40) as i32)
                },
                bin: (r % 256) as u8 as i8,
            };
            let mut by_hand = Vec::new();
            props.write_json(&mut by_hand).unwrap();
            assert_eq!(
                String::from_utf8(by_hand).unwrap(),
                serde_json::to_string(&props).unwrap()
            );
        }
    }
    use crate::analysis::hotspot::grid::GridKind;

    #[test]
    fn cell_features_are_each_cell_outline_transformed() {
        // Square and hexagonal cells over Täby, more than one lot of them, against each
        // cell's own outline transformed on its own.
        for kind in [GridKind::Square, GridKind::Hex] {
            let grid = Grid::new(kind, 100.0);
            let cells: Vec<CellId> = (6735..6850)
                .flat_map(|i| (65930..65970).map(move |j| (i, j)))
                .collect();
            assert!(cells.len() > 2 * 2_048);
            let got = cell_features(&grid, &cells, |&c| (c, [c.0, c.1])).unwrap();
            assert_eq!(got.len(), cells.len());
            for (k, (ring, props)) in got.iter().enumerate() {
                let c = cells[k];
                assert_eq!(*props, [c.0, c.1]);
                let Geometry::Polygon(want) = Geometry::polygon(&grid.polygon(c)).unwrap() else {
                    unreachable!()
                };
                assert_eq!(want, vec![ring.to_vec()], "{kind:?} cell {c:?}");
            }
        }
        let none: CellFeatures<()> =
            cell_features(&Grid::new(GridKind::Square, 100.0), &[], |c: &CellId| {
                (*c, ())
            })
            .unwrap();
        assert!(none.is_empty());
    }
}
