//! `lagesbild report …`: citizen reports from the command line.

use clap::Subcommand;

use crate::config::Config;
use crate::model::{Actor, ReportStatus, Role};
use crate::store::StoreError;
use crate::store::reports::ReportFilter;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// List reports, newest first (no contact details).
    List {
        /// open, acknowledged, in_progress or closed (comma separated); default: all.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Delete a reporter's name, e-mail and phone; the report itself stays.
    PurgeContact {
        /// The report id (Open311 service_request_id).
        id: i64,
    },
}

pub async fn run(cfg: &Config, command: ReportCommand) -> anyhow::Result<()> {
    let store = crate::store::open(&cfg.db).await?;
    match command {
        ReportCommand::List { status, limit } => {
            let statuses = match status {
                None => Vec::new(),
                Some(s) => s
                    .split(',')
                    .map(|p| {
                        ReportStatus::parse(p.trim()).ok_or_else(|| {
                            anyhow::anyhow!(
                                "--status {p:?}: expected open, acknowledged, in_progress or closed"
                            )
                        })
                    })
                    .collect::<anyhow::Result<_>>()?,
            };
            let rows = store
                .list_reports(&ReportFilter {
                    statuses,
                    limit,
                    ..ReportFilter::default()
                })
                .await?;
            println!("id\trequested\tservice\tstatus\thidden\tlamp\tdescription");
            for r in rows {
                let mut text: String = r.description.chars().take(60).collect();
                if r.description.chars().count() > 60 {
                    text.push('…');
                }
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.requested_at
                        .with_timezone(&crate::time::ZONE)
                        .format("%Y-%m-%d %H:%M"),
                    r.service.as_str(),
                    r.status.as_str(),
                    if r.hidden { "hidden" } else { "" },
                    r.lamp_id.as_deref().unwrap_or(""),
                    text.replace(['\t', '\n'], " ")
                );
            }
        }
        ReportCommand::PurgeContact { id } => {
            match store
                .purge_contact(id, &Actor::new("cli", Role::Admin))
                .await
            {
                Ok(true) => eprintln!("purged the contact details of report {id}"),
                Ok(false) => eprintln!("report {id} has no contact details (nothing to purge)"),
                Err(StoreError::NotFound(_)) => anyhow::bail!("no report with id {id}"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
