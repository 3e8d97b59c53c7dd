//! The åtgärdsplan as CSV (RFC 4180, UTF-8, a header row): exported for spreadsheets and
//! reports, and imported back, edited or written by hand.
//!
//! Columns, in this order on export (on import in any order; only `title` and `kind` are
//! required, an unknown column is refused):
//!
//! | column | value |
//! | --- | --- |
//! | `id` | empty: a new measure; a number: that measure, changed to the row |
//! | `title`, `kind`, `status`, `agency` | as in the API (`kind` and `status` in snake case) |
//! | `planned_date`, `done_date` | `YYYY-MM-DD` |
//! | `cost_sek` | a number, `.` as the decimal point |
//! | `district`, `buffer_m` | the place's district and buffer |
//! | `points` | `long lat` pairs in WGS84, separated by `;` |
//! | `walkway_ids`, `report_ids`, `lamp_ids` | separated by `;` |
//! | `lamp_height_m`, `lamp_lumen` | a new-lamp measure's lamp type |
//! | `notes` | free text |
//!
//! A text that a spreadsheet would take for a formula is written with a leading `'` (see
//! [`crate::text::csv_text`]), which the import takes off again. The import checks every row
//! before it stores any: a file with one bad row stores nothing, and the error names each
//! problem by line, column and value.

use serde::Serialize;
use utoipa::ToSchema;

use super::{MeasurePatch, MeasureView, NewMeasure, PlaceInput};
use crate::store::measures::{LampType, MeasureKind, MeasureStatus, word};
use crate::text::csv_text;

/// The columns, in the order of the export.
pub const COLUMNS: [&str; 17] = [
    "id",
    "title",
    "kind",
    "status",
    "agency",
    "planned_date",
    "done_date",
    "cost_sek",
    "district",
    "buffer_m",
    "points",
    "walkway_ids",
    "report_ids",
    "lamp_ids",
    "lamp_height_m",
    "lamp_lumen",
    "notes",
];

/// Most rows one import takes.
pub const MAX_ROWS: usize = 5_000;

fn joined<T: ToString>(v: &[T]) -> String {
    v.iter().map(T::to_string).collect::<Vec<_>>().join(";")
}

/// The measures as CSV.
pub fn export(measures: &[MeasureView]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS).expect("writing to memory");
    for m in measures {
        let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        let points: Vec<String> = m
            .place
            .points
            .iter()
            .map(|[lon, lat]| format!("{lon} {lat}"))
            .collect();
        let text = |s: &str| csv_text(s).into_owned();
        w.write_record([
            m.id.to_string(),
            text(&m.title),
            word(m.kind),
            word(m.status),
            text(m.agency.as_deref().unwrap_or("")),
            date(m.planned_date),
            date(m.done_date),
            num(m.cost_sek),
            text(m.place.district.as_deref().unwrap_or("")),
            num(m.place.buffer_m),
            points.join(";"),
            joined(&m.place.walkway_ids),
            joined(&m.place.report_ids),
            m.place
                .lamp_ids
                .iter()
                .map(|s| text(s))
                .collect::<Vec<_>>()
                .join(";"),
            num(m.lamp.map(|l| l.height_m)),
            num(m.lamp.map(|l| l.lumen)),
            text(m.notes.as_deref().unwrap_or("")),
        ])
        .expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("CSV of UTF-8 is UTF-8")
}

/// One row of an import: a new measure or a change of one.
#[derive(Debug, Clone)]
pub enum Row {
    New {
        line: u64,
        measure: NewMeasure,
    },
    Change {
        line: u64,
        id: i64,
        patch: MeasurePatch,
    },
}

/// What an import did (`POST /api/v1/measures.csv`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportSummary {
    /// Ids of the measures created, in the order of the rows.
    pub created: Vec<i64>,
    /// Ids of the measures changed (whether or not a field differed).
    pub changed: Vec<i64>,
}

/// The text of a field, with the formula guard of the export taken off.
fn unguard(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => s,
    }
}

fn list<T: std::str::FromStr>(s: &str) -> Result<Vec<T>, String> {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<T>().map_err(|_| format!("{p:?} is not a number")))
        .collect()
}

fn enum_of<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| "unknown value".into())
}

/// Parses and checks the whole file; the problems, each naming line, column and value, when
/// any row is wrong.
pub fn parse(text: &str) -> Result<Vec<Row>, Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = match r.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![format!("line 1: {e}")]),
    };
    let mut problems = Vec::new();
    let mut col = std::collections::HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim();
        if !COLUMNS.contains(&h) {
            problems.push(format!(
                "line 1: unknown column {h:?}; the columns are {}",
                COLUMNS.join(", ")
            ));
        } else if col.insert(h.to_string(), i).is_some() {
            problems.push(format!("line 1: column {h:?} appears twice"));
        }
    }
    for required in ["title", "kind"] {
        if !col.contains_key(required) {
            problems.push(format!("line 1: the column {required:?} is missing"));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut rows = Vec::new();
    for (n, rec) in r.records().enumerate() {
        if n >= MAX_ROWS {
            return Err(vec![format!("more than {MAX_ROWS} rows; split the file")]);
        }
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                problems.push(format!("line {}: {e}", n + 2));
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(n as u64 + 2);
        let get = |name: &str| -> Option<&str> {
            col.get(name)
                .and_then(|&i| rec.get(i))
                .map(|s| unguard(s.trim()))
                .filter(|s| !s.is_empty())
        };
        let mut bad = |name: &str, value: &str, why: String| {
            problems.push(format!(
                "line {line}, column {name}, value {value:?}: {why}"
            ));
        };
        macro_rules! field {
            ($name:literal, $parse:expr) => {
                match get($name) {
                    None => None,
                    Some(v) => match $parse(v) {
                        Ok(x) => Some(x),
                        Err(why) => {
                            bad($name, v, why);
                            None
                        }
                    },
                }
            };
        }
        let num = |v: &str| v.parse::<f64>().map_err(|_| "not a number".to_string());
        let date = |v: &str| {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| "expected YYYY-MM-DD".to_string())
        };
        let id: Option<i64> = field!("id", |v: &str| v
            .parse::<i64>()
            .map_err(|_| "not a measure id".to_string()));
        let kind: Option<MeasureKind> = field!("kind", enum_of);
        let status: Option<MeasureStatus> = field!("status", enum_of);
        let planned = field!("planned_date", date);
        let done = field!("done_date", date);
        let cost = field!("cost_sek", num);
        let buffer = field!("buffer_m", num);
        let points = field!("points", |v: &str| -> Result<Vec<[f64; 2]>, String> {
            v.split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let xy: Vec<f64> = p
                        .split_whitespace()
                        .map(|c| c.parse::<f64>())
                        .collect::<Result<_, _>>()
                        .map_err(|_| format!("{p:?} is not \"long lat\""))?;
                    match xy[..] {
                        [lon, lat] => Ok([lon, lat]),
                        _ => Err(format!("{p:?} is not \"long lat\"")),
                    }
                })
                .collect()
        });
        let walkways: Option<Vec<i64>> = field!("walkway_ids", list);
        let reports: Option<Vec<i64>> = field!("report_ids", list);
        let lamps: Option<Vec<String>> = get("lamp_ids").map(|v| {
            v.split(';')
                .map(|s| unguard(s.trim()).to_string())
                .filter(|s| !s.is_empty())
                .collect()
        });
        let height = field!("lamp_height_m", num);
        let lumen = field!("lamp_lumen", num);
        let lamp = match (height, lumen) {
            (Some(h), Some(l)) => Some(LampType {
                height_m: h,
                lumen: l,
            }),
            (None, None) => None,
            _ => {
                bad(
                    "lamp_height_m",
                    get("lamp_height_m").unwrap_or(""),
                    "give lamp_height_m and lamp_lumen together".into(),
                );
                None
            }
        };
        let title = get("title").map(str::to_string);
        let place = PlaceInput {
            points: points.unwrap_or_default(),
            walkway_ids: walkways.unwrap_or_default(),
            report_ids: reports.unwrap_or_default(),
            lamp_ids: lamps.unwrap_or_default(),
            district: get("district").map(str::to_string),
            buffer_m: buffer,
        };
        let (Some(title), Some(kind)) = (title, kind) else {
            if get("title").is_none() {
                bad("title", "", "a measure needs a title".into());
            }
            if get("kind").is_none() {
                bad("kind", "", "a measure needs a kind".into());
            }
            continue;
        };
        let agency = get("agency").map(str::to_string);
        let notes = get("notes").map(str::to_string);
        rows.push(match id {
            None => Row::New {
                line,
                measure: NewMeasure {
                    title,
                    kind,
                    status,
                    agency,
                    place,
                    planned_date: planned,
                    done_date: done,
                    cost_sek: cost,
                    notes,
                    lamp,
                    close_reports: false,
                },
            },
            // A row is the whole measure: an empty cell clears the field.
            Some(id) => Row::Change {
                line,
                id,
                patch: MeasurePatch {
                    title: Some(title),
                    kind: Some(kind),
                    status,
                    agency: Some(agency),
                    place: Some(place),
                    planned_date: Some(planned),
                    done_date: Some(done),
                    cost_sek: Some(cost),
                    notes: Some(notes),
                    lamp: Some(lamp),
                    close_reports: false,
                },
            },
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_column_name_and_every_problem_is_named() {
        let ok = "kind,title,points,walkway_ids,done_date,status,id\n\
                  new_lamp,'=Ny lampa,18.07 59.44;18.071 59.441,4;5,2026-03-01,done,\n\
                  patrol_effort,Synlig polis,,,,,7\n";
        let rows = parse(ok).unwrap();
        match &rows[0] {
            Row::New { line, measure } => {
                assert_eq!(*line, 2);
                assert_eq!(measure.title, "=Ny lampa");
                assert_eq!(measure.place.points, vec![[18.07, 59.44], [18.071, 59.441]]);
                assert_eq!(measure.place.walkway_ids, vec![4, 5]);
                assert_eq!(measure.status, Some(MeasureStatus::Done));
            }
            other => panic!("{other:?}"),
        }
        match &rows[1] {
            Row::Change { id, patch, .. } => {
                assert_eq!(*id, 7);
                assert_eq!(patch.notes, Some(None));
                assert_eq!(patch.kind, Some(MeasureKind::PatrolEffort));
            }
            other => panic!("{other:?}"),
        }
        let bad = "title,kind,planned_date,points\n\
                   A,laser,2026-13-01,18.07\n\
                   ,camera,,\n";
        let p = parse(bad).unwrap_err();
        assert_eq!(
            p,
            [
                "line 2, column kind, value \"laser\": unknown value",
                "line 2, column planned_date, value \"2026-13-01\": expected YYYY-MM-DD",
                "line 2, column points, value \"18.07\": \"18.07\" is not \"long lat\"",
                "line 3, column title, value \"\": a measure needs a title",
            ]
        );
        assert!(parse("title,kind,colour\n").unwrap_err()[0].contains("unknown column \"colour\""));
    }
}
