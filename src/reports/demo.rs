//! About twenty FICTITIOUS citizen reports for the demo dataset.
//!
//! Dark-path reports lie beside the unlit and untagged ways of the demo network, broken-lamp
//! reports beside lamps (the lamps the demo register marks broken first), unsafe-place reports at
//! the planted hotspots. Some have been triaged, one is closed (its lamp counts as working again)
//! and one is hidden for its wording. Every run gives the same reports; each carries a client token
//! (`demo-N`), so seeding twice stores them once.

use chrono::{DateTime, Duration, Utc};
use geo::{Euclidean, InterpolatableLine, Point};
use serde_json::{Map, Value};

use super::submit::{content_hash, place};
use crate::demo::{self, DemoData};
use crate::model::{Actor, Contact, LampStatus, ReportChange, ReportStatus, Role, ServiceCode};
use crate::spatial::{LampLayer, WalkwayLayer};
use crate::store::reports::NewReport;
use crate::store::{Store, StoreResult};

/// A report to create and, optionally, what a coordinator did with it afterwards.
pub struct DemoReport {
    pub report: NewReport,
    pub change: Option<ReportChange>,
}

fn attrs(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

fn contact(first: &str, last: &str) -> Contact {
    Contact {
        email: Some(format!(
            "{}.{}@example.org",
            first.to_lowercase(),
            last.to_lowercase()
        )),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        phone: None,
    }
}

fn change(status: ReportStatus, notes: &str, agency: Option<&str>) -> Option<ReportChange> {
    Some(ReportChange {
        status: Some(status),
        status_notes: Some(Some(notes.into())),
        agency_responsible: agency.map(|a| Some(a.to_string())),
        ..ReportChange::default()
    })
}

/// Builds the demo reports; `now` anchors their dates (the last four weeks).
pub fn reports(data: &DemoData, now: DateTime<Utc>) -> Vec<DemoReport> {
    let ways = WalkwayLayer::new(data.walkways.clone());
    let lamps = LampLayer::new(data.lamps.clone());
    let mut out: Vec<DemoReport> = Vec::new();
    let mut push = |service: ServiceCode,
                    at: Point<f64>,
                    description: &str,
                    attributes: Map<String, Value>,
                    contact: Contact,
                    change: Option<ReportChange>| {
        let n = out.len();
        let p = place(&ways, &lamps, service, at, None);
        let attributes = Value::Object(attributes);
        out.push(DemoReport {
            report: NewReport {
                service,
                description: description.into(),
                location: p.location,
                original_location: p.original_location,
                walkway_id: p.walkway_id,
                lamp_id: p.lamp_id,
                address: None,
                media_url: None,
                content_hash: content_hash(
                    "demo",
                    service,
                    description,
                    at,
                    None,
                    None,
                    &attributes,
                ),
                attributes,
                // Spread over four weeks, newest last.
                requested_at: now - Duration::hours(((20 - n as i64) * 31).max(1)),
                client_token: Some(format!("demo-{}", n + 1)),
                contact,
            },
            change,
        });
    };

    // Dark paths: beside the unlit (`lit=no`) and untagged ways, 8 m off the path.
    let dark: Vec<_> = data
        .walkways
        .iter()
        .filter(|w| w.lit.as_deref() == Some("no") || w.lit.is_none())
        .collect();
    let dark_texts = [
        (
            "Helt mörkt hela vägen genom parken, jag går inte här efter 17.",
            "completely_dark",
            "evening",
        ),
        (
            "Mörk sträcka, man ser inte vem som kommer emot en.",
            "completely_dark",
            "night",
        ),
        (
            "Bara ljus från husen en bit bort, väldigt dunkelt.",
            "dim",
            "evening",
        ),
        (
            "Stigen till bussen är kolsvart på morgonen i november.",
            "completely_dark",
            "morning",
        ),
        (
            "Svag belysning, barnen cyklar här till skolan.",
            "dim",
            "morning",
        ),
        ("Mörkt och öde efter träningen.", "completely_dark", "night"),
        (
            "Belysningen flimrar och slocknar ibland.",
            "flickering",
            "evening",
        ),
        (
            "Ingen belysning alls mellan vägarna.",
            "completely_dark",
            "evening",
        ),
    ];
    for (i, (text, darkness, tod)) in dark_texts.iter().enumerate() {
        let w = dark[i % dark.len()];
        let frac = 0.2 + 0.6 * ((i / dark.len()) as f64 * 0.37 + i as f64 * 0.11).fract();
        let on = w
            .geometry
            .point_at_ratio_from_start(&Euclidean, frac)
            .unwrap_or(Point::new(demo::CENTRE.0, demo::CENTRE.1));
        let who = match i {
            0 => contact("Anna", "Exempelsson"),
            3 => contact("Omar", "Testberg"),
            _ => Contact::default(),
        };
        let ch = match i {
            0 => change(
                ReportStatus::InProgress,
                "Belysning planeras i budget 2027.",
                Some("kommunen"),
            ),
            1 => change(ReportStatus::Acknowledged, "Tack, vi tittar på det.", None),
            _ => None,
        };
        push(
            ServiceCode::DarkPath,
            Point::new(on.x() + 8.0, on.y() + 8.0),
            text,
            attrs(&[("darkness", darkness), ("time_of_day", tod)]),
            who,
            ch,
        );
    }

    // Broken lamps: the register's broken ones first, then others; 6 m from the lamp.
    let mut lamp_list: Vec<_> = data
        .lamps
        .iter()
        .filter(|l| l.status == LampStatus::Broken)
        .collect();
    lamp_list.extend(data.lamps.iter().step_by(97));
    let lamp_texts = [
        ("Lampan lyser inte sedan en vecka.", "off"),
        ("Blinkar hela kvällen.", "flickering"),
        (
            "Lampan är släckt, det är mörkt vid övergångsstället.",
            "off",
        ),
        ("Armaturen hänger snett efter stormen.", "damaged"),
        ("Lyser inte.", "off"),
        (
            "Lyser mitt på dagen men är släckt på kvällen.",
            "on_in_daytime",
        ),
    ];
    for (i, (text, state)) in lamp_texts.iter().enumerate() {
        let l = lamp_list[(i * 3) % lamp_list.len()];
        let ch = match i {
            0 => change(ReportStatus::Closed, "Lampan är bytt.", Some("kommunen")),
            1 => change(
                ReportStatus::Acknowledged,
                "Felanmält till entreprenören.",
                Some("kommunen"),
            ),
            _ => None,
        };
        push(
            ServiceCode::BrokenLamp,
            Point::new(l.location.x() + 6.0, l.location.y()),
            text,
            attrs(&[("lamp_state", state), ("time_of_day", "evening")]),
            if i == 2 {
                contact("Lena", "Påhittad")
            } else {
                Contact::default()
            },
            ch,
        );
    }

    // Unsafe places at the planted hotspots.
    let unsafe_texts = [
        (
            "Folk samlas här på kvällarna och det känns hotfullt.",
            "people",
        ),
        ("Öde och mörkt vid tunneln till perrongen.", "isolated"),
        (
            "Buskarna skymmer, man ser inte vem som står där.",
            "hidden_spots",
        ),
    ];
    for (i, ((_, (x, y)), (text, reason))) in demo::planted_hotspots()
        .into_iter()
        .zip(unsafe_texts)
        .enumerate()
    {
        let ch = if i == 0 {
            change(
                ReportStatus::Acknowledged,
                "Vidarebefordrat till polisen.",
                Some("polisen"),
            )
        } else {
            None
        };
        push(
            ServiceCode::UnsafePlace,
            Point::new(x + 15.0, y - 10.0),
            text,
            attrs(&[("reason", reason), ("time_of_day", "night")]),
            Contact::default(),
            ch,
        );
    }

    // Vegetation, one "other" and one hidden for its wording.
    let (cx, cy) = demo::CENTRE;
    push(
        ServiceCode::Vegetation,
        Point::new(cx - 390.0, cy + 205.0),
        "Häcken har vuxit över lyktan, halva gången är mörk.",
        attrs(&[("blocks", "light")]),
        contact("Erik", "Fiktivsson"),
        change(
            ReportStatus::Acknowledged,
            "Fastighetsägaren kontaktad.",
            Some("fastighetsägare"),
        ),
    );
    push(
        ServiceCode::Vegetation,
        Point::new(cx + 610.0, cy - 395.0),
        "Buskar skymmer sikten i kurvan.",
        attrs(&[("blocks", "view")]),
        Contact::default(),
        None,
    );
    push(
        ServiceCode::Other,
        Point::new(cx + 200.0, cy + 190.0),
        "Trasig skylt vid gångtunneln, man hittar inte ut i mörkret.",
        Map::new(),
        Contact::default(),
        None,
    );
    push(
        ServiceCode::Other,
        Point::new(cx - 800.0, cy - 610.0),
        "(Fiktivt exempel på en text som dolts av en moderator.)",
        Map::new(),
        Contact::default(),
        Some(ReportChange {
            hidden: Some(true),
            reason: Some("Kränkande formulering".into()),
            ..ReportChange::default()
        }),
    );
    out
}

/// Stores the demo reports (once: their client tokens dedupe a second run).
pub async fn seed(store: &dyn Store, data: &DemoData, now: DateTime<Utc>) -> StoreResult<usize> {
    let actor = Actor::new("demo", Role::Coordinator);
    let mut created = 0;
    for d in reports(data, now) {
        let c = store.create_report(&d.report).await?;
        if !c.new {
            continue;
        }
        created += 1;
        if let Some(mut ch) = d.change {
            if ch.status == Some(ReportStatus::Closed) && ch.reason.is_none() {
                ch.reason = Some("Åtgärdat".into());
            }
            store.update_report(c.report.id, &ch, &actor).await?;
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn demo_reports_lie_where_they_should() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let data = demo::generate(now);
        let rs = reports(&data, now);
        assert_eq!(rs.len(), 21);
        let dark: Vec<_> = rs
            .iter()
            .filter(|r| r.report.service == ServiceCode::DarkPath)
            .collect();
        assert_eq!(dark.len(), 8);
        // 8 m east and 8 m north of a point on the way: hypot(8, 8) = 11.3 m < 30 m, snapped.
        assert!(dark.iter().all(|r| r.report.walkway_id.is_some()));
        let lamps: Vec<_> = rs
            .iter()
            .filter(|r| r.report.service == ServiceCode::BrokenLamp)
            .collect();
        assert_eq!(lamps.len(), 6);
        // 6 m from a lamp, and lamps on a way stand 30 m apart: the lamp is found.
        assert!(lamps.iter().all(|r| r.report.lamp_id.is_some()));
        let tokens: std::collections::HashSet<_> =
            rs.iter().map(|r| r.report.client_token.clone()).collect();
        assert_eq!(tokens.len(), rs.len());
    }
}
