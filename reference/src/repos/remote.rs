//! Remote repositories: a path not in the cache (or in it past `retrievalCachePeriodSecs`) is
//! fetched from upstream through [`super::upstream`]. The first request for a missing file streams
//! the upstream's bytes to its client and into the blob store in one pass, and the cache entry is
//! committed (its three digests checked against the upstream's `X-Checksum-*` when given) before
//! that client gets the last chunk; requests for the same file meanwhile wait for it and are
//! served from the cache, so upstream sees one request. A cached file past its period is
//! revalidated with `If-Modified-Since`. A 404 upstream is remembered for
//! `missedRetrievalCachePeriodSecs`; `offline` repositories answer from the cache only; an
//! upstream that fails leaves a cached copy served, and is a 404 (`hardFail`: the error) when
//! there is none. `storeArtifactsLocally: false` proxies without caching.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use super::settings;
use super::upstream::{self, Upstream};
use crate::app::{AppState, Body};
use crate::auth::Caller;
use crate::clock::http_date;
use crate::config::{RepoClass, RepoConfig};
use crate::error::ApiError;
use crate::store::blobs::Inline;
use crate::store::{FileData, Item, Mutation, Original, Props, Stamp};

/// How a fetch ended, for the requests that waited on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The file is in the cache now.
    Cached,
    /// Upstream has no such file.
    Missing,
    /// Upstream failed (the cache keeps what it had).
    Failed,
}

/// The fetches in flight and the misses remembered, per remote repository and path.
#[derive(Debug)]
pub(crate) struct Remotes {
    upstream: Box<dyn Upstream>,
    inflight: Mutex<HashMap<String, watch::Receiver<Option<Outcome>>>>,
    misses: Mutex<HashMap<String, i64>>,
}

impl Default for Remotes {
    fn default() -> Remotes {
        Remotes::new(Box::new(upstream::Http::default()))
    }
}

impl Remotes {
    /// Fetching through `upstream`.
    pub(crate) fn new(upstream: Box<dyn Upstream>) -> Remotes {
        Remotes {
            upstream,
            inflight: Mutex::new(HashMap::new()),
            misses: Mutex::new(HashMap::new()),
        }
    }
}

/// A download streaming from upstream to the client that asked first.
pub(crate) struct Streaming {
    /// The upstream's `Content-Length`.
    pub size: Option<u64>,
    /// The upstream's `Last-Modified`, epoch ms.
    pub last_modified: Option<i64>,
    /// Checksums the upstream sent (`X-Checksum-Sha1`, `-Md5`, `-Sha256`).
    pub sha1: Option<String>,
    pub md5: Option<String>,
    pub sha256: Option<String>,
    /// The bytes.
    pub body: mpsc::Receiver<Result<Bytes, std::io::Error>>,
}

/// What a remote holds at `path` for a request now.
pub(crate) enum Fetched {
    /// Look in the cache (it has the file, or nothing can be had).
    Cache,
    /// The first download: stream this.
    Streaming(Streaming),
}

/// The upstream URL of `path` in remote repository `c`.
pub(crate) fn upstream_url(c: &RepoConfig, path: &str) -> String {
    let base = c.url.as_deref().unwrap_or("").trim_end_matches('/');
    format!("{base}/{}", encode(path))
}

/// `path` with each segment percent-encoded once.
fn encode(path: &str) -> String {
    const SEG: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'[')
        .add(b']')
        .add(b'\\')
        .add(b'^')
        .add(b'|')
        .add(b';');
    path.split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, SEG).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a cached item is still within `retrievalCachePeriodSecs`.
fn fresh(c: &RepoConfig, item: &Item, now: i64) -> bool {
    let period = settings::number(c, "retrievalCachePeriodSecs");
    now.saturating_sub(item.updated) < period.saturating_mul(1000)
}

/// Makes what `key` (a remote, or a virtual with remote members) resolves `path` to available:
/// walks the members in order until one has it, fetching from remote members that do not. A
/// first download streams (`head`: waited for instead). Folders are never fetched.
pub(crate) async fn prepare(
    app: &AppState,
    caller: &Caller,
    key: &str,
    path: &str,
    folder: bool,
    head: bool,
) -> Result<Fetched, ApiError> {
    if folder || path.is_empty() {
        return Ok(Fetched::Cache);
    }
    let now = app.config.clock.now_ms();
    // Members up to the first one that holds the path, remote ones that need upstream collected.
    let remotes: Vec<(RepoConfig, Option<i64>)> = {
        let state = app.store.read();
        let mut out = Vec::new();
        for r in super::resolve::members(&state, key, path) {
            let item = r.items.get(path);
            match r.config.rclass {
                RepoClass::Remote => {
                    let stale = item.filter(|i| !i.is_folder());
                    if stale.is_some_and(|i| fresh(&r.config, i, now)) {
                        break;
                    }
                    out.push((r.config.clone(), stale.map(|i| i.modified)));
                    if stale.is_some() && settings::flag(&r.config, "offline") {
                        break;
                    }
                }
                _ if item.is_some() => break,
                _ => {}
            }
        }
        out
    };
    for (c, cached) in remotes {
        if settings::flag(&c, "offline") {
            if cached.is_some() {
                return Ok(Fetched::Cache);
            }
            continue;
        }
        match fetch(app, caller, &c, path, cached, head).await? {
            (Some(s), _) => return Ok(Fetched::Streaming(s)),
            (None, Outcome::Cached) => return Ok(Fetched::Cache),
            (None, Outcome::Failed) if cached.is_some() => return Ok(Fetched::Cache),
            (None, _) => {}
        }
    }
    Ok(Fetched::Cache)
}

/// Fetches `path` of remote `c`, or waits for the fetch already under way.
async fn fetch(
    app: &AppState,
    caller: &Caller,
    c: &RepoConfig,
    path: &str,
    cached: Option<i64>,
    head: bool,
) -> Result<(Option<Streaming>, Outcome), ApiError> {
    let id = format!("{}\n{path}", c.key);
    let now = app.config.clock.now_ms();
    let missed = settings::number(c, "missedRetrievalCachePeriodSecs").saturating_mul(1000);
    let remotes = &app.remotes;
    if cached.is_none() {
        let misses = remotes.misses.lock().unwrap_or_else(|e| e.into_inner());
        if misses
            .get(&id)
            .is_some_and(|t| now.saturating_sub(*t) < missed)
        {
            return Ok((None, Outcome::Missing));
        }
    }
    let store = settings::flag(c, "storeArtifactsLocally");
    let done = if store {
        match join(app, &id) {
            Ok(done) => Some(done),
            Err(mut rx) => return Ok((None, settled(&mut rx).await)),
        }
    } else {
        None
    };
    let req = upstream::Request {
        head: false,
        url: upstream_url(c, path),
        basic: basic(c),
        headers: cached
            .filter(|_| store)
            .map(|ms| vec![("if-modified-since".to_string(), http_date(ms))])
            .unwrap_or_default(),
        timeout: Duration::from_millis(settings::number(c, "socketTimeoutMillis").max(1) as u64),
    };
    let upstream::Response {
        status,
        headers,
        body,
    } = match remotes.upstream.send(req).await {
        Ok(r) => r,
        Err(upstream::Failure(why)) => {
            tracing::warn!("remote {}: {path}: {why}", c.key);
            finish(done, Outcome::Failed);
            return failed(c, cached, &why);
        }
    };
    match status {
        200 => {}
        304 if cached.is_some() => {
            revalidated(app, caller, c, path).await;
            finish(done, Outcome::Cached);
            return Ok((None, Outcome::Cached));
        }
        404 | 410 => {
            remotes
                .misses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, now);
            finish(done, Outcome::Missing);
            return Ok((None, Outcome::Missing));
        }
        s => {
            let why = format!("upstream answered {s}");
            tracing::warn!("remote {}: {path}: {why}", c.key);
            finish(done, Outcome::Failed);
            return failed(c, cached, &why);
        }
    }
    remotes
        .misses
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    let header = |n: &str| upstream::header(&headers, n);
    let hdr = |n: &str| header(n).map(|v| v.trim().to_ascii_lowercase());
    let sent = Original {
        sha1: hdr("x-checksum-sha1"),
        md5: hdr("x-checksum-md5"),
        sha256: hdr("x-checksum-sha256"),
    };
    let size = header("content-length").and_then(|v| v.trim().parse().ok());
    let last_modified = header("last-modified")
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64);
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let streaming = Streaming {
        size,
        last_modified,
        sha1: sent.sha1.clone(),
        md5: sent.md5.clone(),
        sha256: sent.sha256.clone(),
        body: rx,
    };
    let Some(done) = done else {
        // Proxy only: the bytes go to the client and nowhere else.
        tokio::spawn(forward(body, tx));
        return Ok((Some(streaming), Outcome::Cached));
    };
    let task = Cache {
        app: app.clone(),
        user: caller.name.clone(),
        repo: c.key.clone(),
        path: path.to_string(),
        last_modified,
        sent,
    };
    let mut outcome = done.tx.subscribe();
    tokio::spawn(task.run(body, tx, done));
    if head {
        // HEAD: nobody reads the stream; the download goes on into the cache and is waited for.
        drop(streaming);
        let outcome = settled(&mut outcome).await;
        return Ok((None, outcome));
    }
    Ok((Some(streaming), Outcome::Cached))
}

/// Becomes the fetch of `id`, or (`Err`) hands back the one already under way.
fn join(app: &AppState, id: &str) -> Result<Done, watch::Receiver<Option<Outcome>>> {
    let mut inflight = app
        .remotes
        .inflight
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(rx) = inflight.get(id) {
        return Err(rx.clone());
    }
    let (tx, rx) = watch::channel(None);
    inflight.insert(id.to_string(), rx);
    Ok(Done {
        app: app.clone(),
        id: id.to_string(),
        tx,
    })
}

/// How the fetch `rx` follows ends.
async fn settled(rx: &mut watch::Receiver<Option<Outcome>>) -> Outcome {
    rx.wait_for(Option::is_some)
        .await
        .map(|o| o.unwrap_or(Outcome::Failed))
        .unwrap_or(Outcome::Failed)
}

/// An upstream failure: a cached copy is served; without one, a 404 (`hardFail`: the error).
fn failed(
    c: &RepoConfig,
    cached: Option<i64>,
    why: &str,
) -> Result<(Option<Streaming>, Outcome), ApiError> {
    if cached.is_none() && settings::flag(c, "hardFail") {
        return Err(ApiError::new(
            502,
            format!(
                "Failed to retrieve resource from remote repository '{}': {why}",
                c.key
            ),
        ));
    }
    Ok((None, Outcome::Failed))
}

fn basic(c: &RepoConfig) -> Option<(String, String)> {
    let user = settings::username(c);
    (!user.is_empty()).then(|| {
        (
            user.to_string(),
            c.password.as_deref().unwrap_or("").to_string(),
        )
    })
}

/// Upstream said 304: the cached file is current again (`lastUpdated` moves on).
async fn revalidated(app: &AppState, caller: &Caller, c: &RepoConfig, path: &str) {
    let now = app.config.clock.now_ms();
    let check = |state: &crate::store::State| {
        let item = state
            .item(&c.key, path)
            .filter(|i| !i.is_folder())
            .ok_or_else(|| ApiError::internal("the cached file went away"))?;
        let file = item
            .file
            .as_deref()
            .cloned()
            .ok_or_else(|| ApiError::internal("the cached file went away"))?;
        Ok::<_, ApiError>(Mutation::PutFile {
            repo: c.key.clone(),
            path: path.to_string(),
            file,
            props: item.props.clone(),
            now,
            user: caller.name.clone(),
            stamp: Stamp {
                created: Some(item.created),
                modified: Some(item.modified),
                modified_by: Some(item.modified_by.to_string()),
            },
        })
    };
    if let Err(e) = app.store.transact(check, |_| ()).await {
        tracing::warn!(
            "remote {}: {path}: could not mark the cache current: {e:?}",
            c.key
        );
    }
}

/// Ends a fetch: waiters learn the outcome, and the next request starts afresh.
struct Done {
    app: AppState,
    id: String,
    tx: watch::Sender<Option<Outcome>>,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.app
            .remotes
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        // A fetch dropped without an outcome (a panic, a cancelled task) failed.
        self.tx.send_if_modified(|o| {
            if o.is_none() {
                *o = Some(Outcome::Failed);
                true
            } else {
                false
            }
        });
    }
}

fn finish(done: Option<Done>, outcome: Outcome) {
    if let Some(d) = done {
        let _ = d.tx.send(Some(outcome));
    }
}

/// Hands `body` to a client as it comes, until the client goes away.
async fn forward(mut body: Body, tx: mpsc::Sender<Result<Bytes, std::io::Error>>) {
    while let Some(chunk) = body.next().await {
        if tx.send(chunk).await.is_err() {
            return;
        }
    }
}

/// A first download going into the cache.
struct Cache {
    app: AppState,
    user: String,
    repo: String,
    path: String,
    last_modified: Option<i64>,
    sent: Original,
}

impl Cache {
    /// Reads `body` into the blob store, handing each chunk to the client as the next one arrives;
    /// the last chunk goes out only after the cache entry is committed (or the client gets an
    /// error instead, and the cache is left as it was).
    async fn run(self, body: Body, tx: mpsc::Sender<Result<Bytes, std::io::Error>>, done: Done) {
        let held: Arc<Mutex<Option<Bytes>>> = Arc::default();
        let (held2, tx2) = (held.clone(), tx.clone());
        let tee = body.then(move |chunk| {
            let (held, tx) = (held2.clone(), tx2.clone());
            async move {
                match &chunk {
                    Ok(b) => {
                        let previous = held
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .replace(b.clone());
                        if let Some(p) = previous {
                            // A client that went away does not stop the download.
                            let _ = tx.send(Ok(p)).await;
                        }
                    }
                    Err(e) => {
                        let _ = tx
                            .send(Err(std::io::Error::new(e.kind(), e.to_string())))
                            .await;
                    }
                }
                chunk
            }
        });
        let _pin = self.app.store.blobs.pin().await;
        let outcome = match self.commit(tee).await {
            Ok(()) => {
                let last = held.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(last) = last {
                    let _ = tx.send(Ok(last)).await;
                }
                Outcome::Cached
            }
            Err(why) => {
                tracing::warn!("remote {}: {}: {why}", self.repo, self.path);
                let _ = tx.send(Err(std::io::Error::other(why))).await;
                Outcome::Failed
            }
        };
        let _ = done.tx.send(Some(outcome));
    }

    async fn commit(
        &self,
        body: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>>,
    ) -> Result<(), String> {
        let info = self
            .app
            .store
            .blobs
            .ingest_digests(body, self.app.config.max_upload, Inline::NoMd5)
            .await
            .map_err(|e| format!("the download failed: {e:?}"))?;
        let o = &self.sent;
        for (name, sent, actual) in [
            ("SHA-1", &o.sha1, &info.sha1),
            ("MD5", &o.md5, &info.md5),
            ("SHA-256", &o.sha256, &info.sha256),
        ] {
            // MD5 is computed after the download (`Inline::NoMd5`): the one the upstream sent
            // stays as the original checksum, which file info shows beside the actual one.
            if actual.is_empty() {
                continue;
            }
            if let Some(s) = sent.as_ref().filter(|s| !s.eq_ignore_ascii_case(actual)) {
                return Err(format!(
                    "the upstream's {name} {s} is not that of the bytes it sent ({actual})"
                ));
            }
        }
        let file = FileData {
            size: info.size,
            sha1: info.sha1.into(),
            md5: info.md5.into(),
            sha256: info.sha256.into(),
            original: (o.sha1.is_some() || o.md5.is_some() || o.sha256.is_some())
                .then(|| Box::new(o.clone())),
            mime: crate::mime::for_name(&self.path).into(),
            stats: None,
        };
        let put = Mutation::PutFile {
            repo: self.repo.clone(),
            path: self.path.clone(),
            file,
            props: Props::default(),
            now: self.app.config.clock.now_ms(),
            user: self.user.clone(),
            stamp: Stamp {
                created: None,
                modified: self.last_modified,
                modified_by: None,
            },
        };
        self.app
            .store
            .transact(|_| Ok::<_, ApiError>(put), |_| ())
            .await
            .map_err(|e| format!("the cache entry was not committed: {e:?}"))
    }
}
