//! The request journal of the control API (`GET /_reference/requests`): the last requests the
//! server answered (method, path without the query string, status, duration, caller), and for a
//! `404` the nearest paths that do exist — what a test author needs when a client asks for a path
//! one character off (WireMock's near misses).

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

use crate::store::State;

/// How many requests the journal keeps.
pub const KEEP: usize = 1000;

/// One answered request.
#[derive(Clone, Debug, Serialize)]
pub struct Logged {
    /// Epoch ms (the server's clock) when it arrived.
    pub at: i64,
    /// Method.
    pub method: String,
    /// Path (the query string is left out: it may carry secrets).
    pub path: String,
    /// Status of the answer.
    pub status: u16,
    /// Time to the answer's head, in milliseconds.
    pub duration_ms: u64,
    /// Who called (`anonymous`, or `-` when the credentials were refused).
    pub caller: String,
}

/// The last [`KEEP`] requests, oldest first.
#[derive(Debug, Default)]
pub struct RequestLog(Mutex<VecDeque<Logged>>);

impl RequestLog {
    /// Records one request.
    pub fn push(&self, l: Logged) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() == KEEP {
            q.pop_front();
        }
        q.push_back(l);
    }

    /// The newest `limit` requests, newest first.
    pub fn newest(&self, limit: usize) -> Vec<Logged> {
        let q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.iter().rev().take(limit).cloned().collect()
    }

    /// Forgets every request.
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Items compared at most for one near miss.
const SCAN: usize = 10_000;

/// The paths nearest to `path` (a request path under `ctx`) that exist now, best first, at most
/// three: for a repository that does not exist, the nearest repository keys; for a missing item,
/// the nearest items under its deepest existing folder. The request's form is kept (the storage
/// API's prefix, or none for a download).
pub fn near_misses(state: &State, ctx: &str, path: &str) -> Vec<String> {
    let Some(rest) = path.strip_prefix(ctx).and_then(|r| r.strip_prefix('/')) else {
        return Vec::new();
    };
    let (prefix, rest) = match rest.strip_prefix("api/storage/") {
        Some(r) => (format!("{ctx}/api/storage/"), r),
        None if rest.starts_with("api/") => return Vec::new(),
        None => (format!("{ctx}/"), rest),
    };
    let (repo, rel) = rest.split_once('/').unwrap_or((rest, ""));
    let rel = rel.trim_end_matches('/');
    let mut scored: Vec<(usize, String)> = Vec::new();
    match state.repos.get(repo) {
        None => {
            for key in state.repos.keys() {
                scored.push((strsim::levenshtein(repo, key), key.clone()));
            }
            scored.retain(|(d, k)| *d <= (k.len() / 2).max(2));
            let tail = if rel.is_empty() {
                String::new()
            } else {
                format!("/{rel}")
            };
            return best(scored)
                .into_iter()
                .map(|k| format!("{prefix}{k}{tail}"))
                .collect();
        }
        Some(r) => {
            // The deepest folder of `rel` that exists: its subtree holds the likely candidates.
            let mut base = rel;
            while !base.is_empty() && !r.items.contains_key(base) {
                base = base.rsplit_once('/').map_or("", |(parent, _)| parent);
            }
            let from = if base.is_empty() {
                String::new()
            } else {
                format!("{base}/")
            };
            for (k, _) in r
                .items
                .range::<str, _>((
                    std::ops::Bound::Included(from.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(k, _)| k.starts_with(from.as_str()))
                .take(SCAN)
            {
                if !k.is_empty() && k.as_str() != rel {
                    scored.push((strsim::levenshtein(rel, k), k.to_string()));
                }
            }
            scored.retain(|(d, _)| *d <= (rel.len() / 3).max(3));
        }
    }
    best(scored)
        .into_iter()
        .map(|k| format!("{prefix}{repo}/{k}"))
        .collect()
}

fn best(mut scored: Vec<(usize, String)>) -> Vec<String> {
    scored.sort();
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

/// A fault the control API injects into the answers of matching requests (`/_reference/faults`),
/// so clients' retry and timeout paths can be tested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    /// Its id (to delete it alone).
    pub id: u64,
    /// Only requests of this method (any when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Requests whose path starts with this.
    pub path: String,
    /// Wait this long before answering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Answer this status (in the REST error shape) instead of doing the work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Close the connection without an answer.
    pub drop: bool,
    /// Close the connection after this many bytes of the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncate: Option<u64>,
    /// How many more requests it applies to (`None`: every one until deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

/// The fault rules in force, first match wins.
#[derive(Debug, Default)]
pub struct FaultRules {
    rules: Mutex<Vec<FaultRule>>,
    next: std::sync::atomic::AtomicU64,
}

impl FaultRules {
    /// Adds a rule (its `id` is assigned here) and returns it.
    pub fn add(&self, mut rule: FaultRule) -> FaultRule {
        rule.id = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        self.lock().push(rule.clone());
        rule
    }

    /// The rules, in order.
    pub fn list(&self) -> Vec<FaultRule> {
        self.lock().clone()
    }

    /// Removes every rule (`None`) or one; `false` when that one was not there.
    pub fn remove(&self, id: Option<u64>) -> bool {
        let mut r = self.lock();
        match id {
            None => {
                r.clear();
                true
            }
            Some(id) => {
                let before = r.len();
                r.retain(|x| x.id != id);
                r.len() < before
            }
        }
    }

    /// The rule that applies to a request, counting it (a rule whose count runs out goes).
    pub fn take(&self, method: &str, path: &str) -> Option<FaultRule> {
        let mut rules = self.lock();
        let i = rules.iter().position(|r| {
            r.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path.starts_with(&r.path)
        })?;
        let hit = rules[i].clone();
        if let Some(n) = rules[i].times.as_mut() {
            *n -= 1;
            if *n == 0 {
                rules.remove(i);
            }
        }
        Some(hit)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The state `POST /_reference/reset` puts back: the server's start (without a data directory),
/// or what `POST /_reference/seed` captured. Its blobs are held from garbage collection.
#[derive(Debug, Default)]
pub struct Seed(Mutex<Option<Seeded>>);

#[derive(Debug)]
struct Seeded {
    state: std::sync::Arc<State>,
    blobs: Vec<String>,
}

impl Seed {
    /// A configured password's hash, computed after the start was seeded, goes into the seed too,
    /// where that user still waits for it.
    pub(crate) fn settle_password(&self, name: &str, hash: &str) {
        let mut seed = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(s) = seed.as_mut() else { return };
        let pending = s
            .state
            .security
            .users
            .get(name)
            .is_some_and(|u| u.password == crate::auth::model::PENDING_HASH);
        if pending {
            let state = std::sync::Arc::make_mut(&mut s.state);
            if let Some(u) = state.security.users.get_mut(name) {
                u.password = hash.into();
            }
        }
    }
}

/// What a seed or a reset holds.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedSummary {
    /// Repositories.
    pub repositories: usize,
    /// Items (folders and files).
    pub items: usize,
    /// Users.
    pub users: usize,
    /// Time it took, in milliseconds.
    pub duration_ms: u64,
}

fn summary(s: &State, started: std::time::Instant) -> SeedSummary {
    SeedSummary {
        repositories: s.repos.len(),
        items: s.repos.values().map(|r| r.items.len()).sum(),
        users: s.security.users.len(),
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// Makes the current state the seed.
pub(crate) fn capture(app: &crate::app::App) -> SeedSummary {
    let started = std::time::Instant::now();
    let state = app.store.copy_state();
    let blobs: Vec<String> = state
        .repos
        .values()
        .flat_map(|r| r.items.values())
        .filter_map(|i| i.file.as_ref().map(|f| f.sha256.to_string()))
        .collect();
    for b in &blobs {
        app.store.hold(b);
    }
    let out = summary(&state, started);
    let old = app
        .seed
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .replace(Seeded {
            state: std::sync::Arc::new(state),
            blobs,
        });
    if let Some(old) = old {
        for b in &old.blobs {
            app.store.release(b);
        }
    }
    out
}

/// Puts the seed back (`None`: nothing was seeded). Durable at once; the indexes that follow the
/// store (builds, Helm) and the settings cached beside it (URL base, anonymous access) follow.
pub(crate) fn reset(app: &crate::app::App) -> Option<std::io::Result<SeedSummary>> {
    let started = std::time::Instant::now();
    let seed = app
        .seed
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|s| s.state.clone())?;
    let state = (*seed).clone();
    let (url_base, anonymous) = (state.url_base.clone(), state.general.anonymous_access);
    if let Err(e) = app.store.replace_state(state) {
        return Some(Err(e));
    }
    app.builds.reload(&app.store);
    app.helm.reload(&app.store);
    *app.url_base.write().unwrap_or_else(|e| e.into_inner()) = url_base;
    app.auth
        .set_anonymous_access(anonymous.unwrap_or(app.config.anonymous_access));
    Some(Ok(summary(&seed, started)))
}
