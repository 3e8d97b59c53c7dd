//! A tight outline for a cluster of points.
//!
//! A convex hull around an L-shaped or crescent cluster swallows the empty space inside the
//! bend, and a patrol sent there finds nothing. The outline is therefore the concave hull of
//! `geo` ([`geo::ConcaveHull`], a port of Agafonkin's *concaveman*, after Park & Oh 2012) with
//! edges never drilled below `eps` metres (the DBSCAN radius: finer detail than that is noise),
//! which is the convex hull where that is already tight. Degenerate clusters (one distinct
//! location, or all on a line) get a small octagon of radius `max(eps/2, 5 m)` around the
//! points (or around the segment's ends), so every cluster has an area to click on.

use geo::concave_hull::ConcaveHullOptions;
use geo::{Area, ConcaveHull, ConvexHull, Coord, LineString, MultiPoint, Point, Polygon};

/// A polygon (EPSG:3006) around `points`.
pub fn cluster_hull(points: &[[f64; 2]], eps: f64) -> Polygon<f64> {
    let mut distinct: Vec<[f64; 2]> = points.to_vec();
    distinct.sort_unstable_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    distinct.dedup();
    let radius = (eps / 2.0).max(5.0);
    if distinct.len() < 3 {
        return padded(&distinct, radius);
    }
    let mp: MultiPoint<f64> = distinct.iter().map(|p| Point::new(p[0], p[1])).collect();
    let convex = mp.convex_hull();
    if convex.unsigned_area() < 1e-6 * radius * radius {
        return padded(&distinct, radius);
    }
    let concave = mp.concave_hull_with_options(ConcaveHullOptions {
        concavity: 2.0,
        length_threshold: eps.max(1.0),
    });
    if concave.exterior().0.len() >= 4 && concave.unsigned_area() > 0.0 {
        let mut p = concave;
        use geo::orient::{Direction, Orient};
        p = p.orient(Direction::Default);
        p
    } else {
        convex
    }
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
}
