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
        match self {
            Self::P1 => 15.0,
            Self::P2 => 10.0,
            Self::P3 => 7.5,
            Self::P4 => 5.0,
            Self::P5 => 3.0,
            Self::P6 => 2.0,
        }
    }

    /// Maintained minimum horizontal illuminance Emin in lux.
    pub fn minimum_lux(self) -> f64 {
        match self {
            Self::P1 => 3.0,
            Self::P2 => 2.0,
            Self::P3 => 1.5,
            Self::P4 => 1.0,
            Self::P5 => 0.6,
            Self::P6 => 0.4,
        }
    }
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
