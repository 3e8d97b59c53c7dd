//! Kernel density of incidents with the quartic (biweight) kernel.
//!
//! # What it computes
//!
//! At a location x, with bandwidth h and the incidents pᵢ,
//!
//! ```text
//!   f(x) = Σᵢ 3/(π h²) · (1 − dᵢ²/h²)²    for dᵢ = |x − pᵢ| < h, 0 beyond
//! ```
//!
//! the quartic kernel of Silverman (1986, *Density Estimation for Statistics and Data
//! Analysis*, eq. 4.5), as ArcGIS's Kernel Density and QGIS's Heatmap use it. Each incident adds
//! a bump that integrates to one, so f is in incidents per m²; we report **incidents per km²**
//! (× 10⁶). The grid values are f at each cell's centre.
//!
//! # Defaults
//!
//! - bandwidth (ArcGIS Kernel Density's default search radius, a spatial Silverman rule):
//!   `h = 0.9 · min(SD, √(1/ln 2) · Dₘ) · n^(−0.2)`, SD the standard distance of the points and
//!   Dₘ the median distance from their mean centre; at least 50 m;
//! - cell: the shorter side of the points' extent (grown by h) divided by 250, at least 5 m,
//!   and larger if needed to keep the raster within 1 000 000 cells.
//!
//! # Cost
//!
//! Each point adds itself to the cells within h (scatter), points split over threads with a
//! raster each, summed at the end: O(n · π h² / cell²).

use rayon::prelude::*;
use serde::Serialize;

use crate::analysis::cancel::{CHECK_EVERY, Cancel, Cancelled};

/// What to compute; `None` parameters are derived.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KdeParams {
    pub bandwidth: Option<f64>,
    pub cell: Option<f64>,
    /// The box (`[min x, min y]`, `[max x, max y]`) the raster covers, grown by the bandwidth,
    /// instead of the points' own box: the public product's raster must not move with the
    /// data it shows. With a frame, no points still give a raster (of zeros).
    pub frame: Option<([f64; 2], [f64; 2])>,
}

/// A raster of densities over EPSG:3006, north-up: row 0 is the southernmost row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DensityGrid {
    /// South-west corner of the raster.
    pub origin: [f64; 2],
    pub cell: f64,
    pub bandwidth: f64,
    pub width: usize,
    pub height: usize,
    /// Incidents per km² at each cell centre, row-major from the south-west.
    pub density: Vec<f64>,
    /// How many incidents lie within the bandwidth of each cell centre (the kernel's support),
    /// for privacy thresholds.
    pub support: Vec<u32>,
    pub bandwidth_derived: bool,
    pub cell_derived: bool,
}

impl DensityGrid {
    /// A raster without cells.
    pub fn empty() -> Self {
        Self {
            origin: [0.0, 0.0],
            cell: 0.0,
            bandwidth: 0.0,
            width: 0,
            height: 0,
            density: Vec::new(),
            support: Vec::new(),
            bandwidth_derived: false,
            cell_derived: false,
        }
    }

    pub fn centre(&self, col: usize, row: usize) -> [f64; 2] {
        [
            self.origin[0] + (col as f64 + 0.5) * self.cell,
            self.origin[1] + (row as f64 + 0.5) * self.cell,
        ]
    }

    /// `[min x, min y, max x, max y]` in EPSG:3006.
    pub fn bounds(&self) -> [f64; 4] {
        [
            self.origin[0],
            self.origin[1],
            self.origin[0] + self.width as f64 * self.cell,
            self.origin[1] + self.height as f64 * self.cell,
        ]
    }

    pub fn max_density(&self) -> f64 {
        self.density.iter().copied().fold(0.0, f64::max)
    }

    /// The density at a point, from the cell containing it (0 outside the raster).
    pub fn at(&self, p: [f64; 2]) -> (f64, u32) {
        let c = ((p[0] - self.origin[0]) / self.cell).floor();
        let r = ((p[1] - self.origin[1]) / self.cell).floor();
        if c < 0.0 || r < 0.0 || c >= self.width as f64 || r >= self.height as f64 {
            return (0.0, 0);
        }
        let k = r as usize * self.width + c as usize;
        (self.density[k], self.support[k])
    }
}

/// The quartic kernel at squared distance `d2`, per m².
#[inline]
pub fn quartic(d2: f64, h: f64) -> f64 {
    let h2 = h * h;
    if d2 >= h2 {
        return 0.0;
    }
    let u = 1.0 - d2 / h2;
    3.0 / (std::f64::consts::PI * h2) * u * u
}

/// ArcGIS's default search radius (see the module documentation).
pub fn default_bandwidth(points: &[[f64; 2]]) -> f64 {
    let n = points.len();
    if n < 2 {
        return 200.0;
    }
    let nf = n as f64;
    let mx = points.iter().map(|p| p[0]).sum::<f64>() / nf;
    let my = points.iter().map(|p| p[1]).sum::<f64>() / nf;
    let sd = (points
        .iter()
        .map(|p| (p[0] - mx).powi(2) + (p[1] - my).powi(2))
        .sum::<f64>()
        / nf)
        .sqrt();
    let mut d: Vec<f64> = points
        .iter()
        .map(|p| (p[0] - mx).hypot(p[1] - my))
        .collect();
    let mid = d.len() / 2;
    d.select_nth_unstable_by(mid, f64::total_cmp);
    let dm = d[mid];
    let h = 0.9 * sd.min((1.0 / std::f64::consts::LN_2).sqrt() * dm) * nf.powf(-0.2);
    h.max(50.0)
}

const MAX_CELLS: f64 = 1_000_000.0;

/// Densities on a raster covering the points grown by the bandwidth.
pub fn density(points: &[[f64; 2]], params: &KdeParams) -> DensityGrid {
    density_with(points, params, &Cancel::never()).expect("never cancelled")
}

/// [`density`], stopping with [`Cancelled`] soon after `cancel` is tripped (it looks every few
/// thousand raster updates).
pub fn density_with(
    points: &[[f64; 2]],
    params: &KdeParams,
    cancel: &Cancel,
) -> Result<DensityGrid, Cancelled> {
    cancel.check()?;
    let (h, bandwidth_derived) = match params.bandwidth {
        Some(h) => (h, false),
        None => (default_bandwidth(points), true),
    };
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for p in points {
        lo = [lo[0].min(p[0]), lo[1].min(p[1])];
        hi = [hi[0].max(p[0]), hi[1].max(p[1])];
    }
    if let Some((flo, fhi)) = params.frame {
        (lo, hi) = (flo, fhi);
    }
    if points.is_empty() && params.frame.is_none() {
        return Ok(DensityGrid {
            origin: [0.0, 0.0],
            cell: params.cell.unwrap_or(50.0),
            bandwidth: h,
            width: 0,
            height: 0,
            density: Vec::new(),
            support: Vec::new(),
            bandwidth_derived,
            cell_derived: params.cell.is_none(),
        });
    }
    let (w_m, h_m) = (hi[0] - lo[0] + 2.0 * h, hi[1] - lo[1] + 2.0 * h);
    let (mut cell, cell_derived) = match params.cell {
        Some(c) => (c, false),
        None => ((w_m.min(h_m) / 250.0).max(5.0), true),
    };
    if (w_m / cell) * (h_m / cell) > MAX_CELLS {
        cell = ((w_m * h_m) / MAX_CELLS).sqrt();
    }
    // Snap the raster to multiples of the cell so that the same data gives the same cells.
    let origin = [
        ((lo[0] - h) / cell).floor() * cell,
        ((lo[1] - h) / cell).floor() * cell,
    ];
    let width = (((hi[0] + h) - origin[0]) / cell).ceil() as usize + 1;
    let height = (((hi[1] + h) - origin[1]) / cell).ceil() as usize + 1;
    let h2 = h * h;
    let scale = 1e6;
    let chunk = (points.len() / (rayon::current_num_threads() * 4)).max(4096);
    let (density, support) = points
        .par_chunks(chunk)
        .map(|pts| -> Result<(Vec<f64>, Vec<u32>), Cancelled> {
            cancel.check()?;
            let mut dens = vec![0.0f64; width * height];
            let mut sup = vec![0u32; width * height];
            // Raster cells visited since the last look at `cancel`.
            let mut visited = 0usize;
            for p in pts {
                let c0 = (((p[0] - h - origin[0]) / cell - 0.5).floor().max(0.0)) as usize;
                let c1 = ((((p[0] + h - origin[0]) / cell - 0.5).ceil()) as usize).min(width - 1);
                let r0 = (((p[1] - h - origin[1]) / cell - 0.5).floor().max(0.0)) as usize;
                let r1 = ((((p[1] + h - origin[1]) / cell - 0.5).ceil()) as usize).min(height - 1);
                for r in r0..=r1 {
                    visited += c1.saturating_sub(c0) + 1;
                    if visited >= CHECK_EVERY {
                        visited = 0;
                        cancel.check()?;
                    }
                    let cy = origin[1] + (r as f64 + 0.5) * cell;
                    let dy = cy - p[1];
                    let dy2 = dy * dy;
                    if dy2 >= h2 {
                        continue;
                    }
                    let row = r * width;
                    for c in c0..=c1 {
                        let cx = origin[0] + (c as f64 + 0.5) * cell;
                        let dx = cx - p[0];
                        let d2 = dx * dx + dy2;
                        if d2 < h2 {
                            dens[row + c] += quartic(d2, h) * scale;
                            sup[row + c] += 1;
                        }
                    }
                }
            }
            Ok((dens, sup))
        })
        .try_reduce(
            || (vec![0.0; width * height], vec![0; width * height]),
            |(mut a, mut sa), (b, sb)| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                sa.iter_mut().zip(&sb).for_each(|(x, y)| *x += y);
                Ok((a, sa))
            },
        )?;
    Ok(DensityGrid {
        origin,
        cell,
        bandwidth: h,
        width,
        height,
        density,
        support,
        bandwidth_derived,
        cell_derived,
    })
}

/// A PNG overlay of a density raster for a web map, and its WGS84 bounds `[w, s, e, n]`.
///
/// Leaflet stretches an image overlay linearly between its bounds in Web Mercator, so each
/// pixel is sampled at the EPSG:3006 position of its Web-Mercator-spaced longitude and latitude:
/// the overlay lines up with the map although SWEREF 99 TM's grid is rotated against the
/// meridians (about 3° in Stockholm). Cells whose kernel support is below `min_support` (the
/// public's k) are transparent, as are cells without density. Colours run from pale yellow to
/// dark red over √(density / max), with opacity growing along.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    pub png: Vec<u8>,
    pub bounds: [f64; 4],
    pub width: u32,
    pub height: u32,
    /// The density (per km²) that maps to the darkest colour.
    pub max_density: f64,
}

const RAMP: [(f64, [u8; 4]); 5] = [
    (0.0, [255, 255, 178, 70]),
    (0.25, [254, 204, 92, 120]),
    (0.5, [253, 141, 60, 160]),
    (0.75, [240, 59, 32, 190]),
    (1.0, [189, 0, 38, 220]),
];

fn ramp(t: f64) -> [u8; 4] {
    let t = t.clamp(0.0, 1.0);
    for w in RAMP.windows(2) {
        let ((t0, c0), (t1, c1)) = (w[0], w[1]);
        if t <= t1 {
            let f = (t - t0) / (t1 - t0);
            let mut out = [0u8; 4];
            for k in 0..4 {
                out[k] = (c0[k] as f64 + f * (c1[k] as f64 - c0[k] as f64)).round() as u8;
            }
            return out;
        }
    }
    RAMP[4].1
}

/// WGS84 bounds `[w, s, e, n]` of a raster in EPSG:3006 (its outline densified).
pub fn wgs84_bounds(grid: &DensityGrid) -> Result<[f64; 4], crate::crs::CrsError> {
    let [x0, y0, x1, y1] = grid.bounds();
    let mut ring = Vec::new();
    for k in 0..=32 {
        let t = k as f64 / 32.0;
        ring.push((x0 + (x1 - x0) * t, y0));
        ring.push((x0 + (x1 - x0) * t, y1));
        ring.push((x0, y0 + (y1 - y0) * t));
        ring.push((x1, y0 + (y1 - y0) * t));
    }
    crate::crs::transform_in_place(crate::crs::WORK_EPSG, crate::crs::WGS84_EPSG, &mut ring)?;
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for (lon, lat) in ring {
        b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
    }
    Ok(b)
}

/// Renders the overlay (see [`Overlay`]).
pub fn overlay_png(grid: &DensityGrid, min_support: u32) -> Result<Overlay, anyhow::Error> {
    let bounds = wgs84_bounds(grid)?;
    let width = grid.width.clamp(1, 2048) as u32;
    let height = grid.height.clamp(1, 2048) as u32;
    let merc = |lat: f64| {
        (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln()
    };
    let (m_s, m_n) = (merc(bounds[1]), merc(bounds[3]));
    let mut coords = Vec::with_capacity((width * height) as usize);
    for row in 0..height {
        let m = m_n - (row as f64 + 0.5) / height as f64 * (m_n - m_s);
        let lat = (2.0 * m.exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees();
        for col in 0..width {
            let lon = bounds[0] + (col as f64 + 0.5) / width as f64 * (bounds[2] - bounds[0]);
            coords.push((lon, lat));
        }
    }
    crate::crs::transform_in_place(crate::crs::WGS84_EPSG, crate::crs::WORK_EPSG, &mut coords)?;
    let max = grid.max_density();
    let mut rgba = vec![0u8; (width * height * 4) as usize];
    for (k, (x, y)) in coords.iter().enumerate() {
        if !x.is_finite() || !y.is_finite() {
            continue;
        }
        let (d, support) = grid.at([*x, *y]);
        if d <= 0.0 || support < min_support || max <= 0.0 {
            continue;
        }
        rgba[k * 4..k * 4 + 4].copy_from_slice(&ramp((d / max).sqrt()));
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, width, height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(&rgba)?;
    }
    Ok(Overlay {
        png: png_bytes,
        bounds,
        width,
        height,
        max_density: max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_gives_the_kernel_and_integrates_to_one() {
        let g = density(
            &[[1000.0, 2000.0]],
            &KdeParams {
                bandwidth: Some(100.0),
                cell: Some(5.0),
                frame: None,
            },
        );
        // Sum of density × cell area ≈ 1 incident.
        let total: f64 = g.density.iter().sum::<f64>() / 1e6 * 25.0;
        assert!((total - 1.0).abs() < 0.01, "{total}");
        // Peak next to the point: 3/(π·100²) per m² at distance √(2·2.5²).
        let (d, s) = g.at([1001.0, 2001.0]);
        assert_eq!(s, 1);
        assert!(d > 0.0);
    }

    #[test]
    fn ramp_runs_from_pale_to_dark() {
        assert_eq!(ramp(0.0), RAMP[0].1);
        assert_eq!(ramp(1.0), RAMP[4].1);
        assert!(ramp(0.6)[3] > ramp(0.3)[3]);
    }

    #[test]
    fn quartic_is_zero_at_the_bandwidth() {
        assert_eq!(quartic(100.0 * 100.0, 100.0), 0.0);
        let at0 = quartic(0.0, 100.0);
        assert!((at0 - 3.0 / (std::f64::consts::PI * 1e4)).abs() < 1e-15);
    }
}
