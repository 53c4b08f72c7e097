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
pub(crate) async fn clean(state: &crate::app::AppState) {
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
