//! `lagesbild import incidents FILE.csv`: police and municipal incident registers with
//! coordinates, in any CRS, with the columns the user names.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use geo::Point;

use super::csvutil::{self, Columns};
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

pub fn parse(opts: IncidentCsvOptions, em: &mut Emitter<Incident>) -> Result<(), ImportError> {
    let path = opts.path.clone();
    crs::check_epsg(opts.epsg).map_err(|e| ImportError::Usage(format!("--crs: {e}")))?;
    let delimiter = match opts.delimiter {
        Some(d) => d,
        None => csvutil::sniff_delimiter(&path)?,
    };
    let mut rdr = csvutil::reader(&path, delimiter)?;
    let headers = rdr
        .headers()
        .map_err(|e| ImportError::format(&path, format!("cannot read the header: {e}")))?
        .clone();
    if headers.is_empty() || (headers.len() == 1 && headers[0].trim().is_empty()) {
        return Err(ImportError::format(
            &path,
            "the file is empty: no header line",
        ));
    }
    let cols = Columns::new(&headers);
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
    let mut dups = DuplicateGuard::default();
    let mut pending: Vec<Pending> = Vec::with_capacity(BLOCK);
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                em.read();
                em.error(RowError::new(line, "", "", format!("unreadable row: {e}")));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        em.read();
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        match parse_row(
            &rec,
            line,
            id_i,
            time_i,
            cat_i,
            place_i,
            (xi, yi),
            (&xname, &yname),
            opts.time_format.as_deref(),
        ) {
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
                    em.position(rec.position().map(|p| p.byte()).unwrap_or(0));
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

#[allow(clippy::too_many_arguments)]
fn parse_row(
    rec: &csv::StringRecord,
    line: u64,
    id_i: usize,
    time_i: usize,
    cat_i: usize,
    place_i: Option<usize>,
    (xi, yi): (usize, usize),
    (xname, yname): (&str, &str),
    time_format: Option<&str>,
) -> Result<Pending, RowError> {
    let id = csvutil::field(rec, id_i, "id", line)?.to_string();
    let t = csvutil::field(rec, time_i, "time", line)?;
    let at = csvutil::parse_time(t, time_format).map_err(|r| RowError::new(line, "time", t, r))?;
    let label = csvutil::field(rec, cat_i, "category", line)?.to_string();
    let x = csvutil::number(rec, xi, xname, line)?;
    let y = csvutil::number(rec, yi, yname, line)?;
    Ok(Pending {
        line,
        id,
        at,
        label,
        place: csvutil::opt_field(rec, place_i).map(str::to_string),
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
