//! `lagesbild export --gpkg FILE`: the current picture as a GeoPackage for QGIS and other GIS
//! tools, one layer per kind of feature, in EPSG:3006 (see [`crate::service::export`]).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::analysis::cancel::Cancel;
use crate::config::Config;
use crate::service::lighting::{self as lighting, ClassParams};
use crate::spatial::Snapshot;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The GeoPackage to write (replaced when the export is complete).
    #[arg(long)]
    pub gpkg: PathBuf,
    /// Add the point-level incidents (police data: keep the file inside the organisation).
    #[arg(long)]
    pub incidents: bool,
    #[command(flatten)]
    pub classes: ClassParams,
}

/// Writes the GeoPackage of the configured database.
pub async fn run(cfg: &Config, args: ExportArgs) -> anyhow::Result<()> {
    let plan = args.classes.plan(cfg)?;
    let store = crate::store::open(&cfg.db)
        .await
        .with_context(|| format!("cannot open database {}", cfg.db))?;
    let snap = Snapshot::load(store.as_ref()).await?;
    let rules = cfg.public_rules();
    let incidents = args.incidents;
    let layers = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let result = lighting::analyse(&snap, plan, rules, &Cancel::never())?;
        Ok(crate::service::export::layers(&snap, &result, incidents))
    })
    .await??;
    let written = crate::gpkg::write(&args.gpkg, &layers)
        .await
        .with_context(|| format!("cannot write {}", args.gpkg.display()))?;
    for (name, n) in &written.layers {
        eprintln!("  {name:<16} {n:>8} features");
    }
    eprintln!("wrote {} (EPSG:3006)", written.path.display());
    Ok(())
}
