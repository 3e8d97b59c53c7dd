//! `lagesbild import bra FILE.csv --year Y`: BRÅ's reported crimes per municipality
//! (*anmälda brott per kommun*). `;`-separated, UTF-8 with a byte order mark,
//! `Kommun;Antal;Per 100 000 inv.`, thousands separated by spaces. Totals only: context and
//! trends, never points.

use std::path::PathBuf;

use super::csvutil::{self, Columns};
use super::{DuplicateGuard, Emitter, ImportError, RowError};
use crate::model::BraStat;

#[derive(Debug, Clone)]
pub struct BraOptions {
    pub path: PathBuf,
    /// The year the table is for; a `År` column, when present, wins.
    pub year: Option<i32>,
}

pub fn parse(opts: BraOptions, em: &mut Emitter<BraStat>) -> Result<(), ImportError> {
    let path = opts.path.clone();
    let mut rdr = csvutil::reader(&path, b';')?;
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
    let kommun = cols.require(&path, "the BRÅ format", "Kommun")?;
    let antal = cols.require(&path, "the BRÅ format", "Antal")?;
    let per = cols
        .find("Per 100 000 inv.")
        .or_else(|| cols.find("Per 100 000 inv"))
        .or_else(|| cols.find("Per 100 000 invånare"));
    let year_col = cols.find("År").or_else(|| cols.find("Year"));
    if year_col.is_none() && opts.year.is_none() {
        return Err(ImportError::Usage(format!(
            "{}: the table has no År column; say which year it is with --year",
            path.display()
        )));
    }
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
                continue;
            }
        }
        em.read();
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let row = (|| -> Result<BraStat, RowError> {
            let municipality = csvutil::field(&rec, kommun, "Kommun", line)?.to_string();
            let raw = csvutil::field(&rec, antal, "Antal", line)?;
            let count = csvutil::parse_number(raw)
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .ok_or_else(|| RowError::new(line, "Antal", raw, "expected a whole number"))?
                as i64;
            let per_100k =
                match csvutil::opt_field(&rec, per) {
                    None => None,
                    Some(v) => Some(csvutil::parse_number(v).ok_or_else(|| {
                        RowError::new(line, "Per 100 000 inv.", v, "not a number")
                    })?),
                };
            let year = match csvutil::opt_field(&rec, year_col) {
                Some(y) => y
                    .parse::<i32>()
                    .ok()
                    .filter(|y| (1950..=2100).contains(y))
                    .ok_or_else(|| RowError::new(line, "År", y, "not a year"))?,
                None => opts.year.expect("checked above"),
            };
            Ok(BraStat {
                year,
                municipality,
                count,
                per_100k,
            })
        })();
        match row {
            Ok(s) => match dups.check((s.year, s.municipality.to_lowercase()), line) {
                Some(first) => em.error(RowError::new(
                    line,
                    "Kommun",
                    &s.municipality,
                    format!(
                        "duplicate municipality for {}: first seen on line {first}",
                        s.year
                    ),
                )),
                None => em.row(s),
            },
            Err(e) => em.error(e),
        }
    }
    Ok(())
}
