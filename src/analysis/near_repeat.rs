//! Near repeats: the Knox test with Monte Carlo permutations, as Ratcliffe's Near Repeat
//! Calculator computes it.
//!
//! Every pair of events is put in a cell of spatial band × temporal band by its distance in
//! metres and the time between them in days. The **observed** count of a cell is the number of
//! pairs in it. Under the null hypothesis that where and when are independent, the times can be
//! shuffled among the places: each of `permutations` random permutations of the times (places
//! kept) gives a count per cell, the **expected** count is their mean, the **Knox ratio** is
//! observed ÷ expected, and the one-sided Monte Carlo **p** is (1 + permutations with a count
//! at least the observed) ÷ (1 + permutations).
//!
//! **Bands, explicitly.** A spatial band `[lo, hi)` holds the pairs with `lo ≤ d < hi` metres,
//! a temporal band `[lo, hi)` those with `lo ≤ |t₁ − t₂| < hi` days; the first bands start at 0
//! (the same place, the same day included). The Near Repeat Calculator labels its bands "0 to
//! 100", "101 to 200", which for real distances leaves 100–101 m out or counts it twice; here
//! the edges say what they mean. Pairs beyond the last bands are not counted (they would need
//! every pair of the data, and say nothing of near repeats).
//!
//! **Cost.** The pairs within the last spatial band are found once with a grid of that size;
//! every permutation then only re-reads their times: `pairs × permutations` steps, which the
//! service bounds. Permutations run in parallel, each with its own ChaCha8 stream from the seed,
//! so the answer is the same for the same data, bands, permutations and seed.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::HashMap;

use crate::analysis::cancel::{Cancel, Cancelled};

/// One event: a place in EPSG:3006 and a time in days (any origin).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub x: f64,
    pub y: f64,
    pub t: f64,
}

/// A pair of events within the last spatial band, with its spatial band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub a: u32,
    pub b: u32,
    pub band: u8,
}

/// The band of `v` among the ascending upper edges `edges` (lower edge of the first: 0).
fn band_of(v: f64, edges: &[f64]) -> Option<usize> {
    edges.iter().position(|&hi| v < hi)
}

/// The pairs of `events` closer than the last of `space` (ascending upper edges in metres),
/// each with its band. Stops when `cancel` is tripped, or with `Err(Some(n))` as soon as more
/// than `max_pairs` are found.
pub fn close_pairs(
    events: &[Event],
    space: &[f64],
    max_pairs: usize,
    cancel: &Cancel,
) -> Result<Vec<Pair>, PairsError> {
    let Some(&reach) = space.last() else {
        return Ok(Vec::new());
    };
    let cell = reach.max(1.0);
    let key = |e: &Event| ((e.x / cell).floor() as i64, (e.y / cell).floor() as i64);
    let mut grid: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        grid.entry(key(e)).or_default().push(i as u32);
    }
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        cancel.check_every(i)?;
        let (cx, cy) = key(e);
        for dx in -1..=1 {
            for dy in -1..=1 {
                let Some(bucket) = grid.get(&(cx + dx, cy + dy)) else {
                    continue;
                };
                for &j in bucket {
                    if j as usize <= i {
                        continue;
                    }
                    let o = &events[j as usize];
                    let d = (e.x - o.x).hypot(e.y - o.y);
                    if let Some(band) = band_of(d, space) {
                        out.push(Pair {
                            a: i as u32,
                            b: j,
                            band: band as u8,
                        });
                        if out.len() > max_pairs {
                            return Err(PairsError::TooMany(out.len()));
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairsError {
    Cancelled,
    /// More pairs than allowed were found (at least this many).
    TooMany(usize),
}

impl From<Cancelled> for PairsError {
    fn from(_: Cancelled) -> Self {
        Self::Cancelled
    }
}

/// Pairs per cell, spatial band major: `counts[s * time_bands + t]`.
fn count(pairs: &[Pair], times: &[f64], time: &[f64], out: &mut [u64]) {
    out.iter_mut().for_each(|c| *c = 0);
    let nt = time.len();
    for p in pairs {
        let dt = (times[p.a as usize] - times[p.b as usize]).abs();
        if let Some(t) = band_of(dt, time) {
            out[p.band as usize * nt + t] += 1;
        }
    }
}

/// One cell of the Knox table.
#[derive(Debug, Clone, PartialEq)]
pub struct KnoxCell {
    /// Spatial band and temporal band (indices into the edges).
    pub space: usize,
    pub time: usize,
    pub observed: u64,
    /// Mean over the permutations.
    pub expected: f64,
    /// observed ÷ expected; `None` when nothing was expected.
    pub ratio: Option<f64>,
    /// (1 + permutations with a count ≥ observed) ÷ (1 + permutations).
    pub p: f64,
}

/// The Knox table: every spatial band × temporal band, spatial band major.
pub fn knox(
    events: &[Event],
    pairs: &[Pair],
    space_bands: usize,
    time: &[f64],
    permutations: usize,
    seed: u64,
    cancel: &Cancel,
) -> Result<Vec<KnoxCell>, Cancelled> {
    let cells = space_bands * time.len();
    let times: Vec<f64> = events.iter().map(|e| e.t).collect();
    let mut observed = vec![0u64; cells];
    count(pairs, &times, time, &mut observed);
    // Per permutation: its counts, reduced to (sum, at least observed) per cell.
    let (sums, at_least) = (0..permutations)
        .into_par_iter()
        .map(|k| -> Result<(Vec<u64>, Vec<u64>), Cancelled> {
            cancel.check()?;
            let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(k as u64));
            let mut shuffled = times.clone();
            shuffled.shuffle(&mut rng);
            let mut c = vec![0u64; cells];
            count(pairs, &shuffled, time, &mut c);
            let ge = c
                .iter()
                .zip(&observed)
                .map(|(a, o)| u64::from(a >= o))
                .collect();
            Ok((c, ge))
        })
        .try_reduce(
            || (vec![0u64; cells], vec![0u64; cells]),
            |(mut s, mut g), (s2, g2)| {
                s.iter_mut().zip(s2).for_each(|(a, b)| *a += b);
                g.iter_mut().zip(g2).for_each(|(a, b)| *a += b);
                Ok((s, g))
            },
        )?;
    let r = permutations.max(1) as f64;
    Ok((0..cells)
        .map(|i| {
            let expected = sums[i] as f64 / r;
            KnoxCell {
                space: i / time.len(),
                time: i % time.len(),
                observed: observed[i],
                expected,
                ratio: (expected > 0.0).then(|| observed[i] as f64 / expected),
                p: (1.0 + at_least[i] as f64) / (1.0 + permutations as f64),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(x: f64, y: f64, t: f64) -> Event {
        Event { x, y, t }
    }

    #[test]
    fn bands_are_half_open_from_zero() {
        let e = [50.0, 100.0, 200.0];
        assert_eq!(band_of(0.0, &e), Some(0));
        assert_eq!(band_of(49.999, &e), Some(0));
        assert_eq!(band_of(50.0, &e), Some(1));
        assert_eq!(band_of(199.9, &e), Some(2));
        assert_eq!(band_of(200.0, &e), None);
    }

    #[test]
    fn close_pairs_are_every_pair_within_reach_once() {
        // Five events on a line 60 m apart: with bands [0,100) and [100,150), the pairs 60 m
        // apart (4) are in band 0, 120 m apart (3) in band 1, 180 m and more in none.
        let events: Vec<Event> = (0..5)
            .map(|i| ev(1000.0 + 60.0 * i as f64, 0.0, 0.0))
            .collect();
        let pairs = close_pairs(&events, &[100.0, 150.0], 100, &Cancel::never()).unwrap();
        let by_band = |b: u8| pairs.iter().filter(|p| p.band == b).count();
        assert_eq!((pairs.len(), by_band(0), by_band(1)), (7, 4, 3));
        // Brute force agrees on random points, across grid cells and negative coordinates.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        use rand::Rng;
        let pts: Vec<Event> = (0..400)
            .map(|_| {
                ev(
                    rng.random_range(-800.0..800.0),
                    rng.random_range(-800.0..800.0),
                    0.0,
                )
            })
            .collect();
        let fast = close_pairs(&pts, &[75.0, 150.0], 1_000_000, &Cancel::never()).unwrap();
        let mut brute = 0;
        for i in 0..pts.len() {
            for j in i + 1..pts.len() {
                if (pts[i].x - pts[j].x).hypot(pts[i].y - pts[j].y) < 150.0 {
                    brute += 1;
                }
            }
        }
        assert_eq!(fast.len(), brute);
        assert_eq!(
            close_pairs(&pts, &[75.0, 150.0], 10, &Cancel::never()),
            Err(PairsError::TooMany(11))
        );
    }

    #[test]
    fn one_event_pair_table_by_hand() {
        // Three events: A and B 50 m apart 2 days apart, C far away. Bands [0,100) m ×
        // [0,7) days. Observed 1. Under permutation the pair (A, B) gets two of the three times
        // {0, 2, 400}: |0−2| < 7 in 2 of the 6 orders, so the expected count is 1/3 and the
        // ratio 3; with many permutations the mean is near 1/3 and p near 1/3.
        let events = [
            ev(0.0, 0.0, 0.0),
            ev(50.0, 0.0, 2.0),
            ev(5000.0, 0.0, 400.0),
        ];
        let pairs = close_pairs(&events, &[100.0], 10, &Cancel::never()).unwrap();
        assert_eq!(pairs.len(), 1);
        let t = knox(&events, &pairs, 1, &[7.0], 3000, 1, &Cancel::never()).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].observed, 1);
        assert!(
            (t[0].expected - 1.0 / 3.0).abs() < 0.03,
            "{}",
            t[0].expected
        );
        assert!((t[0].ratio.unwrap() - 3.0).abs() < 0.3);
        assert!((t[0].p - 1.0 / 3.0).abs() < 0.03, "{}", t[0].p);
        // The same seed gives the same table.
        let again = knox(&events, &pairs, 1, &[7.0], 3000, 1, &Cancel::never()).unwrap();
        assert_eq!(t, again);
    }
}
