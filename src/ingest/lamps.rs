//! `lagesbild import lamps FILE.csv`: a municipal lamp register (*belysningsregister*).

use std::path::PathBuf;

use geo::Point;

use super::csvutil::{self, Columns};
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

pub fn parse(opts: LampCsvOptions, em: &mut Emitter<Lamp>) -> Result<(), ImportError> {
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
    let height_i = optional("--height", &opts.height)?;
    let lumen_i = optional("--lumen", &opts.lumen)?;
    let watt_i = optional("--watt", &opts.watt)?;
    let status_i = optional("--status", &opts.status)?;
    let mut dups = DuplicateGuard::default();
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                em.read();
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                em.error(RowError::new(line, "", "", format!("unreadable row: {e}")));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        em.read();
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        em.position(rec.position().map(|p| p.byte()).unwrap_or(0));
        let row = (|| -> Result<Lamp, RowError> {
            let id = csvutil::field(&rec, id_i, &opts.id, line)?.to_string();
            let x = csvutil::number(&rec, xi, &xname, line)?;
            let y = csvutil::number(&rec, yi, &yname, line)?;
            let (ex, ny) = csvutil::locate(opts.epsg, x, y, (&xname, &yname), &opts.area, line)?;
            let positive =
                |idx: Option<usize>, name: &Option<String>| -> Result<Option<f64>, RowError> {
                    match csvutil::opt_field(&rec, idx) {
                        None => Ok(None),
                        Some(v) => match csvutil::parse_number(v) {
                            Some(n) if n > 0.0 => Ok(Some(n)),
                            _ => Err(RowError::new(
                                line,
                                name.as_deref().unwrap_or(""),
                                v,
                                "expected a positive number",
                            )),
                        },
                    }
                };
            let height_m = positive(height_i, &opts.height)?;
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
            let status = match csvutil::opt_field(&rec, status_i) {
                None => LampStatus::Working,
                Some(v) => parse_status(v).ok_or_else(|| {
                    RowError::new(
                        line,
                        opts.status.as_deref().unwrap_or(""),
                        v,
                        "unknown status (expected e.g. working/i drift or broken/trasig)",
                    )
                })?,
            };
            Ok(Lamp {
                id: format!("{}:{}", opts.source, id),
                location: Point::new(ex, ny),
                height_m,
                lumen: positive(lumen_i, &opts.lumen)?,
                watt: positive(watt_i, &opts.watt)?,
                status,
                source: opts.source.clone(),
                reference: Some(id),
            })
        })();
        match row {
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
