//! `lagesbild import …`: one subcommand per kind of file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};

use crate::config::Config;
use crate::crs::{self, ServiceArea};
use crate::ingest::incidents_csv::{CoordColumns, IncidentCsvOptions};
use crate::ingest::{self, ImportError, ImportSummary, csvutil};
use crate::model::LocationPrecision;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Print the summary as one JSON object on the last line of stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Accept coordinates anywhere, not only inside the service area (for foreign test data).
    #[arg(long, global = true)]
    pub anywhere: bool,
    /// Text encoding of the file when it is not UTF-8, e.g. windows-1252 (Excel's default in
    /// Sweden), iso-8859-15, utf-16le. UTF-16 with a byte order mark is recognised without it.
    #[arg(long, global = true, value_parser = ingest::textio::parse_encoding)]
    pub encoding: Option<&'static encoding_rs::Encoding>,
    #[command(subcommand)]
    pub kind: ImportKind,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Precision {
    Exact,
    Street,
    Municipality,
    County,
}

impl From<Precision> for LocationPrecision {
    fn from(p: Precision) -> Self {
        match p {
            Precision::Exact => Self::Exact,
            Precision::Street => Self::Street,
            Precision::Municipality => Self::Municipality,
            Precision::County => Self::County,
        }
    }
}

/// Where the coordinates are: --x/--y in --crs, or --lat/--lon.
#[derive(Debug, Args)]
pub struct CoordArgs {
    /// Column with the easting (or longitude in a geographic --crs).
    #[arg(long, requires = "y", conflicts_with_all = ["lat", "lon"])]
    pub x: Option<String>,
    /// Column with the northing (or latitude in a geographic --crs).
    #[arg(long, requires = "x")]
    pub y: Option<String>,
    /// Column with the latitude (WGS84 unless --crs says otherwise).
    #[arg(long, requires = "lon")]
    pub lat: Option<String>,
    /// Column with the longitude.
    #[arg(long, requires = "lat")]
    pub lon: Option<String>,
    /// CRS of the coordinates, e.g. EPSG:3006, EPSG:3011, EPSG:4326.
    #[arg(long, default_value = "EPSG:4326")]
    pub crs: String,
    /// Field delimiter: one character or `tab`; guessed from the header when absent.
    #[arg(long, value_parser = csvutil::parse_delimiter)]
    pub delimiter: Option<u8>,
}

impl CoordArgs {
    fn columns(&self) -> anyhow::Result<CoordColumns> {
        match (&self.x, &self.y, &self.lat, &self.lon) {
            (Some(x), Some(y), _, _) => Ok(CoordColumns::Xy {
                x: x.clone(),
                y: y.clone(),
            }),
            (_, _, Some(lat), Some(lon)) => Ok(CoordColumns::LatLon {
                lat: lat.clone(),
                lon: lon.clone(),
            }),
            _ => anyhow::bail!(
                "say where the coordinates are: --x and --y (with --crs), or --lat and --lon"
            ),
        }
    }

    fn epsg(&self) -> anyhow::Result<u32> {
        crs::parse_epsg(&self.crs).map_err(|e| anyhow::anyhow!("--crs: {e}"))
    }
}

#[derive(Debug, Subcommand)]
pub enum ImportKind {
    /// Polisen's open events API JSON, from a file or a URL (e.g. https://polisen.se/api/events).
    Polisen {
        /// A file, or an http(s) URL to fetch.
        source: String,
        /// With a URL: fetch again every INTERVAL (e.g. 10m, 30s; at least 10 s) until stopped.
        #[arg(long, value_parser = parse_interval)]
        poll: Option<Duration>,
    },
    /// An incident register as CSV, with the columns named by the flags.
    Incidents {
        file: PathBuf,
        /// Column with the incident id (unique within --source).
        #[arg(long)]
        id: String,
        /// Column with the date and time (offset optional; Swedish local time when absent): a
        /// time, an hour (`2026-04-29 14`), a date (`2026-04-29`) or a month (`2026-04`), each
        /// stored with its precision. Needed unless --time-from and --time-to are given; with
        /// them, for the rows whose window is empty.
        #[arg(long, required_unless_present_all = ["time_from", "time_to"])]
        time: Option<String>,
        /// Column with the start of a window in which the incident happened ("begånget
        /// mellan"), read as --time is; with --time-to.
        #[arg(long, requires = "time_to")]
        time_from: Option<String>,
        /// Column with the end of the window; with --time-from. A window from a date to a
        /// date runs to the end of the last date.
        #[arg(long, requires = "time_from")]
        time_to: Option<String>,
        /// Column with the category label (e.g. Misshandel, Skadegörelse).
        #[arg(long)]
        category: String,
        /// Column with a place or municipality name.
        #[arg(long)]
        place: Option<String>,
        #[command(flatten)]
        coords: CoordArgs,
        /// chrono format of --time when it is not ISO 8601, e.g. "%d/%m/%Y %H.%M".
        #[arg(long)]
        time_format: Option<String>,
        /// Name of the register; with the id it identifies an incident across imports.
        /// Default: the file name without extension.
        #[arg(long)]
        source: Option<String>,
        /// How precise the coordinates are.
        #[arg(long, value_enum, default_value = "exact")]
        precision: Precision,
    },
    /// A GeoJSON FeatureCollection of incidents (Points) or areas (Polygons).
    Geojson {
        file: PathBuf,
        #[arg(long, value_enum)]
        kind: GeoJsonKind,
        /// CRS of the coordinates; default: the file's `crs` member, else WGS84.
        #[arg(long)]
        crs: Option<String>,
        /// Source name; default: the file name without extension.
        #[arg(long)]
        source: Option<String>,
        /// incidents: property with the id (default: the feature id).
        #[arg(long, default_value = "id")]
        id: String,
        /// incidents: property with the time.
        #[arg(long, default_value = "time")]
        time: String,
        /// incidents: property with the category.
        #[arg(long, default_value = "category")]
        category: String,
        #[arg(long)]
        time_format: Option<String>,
        #[arg(long, value_enum, default_value = "exact")]
        precision: Precision,
        /// areas: property with the name.
        #[arg(long, default_value = "name")]
        name_field: String,
    },
    /// OpenStreetMap walkways and street lamps (.osm.pbf or .osm XML).
    Osm { file: PathBuf },
    /// A municipal lamp register as CSV.
    Lamps {
        file: PathBuf,
        #[arg(long)]
        id: String,
        #[command(flatten)]
        coords: CoordArgs,
        /// Column with the mounting height in metres.
        #[arg(long)]
        height: Option<String>,
        /// Column with the luminous flux in lumen.
        #[arg(long)]
        lumen: Option<String>,
        /// Column with the power in watts (used when there is no lumen value).
        #[arg(long)]
        watt: Option<String>,
        /// Column with the status (working/i drift, broken/trasig).
        #[arg(long)]
        status: Option<String>,
        /// Register name; default: the file name without extension.
        #[arg(long)]
        source: Option<String>,
    },
    /// District polygons from GeoJSON.
    Areas {
        file: PathBuf,
        /// Property with the area's name.
        #[arg(long, default_value = "name")]
        name_field: String,
        #[arg(long)]
        crs: Option<String>,
        #[arg(long)]
        source: Option<String>,
    },
    /// BRÅ's yearly reported crimes per municipality (;-separated CSV).
    Bra {
        file: PathBuf,
        /// The year of the table (when it has no År column).
        #[arg(long)]
        year: Option<i32>,
    },
    /// Patrol presence of one unit, police-only: a GPX track (.gpx) or a CSV of visits (.csv,
    /// columns start, end and hotspot, or lat and lon, or x and y in EPSG:3006).
    Patrol {
        /// A .gpx track or a .csv list of visits, told apart by the extension.
        file: PathBuf,
        /// The patrol unit the file is of (a call sign, e.g. "Bil 3").
        #[arg(long)]
        unit: String,
        /// CSV: field delimiter, one character or `tab`; guessed from the header when absent.
        #[arg(long, value_parser = csvutil::parse_delimiter)]
        delimiter: Option<u8>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GeoJsonKind {
    Incidents,
    Areas,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected e.g. 10m or 30s, got {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("unknown unit {unit:?}: use s, m or h")),
    };
    if secs < crate::ingest::polisen::MIN_POLL_SECONDS {
        return Err("Polisen asks for at least 10 seconds between calls".into());
    }
    Ok(Duration::from_secs(secs))
}

fn source_or_stem(source: Option<String>, path: &Path) -> String {
    source.unwrap_or_else(|| ingest::incidents_csv::default_source(path))
}

/// Runs an import and prints its summary; the exit code is 0 unless the file could not be read.
pub async fn import(cfg: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let store = crate::store::open(&cfg.db).await?;
    let area = if args.anywhere {
        ServiceArea::Unbounded
    } else {
        cfg.service_area()
    };
    let started = Instant::now();
    let summaries = run_kind(store, area, args.encoding, args.kind).await?;
    for s in &summaries {
        for e in &s.errors {
            eprintln!("{}: {e}", s.file);
        }
        if s.errors_not_listed > 0 {
            eprintln!(
                "{}: … and {} more skipped records",
                s.file, s.errors_not_listed
            );
        }
        for w in &s.warnings {
            eprintln!("{}: warning: {w}", s.file);
        }
        if s.warnings_not_listed > 0 {
            eprintln!("{}: … and {} more warnings", s.file, s.warnings_not_listed);
        }
        eprintln!("{} in {:.1} s", s.human(), started.elapsed().as_secs_f64());
    }
    if args.json {
        // One object on the last line; OSM imports two kinds of records, summed here with the
        // parts beside them.
        let total = merge(&summaries);
        let mut v = serde_json::to_value(&total)?;
        if summaries.len() > 1 {
            v["parts"] = serde_json::to_value(&summaries)?;
        }
        println!("{}", serde_json::to_string(&v)?);
    }
    Ok(())
}

fn merge(parts: &[ImportSummary]) -> ImportSummary {
    let mut t = ImportSummary {
        file: parts.first().map(|p| p.file.clone()).unwrap_or_default(),
        ..Default::default()
    };
    for p in parts {
        t.read += p.read;
        t.imported += p.imported;
        t.updated += p.updated;
        t.unchanged += p.unchanged;
        t.skipped += p.skipped;
        t.errors.extend(p.errors.iter().cloned());
        t.errors_not_listed += p.errors_not_listed;
        t.warnings.extend(p.warnings.iter().cloned());
        t.warnings_not_listed += p.warnings_not_listed;
    }
    t
}

async fn run_kind(
    store: Arc<dyn Store>,
    area: ServiceArea,
    encoding: Option<&'static encoding_rs::Encoding>,
    kind: ImportKind,
) -> anyhow::Result<Vec<ImportSummary>> {
    use ingest::geojson_file::{GeoJsonOptions, IncidentFields};
    let one = |r: Result<ImportSummary, ImportError>| -> anyhow::Result<Vec<ImportSummary>> {
        Ok(vec![r?])
    };
    match kind {
        ImportKind::Polisen { source, poll } => {
            if source.starts_with("http://") || source.starts_with("https://") {
                return polisen_url(store, area, encoding, &source, poll).await;
            }
            if poll.is_some() {
                anyhow::bail!("--poll needs a URL, not a file");
            }
            let path = PathBuf::from(&source);
            let p2 = path.clone();
            one(ingest::run(store, &path, move |em| {
                ingest::polisen::parse(&p2, &area, encoding, em)
            })
            .await)
        }
        ImportKind::Incidents {
            file,
            id,
            time,
            time_from,
            time_to,
            category,
            place,
            coords,
            time_format,
            source,
            precision,
        } => {
            let opts = IncidentCsvOptions {
                source: source_or_stem(source, &file),
                path: file.clone(),
                id,
                time,
                window: time_from.zip(time_to),
                category,
                coords: coords.columns()?,
                epsg: coords.epsg()?,
                delimiter: coords.delimiter,
                encoding,
                time_format,
                precision: precision.into(),
                place,
                area,
            };
            one(ingest::run(store, &file, move |em| {
                ingest::incidents_csv::parse(opts, em)
            })
            .await)
        }
        ImportKind::Geojson {
            file,
            kind,
            crs,
            source,
            id,
            time,
            category,
            time_format,
            precision,
            name_field,
        } => {
            let opts = GeoJsonOptions {
                source: source_or_stem(source, &file),
                path: file.clone(),
                epsg: crs
                    .map(|c| crs::parse_epsg(&c))
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("--crs: {e}"))?,
                area,
                encoding,
            };
            match kind {
                GeoJsonKind::Incidents => {
                    let fields = IncidentFields {
                        id,
                        time,
                        category,
                        time_format,
                        precision: precision.into(),
                    };
                    one(ingest::run(store, &file, move |em| {
                        ingest::geojson_file::parse_incidents(opts, fields, em)
                    })
                    .await)
                }
                GeoJsonKind::Areas => one(ingest::run(store, &file, move |em| {
                    ingest::geojson_file::parse_areas(opts, name_field, em)
                })
                .await),
            }
        }
        ImportKind::Areas {
            file,
            name_field,
            crs,
            source,
        } => {
            let opts = GeoJsonOptions {
                source: source_or_stem(source, &file),
                path: file.clone(),
                epsg: crs
                    .map(|c| crs::parse_epsg(&c))
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("--crs: {e}"))?,
                area,
                encoding,
            };
            one(ingest::run(store, &file, move |em| {
                ingest::geojson_file::parse_areas(opts, name_field, em)
            })
            .await)
        }
        ImportKind::Osm { file } => {
            if encoding.is_some() {
                anyhow::bail!(
                    "--encoding does not apply to OSM files: OSM XML is UTF-8 and PBF is binary"
                );
            }
            let opts = ingest::osm::OsmOptions {
                path: file.clone(),
                area,
            };
            let (ways, lamps) =
                ingest::run_pair(store, &file, move |w, l| ingest::osm::parse(opts, w, l)).await?;
            Ok(vec![ways, lamps])
        }
        ImportKind::Lamps {
            file,
            id,
            coords,
            height,
            lumen,
            watt,
            status,
            source,
        } => {
            let opts = ingest::lamps::LampCsvOptions {
                source: source_or_stem(source, &file),
                path: file.clone(),
                id,
                coords: coords.columns()?,
                epsg: coords.epsg()?,
                height,
                lumen,
                watt,
                status,
                delimiter: coords.delimiter,
                encoding,
                area,
            };
            one(ingest::run(store, &file, move |em| ingest::lamps::parse(opts, em)).await)
        }
        ImportKind::Patrol {
            file,
            unit,
            delimiter,
        } => patrol(store, area, encoding, file, &unit, delimiter).await,
        ImportKind::Bra { file, year } => {
            let opts = ingest::bra::BraOptions {
                path: file.clone(),
                year,
                encoding,
            };
            one(ingest::run(store, &file, move |em| ingest::bra::parse(opts, em)).await)
        }
    }
}

/// A patrol file by its extension: `.gpx` tracks, `.csv` visits. Says afterwards what patrol
/// data the store holds.
async fn patrol(
    store: Arc<dyn Store>,
    area: ServiceArea,
    encoding: Option<&'static encoding_rs::Encoding>,
    file: PathBuf,
    unit: &str,
    delimiter: Option<u8>,
) -> anyhow::Result<Vec<ImportSummary>> {
    use ingest::patrol::{PatrolOptions, check_unit, parse_gpx, parse_visits};
    let opts = PatrolOptions {
        path: file.clone(),
        unit: check_unit(unit)?,
        area,
        encoding,
        delimiter,
    };
    let ext = file
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let summary = match ext.as_deref() {
        Some("gpx") => {
            if delimiter.is_some() {
                anyhow::bail!("--delimiter is for a CSV of visits, not for GPX");
            }
            ingest::run(store.clone(), &file, move |em| parse_gpx(opts, em)).await?
        }
        Some("csv") => ingest::run(store.clone(), &file, move |em| parse_visits(opts, em)).await?,
        _ => anyhow::bail!(
            "{}: a patrol file is a track (.gpx) or a list of visits (.csv)",
            file.display()
        ),
    };
    let c = store.patrol_counts().await?;
    eprintln!(
        "patrol data (police only): {} units, {} track files, {} track points, {} visits",
        c.units, c.tracks, c.points, c.visits
    );
    Ok(vec![summary])
}

/// Fetches the feed (once, or every `poll` until Ctrl-C) and imports each download.
async fn polisen_url(
    store: Arc<dyn Store>,
    area: ServiceArea,
    encoding: Option<&'static encoding_rs::Encoding>,
    url: &str,
    poll: Option<Duration>,
) -> anyhow::Result<Vec<ImportSummary>> {
    let dir = tempfile_dir()?;
    let path = dir.join("polisen-events.json");
    // Polling runs in one process per database and feed: others started beside it (another
    // replica's job) wait here and take over when the holder ends.
    let _job = match poll {
        None => None,
        Some(every) => {
            let name = format!("polisen poll {url}");
            loop {
                match store.try_lock_job(&name).await {
                    Ok(Some(lock)) => break Some(lock),
                    Ok(None) => tracing::info!(
                        url,
                        "another process polls this feed for this database; waiting to take over"
                    ),
                    Err(e) => tracing::warn!(error = %e, "cannot take the poll job's lock"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(every.min(Duration::from_secs(10))) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(Vec::new()),
                }
            }
        }
    };
    loop {
        let (u, p) = (url.to_string(), path.clone());
        let fetched = tokio::task::spawn_blocking(move || ingest::polisen::fetch(&u, &p)).await?;
        let summary = match fetched {
            Ok(bytes) => {
                tracing::info!(url, bytes, "fetched Polisen events");
                let (p2, a2) = (path.clone(), area.clone());
                let mut s = ingest::run(store.clone(), &path, move |em| {
                    ingest::polisen::parse(&p2, &a2, encoding, em)
                })
                .await?;
                s.file = url.to_string();
                Some(s)
            }
            Err(e) if poll.is_some() => {
                // A failed poll is logged and retried at the next interval.
                tracing::warn!(error = %e, "fetching Polisen events failed");
                None
            }
            Err(e) => anyhow::bail!(e),
        };
        match poll {
            None => return Ok(summary.into_iter().collect()),
            Some(every) => {
                if let Some(s) = summary {
                    eprintln!("{}", s.human());
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(Vec::new()),
                }
            }
        }
    }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("lagesbild-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
