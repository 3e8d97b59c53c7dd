//! Linear referencing on a walkway: positions as metres along its polyline.

use geo::{Coord, LineString};

/// A polyline with its cumulative lengths, for positions measured along it.
#[derive(Debug, Clone)]
pub struct Measured<'a> {
    pub coords: &'a [Coord<f64>],
    /// `cum[i]` is the distance along the line to vertex `i`.
    pub cum: Vec<f64>,
}

impl<'a> Measured<'a> {
    pub fn new(line: &'a LineString<f64>) -> Self {
        let coords = line.0.as_slice();
        let mut cum = Vec::with_capacity(coords.len());
        let mut acc = 0.0;
        for (i, c) in coords.iter().enumerate() {
            if i > 0 {
                let p = coords[i - 1];
                acc += (c.x - p.x).hypot(c.y - p.y);
            }
            cum.push(acc);
        }
        Self { coords, cum }
    }

    pub fn length(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }

    /// Number of segments.
    pub fn segments(&self) -> usize {
        self.coords.len().saturating_sub(1)
    }

    /// The segment holding position `m` (the last one at the very end).
    pub fn segment_at(&self, m: f64) -> usize {
        let n = self.segments();
        if n == 0 {
            return 0;
        }
        // `cum` is sorted: the first vertex strictly beyond m ends the segment.
        let i = self.cum.partition_point(|&c| c <= m);
        i.clamp(1, n) - 1
    }

    /// The point at `m` metres along segment `seg`.
    pub fn point_on(&self, seg: usize, m: f64) -> Coord<f64> {
        let a = self.coords[seg];
        let b = self.coords[seg + 1];
        let len = self.cum[seg + 1] - self.cum[seg];
        if len <= 0.0 {
            return a;
        }
        let t = ((m - self.cum[seg]) / len).clamp(0.0, 1.0);
        Coord {
            x: a.x + (b.x - a.x) * t,
            y: a.y + (b.y - a.y) * t,
        }
    }

    pub fn point_at(&self, m: f64) -> Coord<f64> {
        if self.segments() == 0 {
            return self
                .coords
                .first()
                .copied()
                .unwrap_or(Coord { x: 0.0, y: 0.0 });
        }
        self.point_on(self.segment_at(m), m)
    }

    /// The part of the line between `from` and `to` metres (at least two coordinates).
    pub fn substring(&self, from: f64, to: f64) -> LineString<f64> {
        let (from, to) = (from.min(to), from.max(to));
        let mut out = vec![self.point_at(from)];
        for (i, c) in self.coords.iter().enumerate() {
            if self.cum[i] > from && self.cum[i] < to {
                out.push(*c);
            }
        }
        out.push(self.point_at(to));
        LineString(out)
    }

    /// Where `p` projects onto the line: (metres along, distance from the line).
    pub fn locate(&self, p: Coord<f64>) -> (f64, f64) {
        let mut best = (0.0, f64::INFINITY);
        for s in 0..self.segments() {
            let (m, d) = project_on_segment(self.coords[s], self.coords[s + 1], p);
            if d < best.1 {
                best = (self.cum[s] + m, d);
            }
        }
        best
    }
}

/// (metres from `a` of the closest point, distance) of `p` on segment a–b.
pub fn project_on_segment(a: Coord<f64>, b: Coord<f64>, p: Coord<f64>) -> (f64, f64) {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (a.x + dx * t, a.y + dy * t);
    (t * len2.sqrt(), (p.x - cx).hypot(p.y - cy))
}

/// Shortest distance from `p` to the polyline.
pub fn distance_to_line(line: &LineString<f64>, p: Coord<f64>) -> f64 {
    let c = &line.0;
    if c.len() == 1 {
        return (c[0].x - p.x).hypot(c[0].y - p.y);
    }
    c.windows(2)
        .map(|w| project_on_segment(w[0], w[1], p).1)
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_and_substrings_an_l_shaped_line() {
        let l = LineString::from(vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]);
        let m = Measured::new(&l);
        assert_eq!(m.length(), 20.0);
        assert_eq!(m.segment_at(0.0), 0);
        assert_eq!(m.segment_at(10.0), 1);
        assert_eq!(m.segment_at(20.0), 1);
        assert_eq!(m.point_at(15.0), Coord { x: 10.0, y: 5.0 });
        let s = m.substring(5.0, 15.0);
        assert_eq!(
            s.0,
            vec![
                Coord { x: 5.0, y: 0.0 },
                Coord { x: 10.0, y: 0.0 },
                Coord { x: 10.0, y: 5.0 }
            ]
        );
        let (along, d) = m.locate(Coord { x: 12.0, y: 7.0 });
        assert!((along - 17.0).abs() < 1e-12 && (d - 2.0).abs() < 1e-12);
        assert!((distance_to_line(&l, Coord { x: -3.0, y: 4.0 }) - 5.0).abs() < 1e-12);
    }
}
