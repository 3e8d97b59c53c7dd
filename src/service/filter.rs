//! The incident filter every hotspot, profile and summary question takes: [`FilterParams`] as
//! the caller gives it, [`FilterParams::filter`] as the analyses use it, [`FilterEcho`] as the
//! answers report it back.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ServiceError, ServiceResult};
use crate::analysis::filter::{
    AreaFilter, HourSet, IncidentFilter, WeekdaySet, parse_bbox, parse_categories, parse_groups,
    parse_period_bound,
};
use crate::spatial::Snapshot;

/// Which incidents to look at. Every field is text as the caller wrote it; [`Self::filter`]
/// checks it against the data and says what is wrong, naming the parameter and value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// First local (Europe/Stockholm) date included: YYYY-MM-DD, or YYYY-MM for the first day of
    /// that month.
    #[arg(long)]
    #[param(example = "2026-05-01")]
    pub from: Option<String>,
    /// Last local date included: YYYY-MM-DD, or YYYY-MM for the last day of that month.
    #[arg(long)]
    #[param(example = "2026-05-31")]
    pub to: Option<String>,
    /// Comma list of category codes, e.g. assault,robbery. Given without groups: exactly these
    /// categories.
    #[arg(long)]
    pub categories: Option<String>,
    /// Comma list of category groups (violence, property, drugs, vandalism, disorder, weapons,
    /// other_crime, traffic, fire, non_crime, summary). Default, when neither groups nor
    /// categories are given: the crime groups.
    #[arg(long)]
    pub groups: Option<String>,
    /// Local hours: ranges with exclusive end wrapping midnight (22-04) and/or single hours
    /// (8,9,10).
    #[arg(long)]
    pub hours: Option<String>,
    /// Weekdays: mon..sun, mån..sön or 0..6 (0 = Monday), comma list or ranges (fri-sun).
    #[arg(long)]
    pub weekdays: Option<String>,
    /// District name (case-insensitive). Not together with bbox.
    #[arg(long)]
    pub area: Option<String>,
    /// WGS84 box west,south,east,north.
    #[arg(long)]
    pub bbox: Option<String>,
}

impl FilterParams {
    /// The filter the analyses apply. `dates: false` refuses `from`/`to` (a comparison has
    /// its own periods).
    pub fn filter(&self, snap: &Snapshot, dates: bool) -> ServiceResult<IncidentFilter> {
        let mut f = IncidentFilter::default();
        if !dates && (self.from.is_some() || self.to.is_some()) {
            return Err(ServiceError::Invalid(
                "from/to do not apply here: give the periods as a_from, a_to, b_from, b_to".into(),
            ));
        }
        if let Some(v) = &self.from {
            f.from = Some(parse_period_bound("from", v, false)?);
        }
        if let Some(v) = &self.to {
            f.to = Some(parse_period_bound("to", v, true)?);
        }
        if let (Some(a), Some(b)) = (f.from, f.to)
            && a > b
        {
            return Err(ServiceError::Invalid(format!("from={a} is after to={b}")));
        }
        if let Some(v) = &self.categories {
            f.categories = Some(parse_categories(v)?);
        }
        if let Some(v) = &self.groups {
            f.groups = Some(parse_groups(v)?);
        }
        if let Some(v) = &self.hours {
            f.hours = Some(HourSet::parse(v)?);
        }
        if let Some(v) = &self.weekdays {
            f.weekdays = Some(WeekdaySet::parse(v)?);
        }
        f.area = match (&self.area, &self.bbox) {
            (Some(_), Some(_)) => {
                return Err(ServiceError::Invalid(
                    "give either area (a district name) or bbox, not both".into(),
                ));
            }
            (Some(name), None) => Some(AreaFilter::district(&snap.areas, name)?),
            (None, Some(b)) => Some(AreaFilter::wgs84_bbox(parse_bbox(b)?)?),
            (None, None) => None,
        };
        Ok(f)
    }
}

/// Length of a summary's default period (the lägesbild, the patrol plan).
pub const SUMMARY_DAYS: i64 = 365;

/// The period of a summary: both ends local dates, included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of equal length just before.
    pub fn previous(&self) -> Period {
        let to = self.from - Duration::days(1);
        Period {
            from: to - Duration::days(self.days() - 1),
            to,
        }
    }

    pub fn echo(&self) -> PeriodEcho {
        let before = self.previous();
        PeriodEcho {
            from: self.from.to_string(),
            to: self.to.to_string(),
            days: self.days(),
            previous_from: before.from.to_string(),
            previous_to: before.to.to_string(),
        }
    }
}

/// A summary's period as answers report it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PeriodEcho {
    /// First local date included.
    #[schema(format = Date)]
    pub from: String,
    /// Last local date included.
    #[schema(format = Date)]
    pub to: String,
    /// Days in the period.
    pub days: i64,
    /// The period of equal length just before, for the change.
    #[schema(format = Date)]
    pub previous_from: String,
    #[schema(format = Date)]
    pub previous_to: String,
}

impl FilterParams {
    /// The filter of a summary, its dates made explicit: without `to` the period ends `today`,
    /// without `from` it is [`SUMMARY_DAYS`] long.
    pub fn summary(
        &self,
        snap: &Snapshot,
        today: NaiveDate,
    ) -> ServiceResult<(IncidentFilter, Period)> {
        let mut f = self.filter(snap, true)?;
        let to = f.to.unwrap_or(today);
        let from = f.from.unwrap_or(to - Duration::days(SUMMARY_DAYS - 1));
        if from > to {
            return Err(ServiceError::Invalid(format!(
                "from={from} is after to={to}"
            )));
        }
        f.from = Some(from);
        f.to = Some(to);
        Ok((f, Period { from, to }))
    }
}

/// The filter without its dates, for questions that have periods of their own (a
/// comparison): `from` and `to` are neither documented nor accepted.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct AttributeFilter(pub FilterParams);

impl IntoParams for AttributeFilter {
    fn into_params(
        parameter_in: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        FilterParams::into_params(parameter_in)
            .into_iter()
            .filter(|p| p.name != "from" && p.name != "to")
            .collect()
    }
}

/// The filter an answer was computed with, as the analyses understood it (`meta.filters`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FilterEcho {
    /// First local date included.
    pub from: Option<String>,
    /// Last local date included.
    pub to: Option<String>,
    pub categories: Option<Vec<String>>,
    /// The groups, or `"crime"` when neither groups nor categories were given (the default).
    #[schema(value_type = Object)]
    pub groups: GroupsEcho,
    /// Local hours included (0–23).
    pub hours: Option<Vec<usize>>,
    /// Weekdays included (0 = Monday).
    pub weekdays: Option<Vec<usize>>,
    /// The district's name, or `bbox` for a box.
    pub area: Option<String>,
}

/// `groups` in [`FilterEcho`]: a list, the default `"crime"`, or null (categories only).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GroupsEcho {
    List(Vec<&'static str>),
    Default(&'static str),
    None(Option<()>),
}

impl FilterEcho {
    pub fn of(f: &IncidentFilter) -> Self {
        Self {
            from: f.from.map(|d| d.to_string()),
            to: f.to.map(|d| d.to_string()),
            categories: f.categories.as_ref().map(|c| c.iter().cloned().collect()),
            groups: match &f.groups {
                Some(g) => GroupsEcho::List(g.iter().map(|g| g.as_str()).collect()),
                None if f.categories.is_none() => GroupsEcho::Default("crime"),
                None => GroupsEcho::None(None),
            },
            hours: f
                .hours
                .map(|h| (0..24).filter(|&i| h.contains(i)).collect()),
            weekdays: f
                .weekdays
                .map(|w| (0..7).filter(|&i| w.contains(i)).collect()),
            area: f.area.as_ref().map(|a| a.name.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_filter_is_the_crime_groups_and_echoes_so() {
        let snap = Snapshot::empty();
        let f = FilterParams::default().filter(&snap, true).unwrap();
        assert_eq!(f, IncidentFilter::default());
        let echo = serde_json::to_value(FilterEcho::of(&f)).unwrap();
        assert_eq!(echo["groups"], "crime");
        assert!(echo["categories"].is_null() && echo["hours"].is_null());
    }

    #[test]
    fn months_widen_to_whole_months_and_order_is_checked() {
        let snap = Snapshot::empty();
        let p = FilterParams {
            from: Some("2026-02".into()),
            to: Some("2026-02".into()),
            hours: Some("22-02".into()),
            ..Default::default()
        };
        let echo = FilterEcho::of(&p.filter(&snap, true).unwrap());
        assert_eq!(echo.from.as_deref(), Some("2026-02-01"));
        assert_eq!(echo.to.as_deref(), Some("2026-02-28"));
        assert_eq!(echo.hours, Some(vec![0, 1, 22, 23]));
        let backwards = FilterParams {
            from: Some("2026-03-01".into()),
            to: Some("2026-02-01".into()),
            ..Default::default()
        };
        let e = backwards.filter(&snap, true).unwrap_err().to_string();
        assert_eq!(e, "from=2026-03-01 is after to=2026-02-01");
        let e = p.filter(&snap, false).unwrap_err().to_string();
        assert!(e.starts_with("from/to do not apply here"), "{e}");
    }

    #[test]
    fn a_summary_defaults_to_the_last_365_days_and_compares_with_the_365_before() {
        let snap = Snapshot::empty();
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let (f, p) = FilterParams::default().summary(&snap, today).unwrap();
        // 2025-12-03 … 2026-12-02 is 365 days (2026 is no leap year); the 365 before end on
        // 2025-12-02 and start on 2024-12-03 (2025 neither).
        assert_eq!(p.from.to_string(), "2025-12-03");
        assert_eq!((f.from, f.to), (Some(p.from), Some(today)));
        let e = p.echo();
        assert_eq!(e.days, 365);
        assert_eq!(
            (e.previous_from.as_str(), e.previous_to.as_str()),
            ("2024-12-03", "2025-12-02")
        );
        // A month given as a month: February 2024 has 29 days, the period before is the
        // 29 days from 2024-01-03 to 2024-01-31.
        let p = FilterParams {
            from: Some("2024-02".into()),
            to: Some("2024-02".into()),
            ..Default::default()
        };
        let e = p.summary(&snap, today).unwrap().1.echo();
        assert_eq!(
            (e.from.as_str(), e.to.as_str(), e.days),
            ("2024-02-01", "2024-02-29", 29)
        );
        assert_eq!(
            (e.previous_from.as_str(), e.previous_to.as_str()),
            ("2024-01-03", "2024-01-31")
        );
        // Only `from`, after today.
        let p = FilterParams {
            from: Some("2027-01-01".into()),
            ..Default::default()
        };
        assert_eq!(
            p.summary(&snap, today).unwrap_err().to_string(),
            "from=2027-01-01 is after to=2026-12-02"
        );
    }
}
