//! The store's behaviour, once, against both backends: every scenario runs on a fresh SQLite
//! file and on a fresh PostgreSQL/PostGIS database (`support::pg`), through `store::open` and the
//! traits only, and must give the same planted values on each.

use std::sync::Arc;

use chrono::{FixedOffset, TimeZone, Utc};
use geo::{LineString, MultiPolygon, Point, polygon};
use lagesbild::category::CategoryGroup;
use lagesbild::model::{
    Actor, Area, BraStat, Contact, Incident, Lamp, LampStatus, LocationPrecision, ReportChange,
    ReportStatus, Role, ServiceCode, Walkway,
};
use lagesbild::store::reports::NewReport;
use lagesbild::store::{Store, StoredToken, WriteCounts};

use crate::support::pg;

/// A backend's name for the messages, the store, and what keeps its file or database alive.
type Backend = (&'static str, Arc<dyn Store>, Box<dyn std::any::Any>);

/// A fresh store of each backend.
async fn backends(test: &str) -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store.sqlite");
    let sqlite = lagesbild::store::open(file.to_str().unwrap())
        .await
        .unwrap();
    let mut out: Vec<Backend> = vec![("sqlite", sqlite, Box::new(dir))];
    if let Some(db) = pg::database(test) {
        let store = lagesbild::store::open(&db.url).await.unwrap();
        out.push(("postgres", store, Box::new(db)));
    }
    out
}

fn incident(id: &str, label: &str, x: f64, y: f64) -> Incident {
    Incident {
        source: "reg".into(),
        source_id: id.into(),
        occurred_at: FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2026, 1, 15, 22, 10, 0)
            .unwrap(),
        time_precision: Default::default(),
        occurred_to: None,
        category: "theft".into(),
        group: CategoryGroup::Property,
        label: label.into(),
        location: Point::new(x, y),
        precision: LocationPrecision::Exact,
        place: Some("Täby centrum".into()),
        summary: None,
    }
}

fn counts(inserted: u64, updated: u64, unchanged: u64) -> WriteCounts {
    WriteCounts {
        inserted,
        updated,
        unchanged,
    }
}

#[tokio::test]
async fn incidents_count_new_changed_and_unchanged_rows_on_both_backends() {
    for (name, store, _keep) in backends("store_incidents").await {
        // Coordinates with all 53 bits of the mantissa in use: a backend must give them back
        // exactly.
        let a = incident("1", "Stöld", 674_012.345_678_912_3, 6_593_456.987_654_321);
        let b = incident("2", "Stöld", 674_100.5, 6_593_500.25);
        let c = incident("3", "Rån", 674_200.0, 6_593_600.0);
        let v0 = store.data_version().await.unwrap();
        assert_eq!(
            store
                .upsert_incidents(&[a.clone(), b.clone(), c.clone()])
                .await
                .unwrap(),
            counts(3, 0, 0),
            "{name}"
        );
        let v1 = store.data_version().await.unwrap();
        assert!(v1 > v0, "{name}: a write moves the data version");
        // The same rows again: nothing changes, not even the version.
        assert_eq!(
            store
                .upsert_incidents(&[a.clone(), b.clone(), c.clone()])
                .await
                .unwrap(),
            counts(0, 0, 3),
            "{name}"
        );
        assert_eq!(store.data_version().await.unwrap(), v1, "{name}");
        // One changed, one new, one as it was.
        let b2 = incident("2", "Cykelstöld", 674_100.5, 6_593_500.25);
        let d = incident("4", "Skadegörelse", 674_300.0, 6_593_700.0);
        assert_eq!(
            store
                .upsert_incidents(&[a.clone(), b2.clone(), d.clone()])
                .await
                .unwrap(),
            counts(1, 1, 1),
            "{name}"
        );
        let mut loaded = store.load_incidents().await.unwrap();
        loaded.sort_by(|x, y| x.source_id.cmp(&y.source_id));
        assert_eq!(loaded, vec![a, b2, c, d], "{name}");
        assert_eq!(
            loaded[0].occurred_at.offset().local_minus_utc(),
            3600,
            "{name}"
        );
        assert_eq!(store.counts().await.unwrap().incidents, 4, "{name}");
    }
}

#[tokio::test]
async fn walkways_lamps_areas_and_bra_round_trip_on_both_backends() {
    for (name, store, _keep) in backends("store_layers").await {
        let w = Walkway {
            id: 4711,
            geometry: LineString::from(vec![
                (674_000.125, 6_593_000.5),
                (674_010.0, 6_593_020.75),
                (674_030.333_333_333_3, 6_593_021.0),
            ]),
            kind: "footway".into(),
            lit: Some("no".into()),
            name: Some("Slingan".into()),
        };
        let l = Lamp {
            id: "L-1".into(),
            location: Point::new(674_005.5, 6_593_010.25),
            height_m: Some(5.0),
            lumen: Some(3000.0),
            watt: None,
            status: LampStatus::Broken,
            source: "register".into(),
            reference: Some("gatubelysning 12".into()),
        };
        let area = Area {
            id: 0,
            name: "Centrum".into(),
            geometry: MultiPolygon::new(vec![polygon![
                (x: 674_000.0, y: 6_593_000.0),
                (x: 675_000.0, y: 6_593_000.0),
                (x: 675_000.0, y: 6_594_000.0),
                (x: 674_000.0, y: 6_593_000.0),
            ]]),
            source: "test".into(),
        };
        let bra = BraStat {
            year: 2025,
            municipality: "Täby".into(),
            count: 4321,
            per_100k: Some(5960.5),
        };
        assert_eq!(
            store
                .upsert_walkways(std::slice::from_ref(&w))
                .await
                .unwrap()
                .inserted,
            1,
            "{name}"
        );
        assert_eq!(
            store
                .upsert_lamps(std::slice::from_ref(&l))
                .await
                .unwrap()
                .inserted,
            1,
            "{name}"
        );
        assert_eq!(
            store
                .upsert_areas(std::slice::from_ref(&area))
                .await
                .unwrap()
                .inserted,
            1,
            "{name}"
        );
        assert_eq!(
            store
                .upsert_bra(std::slice::from_ref(&bra))
                .await
                .unwrap()
                .inserted,
            1,
            "{name}"
        );
        assert_eq!(
            store.load_walkways().await.unwrap(),
            vec![w.clone()],
            "{name}"
        );
        assert_eq!(store.load_lamps().await.unwrap(), vec![l.clone()], "{name}");
        let areas = store.load_areas().await.unwrap();
        assert_eq!(areas.len(), 1, "{name}");
        assert_eq!(
            (&areas[0].name, &areas[0].geometry),
            (&area.name, &area.geometry),
            "{name}"
        );
        assert_eq!(store.load_bra().await.unwrap(), vec![bra.clone()], "{name}");
        // Again: unchanged everywhere.
        assert_eq!(
            store.upsert_walkways(&[w]).await.unwrap(),
            counts(0, 0, 1),
            "{name}"
        );
        assert_eq!(
            store.upsert_lamps(&[l]).await.unwrap(),
            counts(0, 0, 1),
            "{name}"
        );
        assert_eq!(
            store.upsert_bra(&[bra]).await.unwrap(),
            counts(0, 0, 1),
            "{name}"
        );
    }
}

#[tokio::test]
async fn tokens_keep_only_hashes_and_count_every_change_on_both_backends() {
    for (name, store, _keep) in backends("store_tokens").await {
        let t = StoredToken {
            id: "abc123".into(),
            role: Role::Coordinator,
            secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            label: "samordnare".into(),
            revoked: false,
        };
        let g0 = store.token_generation().await.unwrap();
        store.insert_token(&t).await.unwrap();
        let g1 = store.token_generation().await.unwrap();
        assert!(g1 > g0, "{name}: insert moves the generation");
        assert_eq!(
            store.find_token("abc123").await.unwrap(),
            Some(t.clone()),
            "{name}"
        );
        assert!(
            store.insert_token(&t).await.is_err(),
            "{name}: an id is taken once"
        );
        assert!(store.revoke_token("abc123").await.unwrap(), "{name}");
        assert!(
            store.token_generation().await.unwrap() > g1,
            "{name}: revoke moves it"
        );
        assert!(
            store.find_token("abc123").await.unwrap().unwrap().revoked,
            "{name}"
        );
        assert!(!store.revoke_token("nope").await.unwrap(), "{name}");
        assert_eq!(store.list_tokens().await.unwrap().len(), 1, "{name}");
    }
}

fn new_report(text: &str, client_token: Option<&str>, hash: &str) -> NewReport {
    NewReport {
        service: ServiceCode::DarkPath,
        description: text.into(),
        location: Point::new(674_010.0, 6_593_020.0),
        original_location: Point::new(674_012.5, 6_593_024.5),
        walkway_id: None,
        lamp_id: None,
        address: Some("Slingan 3".into()),
        media_url: None,
        attributes: serde_json::json!({"light": "none"}),
        requested_at: Utc.with_ymd_and_hms(2026, 11, 30, 17, 5, 0).unwrap(),
        client_token: client_token.map(str::to_string),
        content_hash: hash.into(),
        contact: Contact {
            email: Some("anna@example.org".into()),
            first_name: Some("Anna".into()),
            last_name: None,
            phone: None,
        },
    }
}

#[tokio::test]
async fn reports_dedupe_keep_history_and_purge_contacts_on_both_backends() {
    for (name, store, _keep) in backends("store_reports").await {
        let first = store
            .create_report(&new_report("mörkt", Some("tok-1"), "h1"))
            .await
            .unwrap();
        assert!(first.new, "{name}");
        let r = &first.report;
        assert_eq!(
            (
                r.status,
                r.description.as_str(),
                r.location,
                r.original_location
            ),
            (
                ReportStatus::Open,
                "mörkt",
                Point::new(674_010.0, 6_593_020.0),
                Point::new(674_012.5, 6_593_024.5)
            ),
            "{name}"
        );
        // The same client token, other content: the first report.
        let again = store
            .create_report(&new_report("annat", Some("tok-1"), "h2"))
            .await
            .unwrap();
        assert_eq!((again.new, again.report.id), (false, r.id), "{name}");
        // The same content from the same client within the window: the first report.
        let same = store
            .create_report(&new_report("mörkt", None, "h1"))
            .await
            .unwrap();
        assert_eq!((same.new, same.report.id), (false, r.id), "{name}");
        let other = store
            .create_report(&new_report("trasig lampa", None, "h3"))
            .await
            .unwrap();
        assert!(other.new && other.report.id != r.id, "{name}");

        let coordinator = Actor::new("samordnare", Role::Coordinator);
        let change = ReportChange {
            status: Some(ReportStatus::Acknowledged),
            status_notes: Some(Some("vi tittar på det".into())),
            ..Default::default()
        };
        let updated = store
            .update_report(r.id, &change, &coordinator)
            .await
            .unwrap();
        assert_eq!(updated.status, ReportStatus::Acknowledged, "{name}");
        assert_eq!(
            updated.status_notes.as_deref(),
            Some("vi tittar på det"),
            "{name}"
        );
        assert_eq!(
            store.get_contact(r.id).await.unwrap().and_then(|c| c.email),
            Some("anna@example.org".into()),
            "{name}"
        );
        assert!(
            store.purge_contact(r.id, &coordinator).await.unwrap(),
            "{name}"
        );
        assert_eq!(store.get_contact(r.id).await.unwrap(), None, "{name}");
        assert!(
            !store.purge_contact(r.id, &coordinator).await.unwrap(),
            "{name}"
        );
        let actions: Vec<String> = store
            .report_history(r.id)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.action)
            .collect();
        assert_eq!(
            actions,
            ["created", "status", "status_notes", "contact_purged"],
            "{name}"
        );
        // A merge into itself is refused; into another report it is recorded.
        assert!(
            store
                .update_report(
                    r.id,
                    &ReportChange {
                        merged_into: Some(r.id),
                        ..Default::default()
                    },
                    &coordinator
                )
                .await
                .is_err(),
            "{name}"
        );
        assert!(
            store
                .update_report(9_999_999, &change, &coordinator)
                .await
                .is_err(),
            "{name}: no such report"
        );
        assert_eq!(store.load_reports().await.unwrap().len(), 2, "{name}");
        assert_eq!(
            store
                .report_by_client_token("tok-1")
                .await
                .unwrap()
                .map(|r| r.id),
            Some(r.id),
            "{name}"
        );
    }
}
