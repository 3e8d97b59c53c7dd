//! `lagesbild demo`: fills an empty database with the fictitious Täby dataset and serves it.

use anyhow::Context;

use crate::config::Config;
use crate::demo;
use crate::store::Store;

/// Writes the demo dataset when the store has no data, or finishes one that was interrupted
/// (every write is an idempotent upsert, and the reports carry client tokens); returns whether
/// it wrote.
pub async fn seed(store: &dyn Store) -> anyhow::Result<bool> {
    let counts = store.counts().await?;
    let interrupted = store.get_meta("demo").await?.as_deref() == Some("seeding");
    if counts.incidents + counts.walkways + counts.lamps + counts.areas > 0 && !interrupted {
        return Ok(false);
    }
    store.set_meta("demo", "seeding").await?;
    let now = chrono::Utc::now();
    let data = demo::generate(now);
    store.upsert_walkways(&data.walkways).await?;
    store.upsert_lamps(&data.lamps).await?;
    store.upsert_areas(&data.areas).await?;
    store.upsert_incidents(&data.incidents).await?;
    store.upsert_bra(&data.bra).await?;
    crate::reports::demo::seed(store, &data, now).await?;
    // Measures have no natural key: written once, unless an interrupted seed already did.
    if store.list_measures().await?.is_empty() {
        let demo = crate::model::Actor::new("demo", crate::model::Role::Admin);
        for spec in demo::measures(crate::time::local_date(&now)) {
            store.create_measure(&spec, &demo).await?;
        }
    }
    store.set_meta("demo", "true").await?;
    Ok(true)
}

pub async fn run(mut cfg: Config, addr: Option<String>) -> anyhow::Result<()> {
    if let Some(a) = addr {
        cfg.addr = a;
    }
    if cfg.service_area.is_none() {
        cfg.service_area = Some(demo::BBOX_WGS84);
    }
    let store = crate::store::open(&cfg.db)
        .await
        .with_context(|| format!("cannot open database {}", cfg.db))?;
    if seed(store.as_ref()).await? {
        eprintln!(
            "Wrote the FICTITIOUS Täby demo dataset to {} (nothing in it is real).",
            cfg.db
        );
    } else if store.get_meta("demo").await?.as_deref() != Some("true") {
        eprintln!(
            "{} already holds data that is not the demo dataset: serving it as it is.",
            cfg.db
        );
    }
    drop(store);
    super::serve::serve(cfg).await
}
