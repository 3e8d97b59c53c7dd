//! `lagesbild import bra FILE.csv --year Y`: BRÅ's reported crimes per municipality
//! (*anmälda brott per kommun*). `;`-separated, UTF-8 with a byte order mark,
//! `Kommun;Antal;Per 100 000 inv.`, thousands separated by spaces. Totals only: context and
//! trends, never points.

use std::path::PathBuf;

use super::csvutil::{self, Columns, Next};
use super::{DuplicateGuard, Emitter, ImportError, RowError};
use crate::model::BraStat;

#[derive(Debug, Clone)]
pub struct BraOptions {
    pub path: PathBuf,
    /// The year the table is for; a `År` column, when present, wins.
    pub year: Option<i32>,
    /// `--encoding`; `None`: UTF-8 (UTF-16 with a BOM is recognised).
    pub encoding: Option<&'static encoding_rs::Encoding>,
}

/// Where the fields of a BRÅ row are (column indices).
#[derive(Debug, Clone, Default)]
pub struct BraLayout {
    pub kommun: usize,
    pub antal: usize,
    pub per_100k: Option<usize>,
    pub year: Option<usize>,
}

pub fn parse(opts: BraOptions, em: &mut Emitter<BraStat>) -> Result<(), ImportError> {
    let path = opts.path.clone();
    let mut src = csvutil::open(&path, Some(b';'), opts.encoding)?;
    let cols = Columns::new(src.headers());
    let layout = BraLayout {
        kommun: cols.require(&path, "the BRÅ format", "Kommun")?,
        antal: cols.require(&path, "the BRÅ format", "Antal")?,
        per_100k: cols
            .find("Per 100 000 inv.")
            .or_else(|| cols.find("Per 100 000 inv"))
            .or_else(|| cols.find("Per 100 000 invånare")),
        year: cols.find("År").or_else(|| cols.find("Year")),
    };
    if layout.year.is_none() && opts.year.is_none() {
        return Err(ImportError::Usage(format!(
            "{}: the table has no År column; say which year it is with --year",
            path.display()
        )));
    }
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
        match bra_row(&rec, line, &layout, opts.year) {
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
        if em.is_closed() {
            break;
        }
    }
    Ok(())
}

/// Reads one BRÅ row; `year` applies when the table has no År column. Public for the property
/// tests (tests/fuzz_import.rs).
pub fn bra_row(
    rec: &csv::StringRecord,
    line: u64,
    layout: &BraLayout,
    year: Option<i32>,
) -> Result<BraStat, RowError> {
    let municipality = csvutil::field(rec, layout.kommun, "Kommun", line)?.to_string();
    let raw = csvutil::field(rec, layout.antal, "Antal", line)?;
    let count = csvutil::parse_number(raw)
        .filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n < 1e15)
        .ok_or_else(|| RowError::new(line, "Antal", raw, "expected a whole number"))?
        as i64;
    let per_100k = match csvutil::opt_field(rec, layout.per_100k, "Per 100 000 inv.", line)? {
        None => None,
        Some(v) => Some(
            csvutil::parse_number(v)
                .ok_or_else(|| RowError::new(line, "Per 100 000 inv.", v, "not a number"))?,
        ),
    };
    let year = match csvutil::opt_field(rec, layout.year, "År", line)? {
        Some(y) => y
            .parse::<i32>()
            .ok()
            .filter(|y| (1950..=2100).contains(y))
            .ok_or_else(|| RowError::new(line, "År", y, "not a year"))?,
        None => year.ok_or_else(|| {
            RowError::new(line, "År", "", "missing, and no --year given for the table")
        })?,
    };
    Ok(BraStat {
        year,
        municipality,
        count,
        per_100k,
    })
}
