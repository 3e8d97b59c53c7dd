//! `lagesbild hotspots`: the hotspot analyses from the command line, written as GeoJSON (or, for
//! kernel density into a `.png` file, as the map overlay with its bounds printed).
//!
//! The flags are the API's query parameters; the output is what `GET /api/v1/hotspots` returns
//! to a police or coordinator token, or to the public with `--public`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use crate::model::Role;
use crate::spatial::Snapshot;

#[derive(Debug, Args)]
pub struct HotspotArgs {
    /// dbscan, gistar or kde.
    #[arg(long)]
    pub method: String,
    /// First local date included (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Last local date included (YYYY-MM-DD).
    #[arg(long)]
    pub to: Option<String>,
    /// Category codes, comma separated (assault,robbery).
    #[arg(long)]
    pub categories: Option<String>,
    /// Category groups, comma separated (default: the crime groups).
    #[arg(long)]
    pub groups: Option<String>,
    /// Local hours: 22-04 (wraps midnight, end exclusive) or 8,9,10.
    #[arg(long)]
    pub hours: Option<String>,
    /// Weekdays: fri,sat or 4,5 (0 = Monday) or fri-sun.
    #[arg(long)]
    pub weekdays: Option<String>,
    /// District name.
    #[arg(long)]
    pub area: Option<String>,
    /// WGS84 box west,south,east,north.
    #[arg(long)]
    pub bbox: Option<String>,
    /// DBSCAN radius in metres.
    #[arg(long)]
    pub eps: Option<f64>,
    /// DBSCAN minimum neighbourhood (the point itself included).
    #[arg(long)]
    pub min_points: Option<usize>,
    /// Gi* or KDE cell size in metres (derived from the data when absent).
    #[arg(long)]
    pub cell: Option<f64>,
    /// Gi* distance band in metres (derived when absent).
    #[arg(long)]
    pub band: Option<f64>,
    /// Gi* grid: square or hex.
    #[arg(long)]
    pub grid: Option<String>,
    /// KDE bandwidth in metres (derived when absent).
    #[arg(long)]
    pub bandwidth: Option<f64>,
    /// Compare periods instead: period A's first date (with --a-to, --b-from, --b-to; method
    /// gistar or dbscan).
    #[arg(long)]
    pub a_from: Option<String>,
    #[arg(long)]
    pub a_to: Option<String>,
    #[arg(long)]
    pub b_from: Option<String>,
    #[arg(long)]
    pub b_to: Option<String>,
    /// Write what the public would see (aggregates with at least k events).
    #[arg(long)]
    pub public: bool,
    /// Output file: `.geojson`/`.json`, or `.png` for the KDE overlay; `-` for stdout.
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
}

impl HotspotArgs {
    /// The flags as the API's query parameters.
    pub fn query(&self) -> HashMap<String, String> {
        let mut q = HashMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                q.insert(k.to_string(), v);
            }
        };
        put("method", Some(self.method.clone()));
        put("from", self.from.clone());
        put("to", self.to.clone());
        put("categories", self.categories.clone());
        put("groups", self.groups.clone());
        put("hours", self.hours.clone());
        put("weekdays", self.weekdays.clone());
        put("area", self.area.clone());
        put("bbox", self.bbox.clone());
        put("eps", self.eps.map(|v| v.to_string()));
        put("min_points", self.min_points.map(|v| v.to_string()));
        put("cell", self.cell.map(|v| v.to_string()));
        put("band", self.band.map(|v| v.to_string()));
        put("grid", self.grid.clone());
        put("bandwidth", self.bandwidth.map(|v| v.to_string()));
        put("a_from", self.a_from.clone());
        put("a_to", self.a_to.clone());
        put("b_from", self.b_from.clone());
        put("b_to", self.b_to.clone());
        q
    }
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
    let q = args.query();
    let png = args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let comparing = args.a_from.is_some()
        || args.a_to.is_some()
        || args.b_from.is_some()
        || args.b_to.is_some();
    let out = args.out.clone();
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<u8>, String)> {
        let err = |e: crate::api::AppError| anyhow::anyhow!(e.public_message());
        let never = crate::analysis::cancel::Cancel::never();
        if png {
            let o = crate::api::hotspots::render_kde_png(&snap, &q, role, &rules, &never).map_err(err)?;
            let note = format!(
                "bounds (WGS84 w,s,e,n): {:.7},{:.7},{:.7},{:.7}; {}x{} px; darkest colour = {:.1} events/km²",
                o.bounds[0], o.bounds[1], o.bounds[2], o.bounds[3], o.width, o.height, o.max_density
            );
            return Ok((o.png, note));
        }
        let v = if comparing {
            crate::api::hotspots::compute_compare(&snap, &q, role, &rules, &never).map_err(err)?
        } else {
            crate::api::hotspots::compute(&snap, &q, role, &rules, &never).map_err(err)?
        };
        let meta = &v["meta"];
        let note = format!(
            "{} features; {} events included, {} known only to a municipality or county, {} filtered out",
            v["features"].as_array().map_or(0, Vec::len),
            meta["included"],
            meta["excluded_by_precision"]["total"],
            meta["filtered_out"],
        );
        Ok((serde_json::to_vec_pretty(&v)?, note))
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
