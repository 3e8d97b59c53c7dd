//! `lagesbild import geojson FILE --kind incidents|areas` and `lagesbild import areas`:
//! GeoJSON FeatureCollections, streamed feature by feature.
//!
//! RFC 7946 GeoJSON is WGS84; older files name another CRS in a top-level `crs` member, which is
//! honoured, and `--crs` overrides both.

use std::path::{Path, PathBuf};

use geo::line_intersection::LineIntersection;
use geo::orient::{Direction, Orient};
use geo::sweep::{Cross, Intersections};
use geo::validation::InvalidMultiPolygon;
use geo::{Coord, Line, LineString, MultiPolygon, Point, Polygon, Validation};
use serde_json::Value;

use super::jsonstream::{ArrayElements, StreamError};
use super::textio::{self, TextOptions, TextReader};
use super::{DuplicateGuard, Emitter, ImportError, MAX_FIELD_CHARS, RowError, check_len};
use crate::category::{self, CategoryGroup};
use crate::crs::{self, ServiceArea};
use crate::model::{Area, Incident, LocationPrecision};

#[derive(Debug, Clone)]
pub struct GeoJsonOptions {
    pub path: PathBuf,
    pub source: String,
    /// `None`: the file's `crs` member, else WGS84.
    pub epsg: Option<u32>,
    pub area: ServiceArea,
    /// `--encoding`; `None`: UTF-8 (UTF-16 with a BOM is recognised).
    pub encoding: Option<&'static encoding_rs::Encoding>,
}

#[derive(Debug, Clone)]
pub struct IncidentFields {
    /// Property with the id; the feature's own `id` when absent.
    pub id: String,
    pub time: String,
    pub category: String,
    pub time_format: Option<String>,
    pub precision: LocationPrecision,
}

/// The longest feature read (a detailed district outline is a few megabytes).
pub const MAX_FEATURE_BYTES: usize = 16 << 20;

fn open(opts: &GeoJsonOptions) -> Result<(ArrayElements<TextReader>, u32), ImportError> {
    let path = &opts.path;
    let text = textio::open_file(
        path,
        TextOptions {
            encoding: opts.encoding,
            line_limit: false,
        },
        None,
    )?;
    let stream = ArrayElements::member(text, "features", &["crs"])
        .map_err(|e| ImportError::format(path, format!("not a GeoJSON FeatureCollection: {e}")))?
        .with_limit(MAX_FEATURE_BYTES);
    let declared = stream
        .captured
        .iter()
        .find(|(k, _)| k == "crs")
        .and_then(|(_, v)| serde_json::from_slice::<Value>(v).ok())
        .and_then(|v| {
            v.pointer("/properties/name")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let epsg = match (opts.epsg, declared) {
        (Some(e), _) => e,
        (None, Some(name)) => crs::parse_epsg(&name)
            .map_err(|e| ImportError::format(path, format!("the file's crs member: {e}")))?,
        (None, None) => crs::WGS84_EPSG,
    };
    crs::check_epsg(epsg).map_err(|e| ImportError::Usage(format!("--crs: {e}")))?;
    Ok((stream, epsg))
}

/// One feature of the stream, or why it could not be read.
enum Item {
    Feature(u64, Value),
    Bad(RowError),
}

/// Runs `each` on every feature (with the CRS in force) until it returns false; a stream error
/// becomes one reported record and ends the file.
fn for_each_feature(
    opts: &GeoJsonOptions,
    each: &mut dyn FnMut(Item, u32) -> bool,
) -> Result<(), ImportError> {
    let (stream, epsg) = open(opts)?;
    // Features seen whole; a file that breaks before the first one cannot be read at all.
    let mut complete = 0u64;
    for item in stream {
        let go_on = match item {
            Ok((line, bytes)) => {
                complete += 1;
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(v) => each(Item::Feature(line, v), epsg),
                    Err(e) => each(
                        Item::Bad(RowError::new(line, "", "", format!("not valid JSON: {e}"))),
                        epsg,
                    ),
                }
            }
            Err(StreamError::Io(e)) => return Err(ImportError::format(&opts.path, e)),
            Err(e @ StreamError::TooLarge { line, .. }) => {
                complete += 1;
                each(Item::Bad(RowError::new(line, "", "", e.to_string())), epsg)
            }
            Err(e @ (StreamError::Truncated { line } | StreamError::Syntax { line, .. })) => {
                if complete == 0 {
                    return Err(ImportError::format(
                        &opts.path,
                        format!("not a readable GeoJSON FeatureCollection: {e}"),
                    ));
                }
                each(Item::Bad(RowError::new(line, "", "", e.to_string())), epsg);
                false
            }
        };
        if !go_on {
            break;
        }
    }
    Ok(())
}

/// A property as text, at most [`MAX_FIELD_CHARS`] characters: `Ok(None)` when absent.
fn limited_property(props: &Value, key: &str, line: u64) -> Result<Option<String>, RowError> {
    match property_text(props, key) {
        Some(v) => {
            check_len(line, key, &v, MAX_FIELD_CHARS)?;
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

/// A property as text: strings as they are, numbers printed, one-item arrays unwrapped
/// (`"kom_name": ["Täby"]`).
pub fn property_text(props: &Value, key: &str) -> Option<String> {
    let v = props.get(key)?;
    let v = match v {
        Value::Array(a) if a.len() == 1 => &a[0],
        other => other,
    };
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn parse_incidents(
    opts: GeoJsonOptions,
    fields: IncidentFields,
    em: &mut Emitter<Incident>,
) -> Result<(), ImportError> {
    let mut dups = DuplicateGuard::default();
    for_each_feature(&opts, &mut |item, epsg| {
        em.read();
        let r =
            match item {
                Item::Bad(e) => Err(e),
                Item::Feature(line, f) => incident_feature(line, &f, epsg, &opts, &fields)
                    .and_then(|(inc, warning)| match dups.check(&inc.source_id, line) {
                        Some(first) => Err(RowError::new(
                            line,
                            &fields.id,
                            &inc.source_id,
                            format!("duplicate id: first seen on line {first}"),
                        )),
                        None => Ok((inc, warning)),
                    }),
            };
        match r {
            Ok((i, warning)) => {
                if let Some(w) = warning {
                    em.warn(w);
                }
                em.row(i)
            }
            Err(e) => em.error(e),
        }
        !em.is_closed()
    })
}

/// Reads one incident feature, and a warning on how its time was read (a local time in a
/// clock change). Public for the property tests (tests/fuzz_import.rs).
pub fn incident_feature(
    line: u64,
    f: &Value,
    epsg: u32,
    opts: &GeoJsonOptions,
    fields: &IncidentFields,
) -> Result<(Incident, Option<RowError>), RowError> {
    let props = f.get("properties").cloned().unwrap_or(Value::Null);
    let id = limited_property(&props, &fields.id, line)?
        .or_else(|| match f.get("id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| {
            RowError::new(
                line,
                &fields.id,
                "",
                "missing: no such property and no feature id",
            )
        })?;
    check_len(line, &fields.id, &id, MAX_FIELD_CHARS)?;
    let t = limited_property(&props, &fields.time, line)?
        .ok_or_else(|| RowError::new(line, &fields.time, "", "missing"))?;
    let read = super::csvutil::read_time(&t, fields.time_format.as_deref())
        .map_err(|r| RowError::new(line, &fields.time, &t, r))?;
    let warning = read
        .warning
        .as_ref()
        .map(|w| RowError::new(line, &fields.time, &t, w.clone()));
    let label = limited_property(&props, &fields.category, line)?
        .ok_or_else(|| RowError::new(line, &fields.category, "", "missing"))?;
    let geom = f
        .get("geometry")
        .filter(|g| !g.is_null())
        .ok_or_else(|| RowError::new(line, "geometry", "", "missing"))?;
    if geom.get("type").and_then(Value::as_str) != Some("Point") {
        return Err(RowError::new(
            line,
            "geometry.type",
            geom.get("type").map(|t| t.to_string()).unwrap_or_default(),
            "incidents must be Points",
        ));
    }
    let (x, y) = position(geom.get("coordinates"), line)?;
    let (ex, ny) = super::csvutil::locate(epsg, x, y, ("x", "y"), &opts.area, line)
        .map_err(|e| RowError::new(e.line, "geometry.coordinates", e.value, e.reason))?;
    let (code, group) = category::classify(&label, CategoryGroup::OtherCrime);
    let incident = Incident {
        source: opts.source.clone(),
        source_id: id,
        occurred_at: read.at,
        time_precision: read.precision,
        occurred_to: None,
        category: code,
        group,
        label,
        location: Point::new(ex, ny),
        precision: fields.precision,
        place: None,
        summary: None,
    };
    Ok((incident, warning))
}

fn position(v: Option<&Value>, line: u64) -> Result<(f64, f64), RowError> {
    let arr = v.and_then(Value::as_array);
    match arr.map(|a| {
        (
            a.first().and_then(Value::as_f64),
            a.get(1).and_then(Value::as_f64),
        )
    }) {
        Some((Some(x), Some(y))) if x.is_finite() && y.is_finite() => Ok((x, y)),
        _ => Err(RowError::new(
            line,
            "geometry.coordinates",
            v.map(|v| v.to_string()).unwrap_or_default(),
            "expected [x, y] numbers",
        )),
    }
}

pub fn parse_areas(
    opts: GeoJsonOptions,
    name_field: String,
    em: &mut Emitter<Area>,
) -> Result<(), ImportError> {
    let mut dups = DuplicateGuard::default();
    for_each_feature(&opts, &mut |item, epsg| {
        em.read();
        let r =
            match item {
                Item::Bad(e) => Err(e),
                Item::Feature(line, f) => area_feature(line, &f, epsg, &opts, &name_field)
                    .and_then(|a| match dups.check(a.name.to_lowercase(), line) {
                        Some(first) => Err(RowError::new(
                            line,
                            &name_field,
                            &a.name,
                            format!("duplicate name: first seen on line {first}"),
                        )),
                        None => Ok(a),
                    }),
            };
        match r {
            Ok(a) => em.row(a),
            Err(e) => em.error(e),
        }
        !em.is_closed()
    })
}

/// Reads one area feature: a Polygon or MultiPolygon, transformed to EPSG:3006, repaired where
/// a repair is safe and checked with geo's [`Validation`]. Public for the property tests
/// (tests/fuzz_import.rs).
///
/// Repaired silently: rings left open (closed), repeated consecutive vertices (dropped), rings
/// wound the wrong way (exterior turned counter-clockwise, holes clockwise, as RFC 7946 asks).
/// Rejected with the ring and the place: rings with fewer than three distinct vertices, rings
/// that cross or touch themselves (with the two segments and the point, in the file's CRS),
/// holes outside their exterior, rings that cross each other, overlapping polygons.
pub fn area_feature(
    line: u64,
    f: &Value,
    epsg: u32,
    opts: &GeoJsonOptions,
    name_field: &str,
) -> Result<Area, RowError> {
    let props = f.get("properties").cloned().unwrap_or(Value::Null);
    let name = limited_property(&props, name_field, line)?
        .ok_or_else(|| RowError::new(line, name_field, "", "missing"))?;
    let geom = f
        .get("geometry")
        .filter(|g| !g.is_null())
        .ok_or_else(|| RowError::new(line, "geometry", "", "missing"))?;
    let typ = geom.get("type").and_then(Value::as_str).unwrap_or("");
    let coords = geom.get("coordinates").unwrap_or(&Value::Null);
    let polys: Vec<&Value> = match typ {
        "Polygon" => vec![coords],
        "MultiPolygon" => coords
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        other => {
            return Err(RowError::new(
                line,
                "geometry.type",
                other,
                "areas must be Polygon or MultiPolygon",
            ));
        }
    };
    let multi = typ == "MultiPolygon";
    let mut vertices = 0usize;
    let mut out = Vec::with_capacity(polys.len());
    for (pi, p) in polys.into_iter().enumerate() {
        let rings = p
            .as_array()
            .ok_or_else(|| RowError::new(line, "geometry.coordinates", "", "expected rings"))?;
        let mut converted: Vec<LineString<f64>> = Vec::with_capacity(rings.len());
        for (ri, ring) in rings.iter().enumerate() {
            let which = RingName {
                multi,
                polygon: pi,
                ring: ri,
            };
            let pts = ring.as_array().ok_or_else(|| {
                RowError::new(
                    line,
                    "geometry.coordinates",
                    "",
                    format!("{which}: expected a ring of positions"),
                )
            })?;
            vertices += pts.len();
            if vertices > MAX_AREA_VERTICES {
                return Err(RowError::new(
                    line,
                    "geometry.coordinates",
                    format!("more than {MAX_AREA_VERTICES} vertices"),
                    "too many vertices for one area: simplify it first",
                ));
            }
            let mut coords: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
            for pt in pts {
                coords.push(position(Some(pt), line)?);
            }
            crs::transform_in_place(epsg, crs::WORK_EPSG, &mut coords)
                .map_err(|e| RowError::new(line, "geometry.coordinates", "", e.to_string()))?;
            if let Some(bad) = coords
                .iter()
                .find(|(x, y)| !(x.is_finite() && y.is_finite() && opts.area.contains(*x, *y)))
            {
                return Err(RowError::new(
                    line,
                    "geometry.coordinates",
                    format!("{:.0}, {:.0}", bad.0, bad.1),
                    "a vertex lies outside the service area",
                ));
            }
            converted.push(clean_ring(&coords, which, epsg, line)?);
        }
        let mut it = converted.into_iter();
        let Some(exterior) = it.next() else { continue };
        out.push(Polygon::new(exterior, it.collect()).orient(Direction::Default));
    }
    if out.is_empty() {
        return Err(RowError::new(
            line,
            "geometry.coordinates",
            "",
            "no polygon",
        ));
    }
    let geometry = MultiPolygon(out);
    if let Err(problem) = geometry.check_validation() {
        let text = match problem {
            InvalidMultiPolygon::InvalidPolygon(_, p) if !multi => p.to_string(),
            other => other.to_string(),
        };
        return Err(RowError::new(
            line,
            "geometry.coordinates",
            "",
            format!("not a valid polygon: {text}"),
        ));
    }
    Ok(Area {
        id: 0,
        name,
        geometry,
        source: opts.source.clone(),
    })
}

/// At most this many vertices in one area: geo's validation compares every pair of segments of
/// a ring, so this bounds the time one feature can take.
pub const MAX_AREA_VERTICES: usize = 20_000;

/// Which ring, for messages, named as geo's validation names them: "exterior ring", "interior
/// ring at index 0", "polygon at index 2, exterior ring".
#[derive(Clone, Copy)]
struct RingName {
    multi: bool,
    polygon: usize,
    ring: usize,
}

impl std::fmt::Display for RingName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.multi {
            write!(f, "polygon at index {}, ", self.polygon)?;
        }
        match self.ring {
            0 => write!(f, "exterior ring"),
            n => write!(f, "interior ring at index {}", n - 1),
        }
    }
}

/// A segment of a ring and the positions (in the file) of its two vertices.
#[derive(Clone)]
struct Segment {
    line: Line<f64>,
    index: usize,
    from: usize,
    to: usize,
}

impl Cross for Segment {
    type Scalar = f64;
    fn line(&self) -> Line<f64> {
        self.line
    }
}

/// Drops repeated consecutive vertices, closes the ring, and refuses rings that are too short or
/// cross or touch themselves, naming the segments (by vertex index in the file) and the point.
fn clean_ring(
    coords: &[(f64, f64)],
    which: RingName,
    epsg: u32,
    line: u64,
) -> Result<LineString<f64>, RowError> {
    // (point, index of the vertex in the file)
    let mut pts: Vec<(Coord<f64>, usize)> = Vec::with_capacity(coords.len() + 1);
    for (i, &(x, y)) in coords.iter().enumerate() {
        let c = Coord { x, y };
        if pts.last().map(|(p, _)| *p) != Some(c) {
            pts.push((c, i));
        }
    }
    if pts.len() > 1 && pts.first().map(|p| p.0) == pts.last().map(|p| p.0) {
        pts.pop();
    }
    if pts.len() < 3 {
        return Err(RowError::new(
            line,
            "geometry.coordinates",
            format!("{} distinct vertices", pts.len()),
            format!("{which} has fewer than 3 distinct vertices"),
        ));
    }
    let n = pts.len();
    let segments: Vec<Segment> = (0..n)
        .map(|i| Segment {
            line: Line::new(pts[i].0, pts[(i + 1) % n].0),
            index: i,
            from: pts[i].1,
            to: pts[(i + 1) % n].1,
        })
        .collect();
    let crossing = Intersections::from_iter(segments).find(|(a, b, hit)| {
        let (i, j) = (a.index.min(b.index), a.index.max(b.index));
        let adjacent = j == i + 1 || (i == 0 && j == n - 1);
        // Neighbours meet at their shared vertex; anything more (a spike doubling back) is not.
        !(adjacent && matches!(hit, LineIntersection::SinglePoint { .. }))
    });
    if let Some((a, b, hit)) = crossing {
        let (a, b) = if a.index < b.index { (a, b) } else { (b, a) };
        let at = match hit {
            LineIntersection::SinglePoint { intersection, .. } => intersection,
            LineIntersection::Collinear { intersection } => intersection.start,
        };
        let (fx, fy) = if epsg == crs::WORK_EPSG {
            (at.x, at.y)
        } else {
            crs::transform(crs::WORK_EPSG, epsg, at.x, at.y).unwrap_or((at.x, at.y))
        };
        let place = if epsg == crs::WGS84_EPSG {
            format!("{fx:.6}, {fy:.6}")
        } else {
            format!("{fx:.1}, {fy:.1}")
        };
        return Err(RowError::new(
            line,
            "geometry.coordinates",
            place.clone(),
            format!(
                "{which} crosses itself: the segment from vertex {} to {} meets the one from vertex {} to {} at {place} (EPSG:{epsg})",
                a.from, a.to, b.from, b.to
            ),
        ));
    }
    let mut ring: Vec<Coord<f64>> = pts.into_iter().map(|(c, _)| c).collect();
    ring.push(ring[0]);
    Ok(LineString(ring))
}

pub fn default_source(path: &Path) -> String {
    super::incidents_csv::default_source(path)
}
