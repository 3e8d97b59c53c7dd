//! DBSCAN on a grid: the same labels as `geo`'s [`geo::Dbscan`], computed faster.
//!
//! # What it computes
//!
//! DBSCAN (Ester, Kriegel, Sander & Xu, *A density-based algorithm for discovering clusters in
//! large spatial databases with noise*, KDD-96). With `N(p) = { q : |p − q|² ≤ ε² }` (p itself
//! included), a point is **core** when `|N(p)| ≥ min_points`. Core points within ε of each other
//! belong to the same cluster (the clusters are the connected components of the core points
//! under "within ε"); a non-core point within ε of a core point is a **border** point of a
//! cluster; every other point is **noise**.
//!
//! # The labels, exactly as `geo` 0.33 gives them
//!
//! `geo`'s `Dbscan` walks the points in input order and grows each cluster breadth-first before
//! starting the next. That makes its labels a pure function of the data, which this module
//! reproduces without the walk:
//! - cluster ids are numbered in the order of each cluster's lowest-index core point (the point
//!   that seeds it in `geo`'s outer loop);
//! - a border point near cores of several clusters goes to the one with the lowest id (the first
//!   to be expanded claims it, and `geo` never moves a clustered point);
//! - `min_points == 0` or `min_points > n` gives all noise, as in `geo`.
//!
//! Distances are compared as `dx·dx + dy·dy ≤ ε·ε` in `f64`, the same expression `rstar`
//! evaluates for `geo`, so points exactly at distance ε are neighbours in both.
//!
//! # How it is fast
//!
//! Instead of one R-tree query per point, the points are bucketed (counting sort, O(n)) into
//! square cells of side `s = ε/√2·(1 − 10⁻⁶)`, whose diagonal is just under ε. Then
//! 1. a cell holding at least `min_points` points makes them all core without measuring a
//!    distance, and one whose 5 × 5 block of cells holds fewer than `min_points` in all has no
//!    core point (the sparse background is settled by counts); otherwise each point counts
//!    neighbours in the 5 × 5 cells around its own, and stops as soon as it has `min_points`
//!    (in parallel with rayon, a few thousand cells per task). Cells are numbered row by row
//!    and their points stored in that order, so a row of five cells is one slice of points:
//!    a block is five slices, found from a per-slot count of the cells before each slot;
//! 2. all cores in one cell are within ε of each other, so connectivity is a union-find over
//!    *cells*: two neighbouring cells are joined when any pair of their cores is within ε, a
//!    test skipped once the cells are already joined (the grid DBSCAN of Gunawan, *A faster
//!    algorithm for DBSCAN*, 2013);
//! 3. border points look for the lowest cluster id among the cores in their 5 × 5 cells (in
//!    parallel).
//!
//! The 10⁻⁶ margin in the cell side covers floating-point rounding of the cell index, which is
//! why the fast path is taken only when the extent is less than 10⁸ ε (for SWEREF 99 TM
//! coordinates: any ε above a millimetre). Beyond that, and for ε = 0, the same three steps run
//! with R-tree queries instead of cells.

use rayon::prelude::*;
use rstar::RTree;
use rstar::primitives::GeomWithData;

use crate::analysis::cancel::{Cancel, Cancelled};

/// Labels and core flags, one per input point, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbscanLabels {
    /// `Some(cluster)` (0-based) or `None` for noise: identical to `geo::Dbscan`'s output.
    pub labels: Vec<Option<usize>>,
    /// Whether each point is a core point.
    pub core: Vec<bool>,
    /// Number of clusters.
    pub clusters: usize,
}

/// Runs DBSCAN on points in metres. Non-finite points are noise and nobody's neighbour.
pub fn dbscan(points: &[[f64; 2]], eps: f64, min_points: usize) -> DbscanLabels {
    dbscan_with(points, eps, min_points, &Cancel::never()).expect("never cancelled")
}

/// [`dbscan`], stopping with [`Cancelled`] soon after `cancel` is tripped (it looks once per
/// cell, and once per point where a cell's block is crowded).
pub fn dbscan_with(
    points: &[[f64; 2]],
    eps: f64,
    min_points: usize,
    cancel: &Cancel,
) -> Result<DbscanLabels, Cancelled> {
    labelled_with(points, eps, min_points, cancel).map(|l| l.into_labels(points.len()))
}

/// Union-find with path halving and union by size.
struct DisjointSets {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut a: u32) -> u32 {
        while self.parent[a as usize] != a {
            let gp = self.parent[self.parent[a as usize] as usize];
            self.parent[a as usize] = gp;
            a = gp;
        }
        a
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
    }
}

#[inline]
fn within(a: [f64; 2], b: [f64; 2], eps2: f64) -> bool {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    dx * dx + dy * dy <= eps2
}

/// Numbers components by their lowest-index core point, as `geo` does. `root_of(i)` gives the
/// component of core point `i`; returns the cluster id per component root.
fn number_clusters(
    core_points: impl Iterator<Item = (usize, u32)>,
    roots: usize,
) -> (Vec<u32>, usize) {
    let mut first = vec![usize::MAX; roots];
    for (orig, root) in core_points {
        let f = &mut first[root as usize];
        if orig < *f {
            *f = orig;
        }
    }
    let mut order: Vec<u32> = (0..roots as u32)
        .filter(|&r| first[r as usize] != usize::MAX)
        .collect();
    order.sort_unstable_by_key(|&r| first[r as usize]);
    let mut id = vec![u32::MAX; roots];
    for (k, &r) in order.iter().enumerate() {
        id[r as usize] = k as u32;
    }
    (id, order.len())
}

/// The value of [`Labelled::label`] for noise.
const NOISE: u32 = u32::MAX;

/// DBSCAN's result in the order the kernel works in, before it is put back in input order:
/// the `k`-th point of that order is input point `orig[k]`. Input points not listed (the
/// non-finite ones) are noise.
pub(crate) struct Labelled {
    orig: Vec<u32>,
    /// The cluster of the `k`-th point, or [`NOISE`].
    label: Vec<u32>,
    core: Vec<bool>,
    clusters: usize,
}

impl Labelled {
    fn noise() -> Self {
        Self {
            orig: Vec::new(),
            label: Vec::new(),
            core: Vec::new(),
            clusters: 0,
        }
    }

    /// The labels in input order, for `n` input points.
    fn into_labels(self, n: usize) -> DbscanLabels {
        let mut labels = vec![None; n];
        let mut core = vec![false; n];
        for ((&i, &l), &c) in self.orig.iter().zip(&self.label).zip(&self.core) {
            labels[i as usize] = (l != NOISE).then_some(l as usize);
            core[i as usize] = c;
        }
        DbscanLabels {
            labels,
            core,
            clusters: self.clusters,
        }
    }

    /// Each cluster's members (input indices, ascending) and how many of them are core
    /// points, in cluster order: what [`DbscanLabels`] says, without a vector per input point.
    pub(crate) fn clusters(&self) -> Vec<(Vec<usize>, usize)> {
        let mut out: Vec<(Vec<usize>, usize)> = vec![(Vec::new(), 0); self.clusters];
        for ((&i, &l), &c) in self.orig.iter().zip(&self.label).zip(&self.core) {
            if l != NOISE {
                let (members, cores) = &mut out[l as usize];
                members.push(i as usize);
                *cores += usize::from(c);
            }
        }
        out.par_iter_mut()
            .for_each(|(members, _)| members.sort_unstable());
        out
    }
}

/// DBSCAN's labels in the kernel's order (see [`Labelled`]); [`dbscan_with`] is this put back
/// in input order.
pub(crate) fn labelled_with(
    points: &[[f64; 2]],
    eps: f64,
    min_points: usize,
    cancel: &Cancel,
) -> Result<Labelled, Cancelled> {
    cancel.check()?;
    let n = points.len();
    assert!(u32::try_from(n).is_ok(), "at most 2³² points");
    if n == 0 || min_points == 0 || min_points > n || !eps.is_finite() || eps < 0.0 {
        return Ok(Labelled::noise());
    }
    let finite: Vec<u32> = (0..n as u32)
        .filter(|&i| points[i as usize][0].is_finite() && points[i as usize][1].is_finite())
        .collect();
    if finite.is_empty() {
        return Ok(Labelled::noise());
    }
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for &i in &finite {
        let [x, y] = points[i as usize];
        lo = [lo[0].min(x), lo[1].min(y)];
        hi = [hi[0].max(x), hi[1].max(y)];
    }
    let extent = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    if eps > 0.0 && extent / eps < 1e8 {
        grid_dbscan(points, &finite, eps, min_points, lo, hi, cancel)
    } else {
        tree_dbscan(points, &finite, eps, min_points, cancel)
    }
}

/// A run of consecutive cells, or of consecutive points in cell order: `start..end`.
type Run = (u32, u32);

/// Where a row's non-empty cells are among all of them.
enum RowIndex {
    /// Per slot of the bounding grid (row-major), how many non-empty cells come before it;
    /// one more entry at the end.
    Dense(Vec<u32>),
    /// The slot of each non-empty cell, ascending (for sparse, wide extents).
    Sparse(Vec<u64>),
}

/// The non-empty cells of the grid in row-major order, and where their points lie.
struct Cells {
    nx: i64,
    ny: i64,
    /// The grid column and row of each non-empty cell.
    xy: Vec<(i64, i64)>,
    /// Cell `c`'s points are `start[c]..start[c + 1]` in cell order; one more entry at the end.
    start: Vec<u32>,
    rows: RowIndex,
}

impl Cells {
    fn len(&self) -> usize {
        self.xy.len()
    }

    /// The non-empty cells in columns `x0..=x1` of row `y`, clipped to the grid.
    #[inline]
    fn row(&self, y: i64, x0: i64, x1: i64) -> Run {
        let (x0, x1) = (x0.max(0), x1.min(self.nx - 1));
        if y < 0 || y >= self.ny || x0 > x1 {
            return (0, 0);
        }
        let (s0, s1) = ((y * self.nx + x0) as usize, (y * self.nx + x1) as usize + 1);
        match &self.rows {
            RowIndex::Dense(before) => (before[s0], before[s1]),
            RowIndex::Sparse(slots) => (
                slots.partition_point(|&s| s < s0 as u64) as u32,
                slots.partition_point(|&s| s < s1 as u64) as u32,
            ),
        }
    }

    /// The cells of the 5 × 5 block around cell `c` (every cell that can hold a point within
    /// ε of one of `c`'s), as one run per row: `c`'s own row first, then the nearer rows.
    #[inline]
    fn block(&self, c: usize) -> [Run; 5] {
        let (x, y) = self.xy[c];
        [0, -1, 1, -2, 2].map(|dy| self.row(y + dy, x - 2, x + 2))
    }

    /// The points of a run of cells, as a run in cell order.
    #[inline]
    fn points(&self, (a, b): Run) -> Run {
        (self.start[a as usize], self.start[b as usize])
    }
}

/// Cells handled together by one parallel task: a few hundred tasks for a million points, each
/// writing one vector rather than one per cell.
const CELL_LOT: usize = 2048;

/// Above this many points in a block, the count of one point's neighbours looks for a cancel
/// (a point of such a block can take tens of microseconds).
const CHECK_BLOCK: usize = 4096;

/// Buckets the points into cells of side `side` from `lo` (whose cells `hi` bounds): the
/// cells, and the points in cell order (indices into `finite`).
fn bucket(
    points: &[[f64; 2]],
    finite: &[u32],
    side: f64,
    lo: [f64; 2],
    hi: [f64; 2],
) -> (Cells, Vec<u32>) {
    // `floor((v - lo) / side)` only grows with `v`, so the highest cell is `hi`'s.
    let cell = |v: f64, o: f64| ((v - o) / side).floor() as i64;
    let (nx, ny) = (cell(hi[0], lo[0]) + 1, cell(hi[1], lo[1]) + 1);
    let slot_of = |i: u32| -> u64 {
        let [x, y] = points[i as usize];
        (cell(y, lo[1]) * nx + cell(x, lo[0])) as u64
    };
    let m = finite.len();
    let slots = (nx as u128) * (ny as u128);
    if slots <= (8 * m as u128).max(1 << 20) && slots < u128::from(u32::MAX) {
        // A counting sort over the slots of the bounding grid.
        let slots = slots as usize;
        let slot: Vec<u32> = finite.par_iter().map(|&i| slot_of(i) as u32).collect();
        let mut at = vec![0u32; slots + 1];
        for &s in &slot {
            at[s as usize + 1] += 1;
        }
        let mut before = Vec::with_capacity(slots + 1);
        let (mut xy, mut start) = (Vec::new(), vec![0u32]);
        let mut total = 0u32;
        for s in 0..slots {
            before.push(xy.len() as u32);
            let here = at[s + 1];
            at[s] = total;
            if here > 0 {
                total += here;
                xy.push(((s as i64) % nx, (s as i64) / nx));
                start.push(total);
            }
        }
        before.push(xy.len() as u32);
        let mut order = vec![0u32; m];
        for (k, &s) in slot.iter().enumerate() {
            let fill = &mut at[s as usize];
            order[*fill as usize] = k as u32;
            *fill += 1;
        }
        let rows = RowIndex::Dense(before);
        let cells = Cells {
            nx,
            ny,
            xy,
            start,
            rows,
        };
        (cells, order)
    } else {
        let mut keyed: Vec<(u64, u32)> = finite
            .par_iter()
            .enumerate()
            .map(|(k, &i)| (slot_of(i), k as u32))
            .collect();
        keyed.par_sort_unstable();
        let order: Vec<u32> = keyed.iter().map(|&(_, k)| k).collect();
        let (mut keys, mut xy, mut start) = (Vec::new(), Vec::new(), Vec::new());
        for (k, &(s, _)) in keyed.iter().enumerate() {
            if keys.last() != Some(&s) {
                keys.push(s);
                xy.push(((s as i64) % nx, (s as i64) / nx));
                start.push(k as u32);
            }
        }
        start.push(m as u32);
        let rows = RowIndex::Sparse(keys);
        let cells = Cells {
            nx,
            ny,
            xy,
            start,
            rows,
        };
        (cells, order)
    }
}

/// `cell(c, out)` for every non-empty cell `c`, appending its points' values to `out`: in
/// parallel lots of [`CELL_LOT`] consecutive cells, each lot writing one vector (made for its
/// points) after a look for a cancel, the lots' vectors joined in cell order.
fn per_cell<T: Copy + Send>(
    cells: &Cells,
    cancel: &Cancel,
    cell: impl Fn(usize, &mut Vec<T>) -> Result<(), Cancelled> + Sync,
) -> Result<Vec<T>, Cancelled> {
    let n = cells.len();
    let lots: Vec<Vec<T>> = (0..n)
        .into_par_iter()
        .step_by(CELL_LOT)
        .map(|c0| -> Result<Vec<T>, Cancelled> {
            cancel.check()?;
            let c1 = (c0 + CELL_LOT).min(n);
            let mut out = Vec::with_capacity((cells.start[c1] - cells.start[c0]) as usize);
            for c in c0..c1 {
                cell(c, &mut out)?;
            }
            Ok(out)
        })
        .collect::<Result<_, Cancelled>>()?;
    Ok(lots.concat())
}

fn grid_dbscan(
    points: &[[f64; 2]],
    finite: &[u32],
    eps: f64,
    min_points: usize,
    lo: [f64; 2],
    hi: [f64; 2],
    cancel: &Cancel,
) -> Result<Labelled, Cancelled> {
    let eps2 = eps * eps;
    let side = eps / std::f64::consts::SQRT_2 * (1.0 - 1e-6);
    let (cells, order) = bucket(points, finite, side, lo, hi);
    cancel.check()?;

    // Coordinates and input indices in cell order, for cache-friendly scans: the points of a
    // run of cells are one slice of `xs`.
    let xs: Vec<[f64; 2]> = order
        .par_iter()
        .map(|&k| points[finite[k as usize] as usize])
        .collect();
    let orig: Vec<u32> = order.par_iter().map(|&k| finite[k as usize]).collect();
    drop(order);
    let start = &cells.start;
    let spans = |c: usize| cells.block(c).map(|r| cells.points(r));

    // 1. Core points, cell by cell in lots of consecutive cells. A cell holding `min_points`
    // points makes them all core; one whose 5 × 5 block holds fewer than `min_points` points in
    // all has none, whatever the distances (in the sparse background most points are settled
    // by these counts alone). Otherwise each point counts the points within ε in the block's
    // rows, its own row first, and stops once it has `min_points`.
    cancel.check()?;
    let is_core: Vec<bool> = per_cell(&cells, cancel, |c, out| {
        let (a, b) = (start[c] as usize, start[c + 1] as usize);
        if b - a >= min_points {
            out.resize(out.len() + (b - a), true);
            return Ok(());
        }
        let spans = spans(c);
        let block: usize = spans.iter().map(|&(sa, sb)| (sb - sa) as usize).sum();
        if block < min_points {
            out.resize(out.len() + (b - a), false);
            return Ok(());
        }
        cancel.check()?;
        for &p in &xs[a..b] {
            if block >= CHECK_BLOCK {
                cancel.check()?;
            }
            let mut count = 0usize;
            for &(sa, sb) in &spans {
                count += xs[sa as usize..sb as usize]
                    .iter()
                    .map(|&q| usize::from(within(p, q, eps2)))
                    .sum::<usize>();
                if count >= min_points {
                    break;
                }
            }
            out.push(count >= min_points);
        }
        Ok(())
    })?;
    let cell_has_core: Vec<bool> = (0..cells.len())
        .map(|c| is_core[start[c] as usize..start[c + 1] as usize].contains(&true))
        .collect();

    // 2. Connect cells whose cores come within ε of each other (all cores in one cell are).
    let mut sets = DisjointSets::new(cells.len());
    for c in 0..cells.len() {
        if !cell_has_core[c] {
            continue;
        }
        cancel.check()?;
        let (a, b) = (start[c], start[c + 1]);
        for (r0, r1) in cells.block(c) {
            for nc in r0.max(c as u32 + 1)..r1 {
                let nc = nc as usize;
                if !cell_has_core[nc] || sets.find(c as u32) == sets.find(nc as u32) {
                    continue;
                }
                let (na, nb) = (start[nc], start[nc + 1]);
                let touches = (a..b).filter(|&k| is_core[k as usize]).any(|k| {
                    let p = xs[k as usize];
                    (na..nb).any(|j| is_core[j as usize] && within(p, xs[j as usize], eps2))
                });
                if touches {
                    sets.union(c as u32, nc as u32);
                }
            }
        }
    }
    let root: Vec<u32> = (0..cells.len() as u32).map(|c| sets.find(c)).collect();
    let (cluster_of_root, clusters) = number_clusters(
        (0..cells.len()).flat_map(|c| {
            let r = root[c];
            let (is_core, orig) = (&is_core, &orig);
            (start[c]..start[c + 1])
                .filter(move |&k| is_core[k as usize])
                .map(move |k| (orig[k as usize] as usize, r))
        }),
        cells.len(),
    );
    // The cells before each cell that hold cores: whether a block has any is two look-ups.
    let mut core_cells = Vec::with_capacity(cells.len() + 1);
    core_cells.push(0u32);
    for &h in &cell_has_core {
        core_cells.push(core_cells.last().unwrap() + u32::from(h));
    }
    // Each point's cluster if it is a core point, else NOISE.
    let core_label: Vec<u32> = (0..cells.len())
        .into_par_iter()
        .flat_map_iter(|c| {
            let own = cluster_of_root[root[c] as usize];
            let is_core = &is_core;
            (start[c]..start[c + 1]).map(move |k| if is_core[k as usize] { own } else { NOISE })
        })
        .collect();

    // 3. Labels: cores keep their cell's cluster, border points take the lowest cluster among
    // the cores within ε.
    cancel.check()?;
    let label = per_cell(&cells, cancel, |c, out| {
        let (a, b) = (start[c] as usize, start[c + 1] as usize);
        let here = &core_label[a..b];
        let runs = cells.block(c);
        let cores_near: u32 = runs
            .iter()
            .map(|&(r0, r1)| core_cells[r1 as usize] - core_cells[r0 as usize])
            .sum();
        if cores_near == 0 || !here.contains(&NOISE) {
            out.extend_from_slice(here);
            return Ok(());
        }
        cancel.check()?;
        let spans = runs.map(|r| cells.points(r));
        for (k, &own) in (a..b).zip(here) {
            if own != NOISE {
                out.push(own);
                continue;
            }
            let p = xs[k];
            let mut best = NOISE;
            for &(sa, sb) in &spans {
                for j in sa as usize..sb as usize {
                    if core_label[j] < best && within(p, xs[j], eps2) {
                        best = core_label[j];
                    }
                }
            }
            out.push(best);
        }
        Ok(())
    })?;
    Ok(Labelled {
        orig,
        label,
        core: is_core,
        clusters,
    })
}

/// The same three steps with R-tree queries: for ε = 0 and for extents where cell indices
/// would be unreliable.
fn tree_dbscan(
    points: &[[f64; 2]],
    finite: &[u32],
    eps: f64,
    min_points: usize,
    cancel: &Cancel,
) -> Result<Labelled, Cancelled> {
    let n = points.len();
    let eps2 = eps * eps;
    let tree: RTree<GeomWithData<[f64; 2], usize>> = RTree::bulk_load(
        finite
            .iter()
            .map(|&i| GeomWithData::new(points[i as usize], i as usize))
            .collect(),
    );
    let mut core = vec![false; n];
    cancel.check()?;
    let flags: Vec<(usize, bool)> = finite
        .par_iter()
        .map(|&i| -> Result<(usize, bool), Cancelled> {
            cancel.check()?;
            let i = i as usize;
            Ok((
                i,
                tree.locate_within_distance(points[i], eps2)
                    .take(min_points)
                    .count()
                    >= min_points,
            ))
        })
        .collect::<Result<_, Cancelled>>()?;
    for (i, c) in flags {
        core[i] = c;
    }
    let mut sets = DisjointSets::new(n);
    for &i in finite {
        if !core[i as usize] {
            continue;
        }
        cancel.check()?;
        for q in tree.locate_within_distance(points[i as usize], eps2) {
            if core[q.data] {
                sets.union(i, q.data as u32);
            }
        }
    }
    let root: Vec<u32> = (0..n as u32).map(|i| sets.find(i)).collect();
    let (cluster_of_root, clusters) =
        number_clusters((0..n).filter(|&i| core[i]).map(|i| (i, root[i])), n);
    let mut label = Vec::with_capacity(finite.len());
    for &i in finite {
        cancel.check()?;
        let i = i as usize;
        label.push(if core[i] {
            cluster_of_root[root[i] as usize]
        } else {
            tree.locate_within_distance(points[i], eps2)
                .filter(|q| core[q.data])
                .map(|q| cluster_of_root[root[q.data] as usize])
                .min()
                .unwrap_or(NOISE)
        });
    }
    Ok(Labelled {
        core: finite.iter().map(|&i| core[i as usize]).collect(),
        orig: finite.to_vec(),
        label,
        clusters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Dbscan, Point};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    fn geo_labels(points: &[[f64; 2]], eps: f64, min: usize) -> Vec<Option<usize>> {
        let pts: Vec<Point<f64>> = points.iter().map(|p| Point::new(p[0], p[1])).collect();
        pts.dbscan(eps, min)
    }

    /// Core flags by brute force, from the definition.
    fn brute_core(points: &[[f64; 2]], eps: f64, min: usize) -> Vec<bool> {
        points
            .iter()
            .map(|p| points.iter().filter(|q| within(*p, **q, eps * eps)).count() >= min)
            .collect()
    }

    fn check(points: &[[f64; 2]], eps: f64, min: usize) {
        let ours = dbscan(points, eps, min);
        assert_eq!(
            ours.labels,
            geo_labels(points, eps, min),
            "eps {eps} min {min}"
        );
        if min > 0 && min <= points.len() {
            assert_eq!(ours.core, brute_core(points, eps, min));
        }
        let finite: Vec<u32> = (0..points.len() as u32).collect();
        let tree = tree_dbscan(points, &finite, eps, min, &Cancel::never())
            .unwrap()
            .into_labels(points.len());
        if min > 0 && min <= points.len() {
            assert_eq!(tree.labels, ours.labels);
        }
    }

    #[test]
    fn equals_geo_on_random_clustered_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for round in 0..6 {
            let mut pts = Vec::new();
            for _ in 0..8 {
                let c = [rng.random_range(0.0..2000.0), rng.random_range(0.0..2000.0)];
                let g = Normal::new(0.0, rng.random_range(10.0..60.0)).unwrap();
                for _ in 0..rng.random_range(20..200) {
                    pts.push([c[0] + g.sample(&mut rng), c[1] + g.sample(&mut rng)]);
                }
            }
            for _ in 0..800 {
                pts.push([rng.random_range(0.0..2000.0), rng.random_range(0.0..2000.0)]);
            }
            // SWEREF-sized coordinates in some rounds.
            if round % 2 == 1 {
                for p in &mut pts {
                    p[0] += 674_000.0;
                    p[1] += 6_590_000.0;
                }
            }
            // A far point in the last rounds: the grid's cells are then indexed sparsely.
            if round >= 4 {
                pts.push([pts[0][0] + 3.0e6, pts[0][1] - 2.0e6]);
            }
            for &(eps, min) in &[(30.0, 5), (15.0, 3), (50.0, 20), (5.0, 2), (30.0, 1)] {
                check(&pts, eps, min);
            }
        }
    }

    #[test]
    fn equals_geo_at_exactly_eps_and_on_a_lattice() {
        // Integer lattice with eps = 1: every horizontal and vertical neighbour is at exactly
        // eps (1·1 + 0·0 = 1 exactly); diagonals at √2 are not neighbours.
        let mut pts = Vec::new();
        for i in 0..20 {
            for j in 0..15 {
                pts.push([i as f64, j as f64]);
            }
        }
        for min in 1..=6 {
            check(&pts, 1.0, min);
        }
        // 3-4-5 triangles: distance exactly 5.
        let tri = vec![
            [0.0, 0.0],
            [3.0, 4.0],
            [6.0, 8.0],
            [9.0, 12.0],
            [100.0, 0.0],
            [103.0, 4.0],
        ];
        check(&tri, 5.0, 2);
        check(&tri, 5.0, 3);
        check(&tri, 4.999_999, 2);
    }

    #[test]
    fn equals_geo_with_duplicates_and_collinear_points() {
        let mut pts = vec![[10.0, 10.0]; 25];
        pts.extend((0..40).map(|i| [i as f64 * 7.5, 200.0]));
        pts.extend(vec![[500.0, 500.0]; 3]);
        pts.push([500.0, 507.5]);
        for &(eps, min) in &[
            (7.5, 2),
            (7.5, 3),
            (7.5, 4),
            (0.0, 3),
            (0.0, 26),
            (1.0, 25),
            (8.0, 30),
        ] {
            check(&pts, eps, min);
        }
    }

    #[test]
    fn border_points_go_to_the_first_cluster_like_geo() {
        // Two dense groups with one point between them, within eps of a core on each side.
        let mut pts = Vec::new();
        pts.extend((0..5).map(|i| [i as f64 * 0.1 + 20.0, 0.0]));
        pts.push([10.0, 0.0]);
        pts.extend((0..5).map(|i| [i as f64 * 0.1, 0.0]));
        check(&pts, 10.0, 5);
        check(&pts, 9.6, 5);
    }

    #[test]
    fn edge_cases_match_geo() {
        check(&[], 1.0, 2);
        check(&[[0.0, 0.0]], 1.0, 1);
        check(&[[0.0, 0.0], [0.5, 0.0]], 1.0, 0);
        check(&[[0.0, 0.0], [0.5, 0.0]], 1.0, 3);
        let far = vec![[0.0, 0.0], [1e9, 1e9], [1e9 + 1.0, 1e9]];
        check(&far, 2.0, 2);
    }
}
