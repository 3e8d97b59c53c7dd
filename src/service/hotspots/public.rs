//! The hotspot answers of anonymous callers: the public product of [`crate::analysis::privacy`].
//! Signed-in roles go through [`super`] with free parameters.
//!
//! Every answer here is computed from counts of public cells only: Gi\* counts the events of a
//! cell (whose centre decides district membership), the heat map smooths the events moved to
//! their cell's centre, and both cover a raster or grid fixed by the data as a whole, not by
//! the query. No exact total is given: totals are rounded down to tens and null below ten,
//! cell counts below k are null.

use serde::Serialize;
use utoipa::ToSchema;

use super::{
    KdeCells, KdeParameters, MethodParams, Pair, Periods, cell_features, hot_and_cold, in_range,
    raster_bounds,
};
use crate::analysis::cancel::Cancel;
use crate::analysis::filter::{IncidentFilter, Selected, Selection};
use crate::analysis::hotspot::compare;
use crate::analysis::hotspot::gistar::{self, GiStarParams, StudyArea};
use crate::analysis::hotspot::grid::{Grid, GridKind};
use crate::analysis::hotspot::kde::{self, DensityGrid, KdeParams};
use crate::analysis::limits::{self, WorkLimits};
use crate::analysis::privacy::{PublicRefusal, PublicRules, PublicStudyArea};
use crate::service::filter::{FilterEcho, FilterParams};
use crate::service::geojson::{
    CellCollection, CellFeatures, CollectionType, Feature, FeatureCollection, round_to,
};
use crate::service::{ServiceError, ServiceResult};
use crate::spatial::Snapshot;

/// Refuses what the public product does not offer: single categories, weekdays, a bbox, a hex
/// grid, hours that are not whole day parts, periods that are not whole months.
pub fn check_filter(
    given: &FilterParams,
    params: &MethodParams,
    filter: &IncidentFilter,
    rules: &PublicRules,
) -> ServiceResult<()> {
    let signed_in_only = |param: &'static str, value: &Option<String>, why: &str| match value {
        Some(v) => Err(ServiceError::from(PublicRefusal {
            param,
            value: v.clone(),
            rule: why.to_string(),
        })),
        None => Ok(()),
    };
    signed_in_only(
        "categories",
        &given.categories,
        "the public product has category groups only (groups=…)",
    )?;
    signed_in_only(
        "weekdays",
        &given.weekdays,
        "the public product has no weekday filter",
    )?;
    signed_in_only(
        "bbox",
        &given.bbox,
        "the public product covers the whole service area or a district (area=…)",
    )?;
    if let Some(g) = &params.grid
        && g.trim() != "square"
    {
        return Err(PublicRefusal {
            param: "grid",
            value: g.clone(),
            rule: "the public grid is square".into(),
        }
        .into());
    }
    if let Some(h) = &filter.hours {
        rules.hours(h)?;
    }
    rules.period(filter.from, filter.to)?;
    Ok(())
}

/// The filter's attribute part, without the district: public answers decide membership by
/// the cell's centre instead of the point.
fn attributes_only(filter: &IncidentFilter) -> IncidentFilter {
    IncidentFilter {
        area: None,
        ..filter.clone()
    }
}

/// The study area of a public answer: the public extent (all point-level incidents of the
/// snapshot, whatever the filter), cut to the filter's district; `None` without such incidents.
fn study_area<'a>(
    snap: &Snapshot,
    filter: &'a IncidentFilter,
    rules: &PublicRules,
) -> Option<PublicStudyArea<'a>> {
    let extent = rules.extent(
        snap.incidents
            .items
            .iter()
            .filter(|i| i.precision.is_point_level())
            .map(|i| [i.location.x(), i.location.y()]),
    )?;
    Some(PublicStudyArea {
        extent,
        district: filter.area.as_ref().map(|a| a as &dyn StudyArea),
    })
}

// ---------------------------------------------------------------------------------------------
// Answers

/// Events without a point location, as totals (tens, null below ten).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicExcluded {
    pub municipality: Option<u64>,
    pub county: Option<u64>,
    pub total: Option<u64>,
    pub note: &'static str,
}

/// What every public answer's `meta` says: no exact totals, no filtered-out counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicCommon {
    pub method: &'static str,
    /// Events that entered the analysis, in tens (null below ten).
    pub included: Option<u64>,
    pub excluded_by_precision: PublicExcluded,
    pub k: u32,
    pub role: &'static str,
    pub snapshot_version: u64,
    pub demo: bool,
    pub filters: FilterEcho,
    /// The rules of the public product, in words.
    pub privacy: String,
}

impl PublicCommon {
    fn new(
        method: &'static str,
        included: usize,
        municipality: usize,
        county: usize,
        rules: &PublicRules,
        snap: &Snapshot,
        filter: &IncidentFilter,
    ) -> Self {
        Self {
            method,
            included: rules.total(included as u64),
            excluded_by_precision: PublicExcluded {
                municipality: rules.total(municipality as u64),
                county: rules.total(county as u64),
                total: rules.total((municipality + county) as u64),
                note: "events known only to a municipality or county are not placed on the map",
            },
            k: rules.k,
            role: "anonymous",
            snapshot_version: snap.version,
            demo: snap.demo,
            filters: FilterEcho::of(filter),
            privacy: format!(
                "public product: square cells of {} m (or 2, 4, 8 times that) on the EPSG:3006 origin, whole months, day parts, category groups; counts below k are null, totals rounded down to tens and null below ten",
                rules.cell
            ),
        }
    }

    pub(super) fn of<T>(
        sel: &Selected<T>,
        method: &'static str,
        included: usize,
        rules: &PublicRules,
        snap: &Snapshot,
        filter: &IncidentFilter,
    ) -> Self {
        Self::new(
            method,
            included,
            sel.municipality_only,
            sel.county_only,
            rules,
            snap,
            filter,
        )
    }
}

/// A public Gi\* cell: no z or p, the count only from k.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicGistarProps {
    #[schema(value_type = Vec<i32>)]
    pub cell: [i32; 2],
    /// Events in the cell; null below k (zero included).
    pub count: Option<u64>,
    pub neighbours: u32,
    pub bin: i8,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicGistarParameters {
    pub grid: &'static str,
    pub cell: f64,
    pub band: f64,
    pub cell_derived: bool,
    pub band_derived: bool,
    pub study_area: bool,
    pub analysed_cells: usize,
    pub fdr: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicGistarMeta {
    #[serde(flatten)]
    pub common: PublicCommon,
    /// Absent when the data has no point-level events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PublicGistarParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_cells_95: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_cells_95: Option<usize>,
}

pub type GistarAnswer = CellCollection<PublicGistarProps, PublicGistarMeta>;

impl crate::service::geojson::CellProps for PublicGistarProps {}

/// A public heat map cell: the density to two significant digits, no support count.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicKdeProps {
    pub density: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicKdeMeta {
    #[serde(flatten)]
    pub common: PublicCommon,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<KdeParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<f64>>)]
    pub bounds: Option<[f64; 4]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_density: Option<f64>,
}

/// The public heat map: cells streamed from the raster.
#[derive(Serialize)]
pub struct KdeAnswer {
    #[serde(rename = "type")]
    pub kind: CollectionType,
    pub features: KdeCells<fn(&DensityGrid, usize) -> Option<PublicKdeProps>>,
    pub meta: PublicKdeMeta,
}

/// The shape of [`KdeAnswer`].
pub type KdeAnswerDoc = FeatureCollection<Feature<PublicKdeProps>, PublicKdeMeta>;

// ---------------------------------------------------------------------------------------------
// Gi*

/// The grid of an anonymous Gi\* (one run, or two for a comparison): the public cell (or a
/// doubling), a band of one to ten cells, the public extent cut to the district; `None` when
/// the data has no point-level incidents at all.
pub(super) struct PublicGrid<'a> {
    pub(super) cell: f64,
    pub(super) band: f64,
    pub(super) study: PublicStudyArea<'a>,
    pub(super) grid: Grid,
    /// An upper bound of the cells laid over the study area.
    pub(super) study_cells: f64,
}

pub(super) fn public_grid<'a>(
    snap: &Snapshot,
    params: &MethodParams,
    filter: &'a IncidentFilter,
    rules: &PublicRules,
    runs: f64,
) -> ServiceResult<Option<PublicGrid<'a>>> {
    let requested = in_range("cell", params.cell, 10.0, 5_000.0)?;
    let band_requested = in_range("band", params.band, 10.0, 50_000.0)?;
    if requested.is_some() {
        rules.gistar_cell(requested)?;
    }
    let Some(study) = study_area(snap, filter, rules) else {
        return Ok(None);
    };
    let (lo, hi) = study.bounds();
    // An upper bound of the cells `hot_spots` lays over the study area (it pads the box by a
    // cell and one more on each side): the features of the answer. Beyond its MAX_STUDY_CELLS
    // it would fall back to the cells that hold events, whose set tells where events are:
    // refused here instead, for a single run and a comparison alike.
    let cells_of = |cell: f64| {
        ((hi[0] - lo[0]) / cell + 6.0).max(0.0) * ((hi[1] - lo[1]) / cell + 6.0).max(0.0)
    };
    let limit = WorkLimits::for_role(false).features as f64;
    let cell = match requested {
        Some(c) => c,
        // The public cell, or for a large service area the first doubling of it whose answer
        // stays within the limit (like the heat map's raster, fixed by the data as a whole).
        None => rules
            .allowed_cells()
            .into_iter()
            .find(|&c| cells_of(c) <= limit)
            .unwrap_or(rules.gistar_cell(None)?),
    };
    let band = rules.gistar_band(cell, band_requested)?;
    let grid = Grid::new(GridKind::Square, cell);
    let study_cells = cells_of(cell);
    if study_cells > gistar::MAX_STUDY_CELLS as f64 {
        return Err(ServiceError::Invalid(format!(
            "cell={cell}: the service area has too many cells of this size; choose a larger cell or an area"
        )));
    }
    limits::gistar_features(study_cells, &WorkLimits::for_role(false))?;
    limits::gistar(
        runs * study_cells,
        grid.cell_area(),
        band,
        &WorkLimits::for_role(false),
    )?;
    Ok(Some(PublicGrid {
        cell,
        band,
        study,
        grid,
        study_cells,
    }))
}

impl PublicGrid<'_> {
    /// The point-level incidents passing the filter's attributes whose cell's centre is in the
    /// study area (kept in place, without a second list), with the precision counts of all
    /// that passed.
    fn select(&self, snap: &Snapshot, attrs: &IncidentFilter) -> Selected<[f64; 2]> {
        let mut sel = attrs.coords_in(&snap.incidents);
        sel.points
            .retain(|p| self.study.contains(self.grid.centre(self.grid.cell_of(*p))));
        sel
    }

    fn params(&self) -> GiStarParams {
        GiStarParams {
            grid: GridKind::Square,
            cell: Some(self.cell),
            band: Some(self.band),
        }
    }
}

/// Anonymous Gi\*: the public cell (or a doubling), a band of one to ten cells.
pub fn gistar(
    snap: &Snapshot,
    params: &MethodParams,
    filter: &IncidentFilter,
    rules: &PublicRules,
    cancel: &Cancel,
) -> ServiceResult<GistarAnswer> {
    let Some(pg) = public_grid(snap, params, filter, rules, 1.0)? else {
        let common = PublicCommon::of(&Selection::default(), "gistar", 0, rules, snap, filter);
        return Ok(CellCollection::new(
            CellFeatures::default(),
            PublicGistarMeta {
                common,
                parameters: None,
                hot_cells_95: None,
                cold_cells_95: None,
            },
        ));
    };
    let sel = pg.select(snap, &attributes_only(filter));
    let pts = &sel.points;
    let res = gistar::hot_spots_with(pts, &pg.params(), Some(&pg.study), cancel)?;
    debug_assert!(res.study_area_used, "public_grid bounds the study cells");
    let features = cell_features(&pg.grid, &res.cells, |c| {
        let props = PublicGistarProps {
            cell: [c.id.0, c.id.1],
            count: rules.count(u64::from(c.count)),
            neighbours: c.neighbours,
            bin: c.bin,
        };
        (c.id, props)
    })?;
    let (hot, cold) = hot_and_cold(&res.cells);
    let meta = PublicGistarMeta {
        common: PublicCommon::of(&sel, "gistar", pts.len(), rules, snap, filter),
        parameters: Some(PublicGistarParameters {
            grid: "square",
            cell: pg.cell,
            band: pg.band,
            cell_derived: false,
            band_derived: params.band.is_none(),
            study_area: true,
            analysed_cells: res.analysed,
            fdr: "Benjamini-Hochberg",
        }),
        hot_cells_95: Some(hot),
        cold_cells_95: Some(cold),
    };
    Ok(CellCollection::new(features, meta))
}

// ---------------------------------------------------------------------------------------------
// The heat map

/// The public heat map's raster: events moved to their cell's centre, smoothed with a
/// bandwidth of at least the public minimum over the fixed extent, and cells whose support is
/// below k set to zero (so neither they nor the colour scale carry them).
pub struct PublicDensity {
    pub grid: DensityGrid,
    pub included: usize,
    pub sel_municipality: usize,
    pub sel_county: usize,
}

pub fn density(
    snap: &Snapshot,
    params: &MethodParams,
    filter: &IncidentFilter,
    rules: &PublicRules,
    cancel: &Cancel,
) -> ServiceResult<Option<PublicDensity>> {
    if let Some(c) = params.cell {
        return Err(PublicRefusal {
            param: "cell",
            value: c.to_string(),
            rule: format!(
                "the public heat map has its own raster ({} m, coarser for a large service area)",
                rules.kde_cell()
            ),
        }
        .into());
    }
    let h = rules.bandwidth(in_range("bandwidth", params.bandwidth, 10.0, 20_000.0)?)?;
    let Some(study) = study_area(snap, filter, rules) else {
        return Ok(None);
    };
    // Each point moved to its public cell's centre, in place; those outside the study dropped.
    let mut sel = attributes_only(filter).coords_in(&snap.incidents);
    for p in &mut sel.points {
        *p = rules.cell_centre(*p);
    }
    sel.points.retain(|c| study.contains(*c));
    let pts = &sel.points;
    let (lo, hi) = study.bounds();
    if lo[0] >= hi[0] || lo[1] >= hi[1] {
        return Ok(None);
    }
    // The raster cell: a quarter of the public cell, or whole multiples of it where a large
    // service area would otherwise need more than the answer limit of cells. It follows the
    // extent of the data as a whole (and the district), never the filter.
    let limits = WorkLimits::for_role(false);
    let area = (hi[0] - lo[0] + 2.0 * h) * (hi[1] - lo[1] + 2.0 * h);
    let base = rules.kde_cell();
    let needed = (area / (0.9 * limits.features as f64)).sqrt();
    let cell = if needed <= base {
        base
    } else {
        (needed / base).ceil() * base
    };
    limits::kde(pts.len(), h, cell, &limits)?;
    let raster = ((hi[0] - lo[0] + 2.0 * h) / cell) * ((hi[1] - lo[1] + 2.0 * h) / cell);
    limits::kde_features(raster as usize, &limits)?;
    let mut grid = kde::density_with(
        pts,
        &KdeParams {
            bandwidth: Some(h),
            cell: Some(cell),
            frame: Some((lo, hi)),
        },
        cancel,
    )?;
    for (d, s) in grid.density.iter_mut().zip(grid.support.iter_mut()) {
        if *s < rules.k {
            *d = 0.0;
            *s = 0;
        }
    }
    Ok(Some(PublicDensity {
        grid,
        included: pts.len(),
        sel_municipality: sel.municipality_only,
        sel_county: sel.county_only,
    }))
}

/// Two significant digits: the public surface says where it is denser, not by how many events.
pub fn two_digits(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let mag = v.log10().floor() as i32;
    round_to(v, 1 - mag)
}

fn public_kde_props(g: &DensityGrid, i: usize) -> Option<PublicKdeProps> {
    (g.density[i] > 0.0).then(|| PublicKdeProps {
        density: two_digits(g.density[i]),
    })
}

/// Anonymous kernel density as GeoJSON cells.
pub fn kde(
    snap: &Snapshot,
    params: &MethodParams,
    filter: &IncidentFilter,
    rules: &PublicRules,
    cancel: &Cancel,
) -> ServiceResult<KdeAnswer> {
    let Some(d) = density(snap, params, filter, rules, cancel)? else {
        let common = PublicCommon::of(&Selection::default(), "kde", 0, rules, snap, filter);
        return Ok(KdeAnswer {
            kind: CollectionType::FeatureCollection,
            features: KdeCells::new(DensityGrid::empty(), public_kde_props),
            meta: PublicKdeMeta {
                common,
                parameters: None,
                bounds: None,
                max_density: None,
            },
        });
    };
    let grid = d.grid;
    let meta = PublicKdeMeta {
        common: PublicCommon::new(
            "kde",
            d.included,
            d.sel_municipality,
            d.sel_county,
            rules,
            snap,
            filter,
        ),
        parameters: Some(KdeParameters {
            kernel: "quartic",
            bandwidth: grid.bandwidth,
            cell: grid.cell,
            bandwidth_derived: false,
            cell_derived: false,
            unit: "events per km²",
            input: Some("events at their public cell's centre"),
        }),
        bounds: raster_bounds(&grid)?,
        max_density: Some(two_digits(grid.max_density())),
    };
    Ok(KdeAnswer {
        kind: CollectionType::FeatureCollection,
        features: KdeCells::new(grid, public_kde_props),
        meta,
    })
}

// ---------------------------------------------------------------------------------------------
// Comparison

/// A public cell hot in either period: counts from k, the change from the bins alone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicCellChangeProps {
    #[schema(value_type = Vec<i32>)]
    pub cell: [i32; 2],
    pub count_a: Option<u64>,
    pub count_b: Option<u64>,
    pub bin_a: i8,
    pub bin_b: i8,
    /// new (hot in B only), gone (hot in A only) or same.
    pub change: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicTotal {
    pub total: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicCompareParameters {
    pub grid: &'static str,
    pub cell: f64,
    pub band: f64,
    #[schema(value_type = Vec<String>)]
    pub a: [String; 2],
    #[schema(value_type = Vec<String>)]
    pub b: [String; 2],
    pub hot: &'static str,
    pub change: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicCompareMeta {
    pub method: &'static str,
    pub included: Pair<Option<u64>>,
    pub excluded_by_precision: Pair<PublicTotal>,
    pub k: u32,
    pub role: &'static str,
    pub snapshot_version: u64,
    pub demo: bool,
    pub filters: FilterEcho,
    pub privacy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PublicCompareParameters>,
}

pub type CompareAnswer = CellCollection<PublicCellChangeProps, PublicCompareMeta>;

impl crate::service::geojson::CellProps for PublicCellChangeProps {}

fn rename(mut e: PublicRefusal, from: &'static str, to: &'static str) -> PublicRefusal {
    e.param = if e.param == "from" { from } else { to };
    e
}

/// Anonymous period comparison: Gi\* on public cells, periods of whole months, a change told
/// from the significance bins alone (`new`: hot in B only, `gone`: hot in A only, `same`
/// otherwise — the rate test would need counts below k).
pub fn compare(
    snap: &Snapshot,
    params: &MethodParams,
    filter: &IncidentFilter,
    rules: &PublicRules,
    periods: &Periods,
    cancel: &Cancel,
) -> ServiceResult<CompareAnswer> {
    let ((a_from, a_to), (b_from, b_to)) = (periods.a, periods.b);
    rules
        .period(Some(a_from), Some(a_to))
        .map_err(|e| rename(e, "a_from", "a_to"))?;
    rules
        .period(Some(b_from), Some(b_to))
        .map_err(|e| rename(e, "b_from", "b_to"))?;
    let empty = PublicCommon::of(&Selection::default(), "gistar", 0, rules, snap, filter);
    let mut meta = PublicCompareMeta {
        method: "gistar",
        included: Pair { a: None, b: None },
        excluded_by_precision: Pair {
            a: PublicTotal { total: None },
            b: PublicTotal { total: None },
        },
        k: rules.k,
        role: "anonymous",
        snapshot_version: snap.version,
        demo: snap.demo,
        filters: empty.filters,
        privacy: empty.privacy,
        parameters: None,
    };
    let Some(pg) = public_grid(snap, params, filter, rules, 2.0)? else {
        return Ok(CellCollection::new(CellFeatures::default(), meta));
    };
    let attrs = attributes_only(filter);
    let sa = pg.select(snap, &attrs.with_dates(Some(a_from), Some(a_to)));
    let sb = pg.select(snap, &attrs.with_dates(Some(b_from), Some(b_to)));
    let (pa, pb) = (&sa.points, &sb.points);
    let res = compare::compare_gistar_with(
        pa,
        pb,
        periods.days(),
        &pg.params(),
        Some(&pg.study),
        cancel,
    )?;
    let features = cell_features(&pg.grid, &res.cells, |c| {
        let change = match (c.bin_a >= 2, c.bin_b >= 2) {
            (false, true) => "new",
            (true, false) => "gone",
            _ => "same",
        };
        let props = PublicCellChangeProps {
            cell: [c.id.0, c.id.1],
            count_a: rules.count(u64::from(c.count_a)),
            count_b: rules.count(u64::from(c.count_b)),
            bin_a: c.bin_a,
            bin_b: c.bin_b,
            change,
        };
        (c.id, props)
    })?;
    meta.included = Pair {
        a: rules.total(pa.len() as u64),
        b: rules.total(pb.len() as u64),
    };
    meta.excluded_by_precision = Pair {
        a: PublicTotal {
            total: rules.total(sa.excluded_by_precision() as u64),
        },
        b: PublicTotal {
            total: rules.total(sb.excluded_by_precision() as u64),
        },
    };
    meta.parameters = Some(PublicCompareParameters {
        grid: "square",
        cell: pg.cell,
        band: pg.band,
        a: [a_from.to_string(), a_to.to_string()],
        b: [b_from.to_string(), b_to.to_string()],
        hot: "bin >= 2 (95 % after Benjamini-Hochberg FDR)",
        change: "from the bins alone: new (hot in b only), gone (hot in a only), same",
    });
    Ok(CellCollection::new(features, meta))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::DateTime;
    use geo::Point;

    use super::*;
    use crate::category::CategoryGroup;
    use crate::model::{Incident, LocationPrecision};
    use crate::spatial::IncidentLayer;

    fn snapshot(points: &[[f64; 2]]) -> Snapshot {
        let incidents = points
            .iter()
            .enumerate()
            .map(|(i, &[x, y])| Incident {
                source: "t".into(),
                source_id: i.to_string(),
                occurred_at: DateTime::parse_from_rfc3339("2026-03-01T22:00:00+01:00").unwrap(),
                time_precision: Default::default(),
                occurred_to: None,
                category: "assault".into(),
                group: CategoryGroup::Violence,
                label: "Misshandel".into(),
                location: Point::new(x, y),
                precision: LocationPrecision::Exact,
                place: None,
                summary: None,
            })
            .collect();
        let mut snap = Snapshot::empty();
        snap.incidents = Arc::new(IncidentLayer::new(incidents));
        snap
    }

    const RULES: PublicRules = PublicRules {
        k: 3,
        cell: 200.0,
        min_bandwidth: 400.0,
    };

    /// Data 60 km across: its extent on 1 600 m blocks (200 m × 2³) is x 600 000 … 660 800
    /// (60 800 m) and y 6 499 200 … 6 561 600 (62 400 m). At 200 m cells the answer would hold
    /// (304 + 6) × (312 + 6) = 98 580 cells, more than the public 60 000; at 400 m
    /// (152 + 6) × (156 + 6) = 25 596.
    #[test]
    fn a_large_area_gets_the_first_doubled_cell_that_keeps_the_answer_within_the_limit() {
        let snap = snapshot(&[[600_000.0, 6_500_000.0], [660_000.0, 6_560_000.0]]);
        let filter = IncidentFilter::default();
        let pg = public_grid(&snap, &MethodParams::default(), &filter, &RULES, 1.0)
            .unwrap()
            .unwrap();
        assert_eq!(pg.cell, 400.0);
        // Asked for, the 200 m cell is refused for the answer's size.
        let small = MethodParams {
            cell: Some(200.0),
            ..MethodParams::default()
        };
        let e = public_grid(&snap, &small, &filter, &RULES, 1.0)
            .err()
            .expect("too many cells")
            .to_string();
        assert!(e.contains("about 98580 cells in the answer"), "{e}");
        // A small area keeps the public cell.
        let snap = snapshot(&[[600_000.0, 6_500_000.0], [608_000.0, 6_508_000.0]]);
        let pg = public_grid(&snap, &MethodParams::default(), &filter, &RULES, 1.0)
            .unwrap()
            .unwrap();
        assert_eq!(pg.cell, 200.0);
    }
}
