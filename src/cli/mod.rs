//! The `lagesbild` command: one binary with subcommands.

pub mod demo;
pub mod export;
pub mod hotspots;
pub mod import;
pub mod lighting;
pub mod migrate;
pub mod patrol;
pub mod report;
pub mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::model::Role;

#[derive(Debug, Parser)]
#[command(
    name = "lagesbild",
    version,
    about = "Lägesbild: crime hotspots, dark walkways and citizen reports on one map",
    long_about = "Lägesbild builds a shared local picture (gemensam lokal lägesbild) of crime, \
insecurity and poorly lit walkways for a municipality and its police. Data is imported into a \
SQLite file, analysed in SWEREF 99 TM (EPSG:3006) and served as GeoJSON, Open311 and a web map."
)]
pub struct Cli {
    /// TOML configuration file (see lagesbild.example.toml).
    #[arg(long, global = true, env = "LAGESBILD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database: a SQLite file (the default, created when missing) or a PostgreSQL/PostGIS URL,
    /// postgres://user@host:port/db; overrides the config file and LAGESBILD_DB.
    #[arg(long, global = true)]
    pub db: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the web map.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
        #[arg(long)]
        addr: Option<String>,
    },
    /// Create the fictitious Täby demo dataset (when the database is empty) and serve it.
    Demo {
        /// Address to listen on.
        #[arg(long)]
        addr: Option<String>,
    },
    /// Import data: Polisen events, incident registers, GeoJSON, OSM, lamp registers, areas, BRÅ.
    Import(Box<import::ImportArgs>),
    /// Crime hotspots (DBSCAN, Gi*, kernel density, emerging hot spots) as GeoJSON, or a KDE
    /// overlay PNG.
    Hotspots(Box<hotspots::HotspotArgs>),
    /// The patrol plan: significant hotspots ranked, with patrol windows, as JSON, CSV or GPX.
    PatrolPlan(Box<patrol::PatrolArgs>),
    /// Analyse walkway lighting: dark stretches as GeoJSON and a ranked list for the action plan.
    Lighting(Box<lighting::LightingArgs>),
    /// Export the current picture as a GeoPackage (EPSG:3006) for QGIS and other GIS tools.
    Export(Box<export::ExportArgs>),
    /// Citizen reports: list them, purge a reporter's contact details.
    Report {
        #[command(subcommand)]
        command: report::ReportCommand,
    },
    /// Copy a SQLite file into PostgreSQL/PostGIS: every table, ids kept, counts verified, in
    /// one transaction. The global --db is not used.
    Migrate {
        /// The SQLite file to copy.
        #[arg(long)]
        from: String,
        /// The target, postgres://user@host:port/database.
        #[arg(long)]
        to: String,
        /// Truncate a target that already holds rows and copy over it (in the same
        /// transaction); without it a non-empty target is refused.
        #[arg(long)]
        force: bool,
    },
    /// Manage API tokens for coordinators, police and admins.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and only its hash is stored.
    Create {
        /// coordinator, police or admin.
        #[arg(long)]
        role: String,
        /// Who or what the token is for.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revoke a token by its id (the part after `lb_`, before the second `_`).
    Revoke { id: String },
    /// List tokens (ids, roles and labels; never secrets).
    List,
}

/// Runs the command line; the exit code is 0 on success.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(run(cli));
    // Dropping the runtime would wait for every blocking task: a bounded wait instead, so that
    // work that ignores cancellation cannot keep the process alive after `serve` returned.
    runtime.shutdown_timeout(serve::RUNTIME_WIND_DOWN);
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LAGESBILD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub(crate) fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut cfg = Config::load(cli.config.as_deref())?;
    if let Some(db) = &cli.db {
        cfg.db = db.clone();
    }
    Ok(cfg)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut cfg = load_config(&cli)?;
    match cli.command {
        Command::Serve { addr } => {
            if let Some(a) = addr {
                cfg.addr = a;
            }
            serve::serve(cfg).await?;
        }
        Command::Demo { addr } => demo::run(cfg, addr).await?,
        Command::Import(args) => import::import(&cfg, *args).await?,
        Command::Hotspots(args) => hotspots::run(&cfg, *args).await?,
        Command::Lighting(args) => lighting::run(&cfg, *args).await?,
        Command::Export(args) => export::run(&cfg, *args).await?,
        Command::PatrolPlan(args) => patrol::run(&cfg, *args).await?,
        Command::Report { command } => report::run(&cfg, command).await?,
        Command::Migrate { from, to, force } => migrate::run(&from, &to, force).await?,
        Command::Token { command } => {
            let store = crate::store::open(&cfg.db).await?;
            match command {
                TokenCommand::Create { role, label } => {
                    let role = Role::parse(&role)
                        .filter(|r| *r != Role::Anonymous)
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "--role {role:?}: expected coordinator, police or admin"
                            )
                        })?;
                    let (token, stored) = crate::api::auth::new_token(role, &label);
                    store.insert_token(&stored).await?;
                    eprintln!(
                        "Created a {} token (id {}). It is shown only now; store it safely:",
                        role.as_str(),
                        stored.id
                    );
                    println!("{token}");
                }
                TokenCommand::Revoke { id } => {
                    if store.revoke_token(&id).await? {
                        eprintln!("revoked token {id}");
                    } else {
                        anyhow::bail!("no active token with id {id}");
                    }
                }
                TokenCommand::List => {
                    for t in store.list_tokens().await? {
                        println!(
                            "{}\t{}\t{}\t{}",
                            t.id,
                            t.role.as_str(),
                            if t.revoked { "revoked" } else { "active" },
                            t.label
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
