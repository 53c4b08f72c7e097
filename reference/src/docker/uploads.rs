//! Blob upload sessions (`POST /v2/<name>/blobs/uploads/`, `PATCH`, `PUT ?digest=`, `DELETE`).
//!
//! Each chunk is streamed into the blob store as it arrives (digests computed on the way, memory
//! bounded); a session is the ordered list of those parts. Finishing a one-part session (what most
//! clients send) reuses the part as the blob; several parts are concatenated into a new blob. Parts are
//! held from garbage collection while their session lives; abandoned sessions expire.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::PackageType;
use crate::store::{BlobInfo, Mutation, Store};

use super::UPLOADS;

/// How long an untouched session (and a finished upload no manifest claimed) lives: one day, as
/// Artifactory's `_uploads` cleanup job.
pub const TTL_MS: i64 = 24 * 3600 * 1000;

/// One upload in progress.
#[derive(Clone, Debug)]
pub struct Session {
    /// Repository key.
    pub repo: String,
    /// Image name.
    pub image: String,
    /// Stored parts, in order.
    pub parts: Vec<BlobInfo>,
    /// Bytes received so far.
    pub size: u64,
    /// Last activity (ms).
    pub touched: i64,
}

/// The open sessions.
#[derive(Debug, Default)]
pub struct Uploads {
    map: Mutex<HashMap<String, Session>>,
    /// When the last cleanup ran (ms; 0 = never).
    last_clean: std::sync::atomic::AtomicI64,
}

impl Uploads {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session; returns its id.
    pub fn start(&self, repo: &str, image: &str, now: i64) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.map().insert(
            id.clone(),
            Session {
                repo: repo.into(),
                image: image.into(),
                parts: Vec::new(),
                size: 0,
                touched: now,
            },
        );
        id
    }

    /// The session `id` if it belongs to `repo`/`image`.
    pub fn get(&self, id: &str, repo: &str, image: &str) -> Option<Session> {
        self.map()
            .get(id)
            .filter(|s| s.repo == repo && s.image == image)
            .cloned()
    }

    /// Appends a stored part (held from garbage collection until the session ends). Fails, releasing
    /// nothing, when the session is gone or no longer at `expected_size` (a concurrent chunk).
    pub fn append(
        &self,
        store: &Store,
        id: &str,
        expected_size: u64,
        part: BlobInfo,
        now: i64,
    ) -> Option<u64> {
        let mut map = self.map();
        let s = map.get_mut(id).filter(|s| s.size == expected_size)?;
        store.hold(&part.sha256);
        s.size += part.size;
        s.parts.push(part);
        s.touched = now;
        Some(s.size)
    }

    /// Ends a session (finished or cancelled); its parts are released to garbage collection.
    pub fn end(&self, store: &Store, id: &str) -> Option<Session> {
        let s = self.map().remove(id)?;
        for p in &s.parts {
            store.release(&p.sha256);
        }
        Some(s)
    }

    /// Whether a cleanup is due (more than `every` ms since the last one); if so, it counts as run.
    pub fn due(&self, now: i64, every: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.last_clean.load(Ordering::Relaxed);
        if last != 0 && now - last < every {
            return false;
        }
        self.last_clean
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Ends every session untouched since `now - TTL_MS`; returns how many.
    pub fn expire(&self, store: &Store, now: i64) -> usize {
        let old: Vec<String> = self
            .map()
            .iter()
            .filter(|(_, s)| s.touched < now - TTL_MS)
            .map(|(k, _)| k.clone())
            .collect();
        for id in &old {
            self.end(store, id);
        }
        old.len()
    }
}

/// Removes abandoned upload sessions and finished uploads no manifest claimed within a day.
pub(crate) async fn clean(state: &crate::app::App) {
    let now = state.config.clock.now_ms();
    // Upload starts call this too: scanning the Docker repositories at most once a minute keeps it
    // off the hot path.
    if !state.uploads.due(now, 60_000) {
        return;
    }
    state.uploads.expire(&state.store, now);
    let stale: Vec<(String, String)> = {
        let s = state.store.read();
        s.repos
            .values()
            .filter(|r| r.config.package_type == PackageType::Docker)
            .flat_map(|r| {
                r.items
                    .iter()
                    .filter(|(k, i)| {
                        !i.is_folder()
                            && k.rsplit_once('/').is_some_and(|(f, _)| {
                                f.ends_with(&format!("/{UPLOADS}")) || f == UPLOADS
                            })
                            && i.created < now - TTL_MS
                    })
                    .map(|(k, _)| (r.config.key.clone(), k.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    if stale.is_empty() {
        return;
    }
    let steps = stale
        .into_iter()
        .map(|(repo, path)| Mutation::Delete { repo, path })
        .collect();
    if let Err(e) = state.store.commit(Mutation::Batch { steps }).await {
        tracing::warn!("cleaning docker uploads failed: {e:?}");
    }
}

// ---------- the upload flow ----------

use futures_util::StreamExt;
use serde_json::json;

use super::registry::{parse_digest, Asker, Reg};
use super::{Code, Digest, RegistryError};
use crate::app::Body;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::store::{FileData, IngestError, Props, Stamp};

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("registry: {e}");
    ApiError::internal(e)
}

/// The headers of an upload in progress: where it continues, its id and what has arrived.
pub(crate) fn progress(reg: &Reg, image: &str, id: &str, size: u64) -> [(&'static str, String); 3] {
    // Artifactory (like distribution) sends `0-0` before anything arrived.
    let range = if size == 0 {
        "0-0".to_string()
    } else {
        format!("0-{}", size - 1)
    };
    [
        (
            "location",
            format!("{}/{image}/blobs/uploads/{id}", reg.prefix),
        ),
        ("docker-upload-uuid", id.to_string()),
        ("range", range),
    ]
}

/// How a `POST .../blobs/uploads/` ended.
#[derive(Debug)]
pub(crate) enum Started {
    /// The blob is there already (mounted, or uploaded whole with the POST).
    Linked(Digest),
    /// A session to send the blob to.
    Session(String),
}

/// Streams a request body into the blob store (SHA-256 only; SHA-1 and MD5 follow later).
async fn ingest(app: &crate::app::App, body: Body) -> Result<BlobInfo, ApiError> {
    let _busy = crate::app::Busy::new(&app.busy);
    app.store
        .blobs
        .ingest_digests(
            body,
            app.config.max_upload,
            crate::store::blobs::Inline::Sha256,
        )
        .await
        .map_err(|e| match e {
            IngestError::Body(m) => RegistryError::new(Code::BlobUploadInvalid)
                .message(format!("could not read the body: {m}"))
                .into(),
            IngestError::TooLarge => RegistryError::new(Code::SizeInvalid)
                .status(413)
                .message("blob is too large")
                .into(),
            IngestError::Io(e) => internal(e),
        })
}

/// Starts an upload: a cross-repository mount (`mount`, `from`), a monolithic upload (`digest`),
/// or a session.
pub(crate) async fn start(
    ask: Asker<'_>,
    reg: &Reg,
    image: &str,
    mount: Option<(&str, &str)>,
    digest: Option<&str>,
    body: Body,
) -> Result<Started, ApiError> {
    let app = ask.app;
    let caller = ask.need(reg, image, Action::Deploy)?;
    clean(app).await;
    if let Some((m, from)) = mount {
        let d = parse_digest(m)?;
        // Garbage collection must not remove the blob between finding it and linking it.
        let _pin = app.store.blobs.pin().await;
        if let Some(f) = mountable(ask, &caller, reg, &d, from) {
            link(app, &caller, reg, image, &d, f).await?;
            return Ok(Started::Linked(d));
        }
    }
    if let Some(dg) = digest {
        // Monolithic upload in the POST itself.
        let d = parse_digest(dg)?;
        let _pin = app.store.blobs.pin().await;
        let info = ingest(app, body).await?;
        check_and_link(app, &caller, reg, image, &d, info).await?;
        return Ok(Started::Linked(d));
    }
    let id = app
        .uploads
        .start(&reg.repo, image, app.config.clock.now_ms());
    Ok(Started::Session(id))
}

/// The blob `d` of `from` when it is in a local Docker repository and the caller may read it.
fn mountable(
    ask: Asker<'_>,
    caller: &Caller,
    reg: &Reg,
    d: &Digest,
    from: &str,
) -> Option<FileData> {
    let (from_repo, from_image) = match from.split_once('/') {
        // Repository-path method: `from` names `<repo>/<image>`.
        Some((a, b)) if reg.at_root() => (a.to_string(), b.to_string()),
        _ => (reg.repo.clone(), from.to_string()),
    };
    let state = ask.app.store.read();
    state
        .repo(&from_repo)
        .filter(|rp| {
            super::valid_name(&from_image)
                && rp.config.package_type == PackageType::Docker
                && rp.is_local()
        })
        .and_then(|rp| super::find_blob(rp, &from_image, d))
        .filter(|(path, _)| {
            ask.app
                .auth
                .may(&state, caller, Action::Read, &from_repo, path)
        })
        .and_then(|(_, i)| i.file.clone().map(|f| *f))
}

fn session(app: &crate::app::App, reg: &Reg, image: &str, id: &str) -> Result<Session, ApiError> {
    app.uploads.get(id, &reg.repo, image).ok_or_else(|| {
        RegistryError::new(Code::BlobUploadUnknown)
            .detail(json!({ "uuid": id }))
            .into()
    })
}

/// `Content-Range: <start>-<end>` (with or without `bytes `).
fn content_range(h: Option<&str>) -> Result<Option<(u64, u64)>, RegistryError> {
    let Some(h) = h else {
        return Ok(None);
    };
    let v = h
        .trim()
        .trim_start_matches("bytes")
        .trim()
        .trim_start_matches('=');
    let v = v.split('/').next().unwrap_or("");
    let bad = || {
        RegistryError::new(Code::BlobUploadInvalid).message(format!("invalid Content-Range: {h}"))
    };
    let (a, b) = v.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

/// The chunk's `Content-Range`, which must start where the received bytes end: else `416` with
/// the upload's progress headers, and the session goes on (the client resumes from there).
fn in_order(
    reg: &Reg,
    image: &str,
    id: &str,
    received: u64,
    range: Option<&str>,
) -> Result<Option<(u64, u64)>, ApiError> {
    let range = content_range(range)?;
    if let Some((a, _)) = range.filter(|(a, _)| *a != received) {
        let e = RegistryError::new(Code::BlobUploadInvalid)
            .status(416)
            .message(format!(
                "chunk starts at {a} but {received} bytes were received"
            ));
        let mut e = ApiError::from(e);
        for (k, v) in progress(reg, image, id, received) {
            e = e.with_header(k, v);
        }
        return Err(e);
    }
    Ok(range)
}

/// A chunk that arrived must be as long as its `Content-Range` said.
fn fits(range: Option<(u64, u64)>, part: &BlobInfo) -> Result<(), ApiError> {
    match range {
        // `b - a` cannot overflow (b >= a); the length is one more.
        Some((a, b)) if part.size == 0 || part.size - 1 != b - a => {
            Err(RegistryError::new(Code::SizeInvalid)
                .message(format!(
                    "Content-Range says {a}-{b}, {} bytes arrived",
                    part.size
                ))
                .into())
        }
        _ => Ok(()),
    }
}

/// A chunk (`PATCH`), placed by its `Content-Range` when it has one; returns the bytes received.
pub(crate) async fn chunk(
    ask: Asker<'_>,
    reg: &Reg,
    image: &str,
    id: &str,
    range: Option<&str>,
    body: Body,
) -> Result<u64, ApiError> {
    let app = ask.app;
    ask.need(reg, image, Action::Deploy)?;
    let s = session(app, reg, image, id)?;
    let range = in_order(reg, image, id, s.size, range)?;
    let _pin = app.store.blobs.pin().await;
    let part = ingest(app, body).await?;
    fits(range, &part)?;
    app.uploads
        .append(&app.store, id, s.size, part, app.config.clock.now_ms())
        .ok_or_else(|| {
            RegistryError::new(Code::BlobUploadInvalid)
                .status(416)
                .message("another chunk arrived for this upload at the same offset")
                .into()
        })
}

/// The end of an upload: the digest the blob must have, and the last chunk's `Content-Range`.
pub(crate) struct Finish<'a> {
    pub digest: Option<&'a str>,
    pub range: Option<&'a str>,
}

/// Finishes a session (`PUT ?digest=`, maybe with a last chunk): the blob must have that digest. A
/// last chunk out of order is refused as a `PATCH` would be, and the session goes on.
pub(crate) async fn finish(
    ask: Asker<'_>,
    reg: &Reg,
    image: &str,
    id: &str,
    end: Finish<'_>,
    body: Body,
) -> Result<Digest, ApiError> {
    let app = ask.app;
    let caller = ask.need(reg, image, Action::Deploy)?;
    let s = session(app, reg, image, id)?;
    let d = parse_digest(end.digest.unwrap_or(""))?;
    let range = in_order(reg, image, id, s.size, end.range)?;
    let _pin = app.store.blobs.pin().await;
    let last = ingest(app, body).await?;
    fits(range, &last)?;
    let mut parts = s.parts.clone();
    if last.size > 0 || parts.is_empty() {
        parts.push(last);
    }
    let info = if parts.len() == 1 {
        Ok(parts.remove(0))
    } else {
        concat(app, &parts).await
    };
    let out = match info {
        Ok(info) => check_and_link(app, &caller, reg, image, &d, info).await,
        Err(e) => Err(e),
    };
    // The session ends either way: a wrong digest is final (the client starts again).
    app.uploads.end(&app.store, id);
    out.map(|()| d)
}

/// The bytes a session has received.
pub(crate) fn status(ask: Asker<'_>, reg: &Reg, image: &str, id: &str) -> Result<u64, ApiError> {
    ask.need(reg, image, Action::Deploy)?;
    Ok(session(ask.app, reg, image, id)?.size)
}

/// Cancels a session.
pub(crate) fn cancel(ask: Asker<'_>, reg: &Reg, image: &str, id: &str) -> Result<(), ApiError> {
    ask.need(reg, image, Action::Deploy)?;
    session(ask.app, reg, image, id)?;
    ask.app.uploads.end(&ask.app.store, id);
    Ok(())
}

/// Concatenates stored parts into one new blob.
async fn concat(app: &crate::app::App, parts: &[BlobInfo]) -> Result<BlobInfo, ApiError> {
    // Each part is opened only when the stream reaches it (a session may have many parts).
    let paths: Vec<std::path::PathBuf> = parts
        .iter()
        .map(|p| app.store.blobs.path(&p.sha256))
        .collect();
    let stream = futures_util::stream::iter(paths)
        .then(|path| async move { tokio::fs::File::open(path).await })
        .map(|opened| match opened {
            Ok(f) => tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024).left_stream(),
            Err(e) => futures_util::stream::once(async move { Err(e) }).right_stream(),
        })
        .flatten();
    app.store
        .blobs
        .ingest(stream, None)
        .await
        .map_err(|e| internal(format!("{e:?}")))
}

/// Checks the digest of an uploaded blob and records it in `<image>/_uploads/`.
async fn check_and_link(
    app: &crate::app::App,
    caller: &Caller,
    reg: &Reg,
    image: &str,
    d: &Digest,
    info: BlobInfo,
) -> Result<(), ApiError> {
    let ok = match d.algo {
        "sha256" => info.sha256 == d.hex,
        _ => sha512_of(app.store.blobs.path(&info.sha256)).await? == d.hex,
    };
    if !ok {
        return Err(RegistryError::new(Code::DigestInvalid)
            .detail(json!({ "digest": d.to_string(), "actual": format!("sha256:{}", info.sha256) }))
            .into());
    }
    let file = crate::store::FileData::of_blob(&info, "application/octet-stream");
    link(app, caller, reg, image, d, file).await
}

async fn sha512_of(path: std::path::PathBuf) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        use sha2::Digest as _;
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        let mut h = sha2::Sha512::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(hex::encode(h.finalize()))
    })
    .await
    .map_err(internal)?
    .map_err(internal)
}

/// Records a blob of the image as a finished upload awaiting its manifest.
async fn link(
    app: &crate::app::App,
    caller: &Caller,
    reg: &Reg,
    image: &str,
    d: &Digest,
    file: FileData,
) -> Result<(), ApiError> {
    let mut props = Props::default();
    props.add("sha256", &file.sha256.hex());
    let m = Mutation::PutFile {
        repo: reg.repo.clone(),
        path: super::join(&super::join(image, UPLOADS), &d.file_name()),
        file,
        props,
        now: app.config.clock.now_ms(),
        user: caller.name.clone(),
        stamp: Stamp::default(),
    };
    app.store
        .commit(m)
        .await
        .map_err(|e| internal(format!("{e:?}")))
}
