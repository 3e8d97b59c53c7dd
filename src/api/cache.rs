//! One cache for computed answers, shared by every endpoint: the serialised body keyed on
//! (endpoint, canonical query, caller class, snapshot version). A new snapshot changes the key,
//! so nothing computed on old data is served; the old entries are never asked for again and
//! age out by size (moka's TinyLFU over the bytes held).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A finished answer: body (in chunks), content type and, for overlays, the WGS84 bounds
/// header.
#[derive(Debug, Clone)]
pub struct Cached {
    pub body: Vec<Bytes>,
    pub content_type: &'static str,
    pub bounds: Option<String>,
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
    fn write(&mut self, mut buf: &[u8]) -> std::io::Result<usize> {
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

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Chunks {
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
        Ok(Self {
            body: w.finish(),
            content_type,
            bounds: None,
        })
    }

    pub fn json(body: Vec<u8>) -> Self {
        Self {
            body: vec![Bytes::from(body)],
            content_type: "application/json",
            bounds: None,
        }
    }

    /// The body's length in bytes.
    pub fn len(&self) -> usize {
        self.body.iter().map(Bytes::len).sum()
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
        (headers, body).into_response()
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

/// The answer cache (`cache_mb` of bodies at most).
#[derive(Clone)]
pub struct ResultCache {
    inner: moka::sync::Cache<CacheKey, Arc<Cached>>,
}

impl ResultCache {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            inner: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &CacheKey, v: &Arc<Cached>| {
                    let bytes = v.len() + k.query.len() + 64;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .build(),
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
}
