//! `lagesbild import incidents FILE.csv`: police and municipal incident registers with
//! coordinates, in any CRS, with the columns the user names.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use geo::Point;

use super::csvutil::{self, Columns, Next};
use super::{DuplicateGuard, Emitter, ImportError, RowError};
use crate::category::{self, CategoryGroup};
use crate::crs::{self, ServiceArea};
use crate::model::{Incident, LocationPrecision, TimePrecision};

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
    /// The time column; with `window`, for the rows whose window is empty.
    pub time: Option<String>,
    /// The columns of a window (`--time-from`, `--time-to`).
    pub window: Option<(String, String)>,
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
    time_precision: TimePrecision,
    occurred_to: Option<DateTime<FixedOffset>>,
    label: String,
    place: Option<String>,
    raw: (f64, f64),
}

const BLOCK: usize = 4096;

/// Where the fields of an incident row are (column indices), and how to read them.
#[derive(Debug, Clone)]
pub struct RowLayout {
    pub id: usize,
    /// The time column, and the window's (from, to) columns, with their names.
    pub time: Option<(usize, String)>,
    pub window: Option<((usize, String), (usize, String))>,
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
    let time_i = match &opts.time {
        Some(t) => Some((cols.require(&path, "--time", t)?, t.clone())),
        None => None,
    };
    let window = match &opts.window {
        Some((from, to)) => Some((
            (cols.require(&path, "--time-from", from)?, from.clone()),
            (cols.require(&path, "--time-to", to)?, to.clone()),
        )),
        None => None,
    };
    if time_i.is_none() && window.is_none() {
        return Err(ImportError::Usage(
            "no time column: give --time, or --time-from and --time-to".into(),
        ));
    }
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
        window,
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
            Ok((p, warnings)) => {
                for w in warnings {
                    em.warn(w);
                }
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
    pub time_precision: TimePrecision,
    pub occurred_to: Option<DateTime<FixedOffset>>,
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
    parse_row(rec, line, layout).map(|(p, _)| ParsedRow {
        id: p.id,
        at: p.at,
        time_precision: p.time_precision,
        occurred_to: p.occurred_to,
        label: p.label,
        place: p.place,
        raw: p.raw,
    })
}

/// The longest window a row may give: a burglary found after a holiday, not a register's
/// "some time this decade".
pub const MAX_WINDOW_DAYS: i64 = 366;

/// The end of a time read as the start of a window's last step: a date runs to the next
/// midnight, a month to the next month's first, an hour to the next hour.
fn end_of(r: &csvutil::TimeRead) -> DateTime<FixedOffset> {
    use chrono::{Duration, Months};
    let local = crate::time::local(&r.at).naive_local();
    let next = match r.precision {
        TimePrecision::Exact | TimePrecision::Window => return r.at,
        TimePrecision::Hour => return r.at + Duration::hours(1),
        TimePrecision::Date => local + Duration::days(1),
        TimePrecision::Month => local + Months::new(1),
    };
    csvutil::local_to_fixed(next).0
}

/// Reads the time of a row: its window when the row has one, else `--time`. Returns the
/// start, the precision, the end of a window, and warnings.
#[allow(clippy::type_complexity)]
fn row_time(
    rec: &csv::StringRecord,
    line: u64,
    layout: &RowLayout,
) -> Result<
    (
        DateTime<FixedOffset>,
        TimePrecision,
        Option<DateTime<FixedOffset>>,
        Vec<RowError>,
    ),
    RowError,
> {
    let f = layout.time_format.as_deref();
    let mut warnings = Vec::new();
    let mut read = |idx: usize, name: &str| -> Result<Option<csvutil::TimeRead>, RowError> {
        let Some(v) = csvutil::opt_field(rec, Some(idx), name, line)? else {
            return Ok(None);
        };
        let r = csvutil::read_time(v, f).map_err(|r| RowError::new(line, name, v, r))?;
        if let Some(w) = &r.warning {
            warnings.push(RowError::new(line, name, v, w.clone()));
        }
        Ok(Some(r))
    };
    let window = match &layout.window {
        Some(((fi, fname), (ti, tname))) => Some((read(*fi, fname)?, read(*ti, tname)?)),
        None => None,
    };
    let single = match (&window, &layout.time) {
        (Some((None, None)) | None, Some((ti, tname))) => read(*ti, tname)?,
        _ => None,
    };
    if let (Some(((_, fname), (ti, tname))), Some(pair)) = (&layout.window, window) {
        match pair {
            (Some(from), Some(to)) => {
                let end = end_of(&to);
                let start = from.at;
                // A window from a time to the same time is that time.
                if end == start && from.precision == TimePrecision::Exact {
                    return Ok((start, TimePrecision::Exact, None, warnings));
                }
                if end <= start {
                    let v = csvutil::field(rec, *ti, tname, line)?;
                    return Err(RowError::new(
                        line,
                        tname.as_str(),
                        v,
                        format!(
                            "the window ends before it begins ({fname} is {})",
                            start.to_rfc3339()
                        ),
                    ));
                }
                if end - start > chrono::Duration::days(MAX_WINDOW_DAYS) {
                    let v = csvutil::field(rec, *ti, tname, line)?;
                    return Err(RowError::new(
                        line,
                        tname.as_str(),
                        v,
                        format!(
                            "a window of more than {MAX_WINDOW_DAYS} days says nothing of when"
                        ),
                    ));
                }
                // A window that is exactly one step of its precision is that precision.
                if end == end_of(&from) {
                    return Ok((start, from.precision, None, warnings));
                }
                return Ok((start, TimePrecision::Window, Some(end), warnings));
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(RowError::new(
                    line,
                    tname.as_str(),
                    "",
                    "missing: the window has a start but no end",
                ));
            }
            (None, Some(_)) => {
                return Err(RowError::new(
                    line,
                    fname.as_str(),
                    "",
                    "missing: the window has an end but no start",
                ));
            }
        }
    }
    match (single, &layout.time) {
        (Some(r), _) => Ok((r.at, r.precision, None, warnings)),
        (None, Some((_, tname))) => Err(RowError::new(line, tname.as_str(), "", "missing")),
        (None, None) => Err(RowError::new(
            line,
            layout.window.as_ref().map_or("time", |w| w.0.1.as_str()),
            "",
            "missing: the row has no window and there is no --time column",
        )),
    }
}

fn parse_row(
    rec: &csv::StringRecord,
    line: u64,
    layout: &RowLayout,
) -> Result<(Pending, Vec<RowError>), RowError> {
    let id = csvutil::field(rec, layout.id, "id", line)?.to_string();
    let (at, time_precision, occurred_to, warnings) = row_time(rec, line, layout)?;
    let label = csvutil::field(rec, layout.category, "category", line)?.to_string();
    let x = csvutil::number(rec, layout.xy.0, &layout.xy_names.0, line)?;
    let y = csvutil::number(rec, layout.xy.1, &layout.xy_names.1, line)?;
    Ok((
        Pending {
            line,
            id,
            at,
            time_precision,
            occurred_to,
            label,
            place: csvutil::opt_field(rec, layout.place, "place", line)?.map(str::to_string),
            raw: (x, y),
        },
        warnings,
    ))
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
                    time_precision: p.time_precision,
                    occurred_to: p.occurred_to,
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
