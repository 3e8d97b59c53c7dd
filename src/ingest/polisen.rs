//! `lagesbild import polisen FILE|URL`: the Swedish Police's open events API.
//!
//! The traps (see DESIGN.md): `location.gps` is the centre of the municipality or county, never
//! the place of the event, so events carry `Municipality` or `County` precision and stay out of
//! point methods; `location.name` is often the county while the municipality is the last part of
//! `name`; hours may have one digit (`7:32:06`); offsets are +01:00 or +02:00; an edited event is
//! re-published with the same id and replaces the stored one.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use geo::Point;
use serde_json::Value;

use encoding_rs::Encoding;

use super::jsonstream::{ArrayElements, StreamError};
use super::textio::{self, TextOptions};
use super::{
    DuplicateGuard, Emitter, ImportError, MAX_FIELD_CHARS, MAX_NAME_CHARS, MAX_SUMMARY_CHARS,
    RowError, check_len,
};
use crate::category::{self, CategoryGroup};
use crate::crs::{self, ServiceArea};
use crate::model::{Incident, LocationPrecision};

pub const SOURCE: &str = "polisen";
/// The live feed. Polisen asks for at least 10 seconds between calls.
pub const DEFAULT_URL: &str = "https://polisen.se/api/events";
pub const MIN_POLL_SECONDS: u64 = 10;
/// The longest event read; a real one is about a kilobyte.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

pub fn parse(
    path: &Path,
    area: &ServiceArea,
    encoding: Option<&'static Encoding>,
    em: &mut Emitter<Incident>,
) -> Result<(), ImportError> {
    let text = textio::open_file(
        path,
        TextOptions {
            encoding,
            line_limit: false,
        },
        None,
    )?;
    let stream = ArrayElements::top_level(text)
        .map_err(|e| ImportError::format(path, format!("not a Polisen events file: {e}")))?
        .with_limit(MAX_EVENT_BYTES);
    let mut dups = DuplicateGuard::default();
    // Elements seen whole; a file that breaks before the first one is not a Polisen file.
    let mut complete = 0u64;
    for item in stream {
        let (line, bytes) = match item {
            Ok(x) => x,
            Err(StreamError::Io(e)) => return Err(ImportError::format(path, e)),
            Err(e @ StreamError::TooLarge { line, .. }) => {
                complete += 1;
                em.read();
                em.error(RowError::new(line, "", "", e.to_string()));
                continue;
            }
            Err(e @ (StreamError::Truncated { line } | StreamError::Syntax { line, .. })) => {
                if complete == 0 {
                    return Err(ImportError::format(
                        path,
                        format!("not a readable Polisen events file: {e}"),
                    ));
                }
                em.read();
                em.error(RowError::new(line, "", "", e.to_string()));
                break;
            }
        };
        complete += 1;
        em.read();
        match event(line, &bytes, area) {
            Ok(inc) => {
                if let Some(first) = dups.check(&inc.source_id, line) {
                    em.error(RowError::new(
                        line,
                        "id",
                        &inc.source_id,
                        format!("duplicate id: first seen on line {first}"),
                    ));
                } else {
                    em.row(inc);
                }
            }
            Err(e) => em.error(e),
        }
        if em.is_closed() {
            break;
        }
    }
    Ok(())
}

/// Reads one event (one element of the array, as bytes). Public for the property tests
/// (tests/fuzz_import.rs).
pub fn event(line: u64, bytes: &[u8], area: &ServiceArea) -> Result<Incident, RowError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| RowError::new(line, "", "", format!("not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(RowError::new(
            line,
            "",
            v.to_string(),
            "expected an event object",
        ));
    }
    let text = |field: &str, max: usize| -> Result<Option<String>, RowError> {
        match v.get(field).and_then(Value::as_str).map(str::trim) {
            Some(s) if !s.is_empty() => {
                check_len(line, field, s, max)?;
                Ok(Some(s.to_string()))
            }
            _ => Ok(None),
        }
    };
    let id = match v.get("id") {
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        Some(Value::String(s)) if s.len() <= 40 && s.trim().parse::<u64>().is_ok() => {
            s.trim().to_string()
        }
        Some(other) => {
            return Err(RowError::new(
                line,
                "id",
                other.to_string(),
                "not an integer id",
            ));
        }
        None => return Err(RowError::new(line, "id", "", "missing")),
    };
    let dt = text("datetime", MAX_FIELD_CHARS)?
        .ok_or_else(|| RowError::new(line, "datetime", "", "missing"))?;
    let occurred_at = parse_datetime(&dt).map_err(|r| RowError::new(line, "datetime", &dt, r))?;
    let typ =
        text("type", MAX_FIELD_CHARS)?.ok_or_else(|| RowError::new(line, "type", "", "missing"))?;
    let name = text("name", MAX_NAME_CHARS)?;
    let loc = v
        .get("location")
        .ok_or_else(|| RowError::new(line, "location", "", "missing"))?;
    let loc_name = loc
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    check_len(line, "location.name", loc_name, MAX_FIELD_CHARS)?;
    let gps = loc
        .get("gps")
        .and_then(Value::as_str)
        .ok_or_else(|| RowError::new(line, "location.gps", "", "missing"))?;
    check_len(line, "location.gps", gps, MAX_FIELD_CHARS)?;
    let (lat, lon) = parse_gps(gps).ok_or_else(|| {
        RowError::new(
            line,
            "location.gps",
            gps,
            "expected \"lat,lon\" in decimal degrees",
        )
    })?;
    let (x, y) = super::csvutil::locate(crs::WGS84_EPSG, lon, lat, ("lon", "lat"), area, line)
        .map_err(|e| RowError::new(e.line, "location.gps", gps, e.reason))?;
    let precision =
        if loc_name.to_lowercase().ends_with(" län") || loc_name.eq_ignore_ascii_case("sverige") {
            LocationPrecision::County
        } else {
            LocationPrecision::Municipality
        };
    // "22 augusti 17.59, Brand, Kävlinge": the municipality is the last part.
    let place = name
        .as_deref()
        .and_then(|n| n.rsplit(',').next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| (!loc_name.is_empty()).then(|| loc_name.to_string()));
    let (code, group) = category::classify(&typ, CategoryGroup::NonCrime);
    Ok(Incident {
        source: SOURCE.into(),
        source_id: id,
        occurred_at,
        time_precision: Default::default(),
        occurred_to: None,
        category: code,
        group,
        label: typ,
        location: Point::new(x, y),
        precision,
        place,
        summary: text("summary", MAX_SUMMARY_CHARS)?,
    })
}

/// `2026-04-29 14:28:38 +02:00`, also with a one-digit hour (`2026-08-20 7:32:06 +02:00`).
pub fn parse_datetime(s: &str) -> Result<DateTime<FixedOffset>, String> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 3 {
        return Err("expected \"YYYY-MM-DD HH:MM:SS +HH:MM\"".into());
    }
    let time = if parts[1].find(':') == Some(1) {
        format!("0{}", parts[1])
    } else {
        parts[1].to_string()
    };
    DateTime::parse_from_str(
        &format!("{} {} {}", parts[0], time, parts[2]),
        "%Y-%m-%d %H:%M:%S %:z",
    )
    .map_err(|e| format!("not a date and time: {e}"))
}

/// `"59.443913,18.068703"`: latitude first.
fn parse_gps(s: &str) -> Option<(f64, f64)> {
    let (a, b) = s.split_once(',')?;
    let lat: f64 = a.trim().parse().ok()?;
    let lon: f64 = b.trim().parse().ok()?;
    (lat.is_finite() && lon.is_finite()).then_some((lat, lon))
}

/// Downloads the feed (or any URL serving the same JSON) to a file, for import.
pub fn fetch(url: &str, to: &Path) -> Result<u64, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .user_agent(concat!("lagesbild/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| format!("GET {url}: {e}"))?;
    std::fs::write(to, &body).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    Ok(body.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_digit_hours_and_offsets() {
        let t = parse_datetime("2026-08-20 7:32:06 +02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-08-20T07:32:06+02:00");
        let t = parse_datetime("2026-01-20 17:32:06 +01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-20T17:32:06+01:00");
        assert!(parse_datetime("2026-13-20 17:32:06 +01:00").is_err());
    }

    #[test]
    fn event_precision_and_municipality() {
        let area = ServiceArea::sweden();
        let ev = br#"{"id": 650297, "datetime": "2026-08-22 19:51:41 +02:00",
            "name": "22 augusti 17.59, Brand, K\u00e4vlinge", "summary": "x", "url": "/a/",
            "type": "Brand", "location": {"name": "Sk\u00e5ne l\u00e4n", "gps": "55.990257,13.595769"}}"#;
        let inc = event(7, ev, &area).unwrap();
        assert_eq!(inc.precision, LocationPrecision::County);
        assert_eq!(inc.place.as_deref(), Some("Kävlinge"));
        assert_eq!(inc.group, CategoryGroup::Fire);
        let ev = br#"{"id": 1, "datetime": "2026-08-22 19:51:41 +02:00", "name": "22 augusti, Misshandel, T\u00e4by",
            "type": "Misshandel", "location": {"name": "T\u00e4by", "gps": "59.443913,18.068703"}}"#;
        let inc = event(1, ev, &area).unwrap();
        assert_eq!(inc.precision, LocationPrecision::Municipality);
        assert!((inc.location.x() - 673_983.0).abs() < 200.0);
    }
}
