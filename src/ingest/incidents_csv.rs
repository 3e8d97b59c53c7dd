//! `lagesbild import incidents FILE.csv`: police and municipal incident registers with
//! coordinates, in any CRS, with the columns the user names.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use geo::Point;

use super::csvutil::{self, Columns, Next};
use super::{DuplicateGuard, Emitter, ImportError, RowError};
use crate::category::{self, CategoryGroup};
use crate::crs::{self, ServiceArea};
use crate::model::{Incident, LocationPrecision};

/// Which columns hold the position.
#[derive(Debug, Clone)]
pub enum CoordColumns {
    /// Easting and northing (or lon/lat) in the CRS given by `epsg`.
    Xy { x: String, y: String },
    /// Latitude and longitude columns (in `epsg`, WGS84 by default).
    LatLon { lat: String, lon: String },
}

#[derive(Debug, Clone)]
pub struct IncidentCsvOptions {
    pub path: PathBuf,
    /// Source name; `(source, id)` identifies an incident across imports.
    pub source: String,
    pub id: String,
    pub time: String,
    pub category: String,
    pub coords: CoordColumns,
    pub epsg: u32,
    pub delimiter: Option<u8>,
    /// `--encoding`; `None`: UTF-8 (UTF-16 with a BOM is recognised).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub time_format: Option<String>,
    pub precision: LocationPrecision,
    /// Optional column with a place or municipality name.
    pub place: Option<String>,
    pub area: ServiceArea,
}

/// Rows parsed but not yet transformed: transforming a block at once is one PROJ call.
struct Pending {
    line: u64,
    id: String,
    at: DateTime<FixedOffset>,
    label: String,
    place: Option<String>,
    raw: (f64, f64),
}

const BLOCK: usize = 4096;

/// Where the fields of an incident row are (column indices), and how to read them.
#[derive(Debug, Clone)]
pub struct RowLayout {
    pub id: usize,
    pub time: usize,
    pub category: usize,
    pub place: Option<usize>,
    /// (column read as x, column read as y).
    pub xy: (usize, usize),
    /// Their names, for messages.
    pub xy_names: (String, String),
    pub time_format: Option<String>,
}

pub fn parse(opts: IncidentCsvOptions, em: &mut Emitter<Incident>) -> Result<(), ImportError> {
    let path = opts.path.clone();
    crs::check_epsg(opts.epsg).map_err(|e| ImportError::Usage(format!("--crs: {e}")))?;
    let mut src = csvutil::open(&path, opts.delimiter, opts.encoding)?;
    let cols = Columns::new(src.headers());
    let id_i = cols.require(&path, "--id", &opts.id)?;
    let time_i = cols.require(&path, "--time", &opts.time)?;
    let cat_i = cols.require(&path, "--category", &opts.category)?;
    let place_i = match &opts.place {
        Some(p) => Some(cols.require(&path, "--place", p)?),
        None => None,
    };
    // (first column read as x, second as y) and their names for messages.
    let (xi, yi, xname, yname) = match &opts.coords {
        CoordColumns::Xy { x, y } => (
            cols.require(&path, "--x", x)?,
            cols.require(&path, "--y", y)?,
            x.clone(),
            y.clone(),
        ),
        CoordColumns::LatLon { lat, lon } => (
            cols.require(&path, "--lon", lon)?,
            cols.require(&path, "--lat", lat)?,
            lon.clone(),
            lat.clone(),
        ),
    };
    let layout = RowLayout {
        id: id_i,
        time: time_i,
        category: cat_i,
        place: place_i,
        xy: (xi, yi),
        xy_names: (xname.clone(), yname.clone()),
        time_format: opts.time_format.clone(),
    };
    let mut dups = DuplicateGuard::default();
    let mut pending: Vec<Pending> = Vec::with_capacity(BLOCK);
    let mut rec = csv::StringRecord::new();
    loop {
        let line = match src.next(&mut rec)? {
            Next::End => break,
            Next::Bad(e) => {
                em.read();
                em.error(e);
                continue;
            }
            Next::Record(line) => line,
        };
        em.read();
        match parse_row(&rec, line, &layout) {
            Ok(p) => {
                if let Some(first) = dups.check(&p.id, line) {
                    em.error(RowError::new(
                        line,
                        &opts.id,
                        &p.id,
                        format!("duplicate id: first seen on line {first}"),
                    ));
                    continue;
                }
                pending.push(p);
                if pending.len() == BLOCK {
                    em.position(src.byte());
                    flush(&opts, &xname, &yname, &mut pending, em);
                    if em.is_closed() {
                        return Ok(());
                    }
                }
            }
            Err(e) => em.error(e),
        }
    }
    flush(&opts, &xname, &yname, &mut pending, em);
    Ok(())
}

/// One row as read, before its coordinates are transformed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRow {
    pub id: String,
    pub at: DateTime<FixedOffset>,
    pub label: String,
    pub place: Option<String>,
    pub raw: (f64, f64),
}

/// Reads one incident row: every field checked for presence, length and form. Public for the
/// property tests (tests/fuzz_import.rs).
pub fn parse_record(
    rec: &csv::StringRecord,
    line: u64,
    layout: &RowLayout,
) -> Result<ParsedRow, RowError> {
    parse_row(rec, line, layout).map(|p| ParsedRow {
        id: p.id,
        at: p.at,
        label: p.label,
        place: p.place,
        raw: p.raw,
    })
}

fn parse_row(rec: &csv::StringRecord, line: u64, layout: &RowLayout) -> Result<Pending, RowError> {
    let id = csvutil::field(rec, layout.id, "id", line)?.to_string();
    let t = csvutil::field(rec, layout.time, "time", line)?;
    let at = csvutil::parse_time(t, layout.time_format.as_deref())
        .map_err(|r| RowError::new(line, "time", t, r))?;
    let label = csvutil::field(rec, layout.category, "category", line)?.to_string();
    let x = csvutil::number(rec, layout.xy.0, &layout.xy_names.0, line)?;
    let y = csvutil::number(rec, layout.xy.1, &layout.xy_names.1, line)?;
    Ok(Pending {
        line,
        id,
        at,
        label,
        place: csvutil::opt_field(rec, layout.place, "place", line)?.map(str::to_string),
        raw: (x, y),
    })
}

fn flush(
    opts: &IncidentCsvOptions,
    xname: &str,
    yname: &str,
    pending: &mut Vec<Pending>,
    em: &mut Emitter<Incident>,
) {
    let mut coords: Vec<(f64, f64)> = pending.iter().map(|p| p.raw).collect();
    let bulk_ok = crs::transform_in_place(opts.epsg, crs::WORK_EPSG, &mut coords).is_ok();
    for (p, (ex, ny)) in pending.drain(..).zip(coords) {
        let located = if bulk_ok && opts.area.contains(ex, ny) && plausible(opts.epsg, p.raw) {
            Ok((ex, ny))
        } else {
            // The slow path explains why.
            csvutil::locate(
                opts.epsg,
                p.raw.0,
                p.raw.1,
                (xname, yname),
                &opts.area,
                p.line,
            )
        };
        match located {
            Ok((x, y)) => {
                let (code, group) = category::classify(&p.label, CategoryGroup::OtherCrime);
                em.row(Incident {
                    source: opts.source.clone(),
                    source_id: p.id,
                    occurred_at: p.at,
                    category: code,
                    group,
                    label: p.label,
                    location: Point::new(x, y),
                    precision: opts.precision,
                    place: p.place,
                    summary: None,
                });
            }
            Err(e) => em.error(e),
        }
    }
}

/// Geographic input must be a valid lon/lat pair before PROJ sees it (PROJ wraps some values).
fn plausible(epsg: u32, (x, y): (f64, f64)) -> bool {
    epsg != crs::WGS84_EPSG || ((-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y))
}

/// The default source name: the file's stem (`brott_2026.csv` → `brott_2026`).
pub fn default_source(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "csv".into())
}
