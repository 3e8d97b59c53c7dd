//! Square and hexagonal grids in EPSG:3006, and counting points into them.
//!
//! A cell is addressed by two integers:
//! - **square** grid of side `cell`: `(i, j)` with centre `origin + ((i + ½)·cell, (j + ½)·cell)`;
//! - **hexagonal** grid, pointy-top, where `cell` is the distance between the centres of two
//!   adjacent hexagons (twice the apothem; area `√3/2 · cell²`): axial `(q, r)` with centre
//!   `origin + cell·(q + r/2, r·√3/2)`.
//!
//! Because both grids are lattices, the cells within a distance band of a cell are the same
//! offsets everywhere ([`Grid::offsets_within`]): neighbourhoods cost no spatial search. The
//! band is inclusive (centre distance ≤ band), as libpysal's `DistanceBand` has it.
//!
//! The grid's origin is snapped to a multiple of the cell size, so the same data always falls
//! into the same cells whatever the filter (comparisons of periods and caching rely on this).

use std::collections::HashMap;

use geo::{Coord, LineString, Polygon};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::cancel::{Cancel, Cancelled};

const SQRT3: f64 = 1.732_050_807_568_877_2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GridKind {
    #[default]
    Square,
    Hex,
}

impl GridKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "square" => Some(Self::Square),
            "hex" | "hexagon" => Some(Self::Hex),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Square => "square",
            Self::Hex => "hex",
        }
    }
}

/// A cell's address: `(i, j)` for squares, axial `(q, r)` for hexagons.
pub type CellId = (i32, i32);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub kind: GridKind,
    pub origin: [f64; 2],
    /// Square side, or the distance between adjacent hexagon centres, in metres.
    pub cell: f64,
}

impl Grid {
    /// A grid whose origin is snapped to a multiple of `cell` (fixed for given `cell`).
    pub fn new(kind: GridKind, cell: f64) -> Self {
        Self {
            kind,
            origin: [0.0, 0.0],
            cell,
        }
    }

    pub fn with_origin(kind: GridKind, origin: [f64; 2], cell: f64) -> Self {
        Self { kind, origin, cell }
    }

    /// Area of one cell in m².
    pub fn cell_area(&self) -> f64 {
        match self.kind {
            GridKind::Square => self.cell * self.cell,
            GridKind::Hex => SQRT3 / 2.0 * self.cell * self.cell,
        }
    }

    /// The cell containing `p`.
    pub fn cell_of(&self, p: [f64; 2]) -> CellId {
        let x = p[0] - self.origin[0];
        let y = p[1] - self.origin[1];
        match self.kind {
            GridKind::Square => (floor_i32(x / self.cell), floor_i32(y / self.cell)),
            GridKind::Hex => {
                // Fractional axial coordinates, then cube rounding (Red Blob Games'
                // hexagonal grid notes): round all three cube coordinates and fix the one
                // that moved most so that they sum to zero.
                let r = y / (self.cell * SQRT3 / 2.0);
                let q = x / self.cell - r / 2.0;
                let s = -q - r;
                let (mut rq, mut rr, rs) = (q.round(), r.round(), s.round());
                let (dq, dr, ds) = ((rq - q).abs(), (rr - r).abs(), (rs - s).abs());
                if dq > dr && dq > ds {
                    rq = -rr - rs;
                } else if dr > ds {
                    rr = -rq - rs;
                }
                (rq as i32, rr as i32)
            }
        }
    }

    /// The centre of a cell.
    pub fn centre(&self, c: CellId) -> [f64; 2] {
        let (a, b) = (c.0 as f64, c.1 as f64);
        match self.kind {
            GridKind::Square => [
                self.origin[0] + (a + 0.5) * self.cell,
                self.origin[1] + (b + 0.5) * self.cell,
            ],
            GridKind::Hex => [
                self.origin[0] + self.cell * (a + b / 2.0),
                self.origin[1] + self.cell * (b * SQRT3 / 2.0),
            ],
        }
    }

    /// The cell's outline (closed ring, counter-clockwise).
    pub fn polygon(&self, c: CellId) -> Polygon<f64> {
        let [cx, cy] = self.centre(c);
        let ring: Vec<Coord<f64>> = self
            .ring_offsets()
            .iter()
            .map(|[dx, dy]| Coord {
                x: cx + dx,
                y: cy + dy,
            })
            .collect();
        Polygon::new(LineString::new(ring), vec![])
    }

    /// A cell's outline as offsets from its centre (closed: the first again at the end,
    /// counter-clockwise): every cell's [`Grid::polygon`] is its centre plus these, so a
    /// grid's cells need them worked out once.
    pub fn ring_offsets(&self) -> Vec<[f64; 2]> {
        let mut v: Vec<[f64; 2]> = match self.kind {
            GridKind::Square => {
                let h = self.cell / 2.0;
                vec![[-h, -h], [h, -h], [h, h], [-h, h]]
            }
            GridKind::Hex => {
                let radius = self.cell / SQRT3;
                (0..6)
                    .map(|k| {
                        let a = (30.0 + 60.0 * k as f64).to_radians();
                        [radius * a.cos(), radius * a.sin()]
                    })
                    .collect()
            }
        };
        v.push(v[0]);
        v
    }

    /// Offsets of every cell whose centre lies within `band` metres of a cell's centre
    /// (inclusive, the cell itself included), nearest first.
    pub fn offsets_within(&self, band: f64) -> Vec<(CellId, f64)> {
        let mut out = self
            .offsets_within_unsorted(band, &Cancel::never())
            .unwrap_or_default();
        out.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
        out
    }

    /// The offsets of [`Grid::offsets_within`] with their distances, row by row instead of
    /// nearest first (sorting tens of millions of offsets for a wide band takes seconds that
    /// cannot be interrupted); looks at `cancel` once per row.
    pub fn offsets_within_unsorted(
        &self,
        band: f64,
        cancel: &Cancel,
    ) -> Result<Vec<(CellId, f64)>, Cancelled> {
        let reach = (band / self.cell).ceil() as i32 + 2;
        let mut out = Vec::new();
        for b in -reach..=reach {
            cancel.check()?;
            for a in -reach..=reach {
                let d = self.offset_distance((a, b));
                if d <= band {
                    out.push(((a, b), d));
                }
            }
        }
        Ok(out)
    }

    /// Distance between the centres of two cells `off` apart, computed from the absolute
    /// centres the way a distance-band weights builder does.
    fn offset_distance(&self, off: CellId) -> f64 {
        let a = self.centre((0, 0));
        let b = self.centre(off);
        let dx = b[0] - a[0];
        let dy = b[1] - a[1];
        (dx * dx + dy * dy).sqrt()
    }
}

/// Counts of points per cell, on a dense rectangle of cell addresses.
#[derive(Debug, Clone)]
pub struct CellCounts {
    pub grid: Grid,
    /// Lowest address in the rectangle.
    pub min: CellId,
    pub width: usize,
    pub height: usize,
    /// Row-major counts, `width × height`.
    pub counts: Vec<u32>,
}

/// `v.floor() as i32` (saturating, NaN as 0) without calling libm's `floor`, which the
/// baseline x86-64 target has no instruction for: a signed-in Gi\* counts a million points.
fn floor_i32(v: f64) -> i32 {
    let t = v as i32;
    if f64::from(t) > v {
        t.saturating_sub(1)
    } else {
        t
    }
}

impl CellCounts {
    /// Counts `points` into `grid`. Also returns, per point, its cell's slot in `counts`.
    pub fn count(grid: Grid, points: &[[f64; 2]]) -> Self {
        Self::count_with_margin(grid, points, 0)
    }

    /// Like [`CellCounts::count`], with `margin` empty cells kept on every side.
    pub fn count_with_margin(grid: Grid, points: &[[f64; 2]], margin: i32) -> Self {
        let ids: Vec<CellId> = points.par_iter().map(|p| grid.cell_of(*p)).collect();
        if ids.is_empty() {
            return Self {
                grid,
                min: (0, 0),
                width: 0,
                height: 0,
                counts: Vec::new(),
            };
        }
        let (mut lo, mut hi) = ((i32::MAX, i32::MAX), (i32::MIN, i32::MIN));
        for &(a, b) in &ids {
            lo = (lo.0.min(a), lo.1.min(b));
            hi = (hi.0.max(a), hi.1.max(b));
        }
        let lo = (lo.0 - margin, lo.1 - margin);
        let hi = (hi.0 + margin, hi.1 + margin);
        let width = (hi.0 - lo.0 + 1) as usize;
        let height = (hi.1 - lo.1 + 1) as usize;
        let mut counts = vec![0u32; width * height];
        for &(a, b) in &ids {
            counts[(b - lo.1) as usize * width + (a - lo.0) as usize] += 1;
        }
        Self {
            grid,
            min: lo,
            width,
            height,
            counts,
        }
    }

    pub fn slot(&self, c: CellId) -> Option<usize> {
        let a = c.0 as i64 - self.min.0 as i64;
        let b = c.1 as i64 - self.min.1 as i64;
        (a >= 0 && b >= 0 && (a as usize) < self.width && (b as usize) < self.height)
            .then(|| b as usize * self.width + a as usize)
    }

    pub fn id_of_slot(&self, s: usize) -> CellId {
        (
            self.min.0 + (s % self.width) as i32,
            self.min.1 + (s / self.width) as i32,
        )
    }

    pub fn get(&self, c: CellId) -> u32 {
        self.slot(c).map_or(0, |s| self.counts[s])
    }

    /// The non-empty cells and their counts.
    pub fn non_empty(&self) -> HashMap<CellId, u32> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (self.id_of_slot(s), *n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Contains, Point};

    #[test]
    fn floor_without_libm_is_floor() {
        let mut vs = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.999_999_999,
            -2.000_000_001,
            1e-300,
            -1e-300,
            2_147_483_647.0,
            2_147_483_647.5,
            2_147_483_648.0,
            -2_147_483_648.0,
            -2_147_483_648.5,
            -2_147_483_649.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
        ];
        vs.extend((-20_000..20_000).map(|i| f64::from(i) * 0.37));
        vs.extend((0..10_000).map(|i| 67_412.0 + f64::from(i) * 1e-4));
        for v in vs {
            assert_eq!(floor_i32(v), v.floor() as i32, "{v}");
        }
    }

    #[test]
    fn square_cells_contain_their_points() {
        let g = Grid::new(GridKind::Square, 100.0);
        assert_eq!(g.cell_of([674_050.0, 6_590_099.9]), (6740, 65900));
        assert_eq!(g.centre((6740, 65900)), [674_050.0, 6_590_050.0]);
        assert!((g.polygon((1, 1)).unsigned_area() - 10_000.0).abs() < 1e-9);
    }

    #[test]
    fn hex_cells_contain_their_points_and_tile_the_plane() {
        let g = Grid::with_origin(GridKind::Hex, [674_000.0, 6_590_000.0], 100.0);
        let area = g.polygon((0, 0)).unsigned_area();
        assert!((area - g.cell_area()).abs() < 1e-6);
        // Every sample point lies in the hexagon of the cell it is assigned to.
        for k in 0..2000 {
            let x = 674_000.0 + (k as f64 * 37.31) % 1000.0;
            let y = 6_590_000.0 + (k as f64 * 53.77) % 1000.0;
            let c = g.cell_of([x, y]);
            let poly = g.polygon(c);
            let centre = g.centre(c);
            // Nearest centre property of a hexagonal lattice.
            for (off, _) in g.offsets_within(150.0) {
                let o = g.centre((c.0 + off.0, c.1 + off.1));
                let d_own = (x - centre[0]).hypot(y - centre[1]);
                let d_other = (x - o[0]).hypot(y - o[1]);
                assert!(d_own <= d_other + 1e-9);
            }
            assert!(poly.contains(&Point::new(x, y)) || d_to_boundary_small(&poly, x, y));
        }
    }

    fn d_to_boundary_small(poly: &Polygon<f64>, x: f64, y: f64) -> bool {
        use geo::{Distance, Euclidean};
        Euclidean.distance(&Point::new(x, y), poly.exterior()) < 1e-6
    }

    #[test]
    fn band_offsets_are_inclusive() {
        let sq = Grid::new(GridKind::Square, 100.0);
        // Lattice points with i² + j² ≤ 9: 29 of them.
        assert_eq!(sq.offsets_within(300.0).len(), 29);
        assert_eq!(sq.offsets_within(100.0).len(), 5);
        let hex = Grid::new(GridKind::Hex, 100.0);
        assert_eq!(hex.offsets_within(100.0).len(), 7);
        assert_eq!(hex.offsets_within(180.0).len(), 13);
    }

    #[test]
    fn counting_puts_points_in_cells() {
        let g = Grid::new(GridKind::Square, 10.0);
        let pts = [[1.0, 1.0], [2.0, 2.0], [15.0, 1.0], [-5.0, -5.0]];
        let c = CellCounts::count(g, &pts);
        assert_eq!(c.get((0, 0)), 2);
        assert_eq!(c.get((1, 0)), 1);
        assert_eq!(c.get((-1, -1)), 1);
        assert_eq!(c.get((5, 5)), 0);
        assert_eq!(c.non_empty().len(), 3);
    }
}
