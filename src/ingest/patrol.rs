//! `lagesbild import patrol FILE --unit U`: patrol presence, police-only.
//!
//! - **GPX** (`.gpx`, GPX 1.1 or 1.0): every `trk/trkseg/trkpt` with `lat`, `lon` (WGS84) and
//!   a `time` child becomes a fix of the unit in EPSG:3006; each `trkseg` starts a new recorded
//!   stretch. Times carry their offset (GPX writes UTC, `Z`); a time without one is Swedish
//!   local time. Waypoints, routes and extensions are ignored.
//! - **Visits CSV** (`.csv`): one visit a row, the columns found by name (any case): `start` and
//!   `end` (a date and time, with an offset or in Swedish local time), and the place as
//!   `hotspot` (a patrol-plan hotspot id) or `lat` and `lon` (WGS84) or `x` and `y`
//!   (EPSG:3006). A row with both a hotspot and a point is refused: which one counts?
//!
//! As every importer: the file streams, bad records are skipped and reported with their line,
//! field, value and reason, the rest is imported, and importing the same file again adds
//! nothing (keys in [`crate::store::patrol`]). The GPX reader refuses a DOCTYPE (a document
//! type can declare entities: billion-laughs bombs, external files) and any entity reference
//! beyond XML's five and character references, nests at most [`MAX_DEPTH`] elements deep and
//! holds at most about a megabyte of one element or text run, so no file makes it hold more.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quick_xml::events::{BytesStart, Event};

use super::csvutil::{self, Columns, Next};
use super::textio::{self, RecordMark, TextError, TextOptions};
use super::{DuplicateGuard, Emitter, ImportError, MAX_FIELD_CHARS, RowError, Upsert, check_len};
use crate::crs::{self, ServiceArea};
use crate::store::patrol::{PatrolPoint, PatrolVisit, VisitPlace};
use crate::store::{Store, StoreResult, WriteCounts};

/// Elements nest at most this deep (a GPX track point is at depth 4).
pub const MAX_DEPTH: usize = 64;
/// A reported visit longer than this is surely a mistake (an end date a day off).
pub const MAX_VISIT_HOURS: i64 = 24;
/// Fixes transformed to EPSG:3006 at once (one PROJ call).
const BLOCK: usize = 4096;

#[async_trait]
impl Upsert for PatrolPoint {
    async fn upsert(store: &dyn Store, batch: &[Self]) -> StoreResult<WriteCounts> {
        store.upsert_patrol_points(batch).await
    }
}

#[async_trait]
impl Upsert for PatrolVisit {
    async fn upsert(store: &dyn Store, batch: &[Self]) -> StoreResult<WriteCounts> {
        store.upsert_patrol_visits(batch).await
    }
}

/// `--unit` as stored: trimmed, not empty, at most [`MAX_FIELD_CHARS`], no control characters.
pub fn check_unit(unit: &str) -> Result<String, ImportError> {
    let u = unit.trim();
    if u.is_empty() {
        return Err(ImportError::Usage(
            "--unit is empty: name the patrol unit".into(),
        ));
    }
    if u.chars().count() > MAX_FIELD_CHARS {
        return Err(ImportError::Usage(format!(
            "--unit is longer than {MAX_FIELD_CHARS} characters"
        )));
    }
    if u.chars().any(char::is_control) {
        return Err(ImportError::Usage(
            "--unit holds a control character".into(),
        ));
    }
    Ok(u.to_string())
}

/// The file's name as the source of its rows.
pub fn source_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// What both readers need.
#[derive(Debug, Clone)]
pub struct PatrolOptions {
    pub path: PathBuf,
    /// Checked with [`check_unit`].
    pub unit: String,
    pub area: ServiceArea,
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// CSV only: the delimiter, or guessed from the header.
    pub delimiter: Option<u8>,
}

/// A track point read, waiting for its transformation.
#[derive(Debug, Clone)]
struct Fix {
    line: u64,
    /// The number of the `trkseg` it is in.
    run: u64,
    at: DateTime<Utc>,
    lon: f64,
    lat: f64,
}

/// A track point being read: its attributes, and its time when the `time` child has come.
#[derive(Debug)]
struct OpenPoint {
    line: u64,
    depth: usize,
    lat: Result<f64, RowError>,
    lon: Result<f64, RowError>,
    time: Option<String>,
    in_time: bool,
}

fn coordinate(e: &BytesStart, name: &str, line: u64, range: f64) -> Result<f64, RowError> {
    let field = format!("trkpt {name}");
    let v = match e.try_get_attribute(name) {
        Ok(Some(a)) => a
            .unescape_value()
            .map(|v| v.trim().to_string())
            .map_err(|err| {
                RowError::new(line, &field, "", format!("unreadable attribute: {err}"))
            })?,
        Ok(None) => return Err(RowError::new(line, field, "", "missing")),
        Err(err) => {
            return Err(RowError::new(
                line,
                field,
                "",
                format!("unreadable attribute: {err}"),
            ));
        }
    };
    check_len(line, &field, &v, MAX_FIELD_CHARS)?;
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x.abs() <= range => Ok(x),
        Ok(_) => Err(RowError::new(
            line,
            &field,
            &v,
            format!("out of range: a {name} is within ±{range}"),
        )),
        Err(_) => Err(RowError::new(line, field, v, "not a number")),
    }
}

/// A GPX time: RFC 3339 (`2025-03-30T00:50:00Z`, fractions and offsets allowed); without an
/// offset, Swedish local time. A date alone is not a time of a fix.
fn fix_time(s: &str) -> Result<DateTime<Utc>, String> {
    if !s.contains(':') {
        return Err("not a date and time (GPX writes e.g. 2025-03-30T00:50:00Z)".into());
    }
    csvutil::parse_time(s, None).map(|t| t.with_timezone(&Utc))
}

/// The predefined XML entities; GPX needs no others.
fn predefined(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// Where the fixes of a file stand, across blocks: the last good fix's run, time and line, and
/// the instants seen.
struct RunState {
    last: Option<(u64, DateTime<Utc>, u64)>,
    seen: DuplicateGuard,
}

/// Reads a GPX file's track points into fixes of `opts.unit`.
pub fn parse_gpx(opts: PatrolOptions, em: &mut Emitter<PatrolPoint>) -> Result<(), ImportError> {
    let path = opts.path.clone();
    let source = source_name(&path);
    let mark = Arc::new(RecordMark::default());
    let text = textio::open_file(
        &path,
        TextOptions {
            encoding: opts.encoding,
            line_limit: false,
        },
        Some(mark.clone()),
    )?;
    let mut rdr = quick_xml::Reader::from_reader(text);
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut root_seen = false;
    // The depths of the open trk and trkseg, and the number of trksegs met.
    let (mut trk, mut seg): (Option<usize>, Option<usize>) = (None, None);
    let mut runs = 0u64;
    let mut point: Option<OpenPoint> = None;
    let mut pending: Vec<Fix> = Vec::with_capacity(BLOCK);
    let mut state = RunState {
        last: None,
        seen: DuplicateGuard::default(),
    };
    loop {
        let start = rdr.buffer_position();
        let line = mark.last_line_before(start + 1);
        // The reader below refuses to run more than about a megabyte past this mark: no
        // element or text run is held whole beyond that.
        mark.set(start, line);
        buf.clear();
        let ev = match rdr.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                let at = mark.last_line_before(rdr.error_position() + 1).max(line);
                return Err(xml_failure(&path, e, at));
            }
        };
        match ev {
            Event::DocType(_) => {
                return Err(ImportError::format(
                    &path,
                    format!(
                        "line {line}: a DOCTYPE is refused: GPX needs none, and a document type can declare entities"
                    ),
                ));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = e.local_name();
                let name = name.as_ref();
                if !root_seen {
                    if name != b"gpx" {
                        return Err(ImportError::format(
                            &path,
                            format!(
                                "line {line}: not a GPX file: the first element is <{}>, not <gpx>",
                                super::truncate(&String::from_utf8_lossy(name), 40)
                            ),
                        ));
                    }
                    root_seen = true;
                }
                let here = depth + 1;
                if !empty {
                    depth = here;
                    if depth > MAX_DEPTH {
                        return Err(ImportError::format(
                            &path,
                            format!("line {line}: elements nest deeper than {MAX_DEPTH}"),
                        ));
                    }
                }
                match name {
                    b"trk" if !empty && trk.is_none() => trk = Some(here),
                    b"trkseg" if !empty && trk.is_some() && seg.is_none() => {
                        seg = Some(here);
                        runs += 1;
                    }
                    b"trkpt" if seg.is_some() && point.is_none() => {
                        em.read();
                        let p = OpenPoint {
                            line,
                            depth: here,
                            lat: coordinate(e, "lat", line, 90.0),
                            lon: coordinate(e, "lon", line, 180.0),
                            time: None,
                            in_time: false,
                        };
                        if empty {
                            em.error(RowError::new(
                                line,
                                "trkpt time",
                                "",
                                "missing: a fix without a time cannot count as presence",
                            ));
                        } else {
                            point = Some(p);
                        }
                    }
                    b"time" if !empty => {
                        if let Some(p) = point.as_mut().filter(|p| p.depth + 1 == here) {
                            p.in_time = true;
                            p.time.get_or_insert_with(String::new);
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(ref t) => {
                if let Some(p) = point.as_mut().filter(|p| p.in_time) {
                    let s = t.decode().map_err(|e| {
                        ImportError::format(&path, format!("line {line}: undecodable text: {e}"))
                    })?;
                    push_time(p, &s);
                }
            }
            Event::GeneralRef(ref r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten()
                } else {
                    let name = r.decode().unwrap_or_default();
                    match predefined(&name) {
                        Some(c) => Some(c),
                        None => {
                            return Err(ImportError::format(
                                &path,
                                format!(
                                    "line {line}: the entity reference &{}; is refused: GPX declares no entities",
                                    super::truncate(&name, 40)
                                ),
                            ));
                        }
                    }
                };
                if let (Some(p), Some(c)) = (point.as_mut().filter(|p| p.in_time), c) {
                    push_time(p, c.encode_utf8(&mut [0; 4]));
                }
            }
            Event::End(_) => {
                if let Some(p) = point.as_mut()
                    && p.in_time
                    && p.depth + 1 == depth
                {
                    p.in_time = false;
                }
                if point.as_ref().is_some_and(|p| p.depth == depth) {
                    let p = point.take().expect("checked");
                    match close_point(p, runs) {
                        Ok(f) => {
                            pending.push(f);
                            if pending.len() == BLOCK {
                                em.position(start);
                                flush(&opts, &source, &mut pending, &mut state, em);
                                if em.is_closed() {
                                    return Ok(());
                                }
                            }
                        }
                        Err(e) => em.error(e),
                    }
                }
                if seg == Some(depth) {
                    seg = None;
                }
                if trk == Some(depth) {
                    trk = None;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(ImportError::format(
            &path,
            "the file is empty: no <gpx> element",
        ));
    }
    flush(&opts, &source, &mut pending, &mut state, em);
    Ok(())
}

/// Adds text to a time being read, at most [`MAX_FIELD_CHARS`] (more is refused later).
fn push_time(p: &mut OpenPoint, s: &str) {
    if let Some(t) = p.time.as_mut()
        && t.len() <= MAX_FIELD_CHARS * 4
    {
        t.push_str(s);
    }
}

/// A track point's fields checked: its coordinates and time.
fn close_point(p: OpenPoint, run: u64) -> Result<Fix, RowError> {
    let (lat, lon) = (p.lat?, p.lon?);
    let text = match p.time.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => {
            return Err(RowError::new(
                p.line,
                "trkpt time",
                "",
                "missing: a fix without a time cannot count as presence",
            ));
        }
    };
    check_len(p.line, "trkpt time", &text, MAX_FIELD_CHARS)?;
    let at = fix_time(&text).map_err(|why| RowError::new(p.line, "trkpt time", &text, why))?;
    Ok(Fix {
        line: p.line,
        run,
        at,
        lon,
        lat,
    })
}

/// Transforms a block of fixes, checks them against the service area and the fixes before, and
/// emits the good ones.
fn flush(
    opts: &PatrolOptions,
    source: &str,
    pending: &mut Vec<Fix>,
    state: &mut RunState,
    em: &mut Emitter<PatrolPoint>,
) {
    let mut coords: Vec<(f64, f64)> = pending.iter().map(|f| (f.lon, f.lat)).collect();
    let bulk_ok = crs::transform_in_place(crs::WGS84_EPSG, crs::WORK_EPSG, &mut coords).is_ok();
    for (f, (x, y)) in pending.drain(..).zip(coords) {
        let located = if bulk_ok && opts.area.contains(x, y) {
            Ok((x, y))
        } else {
            csvutil::locate(
                crs::WGS84_EPSG,
                f.lon,
                f.lat,
                ("lon", "lat"),
                &opts.area,
                f.line,
            )
        };
        let (x, y) = match located {
            Ok(xy) => xy,
            Err(e) => {
                em.error(e);
                continue;
            }
        };
        let time = f.at.to_rfc3339();
        let run_start = match state.last {
            Some((run, last, line)) if run == f.run => {
                if f.at <= last {
                    em.error(RowError::new(
                        f.line,
                        "trkpt time",
                        time,
                        format!(
                            "not after the fix before it on line {line}: a track's fixes must be in time order"
                        ),
                    ));
                    continue;
                }
                false
            }
            _ => true,
        };
        if let Some(first) = state.seen.check(f.at.timestamp_millis(), f.line) {
            em.error(RowError::new(
                f.line,
                "trkpt time",
                time,
                format!(
                    "a fix at the same instant is on line {first}: a unit is in one place at a time"
                ),
            ));
            continue;
        }
        state.last = Some((f.run, f.at, f.line));
        em.row(PatrolPoint {
            unit: opts.unit.clone(),
            source: source.to_string(),
            at: f.at,
            x,
            y,
            run_start,
        });
    }
}

/// A read error of the GPX file as the file-level error, with its line.
fn xml_failure(path: &Path, e: quick_xml::Error, line: u64) -> ImportError {
    match &e {
        quick_xml::Error::Io(io) => match textio::text_error(io) {
            Some(TextError::RecordTooLong { line, limit }) => ImportError::format(
                path,
                format!(
                    "line {line}: an element or text longer than {limit} bytes (not a GPX file?)"
                ),
            ),
            _ => textio::read_failure(path, io),
        },
        _ => ImportError::format(path, format!("line {line}: not well-formed XML: {e}")),
    }
}

/// The columns of a visits CSV.
struct VisitColumns {
    start: usize,
    end: usize,
    hotspot: Option<usize>,
    lonlat: Option<(usize, usize)>,
    xy: Option<(usize, usize)>,
}

fn pair(
    cols: &Columns,
    a: &str,
    b: &str,
    path: &Path,
) -> Result<Option<(usize, usize)>, ImportError> {
    match (cols.find(a), cols.find(b)) {
        (Some(i), Some(j)) => Ok(Some((i, j))),
        (None, None) => Ok(None),
        _ => Err(ImportError::format(
            path,
            format!("the header has only one of the columns {a} and {b}: give both"),
        )),
    }
}

/// Reads a visits CSV into visits of `opts.unit`.
pub fn parse_visits(opts: PatrolOptions, em: &mut Emitter<PatrolVisit>) -> Result<(), ImportError> {
    let path = opts.path.clone();
    let source = source_name(&path);
    let mut src = csvutil::open(&path, opts.delimiter, opts.encoding)?;
    let cols = Columns::new(src.headers());
    let layout = VisitColumns {
        start: cols.require(&path, "the visits format", "start")?,
        end: cols.require(&path, "the visits format", "end")?,
        hotspot: cols.find("hotspot"),
        lonlat: pair(&cols, "lon", "lat", &path)?,
        xy: pair(&cols, "x", "y", &path)?,
    };
    if layout.hotspot.is_none() && layout.lonlat.is_none() && layout.xy.is_none() {
        return Err(ImportError::format(
            &path,
            "no place columns: give hotspot, or lat and lon (WGS84), or x and y (EPSG:3006)",
        ));
    }
    let mut seen = DuplicateGuard::default();
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
        match visit_row(&rec, line, &layout, &opts, &source) {
            Ok(v) => {
                if let Some(first) = seen.check((v.start.timestamp_millis(), v.place.key()), line) {
                    em.error(RowError::new(
                        line,
                        "start",
                        v.start.to_rfc3339(),
                        format!("the same visit (start and place) is on line {first}"),
                    ));
                    continue;
                }
                em.row(v);
                if em.is_closed() {
                    return Ok(());
                }
            }
            Err(e) => em.error(e),
        }
    }
    Ok(())
}

fn visit_time(
    rec: &csv::StringRecord,
    i: usize,
    name: &str,
    line: u64,
) -> Result<DateTime<Utc>, RowError> {
    let v = csvutil::field(rec, i, name, line)?;
    if !v.contains(':') {
        return Err(RowError::new(line, name, v, "a date without a time of day"));
    }
    csvutil::parse_time(v, None)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|why| RowError::new(line, name, v, why))
}

fn visit_row(
    rec: &csv::StringRecord,
    line: u64,
    cols: &VisitColumns,
    opts: &PatrolOptions,
    source: &str,
) -> Result<PatrolVisit, RowError> {
    let start = visit_time(rec, cols.start, "start", line)?;
    let end = visit_time(rec, cols.end, "end", line)?;
    if end <= start {
        return Err(RowError::new(
            line,
            "end",
            end.to_rfc3339(),
            format!(
                "not after start {} (in the repeated hour of an autumn night, give the offset: +02:00 or +01:00)",
                start.to_rfc3339()
            ),
        ));
    }
    if end - start > chrono::Duration::hours(MAX_VISIT_HOURS) {
        return Err(RowError::new(
            line,
            "end",
            end.to_rfc3339(),
            format!("more than {MAX_VISIT_HOURS} hours after start: a mistaken date?"),
        ));
    }
    let hotspot = csvutil::opt_field(rec, cols.hotspot, "hotspot", line)?;
    let number = |i: usize, name: &str| -> Result<Option<f64>, RowError> {
        match csvutil::opt_field(rec, Some(i), name, line)? {
            None => Ok(None),
            Some(v) => csvutil::parse_number(v)
                .map(Some)
                .ok_or_else(|| RowError::new(line, name, v, "not a number")),
        }
    };
    let mut point = None;
    if let Some((lon_i, lat_i)) = cols.lonlat
        && let (Some(lon), Some(lat)) = (number(lon_i, "lon")?, number(lat_i, "lat")?)
    {
        point = Some(csvutil::locate(
            crs::WGS84_EPSG,
            lon,
            lat,
            ("lon", "lat"),
            &opts.area,
            line,
        )?);
    }
    if point.is_none()
        && let Some((x_i, y_i)) = cols.xy
        && let (Some(x), Some(y)) = (number(x_i, "x")?, number(y_i, "y")?)
    {
        point = Some(csvutil::locate(
            crs::WORK_EPSG,
            x,
            y,
            ("x", "y"),
            &opts.area,
            line,
        )?);
    }
    let place = match (hotspot, point) {
        (Some(h), None) => VisitPlace::Hotspot(h.to_string()),
        (None, Some((x, y))) => VisitPlace::Point { x, y },
        (Some(h), Some(_)) => {
            return Err(RowError::new(
                line,
                "hotspot",
                h,
                "both a hotspot and a point: give one (which should count?)",
            ));
        }
        (None, None) => {
            return Err(RowError::new(
                line,
                "hotspot",
                "",
                "no place: give hotspot, or lat and lon, or x and y",
            ));
        }
    };
    Ok(PatrolVisit {
        unit: opts.unit.clone(),
        source: source.to_string(),
        start,
        end,
        place,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use tokio::sync::mpsc;

    /// Runs a parser over `text` written to a file named `name`; returns rows and errors.
    fn run<T: Send + 'static>(
        name: &str,
        text: &str,
        parse: impl FnOnce(PatrolOptions, &mut Emitter<T>) -> Result<(), ImportError>,
    ) -> Result<(Vec<T>, Vec<RowError>), ImportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let opts = PatrolOptions {
            path,
            unit: "Patrull 1".into(),
            area: ServiceArea::sweden(),
            encoding: None,
            delimiter: None,
        };
        collect(|em| parse(opts, em))
    }

    /// Runs `parse` with an emitter whose batches are kept, not stored: the rows, and the
    /// skipped records in line order.
    fn collect<T: Send + 'static>(
        parse: impl FnOnce(&mut Emitter<T>) -> Result<(), ImportError>,
    ) -> Result<(Vec<T>, Vec<RowError>), ImportError> {
        let (tx, mut rx) = mpsc::channel(64);
        let mut em = super::super::emitter(tx);
        let result = parse(&mut em);
        em.flush();
        drop(em);
        let (mut rows, mut errors) = (Vec::new(), Vec::new());
        while let Ok(b) = rx.try_recv() {
            rows.extend(b.rows);
            errors.extend(b.errors);
        }
        errors.sort_by_key(|e| e.line);
        result.map(|()| (rows, errors))
    }

    fn gpx(body: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"test\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n{body}</gpx>\n"
        )
    }

    #[test]
    fn track_points_become_fixes_with_their_runs() {
        let text = gpx(concat!(
            "<trk><name>Natt &amp; dag</name><trkseg>\n",
            "<trkpt lat=\"59.4439\" lon=\"18.0686\"><ele>20</ele><time>2025-03-30T00:50:00Z</time></trkpt>\n",
            "<trkpt lat=\"59.4440\" lon=\"18.0686\"><time>2025-03-30T02:50:10+02:00</time></trkpt>\n",
            "</trkseg><trkseg>\n",
            "<trkpt lat=\"59.4441\" lon=\"18.0686\"><time>2025-03-30T00:51:00.500Z</time></trkpt>\n",
            "</trkseg></trk>\n",
            "<wpt lat=\"59.5\" lon=\"18.1\"><time>2025-03-30T00:00:00Z</time></wpt>\n",
        ));
        let (rows, errors) = run("t.gpx", &text, parse_gpx).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 3);
        let times: Vec<String> = rows.iter().map(|p| p.at.to_rfc3339()).collect();
        assert_eq!(
            times,
            [
                "2025-03-30T00:50:00+00:00",
                "2025-03-30T00:50:10+00:00",
                "2025-03-30T00:51:00.500+00:00"
            ]
        );
        let starts: Vec<bool> = rows.iter().map(|p| p.run_start).collect();
        assert_eq!(starts, [true, false, true]);
        assert_eq!(
            (rows[0].unit.as_str(), rows[0].source.as_str()),
            ("Patrull 1", "t.gpx")
        );
        // The design document's check: (18.0686 E, 59.4439 N) is about (673 983, 6 593 496).
        assert!((rows[0].x - 673_983.0).abs() < 2.0 && (rows[0].y - 6_593_496.0).abs() < 2.0);
    }

    #[test]
    fn bad_fixes_are_skipped_naming_line_field_and_value() {
        let text = gpx(concat!(
            "<trk><trkseg>\n",
            "<trkpt lat=\"59.4439\" lon=\"18.0686\"><time>2025-01-10T21:00:00Z</time></trkpt>\n",
            "<trkpt lat=\"north\" lon=\"18.0686\"><time>2025-01-10T21:00:10Z</time></trkpt>\n",
            "<trkpt lat=\"59.4439\" lon=\"18.0686\"/>\n",
            "<trkpt lat=\"59.4439\" lon=\"18.0686\"><time>yesterday</time></trkpt>\n",
            "<trkpt lat=\"59.4439\" lon=\"18.0686\"><time>2025-01-10T20:59:00Z</time></trkpt>\n",
            "<trkpt lat=\"51.5\" lon=\"-0.12\"><time>2025-01-10T21:01:00Z</time></trkpt>\n",
            "<trkpt lat=\"59.4439\" lon=\"18.0686\"><time>2025-01-10T21:02:00Z</time></trkpt>\n",
            "</trkseg><trkseg>\n",
            "<trkpt lat=\"59.4439\" lon=\"18.0686\"><time>2025-01-10T21:02:00Z</time></trkpt>\n",
            "</trkseg></trk>\n",
        ));
        let (rows, errors) = run("bad.gpx", &text, parse_gpx).unwrap();
        assert_eq!(rows.len(), 2);
        let got: Vec<(u64, &str, &str)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (5, "trkpt lat", "north"),
                (6, "trkpt time", ""),
                (7, "trkpt time", "yesterday"),
                (8, "trkpt time", "2025-01-10T20:59:00+00:00"),
                (9, "lon/lat", "-0.12, 51.5"),
                (12, "trkpt time", "2025-01-10T21:02:00+00:00"),
            ]
        );
        assert!(errors[3].reason.contains("line 4"), "{}", errors[3].reason);
        assert!(errors[5].reason.contains("line 10"), "{}", errors[5].reason);
    }

    #[test]
    fn doctypes_entities_and_non_gpx_are_refused() {
        let bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE gpx [<!ENTITY a \"aaaa\">]>\n<gpx></gpx>\n";
        let e = run("b.gpx", bomb, parse_gpx).unwrap_err().to_string();
        assert!(
            e.contains("b.gpx") && e.contains("line 2") && e.contains("DOCTYPE"),
            "{e}"
        );
        let entity = gpx(
            "<trk><trkseg><trkpt lat=\"59\" lon=\"18\"><time>&t;</time></trkpt></trkseg></trk>\n",
        );
        let e = run("e.gpx", &entity, parse_gpx).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("&t;"), "{e}");
        let other = "<?xml version=\"1.0\"?>\n<osm version=\"0.6\"></osm>\n";
        let e = run("o.gpx", other, parse_gpx).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("<osm>"), "{e}");
        let e = run("n.gpx", "", parse_gpx).unwrap_err().to_string();
        assert!(e.contains("no <gpx>"), "{e}");
        let broken = gpx("<trk><trkseg></trk>\n");
        let e = run("x.gpx", &broken, parse_gpx).unwrap_err().to_string();
        assert!(e.contains("not well-formed"), "{e}");
    }

    #[test]
    fn memory_is_bounded_by_depth_and_by_the_length_of_one_element() {
        let deep = gpx(&"<a>".repeat(MAX_DEPTH + 1));
        let e = run("d.gpx", &deep, parse_gpx).unwrap_err().to_string();
        assert!(e.contains("deeper than 64"), "{e}");
        let long = gpx(&format!("<desc>{}</desc>\n", "x".repeat(3 << 20)));
        let e = run("l.gpx", &long, parse_gpx).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("longer than"), "{e}");
    }

    #[test]
    fn visits_from_csv_with_offsets_or_local_time() {
        let text = concat!(
            "start;end;hotspot;lat;lon\n",
            "2025-01-10 23:52;2025-01-11 00:05;c0123456789abcdef;;\n",
            "2025-10-26T02:50:00+02:00;2025-10-26T02:10:00+01:00;;59.4439;18.0686\n",
            "2025-10-26 02:50;2025-10-26 02:10;cx;;\n",
            "2025-01-10 23:52;2025-01-11 00:05;c0123456789abcdef;;\n",
            "2025-01-12 10:00;2025-01-13 11:00;cx;;\n",
            "2025-01-12 10:00;2025-01-12 10:15;cx;59.4;18.0\n",
            "2025-01-12 10:00;2025-01-12 10:15;;;\n",
            "2025-01-12;2025-01-12 10:15;cx;;\n",
        );
        let (rows, errors) = run("v.csv", text, parse_visits).unwrap();
        assert_eq!(rows.len(), 2);
        // Local time: 23:52 CET is 22:52Z.
        assert_eq!(rows[0].start.to_rfc3339(), "2025-01-10T22:52:00+00:00");
        assert_eq!(
            rows[0].place,
            VisitPlace::Hotspot("c0123456789abcdef".into())
        );
        // Across the autumn change with offsets: 00:50Z to 01:10Z.
        assert_eq!((rows[1].end - rows[1].start).num_minutes(), 20);
        assert!(matches!(rows[1].place, VisitPlace::Point { .. }));
        let got: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            got,
            [
                (4, "end"),
                (5, "start"),
                (6, "end"),
                (7, "hotspot"),
                (8, "hotspot"),
                (9, "start")
            ]
        );
        assert!(
            errors[0].reason.contains("repeated hour"),
            "{}",
            errors[0].reason
        );
        assert!(errors[1].reason.contains("line 2"), "{}", errors[1].reason);
    }

    #[test]
    fn a_visits_csv_needs_its_columns() {
        let e = run("v.csv", "start,end,where\n", parse_visits)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no place columns"), "{e}");
        let e = run("v.csv", "start,hotspot\n", parse_visits)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"end\""), "{e}");
        let e = run("v.csv", "start,end,lat\n", parse_visits)
            .unwrap_err()
            .to_string();
        assert!(e.contains("lon and lat"), "{e}");
    }

    #[test]
    fn units_are_checked() {
        assert_eq!(check_unit("  Bil 3 ").unwrap(), "Bil 3");
        assert!(check_unit(" ").is_err());
        assert!(check_unit("a\u{7}").is_err());
        assert!(check_unit(&"x".repeat(201)).is_err());
    }
}
