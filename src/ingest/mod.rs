//! Importers: files in, domain model out, into the store.
//!
//! Every importer streams: a parser on a blocking thread reads the file record by record and hands
//! batches to the writer through a bounded channel, so memory does not grow with the file and
//! parsing overlaps with writing. A bad record is skipped and reported with its line, field,
//! value and reason; good records are imported. Each batch is one transaction, and upserts are
//! keyed by the source's own ids, so importing the same file again adds nothing and an import cut
//! short (a crash, kill -9) is completed by running it again.

pub mod bra;
pub mod csvutil;
pub mod geojson_file;
pub mod incidents_csv;
pub mod jsonstream;
pub mod lamps;
pub mod osm;
pub mod patrol;
pub mod polisen;
pub mod textio;

use std::hash::{BuildHasher, Hash};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::model::{Area, BraStat, Incident, Lamp, Walkway};
use crate::store::{Store, StoreError, StoreResult, WriteCounts};

/// How many records go into one transaction.
pub const BATCH_SIZE: usize = 20_000;
/// Errors kept in the summary; more are counted, not listed.
pub const MAX_LISTED_ERRORS: usize = 1_000;

/// Characters of a value from the file shown in an error; the rest is counted, not printed.
pub const SHOWN_VALUE_CHARS: usize = 80;
/// Longest reason text kept in an error (reasons are ours, but may quote the file).
pub const SHOWN_REASON_CHARS: usize = 400;
/// Longest file-level error message.
pub const SHOWN_MESSAGE_CHARS: usize = 600;

/// Field length limits, in characters. Ids, labels, categories, names, times, numbers and
/// statuses are short in every real register; anything longer is a broken or hostile file, and
/// the record is skipped with its line and field rather than stored.
pub const MAX_FIELD_CHARS: usize = 200;
/// Longer free text: Polisen's event `name`.
pub const MAX_NAME_CHARS: usize = 500;
/// Summaries and descriptions (Polisen `summary`; Open311 allows 4 000 for a description).
pub const MAX_SUMMARY_CHARS: usize = 4_000;
/// A CSV header: at most this many columns, each at most [`MAX_FIELD_CHARS`].
pub const MAX_COLUMNS: usize = 1_000;

/// `s` cut to `max` characters; when cut, `… (N bytes)` says how long it was.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((at, _)) => format!("{}… ({} bytes)", &s[..at], s.len()),
    }
}

/// `Err` naming the field when `value` is longer than `max` characters.
pub fn check_len(line: u64, field: &str, value: &str, max: usize) -> Result<(), RowError> {
    // Bytes bound characters from above: only long values need counting.
    if value.len() <= max || value.chars().count() <= max {
        return Ok(());
    }
    Err(RowError::new(
        line,
        field,
        value,
        format!(
            "too long: {} characters, at most {max} allowed",
            value.chars().count()
        ),
    ))
}

/// One skipped record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowError {
    /// 1-based line in the file (for JSON: the line where the record starts).
    pub line: u64,
    pub field: String,
    pub value: String,
    pub reason: String,
}

impl RowError {
    pub fn new(
        line: u64,
        field: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            line,
            field: truncate(&field.into(), SHOWN_VALUE_CHARS),
            value: truncate(&value.into(), SHOWN_VALUE_CHARS),
            reason: truncate(&reason.into(), SHOWN_REASON_CHARS),
        }
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: field {:?} value {:?}: {}",
            self.line, self.field, self.value, self.reason
        )
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    pub file: String,
    /// Records read (rows, events, features, OSM ways and lamp nodes considered).
    pub read: u64,
    /// New records stored.
    pub imported: u64,
    /// Records that replaced a stored version with different content.
    pub updated: u64,
    /// Records already stored exactly so.
    pub unchanged: u64,
    pub skipped: u64,
    pub errors: Vec<RowError>,
    /// Errors beyond the first [`MAX_LISTED_ERRORS`], counted only.
    pub errors_not_listed: u64,
    /// Records stored, but read one way of several: a local time in the autumn's repeated hour
    /// (the earlier taken) or the spring's skipped one (moved forward by the gap).
    pub warnings: Vec<RowError>,
    /// Warnings beyond the first [`MAX_LISTED_ERRORS`], counted only.
    pub warnings_not_listed: u64,
}

impl ImportSummary {
    fn add_errors(&mut self, errs: Vec<RowError>) {
        for e in errs {
            self.skipped += 1;
            if self.errors.len() < MAX_LISTED_ERRORS {
                self.errors.push(e);
            } else {
                self.errors_not_listed += 1;
            }
        }
    }

    fn add_warnings(&mut self, warnings: Vec<RowError>) {
        for w in warnings {
            if self.warnings.len() < MAX_LISTED_ERRORS {
                self.warnings.push(w);
            } else {
                self.warnings_not_listed += 1;
            }
        }
    }

    fn add_counts(&mut self, c: WriteCounts) {
        self.imported += c.inserted;
        self.updated += c.updated;
        self.unchanged += c.unchanged;
    }

    /// The one-line report for people.
    pub fn human(&self) -> String {
        format!(
            "{}: read {}, imported {}, updated {}, unchanged {}, skipped {}",
            self.file, self.read, self.imported, self.updated, self.unchanged, self.skipped
        )
    }
}

/// Why a whole import failed (as opposed to a skipped record).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("{path}: {0}", path = .1)]
    Store(StoreError, String),
    #[error("{0}")]
    Usage(String),
}

impl ImportError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// The file as a whole cannot be used; the message is cut to [`SHOWN_MESSAGE_CHARS`].
    pub fn format(path: &Path, message: impl Into<String>) -> Self {
        Self::Format {
            path: truncate(&path.display().to_string(), SHOWN_MESSAGE_CHARS),
            message: truncate(&message.into(), SHOWN_MESSAGE_CHARS),
        }
    }
}

/// A record type that knows how to store a batch of itself.
#[async_trait]
pub trait Upsert: Sized + Send + Sync + 'static {
    async fn upsert(store: &dyn Store, batch: &[Self]) -> StoreResult<WriteCounts>;
}

#[async_trait]
impl Upsert for Incident {
    async fn upsert(store: &dyn Store, batch: &[Self]) -> StoreResult<WriteCounts> {
        store.upsert_incidents(batch).await
    }
}
#[async_trait]
impl Upsert for Walkway {
    async fn upsert(store: &dyn Store, batch: &[Self]) -> StoreResult<WriteCounts> {
        store.upsert_walkways(batch).await
    }
}
#[async_trait]
impl Upsert for Lamp {
    async fn upsert(store: &dyn Store, batch: &[Self]) -> StoreResult<WriteCounts> {
        store.upsert_lamps(batch).await
    }
}
#[async_trait]
impl Upsert for Area {
    async fn upsert(store: &dyn Store, batch: &[Self]) -> StoreResult<WriteCounts> {
        store.upsert_areas(batch).await
    }
}
#[async_trait]
impl Upsert for BraStat {
    async fn upsert(store: &dyn Store, batch: &[Self]) -> StoreResult<WriteCounts> {
        store.upsert_bra(batch).await
    }
}

/// What the parser hands to the writer.
struct Batch<T> {
    rows: Vec<T>,
    errors: Vec<RowError>,
    warnings: Vec<RowError>,
    read: u64,
    /// Bytes of the file consumed so far (for the progress bar).
    position: u64,
}

/// The parser's side of the pipeline.
pub struct Emitter<T> {
    tx: mpsc::Sender<Batch<T>>,
    cur: Batch<T>,
    closed: bool,
}

impl<T> Emitter<T> {
    /// A record was read (whether it turns out good or bad).
    pub fn read(&mut self) {
        self.cur.read += 1;
    }

    pub fn row(&mut self, t: T) {
        self.cur.rows.push(t);
        if self.cur.rows.len() >= BATCH_SIZE {
            self.flush();
        }
    }

    /// A record that is stored, with something about how it was read.
    pub fn warn(&mut self, w: RowError) {
        self.cur.warnings.push(w);
    }

    pub fn error(&mut self, e: RowError) {
        self.cur.errors.push(e);
        if self.cur.errors.len() >= BATCH_SIZE {
            self.flush();
        }
    }

    pub fn position(&mut self, bytes: u64) {
        self.cur.position = bytes;
    }

    /// The writer has stopped (a store error): the parser should stop too.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn flush(&mut self) {
        let next = Batch {
            rows: Vec::with_capacity(BATCH_SIZE.min(self.cur.rows.capacity())),
            errors: Vec::new(),
            warnings: Vec::new(),
            read: 0,
            position: self.cur.position,
        };
        let full = std::mem::replace(&mut self.cur, next);
        if self.tx.blocking_send(full).is_err() {
            self.closed = true;
        }
    }
}

fn emitter<T>(tx: mpsc::Sender<Batch<T>>) -> Emitter<T> {
    Emitter {
        tx,
        cur: Batch {
            rows: Vec::with_capacity(BATCH_SIZE),
            errors: Vec::new(),
            warnings: Vec::new(),
            read: 0,
            position: 0,
        },
        closed: false,
    }
}

/// Writes what arrives on `rx` until the parser is done; stops reading at the first store error.
async fn drain<T: Upsert>(
    store: &dyn Store,
    mut rx: mpsc::Receiver<Batch<T>>,
    summary: &mut ImportSummary,
    progress: &indicatif::ProgressBar,
) -> Option<StoreError> {
    let mut store_error = None;
    while let Some(batch) = rx.recv().await {
        summary.read += batch.read;
        summary.add_errors(batch.errors);
        summary.add_warnings(batch.warnings);
        progress.set_position(batch.position);
        if store_error.is_none() && !batch.rows.is_empty() {
            match T::upsert(store, &batch.rows).await {
                Ok(c) => summary.add_counts(c),
                Err(e) => {
                    // This batch's transaction rolled back and nothing after it is written; what
                    // was committed before stays, and running the import again completes it.
                    store_error = Some(e);
                    rx.close();
                }
            }
        }
    }
    store_error
}

fn new_summary(path: &Path) -> ImportSummary {
    ImportSummary {
        file: path.display().to_string(),
        ..Default::default()
    }
}

/// Runs `parse` on a blocking thread and writes what it emits; returns the summary.
///
/// `parse` returns `Err` only when the file as a whole cannot be read; records it cannot use are
/// reported through [`Emitter::error`].
pub async fn run<T, F>(
    store: Arc<dyn Store>,
    path: &Path,
    parse: F,
) -> Result<ImportSummary, ImportError>
where
    T: Upsert,
    F: FnOnce(&mut Emitter<T>) -> Result<(), ImportError> + Send + 'static,
{
    let total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let progress = progress_bar(total);
    let (tx, rx) = mpsc::channel::<Batch<T>>(2);
    let parser = tokio::task::spawn_blocking(move || {
        let mut em = emitter(tx);
        let result = parse(&mut em);
        em.flush();
        result
    });
    let mut summary = new_summary(path);
    let store_error = drain(store.as_ref(), rx, &mut summary, &progress).await;
    // Records are checked in blocks: list what was skipped in file order.
    summary.errors.sort_by_key(|e| e.line);
    progress.finish_and_clear();
    let parsed = parser.await.map_err(|e| {
        ImportError::Usage(format!("the parser of {} panicked: {e}", path.display()))
    })?;
    if let Some(e) = store_error {
        return Err(ImportError::Store(e, path.display().to_string()));
    }
    parsed?;
    Ok(summary)
}

/// Like [`run`] for a parser that emits two kinds of record (OSM: walkways and lamps).
pub async fn run_pair<A, B, F>(
    store: Arc<dyn Store>,
    path: &Path,
    parse: F,
) -> Result<(ImportSummary, ImportSummary), ImportError>
where
    A: Upsert,
    B: Upsert,
    F: FnOnce(&mut Emitter<A>, &mut Emitter<B>) -> Result<(), ImportError> + Send + 'static,
{
    let progress = indicatif::ProgressBar::hidden();
    let (txa, rxa) = mpsc::channel::<Batch<A>>(2);
    let (txb, rxb) = mpsc::channel::<Batch<B>>(2);
    let parser = tokio::task::spawn_blocking(move || {
        let mut a = emitter(txa);
        let mut b = emitter(txb);
        let result = parse(&mut a, &mut b);
        a.flush();
        b.flush();
        result
    });
    let mut sa = new_summary(path);
    let mut sb = new_summary(path);
    let (ea, eb) = tokio::join!(
        drain(store.as_ref(), rxa, &mut sa, &progress),
        drain(store.as_ref(), rxb, &mut sb, &progress)
    );
    let parsed = parser.await.map_err(|e| {
        ImportError::Usage(format!("the parser of {} panicked: {e}", path.display()))
    })?;
    if let Some(e) = ea.or(eb) {
        return Err(ImportError::Store(e, path.display().to_string()));
    }
    parsed?;
    Ok((sa, sb))
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || total < 4 * 1024 * 1024 {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta})",
        )
        .expect("progress template"),
    );
    pb
}

/// Remembers the ids seen in one file to report duplicates. Keeps a 64-bit hash per id (8 bytes,
/// not the id text), so a file of a million rows costs about 16 MB here.
pub struct DuplicateGuard {
    seen: std::collections::HashMap<u64, u64>,
    hasher: std::hash::RandomState,
}

impl Default for DuplicateGuard {
    fn default() -> Self {
        Self {
            seen: Default::default(),
            hasher: std::hash::RandomState::new(),
        }
    }
}

impl DuplicateGuard {
    /// `Some(first_line)` when the id was already seen in this file.
    pub fn check(&mut self, id: impl Hash, line: u64) -> Option<u64> {
        let h = self.hasher.hash_one(id);
        match self.seen.entry(h) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(line);
                None
            }
        }
    }
}
