//! `lagesbild patrol-plan`: the patrol plan from the command line, as JSON, CSV or GPX (by the
//! output file's extension). The flags are the API's query parameters in the same typed
//! structs, and the file is what `GET /api/v1/patrol-plan.{json,csv,gpx}` gives a police token.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::analysis::cancel::Cancel;
use crate::config::Config;
use crate::model::Role;
use crate::service::Viewer;
use crate::service::filter::FilterParams;
use crate::service::patrol::{self as service, PlanParams};
use crate::spatial::Snapshot;

#[derive(Debug, Args)]
pub struct PatrolArgs {
    #[command(flatten)]
    pub filter: FilterParams,
    #[command(flatten)]
    pub plan: PlanParams,
    /// Output file: `.csv`, `.gpx`, or JSON for anything else; `-` for JSON on stdout.
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
}

pub async fn run(cfg: &Config, args: PatrolArgs) -> anyhow::Result<()> {
    let store = crate::store::open(&cfg.db)
        .await
        .with_context(|| format!("cannot open database {}", cfg.db))?;
    let snap = Snapshot::load(store.as_ref()).await?;
    let viewer = Viewer::new(Role::Police, cfg.public_rules());
    let today = crate::time::local_date(&chrono::Utc::now().fixed_offset());
    let PatrolArgs { filter, plan, out } = args;
    let plan = tokio::task::spawn_blocking(move || {
        service::plan(&snap, &filter, &plan, &viewer, today, &Cancel::never())
    })
    .await??;
    let ext = out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let text = match ext.as_deref() {
        Some("csv") => service::plan_csv(&plan),
        Some("gpx") => service::plan_gpx(&plan),
        _ => serde_json::to_string_pretty(&plan)?,
    };
    if out.as_os_str() == "-" {
        println!("{text}");
    } else {
        std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    eprintln!(
        "{} significant of {} clusters, {} events with a place ({} – {})",
        plan.significant, plan.clusters, plan.included, plan.period.from, plan.period.to
    );
    Ok(())
}
