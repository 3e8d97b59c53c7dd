//! One cache for computed answers, shared by every endpoint: the serialised body keyed on
//! (endpoint, canonical query, caller class, snapshot version). A new snapshot changes the key,
//! so nothing computed on old data is served; the old entries are never asked for again and
//! age out by size (moka's TinyLFU over the bytes held).
//!
//! Beside it, [`Computed`]: intermediate results several answers are built from (the lighting
//! analysis of a snapshot and class plan), computed once per key, by one request at a time.

use std::future::Future;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A finished answer: body (in chunks), content type and, for overlays, the WGS84 bounds
/// header; a large one also gzipped, once, for every client that accepts gzip.
#[derive(Debug, Clone)]
pub struct Cached {
    pub body: Vec<Bytes>,
    pub content_type: &'static str,
    pub bounds: Option<String>,
    /// For answers of at least [`super::LARGE_ANSWER_BYTES`]: the body gzipped in parallel
    /// parts ([`gzip_stream`]) as the first client that accepts gzip is sent it, the first
    /// parts on their way while the last are compressed; then kept and sent as it is instead
    /// of compressing the answer again for every later request.
    pub gzip: Option<Arc<LazyGzip>>,
}

/// A large answer's gzipped copy, made once: by the first response that sends it gzipped.
#[derive(Debug, Default)]
pub struct LazyGzip {
    done: std::sync::OnceLock<Gzipped>,
}

/// A large answer without its gzipped copy yet, put in the response's extensions by
/// [`Cached::respond`]: [`super::send_pre_gzipped`] sends it to a client that accepts gzip as
/// [`gzip_stream`] compresses it, and the copy is kept for the next request.
#[derive(Debug, Clone)]
pub struct GzipPending {
    pub body: Vec<Bytes>,
    pub lazy: Arc<LazyGzip>,
}

/// A gzipped body, put in the response's extensions by [`Cached::respond`];
/// [`super::send_pre_gzipped`] sends it to clients that accept gzip.
#[derive(Debug, Clone)]
pub struct Gzipped(pub Vec<Bytes>);

impl Gzipped {
    pub fn len(&self) -> usize {
        self.0.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `chunks` as one gzip member (RFC 1952) at level 1, the chunks compressed in parallel: each
/// is its own run of deflate blocks ending on a byte boundary (a sync flush), so that the runs
/// joined are one deflate stream (as pigz makes them); the CRC-32 of the whole is combined
/// from the chunks'. Each chunk starts without the previous one's window, which costs a few
/// per cent of size at 256 KiB chunks.
pub fn gzip_parallel(chunks: &[Bytes]) -> Vec<Bytes> {
    use rayon::prelude::*;
    let last = chunks.len().saturating_sub(1);
    let parts: Vec<(Bytes, crc32fast::Hasher)> = chunks
        .par_iter()
        .enumerate()
        .map(|(i, chunk)| deflate_chunk(chunk, i == last))
        .collect();
    let mut out = gzip_head(chunks.is_empty());
    let mut crc = crc32fast::Hasher::new();
    for (deflated, part_crc) in parts {
        crc.combine(&part_crc);
        out.push(deflated);
    }
    out.push(gzip_trailer(crc, chunks.iter().map(Bytes::len).sum()));
    out
}

/// What [`gzip_parallel`] makes of `chunks`, sent part by part as the parts are compressed (in
/// parallel, on the blocking pool), so that the client inflates the first parts while the
/// last are made. Once all is sent, the whole is kept in `lazy`. A part not compressed yet
/// when the client has gone is not compressed at all.
pub fn gzip_stream(
    chunks: Vec<Bytes>,
    lazy: Arc<LazyGzip>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
    use tokio::sync::oneshot;
    let size = chunks.iter().map(Bytes::len).sum();
    let head = gzip_head(chunks.is_empty());
    let (txs, rxs): (Vec<_>, Vec<_>) = chunks
        .iter()
        .map(|_| oneshot::channel::<(Bytes, crc32fast::Hasher)>())
        .unzip();
    tokio::task::spawn_blocking(move || {
        use rayon::prelude::*;
        let last = chunks.len().saturating_sub(1);
        chunks
            .par_iter()
            .zip(txs)
            .enumerate()
            .for_each(|(i, (chunk, tx))| {
                if !tx.is_closed() {
                    let _ = tx.send(deflate_chunk(chunk, i == last));
                }
            });
    });
    struct State {
        parts: std::vec::IntoIter<oneshot::Receiver<(Bytes, crc32fast::Hasher)>>,
        crc: crc32fast::Hasher,
        sent: Vec<Bytes>,
        size: usize,
        lazy: Arc<LazyGzip>,
        done: bool,
    }
    let state = State {
        parts: rxs.into_iter(),
        crc: crc32fast::Hasher::new(),
        sent: head.clone(),
        size,
        lazy,
        done: false,
    };
    let rest = futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        let next = match st.parts.next() {
            // A compressing thread that panicked ends the answer short: the client sees a
            // broken gzip stream rather than a wrong answer.
            Some(rx) => {
                let (part, crc) = rx.await.ok()?;
                st.crc.combine(&crc);
                part
            }
            None => {
                st.done = true;
                let trailer = gzip_trailer(st.crc.clone(), st.size);
                st.sent.push(trailer.clone());
                let _ = st.lazy.done.set(Gzipped(std::mem::take(&mut st.sent)));
                return Some((Ok(trailer), st));
            }
        };
        st.sent.push(next.clone());
        Some((Ok(next), st))
    });
    futures_util::StreamExt::chain(futures_util::stream::iter(head.into_iter().map(Ok)), rest)
}

/// The gzip header (deflate, no name or time, XFL 4: fastest, OS unknown), and for an empty
/// body an empty final block (fixed codes, end of block at once).
fn gzip_head(empty: bool) -> Vec<Bytes> {
    let mut out = vec![Bytes::from_static(&[
        0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 4, 0xff,
    ])];
    if empty {
        out.push(Bytes::from_static(&[0x03, 0x00]));
    }
    out
}

/// The gzip trailer: the CRC-32 and the length (mod 2³²) of the uncompressed body.
fn gzip_trailer(crc: crc32fast::Hasher, size: usize) -> Bytes {
    let mut trailer = Vec::with_capacity(8);
    trailer.extend_from_slice(&crc.finalize().to_le_bytes());
    trailer.extend_from_slice(&(size as u32).to_le_bytes());
    Bytes::from(trailer)
}

/// One chunk deflated at level 1 on its own, ending on a byte boundary (a sync flush), or with
/// the final block when it is the `last`; and its CRC-32.
fn deflate_chunk(chunk: &[u8], last: bool) -> (Bytes, crc32fast::Hasher) {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new(Compression::fast(), false);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(chunk.len() / 3 + 1024);
    loop {
        let consumed = c.total_in() as usize;
        // The output grows until the whole chunk is in and flushed.
        out.reserve(64 * 1024);
        let status = c
            .compress_vec(&chunk[consumed..], &mut out, flush)
            .expect("deflate of bytes in memory does not fail");
        let done_in = c.total_in() as usize == chunk.len();
        if done_in
            && (status == flate2::Status::StreamEnd
                || (flush == FlushCompress::Sync && out.len() < out.capacity()))
        {
            break;
        }
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(chunk);
    (Bytes::from(out), crc)
}

/// The size of the chunks an answer is written in.
const CHUNK: usize = 256 * 1024;

/// An `io::Write` into chunks of [`CHUNK`] bytes: a large answer is written once, without the
/// copies a growing `Vec` makes (its doublings hold the old and the new buffer at once, up to
/// three times the answer), and sent as it is.
#[derive(Debug, Default)]
pub struct Chunks {
    done: Vec<Bytes>,
    current: Vec<u8>,
}

impl std::io::Write for Chunks {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // serde_json writes a token at a time: most writes fit the chunk being filled.
        if self.current.capacity() != 0 && self.current.len() + buf.len() < CHUNK {
            self.current.extend_from_slice(buf);
            return Ok(buf.len());
        }
        self.write_across(buf)
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.write(buf).map(|_| ())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Chunks {
    /// A write that starts the first chunk or fills the current one.
    #[cold]
    fn write_across(&mut self, mut buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            if self.current.capacity() == 0 {
                self.current.reserve_exact(CHUNK);
            }
            let room = CHUNK - self.current.len();
            let take = room.min(buf.len());
            self.current.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.current.len() == CHUNK {
                self.done
                    .push(Bytes::from(std::mem::take(&mut self.current)));
            }
        }
        Ok(n)
    }

    pub fn finish(mut self) -> Vec<Bytes> {
        if !self.current.is_empty() {
            self.current.shrink_to_fit();
            self.done.push(Bytes::from(self.current));
        }
        self.done
    }
}

impl Cached {
    /// `value` as JSON with the content type given, written in chunks.
    pub fn serialise(
        value: &impl serde::Serialize,
        content_type: &'static str,
    ) -> serde_json::Result<Self> {
        let mut w = Chunks::default();
        serde_json::to_writer(&mut w, value)?;
        Ok(Self::of_body(w.finish(), content_type))
    }

    /// A FeatureCollection as JSON, its features written in parallel lots: byte for byte what
    /// [`Cached::serialise`] writes of it (compact JSON: members in their order, features
    /// separated by commas alone), in a fraction of the time for tens of thousands of features.
    pub fn serialise_collection<C: crate::service::geojson::WrittenInLots>(
        c: &C,
        content_type: &'static str,
    ) -> serde_json::Result<Self> {
        use rayon::prelude::*;
        use std::io::Write;
        /// Features a parallel task writes: about half a megabyte of cells.
        const LOT: usize = 2048;
        let n = c.feature_count();
        let lots: Vec<Vec<Bytes>> = (0..n.div_ceil(LOT))
            .into_par_iter()
            .map(|lot| -> serde_json::Result<Vec<Bytes>> {
                let mut w = Chunks::default();
                c.write_features(lot * LOT..n.min((lot + 1) * LOT), &mut w)?;
                Ok(w.finish())
            })
            .collect::<serde_json::Result<_>>()?;
        let mut w = Chunks::default();
        w.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[")
            .map_err(serde_json::Error::io)?;
        let mut body = w.finish();
        for (i, lot) in lots.into_iter().enumerate() {
            if i > 0 {
                body.push(Bytes::from_static(b","));
            }
            body.extend(lot);
        }
        let mut w = Chunks::default();
        w.write_all(b"],\"meta\":").map_err(serde_json::Error::io)?;
        serde_json::to_writer(&mut w, c.meta())?;
        w.write_all(b"}").map_err(serde_json::Error::io)?;
        body.extend(w.finish());
        Ok(Self::of_body(body, content_type))
    }

    /// A written answer; one of [`super::LARGE_ANSWER_BYTES`] or more is to be gzipped once.
    fn of_body(body: Vec<Bytes>, content_type: &'static str) -> Self {
        let large = body.iter().map(Bytes::len).sum::<usize>() as u64 >= super::LARGE_ANSWER_BYTES;
        Self {
            gzip: large.then(Arc::default),
            body,
            content_type,
            bounds: None,
        }
    }

    pub fn json(body: Vec<u8>) -> Self {
        Self {
            body: vec![Bytes::from(body)],
            content_type: "application/json",
            bounds: None,
            gzip: None,
        }
    }

    /// The body's length in bytes.
    pub fn len(&self) -> usize {
        self.body.iter().map(Bytes::len).sum()
    }

    /// The bytes held: the body and its gzipped copy (counted as a fifth of the body, about
    /// what level 1 makes of GeoJSON, since the copy is made after the cache weighed it).
    pub fn held(&self) -> usize {
        self.len() + self.gzip.as_ref().map_or(0, |_| self.len() / 5)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The response, with `Cache-Control: private, max-age=60` (answers depend on the role).
    pub fn respond(&self) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=60"),
        );
        if let Some(b) = &self.bounds
            && let Ok(v) = HeaderValue::from_str(b)
        {
            headers.insert("x-bounds", v);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("X-Bounds"),
            );
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.len()));
        let chunks = self.body.clone();
        let body = Body::from_stream(futures_util::stream::iter(
            chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
        ));
        let mut r = (headers, body).into_response();
        if let Some(lazy) = &self.gzip {
            if let Some(gz) = lazy.done.get() {
                r.extensions_mut().insert(gz.clone());
            } else {
                r.extensions_mut().insert(GzipPending {
                    body: self.body.clone(),
                    lazy: lazy.clone(),
                });
            }
        }
        r
    }
}

/// What an answer depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub endpoint: &'static str,
    /// The query in a canonical form (e.g. the typed parameters' `Debug`).
    pub query: String,
    /// `public` or `full`: the two views of the same question.
    pub class: &'static str,
    pub snapshot: u64,
}

/// The answer cache: at most `max_bytes` of bodies (256 MB by default; no setting changes it).
#[derive(Clone)]
pub struct ResultCache {
    inner: moka::sync::Cache<CacheKey, Arc<Cached>>,
    /// The lighting analyses, per (snapshot version, class plan key).
    pub lighting: Computed<crate::analysis::lighting::LightingResult>,
    /// The OGC API – Features collections, per (snapshot version, collection and view).
    pub ogc: Computed<crate::service::ogc::Collection>,
}

/// Lighting analyses kept: a few class plans of the current snapshot.
const LIGHTING_ENTRIES: u64 = 8;

/// OGC API collections kept: every collection in both views of the current snapshot.
const OGC_ENTRIES: u64 = 16;

impl ResultCache {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            inner: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &CacheKey, v: &Arc<Cached>| {
                    let bytes = v.held() + k.query.len() + 64;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .build(),
            lighting: Computed::new(LIGHTING_ENTRIES),
            ogc: Computed::new(OGC_ENTRIES),
        }
    }

    pub fn get(&self, key: &CacheKey) -> Option<Arc<Cached>> {
        self.inner.get(key)
    }

    pub fn put(&self, key: CacheKey, value: Arc<Cached>) {
        self.inner.insert(key, value);
    }
}

impl Default for ResultCache {
    /// 256 MB of answers.
    fn default() -> Self {
        Self::new(256 * 1024 * 1024)
    }
}

/// Results computed once per (snapshot version, key) and shared: a request for a key that is
/// being computed waits for that computation instead of starting its own; a computation that
/// fails, or whose request is dropped (time-out, disconnect), leaves the key empty, and the next
/// request (or one already waiting) computes anew. Computing a key of a newer snapshot drops
/// those of older ones, whose data is gone; at most `entries` keys are kept, least recently used
/// first out.
pub struct Computed<V> {
    inner: moka::sync::Cache<(u64, String), Arc<tokio::sync::OnceCell<Arc<V>>>>,
}

impl<V> Clone for Computed<V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<V: Send + Sync + 'static> Computed<V> {
    pub fn new(entries: u64) -> Self {
        Self {
            inner: moka::sync::Cache::builder()
                .max_capacity(entries)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
        }
    }

    /// The result for (`snapshot`, `key`), computed by `compute` unless it is there.
    pub async fn get_or_try_compute<E, F, Fut>(
        &self,
        snapshot: u64,
        key: String,
        compute: F,
    ) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let mut fresh = false;
        let cell = self.inner.get_with((snapshot, key), || {
            fresh = true;
            Arc::default()
        });
        if fresh {
            for (k, _) in self.inner.iter() {
                if k.0 < snapshot {
                    self.inner.invalidate(k.as_ref());
                }
            }
        }
        let v = cell
            .get_or_try_init(|| async { compute().await.map(Arc::new) })
            .await?;
        Ok(v.clone())
    }

    /// The result for (`snapshot`, `key`) when it has been computed.
    pub fn get(&self, snapshot: u64, key: &str) -> Option<Arc<V>> {
        self.inner
            .get(&(snapshot, key.to_string()))
            .and_then(|c| c.get().cloned())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn chunks_keep_every_byte_in_order() {
        let mut w = Chunks::default();
        let data: Vec<u8> = (0..(CHUNK * 2 + 1234)).map(|i| (i % 251) as u8).collect();
        for part in data.chunks(1000) {
            w.write_all(part).unwrap();
        }
        let chunks = w.finish();
        assert_eq!(chunks.len(), 3);
        assert!(chunks[..2].iter().all(|c| c.len() == CHUNK));
        assert_eq!(chunks.concat(), data);
    }

    #[test]
    fn chunks_keep_every_byte_of_token_sized_writes() {
        // serde_json's writes: a few bytes each, crossing chunk boundaries anywhere.
        let mut w = Chunks::default();
        let mut data = Vec::new();
        let mut i = 0usize;
        while data.len() < CHUNK * 3 + 17 {
            let piece: Vec<u8> = (0..(i % 13)).map(|k| ((i * 31 + k) % 251) as u8).collect();
            w.write_all(&piece).unwrap();
            data.extend_from_slice(&piece);
            i += 1;
        }
        let chunks = w.finish();
        assert!(chunks[..3].iter().all(|c| c.len() == CHUNK));
        assert_eq!(chunks.concat(), data);
    }

    #[test]
    fn parallel_gzip_is_one_member_any_decoder_reads_back() {
        use std::io::Read;
        // Text-like bytes (compressible) and a noisy stretch, over several chunks.
        let mut data: Vec<u8> = Vec::new();
        let mut x: u32 = 7;
        while data.len() < CHUNK * 3 + 12_345 {
            data.extend_from_slice(b"{\"type\":\"Feature\",\"count\":");
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            data.extend_from_slice((x >> 8).to_string().as_bytes());
            data.push(b',');
        }
        for (input, n_chunks) in [
            (data.clone(), 4usize),
            (b"[1,2,3]".to_vec(), 1),
            (Vec::new(), 0),
        ] {
            let mut w = Chunks::default();
            w.write_all(&input).unwrap();
            let chunks = w.finish();
            assert_eq!(chunks.len(), n_chunks);
            let gz = gzip_parallel(&chunks).concat();
            assert_eq!(&gz[..3], &[0x1f, 0x8b, 0x08]);
            let mut back = Vec::new();
            // GzDecoder reads a single member and checks its CRC-32 and length.
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, input);
            if n_chunks > 1 {
                assert!(
                    gz.len() * 3 < input.len(),
                    "{} of {}",
                    gz.len(),
                    input.len()
                );
            }
        }
    }

    #[test]
    fn collections_written_in_parallel_lots_are_what_serde_writes() {
        use crate::service::geojson::FeatureCollection;
        #[derive(serde::Serialize)]
        struct Props {
            n: usize,
            z: f64,
            name: String,
        }
        #[derive(serde::Serialize)]
        struct Meta {
            count: usize,
            note: &'static str,
        }
        // No features, one, a lot and one over, and several lots crossing chunk boundaries.
        for n in [0usize, 1, 2048, 2049, 9_000] {
            let features: Vec<Props> = (0..n)
                .map(|i| Props {
                    n: i,
                    z: i as f64 / 7.0,
                    name: format!("cell \"{i}\" å"),
                })
                .collect();
            let c = FeatureCollection::new(
                features,
                Meta {
                    count: n,
                    note: "a \"note\"",
                },
            );
            let whole = Cached::serialise(&c, "application/json").unwrap();
            let lots = Cached::serialise_collection(&c, "application/json").unwrap();
            assert_eq!(lots.body.concat(), whole.body.concat(), "{n} features");
            assert_eq!(lots.gzip.is_some(), whole.gzip.is_some());
        }
    }

    #[test]
    fn cell_collections_written_by_hand_are_what_serde_writes_of_their_features() {
        use crate::service::geojson::{
            CellCollection, CellFeatures, Feature, FeatureCollection, Geometry,
        };
        #[derive(Clone, serde::Serialize)]
        struct Props {
            cell: [i32; 2],
            p: f64,
            label: String,
        }
        impl crate::service::geojson::CellProps for Props {}
        // Cells across lots and chunks; corners rounded to 7 decimals as answers have them,
        // and a few that are not (a whole degree, below 1, an unrounded value, a negative).
        for n in [0usize, 1, 2048, 2049, 9_000] {
            let ring = 5;
            let corners: Vec<[f64; 2]> = (0..n * ring)
                .map(|k| match k % 97 {
                    0 => [18.0, 59.0],
                    1 => [0.25, -0.000_000_1],
                    2 => [17.123_456_789_123, 1e-9],
                    3 => [-73.985_428_1, -0.0],
                    _ => [
                        crate::crs::round7(17.8 + k as f64 * 1.3e-6),
                        crate::crs::round7(59.3 + k as f64 * 0.7e-6),
                    ],
                })
                .collect();
            let props: Vec<Props> = (0..n)
                .map(|i| Props {
                    cell: [i as i32, -(i as i32)],
                    p: 1.0 / (i as f64 + 3.0),
                    label: format!("cell \"{i}\" å"),
                })
                .collect();
            let cells = CellFeatures::from_lots(ring, vec![(corners.clone(), props.clone())]);
            let by_hand = Cached::serialise_collection(
                &CellCollection::new(cells.clone(), "meta"),
                "application/json",
            )
            .unwrap();
            let features: Vec<Feature<Props>> = props
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    Feature::new(
                        Geometry::Polygon(vec![corners[i * ring..(i + 1) * ring].to_vec()]),
                        p,
                    )
                })
                .collect();
            let whole = serde_json::to_vec(&FeatureCollection::new(features, "meta")).unwrap();
            assert_eq!(by_hand.body.concat(), whole, "{n} cells");
            let serde = serde_json::to_vec(&CellCollection::new(cells, "meta")).unwrap();
            assert_eq!(serde, whole, "{n} cells through serde");
        }
    }

    #[tokio::test]
    async fn streamed_gzip_is_the_parallel_gzip_and_is_kept() {
        use futures_util::StreamExt;
        use std::io::Read;
        let mut data: Vec<u8> = Vec::new();
        let mut x: u32 = 11;
        while data.len() < CHUNK * 5 + 999 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            data.extend_from_slice(format!("{{\"z\":{}}},", x >> 9).as_bytes());
        }
        for input in [data, b"[]".to_vec(), Vec::new()] {
            let mut w = Chunks::default();
            w.write_all(&input).unwrap();
            let chunks = w.finish();
            let lazy = Arc::new(LazyGzip::default());
            let parts: Vec<Bytes> = gzip_stream(chunks.clone(), lazy.clone())
                .map(|r| r.unwrap())
                .collect()
                .await;
            let sent = parts.concat();
            // Byte for byte what the one-shot parallel gzip makes, and what a decoder that
            // checks the CRC-32 and the length reads back as the input.
            assert_eq!(sent, gzip_parallel(&chunks).concat());
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&sent[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, input);
            // Kept for the next request.
            assert_eq!(lazy.done.get().map(|g| g.0.concat()), Some(sent));
        }
    }

    fn key(q: &str, snapshot: u64) -> CacheKey {
        CacheKey {
            endpoint: "t",
            query: q.into(),
            class: "public",
            snapshot,
        }
    }

    #[test]
    fn keyed_on_the_snapshot_version() {
        let c = ResultCache::new(1 << 20);
        c.put(key("a", 1), Arc::new(Cached::json(b"[1]".to_vec())));
        assert_eq!(c.get(&key("a", 1)).unwrap().body.concat(), b"[1]");
        assert!(c.get(&key("a", 2)).is_none());
        assert!(c.get(&key("b", 1)).is_none());
    }

    #[test]
    fn bounded_by_bytes() {
        let c = ResultCache::new(10_000);
        for i in 0..100 {
            c.put(
                key(&i.to_string(), 1),
                Arc::new(Cached::json(vec![b' '; 1_000])),
            );
        }
        c.inner.run_pending_tasks();
        let held: u64 = c.inner.weighted_size();
        assert!(held <= 10_000, "{held} bytes held");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn computed_once_for_concurrent_requests() {
        let c: Computed<u32> = Computed::new(8);
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ask = |c: Computed<u32>, runs: Arc<std::sync::atomic::AtomicUsize>| async move {
            c.get_or_try_compute(1, "P5".into(), || async move {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                Ok::<_, String>(5)
            })
            .await
            .unwrap()
        };
        let (a, b) = tokio::join!(
            tokio::spawn(ask(c.clone(), runs.clone())),
            tokio::spawn(ask(c.clone(), runs.clone()))
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(*c.get(1, "P5").unwrap(), 5);
        assert!(c.get(1, "P4").is_none() && c.get(2, "P5").is_none());
    }

    #[tokio::test]
    async fn a_failed_or_dropped_computation_leaves_the_key_to_the_next_request() {
        let c: Computed<u32> = Computed::new(8);
        let e = c
            .get_or_try_compute(1, "k".into(), || async { Err::<u32, _>("no slot") })
            .await
            .unwrap_err();
        assert_eq!(e, "no slot");
        assert!(c.get(1, "k").is_none());
        // The request goes away while computing (its future is dropped at the time-out).
        let dropped = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            c.get_or_try_compute(1, "k".into(), || {
                std::future::pending::<Result<u32, String>>()
            }),
        )
        .await;
        assert!(dropped.is_err());
        assert!(c.get(1, "k").is_none());
        let v = c
            .get_or_try_compute(1, "k".into(), || async { Ok::<_, String>(7) })
            .await
            .unwrap();
        assert_eq!(*v, 7);
        // Once computed, nothing is computed again.
        let v = c
            .get_or_try_compute(1, "k".into(), || async { Ok::<_, String>(8) })
            .await
            .unwrap();
        assert_eq!(*v, 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_request_computes_when_the_computing_one_is_dropped() {
        let c: Computed<u32> = Computed::new(8);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let first = tokio::spawn({
            let c = c.clone();
            async move {
                c.get_or_try_compute(1, "k".into(), || async move {
                    let _ = started_tx.send(());
                    std::future::pending::<Result<u32, String>>().await
                })
                .await
            }
        });
        started_rx.await.unwrap();
        let second = tokio::spawn({
            let c = c.clone();
            async move {
                c.get_or_try_compute(1, "k".into(), || async { Ok::<_, String>(9) })
                    .await
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !second.is_finished(),
            "the second request waits for the first"
        );
        first.abort();
        let v = tokio::time::timeout(std::time::Duration::from_secs(5), second)
            .await
            .expect("the waiting request took over")
            .unwrap()
            .unwrap();
        assert_eq!(*v, 9);
    }

    #[tokio::test]
    async fn a_newer_snapshot_drops_the_older_results() {
        let c: Computed<u32> = Computed::new(8);
        for (snapshot, key) in [(1, "P5"), (1, "P4"), (2, "P5")] {
            c.get_or_try_compute(snapshot, key.into(), || async { Ok::<_, String>(1) })
                .await
                .unwrap();
        }
        c.inner.run_pending_tasks();
        let mut keys: Vec<(u64, String)> = c.inner.iter().map(|(k, _)| (*k).clone()).collect();
        keys.sort();
        assert_eq!(keys, vec![(2, "P5".to_string())]);
    }
}
