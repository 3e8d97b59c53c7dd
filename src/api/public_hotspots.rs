//! The hotspot answers of anonymous callers: the public product of [`crate::analysis::privacy`]
//! as GeoJSON. Signed-in roles go through [`super::hotspots`] with free parameters.
//!
//! Every answer here is computed from counts of public cells only: Gi\* counts the events of a
//! cell (whose centre decides district membership), the heat map smooths the events moved to
//! their cell's centre, and both cover a raster or grid fixed by the data as a whole, not by
//! the query.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::geometry::polygon_json;
use super::hotspots::{Params, collection, filter_json, num, round_to};
use super::{ApiResult, AppError};
use crate::analysis::cancel::Cancel;
use crate::analysis::filter::{IncidentFilter, Selection};
use crate::analysis::hotspot::compare;
use crate::analysis::hotspot::gistar::{self, GiStarParams, StudyArea};
use crate::analysis::hotspot::grid::{Grid, GridKind};
use crate::analysis::hotspot::kde::{self, DensityGrid, KdeParams};
use crate::analysis::limits::{self, WorkLimits};
use crate::analysis::privacy::{PublicRefusal, PublicRules, PublicStudyArea};
use crate::crs;
use crate::spatial::Snapshot;

fn refused(e: PublicRefusal) -> AppError {
    AppError::BadRequest(e.to_string())
}

fn too_much(e: limits::TooMuchWork) -> AppError {
    AppError::BadRequest(e.to_string())
}

/// Refuses what the public product does not offer: single categories, weekdays, a bbox, hours
/// that are not whole day parts, periods that are not whole months.
pub fn check_filter(q: &Params, filter: &IncidentFilter, rules: &PublicRules) -> ApiResult<()> {
    let signed_in_only = |param: &'static str, why: &str| -> ApiResult<()> {
        match q.get(param) {
            Some(v) => Err(refused(PublicRefusal {
                param,
                value: v.clone(),
                rule: why.to_string(),
            })),
            None => Ok(()),
        }
    };
    signed_in_only(
        "categories",
        "the public product has category groups only (groups=…)",
    )?;
    signed_in_only("weekdays", "the public product has no weekday filter")?;
    signed_in_only(
        "bbox",
        "the public product covers the whole service area or a district (area=…)",
    )?;
    if let Some(g) = q.get("grid")
        && g.trim() != "square"
    {
        return Err(refused(PublicRefusal {
            param: "grid",
            value: g.clone(),
            rule: "the public grid is square".into(),
        }));
    }
    if let Some(h) = &filter.hours {
        rules.hours(h).map_err(refused)?;
    }
    rules.period(filter.from, filter.to).map_err(refused)?;
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

/// The meta members every public answer shares: no exact totals, no filtered-out counts.
fn public_meta(
    method: &str,
    included: usize,
    sel: &Selection<'_>,
    rules: &PublicRules,
    snap: &Snapshot,
    filter: &IncidentFilter,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("method".into(), json!(method));
    m.insert("included".into(), json!(rules.total(included as u64)));
    m.insert(
        "excluded_by_precision".into(),
        json!({
            "municipality": rules.total(sel.municipality_only as u64),
            "county": rules.total(sel.county_only as u64),
            "total": rules.total(sel.excluded_by_precision() as u64),
            "note": "events known only to a municipality or county are not placed on the map",
        }),
    );
    m.insert("k".into(), json!(rules.k));
    m.insert("role".into(), json!("anonymous"));
    m.insert("snapshot_version".into(), json!(snap.version));
    m.insert("demo".into(), json!(snap.demo));
    m.insert("filters".into(), filter_json(filter));
    m.insert(
        "privacy".into(),
        json!(format!(
            "public product: square cells of {} m (or 2, 4, 8 times that) on the EPSG:3006 origin, whole months, day parts, category groups; counts below k are null, totals rounded down to tens and null below ten",
            rules.cell
        )),
    );
    m
}

fn empty_answer(
    method: &str,
    rules: &PublicRules,
    snap: &Snapshot,
    filter: &IncidentFilter,
) -> Value {
    let sel = Selection::default();
    collection(
        Vec::new(),
        public_meta(method, 0, &sel, rules, snap, filter),
    )
}

/// The grid of an anonymous Gi\* (one run, or two for a comparison): the public cell (or a
/// doubling), a band of one to ten cells, the public extent cut to the district; `None` when
/// the data has no point-level incidents at all.
struct PublicGrid<'a> {
    cell: f64,
    band: f64,
    study: PublicStudyArea<'a>,
    grid: Grid,
}

fn public_grid<'a>(
    snap: &Snapshot,
    q: &Params,
    filter: &'a IncidentFilter,
    rules: &PublicRules,
    runs: f64,
) -> ApiResult<Option<PublicGrid<'a>>> {
    let cell = rules
        .gistar_cell(num(q, "cell", 10.0, 5_000.0)?)
        .map_err(refused)?;
    let band = rules
        .gistar_band(cell, num(q, "band", 10.0, 50_000.0)?)
        .map_err(refused)?;
    let Some(study) = study_area(snap, filter, rules) else {
        return Ok(None);
    };
    let grid = Grid::new(GridKind::Square, cell);
    let (lo, hi) = study.bounds();
    // An upper bound of the cells `hot_spots` lays over the study area (it pads the box by a
    // cell and one more on each side). Beyond its MAX_STUDY_CELLS it would fall back to the
    // cells that hold events, whose set tells where events are: refused here instead, for a
    // single run and a comparison alike.
    let study_cells =
        ((hi[0] - lo[0]) / cell + 6.0).max(0.0) * ((hi[1] - lo[1]) / cell + 6.0).max(0.0);
    if study_cells > gistar::MAX_STUDY_CELLS as f64 {
        return Err(AppError::BadRequest(format!(
            "cell={cell}: the service area has too many cells of this size; choose a larger cell or an area"
        )));
    }
    limits::gistar(
        runs * study_cells,
        grid.cell_area(),
        band,
        &WorkLimits::for_role(false),
    )
    .map_err(too_much)?;
    Ok(Some(PublicGrid {
        cell,
        band,
        study,
        grid,
    }))
}

impl PublicGrid<'_> {
    /// The point-level incidents passing the filter's attributes whose cell's centre is in the
    /// study area, and the selection they came from (for its precision counts).
    fn select<'s>(
        &self,
        snap: &'s Snapshot,
        attrs: &IncidentFilter,
    ) -> (Selection<'s>, Vec<[f64; 2]>) {
        let sel = attrs.select(&snap.incidents.items);
        let pts = sel
            .coords()
            .into_iter()
            .filter(|p| self.study.contains(self.grid.centre(self.grid.cell_of(*p))))
            .collect();
        (sel, pts)
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
    q: &Params,
    filter: &IncidentFilter,
    rules: &PublicRules,
    cancel: &Cancel,
) -> ApiResult<Value> {
    let Some(pg) = public_grid(snap, q, filter, rules, 1.0)? else {
        return Ok(empty_answer("gistar", rules, snap, filter));
    };
    let (sel, pts) = pg.select(snap, &attributes_only(filter));
    let res = gistar::hot_spots_with(&pts, &pg.params(), Some(&pg.study), cancel)?;
    debug_assert!(res.study_area_used, "public_grid bounds the study cells");
    let (cell, band, grid) = (pg.cell, pg.band, pg.grid);
    let mut features = Vec::with_capacity(res.cells.len());
    for c in &res.cells {
        features.push(json!({
            "type": "Feature",
            "geometry": polygon_json(&grid.polygon(c.id))?,
            "properties": {
                "cell": [c.id.0, c.id.1],
                "count": rules.count(u64::from(c.count)),
                "neighbours": c.neighbours,
                "bin": c.bin,
            }
        }));
    }
    let mut meta = public_meta("gistar", pts.len(), &sel, rules, snap, filter);
    meta.insert(
        "parameters".into(),
        json!({
            "grid": "square",
            "cell": cell,
            "band": band,
            "cell_derived": false,
            "band_derived": q.get("band").is_none(),
            "study_area": true,
            "analysed_cells": res.analysed,
            "fdr": "Benjamini-Hochberg",
        }),
    );
    super::hotspots::hot_and_cold(&mut meta, &res.cells);
    Ok(collection(features, meta))
}

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
    q: &Params,
    filter: &IncidentFilter,
    rules: &PublicRules,
    cancel: &Cancel,
) -> ApiResult<Option<PublicDensity>> {
    if let Some(c) = q.get("cell") {
        return Err(refused(PublicRefusal {
            param: "cell",
            value: c.clone(),
            rule: format!(
                "the public heat map has its own raster ({} m, coarser for a large service area)",
                rules.kde_cell()
            ),
        }));
    }
    let h = rules
        .bandwidth(num(q, "bandwidth", 10.0, 20_000.0)?)
        .map_err(refused)?;
    let Some(study) = study_area(snap, filter, rules) else {
        return Ok(None);
    };
    let sel = attributes_only(filter).select(&snap.incidents.items);
    let pts: Vec<[f64; 2]> = sel
        .coords()
        .into_iter()
        .map(|p| rules.cell_centre(p))
        .filter(|c| study.contains(*c))
        .collect();
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
    let needed = (area / (0.9 * limits.kde_features as f64)).sqrt();
    let cell = if needed <= base {
        base
    } else {
        (needed / base).ceil() * base
    };
    limits::kde(pts.len(), h, cell, &limits).map_err(too_much)?;
    let raster = ((hi[0] - lo[0] + 2.0 * h) / cell) * ((hi[1] - lo[1] + 2.0 * h) / cell);
    limits::kde_features(raster as usize, &limits).map_err(too_much)?;
    let mut grid = kde::density_with(
        &pts,
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
fn two_digits(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let mag = v.log10().floor() as i32;
    round_to(v, 1 - mag)
}

/// Anonymous kernel density as GeoJSON cells.
pub fn kde(
    snap: &Snapshot,
    q: &Params,
    filter: &IncidentFilter,
    rules: &PublicRules,
    cancel: &Cancel,
) -> ApiResult<Value> {
    let Some(d) = density(snap, q, filter, rules, cancel)? else {
        return Ok(empty_answer("kde", rules, snap, filter));
    };
    let grid = &d.grid;
    let features = super::hotspots::kde_features(grid, 0, |i| {
        (grid.density[i] > 0.0).then(|| json!({ "density": two_digits(grid.density[i]) }))
    })?;
    let sel = Selection {
        points: Vec::new(),
        municipality_only: d.sel_municipality,
        county_only: d.sel_county,
        filtered_out: 0,
    };
    let mut meta = public_meta("kde", d.included, &sel, rules, snap, filter);
    meta.insert(
        "parameters".into(),
        json!({
            "kernel": "quartic",
            "bandwidth": grid.bandwidth,
            "cell": grid.cell,
            "bandwidth_derived": false,
            "cell_derived": false,
            "unit": "events per km²",
            "input": "events at their public cell's centre",
        }),
    );
    let b = kde::wgs84_bounds(grid).map_err(AppError::internal)?;
    meta.insert("bounds".into(), json!(b.map(crs::round7)));
    meta.insert("max_density".into(), json!(two_digits(grid.max_density())));
    Ok(collection(features, meta))
}

/// Anonymous period comparison: Gi\* on public cells, periods of whole months, a change told
/// from the significance bins alone (`new`: hot in B only, `gone`: hot in A only, `same`
/// otherwise — the rate test would need counts below k).
pub fn compare(
    snap: &Snapshot,
    q: &Params,
    filter: &IncidentFilter,
    rules: &PublicRules,
    (a_from, a_to): (NaiveDate, NaiveDate),
    (b_from, b_to): (NaiveDate, NaiveDate),
    cancel: &Cancel,
) -> ApiResult<Value> {
    rules
        .period(Some(a_from), Some(a_to))
        .map_err(|e| refused(rename(e, "a_from", "a_to")))?;
    rules
        .period(Some(b_from), Some(b_to))
        .map_err(|e| refused(rename(e, "b_from", "b_to")))?;
    let Some(pg) = public_grid(snap, q, filter, rules, 2.0)? else {
        return Ok(empty_answer("gistar", rules, snap, filter));
    };
    let attrs = attributes_only(filter);
    let (sa, pa) = pg.select(snap, &attrs.with_dates(Some(a_from), Some(a_to)));
    let (sb, pb) = pg.select(snap, &attrs.with_dates(Some(b_from), Some(b_to)));
    let days = (
        (a_to - a_from).num_days() as f64 + 1.0,
        (b_to - b_from).num_days() as f64 + 1.0,
    );
    let res = compare::compare_gistar_with(&pa, &pb, days, &pg.params(), Some(&pg.study), cancel)?;
    let (cell, band, grid) = (pg.cell, pg.band, pg.grid);
    let mut features = Vec::new();
    for c in &res.cells {
        let change = match (c.bin_a >= 2, c.bin_b >= 2) {
            (false, true) => "new",
            (true, false) => "gone",
            _ => "same",
        };
        features.push(json!({
            "type": "Feature",
            "geometry": polygon_json(&grid.polygon(c.id))?,
            "properties": {
                "cell": [c.id.0, c.id.1],
                "count_a": rules.count(u64::from(c.count_a)),
                "count_b": rules.count(u64::from(c.count_b)),
                "bin_a": c.bin_a,
                "bin_b": c.bin_b,
                "change": change,
            }
        }));
    }
    let mut meta = public_meta("gistar", 0, &Selection::default(), rules, snap, filter);
    meta.insert(
        "included".into(),
        json!({ "a": rules.total(pa.len() as u64), "b": rules.total(pb.len() as u64) }),
    );
    meta.insert(
        "excluded_by_precision".into(),
        json!({
            "a": { "total": rules.total(sa.excluded_by_precision() as u64) },
            "b": { "total": rules.total(sb.excluded_by_precision() as u64) },
        }),
    );
    meta.insert(
        "parameters".into(),
        json!({
            "grid": "square", "cell": cell, "band": band,
            "a": [a_from.to_string(), a_to.to_string()],
            "b": [b_from.to_string(), b_to.to_string()],
            "hot": "bin >= 2 (95 % after Benjamini-Hochberg FDR)",
            "change": "from the bins alone: new (hot in b only), gone (hot in a only), same",
        }),
    );
    Ok(collection(features, meta))
}

fn rename(mut e: PublicRefusal, from: &'static str, to: &'static str) -> PublicRefusal {
    e.param = if e.param == "from" { from } else { to };
    e
}
