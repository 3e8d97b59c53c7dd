//! The lägesbild's counts: incidents per crime group and per district for a period and the
//! period before it, and citizen reports by status.
//!
//! - Events known only to the municipality (or county) count towards the groups when the whole
//!   municipality is asked for, but never towards a district: they have no place. With an area
//!   they are left out and counted apart (`municipality_only`). Point-level events outside
//!   every district count as district `None`.
//! - The groups shown are the crime groups and any other group with events in either period,
//!   most events first; only those the filter asks for.
//! - Reports: the backlog (open, acknowledged, in progress; merged duplicates left out) and the
//!   reports closed within the period (by their last change, local date).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::analysis::filter::{AreaFilter, IncidentFilter};
use crate::category::CategoryGroup;
use crate::model::{CitizenReport, LocationPrecision, ReportStatus};
use crate::spatial::AreaLayer;
use crate::spatial::SnapIncident;

/// Incidents of one period, counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeriodCounts {
    pub total: usize,
    pub by_group: BTreeMap<CategoryGroup, usize>,
    /// By the district containing the event; `None`: point-level but outside every district.
    pub by_district: BTreeMap<Option<String>, usize>,
    /// Known only to the municipality or county.
    pub municipality_only: usize,
}

/// Counts the incidents `filter` selects (see the module documentation for the rules).
pub fn count_period(
    incidents: &[SnapIncident],
    filter: &IncidentFilter,
    areas: &AreaLayer,
) -> PeriodCounts {
    let mut c = PeriodCounts::default();
    let passes = filter.attribute_test();
    for inc in incidents {
        if !passes(inc) {
            continue;
        }
        let placed = matches!(
            inc.precision,
            LocationPrecision::Exact | LocationPrecision::Street
        );
        if !placed {
            c.municipality_only += 1;
            if filter.area.is_some() {
                continue;
            }
        } else if filter
            .area
            .as_ref()
            .is_some_and(|a| !a.contains(inc.location))
        {
            continue;
        }
        c.total += 1;
        *c.by_group.entry(inc.group).or_insert(0) += 1;
        if placed {
            let d = areas.containing(inc.location).map(|a| a.name.clone());
            *c.by_district.entry(d).or_insert(0) += 1;
        }
    }
    c
}

/// Reports by status: the open backlog and those closed within `[from, to]`.
pub fn reports_by_status(
    reports: &[CitizenReport],
    from: NaiveDate,
    to: NaiveDate,
    area: Option<&AreaFilter>,
) -> BTreeMap<&'static str, usize> {
    let mut out: BTreeMap<&'static str, usize> = [
        ReportStatus::Open,
        ReportStatus::Acknowledged,
        ReportStatus::InProgress,
        ReportStatus::Closed,
    ]
    .into_iter()
    .map(|s| (s.as_str(), 0))
    .collect();
    for r in reports {
        if r.merged_into.is_some() || area.is_some_and(|a| !a.contains(r.location)) {
            continue;
        }
        if r.status == ReportStatus::Closed {
            let d = crate::time::local_date(&r.updated_at.fixed_offset());
            if d < from || d > to {
                continue;
            }
        }
        *out.entry(r.status.as_str()).or_insert(0) += 1;
    }
    out
}

/// One row of a table with change: this period and the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<K> {
    pub key: K,
    pub count: usize,
    pub previous: usize,
}

/// The groups the lägesbild lists: the crime groups and any group with events in either
/// period, most events now first (a tie keeps [`CategoryGroup::ALL`]'s order), limited to
/// the filter's groups when it names some.
pub fn group_changes(
    now: &PeriodCounts,
    before: &PeriodCounts,
    filter: &IncidentFilter,
) -> Vec<Change<CategoryGroup>> {
    let mut groups: Vec<CategoryGroup> = CategoryGroup::ALL
        .into_iter()
        .filter(|g| g.is_crime() || now.by_group.contains_key(g) || before.by_group.contains_key(g))
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(now.by_group.get(g).copied().unwrap_or(0)));
    groups
        .into_iter()
        .filter(|g| filter.groups.as_ref().is_none_or(|s| s.contains(g)))
        .map(|g| Change {
            key: g,
            count: now.by_group.get(&g).copied().unwrap_or(0),
            previous: before.by_group.get(&g).copied().unwrap_or(0),
        })
        .collect()
}

/// The districts the lägesbild lists: the area asked for, or every district in the layer's
/// order and then, when any event lay outside them, `None`.
pub fn district_changes(
    now: &PeriodCounts,
    before: &PeriodCounts,
    filter: &IncidentFilter,
    areas: &AreaLayer,
) -> Vec<Change<Option<String>>> {
    let mut districts: Vec<Option<String>> = match &filter.area {
        Some(a) => vec![Some(a.name.clone())],
        None => areas.items.iter().map(|a| Some(a.name.clone())).collect(),
    };
    if filter.area.is_none()
        && (now.by_district.contains_key(&None) || before.by_district.contains_key(&None))
    {
        districts.push(None);
    }
    districts
        .into_iter()
        .map(|d| Change {
            count: now.by_district.get(&d).copied().unwrap_or(0),
            previous: before.by_district.get(&d).copied().unwrap_or(0),
            key: d,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Area, ServiceCode};
    use chrono::Utc;
    use chrono::{DateTime, FixedOffset, TimeZone};
    use geo::Point;
    use geo::{MultiPolygon, Rect, coord};
    use serde_json::Value;

    fn inc(
        id: &str,
        at: &str,
        group: CategoryGroup,
        x: f64,
        y: f64,
        p: LocationPrecision,
    ) -> SnapIncident {
        SnapIncident {
            source: "t".into(),
            source_id: crate::spatial::SourceId::new(id),
            occurred_at: DateTime::<FixedOffset>::parse_from_rfc3339(at).unwrap(),
            time_precision: Default::default(),
            occurred_to: None,
            category: "x".into(),
            group,
            label: "x".into(),
            location: Point::new(x, y),
            precision: p,
            times: crate::analysis::filter::LocalTimes::compute(
                &DateTime::<FixedOffset>::parse_from_rfc3339(at).unwrap(),
                Default::default(),
                None,
            ),
            key_rank: 0,
        }
    }

    fn square(id: i64, name: &str, x0: f64, y0: f64) -> Area {
        let r = Rect::new(
            coord! { x: x0, y: y0 },
            coord! { x: x0 + 1000.0, y: y0 + 1000.0 },
        );
        Area {
            id,
            name: name.into(),
            geometry: MultiPolygon(vec![r.to_polygon()]),
            source: "t".into(),
        }
    }

    fn filter(from: &str, to: &str) -> IncidentFilter {
        IncidentFilter {
            from: Some(from.parse().unwrap()),
            to: Some(to.parse().unwrap()),
            ..IncidentFilter::default()
        }
    }

    #[test]
    fn counts_follow_groups_districts_and_precision() {
        use CategoryGroup::*;
        use LocationPrecision::*;
        let areas = AreaLayer::new(vec![
            square(1, "Norr", 0.0, 1000.0),
            square(2, "Söder", 0.0, 0.0),
        ]);
        let incidents = vec![
            inc(
                "1",
                "2026-03-01T22:00:00+01:00",
                Violence,
                500.0,
                1500.0,
                Exact,
            ),
            inc(
                "2",
                "2026-03-02T10:00:00+01:00",
                Property,
                500.0,
                500.0,
                Street,
            ),
            inc(
                "3",
                "2026-03-03T10:00:00+01:00",
                Property,
                500.0,
                500.0,
                Exact,
            ),
            inc(
                "4",
                "2026-03-04T10:00:00+01:00",
                Property,
                5000.0,
                5000.0,
                Exact,
            ),
            inc(
                "5",
                "2026-03-05T10:00:00+01:00",
                Violence,
                0.0,
                0.0,
                Municipality,
            ),
            // Outside the period, and not crime.
            inc(
                "6",
                "2026-02-01T10:00:00+01:00",
                Violence,
                500.0,
                500.0,
                Exact,
            ),
            inc(
                "7",
                "2026-03-05T10:00:00+01:00",
                Traffic,
                500.0,
                500.0,
                Exact,
            ),
        ];
        let c = count_period(&incidents, &filter("2026-03-01", "2026-03-31"), &areas);
        assert_eq!(c.total, 5);
        assert_eq!(c.by_group.get(&Violence), Some(&2));
        assert_eq!(c.by_group.get(&Property), Some(&3));
        assert_eq!(c.by_group.get(&Traffic), None);
        assert_eq!(c.by_district.get(&Some("Norr".into())), Some(&1));
        assert_eq!(c.by_district.get(&Some("Söder".into())), Some(&2));
        assert_eq!(c.by_district.get(&None), Some(&1));
        assert_eq!(c.municipality_only, 1);

        // Within one district the municipality-level event has no place: counted apart.
        let mut f = filter("2026-03-01", "2026-03-31");
        f.area = Some(AreaFilter::district(&areas, "söder").unwrap());
        let c = count_period(&incidents, &f, &areas);
        assert_eq!(c.total, 2);
        assert_eq!(c.by_group.get(&Violence), None);
        assert_eq!(c.municipality_only, 1);
    }

    #[test]
    fn reports_count_the_backlog_and_the_closed_of_the_period() {
        let t = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
        let report =
            |id: i64, status: ReportStatus, updated: u32, merged: Option<i64>| CitizenReport {
                id,
                service: ServiceCode::DarkPath,
                status,
                description: String::new(),
                location: Point::new(0.0, 0.0),
                original_location: Point::new(0.0, 0.0),
                walkway_id: None,
                lamp_id: None,
                address: None,
                media_url: None,
                status_notes: None,
                agency_responsible: None,
                requested_at: t(1),
                updated_at: t(updated),
                hidden: false,
                merged_into: merged,
                attributes: Value::Null,
            };
        let reports = vec![
            report(1, ReportStatus::Open, 2, None),
            report(2, ReportStatus::Open, 2, Some(1)),
            report(3, ReportStatus::InProgress, 3, None),
            report(4, ReportStatus::Closed, 10, None),
            report(5, ReportStatus::Closed, 25, None),
        ];
        let from = "2026-03-01".parse().unwrap();
        let to = "2026-03-15".parse().unwrap();
        let by = reports_by_status(&reports, from, to, None);
        assert_eq!(by["open"], 1);
        assert_eq!(by["acknowledged"], 0);
        assert_eq!(by["in_progress"], 1);
        assert_eq!(by["closed"], 1);
    }

    #[test]
    fn groups_list_crime_always_and_others_when_they_happened_most_first() {
        use CategoryGroup::*;
        let counts = |pairs: &[(CategoryGroup, usize)]| PeriodCounts {
            by_group: pairs.iter().copied().collect(),
            ..PeriodCounts::default()
        };
        let now = counts(&[(Property, 7), (Violence, 3)]);
        let before = counts(&[(Traffic, 2), (Violence, 9)]);
        let rows = group_changes(&now, &before, &IncidentFilter::default());
        // Property (7) then Violence (3) first; Traffic is not crime but happened before; Fire
        // and the other non-crime groups with no events are not listed.
        assert_eq!(
            rows[0],
            Change {
                key: Property,
                count: 7,
                previous: 0
            }
        );
        assert_eq!(
            rows[1],
            Change {
                key: Violence,
                count: 3,
                previous: 9
            }
        );
        assert!(rows.contains(&Change {
            key: Traffic,
            count: 0,
            previous: 2
        }));
        assert!(!rows.iter().any(|r| r.key == Fire || r.key == NonCrime));
        let crime = CategoryGroup::ALL.iter().filter(|g| g.is_crime()).count();
        assert_eq!(rows.len(), crime + 1);
        // A filter of groups lists just those.
        let f = IncidentFilter {
            groups: Some([Violence].into_iter().collect()),
            ..IncidentFilter::default()
        };
        assert_eq!(
            group_changes(&now, &before, &f),
            [Change {
                key: Violence,
                count: 3,
                previous: 9
            }]
        );
    }

    #[test]
    fn districts_list_every_district_then_the_events_outside_them() {
        let areas = AreaLayer::new(vec![
            square(1, "Norr", 0.0, 1000.0),
            square(2, "Söder", 0.0, 0.0),
        ]);
        let now = PeriodCounts {
            by_district: [(Some("Söder".to_string()), 4), (None, 1)]
                .into_iter()
                .collect(),
            ..PeriodCounts::default()
        };
        let before = PeriodCounts {
            by_district: [(Some("Norr".to_string()), 2)].into_iter().collect(),
            ..PeriodCounts::default()
        };
        let rows = district_changes(&now, &before, &IncidentFilter::default(), &areas);
        assert_eq!(
            rows,
            [
                Change {
                    key: Some("Norr".to_string()),
                    count: 0,
                    previous: 2
                },
                Change {
                    key: Some("Söder".to_string()),
                    count: 4,
                    previous: 0
                },
                Change {
                    key: None,
                    count: 1,
                    previous: 0
                },
            ]
        );
        let f = IncidentFilter {
            area: Some(AreaFilter::district(&areas, "söder").unwrap()),
            ..IncidentFilter::default()
        };
        assert_eq!(
            district_changes(&now, &before, &f, &areas),
            [Change {
                key: Some("Söder".to_string()),
                count: 4,
                previous: 0
            }]
        );
    }
}
