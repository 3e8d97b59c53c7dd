//! `lagesbild lighting`: the dark-walkway analysis of the database, as a GeoJSON file and a ranked
//! list for the action plan.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::analysis::lighting::{self, LightingInputs, LightingParams, priority};
use crate::api::lighting::{
    Sort, StretchFilter, class_plan, parse_bbox, parse_states, stretches_collection,
};
use crate::config::Config;
use crate::spatial::Snapshot;

#[derive(Debug, Args)]
pub struct LightingArgs {
    /// EN 13201-2 P-class (P1 … P6); default: the configured class (P5).
    #[arg(long)]
    pub class: Option<String>,
    /// Per walkway kind overrides, e.g. footway=P4,steps=P3.
    #[arg(long)]
    pub kind_class: Option<String>,
    /// States to write: dark, unknown, lit or a comma list (default dark,unknown).
    #[arg(long)]
    pub state: Option<String>,
    /// Only stretches within this WGS84 box west,south,east,north.
    #[arg(long)]
    pub bbox: Option<String>,
    /// Write at most this many stretches (highest priority first).
    #[arg(long)]
    pub limit: Option<usize>,
    /// How many stretches the ranked list on stderr shows.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// The GeoJSON file to write (RFC 7946, WGS84).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the analysis on the configured database.
pub async fn run(cfg: &Config, args: LightingArgs) -> anyhow::Result<()> {
    let plan = class_plan(args.class.as_deref(), args.kind_class.as_deref(), cfg)
        .map_err(anyhow::Error::msg)?;
    let filter = StretchFilter {
        states: parse_states(args.state.as_deref()).map_err(anyhow::Error::msg)?,
        bbox: args
            .bbox
            .as_deref()
            .map(parse_bbox)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        limit: args.limit,
        sort: Sort::Priority,
        public: false,
    };
    let store = crate::store::open(&cfg.db)
        .await
        .with_context(|| format!("cannot open database {}", cfg.db))?;
    let snap = Snapshot::load(store.as_ref()).await?;
    let out = args.out.clone();
    let top = args.top;
    let rules = cfg.public_rules();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let inputs = LightingInputs::from_snapshot(&snap);
        let t0 = std::time::Instant::now();
        let params = LightingParams {
            public: rules,
            ..LightingParams::with_classes(plan)
        };
        let result = lighting::analyze(&inputs, &params);
        let took = t0.elapsed();
        let fc = stretches_collection(&result, &inputs, &filter, snap.version);
        let text = serde_json::to_string(&fc)?;
        std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
        let class = result.params.classes.default;
        eprintln!(
            "{} walkways, {} lamps ({} off), class {} ({}), analysed in {:.2} s",
            inputs.walkways.len(),
            inputs.lamps.len(),
            result.lamps.iter().filter(|l| !l.is_on()).count(),
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
            "wrote {} stretches to {}",
            fc["features"].as_array().map_or(0, Vec::len),
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
