//! EN 13201-2 lighting classes for pedestrian areas and paths (the P-series).
//!
//! Each class asks for a *maintained* average horizontal illuminance Ē over a calculation field
//! and a maintained minimum Emin at every point of it:
//!
//! | class | Ē (lx) | Emin (lx) |
//! | --- | --- | --- |
//! | P1 | 15.0 | 3.00 |
//! | P2 | 10.0 | 2.00 |
//! | P3 | 7.50 | 1.50 |
//! | P4 | 5.00 | 1.00 |
//! | P5 | 3.00 | 0.60 |
//! | P6 | 2.00 | 0.40 |
//!
//! The table is `data/en13201_p_classes.csv` (columns `class`, `average_lux`, `minimum_lux`),
//! built into the binary and parsed once.
//!
//! "Maintained" means after ageing and soiling: the illuminance model applies a maintenance
//! factor before comparing (see [`super::illuminance`]). A municipality may ask more of some kinds
//! of walkway than of others (a lit cycle commuter route P4, a park path P5), so the class is
//! chosen per walkway kind through a [`ClassPlan`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An EN 13201-2 P-class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PClass {
    P1,
    P2,
    P3,
    P4,
    P5,
    P6,
}

impl PClass {
    pub const ALL: [PClass; 6] = [Self::P1, Self::P2, Self::P3, Self::P4, Self::P5, Self::P6];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
            Self::P4 => "P4",
            Self::P5 => "P5",
            Self::P6 => "P6",
        }
    }

    /// Parses `P1` … `P6` (any case, surrounding blanks ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let t = s.trim().to_ascii_uppercase();
        Self::ALL.into_iter().find(|c| c.as_str() == t)
    }

    /// Maintained average horizontal illuminance Ē in lux.
    pub fn average_lux(self) -> f64 {
        table()[self as usize].average_lux
    }

    /// Maintained minimum horizontal illuminance Emin in lux.
    pub fn minimum_lux(self) -> f64 {
        table()[self as usize].minimum_lux
    }
}

/// The lighting classes table, `data/en13201_p_classes.csv`.
const TABLE_CSV: &str = include_str!("../../../data/en13201_p_classes.csv");

/// What one P-class asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassLevels {
    pub class: PClass,
    /// Maintained average horizontal illuminance Ē, lux.
    pub average_lux: f64,
    /// Maintained minimum horizontal illuminance Emin, lux.
    pub minimum_lux: f64,
}

/// The table, parsed once, on first use, indexed by `PClass as usize`. This module's tests
/// check it; a malformed table cannot reach a release.
fn table() -> &'static [ClassLevels; 6] {
    static TABLE: std::sync::LazyLock<[ClassLevels; 6]> = std::sync::LazyLock::new(|| {
        parse_table(TABLE_CSV)
            .unwrap_or_else(|e| panic!("data/en13201_p_classes.csv is malformed: {e}"))
    });
    &TABLE
}

/// Parses a P-class table: the header `class,average_lux,minimum_lux`, then P1 … P6 in order,
/// each once, with finite positive values, Emin ≤ Ē, and both strictly falling from class to
/// class (P1 asks the most, P6 the least), as EN 13201-2 orders them.
pub fn parse_table(csv_text: &str) -> Result<[ClassLevels; 6], String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    if headers.iter().collect::<Vec<_>>() != ["class", "average_lux", "minimum_lux"] {
        return Err(format!(
            "header {headers:?}, expected class,average_lux,minimum_lux"
        ));
    }
    let mut rows: Vec<ClassLevels> = Vec::with_capacity(6);
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| format!("line {line}: {e}"))?;
        let class = PClass::parse(&record[0])
            .ok_or_else(|| format!("line {line}: {:?} is not a class P1 … P6", &record[0]))?;
        let lux = |field: usize| -> Result<f64, String> {
            let v: f64 = record[field]
                .parse()
                .map_err(|_| format!("line {line}: {:?} is not a number", &record[field]))?;
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(format!("line {line}: {v} lx is not a positive illuminance"))
            }
        };
        let (average_lux, minimum_lux) = (lux(1)?, lux(2)?);
        if class as usize != rows.len() {
            return Err(format!(
                "line {line}: {class} where {} was expected (P1 … P6, in order, each once)",
                PClass::ALL
                    .get(rows.len())
                    .map_or("the end", |c| c.as_str())
            ));
        }
        if minimum_lux > average_lux {
            return Err(format!(
                "line {line}: {class}'s minimum {minimum_lux} lx exceeds its average {average_lux} lx"
            ));
        }
        if let Some(prev) = rows.last()
            && (average_lux >= prev.average_lux || minimum_lux >= prev.minimum_lux)
        {
            return Err(format!(
                "line {line}: {class} must ask for less light than {} ({average_lux}/{minimum_lux} lx \
                 against {}/{} lx)",
                prev.class, prev.average_lux, prev.minimum_lux
            ));
        }
        rows.push(ClassLevels {
            class,
            average_lux,
            minimum_lux,
        });
    }
    rows.try_into()
        .map_err(|rows: Vec<ClassLevels>| format!("{} classes, expected P1 … P6", rows.len()))
}

impl fmt::Display for PClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which class applies to which walkway: one default and optional overrides per OSM kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClassPlan {
    pub default: PClass,
    /// Walkway kind (`footway`, `cycleway`, `sidewalk`, …) to class.
    pub by_kind: BTreeMap<String, PClass>,
}

impl Default for ClassPlan {
    fn default() -> Self {
        Self::uniform(PClass::P5)
    }
}

impl ClassPlan {
    /// The same class for every walkway.
    pub fn uniform(class: PClass) -> Self {
        Self {
            default: class,
            by_kind: BTreeMap::new(),
        }
    }

    pub fn for_kind(&self, kind: &str) -> PClass {
        self.by_kind.get(kind).copied().unwrap_or(self.default)
    }

    /// Adds overrides written `footway=P4,steps:P3` (either `=` or `:` between kind and class).
    pub fn with_overrides(mut self, spec: &str) -> Result<Self, String> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, class) = part
                .split_once(['=', ':'])
                .ok_or_else(|| format!("{part:?}: expected kind=class, for example footway=P4"))?;
            let class = PClass::parse(class)
                .ok_or_else(|| format!("{part:?}: {class:?} is not a class P1 … P6"))?;
            let kind = kind.trim();
            if kind.is_empty() {
                return Err(format!("{part:?}: the walkway kind is missing"));
            }
            self.by_kind.insert(kind.to_string(), class);
        }
        Ok(self)
    }

    /// A stable text form, e.g. `P5;footway=P4`, for cache keys and output.
    pub fn key(&self) -> String {
        let mut s = self.default.as_str().to_string();
        for (k, c) in &self.by_kind {
            s.push(';');
            s.push_str(k);
            s.push('=');
            s.push_str(c.as_str());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_en_13201_2() {
        let expected = [
            (PClass::P1, 15.0, 3.0),
            (PClass::P2, 10.0, 2.0),
            (PClass::P3, 7.5, 1.5),
            (PClass::P4, 5.0, 1.0),
            (PClass::P5, 3.0, 0.6),
            (PClass::P6, 2.0, 0.4),
        ];
        for (c, avg, min) in expected {
            assert_eq!(c.average_lux(), avg, "{c}");
            assert_eq!(c.minimum_lux(), min, "{c}");
            // The standard keeps Emin at a fifth of Ē throughout the P-series.
            assert!((c.minimum_lux() * 5.0 - c.average_lux()).abs() < 1e-9);
        }
    }

    #[test]
    fn the_table_in_data_is_well_formed_and_monotone() {
        let t = parse_table(TABLE_CSV).unwrap();
        for (i, row) in t.iter().enumerate() {
            assert_eq!(row.class, PClass::ALL[i]);
            if i > 0 {
                assert!(row.average_lux < t[i - 1].average_lux, "{}", row.class);
                assert!(row.minimum_lux < t[i - 1].minimum_lux, "{}", row.class);
            }
        }
    }

    #[test]
    fn malformed_tables_are_refused() {
        let good = "class,average_lux,minimum_lux\nP1,15,3\nP2,10,2\nP3,7.5,1.5\nP4,5,1\nP5,3,0.6\nP6,2,0.4\n";
        assert!(parse_table(good).is_ok());
        for (bad, why) in [
            (good.replace("P3,7.5", "P3,10.5"), "average rises"),
            (good.replace("P4,5,1\n", "P4,5,2.5\n"), "minimum rises"),
            (
                good.replace("P5,3,0.6", "P5,3,3.5"),
                "minimum above average",
            ),
            (good.replace("P2,10,2\n", ""), "class missing"),
            (good.replace("P6", "P5"), "class twice"),
            (
                good.replace("P6,2,0.4\n", "P6,2,0.4\nP7,1,0.2\n"),
                "unknown class",
            ),
            (good.replace("P1,15,3", "P1,15 lx,3"), "not a number"),
            (good.replace("P6,2,0.4", "P6,2,0"), "zero"),
            (good.replace("P1,15,3", "P1,inf,3"), "infinite"),
            (good.replace("average_lux", "avg"), "header"),
        ] {
            assert!(parse_table(&bad).is_err(), "{why}: accepted");
        }
    }

    #[test]
    fn parses_classes_and_overrides() {
        assert_eq!(PClass::parse(" p3 "), Some(PClass::P3));
        assert_eq!(PClass::parse("P7"), None);
        let plan = ClassPlan::uniform(PClass::P5)
            .with_overrides("footway=P4, steps:P3")
            .unwrap();
        assert_eq!(plan.for_kind("footway"), PClass::P4);
        assert_eq!(plan.for_kind("steps"), PClass::P3);
        assert_eq!(plan.for_kind("path"), PClass::P5);
        assert_eq!(plan.key(), "P5;footway=P4;steps=P3");
        assert!(ClassPlan::default().with_overrides("footway").is_err());
        assert!(ClassPlan::default().with_overrides("footway=P9").is_err());
    }
}
