//! Period A against period B: which hotspots are new, gone, growing or shrinking.
//!
//! # Cells (Gi*)
//!
//! Both periods are counted on the same grid (cell and band derived once, from both periods'
//! points together, when not given) and tested separately. A cell is reported when it is a hot
//! spot (bin ≥ +2, 95 % after FDR) in either period:
//! - `new`: hot in B, not in A; `gone`: hot in A, not in B;
//! - hot in both: `up`, `down` or `same` by the rate test below.
//!
//! Cold spots are not compared: "fewer incidents than elsewhere" is not what a comparison of
//! hotspots is asked for.
//!
//! # Clusters (DBSCAN)
//!
//! Clusters are found in each period separately. A B cluster *continues* the A clusters whose
//! hulls it intersects; its `count_a` is their total. B clusters continuing none are `new`; A
//! clusters that no B cluster continues are `gone`; the rest are `up`, `down` or `same`.
//!
//! # The rate test
//!
//! Periods may differ in length. With counts a and b over `t_a` and `t_b` days and equal rates,
//! b given n = a + b is Binomial(n, t_b/(t_a + t_b)) (the conditional test for two Poisson
//! rates, Przyborowski & Wileński 1940). The two-sided p-value sums the probabilities of all
//! outcomes no more likely than b; below 0.05 the change is `up` or `down`, else `same`.

use geo::{Intersects, Polygon};
use serde::Serialize;

use super::gistar::{GiStarParams, StudyArea, derive_cell_with, hot_spots_with};
use super::grid::CellId;
use crate::analysis::cancel::{Cancel, Cancelled};

/// What happened between the periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Up,
    Down,
    New,
    Gone,
    Same,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::New => "new",
            Self::Gone => "gone",
            Self::Same => "same",
        }
    }
}

fn ln_gamma(x: f64) -> f64 {
    // Lanczos (g = 7, n = 9), accurate to ~15 digits for x > 0.
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn ln_binom_pmf(k: u64, n: u64, p: f64) -> f64 {
    let (kf, nf) = (k as f64, n as f64);
    let ln_choose = ln_gamma(nf + 1.0) - ln_gamma(kf + 1.0) - ln_gamma(nf - kf + 1.0);
    let a = if k == 0 { 0.0 } else { kf * p.ln() };
    let b = if k == n {
        0.0
    } else {
        (nf - kf) * (1.0 - p).ln()
    };
    ln_choose + a + b
}

/// Two-sided p-value of `b` events in B against `a` in A under equal rates, periods of
/// `days_a` and `days_b`.
pub fn rate_test(a: u64, b: u64, days_a: f64, days_b: f64) -> f64 {
    let n = a + b;
    if n == 0 || days_a <= 0.0 || days_b <= 0.0 {
        return 1.0;
    }
    let p = days_b / (days_a + days_b);
    let observed = ln_binom_pmf(b, n, p);
    let mut total = 0.0;
    for k in 0..=n {
        let l = ln_binom_pmf(k, n, p);
        if l <= observed + 1e-7 {
            total += l.exp();
        }
    }
    total.min(1.0)
}

/// `up`, `down` or `same` for a hotspot present in both periods.
pub fn rate_change(a: u64, b: u64, days_a: f64, days_b: f64) -> Change {
    if rate_test(a, b, days_a, days_b) >= 0.05 {
        return Change::Same;
    }
    if b as f64 / days_b > a as f64 / days_a {
        Change::Up
    } else {
        Change::Down
    }
}

/// One cell of a Gi* comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellChange {
    pub id: CellId,
    pub centre: [f64; 2],
    pub count_a: u32,
    pub count_b: u32,
    pub bin_a: i8,
    pub bin_b: i8,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GiStarComparison {
    pub cell: f64,
    pub band: f64,
    pub cell_derived: bool,
    pub band_derived: bool,
    pub cells: Vec<CellChange>,
}

/// Compares Gi* hot spots of two periods (see the module documentation).
pub fn compare_gistar(
    a: &[[f64; 2]],
    b: &[[f64; 2]],
    days: (f64, f64),
    params: &GiStarParams,
    study_area: Option<&dyn StudyArea>,
) -> GiStarComparison {
    compare_gistar_with(a, b, days, params, study_area, &Cancel::never()).expect("never cancelled")
}

/// [`compare_gistar`], stopping with [`Cancelled`] soon after `cancel` is tripped.
pub fn compare_gistar_with(
    a: &[[f64; 2]],
    b: &[[f64; 2]],
    days: (f64, f64),
    params: &GiStarParams,
    study_area: Option<&dyn StudyArea>,
    cancel: &Cancel,
) -> Result<GiStarComparison, Cancelled> {
    let both: Vec<[f64; 2]> = a.iter().chain(b).copied().collect();
    let cell_derived = params.cell.is_none();
    let cell = match params.cell {
        Some(c) => c,
        None => derive_cell_with(&both, cancel)?,
    };
    let band = match params.band {
        Some(b) => b,
        None => {
            hot_spots_with(
                &both,
                &GiStarParams {
                    grid: params.grid,
                    cell: Some(cell),
                    band: None,
                },
                study_area,
                cancel,
            )?
            .band
        }
    };
    let fixed = GiStarParams {
        grid: params.grid,
        cell: Some(cell),
        band: Some(band),
    };
    let ra = hot_spots_with(a, &fixed, study_area, cancel)?;
    let rb = hot_spots_with(b, &fixed, study_area, cancel)?;
    let mut by_id: std::collections::BTreeMap<(i32, i32), CellChange> = Default::default();
    let empty = |id: CellId, centre: [f64; 2]| CellChange {
        id,
        centre,
        count_a: 0,
        count_b: 0,
        bin_a: 0,
        bin_b: 0,
        change: Change::Same,
    };
    for c in &ra.cells {
        let e = by_id
            .entry((c.id.1, c.id.0))
            .or_insert_with(|| empty(c.id, c.centre));
        e.count_a = c.count;
        e.bin_a = c.bin;
    }
    for c in &rb.cells {
        let e = by_id
            .entry((c.id.1, c.id.0))
            .or_insert_with(|| empty(c.id, c.centre));
        e.count_b = c.count;
        e.bin_b = c.bin;
    }
    let cells = by_id
        .into_values()
        .filter_map(|mut c| {
            let (hot_a, hot_b) = (c.bin_a >= 2, c.bin_b >= 2);
            c.change = match (hot_a, hot_b) {
                (false, false) => return None,
                (false, true) => Change::New,
                (true, false) => Change::Gone,
                (true, true) => rate_change(c.count_a as u64, c.count_b as u64, days.0, days.1),
            };
            Some(c)
        })
        .collect();
    Ok(GiStarComparison {
        cell,
        band,
        cell_derived,
        band_derived: params.band.is_none(),
        cells,
    })
}

/// A cluster as the comparison sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOutline {
    pub id: String,
    pub hull: Polygon<f64>,
    pub count: usize,
    pub centre: [f64; 2],
}

/// One row of a cluster comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterChange {
    /// The B cluster's id, or the A cluster's for `gone`.
    pub id: String,
    pub hull: Polygon<f64>,
    pub centre: [f64; 2],
    pub count_a: usize,
    pub count_b: usize,
    pub change: Change,
    /// Ids of the A clusters a B cluster continues.
    pub continues: Vec<String>,
}

/// Matches clusters of two periods by overlapping hulls (see the module documentation).
pub fn compare_clusters(
    a: &[ClusterOutline],
    b: &[ClusterOutline],
    days: (f64, f64),
) -> Vec<ClusterChange> {
    compare_clusters_with(a, b, days, &Cancel::never()).expect("never cancelled")
}

/// [`compare_clusters`], stopping with [`Cancelled`] soon after `cancel` is tripped.
pub fn compare_clusters_with(
    a: &[ClusterOutline],
    b: &[ClusterOutline],
    days: (f64, f64),
    cancel: &Cancel,
) -> Result<Vec<ClusterChange>, Cancelled> {
    let mut matched_a = vec![false; a.len()];
    let mut out = Vec::new();
    for cb in b {
        cancel.check()?;
        let mut count_a = 0;
        let mut continues = Vec::new();
        for (i, ca) in a.iter().enumerate() {
            if ca.hull.intersects(&cb.hull) {
                matched_a[i] = true;
                count_a += ca.count;
                continues.push(ca.id.clone());
            }
        }
        let change = if continues.is_empty() {
            Change::New
        } else {
            rate_change(count_a as u64, cb.count as u64, days.0, days.1)
        };
        out.push(ClusterChange {
            id: cb.id.clone(),
            hull: cb.hull.clone(),
            centre: cb.centre,
            count_a,
            count_b: cb.count,
            change,
            continues,
        });
    }
    for (i, ca) in a.iter().enumerate() {
        if !matched_a[i] {
            out.push(ClusterChange {
                id: ca.id.clone(),
                hull: ca.hull.clone(),
                centre: ca.centre,
                count_a: ca.count,
                count_b: 0,
                change: Change::Gone,
                continues: Vec::new(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn rate_test_by_hand() {
        // a = 0, b = 10 over equal periods: P(X = 10) + P(X = 0) = 2 · 0.5¹⁰.
        let p = rate_test(0, 10, 30.0, 30.0);
        assert!((p - 2.0 * 0.5f64.powi(10)).abs() < 1e-12, "{p}");
        assert_eq!(rate_change(0, 10, 30.0, 30.0), Change::Up);
        assert_eq!(rate_change(5, 6, 30.0, 30.0), Change::Same);
        // Same rate over a period twice as long is not a change.
        assert_eq!(rate_change(20, 40, 30.0, 60.0), Change::Same);
        assert_eq!(rate_change(40, 5, 30.0, 30.0), Change::Down);
        // Symmetric: P(X ≤ 1) + P(X ≥ 9) for Bin(10, ½) = 2·11/1024.
        assert!((rate_test(9, 1, 1.0, 1.0) - 22.0 / 1024.0).abs() < 1e-12);
    }

    #[test]
    fn ln_gamma_on_factorials() {
        assert!((ln_gamma(11.0) - (3_628_800f64).ln()).abs() < 1e-10);
        assert!((ln_gamma(1.0)).abs() < 1e-12);
    }

    #[test]
    fn clusters_match_by_overlap() {
        let sq = |x: f64| polygon![(x: x, y: 0.0), (x: x + 10.0, y: 0.0), (x: x + 10.0, y: 10.0), (x: x, y: 10.0)];
        let a = vec![
            ClusterOutline {
                id: "a1".into(),
                hull: sq(0.0),
                count: 10,
                centre: [5.0, 5.0],
            },
            ClusterOutline {
                id: "a2".into(),
                hull: sq(100.0),
                count: 10,
                centre: [105.0, 5.0],
            },
        ];
        let b = vec![
            ClusterOutline {
                id: "b1".into(),
                hull: sq(5.0),
                count: 40,
                centre: [10.0, 5.0],
            },
            ClusterOutline {
                id: "b2".into(),
                hull: sq(300.0),
                count: 8,
                centre: [305.0, 5.0],
            },
        ];
        let out = compare_clusters(&a, &b, (30.0, 30.0));
        assert_eq!(out.len(), 3);
        assert_eq!(
            (out[0].change, out[0].count_a, out[0].count_b),
            (Change::Up, 10, 40)
        );
        assert_eq!(out[1].change, Change::New);
        assert_eq!((out[2].id.as_str(), out[2].change), ("a2", Change::Gone));
    }
}
