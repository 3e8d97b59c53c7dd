//! Near repeats (`GET /api/v1/near-repeat`, police, coordinators and admins): the Knox test of
//! [`crate::analysis::near_repeat`] on the incidents a filter selects, with the bands and the
//! number of permutations asked for, and the answer said in Swedish.
//!
//! Events enter when their place is point-level (exact or street) and their time falls on one
//! known date (an exact time, an hour, a date, or a window within one date; a date counts as
//! its midnight, so its time differences are whole days). The answer names what was left out.
//! Single events are not in the answer, only counts of pairs: but pairs of nearby events in a
//! small district can be few, so it is for signed-in roles only.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::filter::{FilterParams, PeriodEcho};
use super::{ServiceError, ServiceResult, Viewer};
use crate::analysis::cancel::Cancel;
use crate::analysis::near_repeat::{self, Event, PairsError};
use crate::spatial::Snapshot;

/// Default spatial bands: upper edges in metres.
pub const DEFAULT_SPACE: [f64; 4] = [100.0, 200.0, 300.0, 400.0];
/// Default temporal bands: upper edges in days.
pub const DEFAULT_TIME: [f64; 4] = [7.0, 14.0, 21.0, 28.0];
/// 999: the smallest p is 0.001, which a table of 16 cells needs to pass the false discovery
/// rate at all (0.05/16 = 0.003).
pub const DEFAULT_PERMUTATIONS: usize = 999;
pub const MAX_PERMUTATIONS: usize = 9_999;
pub const MAX_BANDS: usize = 20;
/// The farthest spatial band edge, in metres, and the longest temporal one, in days.
pub const MAX_DISTANCE_M: f64 = 5_000.0;
pub const MAX_DAYS: f64 = 365.0;
/// The most pairs within the last spatial band one answer counts (16 bytes each: 64 MB).
pub const MAX_PAIRS: usize = 4_000_000;
/// The most pair × permutation steps one answer takes (about a second per 10⁸ on one core).
pub const MAX_STEPS: u64 = 400_000_000;
/// The false discovery rate over the table's cells (Benjamini–Hochberg): a table of 16 cells
/// at 0.05 each would show a "near repeat" in more than half of all data without one.
pub const ALPHA: f64 = 0.05;
/// The permutations' seed: the same data and parameters give the same answer.
pub const SEED: u64 = 0x4b6e_6f78;

/// The test's own parameters (the incident filter is [`FilterParams`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearRepeatParams {
    /// Spatial bands as their ascending upper edges in metres, comma separated; the first band
    /// starts at 0, each is `[lo, hi)`. Default `100,200,300,400`; at most 20 bands, the last
    /// edge at most 5000.
    #[param(example = "100,200,300,400")]
    pub space_bands: Option<String>,
    /// Temporal bands as their ascending upper edges in days, `[lo, hi)` from 0. Default
    /// `7,14,21,28`; at most 20 bands, the last edge at most 365.
    #[param(example = "7,14,21,28")]
    pub time_bands: Option<String>,
    /// Monte Carlo permutations, 19–9999 (default 999; the smallest p is 1/(1 + permutations)).
    pub permutations: Option<usize>,
}

fn edges(name: &str, v: Option<&str>, default: &[f64], max: f64) -> ServiceResult<Vec<f64>> {
    let Some(v) = v else {
        return Ok(default.to_vec());
    };
    let bad = |why: String| ServiceError::Invalid(format!("{name}={v}: {why}"));
    let e: Vec<f64> = v
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(format!("{:?} is not a number", s.trim())))
        })
        .collect::<ServiceResult<_>>()?;
    if e.is_empty() || e.len() > MAX_BANDS {
        return Err(bad(format!("expected 1 to {MAX_BANDS} band edges")));
    }
    if e[0] <= 0.0 || e.windows(2).any(|w| w[1] <= w[0]) {
        return Err(bad("edges must be positive and ascending".into()));
    }
    if e[e.len() - 1] > max {
        return Err(bad(format!("the last edge may be at most {max}")));
    }
    Ok(e)
}

/// One band, its edges written out.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Band {
    /// Lower edge, included.
    pub from: f64,
    /// Upper edge, excluded.
    pub to: f64,
    /// In Swedish, e.g. `0–100 m` or `7–14 dagar` (from included, to not).
    pub label: String,
}

/// One cell of spatial band × temporal band.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NearRepeatCell {
    /// Indices into `space_bands` and `time_bands`.
    pub space: usize,
    pub time: usize,
    /// Pairs of events in the cell.
    pub observed: u64,
    /// Mean count over the permutations.
    pub expected: f64,
    /// observed ÷ expected; null when nothing was expected.
    pub knox_ratio: Option<f64>,
    /// One-sided Monte Carlo p: (1 + permutations with a count ≥ observed) ÷ (1 +
    /// permutations).
    pub p: f64,
    /// The ratio above 1 and `p` within the Benjamini–Hochberg cut-off at a false discovery
    /// rate of 0.05 over the table's cells.
    pub significant: bool,
}

/// `GET /api/v1/near-repeat`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NearRepeat {
    pub generated_at: String,
    pub demo: bool,
    pub period: PeriodEcho,
    /// The categories asked for (codes), or null for the filter's groups.
    pub categories: Option<Vec<String>>,
    /// Events in the test.
    pub events: usize,
    /// Selected, but left out: known only to a municipality or county, or to no single date.
    pub excluded_place: usize,
    pub excluded_time: usize,
    /// Pairs of events within the last spatial band.
    pub pairs: usize,
    pub permutations: usize,
    pub space_bands: Vec<Band>,
    pub time_bands: Vec<Band>,
    /// Spatial band major: every spatial band × every temporal band.
    pub cells: Vec<NearRepeatCell>,
    /// In Swedish: the nearest significant cell, or that none is.
    pub statement: String,
}

fn num_sv(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}").replace('.', ",")
    }
}

fn bands(e: &[f64], unit: &str) -> Vec<Band> {
    let mut lo = 0.0;
    e.iter()
        .map(|&hi| {
            let b = Band {
                from: lo,
                to: hi,
                label: format!("{}–{} {unit}", num_sv(lo), num_sv(hi)),
            };
            lo = hi;
            b
        })
        .collect()
}

/// The events the test uses, their days since `origin`, and the counts left out.
fn events(
    snap: &Snapshot,
    filter: &crate::analysis::filter::IncidentFilter,
    origin: NaiveDate,
) -> (Vec<Event>, usize, usize) {
    let sel = filter.select_in(&snap.incidents);
    let excluded_place = sel.municipality_only + sel.county_only;
    let mut excluded_time = 0;
    let base = crate::time::local_midnight_utc(origin);
    let mut out = Vec::with_capacity(sel.points.len());
    for i in &sel.points {
        // One known date (a month never is: its first and last dates differ).
        if i.local_day().is_none() {
            excluded_time += 1;
            continue;
        }
        let t = (i.occurred_at.with_timezone(&Utc) - base).num_seconds() as f64 / 86_400.0;
        out.push(Event {
            x: i.location.x(),
            y: i.location.y(),
            t,
        });
    }
    (out, excluded_place, excluded_time)
}

/// The Knox test for `filter` (period as [`FilterParams::summary`]: the last 365 days without
/// `from`/`to`) and `params`.
pub fn near_repeat(
    snap: &Snapshot,
    filter: &FilterParams,
    params: &NearRepeatParams,
    viewer: &Viewer,
    today: NaiveDate,
    cancel: &Cancel,
) -> ServiceResult<NearRepeat> {
    if !viewer.sees_points() {
        return Err(ServiceError::Forbidden("police"));
    }
    let space = edges(
        "space_bands",
        params.space_bands.as_deref(),
        &DEFAULT_SPACE,
        MAX_DISTANCE_M,
    )?;
    let time = edges(
        "time_bands",
        params.time_bands.as_deref(),
        &DEFAULT_TIME,
        MAX_DAYS,
    )?;
    let permutations = match params.permutations {
        None => DEFAULT_PERMUTATIONS,
        Some(n) if (19..=MAX_PERMUTATIONS).contains(&n) => n,
        Some(n) => {
            return Err(ServiceError::Invalid(format!(
                "permutations={n}: expected 19 to {MAX_PERMUTATIONS}"
            )));
        }
    };
    let (f, period) = filter.summary(snap, today)?;
    let (evs, excluded_place, excluded_time) = events(snap, &f, period.from);
    let pairs = near_repeat::close_pairs(&evs, &space, MAX_PAIRS, cancel).map_err(|e| match e {
        PairsError::Cancelled => ServiceError::from(crate::analysis::cancel::Cancelled),
        PairsError::TooMany(n) => ServiceError::Invalid(format!(
            "more than {MAX_PAIRS} pairs of events lie within {} m (at least {n}): choose a \
             shorter period, fewer categories, a district or a smaller last space band",
            num_sv(space[space.len() - 1])
        )),
    })?;
    let steps = pairs.len() as u64 * permutations as u64;
    if steps > MAX_STEPS {
        return Err(ServiceError::Invalid(format!(
            "{} pairs × {permutations} permutations is {steps} steps, more than the {MAX_STEPS} \
             one answer may take: fewer permutations, or fewer pairs",
            pairs.len()
        )));
    }
    let table = near_repeat::knox(&evs, &pairs, space.len(), &time, permutations, SEED, cancel)?;
    let space_bands = bands(&space, "m");
    let time_bands = bands(&time, "dagar");
    let ps: Vec<f64> = table.iter().map(|c| c.p).collect();
    let cutoff = crate::analysis::hotspot::gistar::bh_cutoff(&ps, ALPHA);
    let cells: Vec<NearRepeatCell> = table
        .into_iter()
        .map(|c| NearRepeatCell {
            space: c.space,
            time: c.time,
            observed: c.observed,
            expected: (c.expected * 1000.0).round() / 1000.0,
            knox_ratio: c.ratio.map(|r| (r * 100.0).round() / 100.0),
            p: c.p,
            significant: cutoff.is_some_and(|k| c.p <= k) && c.ratio.is_some_and(|r| r > 1.0),
        })
        .collect();
    let categories: Option<Vec<String>> =
        f.categories.as_ref().map(|c| c.iter().cloned().collect());
    let what = match categories.as_deref() {
        Some([one]) => crate::category::label_sv(one)
            .map(|l| l.to_lowercase())
            .unwrap_or_else(|| one.clone()),
        _ => "händelse".into(),
    };
    let statement = match cells.iter().find(|c| c.significant) {
        Some(c) => format!(
            "Risken för ett nytt fall ({what}) {} bort och {} efter ett annat är {} gånger den förväntade (p = {}, falsk upptäcktsrisk 5 % över tabellens celler).",
            space_bands[c.space].label,
            time_bands[c.time].label,
            c.knox_ratio
                .map(|r| format!("{r:.1}").replace('.', ","))
                .unwrap_or_default(),
            format!("{:.3}", c.p).replace('.', ",")
        ),
        None => format!(
            "Inga nära upprepningar: ingen kombination av avstånd och tid har fler par ({what}) än slumpen ger (falsk upptäcktsrisk 5 % över tabellens celler)."
        ),
    };
    Ok(NearRepeat {
        generated_at: Utc::now().to_rfc3339(),
        demo: snap.demo,
        period: period.echo(),
        categories,
        events: evs.len(),
        excluded_place,
        excluded_time,
        pairs: pairs.len(),
        permutations,
        space_bands,
        time_bands,
        cells,
        statement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_edges_are_checked_and_written_out() {
        assert_eq!(
            edges("space_bands", None, &DEFAULT_SPACE, 5000.0).unwrap(),
            DEFAULT_SPACE
        );
        assert_eq!(
            edges("space_bands", Some("50, 100,250"), &DEFAULT_SPACE, 5000.0).unwrap(),
            [50.0, 100.0, 250.0]
        );
        for bad in ["", "0,100", "100,50", "100,x", "100,6000", "100,100"] {
            let e = edges("space_bands", Some(bad), &DEFAULT_SPACE, 5000.0).unwrap_err();
            assert!(e.to_string().contains("space_bands="), "{bad}: {e}");
        }
        let b = bands(&[7.0, 14.0, 10.5 + 10.0], "dagar");
        let labels: Vec<&str> = b.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["0–7 dagar", "7–14 dagar", "14–20,5 dagar"]);
        assert_eq!((b[1].from, b[1].to), (7.0, 14.0));
    }
}
