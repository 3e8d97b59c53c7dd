//! What CSV importers share: finding columns by name, numbers with decimal commas, times in
//! the formats municipal and police extracts use, and the service-area check.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

use crate::model::TimePrecision;
use encoding_rs::Encoding;

use super::textio::{self, RecordMark, TextOptions, TextReader};
use super::{
    ImportError, MAX_COLUMNS, MAX_FIELD_CHARS, RowError, SHOWN_VALUE_CHARS, check_len, truncate,
};
use crate::crs::{self, ServiceArea};
use crate::time::ZONE;

/// A CSV file opened for import: decoded and checked by [`textio`], its header read and checked,
/// records read with their physical line numbers.
pub struct CsvSource {
    path: PathBuf,
    rdr: csv::Reader<TextReader>,
    mark: Arc<RecordMark>,
    headers: csv::StringRecord,
}

/// What [`CsvSource::next`] found.
pub enum Next {
    /// A record, read into the caller's buffer, starting on this physical line (header = 1).
    Record(u64),
    /// A record that cannot be parsed as CSV; the file goes on.
    Bad(RowError),
    End,
}

/// Opens a CSV file: `delimiter` or one guessed from the header, `encoding` or UTF-8 (UTF-16
/// with a BOM is recognised). Fails when the file is not text, has no header, or a header that
/// cannot be one.
pub fn open(
    path: &Path,
    delimiter: Option<u8>,
    encoding: Option<&'static Encoding>,
) -> Result<CsvSource, ImportError> {
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    open_reader(path, file, delimiter, encoding)
}

/// [`open`] for any source of bytes; `path` names it in messages.
pub fn open_reader<R: std::io::Read + Send + 'static>(
    path: &Path,
    source: R,
    delimiter: Option<u8>,
    encoding: Option<&'static Encoding>,
) -> Result<CsvSource, ImportError> {
    let mark = Arc::new(RecordMark::default());
    let opts = TextOptions {
        encoding,
        line_limit: true,
    };
    let mut text = textio::open(source, opts, Some(mark.clone()))
        .map_err(|e| textio::read_failure(path, &e))?;
    let delimiter = match delimiter {
        Some(d) => d,
        None => {
            let head = text
                .fill_buf()
                .map_err(|e| textio::read_failure(path, &e))?;
            let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
            sniff(first)
        }
    };
    // Records end at LF only, so that the line numbers csv counts are physical lines in CRLF
    // files too; the CR left at the end of a line's last field is trimmed with the field.
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .flexible(true)
        .has_headers(true)
        .buffer_capacity(64 * 1024)
        .from_reader(text);
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(match e.kind() {
                csv::ErrorKind::Io(io) => textio::read_failure(path, io),
                _ => ImportError::format(path, format!("cannot read the header: {e}")),
            });
        }
    };
    if headers.is_empty() || (headers.len() == 1 && headers[0].trim().is_empty()) {
        return Err(ImportError::format(
            path,
            "the file is empty: no header line",
        ));
    }
    if headers.len() > MAX_COLUMNS {
        return Err(ImportError::format(
            path,
            format!(
                "the header has {} columns, at most {MAX_COLUMNS} allowed (wrong --delimiter?)",
                headers.len()
            ),
        ));
    }
    if let Some((i, h)) = headers
        .iter()
        .enumerate()
        .find(|(_, h)| h.trim().chars().count() > MAX_FIELD_CHARS)
    {
        return Err(ImportError::format(
            path,
            format!(
                "header column {} is {} characters long, at most {MAX_FIELD_CHARS} allowed: {:?}",
                i + 1,
                h.trim().chars().count(),
                truncate(h.trim(), SHOWN_VALUE_CHARS)
            ),
        ));
    }
    let p = rdr.position();
    mark.set(p.byte(), p.line());
    Ok(CsvSource {
        path: path.to_path_buf(),
        rdr,
        mark,
        headers,
    })
}

impl CsvSource {
    pub fn headers(&self) -> &csv::StringRecord {
        &self.headers
    }

    /// Bytes of (decoded) text read so far, for the progress bar.
    pub fn byte(&self) -> u64 {
        self.rdr.position().byte()
    }

    /// The next record into `rec`. Blank lines are passed over. `Err` when the file cannot be
    /// read on (not UTF-8 from here on, an overlong line or record, an I/O error).
    pub fn next(&mut self, rec: &mut csv::StringRecord) -> Result<Next, ImportError> {
        loop {
            let r = self.rdr.read_record(rec);
            // csv's own line count passes over blank lines without counting them; the physical
            // line is where the record ends, less the line breaks inside its quoted fields.
            let end = self.rdr.position().byte();
            let last = self.mark.last_line_before(end);
            self.mark.set(end, last + 1);
            match r {
                Ok(false) => return Ok(Next::End),
                Ok(true) => {
                    if rec.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    let inner: u64 = rec.iter().map(|f| f.matches('\n').count() as u64).sum();
                    return Ok(Next::Record(last.saturating_sub(inner).max(1)));
                }
                Err(e) => {
                    return match e.kind() {
                        csv::ErrorKind::Io(io) => Err(textio::read_failure(&self.path, io)),
                        _ => Ok(Next::Bad(RowError::new(
                            last,
                            "",
                            "",
                            format!("unreadable row: {e}"),
                        ))),
                    };
                }
            }
        }
    }
}

/// Guesses the delimiter from the header line when none is given: `;` if the header has more
/// semicolons than commas (Swedish spreadsheet exports), tab if it has more tabs, else `,`.
fn sniff(first: &[u8]) -> u8 {
    let count = |c: u8| first.iter().filter(|&&b| b == c).count();
    let (semis, commas, tabs) = (count(b';'), count(b','), count(b'\t'));
    if tabs > semis && tabs > commas {
        b'\t'
    } else if semis > commas {
        b';'
    } else {
        b','
    }
}

/// Parses `--delimiter` values: a single character, or `tab`.
pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" => Ok(b'\t'),
        s if s.len() == 1 => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "delimiter must be one character or 'tab', got {s:?}"
        )),
    }
}

/// The header's columns, found by name without regard to case or surrounding space.
pub struct Columns {
    headers: Vec<String>,
}

impl Columns {
    pub fn new(headers: &csv::StringRecord) -> Self {
        Self {
            headers: headers.iter().map(|h| h.trim().to_lowercase()).collect(),
        }
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        let n = name.trim().to_lowercase();
        self.headers.iter().position(|h| *h == n)
    }

    /// The column's index, or a file-level error naming the missing column and those present.
    pub fn require(&self, path: &Path, flag: &str, name: &str) -> Result<usize, ImportError> {
        self.find(name).ok_or_else(|| {
            ImportError::format(
                path,
                format!(
                    "no column {:?} (given by {flag}); the header has: {}",
                    truncate(name, SHOWN_VALUE_CHARS),
                    truncate(&self.headers.join(", "), 300)
                ),
            )
        })
    }
}

/// The field at `idx`, trimmed; a row error when the row is too short, the field empty or
/// longer than [`MAX_FIELD_CHARS`].
pub fn field<'r>(
    rec: &'r csv::StringRecord,
    idx: usize,
    name: &str,
    line: u64,
) -> Result<&'r str, RowError> {
    match rec.get(idx).map(str::trim) {
        Some(v) if !v.is_empty() => {
            check_len(line, name, v, MAX_FIELD_CHARS)?;
            Ok(v)
        }
        Some(_) => Err(RowError::new(line, name, "", "empty")),
        None => Err(RowError::new(
            line,
            name,
            "",
            format!("missing: the row has {} fields", rec.len()),
        )),
    }
}

/// An optional field: `None` when absent or empty; a row error when longer than
/// [`MAX_FIELD_CHARS`].
pub fn opt_field<'r>(
    rec: &'r csv::StringRecord,
    idx: Option<usize>,
    name: &str,
    line: u64,
) -> Result<Option<&'r str>, RowError> {
    let v = idx
        .and_then(|i| rec.get(i))
        .map(str::trim)
        .filter(|v| !v.is_empty());
    if let Some(v) = v {
        check_len(line, name, v, MAX_FIELD_CHARS)?;
    }
    Ok(v)
}

/// Parses a number as Swedish and English spreadsheets write it: `153891,94`, `153 891,94`,
/// `153891.94`, `1,234.5`. Rejects NaN and infinities.
pub fn parse_number(s: &str) -> Option<f64> {
    let t: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''))
        .collect();
    if t.is_empty() {
        return None;
    }
    let normalised = match (t.contains(','), t.contains('.')) {
        (true, true) => {
            // Whichever comes last is the decimal separator.
            if t.rfind(',') > t.rfind('.') {
                t.replace('.', "").replace(',', ".")
            } else {
                t.replace(',', "")
            }
        }
        (true, false) => {
            if t.matches(',').count() == 1 {
                t.replace(',', ".")
            } else {
                return None;
            }
        }
        _ => t,
    };
    let v: f64 = normalised.parse().ok()?;
    v.is_finite().then_some(v)
}

/// A number field, or a row error naming it.
pub fn number(rec: &csv::StringRecord, idx: usize, name: &str, line: u64) -> Result<f64, RowError> {
    let v = field(rec, idx, name, line)?;
    parse_number(v).ok_or_else(|| RowError::new(line, name, v, "not a number"))
}

/// A time as read: the instant (the start, for a date, a month or an hour), how precisely the
/// text gave it, and a warning when a local time had to be read one way of two (the autumn's
/// repeated hour) or moved (the spring's skipped hour).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeRead {
    pub at: DateTime<FixedOffset>,
    pub precision: TimePrecision,
    pub warning: Option<String>,
}

impl TimeRead {
    fn exact(at: DateTime<FixedOffset>) -> Self {
        Self {
            at,
            precision: TimePrecision::Exact,
            warning: None,
        }
    }

    fn local(t: NaiveDateTime, precision: TimePrecision) -> Self {
        let (at, warning) = local_to_fixed(t);
        Self {
            at,
            precision,
            warning,
        }
    }
}

/// Parses a time (see [`read_time`]) and keeps only the instant.
pub fn parse_time(s: &str, format: Option<&str>) -> Result<DateTime<FixedOffset>, String> {
    read_time(s, format).map(|r| r.at)
}

/// Reads a time and how precisely it is given. With `format` (chrono strftime), exactly that,
/// its precision from what it names: minutes (or more) exact, an hour without minutes `hour`,
/// a day without an hour `date`, a year and month `month`. Without, ISO 8601 / RFC 3339 with
/// or without `T` and seconds, Polisen's `2026-04-29 14:28:38 +02:00`, `2026-04-29 14` (hour),
/// `2026-04-29` (date) and `2026-04` (month). Times without an offset are Swedish local time
/// ([`local_to_fixed`]).
pub fn read_time(s: &str, format: Option<&str>) -> Result<TimeRead, String> {
    let s = s.trim();
    if let Some(f) = format {
        return read_formatted(s, f);
    }
    if let Some(t) = fast_iso(s) {
        return t;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(TimeRead::exact(t));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S %:z",
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S %z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Ok(TimeRead::exact(t));
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(TimeRead::local(t, TimePrecision::Exact));
        }
    }
    for f in ["%Y-%m-%d %H", "%Y-%m-%dT%H"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&format!("{s}:00"), &format!("{f}:%M")) {
            return Ok(TimeRead::local(t, TimePrecision::Hour));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(TimeRead::local(midnight(d), TimePrecision::Date));
    }
    if s.len() == 7
        && let Ok(d) = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
    {
        return Ok(TimeRead::local(midnight(d), TimePrecision::Month));
    }
    Err("not a date and time (expected e.g. 2026-04-29 14:28:38 +02:00, 2026-04-29T14:28, 2026-04-29 or 2026-04; give --time-format otherwise)".into())
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).expect("midnight")
}

/// What a strftime format names, finest first.
fn format_precision(f: &str) -> TimePrecision {
    let names = |specs: &[&str]| specs.iter().any(|x| f.contains(x));
    if names(&["%M", "%R", "%T", "%X", "%r", "%c", "%+", "%s"]) {
        TimePrecision::Exact
    } else if names(&["%H", "%I", "%k", "%l"]) {
        TimePrecision::Hour
    } else if names(&["%d", "%e", "%j", "%F", "%D", "%x", "%a", "%A", "%u", "%w"]) {
        TimePrecision::Date
    } else {
        TimePrecision::Month
    }
}

fn read_formatted(s: &str, f: &str) -> Result<TimeRead, String> {
    let wrong = |e: chrono::ParseError| format!("does not match --time-format {f:?}: {e}");
    match format_precision(f) {
        TimePrecision::Exact => {
            if let Ok(t) = DateTime::parse_from_str(s, f) {
                return Ok(TimeRead::exact(t));
            }
            NaiveDateTime::parse_from_str(s, f)
                .map_err(wrong)
                .map(|t| TimeRead::local(t, TimePrecision::Exact))
        }
        // chrono wants minutes for a time of day, and a day for a date: given here as the
        // start of the hour and the first of the month.
        TimePrecision::Hour => {
            NaiveDateTime::parse_from_str(&format!("{s}\u{1}00"), &format!("{f}\u{1}%M"))
                .map_err(wrong)
                .map(|t| TimeRead::local(t, TimePrecision::Hour))
        }
        TimePrecision::Date => NaiveDate::parse_from_str(s, f)
            .map_err(wrong)
            .map(|d| TimeRead::local(midnight(d), TimePrecision::Date)),
        _ => NaiveDate::parse_from_str(&format!("{s}\u{1}01"), &format!("{f}\u{1}%d"))
            .map_err(wrong)
            .map(|d| TimeRead::local(midnight(d), TimePrecision::Month)),
    }
}

/// The common shapes, `2026-04-29 14:28:38`, `2026-04-29T14:28`, with fractions of a second and
/// `Z`, `+02:00`, ` +02:00` or `+0200`, read without chrono's format interpreter (which cost
/// more than the rest of a CSV row). `None` for anything else, or an impossible value, so that
/// the general path decides and words the error.
fn fast_iso(s: &str) -> Option<Result<TimeRead, String>> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        part.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() < 16
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)?;
    let (hour, minute) = (digits(11..13)?, digits(14..16)?);
    let mut i = 16;
    let mut second = 0;
    let mut nano = 0;
    if b.get(i) == Some(&b':') {
        second = digits(i + 1..i + 3)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start || end - start > 9 {
                return None;
            }
            nano = digits(start..end)? * 10u32.pow(9 - (end - start) as u32);
            i = end;
        }
    }
    let t = date.and_hms_nano_opt(hour, minute, second, nano)?;
    let rest = &b[i..];
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let offset = match rest {
        [] => return Some(Ok(TimeRead::local(t, TimePrecision::Exact))),
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let two = |a: u8, b: u8| -> Option<i32> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i32::from(a - b'0') * 10 + i32::from(b - b'0'))
            };
            let secs = two(*h1, *h2)? * 3600 + two(*m1, *m2)? * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let zone = FixedOffset::east_opt(offset)?;
    Some(
        t.and_local_timezone(zone)
            .single()
            .map(TimeRead::exact)
            .ok_or_else(|| format!("{t} with offset {zone} is not a time")),
    )
}

/// A wall-clock time in Stockholm as an instant with its offset, read as PostgreSQL and
/// java.time read it: in the autumn's repeated hour the earlier instant, and a time in the
/// spring's skipped hour moved forward by the gap (02:30 on the last Sunday of March is 03:30
/// CEST); either with a warning saying so.
pub fn local_to_fixed(t: NaiveDateTime) -> (DateTime<FixedOffset>, Option<String>) {
    match ZONE.from_local_datetime(&t) {
        chrono::LocalResult::Single(x) => (x.fixed_offset(), None),
        chrono::LocalResult::Ambiguous(a, _) => {
            let a = a.fixed_offset();
            (
                a,
                Some(format!(
                    "{t} occurs twice in Swedish local time (the clocks go back): read as the first, {}",
                    a.to_rfc3339()
                )),
            )
        }
        chrono::LocalResult::None => {
            // Read with the offset in force before the gap (the last wall-clock time that
            // exists before it): the instant the clock would have shown had it not jumped.
            let before = (1..=48)
                .find_map(|k| {
                    ZONE.from_local_datetime(&(t - chrono::Duration::minutes(30 * k)))
                        .latest()
                })
                .map(|x| x.fixed_offset().offset().local_minus_utc())
                .unwrap_or(0);
            let utc = t - chrono::Duration::seconds(i64::from(before));
            let at = ZONE.from_utc_datetime(&utc).fixed_offset();
            (
                at,
                Some(format!(
                    "{t} does not exist in Swedish local time (the clocks go forward): read as {}",
                    at.to_rfc3339()
                )),
            )
        }
    }
}

/// Transforms a coordinate into EPSG:3006 and checks it is inside the service area; the error
/// names the fields and says when swapping them would have helped.
pub fn locate(
    epsg: u32,
    x: f64,
    y: f64,
    fields: (&str, &str),
    area: &ServiceArea,
    line: u64,
) -> Result<(f64, f64), RowError> {
    let value = format!("{x}, {y}");
    let field = format!("{}/{}", fields.0, fields.1);
    if epsg == crs::WGS84_EPSG && !((-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y)) {
        return Err(RowError::new(
            line,
            field,
            value,
            "not a longitude/latitude pair (longitude must be within ±180, latitude within ±90)",
        ));
    }
    let (ex, ny) =
        crs::to_work(epsg, x, y).map_err(|e| RowError::new(line, &field, &value, e.to_string()))?;
    if area.contains(ex, ny) {
        return Ok((ex, ny));
    }
    let swapped_inside = crs::to_work(epsg, y, x)
        .map(|(sx, sy)| area.contains(sx, sy))
        .unwrap_or(false);
    let reason = if swapped_inside {
        format!(
            "outside the service area; with {} and {} swapped it would be inside: are the columns mixed up?",
            fields.0, fields.1
        )
    } else {
        format!(
            "outside the service area (EPSG:{epsg} coordinate lands at {ex:.0}, {ny:.0} in EPSG:3006)"
        )
    };
    Err(RowError::new(line, field, value, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_decimal_commas_and_spaces() {
        assert_eq!(parse_number("153891,94"), Some(153891.94));
        assert_eq!(parse_number("153 891,94"), Some(153891.94));
        assert_eq!(parse_number("6 593 495.74"), Some(6593495.74));
        assert_eq!(parse_number("1,234.5"), Some(1234.5));
        assert_eq!(parse_number("1.234,5"), Some(1234.5));
        assert_eq!(parse_number("-0,5"), Some(-0.5));
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("1,2,3"), None);
        assert_eq!(parse_number("abc"), None);
    }

    #[test]
    fn times_in_common_formats() {
        let t = parse_time("2026-04-29 14:28:38 +02:00", None).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-04-29T14:28:38+02:00");
        // No offset: Stockholm local time, CET in January.
        let t = parse_time("2026-01-15 22:10", None).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-15T22:10:00+01:00");
        let t = parse_time("15/01/2026 22.10", Some("%d/%m/%Y %H.%M")).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-15T22:10:00+01:00");
        assert!(parse_time("2026-13-01 10:00", None).is_err());
    }

    fn read(s: &str, f: Option<&str>) -> (String, TimePrecision, Option<String>) {
        let r = read_time(s, f).unwrap();
        (r.at.to_rfc3339(), r.precision, r.warning)
    }

    #[test]
    fn dates_months_and_hours_keep_their_precision() {
        use TimePrecision::*;
        assert_eq!(
            read("2026-01-15", None),
            ("2026-01-15T00:00:00+01:00".into(), Date, None)
        );
        assert_eq!(
            read("2026-07-15", None),
            ("2026-07-15T00:00:00+02:00".into(), Date, None)
        );
        assert_eq!(
            read("2026-07", None),
            ("2026-07-01T00:00:00+02:00".into(), Month, None)
        );
        assert_eq!(
            read("2026-07-15 22", None),
            ("2026-07-15T22:00:00+02:00".into(), Hour, None)
        );
        assert_eq!(read("2026-07-15 22:05", None).1, Exact);
        // With a format, its precision is what it names.
        assert_eq!(read("15/07/2026", Some("%d/%m/%Y")).1, Date);
        assert_eq!(
            read("2026-07", Some("%Y-%m")),
            ("2026-07-01T00:00:00+02:00".into(), Month, None)
        );
        assert_eq!(read("07.2026", Some("%m.%Y")).1, Month);
        assert_eq!(
            read("15/07/2026 kl 22", Some("%d/%m/%Y kl %H")),
            ("2026-07-15T22:00:00+02:00".into(), Hour, None)
        );
        assert_eq!(read("2026-07-15", Some("%Y-%m-%d")).1, Date);
        assert!(read_time("2026-13", Some("%Y-%m")).is_err());
        assert!(read_time("2026-13", None).is_err());
        assert!(read_time("2026-02-30", Some("%Y-%m-%d")).is_err());
    }

    #[test]
    fn clock_changes_are_read_as_postgresql_reads_them() {
        // The skipped spring hour, moved forward by the gap: PostgreSQL's
        // '2025-03-30 02:01'::timestamp AT TIME ZONE 'Europe/Stockholm' is 01:01Z (03:01 CEST);
        // java.time's ZonedDateTime.of(…) gives the same.
        let (at, p, w) = read("2025-03-30 02:01", None);
        assert_eq!(
            (at.as_str(), p),
            ("2025-03-30T03:01:00+02:00", TimePrecision::Exact)
        );
        assert!(w.unwrap().contains("does not exist"));
        let (at, _, w) = read("2026-03-29 02:30", None);
        assert_eq!(at, "2026-03-29T03:30:00+02:00");
        assert!(w.is_some());
        // The repeated autumn hour: the earlier instant, CEST (PostgreSQL and java.time agree).
        let (at, _, w) = read("2025-10-26 02:30", None);
        assert_eq!(at, "2025-10-26T02:30:00+02:00");
        assert!(w.unwrap().contains("occurs twice"));
        // Through a format too, and the hours either side carry no warning.
        let (at, _, w) = read("30.03.2025 02:01", Some("%d.%m.%Y %H:%M"));
        assert_eq!(
            (at.as_str(), w.is_some()),
            ("2025-03-30T03:01:00+02:00", true)
        );
        assert_eq!(read("2025-03-30 01:59", None).2, None);
        assert_eq!(read("2025-03-30 03:00", None).2, None);
        assert_eq!(read("2025-10-26 03:00", None).2, None);
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        // Each shape the fast path takes, against chrono's own parse of the same text with the
        // matching format (offsets), or the Stockholm rule (no offset).
        let with_offset = [
            ("2026-04-29 14:28:38 +02:00", "%Y-%m-%d %H:%M:%S %:z"),
            ("2026-04-29 14:28:38+02:00", "%Y-%m-%d %H:%M:%S%:z"),
            ("2026-04-29T14:28:38.250+02:00", "%Y-%m-%dT%H:%M:%S%.f%:z"),
            (
                "2026-04-29T14:28:38.123456789-03:30",
                "%Y-%m-%dT%H:%M:%S%.f%:z",
            ),
            ("2026-11-02 23:59:59 +0100", "%Y-%m-%d %H:%M:%S %z"),
            ("2026-11-02T23:59:59Z", "%Y-%m-%dT%H:%M:%S%#z"),
        ];
        for (text, f) in with_offset {
            let expected = DateTime::parse_from_str(text, f)
                .or_else(|_| DateTime::parse_from_rfc3339(text))
                .unwrap();
            assert_eq!(
                fast_iso(text).map(|r| r.map(|r| r.at)),
                Some(Ok(expected)),
                "{text}"
            );
        }
        let local = [
            ("2026-04-29 14:28:38", "%Y-%m-%d %H:%M:%S"),
            ("2026-04-29T14:28:38", "%Y-%m-%dT%H:%M:%S"),
            ("2026-01-15 22:10", "%Y-%m-%d %H:%M"),
            ("2026-01-15T22:10", "%Y-%m-%dT%H:%M"),
            ("2026-07-01T08:00:00.5", "%Y-%m-%dT%H:%M:%S%.f"),
        ];
        for (text, f) in local {
            let naive = NaiveDateTime::parse_from_str(text, f).unwrap();
            let (expected, _) = local_to_fixed(naive);
            assert_eq!(
                fast_iso(text).map(|r| r.map(|r| r.at)),
                Some(Ok(expected)),
                "{text}"
            );
        }
        // Not taken by the fast path: the general path decides (and words the error).
        for text in [
            "2026-13-01 10:00",
            "2026-02-30 10:00",
            "2026-04-29 4:28:38",
            "2026-04-29 24:00",
            "2026-04-29",
            "29/04/2026 14:28",
            "2026-04-29 14:28:38 CEST",
            "2026-04-29 14:28:38.",
        ] {
            assert_eq!(fast_iso(text), None, "{text}");
        }
        // The skipped spring hour is moved, with a warning, from the fast path too.
        assert!(matches!(
            fast_iso("2026-03-29 02:30"),
            Some(Ok(TimeRead {
                warning: Some(_),
                ..
            }))
        ));
        // One-digit hours still parse (Polisen), through the general path.
        assert!(parse_time("2026-04-29 4:28:38 +02:00", None).is_ok());
    }
}
