//! The binary `COPY … FROM STDIN` format, written row by row into a buffer that the caller sends
//! in chunks (see `PgStore::upsert_staged`).
//!
//! Binary rather than text: numbers and instants travel as their bits (no float printing and
//! parsing, exact by construction) and text needs no escaping. Every field is its length (i32,
//! -1 for NULL) and its bytes in the type's binary form; a row starts with its field count.

use chrono::{DateTime, TimeZone};

use crate::store::{StoreError, StoreResult};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01 00:00 UTC.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

pub(crate) struct CopyBuf {
    buf: Vec<u8>,
    /// A field longer than a COPY field can be (the message says which); reported by
    /// [`CopyBuf::check`] so that the writers stay infallible.
    too_long: Option<usize>,
    /// Geometries are written as PostGIS's own binary form (EWKB carrying this SRID), for a
    /// `COPY` straight into a geometry column; `None` writes plain WKB into a `bytea` column.
    srid: Option<u32>,
}

/// The EWKB flag saying that an SRID follows the geometry type.
const EWKB_SRID_FLAG: u32 = 0x2000_0000;

impl CopyBuf {
    /// A buffer that starts with the stream's header.
    pub(crate) fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        Self {
            buf,
            too_long: None,
            srid: None,
        }
    }

    /// A buffer whose geometries go into `geometry` columns of SRID `srid` (EWKB), not into
    /// `bytea` (WKB).
    pub(crate) fn for_geometry_columns(capacity: usize, srid: u32) -> Self {
        Self {
            srid: Some(srid),
            ..Self::new(capacity)
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// The bytes written since the last [`CopyBuf::clear`].
    pub(crate) fn chunk(&mut self) -> &[u8] {
        &self.buf
    }

    /// Empties the buffer, keeping its capacity, once a chunk is sent.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
    }

    /// Ends the stream.
    pub(crate) fn trailer(&mut self) {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
    }

    pub(crate) fn check(&self) -> StoreResult<()> {
        match self.too_long {
            None => Ok(()),
            Some(n) => Err(StoreError::Conflict(format!(
                "a field of {n} bytes is longer than PostgreSQL stores"
            ))),
        }
    }

    /// Starts a row of `fields` fields.
    pub(crate) fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    fn len_prefix(&mut self, n: usize) {
        match i32::try_from(n) {
            Ok(n) => self.buf.extend_from_slice(&n.to_be_bytes()),
            Err(_) => {
                self.too_long.get_or_insert(n);
                self.buf.extend_from_slice(&0i32.to_be_bytes());
            }
        }
    }

    pub(crate) fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    /// `text` (also `bytea`: both are their bytes).
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.len_prefix(b.len());
        if i32::try_from(b.len()).is_ok() {
            self.buf.extend_from_slice(b);
        }
    }

    pub(crate) fn text(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    pub(crate) fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// A `bytea` field written in place by `write` (WKB), its length filled in afterwards.
    pub(crate) fn bytes_with(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        write(&mut self.buf)?;
        let n = self.buf.len() - at - 4;
        match i32::try_from(n) {
            Ok(n) => self.buf[at..at + 4].copy_from_slice(&n.to_be_bytes()),
            Err(_) => {
                self.too_long.get_or_insert(n);
            }
        }
        Ok(())
    }

    /// A geometry written by `write` as little-endian WKB: a `bytea` field as it is, or, for a
    /// geometry column, EWKB (the type word gets the SRID flag and the SRID follows it).
    pub(crate) fn geometry(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let srid = self.srid;
        self.bytes_with(|out| {
            let at = out.len();
            write(out)?;
            if let Some(srid) = srid {
                if out.len() < at + 5 || out[at] != 1 {
                    return Err(StoreError::Corrupt(
                        "a geometry was not little-endian WKB".into(),
                    ));
                }
                let mut ty = [0u8; 4];
                ty.copy_from_slice(&out[at + 1..at + 5]);
                let ty = u32::from_le_bytes(ty) | EWKB_SRID_FLAG;
                out[at + 1..at + 5].copy_from_slice(&ty.to_le_bytes());
                out.splice(at + 5..at + 5, srid.to_le_bytes());
            }
            Ok(())
        })
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&4i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn opt_f64(&mut self, v: Option<f64>) {
        match v {
            Some(v) => self.f64(v),
            None => self.null(),
        }
    }

    /// `timestamptz` (microseconds since 2000-01-01 UTC) of the whole second of `t`: imported
    /// instants are kept in whole seconds, as the SQLite file keeps them, so that both backends
    /// give back the same rows.
    pub(crate) fn timestamptz<Tz: TimeZone>(&mut self, t: &DateTime<Tz>) {
        self.i64(t.timestamp() * 1_000_000 - PG_EPOCH_MICROS);
    }

    pub(crate) fn opt_timestamptz<Tz: TimeZone>(&mut self, t: Option<&DateTime<Tz>>) {
        match t {
            Some(t) => self.timestamptz(t),
            None => self.null(),
        }
    }
}
