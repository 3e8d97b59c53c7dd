//! Getis-Ord Gi* hot spots on a grid of incident counts, with Benjamini–Hochberg FDR.
//!
//! # The statistic
//!
//! Incidents are counted into square or hexagonal cells ([`super::grid`]); `yᵢ` is the count of
//! cell i and n the number of cells analysed. With binary distance-band weights `wᵢⱼ = 1` when
//! the centres of i and j are at most `band` apart, **and `wᵢᵢ = 1`** (the star: the cell
//! counts itself), Getis & Ord (1992, *The analysis of spatial association by use of distance
//! statistics*; Ord & Getis 1995) define
//!
//! ```text
//!   Gᵢ* = Σⱼ wᵢⱼ yⱼ / Σⱼ yⱼ            E[Gᵢ*] = Wᵢ / n          Wᵢ = Σⱼ wᵢⱼ
//!   V[Gᵢ*] = Wᵢ (n − Wᵢ) / (n − 1) · 1/n² · s² / ȳ²
//!   zᵢ = (Gᵢ* − E[Gᵢ*]) / √V[Gᵢ*]
//! ```
//!
//! with ȳ = Σy/n and s² = Σy²/n − ȳ² (the population variance). This is, operation for
//! operation, what PySAL's `esda.G_Local(y, w, star=True, transform="B")` computes (esda 2.9,
//! `G_Local.calc`; with a binary `DistanceBand` weights object it puts 1 on the diagonal); the
//! test `gistar_matches_esda` in `tests/hotspots.rs` pins the z-scores to numbers recorded
//! with esda (`tests/fixtures/esda/make_fixture.py`) to 10⁻⁶. Multiplying through by Σy shows it
//! equals ArcGIS's form `(Σwy − ȳW) / (S √((nW − W²)/(n − 1)))` for binary weights.
//!
//! The p-value is **two-sided**, `p = erfc(|z|/√2)`, as ArcGIS reports it (esda's `p_norm` is
//! the one-sided tail, half of it). When the variance is zero (all counts equal, or a cell
//! whose band reaches every cell) z is 0 and p is 1: there is nothing to test.
//!
//! # Multiple testing
//!
//! A map of 40 000 cells tested at 5 % lights up 2 000 cells by chance. As ArcGIS's Optimized
//! Hot Spot Analysis does, the confidence bins use the Benjamini–Hochberg (1995) false discovery
//! rate: for each level α ∈ {0.10, 0.05, 0.01}, sort the m p-values, find the largest k with
//! `p₍ₖ₎ ≤ k·α/m`, and call every cell with `p ≤ p₍ₖ₎` significant at α. The bin is ±3, ±2, ±1
//! for the strictest level reached (sign of z: + hot, − cold), 0 otherwise.
//!
//! # Which cells, and default parameters
//!
//! Without a study area, only cells holding at least one incident are analysed (as ArcGIS's
//! Optimized Hot Spot Analysis does without bounding polygons: empty cells say nothing about
//! where incidents are possible). With a study area (a district, or a box), every cell whose
//! centre lies in it is analysed, zeros included.
//!
//! When `cell` or `band` are not given they are derived from the data in the manner of
//! Optimized Hot Spot Analysis, and reported back:
//! - **cell**: locational outliers are set aside (points whose nearest-neighbour distance is more
//!   than three standard deviations above the mean), then `cell = 2·d̄ₙₙ`, twice the mean
//!   distance from each distinct location to its nearest neighbour: the side whose expected
//!   count is one incident under complete spatial randomness (where `E[dₙₙ] = ½/√λ`). The cell
//!   is never smaller than what keeps the grid within 40 000 cells over the points' extent, nor
//!   than 10 m (street-level positions are not more precise), and is rounded to 1, 2, 2.5 or 5
//!   times a power of ten.
//! - **band**: ArcGIS first looks for a peak of spatial autocorrelation over increasing
//!   distances; when there is none it uses the average distance at which each feature has K
//!   neighbours, `K = 5 %` of the features, at least 3 and at most 30. We use that rule
//!   directly (over the analysed cells' centres), without the peak search.

use rayon::prelude::*;
use rstar::RTree;
use serde::Serialize;

use super::grid::{CellCounts, CellId, Grid, GridKind};
use crate::analysis::cancel::{CHECK_EVERY, Cancel, Cancelled};

/// Confidence levels of the bins ±1, ±2, ±3.
pub const ALPHAS: [f64; 3] = [0.10, 0.05, 0.01];

/// What to compute. `None` parameters are derived from the data.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GiStarParams {
    pub grid: GridKind,
    pub cell: Option<f64>,
    pub band: Option<f64>,
}

/// One analysed cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GiStarCell {
    pub id: CellId,
    /// EPSG:3006.
    pub centre: [f64; 2],
    pub count: u32,
    /// Cells within the band, itself included (Wᵢ).
    pub neighbours: u32,
    pub z: f64,
    /// Two-sided.
    pub p: f64,
    /// −3…3 after FDR.
    pub bin: i8,
}

/// The cells and the parameters that produced them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GiStarResult {
    pub grid: GridKind,
    pub cell: f64,
    pub band: f64,
    pub cell_derived: bool,
    pub band_derived: bool,
    /// Cells analysed (n); empty cells count only inside a study area.
    pub analysed: usize,
    /// The FDR p-value cut-offs for 90, 95 and 99 % (`None`: nothing significant).
    pub fdr_cutoffs: [Option<f64>; 3],
    pub cells: Vec<GiStarCell>,
    /// Whether a study area decided which cells were analysed.
    pub study_area_used: bool,
}

/// A region (in EPSG:3006) whose cells are all analysed, empty ones included.
pub trait StudyArea: Sync {
    fn bounds(&self) -> ([f64; 2], [f64; 2]);
    fn contains(&self, p: [f64; 2]) -> bool;
}

impl StudyArea for crate::analysis::filter::AreaFilter {
    fn bounds(&self) -> ([f64; 2], [f64; 2]) {
        let (a, b) = (self.bounds.min(), self.bounds.max());
        ([a.x, a.y], [b.x, b.y])
    }
    fn contains(&self, p: [f64; 2]) -> bool {
        crate::analysis::filter::AreaFilter::contains(self, geo::Point::new(p[0], p[1]))
    }
}

/// Study areas larger than this many cells fall back to the non-empty cells.
pub const MAX_STUDY_CELLS: usize = 4_000_000;

/// Gi* for incident points (EPSG:3006).
pub fn hot_spots(
    points: &[[f64; 2]],
    params: &GiStarParams,
    study_area: Option<&dyn StudyArea>,
) -> GiStarResult {
    hot_spots_with(points, params, study_area, &Cancel::never()).expect("never cancelled")
}

/// [`hot_spots`], stopping with [`Cancelled`] soon after `cancel` is tripped.
pub fn hot_spots_with(
    points: &[[f64; 2]],
    params: &GiStarParams,
    study_area: Option<&dyn StudyArea>,
    cancel: &Cancel,
) -> Result<GiStarResult, Cancelled> {
    cancel.check()?;
    let (cell, cell_derived) = match params.cell {
        Some(c) => (c, false),
        None => (derive_cell_with(points, cancel)?, true),
    };
    let grid = Grid::new(params.grid, cell);
    let counts = CellCounts::count(grid, points);
    cancel.check()?;
    let mut cells: Vec<(CellId, f64)> = Vec::new();
    let mut study_area_used = false;
    if let Some(area) = study_area {
        let (lo, hi) = area.bounds();
        let ids = cells_covering(&grid, lo, hi, cancel)?;
        if let Some(ids) = ids {
            study_area_used = true;
            let mut inside: Vec<(CellId, f64)> = ids
                .par_chunks(CHECK_EVERY)
                .map(|chunk| -> Result<Vec<(CellId, f64)>, Cancelled> {
                    cancel.check()?;
                    Ok(chunk
                        .iter()
                        .filter(|id| area.contains(grid.centre(**id)) || counts.get(**id) > 0)
                        .map(|id| (*id, counts.get(*id) as f64))
                        .collect::<Vec<_>>())
                })
                .collect::<Result<Vec<Vec<_>>, Cancelled>>()?
                .concat();
            // Cells with incidents outside the area's cells (their centre is outside but a
            // point is inside) are kept as well.
            let have: std::collections::HashSet<CellId> = inside.iter().map(|c| c.0).collect();
            for (id, n) in counts.non_empty() {
                if !have.contains(&id) {
                    inside.push((id, n as f64));
                }
            }
            cells = inside;
        }
    }
    if !study_area_used {
        cells = counts
            .counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (counts.id_of_slot(s), *n as f64))
            .collect();
    }
    cancel.check()?;
    cells.sort_unstable_by_key(|c| (c.0.1, c.0.0));
    let (band, band_derived) = match params.band {
        Some(b) => (b, false),
        None => (derive_band_with(&grid, &cells, cancel)?, true),
    };
    let stats = gi_star_on_cells_with(&grid, &cells, band, cancel)?;
    cancel.check()?;
    let p: Vec<f64> = stats.iter().map(|s| two_sided_p(s.0)).collect();
    let z: Vec<f64> = stats.iter().map(|s| s.0).collect();
    let (bins, fdr_cutoffs) = fdr_bins(&z, &p);
    let out = cells
        .iter()
        .enumerate()
        .map(|(i, (id, y))| GiStarCell {
            id: *id,
            centre: grid.centre(*id),
            count: *y as u32,
            neighbours: stats[i].1,
            z: z[i],
            p: p[i],
            bin: bins[i],
        })
        .collect();
    Ok(GiStarResult {
        grid: params.grid,
        cell,
        band,
        cell_derived,
        band_derived,
        analysed: cells.len(),
        fdr_cutoffs,
        cells: out,
        study_area_used,
    })
}

/// The cells whose centre is in the box `lo`–`hi` padded by a cell; `None` beyond
/// [`MAX_STUDY_CELLS`].
pub(crate) fn cells_covering(
    grid: &Grid,
    lo: [f64; 2],
    hi: [f64; 2],
    cancel: &Cancel,
) -> Result<Option<Vec<CellId>>, Cancelled> {
    // Pad by a cell so that hexagons whose centre is just inside are not missed.
    let pad = grid.cell;
    let a = grid.cell_of([lo[0] - pad, lo[1] - pad]);
    let b = grid.cell_of([hi[0] + pad, hi[1] + pad]);
    let c = grid.cell_of([lo[0] - pad, hi[1] + pad]);
    let d = grid.cell_of([hi[0] + pad, lo[1] - pad]);
    let (min0, max0) = (
        a.0.min(b.0).min(c.0).min(d.0) - 1,
        a.0.max(b.0).max(c.0).max(d.0) + 1,
    );
    let (min1, max1) = (
        a.1.min(b.1).min(c.1).min(d.1) - 1,
        a.1.max(b.1).max(c.1).max(d.1) + 1,
    );
    // For hexagons the axial q range shifts with r: widen it by half the r range.
    let extra = if grid.kind == GridKind::Hex {
        (max1 - min1) / 2 + 1
    } else {
        0
    };
    let w = (max0 - min0 + 1 + 2 * extra) as usize;
    let h = (max1 - min1 + 1) as usize;
    if w.saturating_mul(h) > MAX_STUDY_CELLS {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(w * h);
    for r in min1..=max1 {
        cancel.check()?;
        for q in (min0 - extra)..=(max0 + extra) {
            let ctr = grid.centre((q, r));
            if ctr[0] >= lo[0] - pad
                && ctr[0] <= hi[0] + pad
                && ctr[1] >= lo[1] - pad
                && ctr[1] <= hi[1] + pad
            {
                out.push((q, r));
            }
        }
    }
    Ok(Some(out))
}

/// Gi* z-scores and neighbour counts Wᵢ for the given cells and values, with binary
/// distance-band weights (centre distance ≤ `band`) and the cell itself included: exactly
/// esda's `G_Local(star=True, transform="B")` over these cells.
pub fn gi_star_on_cells(grid: &Grid, cells: &[(CellId, f64)], band: f64) -> Vec<(f64, u32)> {
    gi_star_on_cells_with(grid, cells, band, &Cancel::never()).expect("never cancelled")
}

/// [`gi_star_on_cells`], stopping with [`Cancelled`] soon after `cancel` is tripped: it looks
/// every [`CHECK_EVERY`] neighbour offsets of every cell, so a band of millions of cells stops
/// as promptly as many small ones.
pub fn gi_star_on_cells_with(
    grid: &Grid,
    cells: &[(CellId, f64)],
    band: f64,
    cancel: &Cancel,
) -> Result<Vec<(f64, u32)>, Cancelled> {
    let n = cells.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let (mut lo, mut hi) = ((i32::MAX, i32::MAX), (i32::MIN, i32::MIN));
    for (id, _) in cells {
        lo = (lo.0.min(id.0), lo.1.min(id.1));
        hi = (hi.0.max(id.0), hi.1.max(id.1));
    }
    // The sum over a neighbourhood is exact in any order when the values are whole numbers
    // with an exact total (counts always are): then the offsets need not be sorted, which
    // for wide bands saves seconds that could not be interrupted. Other values keep the
    // nearest-first order, and with it the summation order, of `offsets_within`.
    let y_total: f64 = cells.iter().map(|c| c.1.abs()).sum();
    let exact = y_total < 2f64.powi(53) && cells.iter().all(|c| c.1.fract() == 0.0);
    let mut with_distance = grid.offsets_within_unsorted(band, cancel)?;
    if !exact {
        with_distance.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
    }
    let offsets: Vec<CellId> = with_distance.into_iter().map(|o| o.0).collect();
    cancel.check()?;
    let width = (hi.0 - lo.0 + 1) as i64;
    let height = (hi.1 - lo.1 + 1) as i64;
    // Dense lookup when the rectangle is not much larger than the cells; a hash map otherwise.
    let dense = width * height <= (16 * n as i64).max(1 << 16);
    let value_at: Box<dyn Fn(CellId) -> Option<f64> + Sync> = if dense {
        let mut grid_vals = vec![f64::NAN; (width * height) as usize];
        for (id, y) in cells {
            grid_vals[((id.1 - lo.1) as i64 * width + (id.0 - lo.0) as i64) as usize] = *y;
        }
        Box::new(move |c: CellId| {
            let a = (c.0 - lo.0) as i64;
            let b = (c.1 - lo.1) as i64;
            if a < 0 || b < 0 || a >= width || b >= height {
                return None;
            }
            let v = grid_vals[(b * width + a) as usize];
            (!v.is_nan()).then_some(v)
        })
    } else {
        let map: std::collections::HashMap<CellId, f64> = cells.iter().copied().collect();
        Box::new(move |c: CellId| map.get(&c).copied())
    };

    let y_sum: f64 = cells.iter().map(|c| c.1).sum();
    let y2_sum: f64 = cells.iter().map(|c| c.1 * c.1).sum();
    let nf = n as f64;
    let empirical_mean = y_sum / nf;
    let mean_of_squares = y2_sum / nf;
    let empirical_variance = mean_of_squares - empirical_mean * empirical_mean;
    let ratio = empirical_variance / (empirical_mean * empirical_mean);

    cells
        .par_iter()
        .map(|(id, _)| -> Result<(f64, u32), Cancelled> {
            let mut card = 0u32;
            let mut lag = 0.0;
            for chunk in offsets.chunks(CHECK_EVERY) {
                cancel.check()?;
                for off in chunk {
                    if let Some(v) = value_at((id.0 + off.0, id.1 + off.1)) {
                        card += 1;
                        lag += v;
                    }
                }
            }
            let w = card as f64;
            let statistic = lag / y_sum;
            let expected = w / nf;
            let mut var = w * (nf - w);
            var /= nf - 1.0;
            var *= 1.0 / (nf * nf);
            var *= ratio;
            let z = (statistic - expected) / var.sqrt();
            Ok((if z.is_finite() { z } else { 0.0 }, card))
        })
        .collect()
}

/// `P(|Z| ≥ |z|)` for a standard normal Z, to full double precision (musl's `erfc`, as
/// `libm` ports it; scipy's `norm.sf` agrees to the last digits).
pub fn two_sided_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// The Benjamini–Hochberg cut-off: the largest `p₍ₖ₎` with `p₍ₖ₎ ≤ k·α/m` (sorted in
/// parallel: an emerging hot spot cube has millions of bins).
pub fn bh_cutoff(p: &[f64], alpha: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = p.par_iter().copied().filter(|v| v.is_finite()).collect();
    sorted.par_sort_unstable_by(f64::total_cmp);
    let m = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .rev()
        .find(|(k, v)| **v <= (*k as f64 + 1.0) * alpha / m)
        .map(|(_, v)| *v)
}

/// Confidence bins −3…3 after FDR, and the cut-offs used for 90, 95, 99 %.
pub fn fdr_bins(z: &[f64], p: &[f64]) -> (Vec<i8>, [Option<f64>; 3]) {
    let cut = ALPHAS.map(|a| bh_cutoff(p, a));
    let bins = z
        .iter()
        .zip(p)
        .map(|(z, p)| {
            let level = (0..3)
                .rev()
                .find(|&k| cut[k].is_some_and(|c| *p <= c))
                .map_or(0, |k| k as i8 + 1);
            if *z > 0.0 { level } else { -level }
        })
        .collect();
    (bins, cut)
}

/// Rounds up to 1, 2, 2.5 or 5 times a power of ten.
pub fn nice_round(v: f64) -> f64 {
    if v.is_nan() || v <= 0.0 || !v.is_finite() {
        return v;
    }
    let mag = 10f64.powf(v.log10().floor());
    for f in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= f * mag * (1.0 + 1e-9) {
            return f * mag;
        }
    }
    10.0 * mag
}

/// Nearest-neighbour distances between distinct locations, with locational outliers (more than
/// three standard deviations above the mean) set aside. Large inputs are thinned to 200 000
/// locations and the distances scaled by √(sample fraction), as for a Poisson process.
pub fn nearest_neighbour_stats(points: &[[f64; 2]]) -> Option<NearestNeighbourStats> {
    nearest_neighbour_stats_with(points, &Cancel::never()).expect("never cancelled")
}

/// [`nearest_neighbour_stats`], stopping with [`Cancelled`] soon after `cancel` is tripped.
pub fn nearest_neighbour_stats_with(
    points: &[[f64; 2]],
    cancel: &Cancel,
) -> Result<Option<NearestNeighbourStats>, Cancelled> {
    let mut distinct: Vec<[f64; 2]> = points
        .iter()
        .copied()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .collect();
    distinct.sort_unstable_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    distinct.dedup();
    if distinct.len() < 2 {
        return Ok(None);
    }
    cancel.check()?;
    const SAMPLE: usize = 200_000;
    let (sample, scale) = if distinct.len() > SAMPLE {
        let step = distinct.len() as f64 / SAMPLE as f64;
        let s: Vec<[f64; 2]> = (0..SAMPLE)
            .map(|k| distinct[(k as f64 * step) as usize])
            .collect();
        (s, (SAMPLE as f64 / distinct.len() as f64).sqrt())
    } else {
        (distinct.clone(), 1.0)
    };
    let tree = RTree::bulk_load(sample.clone());
    cancel.check()?;
    let d: Vec<f64> = sample
        .par_chunks(CHECK_EVERY)
        .map(|chunk| -> Result<Vec<f64>, Cancelled> {
            cancel.check()?;
            Ok(chunk
                .iter()
                .map(|p| {
                    tree.nearest_neighbor_iter_with_distance_2(p)
                        .nth(1)
                        .map_or(0.0, |(_, d2)| d2.sqrt())
                })
                .collect::<Vec<f64>>())
        })
        .collect::<Result<Vec<Vec<f64>>, Cancelled>>()?
        .concat();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let sd = (d.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / d.len() as f64).sqrt();
    let keep: Vec<usize> = (0..d.len()).filter(|&i| d[i] <= mean + 3.0 * sd).collect();
    let kept_mean = keep.iter().map(|&i| d[i]).sum::<f64>() / keep.len().max(1) as f64;
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for &i in &keep {
        let p = sample[i];
        lo = [lo[0].min(p[0]), lo[1].min(p[1])];
        hi = [hi[0].max(p[0]), hi[1].max(p[1])];
    }
    Ok(Some(NearestNeighbourStats {
        mean_distance: kept_mean * scale,
        outliers: d.len() - keep.len(),
        extent: (lo, hi),
    }))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearestNeighbourStats {
    pub mean_distance: f64,
    pub outliers: usize,
    /// Bounding box of the locations that are not outliers.
    pub extent: ([f64; 2], [f64; 2]),
}

/// The default cell size (see the module documentation).
pub fn derive_cell(points: &[[f64; 2]]) -> f64 {
    derive_cell_with(points, &Cancel::never()).expect("never cancelled")
}

/// [`derive_cell`], stopping with [`Cancelled`] soon after `cancel` is tripped.
pub fn derive_cell_with(points: &[[f64; 2]], cancel: &Cancel) -> Result<f64, Cancelled> {
    let Some(nn) = nearest_neighbour_stats_with(points, cancel)? else {
        return Ok(100.0);
    };
    let (lo, hi) = nn.extent;
    let area = (hi[0] - lo[0]).max(1.0) * (hi[1] - lo[1]).max(1.0);
    let cell = (2.0 * nn.mean_distance)
        .max((area / 40_000.0).sqrt())
        .max(10.0);
    Ok(nice_round(cell))
}

/// The default band: the average distance at which each analysed cell has K analysed
/// neighbours, K = 5 % of the cells within [3, 30] (see the module documentation).
pub fn derive_band(grid: &Grid, cells: &[(CellId, f64)]) -> f64 {
    derive_band_with(grid, cells, &Cancel::never()).expect("never cancelled")
}

/// [`derive_band`], stopping with [`Cancelled`] soon after `cancel` is tripped.
pub fn derive_band_with(
    grid: &Grid,
    cells: &[(CellId, f64)],
    cancel: &Cancel,
) -> Result<f64, Cancelled> {
    let n = cells.len();
    if n < 2 {
        return Ok(grid.cell * 2.0);
    }
    let k = ((0.05 * n as f64).round() as usize).clamp(3, 30).min(n - 1);
    let present: std::collections::HashSet<CellId> = cells.iter().map(|c| c.0).collect();
    const REACH_CELLS: f64 = 40.0;
    let offsets = grid.offsets_within(grid.cell * REACH_CELLS);
    let step = (n / 5_000).max(1);
    let sampled: Vec<&(CellId, f64)> = cells.iter().step_by(step).collect();
    let total: f64 = sampled
        .par_iter()
        .map(|(id, _)| {
            // A cancelled run adds zeros; the check after the sum turns it into `Cancelled`.
            if cancel.is_cancelled() {
                return 0.0;
            }
            let mut found = 0;
            for (off, d) in offsets.iter().skip(1) {
                if present.contains(&(id.0 + off.0, id.1 + off.1)) {
                    found += 1;
                    if found == k {
                        return *d;
                    }
                }
            }
            grid.cell * REACH_CELLS
        })
        .sum();
    cancel.check()?;
    // Slightly above the average so that a cell at exactly that distance is inside the band.
    let band = total / sampled.len() as f64;
    Ok((band * 1e6).ceil() / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        // Φ tail values: 2·(1 − Φ(1.96)) = 0.049996, 2·(1 − Φ(2.5758)) = 0.0100.
        assert!((two_sided_p(1.959_963_984_540) - 0.05).abs() < 1e-12);
        assert!((two_sided_p(2.575_829_303_549) - 0.01).abs() < 1e-12);
        assert!((two_sided_p(1.644_853_626_951) - 0.10).abs() < 1e-12);
        assert_eq!(two_sided_p(0.0), 1.0);
        assert!(two_sided_p(40.0) < 1e-300 || two_sided_p(40.0) == 0.0);
    }

    #[test]
    fn bh_cutoff_by_hand() {
        // m = 5, α = 0.05: k·α/m = 0.01, 0.02, 0.03, 0.04, 0.05.
        let p = [0.001, 0.03, 0.025, 0.2, 0.5];
        // sorted: 0.001 ≤ 0.01 ✓, 0.025 ≤ 0.02 ✗, 0.03 ≤ 0.03 ✓, 0.2 ✗, 0.5 ✗ → cut-off 0.03.
        assert_eq!(bh_cutoff(&p, 0.05), Some(0.03));
        assert_eq!(bh_cutoff(&[0.5, 0.9], 0.05), None);
        let (bins, _) = fdr_bins(&[3.0, -2.5, 2.2, 1.0, 0.1], &p);
        assert_eq!(bins[0], 3); // 0.001 ≤ cut-off at 1 %: k=1 → 0.002 ✓.
        assert_eq!(bins[1], -2);
        assert_eq!(bins[2], 2);
        assert_eq!(bins[3], 0);
    }

    #[test]
    fn z_by_hand_on_a_line_of_cells() {
        // Five square cells in a row, band = one cell: neighbours are left, self, right.
        let g = Grid::new(GridKind::Square, 10.0);
        let y = [1.0, 2.0, 10.0, 2.0, 1.0];
        let cells: Vec<(CellId, f64)> = (0..5).map(|i| ((i, 0), y[i as usize])).collect();
        let out = gi_star_on_cells(&g, &cells, 10.0);
        // Middle cell: lag 14, W 3, n 5, Σy 16, ȳ 3.2, Σy²/n = 110/5 = 22, s² = 22 − 10.24 = 11.76.
        let (n, sum, w, lag) = (5.0, 16.0, 3.0, 14.0);
        let ybar: f64 = 3.2;
        let s2 = 11.76;
        let g_stat = lag / sum;
        let var = w * (n - w) / (n - 1.0) / (n * n) * s2 / (ybar * ybar);
        let z = (g_stat - w / n) / f64::sqrt(var);
        assert!((out[2].0 - z).abs() < 1e-12);
        assert_eq!(out[2].1, 3);
        assert_eq!(out[0].1, 2);
    }

    #[test]
    fn nice_rounding() {
        assert_eq!(nice_round(87.0), 100.0);
        assert_eq!(nice_round(101.0), 200.0);
        assert_eq!(nice_round(240.0), 250.0);
        assert_eq!(nice_round(12.0), 20.0);
        assert_eq!(nice_round(50.0), 50.0);
    }
}
