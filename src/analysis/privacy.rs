//! The public product: what an anonymous caller may ask and what the answer may carry.
//!
//! # Why a product and not per-answer suppression
//!
//! Incident points are personal data in practice: a place and a time can identify a victim.
//! Hiding counts below k in each answer is not enough when the caller chooses the question:
//! with one day, one hour and a bbox halved forty times, two allowed answers differ by one event
//! and its place falls out of the difference (an outsider placed an event to 1 cm that way).
//! So anonymous callers get a **fixed, coarse query space** and every answer is a function of
//! coarse aggregates only:
//!
//! - **space**: square cells of [`PublicRules::cell`] metres (200 m by default) aligned to the
//!   origin of EPSG:3006, or those cells doubled up to three times (400, 800, 1 600 m), which
//!   nest exactly, so no two allowed grids cut a cell into smaller pieces. Membership of a
//!   district is decided by the cell's centre, never by the event's point. Hexagons, a bbox and
//!   other cell sizes are for signed-in roles;
//! - **time**: whole calendar months (local time), and hours of day only as unions of the four
//!   six-hour day parts (natt 00–06, morgon 06–12, eftermiddag 12–18, kväll 18–24). No weekday
//!   filter;
//! - **what**: category groups, not single categories;
//! - **methods**: Gi\* on those cells (the `bin` after FDR and the cell's count when it is at
//!   least k — not `z` or `p`, from which the counts of the neighbouring cells could be solved
//!   for) and kernel density computed from the events *moved to their cell's centre*, with a
//!   bandwidth of at least 300 m, over a raster whose extent does not depend on the filter. No
//!   DBSCAN hulls: they are drawn through incident points;
//! - **numbers**: counts below k are absent (`null`); totals (`included`, the events known
//!   only to a municipality) are rounded down to tens and absent below ten; `filtered_out` and
//!   `suppressed` are not given at all.
//!
//! What follows (and what `tests/privacy.rs` checks against a real server): moving an event
//! anywhere inside its public cell, or to another time in the same month and day part, leaves
//! every anonymous answer byte for byte the same. An event can therefore not be placed more
//! precisely than its 200 m cell and month. What remains learnable — by differencing two
//! allowed answers — is that a cell held a few events of a group in a month and day part; the
//! README's "What the public can learn" says so in words.

use chrono::{Datelike, NaiveDate};

use super::filter::HourSet;
use super::hotspot::gistar::StudyArea;

/// Why an anonymous request was refused; names the parameter, the value and the rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{param}={value:?}: {rule} (the public product; signed-in roles choose freely)")]
pub struct PublicRefusal {
    pub param: &'static str,
    pub value: String,
    pub rule: String,
}

fn refuse(param: &'static str, value: impl ToString, rule: impl Into<String>) -> PublicRefusal {
    PublicRefusal {
        param,
        value: value.to_string(),
        rule: rule.into(),
    }
}

/// The four six-hour parts of the day the public may filter by, as `(name, first hour, end)`.
pub const DAY_PARTS: [(&str, usize, usize); 4] = [
    ("natt", 0, 6),
    ("morgon", 6, 12),
    ("eftermiddag", 12, 18),
    ("kväll", 18, 24),
];

/// How many times the public cell may be doubled (200 → 400 → 800 → 1 600 m).
pub const MAX_DOUBLINGS: u32 = 3;

/// The public band is at most this many cells.
pub const MAX_BAND_CELLS: f64 = 10.0;

/// The rules of the public product, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublicRules {
    /// Smallest count shown (k).
    pub k: u32,
    /// Side of the public cell in metres.
    pub cell: f64,
    /// Smallest kernel density bandwidth in metres.
    pub min_bandwidth: f64,
}

impl PublicRules {
    pub fn new(k: u32, cell: f64, min_bandwidth: f64) -> Self {
        Self {
            k: k.max(1),
            cell,
            min_bandwidth,
        }
    }

    /// The Gi\* band used when an anonymous caller gives none: 2.5 cells, so each cell has the
    /// eight around it and the four beyond the sides.
    pub fn default_band(&self, cell: f64) -> f64 {
        2.5 * cell
    }

    /// The KDE bandwidth used when an anonymous caller gives none.
    pub fn default_bandwidth(&self) -> f64 {
        self.min_bandwidth.max(2.0 * self.cell)
    }

    /// The raster cell of the public heat map: a quarter of the public cell (the surface is
    /// smooth at that scale; its input is the cells' centres).
    pub fn kde_cell(&self) -> f64 {
        self.cell / 4.0
    }

    /// The cell sizes an anonymous caller may choose.
    pub fn allowed_cells(&self) -> Vec<f64> {
        (0..=MAX_DOUBLINGS)
            .map(|d| self.cell * f64::from(1u32 << d))
            .collect()
    }

    /// Checks a Gi\* cell size (`None`: the public cell).
    pub fn gistar_cell(&self, requested: Option<f64>) -> Result<f64, PublicRefusal> {
        let Some(c) = requested else {
            return Ok(self.cell);
        };
        let allowed = self.allowed_cells();
        if allowed.iter().any(|a| (a - c).abs() < 1e-9) {
            return Ok(c);
        }
        Err(refuse(
            "cell",
            c,
            format!(
                "the public grid has cells of {} m",
                allowed
                    .iter()
                    .map(|a| format!("{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    /// Checks a Gi\* band for a cell size (`None`: [`Self::default_band`]).
    pub fn gistar_band(&self, cell: f64, requested: Option<f64>) -> Result<f64, PublicRefusal> {
        let Some(b) = requested else {
            return Ok(self.default_band(cell));
        };
        if b < cell || b > MAX_BAND_CELLS * cell {
            return Err(refuse(
                "band",
                b,
                format!(
                    "expected {cell} to {} m for cells of {cell} m",
                    MAX_BAND_CELLS * cell
                ),
            ));
        }
        Ok(b)
    }

    /// Checks a KDE bandwidth (`None`: [`Self::default_bandwidth`]).
    pub fn bandwidth(&self, requested: Option<f64>) -> Result<f64, PublicRefusal> {
        match requested {
            None => Ok(self.default_bandwidth()),
            Some(h) if h >= self.min_bandwidth => Ok(h),
            Some(h) => Err(refuse(
                "bandwidth",
                h,
                format!(
                    "the public heat map has a bandwidth of at least {} m",
                    self.min_bandwidth
                ),
            )),
        }
    }

    /// Checks that `from`…`to` are whole calendar months.
    pub fn period(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<(), PublicRefusal> {
        if let Some(f) = from
            && f.day() != 1
        {
            return Err(refuse(
                "from",
                f,
                "periods are whole months: from is the first day of a month (or give YYYY-MM)",
            ));
        }
        if let Some(t) = to
            && t.succ_opt().is_some_and(|n| n.day() != 1)
        {
            return Err(refuse(
                "to",
                t,
                "periods are whole months: to is the last day of a month (or give YYYY-MM)",
            ));
        }
        Ok(())
    }

    /// Checks that an hour filter is a union of the day parts.
    pub fn hours(&self, hours: &HourSet) -> Result<(), PublicRefusal> {
        let whole = DAY_PARTS.iter().all(|(_, a, b)| {
            (*a..*b).all(|h| hours.contains(h)) || (*a..*b).all(|h| !hours.contains(h))
        });
        if whole {
            return Ok(());
        }
        let shown: Vec<String> = (0..24)
            .filter(|h| hours.contains(*h))
            .map(|h| h.to_string())
            .collect();
        Err(refuse(
            "hours",
            shown.join(","),
            "hours are whole parts of the day: 0-6 (natt), 6-12 (morgon), 12-18 (eftermiddag), 18-24 (kväll), or unions such as 18-6",
        ))
    }

    /// A count as the public may see it: absent below k.
    pub fn count(&self, n: u64) -> Option<u64> {
        (n >= u64::from(self.k)).then_some(n)
    }

    /// A total as the public may see it: rounded down to tens, absent below ten (or below k
    /// when k is larger). Exact totals would let two answers be subtracted to one event.
    pub fn total(&self, n: u64) -> Option<u64> {
        if n < 10 || n < u64::from(self.k) {
            None
        } else {
            Some(n / 10 * 10)
        }
    }

    /// The public cell holding `p`.
    pub fn cell_of(&self, p: [f64; 2]) -> (i64, i64) {
        (
            (p[0] / self.cell).floor() as i64,
            (p[1] / self.cell).floor() as i64,
        )
    }

    /// The centre of the public cell holding `p`: the only position of an event that public
    /// answers are computed from where a method would otherwise use the point.
    pub fn cell_centre(&self, p: [f64; 2]) -> [f64; 2] {
        let (i, j) = self.cell_of(p);
        [(i as f64 + 0.5) * self.cell, (j as f64 + 0.5) * self.cell]
    }

    /// Points moved to their public cell's centre.
    pub fn snap(&self, points: &[[f64; 2]]) -> Vec<[f64; 2]> {
        points.iter().map(|p| self.cell_centre(*p)).collect()
    }

    /// The fixed extent of public rasters and grids: the box of `points` (all point-level
    /// incidents of the snapshot, whatever the filter) grown to whole blocks of the largest
    /// public cell. It depends on the data as a whole, never on a query.
    pub fn extent(&self, points: impl IntoIterator<Item = [f64; 2]>) -> Option<PublicExtent> {
        let block = self.cell * f64::from(1u32 << MAX_DOUBLINGS);
        let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
        let mut any = false;
        for p in points {
            any = true;
            lo = [lo[0].min(p[0]), lo[1].min(p[1])];
            hi = [hi[0].max(p[0]), hi[1].max(p[1])];
        }
        any.then(|| PublicExtent {
            lo: [
                (lo[0] / block).floor() * block,
                (lo[1] / block).floor() * block,
            ],
            hi: [
                ((hi[0] / block).floor() + 1.0) * block,
                ((hi[1] / block).floor() + 1.0) * block,
            ],
        })
    }
}

/// A fixed box in EPSG:3006, on whole blocks of the largest public cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublicExtent {
    pub lo: [f64; 2],
    pub hi: [f64; 2],
}

impl PublicExtent {
    pub fn contains(&self, p: [f64; 2]) -> bool {
        p[0] >= self.lo[0] && p[0] < self.hi[0] && p[1] >= self.lo[1] && p[1] < self.hi[1]
    }
}

/// The study area of a public Gi\* analysis: the public extent, cut to a district when one is
/// asked for. Cells belong to it by their centre.
pub struct PublicStudyArea<'a> {
    pub extent: PublicExtent,
    pub district: Option<&'a dyn StudyArea>,
}

impl StudyArea for PublicStudyArea<'_> {
    fn bounds(&self) -> ([f64; 2], [f64; 2]) {
        match self.district {
            Some(d) => {
                let (lo, hi) = d.bounds();
                (
                    [lo[0].max(self.extent.lo[0]), lo[1].max(self.extent.lo[1])],
                    [hi[0].min(self.extent.hi[0]), hi[1].min(self.extent.hi[1])],
                )
            }
            None => (self.extent.lo, self.extent.hi),
        }
    }

    fn contains(&self, p: [f64; 2]) -> bool {
        self.extent.contains(p) && self.district.is_none_or(|d| d.contains(p))
    }
}

/// Whether a dark stretch may show the public its count of incidents after dark: the count is
/// at least k and the stretch is long enough that "within 50 m of it" is no place (its buffer
/// spans at least two public half-cells).
pub fn stretch_incidents_shown(rules: &PublicRules, count: usize, length_m: f64) -> bool {
    count as u64 >= u64::from(rules.k) && length_m >= rules.cell / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> PublicRules {
        PublicRules::new(3, 200.0, 300.0)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn cells_nest_and_only_doublings_are_allowed() {
        let r = rules();
        assert_eq!(r.allowed_cells(), vec![200.0, 400.0, 800.0, 1600.0]);
        assert_eq!(r.gistar_cell(None), Ok(200.0));
        assert_eq!(r.gistar_cell(Some(800.0)), Ok(800.0));
        for bad in [10.0, 100.0, 199.0, 201.0, 300.0, 3200.0] {
            let e = r.gistar_cell(Some(bad)).unwrap_err();
            assert_eq!(e.param, "cell");
            assert!(e.to_string().contains("200, 400, 800, 1600"), "{e}");
        }
    }

    #[test]
    fn band_is_between_one_and_ten_cells() {
        let r = rules();
        assert_eq!(r.gistar_band(200.0, None), Ok(500.0));
        assert_eq!(r.gistar_band(200.0, Some(200.0)), Ok(200.0));
        assert!(r.gistar_band(200.0, Some(199.0)).is_err());
        assert!(r.gistar_band(200.0, Some(2001.0)).is_err());
        assert!(r.gistar_band(400.0, Some(50_000.0)).is_err());
    }

    #[test]
    fn bandwidth_has_a_floor() {
        let r = rules();
        assert_eq!(r.bandwidth(None), Ok(400.0));
        assert_eq!(r.bandwidth(Some(300.0)), Ok(300.0));
        assert_eq!(r.bandwidth(Some(10.0)).unwrap_err().param, "bandwidth");
    }

    #[test]
    fn periods_are_whole_months() {
        let r = rules();
        assert!(
            r.period(Some(d("2026-03-01")), Some(d("2026-03-31")))
                .is_ok()
        );
        assert!(
            r.period(Some(d("2024-02-01")), Some(d("2024-02-29")))
                .is_ok()
        );
        assert!(
            r.period(Some(d("2026-01-01")), Some(d("2026-12-31")))
                .is_ok()
        );
        assert!(r.period(None, None).is_ok());
        assert_eq!(
            r.period(Some(d("2026-03-02")), None).unwrap_err().param,
            "from"
        );
        assert_eq!(
            r.period(None, Some(d("2026-03-30"))).unwrap_err().param,
            "to"
        );
        assert_eq!(r.period(None, Some(d("2023-02-28"))), Ok(()));
    }

    #[test]
    fn hours_are_unions_of_day_parts() {
        let r = rules();
        for ok in ["18-24", "0-6", "18-6", "6-18", "12-18,0-6"] {
            let h = HourSet::parse(ok).unwrap();
            assert!(r.hours(&h).is_ok(), "{ok}");
        }
        for bad in ["20-21", "22-04", "7-9", "18-23", "5"] {
            let h = HourSet::parse(bad).unwrap();
            assert_eq!(r.hours(&h).unwrap_err().param, "hours", "{bad}");
        }
    }

    #[test]
    fn counts_below_k_and_totals_below_ten_are_absent() {
        let r = rules();
        assert_eq!(r.count(0), None);
        assert_eq!(r.count(2), None);
        assert_eq!(r.count(3), Some(3));
        assert_eq!(r.total(9), None);
        assert_eq!(r.total(10), Some(10));
        assert_eq!(r.total(19), Some(10));
        assert_eq!(r.total(1234), Some(1230));
        let big_k = PublicRules::new(25, 200.0, 300.0);
        assert_eq!(big_k.total(20), None);
        assert_eq!(big_k.total(25), Some(20));
    }

    #[test]
    fn points_snap_to_their_cell_centre_whatever_the_sign() {
        let r = rules();
        // 673 983.5 / 200 = 3 369.9 → cell 3 369, centre 3 369.5 × 200.
        assert_eq!(
            r.cell_centre([673_983.5, 6_593_495.7]),
            [673_900.0, 6_593_500.0]
        );
        assert_eq!(
            r.cell_centre([673_800.0, 6_593_400.0]),
            [673_900.0, 6_593_500.0]
        );
        assert_eq!(r.cell_centre([-1.0, -199.0]), [-100.0, -100.0]);
        // Anywhere in one cell is the same centre.
        let a = r.cell_centre([1_000.1, 2_000.1]);
        let b = r.cell_centre([1_199.9, 2_199.9]);
        assert_eq!(a, b);
    }

    #[test]
    fn the_extent_is_on_whole_blocks() {
        let r = rules();
        let e = r.extent([[1_000.0, 2_000.0], [5_000.0, 2_100.0]]).unwrap();
        assert_eq!(e.lo, [0.0, 1_600.0]);
        assert_eq!(e.hi, [6_400.0, 3_200.0]);
        // Moving the outermost point inside its block does not move the extent.
        let f = r.extent([[1_500.0, 2_000.0], [4_900.0, 2_100.0]]).unwrap();
        assert_eq!(e, f);
        assert!(r.extent(std::iter::empty()).is_none());
    }

    #[test]
    fn short_stretches_never_show_incident_counts() {
        let r = rules();
        assert!(!stretch_incidents_shown(&r, 2, 500.0));
        assert!(!stretch_incidents_shown(&r, 5, 20.0));
        assert!(stretch_incidents_shown(&r, 3, 100.0));
    }
}
