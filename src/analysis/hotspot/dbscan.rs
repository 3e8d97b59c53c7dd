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
//!    (in parallel with rayon, a few thousand cells per task);
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
/// cell and per point counted).
pub fn dbscan_with(
    points: &[[f64; 2]],
    eps: f64,
    min_points: usize,
    cancel: &Cancel,
) -> Result<DbscanLabels, Cancelled> {
    cancel.check()?;
    let n = points.len();
    let noise = || DbscanLabels {
        labels: vec![None; n],
        core: vec![false; n],
        clusters: 0,
    };
    if n == 0 || min_points == 0 || min_points > n || !eps.is_finite() || eps < 0.0 {
        return Ok(noise());
    }
    let finite: Vec<usize> = (0..n)
        .filter(|&i| points[i][0].is_finite() && points[i][1].is_finite())
        .collect();
    if finite.is_empty() {
        return Ok(noise());
    }
    let (mut minx, mut miny, mut maxx, mut maxy) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &i in &finite {
        let [x, y] = points[i];
        minx = minx.min(x);
        miny = miny.min(y);
        maxx = maxx.max(x);
        maxy = maxy.max(y);
    }
    let extent = (maxx - minx).max(maxy - miny);
    if eps > 0.0 && extent / eps < 1e8 {
        grid_dbscan(points, &finite, eps, min_points, [minx, miny], cancel)
    } else {
        tree_dbscan(points, &finite, eps, min_points, cancel)
    }
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

/// Where each non-empty cell's points lie in the cell-sorted arrays.
enum CellIndex {
    /// One slot per cell of the bounding grid.
    Dense { nx: i64, ny: i64, start: Vec<u32> },
    /// Sorted keys of the non-empty cells (for sparse, wide extents).
    Sparse { keys: Vec<u64>, nx: i64, ny: i64 },
}

impl CellIndex {
    /// The non-empty cell at `(cx, cy)` as an index into the cell list, if any.
    #[inline]
    fn lookup(&self, cx: i64, cy: i64, cell_of_slot: &[u32]) -> Option<u32> {
        match self {
            CellIndex::Dense { nx, ny, start } => {
                if cx < 0 || cy < 0 || cx >= *nx || cy >= *ny {
                    return None;
                }
                let slot = (cy * nx + cx) as usize;
                (start[slot] != start[slot + 1]).then(|| cell_of_slot[slot])
            }
            CellIndex::Sparse { keys, nx, ny } => {
                if cx < 0 || cy < 0 || cx >= *nx || cy >= *ny {
                    return None;
                }
                let key = (cy * nx + cx) as u64;
                keys.binary_search(&key).ok().map(|i| i as u32)
            }
        }
    }
}

/// The bucketed points: the cell index, the point order (cell by cell), each non-empty cell's
/// range in that order and its grid address, and (dense grids) the cell of each grid slot.
type Buckets = (
    CellIndex,
    Vec<u32>,
    Vec<(u32, u32)>,
    Vec<(i64, i64)>,
    Vec<u32>,
);

/// Cells handled together by one parallel task: a few hundred tasks for a million points, each
/// writing one vector rather than one per cell.
const CELL_LOT: usize = 2048;

fn grid_dbscan(
    points: &[[f64; 2]],
    finite: &[usize],
    eps: f64,
    min_points: usize,
    origin: [f64; 2],
    cancel: &Cancel,
) -> Result<DbscanLabels, Cancelled> {
    let n = points.len();
    let eps2 = eps * eps;
    let side = eps / std::f64::consts::SQRT_2 * (1.0 - 1e-6);
    let cell_xy = |p: [f64; 2]| -> (i64, i64) {
        (
            ((p[0] - origin[0]) / side).floor() as i64,
            ((p[1] - origin[1]) / side).floor() as i64,
        )
    };
    let (mut nx, mut ny) = (0i64, 0i64);
    let cxy: Vec<(i64, i64)> = finite.par_iter().map(|&i| cell_xy(points[i])).collect();
    for &(cx, cy) in &cxy {
        nx = nx.max(cx + 1);
        ny = ny.max(cy + 1);
    }
    let m = finite.len();
    cancel.check()?;

    // Bucket the points by cell: `order[k]` is the k-th point in cell order (an index into
    // `finite`), cells are runs in that order.
    let dense = (nx as u128) * (ny as u128) <= (8 * m as u128).max(1 << 20);
    let (index, order, cell_ranges, cell_xy_list, cell_of_slot): Buckets = if dense {
        let slots = (nx * ny) as usize;
        let mut start = vec![0u32; slots + 1];
        for &(cx, cy) in &cxy {
            start[(cy * nx + cx) as usize + 1] += 1;
        }
        for s in 0..slots {
            start[s + 1] += start[s];
        }
        let mut fill = start.clone();
        let mut order = vec![0u32; m];
        for (k, &(cx, cy)) in cxy.iter().enumerate() {
            let slot = (cy * nx + cx) as usize;
            order[fill[slot] as usize] = k as u32;
            fill[slot] += 1;
        }
        let mut ranges = Vec::new();
        let mut xy = Vec::new();
        let mut cell_of_slot = vec![u32::MAX; slots];
        for s in 0..slots {
            if start[s] != start[s + 1] {
                cell_of_slot[s] = ranges.len() as u32;
                ranges.push((start[s], start[s + 1]));
                xy.push(((s as i64) % nx, (s as i64) / nx));
            }
        }
        (
            CellIndex::Dense { nx, ny, start },
            order,
            ranges,
            xy,
            cell_of_slot,
        )
    } else {
        let mut keyed: Vec<(u64, u32)> = cxy
            .iter()
            .enumerate()
            .map(|(k, &(cx, cy))| ((cy * nx + cx) as u64, k as u32))
            .collect();
        keyed.par_sort_unstable();
        let order: Vec<u32> = keyed.iter().map(|&(_, k)| k).collect();
        let mut keys = Vec::new();
        let mut ranges = Vec::new();
        let mut xy = Vec::new();
        let mut a = 0usize;
        while a < keyed.len() {
            let mut b = a;
            while b < keyed.len() && keyed[b].0 == keyed[a].0 {
                b += 1;
            }
            let key = keyed[a].0 as i64;
            keys.push(keyed[a].0);
            ranges.push((a as u32, b as u32));
            xy.push((key % nx, key / nx));
            a = b;
        }
        (
            CellIndex::Sparse { keys, nx, ny },
            order,
            ranges,
            xy,
            Vec::new(),
        )
    };

    // Coordinates and original indices in cell order, for cache-friendly scans.
    let xs: Vec<[f64; 2]> = order.iter().map(|&k| points[finite[k as usize]]).collect();
    let orig: Vec<usize> = order.iter().map(|&k| finite[k as usize]).collect();
    let cells = cell_ranges.len();

    // The 5 × 5 stencil, nearest cells first, so that counting in dense areas reaches
    // `min_points` (and stops) early.
    let mut stencil: Vec<(i64, i64)> = (-2..=2)
        .flat_map(|dy| (-2..=2).map(move |dx| (dx, dy)))
        .collect();
    stencil.sort_by_key(|&(dx, dy)| dx * dx + dy * dy);
    let neighbour_cells = |c: usize, out: &mut Vec<u32>| {
        out.clear();
        let (cx, cy) = cell_xy_list[c];
        for &(dx, dy) in &stencil {
            if let Some(nc) = index.lookup(cx + dx, cy + dy, &cell_of_slot) {
                out.push(nc);
            }
        }
    };

    // 1. Core points, cell by cell in lots of consecutive cells (whose points are consecutive
    // in `xs`). A cell whose 5 × 5 block holds fewer than `min_points` points in all has no
    // core point, whatever the distances: in the sparse background most points are settled by
    // the cell counts alone.
    cancel.check()?;
    let lots: Vec<(usize, usize)> = (0..cells)
        .step_by(CELL_LOT)
        .map(|a| (a, (a + CELL_LOT).min(cells)))
        .collect();
    // The points of the cells `c0..c1`, consecutive in `xs`.
    let lot_points = |c0: usize, c1: usize| (cell_ranges[c1 - 1].1 - cell_ranges[c0].0) as usize;
    let core_lots: Vec<Vec<bool>> = lots
        .par_iter()
        .map_init(
            Vec::new,
            |nbrs, &(c0, c1)| -> Result<Vec<bool>, Cancelled> {
                cancel.check()?;
                let mut out = Vec::with_capacity(lot_points(c0, c1));
                for c in c0..c1 {
                    let (a, b) = cell_ranges[c];
                    let here = (b - a) as usize;
                    if here >= min_points {
                        out.resize(out.len() + here, true);
                        continue;
                    }
                    neighbour_cells(c, nbrs);
                    let block: usize = nbrs
                        .iter()
                        .map(|&nc| {
                            let (na, nb) = cell_ranges[nc as usize];
                            (nb - na) as usize
                        })
                        .sum();
                    if block < min_points {
                        out.resize(out.len() + here, false);
                        continue;
                    }
                    cancel.check()?;
                    out.extend((a..b).map(|k| {
                        let p = xs[k as usize];
                        let mut count = here;
                        for &nc in nbrs.iter() {
                            if nc as usize == c {
                                continue;
                            }
                            let (na, nb) = cell_ranges[nc as usize];
                            for q in &xs[na as usize..nb as usize] {
                                if within(p, *q, eps2) {
                                    count += 1;
                                }
                            }
                            if count >= min_points {
                                return true;
                            }
                        }
                        count >= min_points
                    }));
                }
                Ok(out)
            },
        )
        .collect::<Result<_, Cancelled>>()?;
    let is_core: Vec<bool> = core_lots.concat();
    let cell_has_core: Vec<bool> = cell_ranges
        .iter()
        .map(|&(a, b)| is_core[a as usize..b as usize].iter().any(|&c| c))
        .collect();

    // 2. Connect cells whose cores come within eps of each other.
    let mut sets = DisjointSets::new(cells);
    let mut nbrs = Vec::new();
    for c in 0..cells {
        if !cell_has_core[c] {
            continue;
        }
        cancel.check()?;
        neighbour_cells(c, &mut nbrs);
        let (a, b) = cell_ranges[c];
        for &nc in &nbrs {
            let nc = nc as usize;
            if nc <= c || !cell_has_core[nc] || sets.find(c as u32) == sets.find(nc as u32) {
                continue;
            }
            let (na, nb) = cell_ranges[nc];
            let touches = (a..b).filter(|&k| is_core[k as usize]).any(|k| {
                let p = xs[k as usize];
                (na..nb).any(|j| is_core[j as usize] && within(p, xs[j as usize], eps2))
            });
            if touches {
                sets.union(c as u32, nc as u32);
            }
        }
    }
    let root: Vec<u32> = (0..cells as u32).map(|c| sets.find(c)).collect();
    let (cluster_of_root, clusters) = number_clusters(
        (0..cells).flat_map(|c| {
            let (a, b) = cell_ranges[c];
            let r = root[c];
            let is_core = &is_core;
            let orig = &orig;
            (a..b)
                .filter(move |&k| is_core[k as usize])
                .map(move |k| (orig[k as usize], r))
        }),
        cells,
    );

    // 3. Labels: cores take their cell's cluster, border points the lowest cluster among the
    // cores within eps.
    cancel.check()?;
    let label_lots: Vec<Vec<Option<usize>>> = lots
        .par_iter()
        .map_init(
            Vec::new,
            |nbrs, &(c0, c1)| -> Result<Vec<Option<usize>>, Cancelled> {
                cancel.check()?;
                let mut out = Vec::with_capacity(lot_points(c0, c1));
                for c in c0..c1 {
                    let (a, b) = cell_ranges[c];
                    let own = cluster_of_root[root[c] as usize];
                    let mut looked = false;
                    for k in a..b {
                        if is_core[k as usize] {
                            out.push(Some(own as usize));
                            continue;
                        }
                        if !looked {
                            cancel.check()?;
                            neighbour_cells(c, nbrs);
                            // Only the cells with cores matter to a border point.
                            nbrs.retain(|&nc| cell_has_core[nc as usize]);
                            looked = true;
                        }
                        let p = xs[k as usize];
                        let mut best = u32::MAX;
                        for &nc in nbrs.iter() {
                            let nc = nc as usize;
                            let cid = cluster_of_root[root[nc] as usize];
                            if cid >= best {
                                continue;
                            }
                            let (na, nb) = cell_ranges[nc];
                            if (na..nb)
                                .any(|j| is_core[j as usize] && within(p, xs[j as usize], eps2))
                            {
                                best = cid;
                            }
                        }
                        out.push((best != u32::MAX).then_some(best as usize));
                    }
                }
                Ok(out)
            },
        )
        .collect::<Result<_, Cancelled>>()?;

    let mut labels = vec![None; n];
    let mut core = vec![false; n];
    for (k, l) in label_lots.into_iter().flatten().enumerate() {
        labels[orig[k]] = l;
        core[orig[k]] = is_core[k];
    }
    Ok(DbscanLabels {
        labels,
        core,
        clusters,
    })
}

/// The same three steps with R-tree queries: for ε = 0 and for extents where cell indices
/// would be unreliable.
fn tree_dbscan(
    points: &[[f64; 2]],
    finite: &[usize],
    eps: f64,
    min_points: usize,
    cancel: &Cancel,
) -> Result<DbscanLabels, Cancelled> {
    let n = points.len();
    let eps2 = eps * eps;
    let tree: RTree<GeomWithData<[f64; 2], usize>> = RTree::bulk_load(
        finite
            .iter()
            .map(|&i| GeomWithData::new(points[i], i))
            .collect(),
    );
    let mut core = vec![false; n];
    cancel.check()?;
    let flags: Vec<(usize, bool)> = finite
        .par_iter()
        .map(|&i| -> Result<(usize, bool), Cancelled> {
            cancel.check()?;
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
        if !core[i] {
            continue;
        }
        cancel.check()?;
        for q in tree.locate_within_distance(points[i], eps2) {
            if core[q.data] {
                sets.union(i as u32, q.data as u32);
            }
        }
    }
    let root: Vec<u32> = (0..n as u32).map(|i| sets.find(i)).collect();
    let (cluster_of_root, clusters) =
        number_clusters((0..n).filter(|&i| core[i]).map(|i| (i, root[i])), n);
    let mut labels = vec![None; n];
    for &i in finite {
        cancel.check()?;
        labels[i] = if core[i] {
            Some(cluster_of_root[root[i] as usize] as usize)
        } else {
            tree.locate_within_distance(points[i], eps2)
                .filter(|q| core[q.data])
                .map(|q| cluster_of_root[root[q.data] as usize] as usize)
                .min()
        };
    }
    Ok(DbscanLabels {
        labels,
        core,
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
        let finite: Vec<usize> = (0..points.len()).collect();
        let tree = tree_dbscan(points, &finite, eps, min, &Cancel::never()).unwrap();
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
