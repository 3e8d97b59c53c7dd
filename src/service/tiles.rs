//! Vector tiles of the lighting picture (`GET /tiles/{layer}/{z}/{x}/{y}.mvt` and its TileJSON):
//! three layers, each in tiles of its own, over one [`LightingResult`].
//!
//! - `walkways`: the walkways cut by state, with `walkway_id`, `state`, `class` and `lux` (mean
//!   over the samples with lamp data, 3 decimals). From [`PIECES_FROM_ZOOM`] they are the
//!   GeoJSON's pieces of at most 20 m (`/api/v1/walkways`); at [`FEATURES_FROM_ZOOM`], one
//!   piece per run of a state; below, one feature per state and class holding all their lines
//!   (no ids, no lux), which draws the same at a fraction of the bytes.
//! - `lamps`: points with `id` and `status` (`working`, `broken`), as `/api/v1/lighting/lamps`.
//! - `stretches`: the dark and unknown stretches with `id`, `walkway_id`, `state`, `class`,
//!   `length_m`, `mean_lux`, `priority`, `rank` and `incidents_after_dark`, as the caller may see
//!   them: the public gets [`Stretch::public`] (the priority and rank computed without hidden
//!   incident counts, and a count only where the public GeoJSON shows one), exactly what
//!   `/api/v1/lighting/stretches` gives it. Below [`FEATURES_FROM_ZOOM`], one feature per state,
//!   class and mean lux to 0.1 lx, with only those three: what the map colours them by.
//!
//! Every layer uses the configured class plan (the public's), so a tile is the same for every
//! caller except the stretches' two views. The features of a tile come from the snapshot's
//! R-trees, queried with the tile's envelope in EPSG:3006; their coordinates go to WGS84 in one
//! PROJ batch per tile and to tile units by [`crate::tiles`].

use std::collections::BTreeMap;

use rstar::AABB;
use serde::Serialize;
use utoipa::ToSchema;

use super::geojson::round_to;
use super::lighting::{ATTRIBUTION, PIECE_M};
use super::{ServiceError, ServiceResult};
use crate::analysis::lighting::{self, LightState, LightingInputs, LightingResult};
use crate::crs;
use crate::spatial::Snapshot;
use crate::tiles::{self, BUFFER, EXTENT, Geometry, Layer, TileId, Value};

/// The shallowest zoom served.
pub const MIN_ZOOM: u8 = 10;
/// The deepest zoom served; clients draw deeper zooms from it (overzoom).
pub const MAX_ZOOM: u8 = 16;
/// From this zoom the walkways are in the GeoJSON's pieces of at most 20 m.
pub const PIECES_FROM_ZOOM: u8 = 15;
/// From this zoom every walkway run and every stretch is a feature of its own, with its ids and
/// figures; below it a layer has one feature per way it is drawn (walkways per state and class,
/// stretches per state, class and mean lux to 0.1 lx), which draws the same at a fraction of the
/// bytes: at zoom 13 a tile of a dense network holds 10 000 walkways.
pub const FEATURES_FROM_ZOOM: u8 = 14;
/// Longer than any walkway: one piece per run of a state.
const RUN_M: f64 = 1.0e6;
/// Added around a tile's envelope in EPSG:3006 (m): the tile's edges are not straight lines in
/// SWEREF 99 TM, and its corners and edge midpoints are all that is transformed.
const MARGIN_M: f64 = 10.0;
/// Simplification below [`MAX_ZOOM`] (tile units): a quarter of a pixel of a 256-pixel tile.
const SIMPLIFY_UNITS: f64 = 4.0;

/// A layer of tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileLayer {
    Walkways,
    Lamps,
    Stretches,
}

impl TileLayer {
    pub const ALL: [Self; 3] = [Self::Walkways, Self::Lamps, Self::Stretches];

    pub fn name(self) -> &'static str {
        match self {
            Self::Walkways => "walkways",
            Self::Lamps => "lamps",
            Self::Stretches => "stretches",
        }
    }

    /// The layer of this name; the message names the layers there are.
    pub fn parse(name: &str) -> ServiceResult<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.name() == name)
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no tile layer {name:?}: the layers are walkways, lamps and stretches"
                ))
            })
    }

    /// The public and signed-in callers get different tiles of this layer.
    pub fn per_view(self) -> bool {
        self == Self::Stretches
    }

    fn description(self) -> &'static str {
        match self {
            Self::Walkways => "Gångvägar delade efter belysningsläge (mörk, okänd, belyst)",
            Self::Lamps => "Gatlampor med status",
            Self::Stretches => "Mörka och okända sträckor, rangordnade för åtgärdsplanen",
        }
    }

    /// Field → what it holds, for the TileJSON document.
    fn fields(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Self::Walkways => vec![
                (
                    "walkway_id",
                    "Number: the OSM way id (from zoom 14; below, one feature per state and class)",
                ),
                ("state", "String: dark, unknown or lit"),
                ("class", "String: the EN 13201-2 P-class"),
                (
                    "lux",
                    "Number: mean lx over the samples with lamp data (absent without; from zoom 14)",
                ),
            ],
            Self::Lamps => vec![
                ("id", "String: the lamp id"),
                ("status", "String: working or broken"),
            ],
            Self::Stretches => vec![
                (
                    "id",
                    "String: <walkway id>@<start metre> (from zoom 14; below, one feature per state, class and mean lux to 0.1 lx, with only those)",
                ),
                ("walkway_id", "Number: the OSM way id (from zoom 14)"),
                ("state", "String: dark or unknown"),
                ("class", "String: the EN 13201-2 P-class"),
                ("length_m", "Number: metres, 1 decimal"),
                (
                    "mean_lux",
                    "Number: lx, 3 decimals (absent without lamp data)",
                ),
                ("priority", "Number: at most 100"),
                ("rank", "Number: 1 = first in the action plan"),
                (
                    "incidents_after_dark",
                    "Number: incidents within 50 m after dark (for the public only where shown)",
                ),
            ],
        }
    }
}

/// The tile `z/x/y` of the path (`y` with its `.mvt`), checked: a zoom outside
/// [`MIN_ZOOM`]`..=`[`MAX_ZOOM`] or a column or row outside the grid has no tile.
pub fn tile_address(z: &str, x: &str, y: &str) -> ServiceResult<TileId> {
    let Some(y) = y.strip_suffix(".mvt") else {
        return Err(ServiceError::NotFound(format!(
            "tile row {y:?}: tiles are named <row>.mvt"
        )));
    };
    let num = |what: &str, v: &str| {
        v.parse::<u32>().map_err(|_| {
            ServiceError::Invalid(format!("tile {what} {v:?}: expected a whole number"))
        })
    };
    let (zn, xn, yn) = (num("zoom", z)?, num("column", x)?, num("row", y)?);
    if !(u32::from(MIN_ZOOM)..=u32::from(MAX_ZOOM)).contains(&zn) {
        return Err(ServiceError::NotFound(format!(
            "no tiles at zoom {zn}: the layers are tiled at zoom {MIN_ZOOM} to {MAX_ZOOM} (deeper zooms draw the zoom {MAX_ZOOM} tiles larger)"
        )));
    }
    TileId::new(zn as u8, xn, yn).ok_or_else(|| {
        let n = 1u64 << zn;
        ServiceError::NotFound(format!(
            "no tile {zn}/{xn}/{yn}: at zoom {zn} columns and rows are 0 to {}",
            n - 1
        ))
    })
}

/// An envelope in EPSG:3006 holding the tile and its buffer.
pub fn tile_envelope(t: &TileId) -> ServiceResult<AABB<[f64; 2]>> {
    let [w, s, e, n] = t.wgs84_bounds(BUFFER);
    wgs84_to_work_envelope([w, s, e, n]).map(|b| {
        AABB::from_corners(
            [b.lower()[0] - MARGIN_M, b.lower()[1] - MARGIN_M],
            [b.upper()[0] + MARGIN_M, b.upper()[1] + MARGIN_M],
        )
    })
}

fn wgs84_to_work_envelope([w, s, e, n]: [f64; 4]) -> ServiceResult<AABB<[f64; 2]>> {
    let mut pts = edge_points(w, s, e, n);
    crs::transform_in_place(crs::WGS84_EPSG, crs::WORK_EPSG, &mut pts)
        .map_err(ServiceError::internal)?;
    envelope_of(&pts).ok_or_else(|| ServiceError::internal("tile corners do not transform"))
}

/// A box's corners and edge midpoints: a box in one CRS is not a box in another.
fn edge_points(w: f64, s: f64, e: f64, n: f64) -> Vec<(f64, f64)> {
    let (cx, cy) = ((w + e) / 2.0, (s + n) / 2.0);
    vec![
        (w, s),
        (e, s),
        (e, n),
        (w, n),
        (cx, s),
        (cx, n),
        (w, cy),
        (e, cy),
    ]
}

fn envelope_of(pts: &[(f64, f64)]) -> Option<AABB<[f64; 2]>> {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for &(x, y) in pts {
        if !(x.is_finite() && y.is_finite()) {
            return None;
        }
        lo = [lo[0].min(x), lo[1].min(y)];
        hi = [hi[0].max(x), hi[1].max(y)];
    }
    (lo[0] <= hi[0]).then(|| AABB::from_corners(lo, hi))
}

/// EPSG:3006 coordinates of one tile's features in tile units, transformed in one PROJ batch.
fn to_tile_units(t: &TileId, coords: &mut [(f64, f64)]) -> ServiceResult<()> {
    crs::transform_in_place(crs::WORK_EPSG, crs::WGS84_EPSG, coords)
        .map_err(ServiceError::internal)?;
    for c in coords.iter_mut() {
        *c = t.to_tile(tiles::lon_lat_to_world(c.0, c.1));
    }
    Ok(())
}

/// Lines (EPSG:3006, one slice of `coords` each) as clipped, simplified and quantised parts.
fn line_geometry(t: &TileId, line: &[(f64, f64)]) -> Option<Geometry> {
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    let eps = if t.z < MAX_ZOOM { SIMPLIFY_UNITS } else { 0.0 };
    let parts: Vec<Vec<[i32; 2]>> = tiles::clip_line(line, lo, hi)
        .iter()
        .filter_map(|p| tiles::quantise_line(p, eps))
        .collect();
    (!parts.is_empty()).then_some(Geometry::Lines(parts))
}

/// Below [`FEATURES_FROM_ZOOM`]: line `i` of `lines` goes to the feature of its key (the
/// `i`-th of `keys`), one feature per key with the properties `props` gives it, in key order.
fn add_merged<K: Ord>(
    out: &mut Layer,
    t: &TileId,
    lines: &Lines,
    keys: impl Iterator<Item = K>,
    props: impl Fn(&K) -> Vec<(&'static str, Option<Value>)>,
) {
    let mut merged: BTreeMap<K, Vec<Vec<[i32; 2]>>> = BTreeMap::new();
    for (i, key) in keys.enumerate() {
        if let Some(Geometry::Lines(parts)) = line_geometry(t, lines.get(i)) {
            merged.entry(key).or_default().extend(parts);
        }
    }
    for (key, parts) in merged {
        out.add(None, &props(&key), &Geometry::Lines(parts));
    }
}

/// Lines to transform and encode: their coordinates one after the other, `ends[i]` where line
/// `i` ends.
#[derive(Default)]
struct Lines {
    coords: Vec<(f64, f64)>,
    ends: Vec<usize>,
}

impl Lines {
    fn push(&mut self, line: &geo::LineString<f64>) {
        self.coords.extend(line.0.iter().map(|c| (c.x, c.y)));
        self.ends.push(self.coords.len());
    }

    fn get(&self, i: usize) -> &[(f64, f64)] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.coords[start..self.ends[i]]
    }
}

/// The walkways with a segment in the tile's envelope, in the order of the data.
fn walkways_in(inputs: &LightingInputs<'_>, env: &AABB<[f64; 2]>) -> Vec<usize> {
    let mut ways: Vec<usize> = inputs
        .walkway_tree
        .locate_in_envelope_intersecting(env)
        .map(|e| e.data.0)
        .collect();
    ways.sort_unstable();
    ways.dedup();
    ways
}

/// One tile of `layer`: the MVT bytes (none when nothing is in it). `public`: the public's view
/// of the stretches.
pub fn tile(
    snap: &Snapshot,
    result: &LightingResult,
    layer: TileLayer,
    t: TileId,
    public: bool,
) -> ServiceResult<Vec<u8>> {
    let inputs = LightingInputs::from_snapshot(snap);
    let env = tile_envelope(&t)?;
    let mut out = Layer::new(layer.name());
    match layer {
        TileLayer::Walkways => walkway_layer(&inputs, result, &t, &env, &mut out)?,
        TileLayer::Lamps => lamp_layer(&inputs, result, &t, &env, &mut out)?,
        TileLayer::Stretches => stretch_layer(&inputs, result, &t, &env, public, &mut out)?,
    }
    Ok(tiles::encode_tile(&[out]))
}

fn state(s: LightState) -> Option<Value> {
    Some(Value::String(s.as_str().to_string()))
}

fn walkway_layer(
    inputs: &LightingInputs<'_>,
    result: &LightingResult,
    t: &TileId,
    env: &AABB<[f64; 2]>,
    out: &mut Layer,
) -> ServiceResult<()> {
    let max_piece = if t.z >= PIECES_FROM_ZOOM {
        PIECE_M
    } else {
        RUN_M
    };
    let mut lines = Lines::default();
    let mut props = Vec::new();
    for wi in walkways_in(inputs, env) {
        let w = &inputs.walkways[wi];
        let class = result.profiles[wi].class;
        for p in lighting::walkway_pieces(result, inputs, wi, max_piece) {
            lines.push(&p.geometry);
            props.push((w.id, class, p.state, p.mean_lux));
        }
    }
    to_tile_units(t, &mut lines.coords)?;
    if t.z < FEATURES_FROM_ZOOM {
        let keys = props
            .iter()
            .map(|&(_, class, st, _)| (st.as_str(), class.as_str()));
        add_merged(out, t, &lines, keys, |&(st, class)| {
            vec![
                ("state", Some(Value::String(st.into()))),
                ("class", Some(Value::String(class.into()))),
            ]
        });
        return Ok(());
    }
    for (i, (id, class, st, lux)) in props.into_iter().enumerate() {
        if let Some(g) = line_geometry(t, lines.get(i)) {
            out.add(
                None,
                &[
                    ("walkway_id", Some(Value::Int(id))),
                    ("state", state(st)),
                    ("class", Some(Value::String(class.as_str().to_string()))),
                    ("lux", lux.map(|v| Value::Double(round_to(v, 3)))),
                ],
                &g,
            );
        }
    }
    Ok(())
}

fn lamp_layer(
    inputs: &LightingInputs<'_>,
    result: &LightingResult,
    t: &TileId,
    env: &AABB<[f64; 2]>,
    out: &mut Layer,
) -> ServiceResult<()> {
    let mut idx: Vec<usize> = inputs
        .lamp_tree
        .locate_in_envelope(env)
        .map(|e| e.data)
        .collect();
    idx.sort_unstable();
    let mut coords: Vec<(f64, f64)> = idx
        .iter()
        .map(|&k| (result.lamps[k].x, result.lamps[k].y))
        .collect();
    to_tile_units(t, &mut coords)?;
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    for (&k, &(x, y)) in idx.iter().zip(&coords) {
        if !(lo..=hi).contains(&x) || !(lo..=hi).contains(&y) {
            continue;
        }
        let status = if result.lamps[k].is_on() {
            "working"
        } else {
            "broken"
        };
        out.add(
            None,
            &[
                ("id", Some(Value::String(inputs.lamps[k].id.clone()))),
                ("status", Some(Value::String(status.into()))),
            ],
            &Geometry::Points(vec![[x.round() as i32, y.round() as i32]]),
        );
    }
    Ok(())
}

fn stretch_layer(
    inputs: &LightingInputs<'_>,
    result: &LightingResult,
    t: &TileId,
    env: &AABB<[f64; 2]>,
    public: bool,
    out: &mut Layer,
) -> ServiceResult<()> {
    let mut lines = Lines::default();
    let mut chosen = Vec::new();
    for wi in walkways_in(inputs, env) {
        // The stretches are in the order of their walkways.
        let first = result.stretches.partition_point(|s| s.walkway < wi);
        for s in result.stretches[first..]
            .iter()
            .take_while(|s| s.walkway == wi)
            .filter(|s| matches!(s.state, LightState::Dark | LightState::Unknown))
        {
            lines.push(&s.geometry);
            chosen.push(s);
        }
    }
    to_tile_units(t, &mut lines.coords)?;
    if t.z < FEATURES_FROM_ZOOM {
        let keys = chosen.iter().map(|s| {
            let tenths = s.mean_lux.map(|v| (v * 10.0).round() as i64);
            (s.state.as_str(), s.class.as_str(), tenths)
        });
        add_merged(out, t, &lines, keys, |&(st, class, tenths)| {
            vec![
                ("state", Some(Value::String(st.into()))),
                ("class", Some(Value::String(class.into()))),
                ("mean_lux", tenths.map(|v| Value::Double(v as f64 / 10.0))),
            ]
        });
        return Ok(());
    }
    for (i, s) in chosen.into_iter().enumerate() {
        let Some(g) = line_geometry(t, lines.get(i)) else {
            continue;
        };
        let (priority, rank, incidents) = if public {
            (
                s.public.priority,
                s.public.rank,
                s.public.incidents_after_dark,
            )
        } else {
            (s.priority, s.rank, Some(s.incidents_after_dark))
        };
        let int = |v: usize| Value::Int(i64::try_from(v).unwrap_or(i64::MAX));
        out.add(
            None,
            &[
                ("id", Some(Value::String(s.id.clone()))),
                ("walkway_id", Some(Value::Int(s.walkway_id))),
                ("state", state(s.state)),
                ("class", Some(Value::String(s.class.as_str().to_string()))),
                ("length_m", Some(Value::Double(round_to(s.length_m, 1)))),
                (
                    "mean_lux",
                    s.mean_lux.map(|v| Value::Double(round_to(v, 3))),
                ),
                ("priority", Some(Value::Double(priority))),
                ("rank", rank.map(int)),
                ("incidents_after_dark", incidents.map(int)),
            ],
            &g,
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// TileJSON

/// A layer of the tiles, as TileJSON describes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VectorLayer {
    pub id: &'static str,
    pub description: &'static str,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// Field name → its type and meaning.
    #[schema(value_type = Object)]
    pub fields: std::collections::BTreeMap<&'static str, &'static str>,
}

/// A TileJSON 3.0.0 document of one layer's tiles.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TileJson {
    /// `3.0.0`.
    pub tilejson: &'static str,
    pub name: String,
    pub description: &'static str,
    /// `1.0.0`.
    pub version: &'static str,
    pub attribution: &'static str,
    /// `xyz`: rows from the north.
    pub scheme: &'static str,
    /// The URL template, `…/tiles/<layer>/{z}/{x}/{y}.mvt`.
    pub tiles: Vec<String>,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// WGS84 west, south, east, north of the data (of the service area without data).
    pub bounds: [f64; 4],
    /// Longitude, latitude and zoom to start at.
    pub center: [f64; 3],
    pub vector_layers: Vec<VectorLayer>,
}

/// The WGS84 bounds of the walkways and lamps of `snap`, rounded outwards to 6 decimals; `None`
/// without any.
pub fn data_bounds(snap: &Snapshot) -> Option<[f64; 4]> {
    let mut pts = Vec::new();
    for env in [
        snap.walkways.tree.root().envelope(),
        snap.lamps.tree.root().envelope(),
    ] {
        let (lo, hi) = (env.lower(), env.upper());
        if lo[0] <= hi[0] && lo[1] <= hi[1] {
            pts.extend(edge_points(lo[0], lo[1], hi[0], hi[1]));
        }
    }
    if pts.is_empty() {
        return None;
    }
    crs::transform_in_place(crs::WORK_EPSG, crs::WGS84_EPSG, &mut pts).ok()?;
    let b = envelope_of(&pts)?;
    let (lo, hi) = (b.lower(), b.upper());
    let down = |v: f64| (v * 1e6).floor() / 1e6;
    let up = |v: f64| (v * 1e6).ceil() / 1e6;
    Some([down(lo[0]), down(lo[1]), up(hi[0]), up(hi[1])])
}

/// The TileJSON of `layer`, whose tiles are at `base` (`http://host`), over the data of `snap`
/// or, without data, `fallback` (the service area).
pub fn tilejson(layer: TileLayer, base: &str, snap: &Snapshot, fallback: [f64; 4]) -> TileJson {
    let bounds = data_bounds(snap).unwrap_or(fallback);
    let name = layer.name();
    TileJson {
        tilejson: "3.0.0",
        name: format!("lagesbild-{name}"),
        description: layer.description(),
        version: "1.0.0",
        attribution: ATTRIBUTION,
        scheme: "xyz",
        tiles: vec![format!("{base}/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt")],
        minzoom: MIN_ZOOM,
        maxzoom: MAX_ZOOM,
        bounds,
        center: [
            round_to((bounds[0] + bounds[2]) / 2.0, 6),
            round_to((bounds[1] + bounds[3]) / 2.0, 6),
            f64::from(MIN_ZOOM + 2),
        ],
        vector_layers: vec![VectorLayer {
            id: name,
            description: layer.description(),
            minzoom: MIN_ZOOM,
            maxzoom: MAX_ZOOM,
            fields: layer.fields().into_iter().collect(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstar::Envelope;

    #[test]
    fn tile_addresses_are_checked() {
        let t = tile_address("12", "2200", "1190.mvt").unwrap();
        assert_eq!((t.z, t.x, t.y), (12, 2200, 1190));
        let msg = |r: ServiceResult<TileId>| r.unwrap_err().to_string();
        assert!(msg(tile_address("9", "1", "1.mvt")).contains("zoom 10 to 16"));
        assert!(msg(tile_address("17", "1", "1.mvt")).contains("zoom 10 to 16"));
        assert!(msg(tile_address("10", "1024", "1.mvt")).contains("0 to 1023"));
        assert!(msg(tile_address("10", "-1", "1.mvt")).contains("column"));
        assert!(msg(tile_address("10", "1", "1.png")).contains("<row>.mvt"));
        assert!(matches!(
            tile_address("x", "1", "1.mvt"),
            Err(ServiceError::Invalid(_))
        ));
        assert!(matches!(
            TileLayer::parse("roads"),
            Err(ServiceError::NotFound(_))
        ));
        assert_eq!(TileLayer::parse("lamps").unwrap(), TileLayer::Lamps);
    }

    #[test]
    fn a_tile_envelope_holds_the_tile() {
        // Täby centrum (18.0686° E, 59.4439° N) at z14, in EPSG:3006: the tile's envelope holds
        // the point and is about the tile's size (2 446 m · cos 59.44° ≈ 1 243 m, plus buffer
        // and margin).
        let t = tiles::tile_of(18.0686, 59.4439, 14);
        let env = tile_envelope(&t).unwrap();
        let (x, y) = crs::to_work(crs::WGS84_EPSG, 18.0686, 59.4439).unwrap();
        assert!(env.contains_point(&[x, y]));
        let w = env.upper()[0] - env.lower()[0];
        assert!((1_243.0..1_400.0).contains(&w), "{w}");
    }
}
