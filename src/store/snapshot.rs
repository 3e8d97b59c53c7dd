//! The snapshot loader: from the store into the in-memory layers of `crate::spatial`.
//!
//! `crate::spatial` holds only layers and trees and does not know the store; the methods that
//! fill them from one are defined here, beside the store, so that the dependency runs one way
//! (store → spatial). They are inherent methods of [`Snapshot`] and [`Spatial`], called as
//! `Snapshot::load(store)` and `spatial.reload(store)` wherever those types are in scope.

use std::sync::Arc;

use super::{Store, StoreResult};
use crate::spatial::{IncidentLayer, LampLayer, ReportLayer, Snapshot, Spatial};

impl Snapshot {
    /// Reads everything from the store and builds every tree.
    pub async fn load(store: &dyn Store) -> StoreResult<Self> {
        // The incidents become their compact form one at a time as the store reads them, so
        // that a million are never held as rows or as full incidents. Building the layer's tree
        // and times over a million points takes a few hundred milliseconds: off the async
        // workers.
        let mut builder = IncidentLayer::builder(store.counts().await?.incidents as usize);
        store
            .for_each_incident(&mut |i| {
                builder.push(&i);
                Ok(())
            })
            .await?;
        let incidents = tokio::task::spawn_blocking(move || builder.build())
            .await
            .expect("building the incident layer panicked");
        let walkways = store.load_walkways().await?;
        let lamps = store.load_lamps().await?;
        let reports = store.load_reports().await?;
        let areas = store.load_areas().await?;
        let bra = store.load_bra().await?;
        let demo = store.get_meta("demo").await?.as_deref() == Some("true");
        let snap = tokio::task::spawn_blocking(move || {
            Snapshot::build_with(incidents, walkways, lamps, reports, areas, bra, demo)
        })
        .await
        .expect("snapshot building panicked");
        Ok(snap)
    }
}

impl Spatial {
    /// Rebuilds every layer from the store.
    pub async fn reload(&self, store: &dyn Store) -> StoreResult<()> {
        let _w = self.writer().await;
        let snap = Snapshot::load(store).await?;
        self.publish(snap);
        Ok(())
    }

    /// Replaces the lamp and report layers with those stored (after a measure changed the
    /// lamps), and returns the version published.
    pub async fn reload_lamps(&self, store: &dyn Store) -> StoreResult<u64> {
        let _w = self.writer().await;
        let lamps = store.load_lamps().await?;
        let reports = store.load_reports().await?;
        let (lamps, reports) =
            tokio::task::spawn_blocking(move || (LampLayer::new(lamps), ReportLayer::new(reports)))
                .await
                .expect("building the lamp layer panicked");
        Ok(self.publish(self.load().with_lamps(Arc::new(lamps), Arc::new(reports))))
    }

    /// Replaces only the report layer with the reports as stored, and returns the version
    /// published. Callers that hold the writers' lock already use [`Self::reload_reports_locked`].
    pub async fn reload_reports(&self, store: &dyn Store) -> StoreResult<u64> {
        let _w = self.writer().await;
        self.reload_reports_locked(store).await
    }

    /// [`Self::reload_reports`] for a caller that holds [`Spatial::writer`].
    pub async fn reload_reports_locked(&self, store: &dyn Store) -> StoreResult<u64> {
        let reports = store.load_reports().await?;
        let layer = tokio::task::spawn_blocking(move || ReportLayer::new(reports))
            .await
            .expect("building the report layer panicked");
        Ok(self.publish(self.load().with_reports(Arc::new(layer))))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use geo::Point;

    use super::*;
    use crate::model::{Contact, Lamp, LampStatus, ServiceCode};
    use crate::store::reports::NewReport;

    fn lamp(id: &str) -> Lamp {
        Lamp {
            id: id.into(),
            location: Point::new(674_000.0, 6_593_505.0),
            height_m: Some(5.0),
            lumen: None,
            watt: None,
            status: LampStatus::Working,
            source: "test".into(),
            reference: None,
        }
    }

    fn report(description: &str) -> NewReport {
        NewReport {
            service: ServiceCode::DarkPath,
            description: description.into(),
            location: Point::new(674_000.0, 6_593_500.0),
            original_location: Point::new(674_000.0, 6_593_500.0),
            walkway_id: None,
            lamp_id: None,
            address: None,
            media_url: None,
            attributes: serde_json::json!({}),
            requested_at: Utc::now(),
            client_token: None,
            content_hash: description.into(),
            contact: Contact::default(),
        }
    }

    /// A full reload reads every layer; a report reload reads only the reports and keeps the
    /// other layers of the snapshot it replaces (the very same ones, not copies).
    #[tokio::test]
    async fn reloads_read_the_store_and_report_reloads_share_the_other_layers() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.sqlite").display().to_string();
        let store = crate::store::open(&db).await.unwrap();
        store.upsert_lamps(&[lamp("a")]).await.unwrap();
        store.create_report(&report("ett")).await.unwrap();
        store.set_meta("demo", "true").await.unwrap();

        let snap = Snapshot::load(store.as_ref()).await.unwrap();
        assert_eq!(snap.lamps.items.len(), 1);
        assert_eq!(snap.reports.items.len(), 1);
        assert!(snap.demo);
        let spatial = Spatial::new(snap);
        assert_eq!(spatial.load().version, 1);

        store.create_report(&report("två")).await.unwrap();
        store.upsert_lamps(&[lamp("b")]).await.unwrap();
        let before = spatial.load();
        assert_eq!(spatial.reload_reports(store.as_ref()).await.unwrap(), 2);
        let after = spatial.load();
        assert_eq!(after.version, 2);
        let texts: Vec<&str> = after
            .reports
            .items
            .iter()
            .map(|r| r.description.as_str())
            .collect();
        assert_eq!(texts, ["ett", "två"]);
        assert!(Arc::ptr_eq(&before.lamps, &after.lamps), "lamps shared");
        assert_eq!(
            after.lamps.items.len(),
            1,
            "the new lamp waits for a reload"
        );

        spatial.reload(store.as_ref()).await.unwrap();
        let full = spatial.load();
        assert_eq!(full.version, 3);
        assert_eq!(full.lamps.items.len(), 2);
        assert_eq!(full.reports.items.len(), 2);
    }
}
