//! When a hotspot is busy: a weekday × hour profile and its peak, in Stockholm local time.
//!
//! Patrols are planned by weekday and hour, so each cluster carries a 7 × 24 table of weights
//! (Monday first, hour 0–23 in Europe/Stockholm, summer time included, via
//! [`crate::time::weekday_hour`]) and the **peak**: the four consecutive hours of the week (the
//! week wraps from Sunday night into Monday) holding the most events, with empty hours at
//! either end trimmed off, in Swedish words, e.g. `fre–lör 22–02` for Friday 22:00 to Saturday
//! 02:00 or `lör 14–18`. Ties go to the earliest window from Monday 00:00.
//!
//! **Aoristic weights** (Ratcliffe 2002). An event known to the minute or the hour adds 1 to its
//! cell. An event known only to a window ("between Friday 18:00 and Monday 07:00") spreads its
//! weight of 1 over the hours the window covers, in proportion to the time it covers of each
//! (a window of whole hours puts 1/n in each of its n hours); a window longer than a week says
//! nothing of the hour and spreads evenly over the week's 168. An event known only to a date or
//! a month adds nothing: it has no hour. [`Profile::add_incident`] says which weight is
//! uncertain.
//!
//! **A peak that says how sure it is.** The busiest window is a pattern only when it is busier
//! than the week's uniform expectation by more than chance: the exact binomial probability of
//! at least its events of the profile's `n` (the weight rounded down, `n` rounded up) falling
//! in `w` of the week's 168 hours, times 168 for the windows the busiest was chosen from
//! (Bonferroni), is at most [`PEAK_ALPHA`] ([`window_p`]). Otherwise the peak is said to be
//! [`NO_PATTERN_SV`]. Nine events spread over the week have no peak; nine in one evening do.
//!
//! Anonymous callers get [`Profile::day_parts`] instead: per weekday, four six-hour parts
//! (natt 00–06, morgon 06–12, eftermiddag 12–18, kväll 18–24), with parts holding fewer than k
//! events blanked, and the peak only when its window holds at least k events.

use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use serde::Serialize;

use crate::model::TimePrecision;
use crate::spatial::SnapIncident;

use crate::time::WEEKDAYS_SV;

/// Length of the peak window in hours.
pub const PEAK_WINDOW_HOURS: usize = 4;

/// A peak or patrol window is a pattern when its [`window_p`] is at most this.
pub const PEAK_ALPHA: f64 = 0.05;

/// What is said when the busiest window is not a pattern.
pub const NO_PATTERN_SV: &str = "för få händelser för ett tidsmönster";

/// Swedish names of the six-hour parts of the day.
pub const DAY_PARTS_SV: [&str; 4] = ["natt", "morgon", "eftermiddag", "kväll"];

/// Weights (events) by weekday (0 = Monday) and local hour.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Profile(pub [[f64; 24]; 7]);

/// The busiest window of the week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Peak {
    /// Start weekday (0 = Monday) and hour.
    pub weekday: usize,
    pub hour: usize,
    pub hours: usize,
    /// Events in the window (aoristic weight).
    pub count: f64,
    /// In Swedish, e.g. `fre–lör 22–02`.
    pub text: String,
    /// [`window_p`] of the window against the week's uniform expectation.
    pub p: f64,
}

impl Peak {
    /// Busier than chance ([`PEAK_ALPHA`]).
    pub fn is_pattern(&self) -> bool {
        self.p <= PEAK_ALPHA
    }

    /// The peak in words, or [`NO_PATTERN_SV`].
    pub fn words(&self) -> &str {
        if self.is_pattern() {
            &self.text
        } else {
            NO_PATTERN_SV
        }
    }
}

/// P(X ≥ k) for X ~ Binomial(n, q), summed from the k-th term up in f64; 1 at or below the
/// mean (where nothing is unusual and the sum would start from a term that may underflow).
pub fn binomial_tail(n: u64, k: u64, q: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    if k as f64 <= n as f64 * q {
        return 1.0;
    }
    // ln C(n, k) as a sum, then the pmf at k, then each next term from the one before.
    let ln_choose: f64 = (1..=k).map(|i| ((n - k + i) as f64 / i as f64).ln()).sum();
    let mut term = (ln_choose + k as f64 * q.ln() + (n - k) as f64 * (1.0 - q).ln()).exp();
    let ratio = q / (1.0 - q);
    let mut sum = 0.0;
    let mut i = k;
    loop {
        sum += term;
        if i == n || term < sum * 1e-17 {
            break;
        }
        term *= (n - i) as f64 / (i + 1) as f64 * ratio;
        i += 1;
    }
    sum.min(1.0)
}

/// The p-value of a `width`-hour window of the week holding `weight` of a profile's `total`:
/// [`binomial_tail`] of the weight rounded down among the total rounded up, at `width`/168,
/// times the 168 windows it was chosen from, at most 1.
pub fn window_p(weight: f64, total: f64, width: usize) -> f64 {
    let k = (weight + 1e-9).floor().max(0.0) as u64;
    let n = (total - 1e-9).ceil().max(0.0) as u64;
    (168.0 * binomial_tail(n, k, width as f64 / 168.0)).min(1.0)
}

impl Profile {
    pub fn add<Z: TimeZone>(&mut self, t: &DateTime<Z>) {
        let (d, h) = crate::time::weekday_hour(t);
        self.0[d][h] += 1.0;
    }

    /// Spreads a weight of 1 over `start..end`: each local hour gets the share of the span it
    /// covers; a span over a week, or an empty one, 1/168 in every hour. (Swedish local hours
    /// begin on whole UTC hours, so the span is cut at UTC hours.)
    pub fn add_span(&mut self, start: DateTime<Utc>, end: DateTime<Utc>) {
        let len = (end - start).num_milliseconds() as f64;
        if len <= 0.0 || len > 7.0 * 86_400_000.0 {
            for row in &mut self.0 {
                for c in row.iter_mut() {
                    *c += 1.0 / 168.0;
                }
            }
            return;
        }
        let hour = Duration::hours(1);
        let mut slot = start.duration_trunc(hour).unwrap_or(start);
        while slot < end {
            let next = slot + hour;
            let covered = (next.min(end) - slot.max(start)).num_milliseconds() as f64;
            let (d, h) = crate::time::weekday_hour(&slot);
            self.0[d][h] += covered / len;
            slot = next;
        }
    }

    /// Adds an incident by its time precision (see the module's words). Returns the weight it
    /// added from an uncertain time (a window), 0 for an exact time or hour, and `None` when it
    /// has no hour to add (a date, a month).
    pub fn add_incident(&mut self, inc: &SnapIncident) -> Option<f64> {
        match inc.time_precision {
            TimePrecision::Exact | TimePrecision::Hour => {
                // The local weekday and hour the snapshot worked out: `add(&inc.occurred_at)`
                // without a time zone conversion per incident and request.
                if let Some((d, h)) = inc.weekday_hour() {
                    self.0[d][h] += 1.0;
                }
                Some(0.0)
            }
            TimePrecision::Window => {
                let start = inc.occurred_at.with_timezone(&Utc);
                let end = inc.occurred_to.map_or(start, |t| t.with_timezone(&Utc));
                self.add_span(start, end);
                Some(1.0)
            }
            TimePrecision::Date | TimePrecision::Month => None,
        }
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

    /// The table as answers carry it: 7 rows of 24, each weight to 4 decimals.
    pub fn rows(&self) -> Vec<Vec<f64>> {
        self.0
            .iter()
            .map(|r| r.iter().map(|&v| round4(v)).collect())
            .collect()
    }

    pub fn total(&self) -> f64 {
        self.0.iter().flatten().sum()
    }

    fn at_week_hour(&self, k: usize) -> f64 {
        let k = k % 168;
        self.0[k / 24][k % 24]
    }

    /// The busiest `width`-hour window of the week none of whose hours is taken in `used`
    /// (hours of the week from Monday 00:00), a tie going to the earliest, trimmed of empty hours
    /// at either end: its start, length and weight. `None` when every window touches a taken
    /// hour. The peak and the patrol windows are both found so.
    pub fn busiest_window(&self, width: usize, used: &[bool; 168]) -> Option<(usize, usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        for start in 0..168 {
            if (0..width).any(|j| used[(start + j) % 168]) {
                continue;
            }
            // Each window summed afresh: a sliding sum of fractions would drift and break ties
            // that are ties.
            let sum: f64 = (0..width).map(|j| self.at_week_hour(start + j)).sum();
            if best.is_none_or(|(_, b)| sum > b + 1e-9) {
                best = Some((start, sum));
            }
        }
        let (mut start, weight) = best?;
        let mut hours = width;
        // Trim empty hours at either end: all events at 22:30 make "fre 22–23", not "fre 19–23".
        while hours > 1 && self.at_week_hour(start) == 0.0 {
            start = (start + 1) % 168;
            hours -= 1;
        }
        while hours > 1 && self.at_week_hour(start + hours - 1) == 0.0 {
            hours -= 1;
        }
        Some((start, hours, weight))
    }

    /// The busiest [`PEAK_WINDOW_HOURS`]-hour window; `None` without events.
    pub fn peak(&self) -> Option<Peak> {
        if self.total() <= 0.0 {
            return None;
        }
        let w = PEAK_WINDOW_HOURS;
        let (start, hours, count) = self.busiest_window(w, &[false; 168])?;
        Some(Peak {
            weekday: start / 24,
            hour: start % 24,
            hours,
            count,
            text: window_text(start, hours),
            p: window_p(count, self.total(), w),
        })
    }

    /// Per weekday, whole events in the four six-hour parts of the day (the weight rounded
    /// down: a fraction would tell of single windows); parts with fewer than `k` are `None`,
    /// empty ones too (a shown zero would make `None` mean "1 … k−1").
    pub fn day_parts(&self, k: u32) -> [[Option<u32>; 4]; 7] {
        let mut out = [[None; 4]; 7];
        for (d, row) in self.0.iter().enumerate() {
            for part in 0..4 {
                let w: f64 = row[part * 6..part * 6 + 6].iter().sum();
                let n = (w + 1e-9).floor() as u32;
                out[d][part] = (n >= k).then_some(n);
            }
        }
        out
    }
}

/// A weight to 4 decimals, as answers carry it.
pub fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// A weight in Swedish words: whole events as they are, fractions to one decimal with a comma
/// (`10`, `10,5`).
pub fn weight_sv(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}").replace('.', ",")
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
        assert_eq!(p.0[4][22], 1.0);
        assert_eq!(p.0[4][23], 1.0);
        assert_eq!(p.0[5][1], 1.0);
        assert_eq!(p.0[5][0], 1.0);
        let peak = p.peak().unwrap();
        assert_eq!(peak.count, 4.0);
        // Four of five in four hours: 168 · P(Bin(5, 4/168) ≥ 4) = 168 · (5q⁴(1−q) + q⁵).
        let q: f64 = 4.0 / 168.0;
        let expected = 168.0 * (5.0 * q.powi(4) * (1.0 - q) + q.powi(5));
        assert!((peak.p - expected).abs() < 1e-15, "{} {expected}", peak.p);
        assert!(peak.is_pattern());
        assert_eq!(peak.text, "fre–lör 22–02");
        let winter =
            DateTime::<FixedOffset>::parse_from_rfc3339("2026-01-10T23:30:00+00:00").unwrap();
        let q = Profile::from_times([&winter]);
        assert_eq!(q.0[6][0], 1.0);
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_window_spreads_one_event_over_the_hours_it_covers() {
        // Friday 6 March 2026 18:00 to Monday 9 March 07:00 (CET): 6 + 24 + 24 + 7 = 61 hours,
        // 1/61 in each (Ratcliffe 2002).
        let mut p = Profile::default();
        p.add_span(
            utc("2026-03-06T18:00:00+01:00"),
            utc("2026-03-09T07:00:00+01:00"),
        );
        let w = 1.0 / 61.0;
        for (d, h) in [(4, 18), (4, 23), (5, 0), (5, 12), (6, 23), (0, 0), (0, 6)] {
            assert!((p.0[d][h] - w).abs() < 1e-12, "{d} {h}: {}", p.0[d][h]);
        }
        for (d, h) in [(4, 17), (0, 7), (3, 12)] {
            assert_eq!(p.0[d][h], 0.0, "{d} {h}");
        }
        assert_eq!(p.0.iter().flatten().filter(|&&v| v > 0.0).count(), 61);
        assert!((p.total() - 1.0).abs() < 1e-12);
        // Half hours count by the time they cover: 22:30–00:30 gives 22 and 00 a quarter each,
        // 23 a half.
        let mut q = Profile::default();
        q.add_span(
            utc("2026-03-06T22:30:00+01:00"),
            utc("2026-03-07T00:30:00+01:00"),
        );
        assert_eq!((q.0[4][22], q.0[4][23], q.0[5][0]), (0.25, 0.5, 0.25));
        // Over the autumn change, Sunday 26 October 2025 01:00–04:00 local is four hours
        // (02 twice): 02 gets two of them.
        let mut r = Profile::default();
        r.add_span(
            utc("2025-10-26T01:00:00+02:00"),
            utc("2025-10-26T04:00:00+01:00"),
        );
        assert_eq!((r.0[6][1], r.0[6][2], r.0[6][3]), (0.25, 0.5, 0.25));
        // Longer than a week: evenly over the week.
        let mut e = Profile::default();
        e.add_span(
            utc("2026-03-01T00:00:00+01:00"),
            utc("2026-03-20T00:00:00+01:00"),
        );
        assert!(
            e.0.iter()
                .flatten()
                .all(|&v| (v - 1.0 / 168.0).abs() < 1e-15)
        );
    }

    #[test]
    fn the_binomial_tail_matches_the_exact_sums() {
        // Python's math.comb, summed exactly: Σ C(n,i) qⁱ (1−q)ⁿ⁻ⁱ for i ≥ k.
        let q = 4.0 / 168.0;
        let close = |a: f64, b: f64| ((a - b) / b).abs() < 1e-9;
        assert!(close(binomial_tail(9, 2, q), 0.018_258_285_899_384_507));
        assert!(close(
            binomial_tail(17, 10, q) * 168.0,
            1.641_360_313_409_105e-10
        ));
        assert!(close(
            binomial_tail(17, 6, q) * 168.0,
            0.000_302_071_015_361_84
        ));
        assert!(close(
            binomial_tail(40, 11, q) * 168.0,
            2.859_057_559_599_038_5e-07
        ));
        assert!(close(
            binomial_tail(100, 10, q) * 168.0,
            0.024_187_205_785_179_078
        ));
        assert!(close(
            binomial_tail(100, 9, q) * 168.0,
            0.111_882_167_522_658_85
        ));
        assert!(close(
            binomial_tail(60, 60, q) * 168.0,
            6.766_309_480_338_643e-96
        ));
        assert_eq!(binomial_tail(9, 0, q), 1.0);
        assert_eq!(binomial_tail(9, 10, q), 0.0);
        // At or below the mean: nothing unusual.
        assert_eq!(binomial_tail(1_000_000, 20_000, q), 1.0);
        // A huge cluster far in the tail: no overflow, no NaN.
        assert_eq!(binomial_tail(1_000_000, 900_000, q), 0.0);
    }

    #[test]
    fn nine_events_spread_over_the_week_have_no_peak_nine_in_an_evening_do() {
        let mut spread = Profile::default();
        for d in 0..7 {
            spread.0[d][(3 * d + 5) % 24] = 1.0;
        }
        spread.0[2][20] = 1.0;
        spread.0[5][21] = 1.0;
        let peak = spread.peak().unwrap();
        // Two in the busiest window: 168 · P(Bin(9, 4/168) ≥ 2) > 1, so 1.
        assert_eq!((peak.count, peak.p), (2.0, 1.0));
        assert!(!peak.is_pattern());
        assert_eq!(peak.words(), NO_PATTERN_SV);
        let mut evening = Profile::default();
        evening.0[4][20] = 5.0;
        evening.0[4][21] = 4.0;
        let peak = evening.peak().unwrap();
        assert!(peak.p < 1e-10 && peak.is_pattern(), "{}", peak.p);
        assert_eq!(peak.words(), "fre 20–22");
    }

    #[test]
    fn a_planted_friday_night_is_a_pattern() {
        // 60 events on Friday nights, 22:xx to 01:xx local over May 2026 (CEST), 15 an hour,
        // and 40 spread one an hour over the rest of the week: the peak is fre–lör 22–02 with
        // 60 of 100 (expected 2.4), p far below 0.01.
        let mut times: Vec<DateTime<Utc>> = Vec::new();
        for k in 0..60i64 {
            let friday = utc("2026-05-01T22:10:00+02:00") + Duration::days(7 * (k % 4));
            times.push(friday + Duration::hours(k % 4) + Duration::minutes(k % 40));
        }
        // Monday 08:00 onwards, every fourth hour: none on Friday night.
        for k in 0..40i64 {
            times.push(utc("2026-05-04T08:00:00+02:00") + Duration::hours(4 * k % 96));
        }
        let p = Profile::from_times(&times);
        let peak = p.peak().unwrap();
        assert_eq!(peak.text, "fre–lör 22–02");
        assert!(peak.count >= 60.0);
        assert!(peak.p < 0.01 && peak.is_pattern(), "{}", peak.p);
    }

    #[test]
    fn weights_in_swedish() {
        assert_eq!(weight_sv(10.0), "10");
        assert_eq!(weight_sv(11.967), "12");
        assert_eq!(weight_sv(10.49), "10,5");
        assert_eq!(weight_sv(0.0164), "0");
        assert_eq!(round4(1.0 / 61.0), 0.0164);
    }

    #[test]
    fn day_parts_blank_small_counts() {
        let mut p = Profile::default();
        p.0[4][22] = 2.0;
        p.0[4][23] = 2.0;
        p.0[0][7] = 1.0;
        // 2.9 events of weight is shown as 2, below k = 3.
        p.0[1][20] = 1.45;
        p.0[1][21] = 1.45;
        let parts = p.day_parts(3);
        assert_eq!(parts[4][3], Some(4));
        assert_eq!(parts[1][3], None);
        assert_eq!(p.day_parts(2)[1][3], Some(2));
        assert_eq!(parts[0][1], None);
        // Empty parts look like small ones.
        assert_eq!(parts[2][2], None);
    }
}
