//! Did a measure work? The odds ratio of the Campbell systematic review of street lighting
//! (Welsh & Farrington 2008), with target and comparison areas before and after.
//!
//! With `a`, `b` the counts in the target area before and after, and `c`, `d` those in the
//! comparison area, `OR = (a·d)/(b·c)`: above 1 the target improved against the comparison
//! (`OR = 2` is half the incidents the comparison's trend predicts, −50 %). The 95 % interval is
//! `exp(ln OR ± 1.96·√(1/a + 1/b + 1/c + 1/d))`. Below five events in any cell the estimate is
//! not given; neither is one for a measure done less than three months ago.

use chrono::{Days, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

/// Fewest events in each of the four counts for an estimate.
pub const MIN_COUNT: u64 = 5;
/// Longest before and after windows.
pub const MAX_WINDOW_DAYS: u64 = 365;
/// Shortest after window worth judging (three months).
pub const MIN_WINDOW_DAYS: u64 = 90;

/// The four counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct EffectCounts {
    pub target_before: u64,
    pub target_after: u64,
    pub comparison_before: u64,
    pub comparison_after: u64,
}

/// What the counts allow to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Done less than [`MIN_WINDOW_DAYS`] ago (or not done).
    TooEarly,
    /// A count below [`MIN_COUNT`].
    TooFew,
    /// Fewer incidents in the target against the comparison; the interval excludes 1.
    Better,
    /// More incidents in the target against the comparison; the interval excludes 1.
    Worse,
    /// The interval contains 1.
    NoClearChange,
}

/// The odds ratio of `n`, or why there is none.
pub fn odds_ratio(n: &EffectCounts) -> (Verdict, Option<(f64, [f64; 2])>) {
    let all = [
        n.target_before,
        n.target_after,
        n.comparison_before,
        n.comparison_after,
    ];
    if all.iter().any(|&k| k < MIN_COUNT) {
        return (Verdict::TooFew, None);
    }
    let [a, b, c, d] = all.map(|k| k as f64);
    let or = (a * d) / (b * c);
    let se = (1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d).sqrt();
    let lo = (or.ln() - 1.96 * se).exp();
    let hi = (or.ln() + 1.96 * se).exp();
    let verdict = if lo > 1.0 {
        Verdict::Better
    } else if hi < 1.0 {
        Verdict::Worse
    } else {
        Verdict::NoClearChange
    };
    (verdict, Some((or, [lo, hi])))
}

/// The change in the target against the comparison, in per cent: `1/OR − 1`.
pub fn relative_change(or: f64) -> f64 {
    (1.0 / or - 1.0) * 100.0
}

/// The sentence for an estimate, e.g. `−50 % mot jämförelseområdet (95 % KI −71 % till −13 %)`.
pub fn in_words(verdict: Verdict, estimate: Option<(f64, [f64; 2])>) -> String {
    let pct = |v: f64| {
        let r = v.round();
        if r < 0.0 {
            format!("−{} %", -r)
        } else {
            format!("+{r} %")
        }
    };
    match (verdict, estimate) {
        (Verdict::TooEarly, _) => {
            "för tidigt att bedöma (mindre än tre månader sedan åtgärden)".into()
        }
        (Verdict::TooFew, _) | (_, None) => {
            format!(
                "för få händelser för att bedöma effekten (färre än {MIN_COUNT} i någon av de fyra räkningarna)"
            )
        }
        (v, Some((or, [lo, hi]))) => {
            // The interval of the change runs the other way: a higher OR is a larger decrease.
            let sure = match v {
                Verdict::Better => "; en tydlig minskning",
                Verdict::Worse => "; en tydlig ökning",
                _ => "; ingen säker förändring",
            };
            format!(
                "{} mot jämförelseområdet (95 % KI {} till {}){sure}",
                pct(relative_change(or)),
                pct(relative_change(hi)),
                pct(relative_change(lo)),
            )
        }
    }
}

/// The before and after windows of a measure done on `done`, judged on `today`: each
/// `min(365, days since done)` long, the after window starting on `done`. `None` when fewer than
/// [`MIN_WINDOW_DAYS`] have passed.
pub fn windows(done: NaiveDate, today: NaiveDate) -> Option<Windows> {
    let since = u64::try_from((today - done).num_days()).ok()?;
    if since < MIN_WINDOW_DAYS {
        return None;
    }
    let len = since.min(MAX_WINDOW_DAYS);
    Some(Windows {
        before_from: done.checked_sub_days(Days::new(len))?,
        done,
        after_to: done.checked_add_days(Days::new(len))?,
        days: len,
    })
}

/// `[before_from, done)` and `[done, after_to)`, local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Windows {
    pub before_from: NaiveDate,
    pub done: NaiveDate,
    pub after_to: NaiveDate,
    pub days: u64,
}

impl Windows {
    /// `Some(true)` after, `Some(false)` before, `None` outside both.
    pub fn side(&self, day: NaiveDate) -> Option<bool> {
        if day >= self.before_from && day < self.done {
            Some(false)
        } else if day >= self.done && day < self.after_to {
            Some(true)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(a: u64, b: u64, c: u64, d: u64) -> EffectCounts {
        EffectCounts {
            target_before: a,
            target_after: b,
            comparison_before: c,
            comparison_after: d,
        }
    }

    #[test]
    fn the_planted_counts_of_the_issue() {
        // OR = 40·400 / (20·400) = 2; var ln OR = 1/40 + 1/20 + 2/400 = 0.08;
        // exp(ln 2 ± 1.96·√0.08) = 1.149 … 3.482.
        let (v, est) = odds_ratio(&counts(40, 20, 400, 400));
        let (or, [lo, hi]) = est.unwrap();
        assert!((or - 2.0).abs() < 1e-12);
        assert!((lo - 1.15).abs() < 0.01, "{lo}");
        assert!((hi - 3.48).abs() < 0.01, "{hi}");
        assert_eq!(v, Verdict::Better);
        assert_eq!(
            in_words(v, est),
            "−50 % mot jämförelseområdet (95 % KI −71 % till −13 %); en tydlig minskning"
        );
    }

    #[test]
    fn no_change_and_too_few() {
        let (v, est) = odds_ratio(&counts(30, 31, 300, 290));
        let (_, [lo, hi]) = est.unwrap();
        assert!(lo < 1.0 && hi > 1.0);
        assert_eq!(v, Verdict::NoClearChange);
        let (v, est) = odds_ratio(&counts(4, 20, 400, 400));
        assert_eq!((v, est), (Verdict::TooFew, None));
        assert!(in_words(v, est).starts_with("för få händelser"));
        // Worse: the target doubled while the comparison stayed.
        let (v, _) = odds_ratio(&counts(20, 40, 400, 400));
        assert_eq!(v, Verdict::Worse);
    }

    #[test]
    fn windows_shrink_to_the_time_passed() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(windows(d(2026, 10, 1), d(2026, 12, 1)), None);
        let w = windows(d(2026, 6, 1), d(2026, 12, 1)).unwrap();
        assert_eq!(w.days, 183);
        assert_eq!(w.before_from, d(2025, 11, 30));
        assert_eq!(w.after_to, d(2026, 12, 1));
        let w = windows(d(2024, 12, 1), d(2026, 12, 1)).unwrap();
        assert_eq!(w.days, 365);
        assert_eq!(w.side(d(2024, 11, 30)), Some(false));
        assert_eq!(w.side(d(2024, 12, 1)), Some(true));
        assert_eq!(w.side(d(2025, 12, 1)), None);
        assert_eq!(w.side(d(2023, 12, 1)), None);
    }
}
