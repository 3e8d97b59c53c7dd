//! `lagesbild lighting`: the dark-walkway analysis of the database, as a GeoJSON file and a ranked
//! list for the action plan.
//!
//! The flags are the API's query parameters, in the same typed query structs, and the file is
//! what `GET /api/v1/lighting/stretches` returns to a signed-in role (the same service
//! functions answer both), except that it holds every selected stretch unless `--limit` says
//! otherwise.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::analysis::cancel::Cancel;
use crate::analysis::lighting::{self, LightingInputs, priority};
use crate::config::Config;
use crate::model::Role;
use crate::service::Viewer;
use crate::service::lighting::{self as service, ClassParams, StretchParams};
use crate::spatial::Snapshot;

#[derive(Debug, Args)]
pub struct LightingArgs {
    #[command(flatten)]
    pub classes: ClassParams,
    #[command(flatten)]
    pub stretches: StretchParams,
    /// How many stretches the ranked list on stderr shows.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// The GeoJSON file to write (RFC 7946, WGS84).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the analysis on the configured database.
pub async fn run(cfg: &Config, args: LightingArgs) -> anyhow::Result<()> {
    let viewer = Viewer::new(Role::Coordinator, cfg.public_rules());
    let plan = args.classes.plan(cfg)?;
    let filter = args.stretches.filter(&viewer, None)?;
    let store = crate::store::open(&cfg.db)
        .await
        .with_context(|| format!("cannot open database {}", cfg.db))?;
    let snap = Snapshot::load(store.as_ref()).await?;
    let out = args.out.clone();
    let top = args.top;
    let rules = cfg.public_rules();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let t0 = std::time::Instant::now();
        let result = service::analyse(&snap, plan, rules, &Cancel::never())?;
        let took = t0.elapsed();
        let answer = service::stretches(&snap, &result, &filter)?;
        let text = serde_json::to_vec(&answer)?;
        std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
        let inputs = LightingInputs::from_snapshot(&snap);
        let class = result.params.classes.default;
        eprintln!(
            "{} walkways, {} lamps ({} off), class {} ({}), analysed in {:.2} s",
            inputs.walkways.len(),
            inputs.lamps.len(),
            answer.meta.lamps_off,
            class,
            priority::criteria_sv(class),
            took.as_secs_f64()
        );
        for st in lighting::LightState::ALL {
            let t = result.totals(st);
            eprintln!(
                "  {:<8} {:>6} stretches {:>10.0} m",
                st.as_str(),
                t.stretches,
                t.length_m
            );
        }
        eprintln!(
            "wrote {} of {} selected stretches to {}",
            answer.meta.returned,
            answer.meta.matching,
            out.display()
        );
        let ranked = lighting::top_stretches(&result, top);
        if !ranked.is_empty() {
            eprintln!("\nÅtgärdslista (högst prioritet först):");
        }
        for s in ranked {
            let w = &inputs.walkways[s.walkway];
            eprintln!(
                "{:>4}. {:>5.1}  {:<8} {:<22} {:>6.0} m  {}  [{}]",
                s.rank.unwrap_or(0),
                s.priority,
                s.state.as_str(),
                s.id,
                s.length_m,
                w.name.as_deref().unwrap_or(priority::kind_sv(&w.kind)),
                s.reasons.join("; ")
            );
        }
        Ok(())
    })
    .await??;
    Ok(())
}
