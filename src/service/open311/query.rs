//! The filters of `GET requests`, as the specification defines them.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::model::{ReportStatus, ServiceCode};
use crate::service::{ServiceError, ServiceResult};
use crate::store::reports::ReportFilter;

/// Requests answered by `GET requests` at most.
pub const MAX_REQUESTS: u32 = 1000;
/// Default window of `GET requests` without dates.
pub const DEFAULT_DAYS: i64 = 90;

/// The query of `GET requests.{format}`. Names the specification does not define (an
/// `api_key`, a `jurisdiction_id`: there is one jurisdiction) are ignored, as Open311 clients
/// expect.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// Request ids, comma separated; the other filters are then ignored.
    pub service_request_id: Option<String>,
    /// Service codes, comma separated.
    pub service_code: Option<String>,
    /// `open`, `closed` (comma separated); also the fine statuses `acknowledged`,
    /// `in_progress`.
    pub status: Option<String>,
    /// ISO 8601, e.g. `2026-11-01T00:00:00+01:00`, or a date (midnight in Sweden). Without
    /// dates: the last 90 days; with only `end_date`: the 90 days before it.
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    /// `true` adds `extended_attributes` (detailed status, lamp, walkway, merge, answers).
    pub extensions: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Parses `start_date`/`end_date`: RFC 3339 / ISO 8601 with a zone, or a plain date (midnight
/// in Sweden).
fn parse_when(v: &str, name: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        && let Some(t) = crate::time::ZONE
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
    {
        return Ok(t.with_timezone(&Utc));
    }
    Err(format!(
        "{name} {v:?} is not an ISO 8601 date-time such as 2026-11-01T00:00:00+01:00"
    ))
}

impl RequestsQuery {
    /// `extensions=true|false`.
    pub fn extensions(&self) -> ServiceResult<bool> {
        parse_extensions(self.extensions.as_deref())
    }

    /// The store's filter; every problem is named, not only the first.
    pub fn filter(&self, now: DateTime<Utc>) -> Result<ReportFilter, Vec<String>> {
        let mut errors = Vec::new();
        let mut f = ReportFilter {
            limit: MAX_REQUESTS,
            ..ReportFilter::default()
        };
        if let Some(ids) = given(&self.service_request_id) {
            for s in items(ids) {
                match s.parse() {
                    Ok(id) => f.ids.push(id),
                    Err(_) => errors.push(format!("service_request_id {s:?} is not a request id")),
                }
            }
            return if errors.is_empty() {
                Ok(f)
            } else {
                Err(errors)
            };
        }
        if let Some(codes) = given(&self.service_code) {
            for s in items(codes) {
                match ServiceCode::parse(s) {
                    Some(c) => f.services.push(c),
                    None => errors.push(format!("service_code {s:?} is not a service here")),
                }
            }
        }
        if let Some(st) = given(&self.status) {
            for s in items(st) {
                match s {
                    "open" => f.statuses.extend([
                        ReportStatus::Open,
                        ReportStatus::Acknowledged,
                        ReportStatus::InProgress,
                    ]),
                    "closed" => f.statuses.push(ReportStatus::Closed),
                    other => match ReportStatus::parse(other) {
                        Some(fine) => f.statuses.push(fine),
                        None => errors.push(format!("status {other:?}: use open or closed")),
                    },
                }
            }
        }
        let mut when = |v: &Option<String>, name: &str| {
            given(v).and_then(|v| match parse_when(v, name) {
                Ok(t) => Some(t),
                Err(e) => {
                    errors.push(e);
                    None
                }
            })
        };
        let start = when(&self.start_date, "start_date");
        let end = when(&self.end_date, "end_date");
        f.start = match (start, end) {
            (Some(s), _) => Some(s),
            (None, Some(e)) => Some(e - Duration::days(DEFAULT_DAYS)),
            (None, None) => Some(now - Duration::days(DEFAULT_DAYS)),
        };
        f.end = end;
        if matches!((f.start, f.end), (Some(s), Some(e)) if s > e) {
            errors.push("start_date is after end_date".to_string());
        }
        if errors.is_empty() {
            Ok(f)
        } else {
            Err(errors)
        }
    }
}

/// The query of `GET requests/{id}.{format}`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExtensionsQuery {
    /// `true` adds `extended_attributes`.
    pub extensions: Option<String>,
}

/// `extensions` of any request answer: absent or `false`, or `true`.
pub fn parse_extensions(v: Option<&str>) -> ServiceResult<bool> {
    match v.map(str::trim) {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ServiceError::Invalid(format!(
            "extensions {other:?}: use true or false"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> RequestsQuery {
        let enc = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        serde_urlencoded::from_str(&enc).unwrap()
    }

    #[test]
    fn default_window_is_90_days_and_ids_override_filters() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let f = q(&[]).filter(now).unwrap();
        assert_eq!(f.start, Some(now - Duration::days(90)));
        assert_eq!(f.end, None);
        assert_eq!(f.limit, 1000);
        let f = q(&[("service_request_id", "3, 5"), ("status", "bogus")])
            .filter(now)
            .unwrap();
        assert_eq!(f.ids, vec![3, 5]);
        assert_eq!(
            q(&[("status", "open")]).filter(now).unwrap().statuses.len(),
            3
        );
        let e = q(&[("start_date", "yesterday")]).filter(now).unwrap_err();
        assert!(e[0].contains("ISO 8601"), "{e:?}");
        // Midnight on 1 November in Sweden (CET) is 23:00 UTC the day before.
        assert_eq!(
            q(&[("start_date", "2026-11-01")])
                .filter(now)
                .unwrap()
                .start,
            Some(Utc.with_ymd_and_hms(2026, 10, 31, 23, 0, 0).unwrap())
        );
        // Only an end: the 90 days before it.
        let f = q(&[("end_date", "2026-06-30T00:00:00Z")])
            .filter(now)
            .unwrap();
        let end = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
        assert_eq!(
            (f.start, f.end),
            (Some(end - Duration::days(90)), Some(end))
        );
    }

    #[test]
    fn every_bad_filter_is_named() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let e = q(&[
            ("service_code", "dark_path,graffiti"),
            ("status", "open,done"),
            ("start_date", "2026-11-20"),
            ("end_date", "2026-11-01"),
        ])
        .filter(now)
        .unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("\"graffiti\""));
        assert!(e[1].contains("\"done\""));
        assert_eq!(e[2], "start_date is after end_date");
        assert!(parse_extensions(Some("yes")).is_err());
        assert!(parse_extensions(Some("true")).unwrap());
        assert!(!parse_extensions(None).unwrap());
    }
}
