//! `lagesbild hotspots`: the hotspot analyses from the command line, written as GeoJSON (or, for
//! kernel density into a `.png` file, as the map overlay with its bounds printed).
//!
//! The flags are the API's query parameters, in the same typed query structs, and the output
//! is what `GET /api/v1/hotspots` returns to a coordinator token, or to the public with
//! `--public` (the same service function answers both).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use crate::model::Role;
use crate::service::Viewer;
use crate::service::filter::FilterParams;
use crate::service::hotspots::{self as service, MethodParams, PeriodParams};
use crate::spatial::Snapshot;

#[derive(Debug, Args)]
pub struct HotspotArgs {
    #[command(flatten)]
    pub filter: FilterParams,
    #[command(flatten)]
    pub method: MethodParams,
    /// Compare periods instead (method gistar or dbscan): give all four bounds.
    #[command(flatten)]
    pub periods: PeriodParams,
    /// Write what the public would see (the public product).
    #[arg(long)]
    pub public: bool,
    /// Output file: `.geojson`/`.json`, or `.png` for the KDE overlay; `-` for stdout.
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
}

/// What the summary line on stderr needs of an answer.
#[derive(serde::Deserialize)]
struct Summary {
    features: Vec<serde::de::IgnoredAny>,
    meta: SummaryMeta,
}

#[derive(serde::Deserialize)]
struct SummaryMeta {
    #[serde(default)]
    included: serde_json::Value,
    #[serde(default)]
    excluded_by_precision: serde_json::Value,
    #[serde(default)]
    filtered_out: serde_json::Value,
}

/// Runs the analysis on the database named in the config and writes the result.
pub async fn run(cfg: &Config, args: HotspotArgs) -> anyhow::Result<()> {
    let store = crate::store::open(&cfg.db)
        .await
        .with_context(|| format!("cannot open database {}", cfg.db))?;
    let snap = Snapshot::load(store.as_ref()).await?;
    let role = if args.public {
        Role::Anonymous
    } else {
        Role::Coordinator
    };
    let rules = cfg.public_rules();
    let png = args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let comparing = args.periods.any();
    let out = args.out.clone();
    let viewer = Viewer::new(role, rules);
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<u8>, String)> {
        let never = crate::analysis::cancel::Cancel::never();
        let (f, m) = (&args.filter, &args.method);
        if png {
            let o = service::kde_png(&snap, f, m, &viewer, &never)?;
            let note = format!(
                "bounds (WGS84 w,s,e,n): {:.7},{:.7},{:.7},{:.7}; {}x{} px; darkest colour = {:.1} events/km²",
                o.bounds[0], o.bounds[1], o.bounds[2], o.bounds[3], o.width, o.height, o.max_density
            );
            return Ok((o.png, note));
        }
        let bytes = if comparing {
            let answer = service::compare(&snap, f, m, &args.periods, &viewer, &never)?;
            serde_json::to_vec_pretty(&answer)?
        } else {
            serde_json::to_vec_pretty(&service::hotspots(&snap, f, m, &viewer, &never)?)?
        };
        let s: Summary = serde_json::from_slice(&bytes)?;
        let note = format!(
            "{} features; {} events included, {} known only to a municipality or county, {} filtered out",
            s.features.len(),
            s.meta.included,
            s.meta.excluded_by_precision["total"],
            s.meta.filtered_out,
        );
        Ok((bytes, note))
    })
    .await??;
    let (bytes, note) = result;
    if out.as_os_str() == "-" {
        use std::io::Write;
        std::io::stdout().write_all(&bytes)?;
        println!();
    } else {
        std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    eprintln!("{note}");
    Ok(())
}
