//! `lagesbild import geojson FILE --kind incidents|areas` and `lagesbild import areas`:
//! GeoJSON FeatureCollections, streamed feature by feature.
//!
//! RFC 7946 GeoJSON is WGS84; older files name another CRS in a top-level `crs` member, which is
//! honoured, and `--crs` overrides both.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use serde_json::Value;

use super::jsonstream::{ArrayElements, StreamError};
use super::{DuplicateGuard, Emitter, ImportError, RowError};
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

fn open(
    opts: &GeoJsonOptions,
) -> Result<(ArrayElements<BufReader<std::fs::File>>, u32), ImportError> {
    let path = &opts.path;
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let stream = ArrayElements::member(
        BufReader::with_capacity(1 << 16, file),
        "features",
        &["crs"],
    )
    .map_err(|e| ImportError::format(path, format!("not a GeoJSON FeatureCollection: {e}")))?;
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
    for item in stream {
        let go_on = match item {
            Ok((line, bytes)) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => each(Item::Feature(line, v), epsg),
                Err(e) => each(
                    Item::Bad(RowError::new(line, "", "", format!("not valid JSON: {e}"))),
                    epsg,
                ),
            },
            Err(StreamError::Io(e)) => {
                return Err(ImportError::format(&opts.path, format!("read error: {e}")));
            }
            Err(e @ (StreamError::Truncated { line } | StreamError::Syntax { line, .. })) => {
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
                    .and_then(|inc| match dups.check(&inc.source_id, line) {
                        Some(first) => Err(RowError::new(
                            line,
                            &fields.id,
                            &inc.source_id,
                            format!("duplicate id: first seen on line {first}"),
                        )),
                        None => Ok(inc),
                    }),
            };
        match r {
            Ok(i) => em.row(i),
            Err(e) => em.error(e),
        }
        !em.is_closed()
    })
}

fn incident_feature(
    line: u64,
    f: &Value,
    epsg: u32,
    opts: &GeoJsonOptions,
    fields: &IncidentFields,
) -> Result<Incident, RowError> {
    let props = f.get("properties").cloned().unwrap_or(Value::Null);
    let id = property_text(&props, &fields.id)
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
    let t = property_text(&props, &fields.time)
        .ok_or_else(|| RowError::new(line, &fields.time, "", "missing"))?;
    let at = super::csvutil::parse_time(&t, fields.time_format.as_deref())
        .map_err(|r| RowError::new(line, &fields.time, &t, r))?;
    let label = property_text(&props, &fields.category)
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
    let (ex, ny) =
        super::csvutil::locate(epsg, x, y, ("x", "y"), &opts.area, line).map_err(|e| RowError {
            field: "geometry.coordinates".into(),
            ..e
        })?;
    let (code, group) = category::classify(&label, CategoryGroup::OtherCrime);
    Ok(Incident {
        source: opts.source.clone(),
        source_id: id,
        occurred_at: at,
        category: code,
        group,
        label,
        location: Point::new(ex, ny),
        precision: fields.precision,
        place: None,
        summary: None,
    })
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

fn area_feature(
    line: u64,
    f: &Value,
    epsg: u32,
    opts: &GeoJsonOptions,
    name_field: &str,
) -> Result<Area, RowError> {
    let props = f.get("properties").cloned().unwrap_or(Value::Null);
    let name = property_text(&props, name_field)
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
    let mut out = Vec::with_capacity(polys.len());
    for p in polys {
        let rings = p
            .as_array()
            .ok_or_else(|| RowError::new(line, "geometry.coordinates", "", "expected rings"))?;
        let mut converted: Vec<LineString<f64>> = Vec::with_capacity(rings.len());
        for ring in rings {
            let pts = ring.as_array().ok_or_else(|| {
                RowError::new(
                    line,
                    "geometry.coordinates",
                    "",
                    "expected a ring of positions",
                )
            })?;
            let mut coords: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
            for pt in pts {
                coords.push(position(Some(pt), line)?);
            }
            crs::transform_in_place(epsg, crs::WORK_EPSG, &mut coords)
                .map_err(|e| RowError::new(line, "geometry.coordinates", "", e.to_string()))?;
            if let Some(bad) = coords.iter().find(|(x, y)| !opts.area.contains(*x, *y)) {
                return Err(RowError::new(
                    line,
                    "geometry.coordinates",
                    format!("{:.0}, {:.0}", bad.0, bad.1),
                    "a vertex lies outside the service area",
                ));
            }
            converted.push(LineString(
                coords.into_iter().map(|(x, y)| Coord { x, y }).collect(),
            ));
        }
        let mut it = converted.into_iter();
        let Some(exterior) = it.next() else { continue };
        out.push(Polygon::new(exterior, it.collect()));
    }
    if out.is_empty() {
        return Err(RowError::new(
            line,
            "geometry.coordinates",
            "",
            "no polygon",
        ));
    }
    Ok(Area {
        id: 0,
        name,
        geometry: MultiPolygon(out),
        source: opts.source.clone(),
    })
}

pub fn default_source(path: &Path) -> String {
    super::incidents_csv::default_source(path)
}
