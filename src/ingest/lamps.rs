//! `lagesbild import lamps FILE.csv`: a municipal lamp register (*belysningsregister*).

use std::path::PathBuf;

use geo::Point;

use super::csvutil::{self, Columns, Next};
use super::incidents_csv::CoordColumns;
use super::{DuplicateGuard, Emitter, ImportError, RowError};
use crate::crs::{self, ServiceArea};
use crate::model::{Lamp, LampStatus};

#[derive(Debug, Clone)]
pub struct LampCsvOptions {
    pub path: PathBuf,
    /// Register name; lamp ids are stored as `<source>:<id>`.
    pub source: String,
    pub id: String,
    pub coords: CoordColumns,
    pub epsg: u32,
    pub height: Option<String>,
    pub lumen: Option<String>,
    pub watt: Option<String>,
    pub status: Option<String>,
    pub delimiter: Option<u8>,
    /// `--encoding`; `None`: UTF-8 (UTF-16 with a BOM is recognised).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub area: ServiceArea,
}

/// Register status words, Swedish and English.
pub fn parse_status(s: &str) -> Option<LampStatus> {
    match s.trim().to_lowercase().as_str() {
        "" | "working" | "ok" | "on" | "active" | "i drift" | "drift" | "fungerar" | "tänd"
        | "1" | "in service" => Some(LampStatus::Working),
        "broken" | "fault" | "faulty" | "off" | "out" | "trasig" | "ur funktion" | "släckt"
        | "fel" | "0" | "out of service" => Some(LampStatus::Broken),
        _ => None,
    }
}

/// Where the fields of a lamp row are (column indices).
#[derive(Debug, Clone, Default)]
pub struct LampLayout {
    pub id: usize,
    /// (column read as x, column read as y) and their names.
    pub xy: (usize, usize),
    pub xy_names: (String, String),
    pub height: Option<usize>,
    pub lumen: Option<usize>,
    pub watt: Option<usize>,
    pub status: Option<usize>,
}

pub fn parse(opts: LampCsvOptions, em: &mut Emitter<Lamp>) -> Result<(), ImportError> {
    let path = opts.path.clone();
    crs::check_epsg(opts.epsg).map_err(|e| ImportError::Usage(format!("--crs: {e}")))?;
    let mut src = csvutil::open(&path, opts.delimiter, opts.encoding)?;
    let cols = Columns::new(src.headers());
    let id_i = cols.require(&path, "--id", &opts.id)?;
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
    let optional = |flag: &str, c: &Option<String>| -> Result<Option<usize>, ImportError> {
        c.as_ref().map(|n| cols.require(&path, flag, n)).transpose()
    };
    let layout = LampLayout {
        id: id_i,
        xy: (xi, yi),
        xy_names: (xname, yname),
        height: optional("--height", &opts.height)?,
        lumen: optional("--lumen", &opts.lumen)?,
        watt: optional("--watt", &opts.watt)?,
        status: optional("--status", &opts.status)?,
    };
    let mut dups = DuplicateGuard::default();
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
        em.position(src.byte());
        match lamp_row(&rec, line, &layout, &opts) {
            Ok(l) => match dups.check(&l.id, line) {
                Some(first) => em.error(RowError::new(
                    line,
                    &opts.id,
                    l.reference.unwrap_or_default(),
                    format!("duplicate id: first seen on line {first}"),
                )),
                None => em.row(l),
            },
            Err(e) => em.error(e),
        }
        if em.is_closed() {
            break;
        }
    }
    Ok(())
}

/// Reads one lamp row (fields, then the position into EPSG:3006 and the service area). Public
/// for the property tests (tests/fuzz_import.rs).
pub fn lamp_row(
    rec: &csv::StringRecord,
    line: u64,
    layout: &LampLayout,
    opts: &LampCsvOptions,
) -> Result<Lamp, RowError> {
    let (xname, yname) = (&layout.xy_names.0, &layout.xy_names.1);
    let id = csvutil::field(rec, layout.id, &opts.id, line)?.to_string();
    let x = csvutil::number(rec, layout.xy.0, xname, line)?;
    let y = csvutil::number(rec, layout.xy.1, yname, line)?;
    let (ex, ny) = csvutil::locate(opts.epsg, x, y, (xname, yname), &opts.area, line)?;
    let positive = |idx: Option<usize>, name: &Option<String>| -> Result<Option<f64>, RowError> {
        let name = name.as_deref().unwrap_or("");
        match csvutil::opt_field(rec, idx, name, line)? {
            None => Ok(None),
            Some(v) => match csvutil::parse_number(v) {
                Some(n) if n > 0.0 => Ok(Some(n)),
                _ => Err(RowError::new(line, name, v, "expected a positive number")),
            },
        }
    };
    let height_m = positive(layout.height, &opts.height)?;
    if let Some(h) = height_m
        && h > 60.0
    {
        return Err(RowError::new(
            line,
            opts.height.as_deref().unwrap_or(""),
            h.to_string(),
            "a mounting height over 60 m is not a street lamp (centimetres?)",
        ));
    }
    let status_name = opts.status.as_deref().unwrap_or("");
    let status = match csvutil::opt_field(rec, layout.status, status_name, line)? {
        None => LampStatus::Working,
        Some(v) => parse_status(v).ok_or_else(|| {
            RowError::new(
                line,
                status_name,
                v,
                "unknown status (expected e.g. working/i drift or broken/trasig)",
            )
        })?,
    };
    Ok(Lamp {
        id: format!("{}:{}", opts.source, id),
        location: Point::new(ex, ny),
        height_m,
        lumen: positive(layout.lumen, &opts.lumen)?,
        watt: positive(layout.watt, &opts.watt)?,
        status,
        source: opts.source.clone(),
        reference: Some(id),
    })
}
