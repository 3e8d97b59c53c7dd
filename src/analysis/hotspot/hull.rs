//! A tight outline for a cluster of points.
//!
//! A convex hull around an L-shaped or crescent cluster swallows the empty space inside the
//! bend, and a patrol sent there finds nothing. The outline is therefore a χ-shape (Duckham,
//! Kulik, Worboys & Galton, *Efficient generation of simple polygons for characterizing the
//! shape of a set of points in the plane*, Pattern Recognition 41, 2008): the Delaunay
//! triangulation of the points, from which boundary triangles are taken away, longest boundary
//! edge first, while that edge is longer than `eps` metres (the DBSCAN radius: finer detail
//! than that is noise) and the triangle's third corner is not on the boundary yet. That rule
//! keeps the outline one simple polygon, and since every point stays a corner of a remaining
//! triangle, every point is inside it or on it. Where no edge is longer than `eps` it is the
//! convex hull. Degenerate clusters (one distinct location, or all on a line) get a small
//! octagon of radius `max(eps/2, 5 m)` around the points (or around the segment's ends), so
//! every cluster has an area to click on.
//!
//! (It was `geo`'s `ConcaveHull` before, a port of concaveman: on the 1M-incident bench its 183
//! outlines took 250 ms of CPU, a third of the whole DBSCAN answer, and nothing guaranteed that
//! every member was inside.)

use std::collections::BinaryHeap;

use geo::{Area, ConvexHull, Coord, Intersects, LineString, MultiPoint, Point, Polygon};
use spade::{DelaunayTriangulation, Point2, Triangulation};

/// A polygon (EPSG:3006) around `points`.
pub fn cluster_hull(points: &[[f64; 2]], eps: f64) -> Polygon<f64> {
    let mut distinct: Vec<[f64; 2]> = points.to_vec();
    distinct.sort_unstable_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    distinct.dedup();
    let radius = (eps / 2.0).max(5.0);
    if distinct.len() < 3 {
        return padded(&distinct, radius);
    }
    let convex_hull = |pts: &[[f64; 2]]| -> Polygon<f64> {
        let mp: MultiPoint<f64> = pts.iter().map(|p| Point::new(p[0], p[1])).collect();
        mp.convex_hull()
    };
    let flat = |p: &Polygon<f64>| p.unsigned_area() < 1e-6 * radius * radius;
    let max_edge = eps.max(1.0);
    let thinned = Thinned::new(&distinct, max_edge / 2.0);
    // The kept points' hull lies inside the cluster's: when it is not flat, neither is the
    // cluster's, which need not be drawn unless everything else fails.
    let mut convex = None;
    let surely_not_flat = thinned
        .as_ref()
        .is_some_and(|t| !flat(&convex_hull(&t.kept)));
    if !surely_not_flat {
        let all = convex_hull(&distinct);
        if flat(&all) {
            return padded(&distinct, radius);
        }
        convex = Some(all);
    }
    let usable = |p: &Polygon<f64>| p.exterior().0.len() >= 4 && p.unsigned_area() > 0.0;
    if let Some(t) = &thinned
        && let Some(p) = chi_shape(&t.kept, max_edge)
        && usable(&p)
        && t.all_inside(&p)
    {
        return p;
    }
    match chi_shape(&distinct, max_edge) {
        Some(p) if usable(&p) => p,
        _ => convex.unwrap_or_else(|| convex_hull(&distinct)),
    }
}

/// A dense cluster with its inside thinned out, for the triangulation: on a grid of `side`
/// (half the longest edge kept), a cell whose eight neighbours all hold points is *inner*, and
/// only its first point is kept; every point of the other cells is kept. The digging stops
/// at the edge of a dense cluster, before it reaches the thinned inside: on hotspots like the
/// bench's, 40 % of the points give the same outline in half the time. (A grid of the whole
/// longest edge thinned so far that the digging reached inside.)
///
/// Whether the dropped points are inside the outline of the kept ones is checked
/// ([`Thinned::all_inside`]), not assumed; when one is not, the outline is drawn from them all.
struct Thinned {
    kept: Vec<[f64; 2]>,
    /// The dropped points, each with its cell.
    dropped: Vec<([f64; 2], usize)>,
    origin: [f64; 2],
    side: f64,
    cols: usize,
    rows: usize,
}

impl Thinned {
    /// `None` when nothing would be dropped, or the grid would hold far more cells than points.
    fn new(points: &[[f64; 2]], side: f64) -> Option<Self> {
        let (lo, hi) = crate::analysis::limits::extent(points)?;
        let cols = ((hi[0] - lo[0]) / side).floor() + 1.0;
        let rows = ((hi[1] - lo[1]) / side).floor() + 1.0;
        // False for a NaN side or extent as well.
        let fits = side > 0.0 && cols * rows <= 4.0 * points.len() as f64;
        if points.len() < 64 || !fits {
            return None;
        }
        let mut t = Self {
            kept: Vec::new(),
            dropped: Vec::new(),
            origin: lo,
            side,
            cols: cols as usize,
            rows: rows as usize,
        };
        let cells: Vec<usize> = points.iter().map(|p| t.cell(*p)).collect();
        let mut count = vec![0u32; t.cols * t.rows];
        for &c in &cells {
            count[c] += 1;
        }
        let inner = |c: usize| {
            let (i, j) = (c % t.cols, c / t.cols);
            i > 0
                && j > 0
                && i + 1 < t.cols
                && j + 1 < t.rows
                && (j - 1..=j + 1).all(|jj| (i - 1..=i + 1).all(|ii| count[jj * t.cols + ii] > 0))
        };
        let mut first_taken = vec![false; t.cols * t.rows];
        let (mut kept, mut dropped) = (Vec::new(), Vec::new());
        for (p, &c) in points.iter().zip(&cells) {
            if inner(c) && std::mem::replace(&mut first_taken[c], true) {
                dropped.push((*p, c));
            } else {
                kept.push(*p);
            }
        }
        if dropped.is_empty() {
            return None;
        }
        (t.kept, t.dropped) = (kept, dropped);
        Some(t)
    }

    fn cell(&self, p: [f64; 2]) -> usize {
        let i = (((p[0] - self.origin[0]) / self.side).floor() as usize).min(self.cols - 1);
        let j = (((p[1] - self.origin[1]) / self.side).floor() as usize).min(self.rows - 1);
        j * self.cols + i
    }

    /// Whether every dropped point is inside `outline` (the χ-shape of the kept points) or on
    /// it. A cell the outline does not pass through lies wholly on one side of it, and its
    /// kept first point is a corner of a remaining triangle, so inside: its dropped points are
    /// inside too. Only the dropped points of the cells the outline passes through (marked
    /// with their neighbours, from points along each edge half a cell apart) are tested one by
    /// one.
    fn all_inside(&self, outline: &Polygon<f64>) -> bool {
        let mut crossed = vec![false; self.cols * self.rows];
        let (cols, rows) = (self.cols as i64, self.rows as i64);
        for line in outline.exterior().lines() {
            let (a, b) = (line.start, line.end);
            let steps = ((b.x - a.x).hypot(b.y - a.y) / (self.side / 2.0))
                .ceil()
                .max(1.0);
            for k in 0..=steps as usize {
                let f = k as f64 / steps;
                let x = a.x + (b.x - a.x) * f;
                let y = a.y + (b.y - a.y) * f;
                let i = ((x - self.origin[0]) / self.side).floor() as i64;
                let j = ((y - self.origin[1]) / self.side).floor() as i64;
                for jj in (j - 1).max(0)..=(j + 1).min(rows - 1) {
                    for ii in (i - 1).max(0)..=(i + 1).min(cols - 1) {
                        crossed[(jj * cols + ii) as usize] = true;
                    }
                }
            }
        }
        self.dropped
            .iter()
            .all(|&(p, c)| !crossed[c] || outline.intersects(&Coord { x: p[0], y: p[1] }))
    }
}

/// The χ-shape of `points` (distinct, not all on a line) with edges dug down to `max_edge`,
/// counter-clockwise; `None` when they cannot be triangulated.
fn chi_shape(points: &[[f64; 2]], max_edge: f64) -> Option<Polygon<f64>> {
    let vertices: Vec<Point2<f64>> = points.iter().map(|p| Point2::new(p[0], p[1])).collect();
    let t: DelaunayTriangulation<Point2<f64>> = DelaunayTriangulation::bulk_load(vertices).ok()?;
    if t.all_vertices_on_line() {
        return None;
    }
    let mut removed = vec![false; t.num_all_faces()];
    let mut on_boundary = vec![false; t.num_vertices()];
    // Boundary edges, each as the directed edge with its triangle on its left, longest first
    // (the bits of a positive f64 order as the number does).
    let mut queue = BinaryHeap::new();
    for hull_edge in t.convex_hull() {
        // spade gives the hull clockwise: the outer face is on the left, the triangle on the
        // reverse's left.
        on_boundary[hull_edge.from().fix().index()] = true;
        let e = hull_edge.rev();
        queue.push((e.length_2().to_bits(), e.fix()));
    }
    let limit = (max_edge * max_edge).to_bits();
    while let Some((length, fixed)) = queue.pop() {
        if length <= limit {
            break;
        }
        let e = t.directed_edge(fixed);
        let Some(face) = e.face().as_inner() else {
            continue;
        };
        let Some(corner) = e.opposite_vertex() else {
            continue;
        };
        if removed[face.fix().index()] || on_boundary[corner.fix().index()] {
            continue;
        }
        removed[face.fix().index()] = true;
        on_boundary[corner.fix().index()] = true;
        // The triangle's other two edges become boundary, seen from the triangles beyond.
        for side in [e.next().rev(), e.prev().rev()] {
            if let Some(beyond) = side.face().as_inner()
                && !removed[beyond.fix().index()]
            {
                queue.push((side.length_2().to_bits(), side.fix()));
            }
        }
    }
    // The outline: the edges with a remaining triangle on their left and none on their right,
    // one leaving each boundary corner, followed round.
    let kept = |f: spade::handles::FaceHandle<'_, spade::handles::PossiblyOuterTag, _, _, _, _>| {
        f.as_inner().is_some_and(|f| !removed[f.fix().index()])
    };
    let mut next = vec![usize::MAX; t.num_vertices()];
    let mut start = None;
    for e in t.directed_edges() {
        if kept(e.face()) && !kept(e.rev().face()) {
            let (a, b) = (e.from().fix().index(), e.to().fix().index());
            next[a] = b;
            start.get_or_insert(a);
        }
    }
    let start = start?;
    let mut ring = Vec::new();
    let mut v = start;
    loop {
        let p = t
            .vertex(spade::handles::FixedVertexHandle::from_index(v))
            .position();
        ring.push(Coord { x: p.x, y: p.y });
        v = next[v];
        if v == start {
            break;
        }
        if v == usize::MAX || ring.len() > points.len() {
            return None;
        }
    }
    ring.push(ring[0]);
    Some(Polygon::new(LineString::new(ring), vec![]))
}

/// The convex hull of octagons of `radius` around each point: for one or two distinct
/// locations and collinear points.
fn padded(points: &[[f64; 2]], radius: f64) -> Polygon<f64> {
    let ends: Vec<[f64; 2]> = match points.len() {
        0 => return Polygon::new(LineString::new(vec![]), vec![]),
        1 | 2 => points.to_vec(),
        _ => vec![points[0], points[points.len() - 1]],
    };
    let mut ring = Vec::new();
    for p in ends {
        for k in 0..8 {
            let a = (22.5 + 45.0 * k as f64).to_radians();
            ring.push(Point::new(p[0] + radius * a.cos(), p[1] + radius * a.sin()));
        }
    }
    let mp = MultiPoint::new(ring);
    let hull = mp.convex_hull();
    if hull.exterior().0.is_empty() {
        Polygon::new(LineString::new(vec![Coord { x: 0.0, y: 0.0 }]), vec![])
    } else {
        hull
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Contains;

    #[test]
    fn an_l_shaped_cluster_gets_a_concave_outline() {
        let mut pts = Vec::new();
        for i in 0..=40 {
            for w in 0..3 {
                pts.push([i as f64 * 5.0, w as f64 * 5.0]);
                pts.push([w as f64 * 5.0, i as f64 * 5.0]);
            }
        }
        let hull = cluster_hull(&pts, 10.0);
        let convex =
            MultiPoint::from(pts.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>()).convex_hull();
        assert!(hull.unsigned_area() < 0.5 * convex.unsigned_area());
        // The empty corner of the L is outside.
        assert!(!hull.contains(&Point::new(150.0, 150.0)));
    }

    #[test]
    fn one_location_gets_a_small_octagon() {
        let hull = cluster_hull(&[[100.0, 100.0]; 30], 30.0);
        assert!(hull.contains(&Point::new(100.0, 100.0)));
        let a = hull.unsigned_area();
        // Regular octagon of circumradius 15: 2√2·r².
        assert!((a - 2.0 * 2f64.sqrt() * 225.0).abs() < 1e-6, "{a}");
    }

    #[test]
    fn collinear_points_get_a_capsule() {
        let pts: Vec<[f64; 2]> = (0..10).map(|i| [i as f64 * 10.0, 0.0]).collect();
        let hull = cluster_hull(&pts, 20.0);
        assert!(hull.contains(&Point::new(45.0, 0.0)));
        assert!(hull.unsigned_area() > 0.0);
    }

    /// Seeded clusters of several shapes and sizes, SWEREF-sized coordinates: every point is
    /// inside the outline or on it, and the outline is one valid simple polygon, never larger
    /// than the convex hull.
    #[test]
    fn every_point_is_inside_a_valid_outline() {
        use geo::{Intersects, Validation};
        use rand::{Rng, SeedableRng};
        use rand_distr::{Distribution, Normal};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for round in 0..40 {
            let sigma = rng.random_range(5.0..120.0);
            let g = Normal::new(0.0, sigma).unwrap();
            let n = rng.random_range(3..3000);
            let mut pts: Vec<[f64; 2]> = (0..n)
                .map(|_| {
                    [
                        674_000.0 + g.sample(&mut rng),
                        6_590_000.0 + g.sample(&mut rng),
                    ]
                })
                .collect();
            if round % 3 == 0 {
                // A crescent: the half-plane cut away, and points on a 1 m lattice.
                pts.retain(|p| {
                    p[0] - 674_000.0 > 0.3 * sigma * ((p[1] - 6_590_000.0) / sigma).powi(2) - sigma
                });
                for p in &mut pts {
                    *p = [p[0].round(), p[1].round()];
                }
            }
            let eps = rng.random_range(2.0..60.0);
            let hull = cluster_hull(&pts, eps);
            assert!(
                hull.is_valid(),
                "round {round}: {:?}",
                hull.exterior().0.len()
            );
            for p in &pts {
                assert!(
                    hull.intersects(&Point::new(p[0], p[1])),
                    "round {round}: {p:?} outside"
                );
            }
            let convex = MultiPoint::from(pts.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>())
                .convex_hull();
            assert!(hull.unsigned_area() <= convex.unsigned_area() * (1.0 + 1e-9) + 1e-6);
        }
    }

    /// Points 2 m apart filling a known L (area 40·10 + 10·30 = 700 m²), outlined with edges
    /// down to 5 m: the notch is dug out, and the outline is the L within the thin triangles
    /// that may stay along its inner corner.
    #[test]
    fn a_sampled_l_is_outlined_as_the_l() {
        let mut pts = Vec::new();
        for i in 0..=20 {
            for j in 0..=20 {
                let (x, y) = (f64::from(i) * 2.0, f64::from(j) * 2.0);
                if x <= 10.0 || y <= 10.0 {
                    pts.push([x, y]);
                }
            }
        }
        let hull = cluster_hull(&pts, 5.0);
        let a = hull.unsigned_area();
        assert!((a - 700.0).abs() <= 8.0, "area {a}, the L has 700");
        for p in [[25.0, 25.0], [15.0, 35.0], [35.0, 15.0], [12.0, 12.0]] {
            assert!(
                !hull.contains(&Point::new(p[0], p[1])),
                "{p:?} is in the notch"
            );
        }
    }

    /// Without an edge longer than `eps`, the outline is the convex hull: a 7 × 7 lattice 10 m
    /// apart with eps 30 is its 60 m square.
    #[test]
    fn a_lattice_without_long_edges_is_its_square() {
        let pts: Vec<[f64; 2]> = (0..7)
            .flat_map(|i| (0..7).map(move |j| [f64::from(i) * 10.0, f64::from(j) * 10.0]))
            .collect();
        let hull = cluster_hull(&pts, 30.0);
        assert!((hull.unsigned_area() - 3600.0).abs() < 1e-6);
    }

    /// A hotspot like the bench's (2 000 points, σ = 80 m, eps 30): more than half of it is
    /// thinned out, and the outline drawn from the rest is the one drawn from all the points
    /// (within half a per cent of area; on these seeds the same).
    #[test]
    fn a_thinned_hotspot_keeps_its_outline() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let g = Normal::new(0.0, 80.0).unwrap();
        let mut left_out = false;
        for _ in 0..5 {
            let mut pts: Vec<[f64; 2]> = (0..2000)
                .map(|_| [g.sample(&mut rng), g.sample(&mut rng)])
                .collect();
            pts.sort_unstable_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
            pts.dedup();
            let t = Thinned::new(&pts, 15.0).expect("a dense cluster is thinned");
            assert!(
                t.kept.len() < pts.len() / 2,
                "{} of {} kept",
                t.kept.len(),
                pts.len()
            );
            // The cell-wise check says what testing every dropped point says, also on a grid so
            // coarse (the whole eps) that the digging reaches inside and leaves points out.
            for side in [15.0, 30.0] {
                let t = Thinned::new(&pts, side).unwrap();
                let outline = chi_shape(&t.kept, 30.0).unwrap();
                let every = t
                    .dropped
                    .iter()
                    .all(|(p, _)| outline.intersects(&Coord { x: p[0], y: p[1] }));
                assert_eq!(t.all_inside(&outline), every, "side {side}");
                left_out |= !every;
            }
            let full = chi_shape(&pts, 30.0).unwrap().unsigned_area();
            let thinned = cluster_hull(&pts, 30.0).unsigned_area();
            assert!(
                (thinned - full).abs() < 0.005 * full,
                "thinned {thinned:.0} m², from all points {full:.0} m²"
            );
        }
        assert!(
            left_out,
            "the coarse grid left a point out, and the check saw it"
        );
    }
}
