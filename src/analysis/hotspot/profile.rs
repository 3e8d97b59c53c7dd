//! When a hotspot is busy: a weekday × hour profile and its peak, in Stockholm local time.
//!
//! Patrols are planned by weekday and hour, so each cluster carries a 7 × 24 table of counts
//! (Monday first, hour 0–23 in Europe/Stockholm, summer time included, via
//! [`crate::time::weekday_hour`]) and the **peak**: the four consecutive hours of the week (the
//! week wraps from Sunday night into Monday) holding the most events, with empty hours at
//! either end trimmed off, in Swedish words, e.g. `fre–lör 22–02` for Friday 22:00 to Saturday
//! 02:00 or `lör 14–18`. Ties go to the earliest window from Monday 00:00.
//!
//! Anonymous callers get [`Profile::day_parts`] instead: per weekday, four six-hour parts
//! (natt 00–06, morgon 06–12, eftermiddag 12–18, kväll 18–24), with parts holding fewer than k
//! events blanked, and the peak only when its window holds at least k events.

use chrono::{DateTime, TimeZone};
use serde::Serialize;

use crate::time::WEEKDAYS_SV;

/// Length of the peak window in hours.
pub const PEAK_WINDOW_HOURS: usize = 4;

/// Swedish names of the six-hour parts of the day.
pub const DAY_PARTS_SV: [&str; 4] = ["natt", "morgon", "eftermiddag", "kväll"];

/// Counts by weekday (0 = Monday) and local hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Profile(pub [[u32; 24]; 7]);

/// The busiest window of the week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peak {
    /// Start weekday (0 = Monday) and hour.
    pub weekday: usize,
    pub hour: usize,
    pub hours: usize,
    /// Events in the window.
    pub count: u32,
    /// In Swedish, e.g. `fre–lör 22–02`.
    pub text: String,
}

impl Profile {
    pub fn add<Z: TimeZone>(&mut self, t: &DateTime<Z>) {
        let (d, h) = crate::time::weekday_hour(t);
        self.0[d][h] += 1;
    }

    pub fn from_times<'a, Z: TimeZone + 'a>(
        times: impl IntoIterator<Item = &'a DateTime<Z>>,
    ) -> Self {
        let mut p = Self::default();
        for t in times {
            p.add(t);
        }
        p
    }

    pub fn total(&self) -> u32 {
        self.0.iter().flatten().sum()
    }

    fn at_week_hour(&self, k: usize) -> u32 {
        let k = k % 168;
        self.0[k / 24][k % 24]
    }

    /// The busiest [`PEAK_WINDOW_HOURS`]-hour window; `None` without events.
    pub fn peak(&self) -> Option<Peak> {
        if self.total() == 0 {
            return None;
        }
        let w = PEAK_WINDOW_HOURS;
        let mut best = (0usize, 0u32);
        let mut sum: u32 = (0..w).map(|k| self.at_week_hour(k)).sum();
        best.1 = sum;
        for start in 1..168 {
            sum = sum + self.at_week_hour(start + w - 1) - self.at_week_hour(start - 1);
            if sum > best.1 {
                best = (start, sum);
            }
        }
        let (mut start, count) = best;
        let mut hours = w;
        // Trim empty hours at either end: all events at 22:30 make "fre 22–23", not "fre 19–23".
        while hours > 1 && self.at_week_hour(start) == 0 {
            start = (start + 1) % 168;
            hours -= 1;
        }
        while hours > 1 && self.at_week_hour(start + hours - 1) == 0 {
            hours -= 1;
        }
        Some(Peak {
            weekday: start / 24,
            hour: start % 24,
            hours,
            count,
            text: window_text(start, hours),
        })
    }

    /// Per weekday, counts in the four six-hour parts of the day; parts with fewer than `k`
    /// events are `None`, empty ones too (a shown zero would make `None` mean "1 … k−1").
    pub fn day_parts(&self, k: u32) -> [[Option<u32>; 4]; 7] {
        let mut out = [[None; 4]; 7];
        for (d, row) in self.0.iter().enumerate() {
            for part in 0..4 {
                let n: u32 = row[part * 6..part * 6 + 6].iter().sum();
                out[d][part] = (n >= k).then_some(n);
            }
        }
        out
    }
}

/// `fre–lör 22–02`, `lör 14–18`, `sön–mån 22–02`, `fre 20–24`.
pub fn window_text(start: usize, hours: usize) -> String {
    let start = start % 168;
    let last = (start + hours - 1) % 168;
    let (d0, h0) = (start / 24, start % 24);
    let d1 = last / 24;
    let end_hour = (start % 24) + hours;
    let end_text = if d1 == d0 {
        format!("{end_hour:02}")
    } else {
        format!("{:02}", (last % 24) + 1)
    };
    if d0 == d1 {
        format!("{} {h0:02}–{end_text}", WEEKDAYS_SV[d0])
    } else {
        format!("{}–{} {h0:02}–{end_text}", WEEKDAYS_SV[d0], WEEKDAYS_SV[d1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    #[test]
    fn window_texts() {
        // Friday 22:00 (4·24 + 22) for four hours.
        assert_eq!(window_text(4 * 24 + 22, 4), "fre–lör 22–02");
        assert_eq!(window_text(5 * 24 + 14, 4), "lör 14–18");
        assert_eq!(window_text(4 * 24 + 20, 4), "fre 20–24");
        assert_eq!(window_text(6 * 24 + 22, 4), "sön–mån 22–02");
    }

    #[test]
    fn peak_is_found_across_midnight_in_local_time() {
        // Friday nights: 22:30 and 01:30 local on the night of 1–2 May 2026 (CEST, +02:00),
        // given in UTC.
        let times: Vec<DateTime<Utc>> = [
            "2026-05-01T20:30:00Z",
            "2026-05-01T21:10:00Z",
            "2026-05-01T23:30:00Z",
            "2026-05-01T22:05:00Z",
            "2026-05-04T08:00:00Z",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let p = Profile::from_times(&times);
        assert_eq!(p.0[4][22], 1);
        assert_eq!(p.0[4][23], 1);
        assert_eq!(p.0[5][1], 1);
        assert_eq!(p.0[5][0], 1);
        let peak = p.peak().unwrap();
        assert_eq!(peak.count, 4);
        assert_eq!(peak.text, "fre–lör 22–02");
        let winter =
            DateTime::<FixedOffset>::parse_from_rfc3339("2026-01-10T23:30:00+00:00").unwrap();
        let q = Profile::from_times([&winter]);
        assert_eq!(q.0[6][0], 1);
    }

    #[test]
    fn day_parts_blank_small_counts() {
        let mut p = Profile::default();
        p.0[4][22] = 2;
        p.0[4][23] = 2;
        p.0[0][7] = 1;
        let parts = p.day_parts(3);
        assert_eq!(parts[4][3], Some(4));
        assert_eq!(parts[0][1], None);
        // Empty parts look like small ones.
        assert_eq!(parts[2][2], None);
    }
}
