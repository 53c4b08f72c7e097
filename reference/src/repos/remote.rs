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
pub(crate) enum Outcome {
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
    /// Bearer tokens upstream registries issued, by remote and image, with when they expire.
    tokens: Mutex<HashMap<String, (String, i64)>>,
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
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

impl Remotes {
    /// Sends `req` as it is through the upstream client (no repository's rules: verify connection).
    pub(crate) async fn send_raw(
        &self,
        req: upstream::Request,
    ) -> Result<upstream::Response, upstream::Failure> {
        self.upstream.send(req).await
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

/// One file to fetch from upstream into a remote's cache.
pub(crate) struct Want {
    /// Where it goes in the cache (and what concurrent requests for it share).
    pub path: String,
    /// Its upstream URL.
    pub url: String,
    /// `Accept`, when the upstream needs one.
    pub accept: Option<&'static str>,
    /// The SHA-256 its bytes must have (a registry blob's digest).
    pub sha256: Option<String>,
    /// Properties of the cached file.
    pub props: Props,
}

impl Want {
    /// `path` of a generic remote, beside the repository's URL.
    fn file(c: &RepoConfig, path: &str) -> Want {
        Want {
            path: path.to_string(),
            url: upstream_url(c, path),
            accept: None,
            sha256: None,
            props: Props::default(),
        }
    }
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
    // `<remote>-cache` names what the remote holds, and never asks upstream.
    if folder || path.is_empty() || app.store.read().cache_of(key).is_some() {
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
        match fetch(app, caller, &c, Want::file(&c, path), cached, head).await? {
            (Some(s), _) => return Ok(Fetched::Streaming(s)),
            (None, Outcome::Cached) => return Ok(Fetched::Cache),
            (None, Outcome::Failed) if cached.is_some() => return Ok(Fetched::Cache),
            (None, _) => {}
        }
    }
    Ok(Fetched::Cache)
}

/// Fetches `want` for remote `c` (`cached`: the modification time of the copy the cache has), or
/// waits for the fetch of the same path already under way. A first download streams (`head`:
/// waited for instead); `Outcome::Cached` without a stream means the cache has it now.
pub(crate) async fn fetch(
    app: &AppState,
    caller: &Caller,
    c: &RepoConfig,
    want: Want,
    cached: Option<i64>,
    head: bool,
) -> Result<(Option<Streaming>, Outcome), ApiError> {
    let path = want.path.as_str();
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
    let mut headers: Vec<(String, String)> = cached
        .filter(|_| store)
        .map(|ms| vec![("if-modified-since".to_string(), http_date(ms))])
        .unwrap_or_default();
    if let Some(a) = want.accept {
        headers.push(("accept".into(), a.into()));
    }
    let req = upstream::Request {
        head: false,
        url: want.url.clone(),
        basic: basic(c),
        headers,
        timeout: timeout(c),
    };
    let upstream::Response {
        status,
        headers,
        body,
    } = match send(app, c, req).await {
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
        expect: want.sha256,
        props: want.props,
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

/// How long an upstream may take to answer, and between two reads of its body.
pub(crate) fn timeout(c: &RepoConfig) -> Duration {
    Duration::from_millis(settings::number(c, "socketTimeoutMillis").max(1) as u64)
}

/// Sends `req` to `c`'s upstream. A Docker remote with `enableTokenAuthentication` asks without
/// credentials (or with the token it holds for that image) and answers a `401` Bearer challenge
/// as the Docker token specification says: a token from the challenge's realm for its service
/// and scope, with the remote's credentials when it has some, then the request again.
pub(crate) async fn send(
    app: &AppState,
    c: &RepoConfig,
    mut req: upstream::Request,
) -> Result<upstream::Response, upstream::Failure> {
    let remotes = &app.remotes;
    let tokens = c.package_type == crate::config::PackageType::Docker
        && settings::flag(c, "enableTokenAuthentication");
    if !tokens {
        return remotes.upstream.send(req).await;
    }
    let now = app.config.clock.now_ms();
    let slot = format!("{}\n{}", c.key, token_scope(&req.url));
    let held = remotes
        .tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&slot)
        .filter(|(_, until)| *until > now)
        .map(|(t, _)| t.clone());
    let credentials = req.basic.take();
    let mut plain = req.clone();
    if let Some(t) = &held {
        plain
            .headers
            .push(("authorization".into(), format!("Bearer {t}")));
    }
    let first = remotes.upstream.send(plain).await?;
    if first.status != 401 {
        return Ok(first);
    }
    let challenge = upstream::header(&first.headers, "www-authenticate").unwrap_or("");
    let Some(params) = bearer_challenge(challenge) else {
        // A registry that wants Basic credentials gets them.
        return match credentials {
            Some(b)
                if challenge
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("basic") =>
            {
                req.basic = Some(b);
                remotes.upstream.send(req).await
            }
            _ => Ok(first),
        };
    };
    let token = fetch_token(app, c, &params, credentials, req.timeout).await?;
    let lifetime = token.1.clamp(1, 3600) * 1000;
    remotes
        .tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(slot, (token.0.clone(), now + lifetime - lifetime / 10));
    req.headers
        .push(("authorization".into(), format!("Bearer {}", token.0)));
    remotes.upstream.send(req).await
}

/// What a token covers: the URL up to the image's `/manifests/`, `/blobs/` or `/tags/`.
fn token_scope(url: &str) -> &str {
    // The last marker: an image may have `blobs` or `tags` as a component of its name.
    ["/manifests/", "/blobs/", "/tags/"]
        .iter()
        .filter_map(|m| url.rfind(m))
        .max()
        .map_or(url, |i| &url[..i])
}

/// The parameters of a `Bearer realm="...",service="...",scope="..."` challenge.
pub(crate) fn bearer_challenge(h: &str) -> Option<Vec<(String, String)>> {
    let h = h.trim();
    let rest = h
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("bearer "))
        .map(|_| &h[7..])?;
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                value.push(c);
                chars.next();
            }
        }
        out.push((name.trim().to_ascii_lowercase(), value));
    }
    out.iter().any(|(n, _)| n == "realm").then_some(out)
}

/// A token from the challenge's realm: the token and its lifetime in seconds.
async fn fetch_token(
    app: &AppState,
    c: &RepoConfig,
    params: &[(String, String)],
    basic: Option<(String, String)>,
    timeout: Duration,
) -> Result<(String, i64), upstream::Failure> {
    let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let realm = get("realm").unwrap_or("");
    let query: Vec<(&str, &str)> = ["service", "scope"]
        .iter()
        .filter_map(|k| get(k).map(|v| (*k, v)))
        .collect();
    let url = reqwest::Url::parse_with_params(realm, &query)
        .map_err(|e| upstream::Failure(format!("the token realm '{realm}' is not a URL: {e}")))?;
    let req = upstream::Request {
        head: false,
        url: url.to_string(),
        basic,
        headers: vec![("accept".into(), "application/json".into())],
        timeout,
    };
    let resp = app.remotes.upstream.send(req).await?;
    if resp.status != 200 {
        return Err(upstream::Failure(format!(
            "the token service of '{}' answered {}",
            c.key, resp.status
        )));
    }
    let bytes = crate::app::read_small(resp.body, 64 << 10)
        .await
        .map_err(|_| upstream::Failure("the token answer could not be read".into()))?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| upstream::Failure(format!("the token answer is not JSON: {e}")))?;
    let token = doc["token"]
        .as_str()
        .or(doc["access_token"].as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| upstream::Failure("the token answer holds no token".into()))?;
    Ok((token.to_string(), doc["expires_in"].as_i64().unwrap_or(60)))
}

/// The remote's upstream credentials, when it has a user name.
pub(crate) fn basic(c: &RepoConfig) -> Option<(String, String)> {
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
    /// The SHA-256 the bytes must have.
    expect: Option<String>,
    props: Props,
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
        let _busy = crate::app::Busy::new(&self.app.busy);
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
        if let Some(e) = self.expect.as_ref().filter(|e| **e != info.sha256) {
            return Err(format!(
                "the bytes upstream sent have the SHA-256 {}, not {e}",
                info.sha256
            ));
        }
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
            props: self.props.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_read_with_quoted_commas() {
        let p = bearer_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            p,
            [
                (
                    "realm".to_string(),
                    "https://auth.docker.io/token".to_string()
                ),
                ("service".to_string(), "registry.docker.io".to_string()),
                (
                    "scope".to_string(),
                    "repository:library/alpine:pull,push".to_string()
                ),
            ]
        );
        // Unquoted values, odd case, spaces after commas.
        let p = bearer_challenge("bearer Realm=http://h/t, service=s").unwrap();
        assert_eq!(p[0], ("realm".into(), "http://h/t".into()));
        assert_eq!(p[1], ("service".into(), "s".into()));
        // Not a Bearer challenge, or one without a realm; nothing panics on odd input.
        for h in [
            "Basic realm=\"x\"",
            "Bearer service=\"s\"",
            "Bearer",
            "Beärer x",
            "",
            "Bearer realm=\"unterminated",
        ] {
            let got = bearer_challenge(h);
            if h == "Bearer realm=\"unterminated" {
                assert_eq!(got.unwrap()[0].1, "unterminated");
            } else {
                assert!(got.is_none(), "{h}");
            }
        }
    }

    #[test]
    fn token_scope_is_the_image() {
        assert_eq!(
            token_scope("http://r/v2/library/alpine/manifests/3"),
            "http://r/v2/library/alpine"
        );
        assert_eq!(
            token_scope("http://r/v2/a/b/blobs/sha256:x"),
            "http://r/v2/a/b"
        );
        assert_eq!(
            token_scope("http://r/v2/org/blobs/app/manifests/1"),
            "http://r/v2/org/blobs/app"
        );
    }
}
