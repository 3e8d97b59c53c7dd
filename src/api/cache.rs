//! One cache for computed answers, shared by every endpoint: the serialised body keyed on
//! (endpoint, canonical query, caller class, snapshot version). A new snapshot changes the key,
//! so nothing computed on old data is served; the old entries are never asked for again and
//! age out by size (moka's TinyLFU over the bytes held).

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A finished answer: body, content type and, for overlays, the WGS84 bounds header.
#[derive(Debug, Clone)]
pub struct Cached {
    pub body: Bytes,
    pub content_type: &'static str,
    pub bounds: Option<String>,
}

impl Cached {
    pub fn geojson(body: Vec<u8>) -> Self {
        Self {
            body: Bytes::from(body),
            content_type: "application/geo+json",
            bounds: None,
        }
    }

    pub fn json(body: Vec<u8>) -> Self {
        Self {
            body: Bytes::from(body),
            content_type: "application/json",
            bounds: None,
        }
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
        (headers, self.body.clone()).into_response()
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
                    let bytes = v.body.len() + k.query.len() + 64;
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
    use super::*;

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
        assert_eq!(c.get(&key("a", 1)).unwrap().body.as_ref(), b"[1]");
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
