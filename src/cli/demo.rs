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
    // Measures and pledges have no natural key: written once, unless an interrupted seed
    // already did.
    if store.list_measures().await?.is_empty() {
        seed_plan(store, now).await?;
    }
    seed_patrol(store, now).await?;
    store.set_meta("demo", "true").await?;
    Ok(true)
}

/// The demo's åtgärdsplan and medborgarlöfte: the fictitious measures, one more that put up the
/// lamps proposed for the first dark stretch of the action plan ten months ago, and a pledge
/// over the first five dark stretches' walkways whose baseline is the picture before those
/// lamps.
async fn seed_plan(store: &dyn Store, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    use crate::analysis::cancel::Cancel;
    use crate::analysis::lighting::{self, LightingInputs};
    use crate::service::lighting::class_plan;
    use crate::store::measures::{LampType, MeasureKind, MeasurePlace, MeasureSpec, MeasureStatus};
    use crate::store::pledges::{Baseline, PledgeOwner, PledgeSpec};

    let today = crate::time::local_date(&now);
    let demo = crate::model::Actor::new("demo", crate::model::Role::Admin);
    let mut ids = Vec::new();
    for spec in demo::measures(today) {
        ids.push(store.create_measure(&spec, &demo).await?.id);
    }
    let cfg = Config::default();
    let snap = crate::spatial::Snapshot::load(store).await?;
    let classes = class_plan(None, None, &cfg).map_err(anyhow::Error::msg)?;
    let result =
        crate::service::lighting::analyse(&snap, classes, cfg.public_rules(), &Cancel::never())?;
    let top = lighting::top_stretches(&result, 5);
    let walkway_ids: Vec<i64> = {
        let mut v: Vec<i64> = top.iter().map(|s| s.walkway_id).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (dark_stretches, dark_m) = crate::service::pledges::dark_on(&result, &walkway_ids);
    if let Some(first) = top.first() {
        let inputs = LightingInputs::from_snapshot(&snap);
        let lamp = LampType {
            height_m: cfg.proposal_lamp_height_m,
            lumen: cfg.proposal_lamp_lumen,
        };
        let p = lighting::propose::propose(
            &result,
            &inputs,
            first,
            lighting::propose::LampType {
                height_m: lamp.height_m,
                lumen: lamp.lumen,
            },
            &Cancel::never(),
        )?;
        if p.meets_class {
            let spec = MeasureSpec {
                title: format!("Ny belysning, {} lampor (fiktiv)", p.positions.len()),
                kind: MeasureKind::NewLamp,
                status: MeasureStatus::Done,
                agency: Some("kommunen".into()),
                place: MeasurePlace {
                    points: p.positions.clone(),
                    walkway_ids: vec![first.walkway_id],
                    ..MeasurePlace::default()
                },
                planned_date: Some(today - chrono::Duration::days(330)),
                done_date: Some(today - chrono::Duration::days(300)),
                cost_sek: Some(p.positions.len() as f64 * cfg.proposal_lamp_cost_sek),
                notes: Some(
                    "Demodata: påhittad åtgärd, lamporna som föreslogs för sträckan.".into(),
                ),
                lamp: Some(lamp),
            };
            ids.push(store.create_measure(&spec, &demo).await?.id);
        }
    }
    let start = today - chrono::Duration::days(365);
    let district = snap
        .areas
        .items
        .iter()
        .find(|a| {
            top.first().is_some_and(|s| {
                use geo::Intersects;
                a.geometry.intersects(&s.geometry)
            })
        })
        .map(|a| a.name.clone());
    store
        .create_pledge(&PledgeSpec {
            title: "Tryggare kvällar: synlig polis och upplysta gångvägar (fiktivt)".into(),
            text: "Kommunen och polisen lovar att under två år lysa upp de mörka gångvägar som \
                   invånarna pekat ut, laga trasig belysning snabbt och synas där det händer \
                   mest på kvällarna. Demodata: påhittat löfte."
                .into(),
            owner: PledgeOwner::Gemensamt,
            period_start: start,
            period_end: start + chrono::Duration::days(730),
            measure_ids: ids,
            districts: district.into_iter().collect(),
            walkway_ids,
            baseline: Some(Baseline {
                at: start,
                dark_m,
                dark_stretches,
            }),
        })
        .await?;
    Ok(())
}

/// The demo's visible police: fictitious reported visits to the hotspots of the current patrol
/// plan over the last 120 days, in two of every three occurrences of each plan window (2–4
/// hours), of 12 and 14 minutes in turn at 40, 140, … minutes into the window (so those
/// occurrences meet the Koper dose of a visit at least every two hours), at a point inside the
/// hotspot's hull (its centroid can lie outside a concave one). The visits are an idempotent upsert.
async fn seed_patrol(store: &dyn Store, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    use crate::analysis::cancel::Cancel;
    use crate::analysis::dosage::{WindowSpec, occurrences};
    use crate::store::patrol::{PatrolVisit, VisitPlace};
    use geo::InteriorPoint;

    let today = crate::time::local_date(&now);
    let cfg = Config::default();
    let snap = crate::spatial::Snapshot::load(store).await?;
    let viewer = crate::service::Viewer::new(crate::model::Role::Police, cfg.public_rules());
    let (plan, hulls) = crate::service::patrol::plan_with_hulls(
        &snap,
        &Default::default(),
        &Default::default(),
        &viewer,
        today,
        &Cancel::never(),
    )
    .map_err(anyhow::Error::msg)?;
    let from = today - chrono::Duration::days(120);
    let mut visits = Vec::new();
    for (h, hull) in plan.hotspots.iter().zip(&hulls) {
        let Some(c) = hull.interior_point() else {
            continue;
        };
        for w in &h.windows {
            let spec = WindowSpec {
                weekday: w.weekday,
                hour: w.hour,
                hours: w.hours,
            };
            for (i, occ) in occurrences(spec, from, today).iter().enumerate() {
                if i % 3 == 2 {
                    continue;
                }
                // 40, 140, … minutes in, while the visit ends inside the window: no stretch
                // without one is longer than 100 minutes.
                let slots = (0..)
                    .map(|k| (40 + 100 * k, if k % 2 == 0 { 12 } else { 14 }))
                    .take_while(|(at, minutes)| at + minutes <= 60 * w.hours as i32);
                for (offset_min, minutes) in slots {
                    let start = occ.span.start + f64::from(offset_min) * 60.0;
                    let end = start + f64::from(minutes) * 60.0;
                    let (Some(start), Some(end)) = (
                        chrono::DateTime::from_timestamp(start as i64, 0),
                        chrono::DateTime::from_timestamp(end as i64, 0),
                    ) else {
                        continue;
                    };
                    if end > now {
                        continue;
                    }
                    visits.push(PatrolVisit {
                        unit: "Demo 1 (fiktiv)".into(),
                        source: "demo".into(),
                        start,
                        end,
                        place: VisitPlace::Point { x: c.x(), y: c.y() },
                    });
                }
            }
        }
    }
    store.upsert_patrol_visits(&visits).await?;
    Ok(())
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
