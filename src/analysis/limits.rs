//! How much work one request may cause, estimated from its parameters *before* the analysis
//! starts.
//!
//! A request for Gi\* with 10 m cells and a 50 km band asks for ~78 million neighbours per
//! cell; kernel density with a 20 km bandwidth on 2 m cells for ~300 million kernel
//! evaluations per event. Such requests are refused with the estimate and the limit rather
//! than started and abandoned at the timeout. The estimates are upper bounds of the kernels'
//! inner loops:
//!
//! - **Gi\***: cells × neighbours, with cells ≤ min(events, cells of the extent) (or the study
//!   area's cells) and neighbours ≈ π·band² / cell area + 1;
//! - **kernel density**: events × π·(bandwidth / cell)² kernel evaluations, and at most
//!   [`WorkLimits::features`] cells in a GeoJSON answer;
//! - **DBSCAN**: Σ over cells of side eps of (events in the cell × events in it and its eight
//!   neighbours): the distance checks a grid DBSCAN makes in the worst case.
//!
//! Anonymous callers get lower limits than signed-in roles: their answers are cached for
//! everyone, but they are also whoever is on the internet.

/// Upper bounds of work per request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkLimits {
    pub gistar_pairs: f64,
    /// Cells of the dense rectangle Gi\* counts events in (4 bytes each).
    pub gistar_grid_cells: f64,
    pub kde_evaluations: f64,
    /// Cells in one GeoJSON grid answer (Gi\* or kernel density): what bounds its size.
    pub features: usize,
    pub dbscan_checks: f64,
}

impl WorkLimits {
    /// Limits for anonymous callers (`false`) or signed-in roles (`true`).
    pub fn for_role(signed_in: bool) -> Self {
        if signed_in {
            Self {
                gistar_pairs: 100e6,
                gistar_grid_cells: 25e6,
                kde_evaluations: 600e6,
                features: 250_000,
                dbscan_checks: 1e9,
            }
        } else {
            Self {
                gistar_pairs: 20e6,
                gistar_grid_cells: 4e6,
                kde_evaluations: 150e6,
                // A GeoJSON cell is about 180–250 bytes: 60 000 cells keep one anonymous
                // answer under about 15 MB. The public heat map's raster grows its cell instead
                // (service::hotspots::public::density).
                features: 60_000,
                dbscan_checks: 0.0,
            }
        }
    }
}

/// A request refused for its size: what, the estimate, the limit and what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{what}: about {estimate:.0} {unit}, more than the limit of {limit:.0} for one request; {hint}"
)]
pub struct TooMuchWork {
    pub what: &'static str,
    pub unit: &'static str,
    pub estimate: f64,
    pub limit: f64,
    pub hint: &'static str,
}

/// Gi\* on `cells` cells of side `cell` with distance band `band`.
pub fn gistar(
    cells: f64,
    cell_area: f64,
    band: f64,
    limits: &WorkLimits,
) -> Result<(), TooMuchWork> {
    let neighbours = std::f64::consts::PI * band * band / cell_area + 1.0;
    let estimate = cells * neighbours;
    if estimate > limits.gistar_pairs || !estimate.is_finite() {
        return Err(TooMuchWork {
            what: "gistar",
            unit: "cell–neighbour pairs",
            estimate,
            limit: limits.gistar_pairs,
            hint: "use larger cells, a smaller band, or an area",
        });
    }
    Ok(())
}

/// Cells of one emerging hot spot answer (each carries its history of steps).
pub const EHSA_LOCATIONS: usize = 100_000;
/// Bins (cells × steps) of one space-time cube.
pub const EHSA_BINS: f64 = 10e6;

/// An emerging hot spot cube of `locations` cells × `steps` steps with distance band `band`:
/// the answer's cells (at most [`EHSA_LOCATIONS`] and the role's answer cells), the cube's
/// bins, and the cell–neighbour pairs × steps the space-time Gi\* sums, which cost a tenth of
/// a Gi\* pair each (contiguous series, no lookup per step).
pub fn ehsa(
    locations: f64,
    steps: usize,
    cell_area: f64,
    band: f64,
    limits: &WorkLimits,
) -> Result<(), TooMuchWork> {
    let cells = limits.features.min(EHSA_LOCATIONS) as f64;
    let bins = locations * steps as f64;
    let pairs = bins * (std::f64::consts::PI * band * band / cell_area + 1.0);
    let checks = [
        (
            locations,
            cells,
            "cells in the answer",
            "use larger cells, or an area",
        ),
        (
            bins,
            EHSA_BINS,
            "cells × steps in the cube",
            "use larger cells, an area, a shorter period or step=month",
        ),
        (
            pairs,
            10.0 * limits.gistar_pairs,
            "cell–neighbour pairs × steps",
            "use larger cells, a smaller band, an area or a shorter period",
        ),
    ];
    for (estimate, limit, unit, hint) in checks {
        if estimate > limit || !estimate.is_finite() {
            return Err(TooMuchWork {
                what: "ehsa",
                unit,
                estimate,
                limit,
                hint,
            });
        }
    }
    Ok(())
}

/// The box `([min x, min y], [max x, max y])` of `points`; `None` for none.
pub fn extent(points: &[[f64; 2]]) -> Option<([f64; 2], [f64; 2])> {
    use rayon::prelude::*;
    fn of(points: &[[f64; 2]]) -> ([f64; 2], [f64; 2]) {
        let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
        for p in points {
            lo = [lo[0].min(p[0]), lo[1].min(p[1])];
            hi = [hi[0].max(p[0]), hi[1].max(p[1])];
        }
        (lo, hi)
    }
    const LOT: usize = 1 << 16;
    if points.is_empty() {
        return None;
    }
    if points.len() < 2 * LOT {
        return Some(of(points));
    }
    // A signed-in Gi* or DBSCAN request takes the extent of up to a million points before it
    // starts: in parallel lots, joined (min and max do not care in which order).
    points
        .par_chunks(LOT)
        .map(of)
        .reduce_with(|(a, b), (c, d)| {
            (
                [a[0].min(c[0]), a[1].min(c[1])],
                [b[0].max(d[0]), b[1].max(d[1])],
            )
        })
}

/// The dense rectangle of cells Gi\* counts points of `extent` ([`extent`]) in, with cells of
/// `cell_area`: memory that grows with the extent, not with the events.
pub fn gistar_grid(
    extent: Option<([f64; 2], [f64; 2])>,
    cell_area: f64,
    limits: &WorkLimits,
) -> Result<(), TooMuchWork> {
    let Some((lo, hi)) = extent else {
        return Ok(());
    };
    let side = cell_area.sqrt();
    let estimate = ((hi[0] - lo[0]) / side + 3.0) * ((hi[1] - lo[1]) / side + 3.0);
    if estimate > limits.gistar_grid_cells {
        return Err(TooMuchWork {
            what: "gistar",
            unit: "cells in the counting grid",
            estimate,
            limit: limits.gistar_grid_cells,
            hint: "use larger cells, or an area",
        });
    }
    Ok(())
}

/// The cells a Gi\* of `events` events without a study area can have: no more than the events,
/// nor than the cells of their `extent` ([`extent`]).
pub fn gistar_cells_bound(
    extent: Option<([f64; 2], [f64; 2])>,
    events: usize,
    cell_area: f64,
) -> f64 {
    let Some((lo, hi)) = extent else {
        return 0.0;
    };
    let side = cell_area.sqrt();
    let extent_cells = ((hi[0] - lo[0]) / side + 2.0) * ((hi[1] - lo[1]) / side + 2.0);
    extent_cells.min(events as f64)
}

/// Kernel density of `points` events with `bandwidth` on cells of `cell`.
pub fn kde(
    points: usize,
    bandwidth: f64,
    cell: f64,
    limits: &WorkLimits,
) -> Result<(), TooMuchWork> {
    let per_point = std::f64::consts::PI * (bandwidth / cell + 1.0).powi(2);
    let estimate = points as f64 * per_point;
    if estimate > limits.kde_evaluations || !estimate.is_finite() {
        return Err(TooMuchWork {
            what: "kde",
            unit: "kernel evaluations",
            estimate,
            limit: limits.kde_evaluations,
            hint: "use larger cells or a smaller bandwidth",
        });
    }
    Ok(())
}

/// A kernel density GeoJSON answer of `cells` cells.
pub fn kde_features(cells: usize, limits: &WorkLimits) -> Result<(), TooMuchWork> {
    if cells > limits.features {
        return Err(TooMuchWork {
            what: "kde",
            unit: "cells in the answer",
            estimate: cells as f64,
            limit: limits.features as f64,
            hint: "use larger cells, an area, or the PNG overlay (/api/v1/hotspots/kde.png)",
        });
    }
    Ok(())
}

/// A Gi\* GeoJSON answer of (at most) `cells` cells.
pub fn gistar_features(cells: f64, limits: &WorkLimits) -> Result<(), TooMuchWork> {
    if cells > limits.features as f64 || !cells.is_finite() {
        return Err(TooMuchWork {
            what: "gistar",
            unit: "cells in the answer",
            estimate: cells,
            limit: limits.features as f64,
            hint: "use larger cells, or an area",
        });
    }
    Ok(())
}

/// DBSCAN of `points` with radius `eps` (see the module documentation).
pub fn dbscan(points: &[[f64; 2]], eps: f64, limits: &WorkLimits) -> Result<(), TooMuchWork> {
    let estimate = dbscan_checks(points, eps);
    if estimate > limits.dbscan_checks {
        return Err(TooMuchWork {
            what: "dbscan",
            unit: "distance checks",
            estimate,
            limit: limits.dbscan_checks,
            hint: "use a smaller eps, fewer dates or categories, or an area",
        });
    }
    Ok(())
}

/// Σ over the cells of side `eps` holding points of (points in the cell × points in it and its
/// eight neighbours).
///
/// When the points' bounding grid has at most a few cells per point, the cells are counted in
/// one array and each summed with its neighbours' counts: one pass over the points and one
/// over the grid. Otherwise (a few points spread far apart) the occupied cells are sorted by
/// (column, row) and each cell's neighbours found by three cursors, one per neighbouring
/// column, that only move forward. (A hash map of cells cost a quarter of a whole DBSCAN answer
/// on 1M events, the sort a tenth.)
pub fn dbscan_checks(points: &[[f64; 2]], eps: f64) -> f64 {
    let Some((lo, hi)) = extent(points) else {
        return 0.0;
    };
    let ncols = (hi[0] / eps).floor() - (lo[0] / eps).floor() + 1.0;
    let nrows = (hi[1] / eps).floor() - (lo[1] / eps).floor() + 1.0;
    let slots = ncols * nrows;
    if slots.is_finite() && slots >= 1.0 && slots <= (4.0 * points.len() as f64).max(65_536.0) {
        dense_checks(points, eps, lo, ncols as usize, nrows as usize)
    } else {
        sparse_checks(points, eps)
    }
}

/// [`dbscan_checks`] on an array of `cols × rows` cells whose first is `origin`'s.
fn dense_checks(points: &[[f64; 2]], eps: f64, origin: [f64; 2], cols: usize, rows: usize) -> f64 {
    use rayon::prelude::*;
    // The same cell as `floor(x / eps)` gives, counted from the origin's.
    let (c0, r0) = ((origin[0] / eps).floor(), (origin[1] / eps).floor());
    let cell = |p: &[f64; 2]| {
        let c = ((p[0] / eps).floor() - c0) as usize;
        let r = ((p[1] / eps).floor() - r0) as usize;
        r * cols + c
    };
    let mut count = vec![0u32; cols * rows];
    if points.len() < 1 << 16 {
        points.iter().for_each(|p| count[cell(p)] += 1);
    } else {
        // The cells (two divisions a point) in parallel, the counting in one pass.
        let cells: Vec<usize> = points.par_iter().map(cell).collect();
        cells.iter().for_each(|&c| count[c] += 1);
    }
    let at = |c: usize, r: usize| u64::from(count[r * cols + c]);
    let mut estimate: u128 = 0;
    for r in 0..rows {
        let (ra, rb) = (r.saturating_sub(1), (r + 1).min(rows - 1));
        for c in 0..cols {
            let n = at(c, r);
            if n == 0 {
                continue;
            }
            let (ca, cb) = (c.saturating_sub(1), (c + 1).min(cols - 1));
            let around: u64 = (ra..=rb)
                .map(|rr| (ca..=cb).map(|cc| at(cc, rr)).sum::<u64>())
                .sum();
            estimate += u128::from(n) * u128::from(around);
        }
    }
    estimate as f64
}

/// [`dbscan_checks`] over the sorted occupied cells.
fn sparse_checks(points: &[[f64; 2]], eps: f64) -> f64 {
    use rayon::prelude::*;
    let key = |p: &[f64; 2]| ((p[0] / eps).floor() as i64, (p[1] / eps).floor() as i64);
    let mut keys: Vec<(i64, i64)>;
    if points.len() < 1 << 16 {
        keys = points.iter().map(key).collect();
        keys.sort_unstable();
    } else {
        keys = points.par_iter().map(key).collect();
        keys.par_sort_unstable();
    }
    let mut cells: Vec<((i64, i64), u64)> = Vec::new();
    for k in keys {
        match cells.last_mut() {
            Some((last, n)) if *last == k => *n += 1,
            _ => cells.push((k, 1)),
        }
    }
    let mut cursors = [0usize; 3];
    let mut estimate: u128 = 0;
    for &((i, j), n) in &cells {
        let mut around: u64 = 0;
        for (c, di) in cursors.iter_mut().zip(-1i64..=1) {
            let lo = (i.saturating_add(di), j.saturating_sub(1));
            let hi = (i.saturating_add(di), j.saturating_add(1));
            while *c < cells.len() && cells[*c].0 < lo {
                *c += 1;
            }
            let mut k = *c;
            while k < cells.len() && cells[k].0 <= hi {
                around += cells[k].1;
                k += 1;
            }
        }
        estimate += u128::from(n) * u128::from(around);
    }
    estimate as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reported_dos_request_is_refused_and_the_bench_request_is_not() {
        let signed_in = WorkLimits::for_role(true);
        let public = WorkLimits::for_role(false);
        // cell=10, band=50000: π·50000²/100 ≈ 78.5 million neighbours per cell.
        let e = gistar(1.0, 100.0, 50_000.0, &public).unwrap_err();
        assert!((e.estimate - (std::f64::consts::PI * 2.5e9 / 100.0 + 1.0)).abs() < 1.0);
        assert!(e.to_string().contains("limit"), "{e}");
        // The hotspot bench: 40 000 cells of 100 m, 300 m band: 40 000 × (9π + 1) ≈ 1.17M.
        assert!(gistar(40_000.0, 10_000.0, 300.0, &signed_in).is_ok());
        // kde bandwidth=20000, cell=2 on 5 000 events: 5 000 × π·10001² ≈ 1.6e12.
        assert!(kde(5_000, 20_000.0, 2.0, &signed_in).is_err());
        // The bench's 1M events, 200 m bandwidth, 50 m cells: 1M × π·25 ≈ 78.5M.
        assert!(kde(1_000_000, 200.0, 50.0, &signed_in).is_ok());
        assert!(kde_features(250_001, &signed_in).is_err());
        assert!(kde_features(250_000, &signed_in).is_ok());
        assert!(kde_features(60_001, &public).is_err());
        assert!(kde_features(60_000, &public).is_ok());
        assert!(gistar_features(60_001.0, &public).is_err());
        assert!(gistar_features(60_000.0, &public).is_ok());
        assert!(gistar_features(250_000.0, &signed_in).is_ok());
        assert!(gistar_features(f64::INFINITY, &signed_in).is_err());
    }

    #[test]
    fn a_wide_extent_of_small_cells_is_refused_for_its_memory() {
        let signed_in = WorkLimits::for_role(true);
        // 100 km × 100 km of 10 m cells: (10 000 + 3)² ≈ 1e8 cells, 400 MB of counts.
        let wide = [[0.0, 0.0], [100_000.0, 100_000.0]];
        let e = gistar_grid(extent(&wide), 100.0, &signed_in).unwrap_err();
        assert!((e.estimate - 10_003.0f64.powi(2)).abs() < 1.0);
        // The same extent with 100 m cells: ≈ 1e6 cells.
        assert!(gistar_grid(extent(&wide), 10_000.0, &signed_in).is_ok());
        assert!(gistar_grid(extent(&[]), 1.0, &signed_in).is_ok());
    }

    #[test]
    fn a_large_extent_taken_in_lots_is_the_planted_box() {
        // 300 000 points (over two lots) inside [10, 20] × [30, 40], and the four extremes
        // planted in different lots: the last, the first, the middle.
        let mut pts: Vec<[f64; 2]> = (0..300_000)
            .map(|i| {
                [
                    11.0 + (i % 997) as f64 / 128.0,
                    31.0 + (i % 991) as f64 / 128.0,
                ]
            })
            .collect();
        pts[299_999][0] = 10.0;
        pts[7][0] = 20.0;
        pts[150_000][1] = 30.0;
        pts[0][1] = 40.0;
        assert_eq!(extent(&pts), Some(([10.0, 30.0], [20.0, 40.0])));
        assert_eq!(
            extent(&pts[1..3]),
            Some(([11.0078125, 31.0078125], [11.015625, 31.015625]))
        );
        assert_eq!(extent(&[]), None);
    }

    #[test]
    fn cells_are_bounded_by_events_and_extent() {
        let pts = [[0.0, 0.0], [1_000.0, 1_000.0], [500.0, 500.0]];
        assert_eq!(
            gistar_cells_bound(extent(&pts), pts.len(), 100.0 * 100.0),
            3.0
        );
        let many: Vec<[f64; 2]> = (0..1000).map(|i| [f64::from(i % 10), 0.0]).collect();
        // 10 m extent of 100 m cells: (0.09 + 2) × 2 cells.
        assert!(
            (gistar_cells_bound(extent(&many), many.len(), 10_000.0) - 2.09 * 2.0).abs() < 1e-9
        );
        assert_eq!(gistar_cells_bound(extent(&[]), 0, 1.0), 0.0);
    }

    #[test]
    fn dbscan_checks_equal_a_hash_map_count() {
        use std::collections::HashMap;
        // The plain definition: a map of cells, nine look-ups each.
        let naive = |pts: &[[f64; 2]], eps: f64| {
            let mut cells: HashMap<(i64, i64), u64> = HashMap::new();
            for p in pts {
                *cells
                    .entry(((p[0] / eps).floor() as i64, (p[1] / eps).floor() as i64))
                    .or_insert(0) += 1;
            }
            let mut sum = 0u128;
            for (&(i, j), &n) in &cells {
                for di in -1..=1 {
                    for dj in -1..=1 {
                        sum += u128::from(n)
                            * u128::from(cells.get(&(i + di, j + dj)).copied().unwrap_or(0));
                    }
                }
            }
            sum as f64
        };
        // Seeded points: clumps, a line along a column, negative coordinates, cell edges.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut pts: Vec<[f64; 2]> = (0..5000)
            .map(|_| [next() * 2000.0 - 1000.0, next() * 600.0 - 300.0])
            .collect();
        pts.extend((0..500).map(|k| [30.0, f64::from(k) * 7.0]));
        pts.extend((0..300).map(|_| [-61.0 + next(), 89.0 + next()]));
        pts.extend([[0.0, 0.0], [30.0, 30.0], [-30.0, -30.0], [60.0, 0.0]]);
        for eps in [1.0, 30.0, 250.0, 5000.0] {
            assert_eq!(dbscan_checks(&pts, eps), naive(&pts, eps), "eps {eps}");
            // Both ways of counting, whichever the size chose.
            assert_eq!(sparse_checks(&pts, eps), naive(&pts, eps), "eps {eps}");
        }
        // eps 1 is counted sparsely (1.2 million cells for 5 800 points): densely as well.
        let (lo, hi) = extent(&pts).unwrap();
        let cols = (hi[0].floor() - lo[0].floor()) as usize + 1;
        let rows = (hi[1].floor() - lo[1].floor()) as usize + 1;
        assert_eq!(
            dense_checks(&pts, 1.0, lo, cols, rows),
            naive(&pts, 1.0),
            "eps 1, densely"
        );
        // Past 65 536 points the cells are worked out in parallel: the same count.
        let many: Vec<[f64; 2]> = (0..14)
            .flat_map(|k| pts.iter().map(move |p| [p[0] + f64::from(k) * 3.7, p[1]]))
            .collect();
        assert!(many.len() > 1 << 16);
        assert_eq!(
            dbscan_checks(&many, 30.0),
            naive(&many, 30.0),
            "many points"
        );
        assert_eq!(dbscan_checks(&[], 30.0), 0.0);
    }

    #[test]
    fn dbscan_counts_checks_in_the_cell_and_its_neighbours() {
        // Four points in one cell and one in the next: 4·5 + 1·5 = 25 checks.
        let pts = [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0], [15.0, 1.0]];
        let limits = WorkLimits {
            dbscan_checks: 25.0,
            ..WorkLimits::for_role(true)
        };
        assert!(dbscan(&pts, 10.0, &limits).is_ok());
        let tighter = WorkLimits {
            dbscan_checks: 24.0,
            ..limits
        };
        let e = dbscan(&pts, 10.0, &tighter).unwrap_err();
        assert_eq!(e.estimate, 25.0);
    }
}
