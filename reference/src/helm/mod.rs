//! Helm chart repositories: charts deployed to local repositories are checked and described by
//! their `Chart.yaml` ([`chart`]); `index.yaml` is built from the charts a repository holds
//! ([`Index`], which follows the store's after-commit events, so every write path keeps it
//! current), merged over a virtual repository's members, and for a remote one fetched from
//! upstream with its chart URLs rewritten to point through the remote.

pub(crate) mod chart;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_yaml::{Mapping, Value};

use crate::app::{App, AppState};
use crate::auth::Caller;
use crate::config::{PackageType, RepoClass};
use crate::error::ApiError;
use crate::events::Event;
use crate::store::Store;
use chart::Chart;

/// Whether a deploy of `path` into a repository of type `pt` is a chart to check.
pub(crate) fn is_chart(pt: PackageType, path: &str) -> bool {
    pt == PackageType::Helm && path.ends_with(".tgz")
}

/// Checks the chart stored as blob `sha256` (a deploy to a Helm repository); `400` with the
/// reason when it is not a valid chart.
pub(crate) async fn check(app: &App, sha256: &str) -> Result<Arc<Chart>, ApiError> {
    let file = app.store.blobs.path(sha256);
    let read = tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(file).map_err(|e| e.to_string())?;
        chart::read(std::io::BufReader::new(f))
    })
    .await
    .map_err(ApiError::internal)?;
    read.map(Arc::new)
        .map_err(|why| ApiError::bad_request(format!("Invalid Helm chart: {why}")))
}

#[derive(Debug)]
struct Slot {
    sha256: String,
    /// `None`: not read since it changed; `Some(None)`: not a valid chart.
    chart: Option<Option<Arc<Chart>>>,
}

/// Every `.tgz` of every repository, by repository and path, each read once.
#[derive(Debug, Default)]
pub(crate) struct Index {
    slots: Mutex<HashMap<String, BTreeMap<String, Slot>>>,
    /// Moves on with every change, so rendered indexes know when they are stale.
    generation: AtomicU64,
    rendered: Mutex<HashMap<String, (u64, Arc<String>)>>,
}

/// Every `.tgz` of `repo`, none read yet.
fn unread(repo: &crate::store::Repo) -> BTreeMap<String, Slot> {
    repo.items
        .iter()
        .filter(|(path, _)| path.ends_with(".tgz"))
        .filter_map(|(path, item)| {
            let f = item.file.as_ref()?;
            Some((
                path.to_string(),
                Slot {
                    sha256: f.sha256.hex().to_string(),
                    chart: None,
                },
            ))
        })
        .collect()
}

/// One chart version as an index lists it.
#[derive(Clone, Debug)]
struct Entry {
    chart: Arc<Chart>,
    path: String,
    sha256: String,
    created: i64,
}

impl Index {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<String, Slot>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows `store` from now on, starting from what it holds.
    pub(crate) fn attach(self: &Arc<Self>, store: &Store) {
        let me = self.clone();
        store.events.subscribe(move |e| me.note(e));
        self.reload(store);
    }

    /// Starts again from what `store` holds (after the control API put back a seeded state).
    pub(crate) fn reload(&self, store: &Store) {
        let state = store.read();
        let mut slots = self.slots();
        slots.clear();
        for (key, repo) in state.repos.iter() {
            if repo.config.package_type == PackageType::Helm {
                slots.insert(key.clone(), unread(repo));
            }
        }
    }

    fn note(&self, e: &Event) {
        match e {
            Event::FileWritten {
                repo, path, sha256, ..
            } if path.ends_with(".tgz") => {
                self.slots().entry(repo.clone()).or_default().insert(
                    path.clone(),
                    Slot {
                        sha256: sha256.clone(),
                        chart: None,
                    },
                );
            }
            Event::Removed { repo, path } if path.ends_with(".tgz") => {
                if let Some(m) = self.slots().get_mut(repo) {
                    m.remove(path);
                }
            }
            Event::RepoDeleted { key } => {
                self.slots().remove(key);
            }
            _ => return,
        }
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Files a chart a deploy has just read and committed at `repo:path` (content `sha256`), so
    /// the next index does not read it again.
    pub(crate) fn remember(&self, repo: &str, path: &str, sha256: &str, chart: Arc<Chart>) {
        let mut slots = self.slots();
        if let Some(s) = slots
            .get_mut(repo)
            .and_then(|m| m.get_mut(path))
            .filter(|s| s.sha256 == sha256)
        {
            s.chart = Some(Some(chart));
        }
    }

    /// Forgets what was read of `repo`'s charts, so the next index reads every one again from
    /// what the store holds now (reindex).
    pub(crate) fn reindex(&self, store: &Store, repo: &str) {
        let fresh = store.read().repo(repo).map(unread).unwrap_or_default();
        self.slots().insert(repo.to_string(), fresh);
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// The valid charts of local repository `repo`, reading those changed since the last call.
    async fn entries(&self, store: &Store, repo: &str) -> Vec<Entry> {
        let stale: Vec<(String, String, PathBuf)> = self
            .slots()
            .get(repo)
            .map(|m| {
                m.iter()
                    .filter(|(_, s)| s.chart.is_none())
                    .map(|(p, s)| (p.clone(), s.sha256.clone(), store.blobs.path(&s.sha256)))
                    .collect()
            })
            .unwrap_or_default();
        if !stale.is_empty() {
            let read = tokio::task::spawn_blocking(move || {
                stale
                    .into_iter()
                    .map(|(path, sha256, file)| {
                        let chart = std::fs::File::open(file)
                            .ok()
                            .and_then(|f| chart::read(std::io::BufReader::new(f)).ok())
                            .map(Arc::new);
                        (path, sha256, chart)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            let mut slots = self.slots();
            if let Some(m) = slots.get_mut(repo) {
                for (path, sha256, chart) in read {
                    if let Some(s) = m.get_mut(&path).filter(|s| s.sha256 == sha256) {
                        s.chart = Some(chart);
                    }
                }
            }
        }
        let state = store.read();
        let slots = self.slots();
        let Some(m) = slots.get(repo) else {
            return Vec::new();
        };
        m.iter()
            .filter_map(|(path, s)| {
                let chart = s.chart.clone().flatten()?;
                let item = state.item(repo, path)?;
                Some(Entry {
                    chart,
                    path: path.clone(),
                    sha256: s.sha256.clone(),
                    created: item.created,
                })
            })
            .collect()
    }
}

/// Where the index of `key` takes its entries from: each member's charts, or a remote's
/// upstream index (with each chart's path inside the remote).
async fn collect(
    app: &AppState,
    caller: &Caller,
    key: &str,
) -> Result<Vec<(String, Mapping)>, ApiError> {
    let members: Vec<(String, RepoClass)> = {
        let state = app.store.read();
        crate::repos::resolve::members(&state, key, "index.yaml")
            .into_iter()
            .map(|r| (r.config.key.clone(), r.config.rclass))
            .collect()
    };
    let mut out: Vec<(String, Mapping)> = Vec::new();
    let mut seen: std::collections::HashSet<(String, String)> = Default::default();
    for (member, class) in members {
        let found = match class {
            RepoClass::Remote => remote_entries(app, caller, &member).await?,
            _ => app
                .helm
                .entries(&app.store, &member)
                .await
                .into_iter()
                .map(|e| (e.path.clone(), fields(&e)))
                .collect(),
        };
        for (path, m) in found {
            let text = |k: &str| format!("{:?}", m.get(k));
            // The first member holding a name and version wins, as resolution does.
            if seen.insert((text("name"), text("version"))) {
                out.push((path, m));
            }
        }
    }
    Ok(out)
}

/// An entry's fields: `Chart.yaml`'s, then `created`, `digest` and `urls` (set by the caller).
fn fields(e: &Entry) -> Mapping {
    let mut m = e.chart.fields.clone();
    m.insert(
        "created".into(),
        Value::String(crate::clock::iso(e.created)),
    );
    m.insert("digest".into(), Value::String(e.sha256.clone()));
    m
}

/// The entries of the upstream index of remote `key`, fetched through the remote (so it is
/// cached and revalidated as its files are), each chart's path being where the remote serves it.
async fn remote_entries(
    app: &AppState,
    caller: &Caller,
    key: &str,
) -> Result<Vec<(String, Mapping)>, ApiError> {
    if let crate::repos::remote::Fetched::Streaming(_) =
        crate::repos::remote::prepare(app, caller, key, "index.yaml", false, true).await?
    {
        return Err(ApiError::internal("an index fetch streamed"));
    }
    let (sha256, base) = {
        let state = app.store.read();
        let Some(r) = state.repo(key) else {
            return Ok(Vec::new());
        };
        let Some(f) = state.item(key, "index.yaml").and_then(|i| i.file.as_ref()) else {
            return Ok(Vec::new());
        };
        (
            f.sha256.hex().to_string(),
            r.config.url.clone().unwrap_or_default(),
        )
    };
    let file = app.store.blobs.path(&sha256);
    let doc = tokio::task::spawn_blocking(move || -> Result<Value, String> {
        let f = std::fs::File::open(file).map_err(|e| e.to_string())?;
        let meta = f.metadata().map_err(|e| e.to_string())?;
        if meta.len() > 256 << 20 {
            return Err("the upstream index is larger than 256 MiB".into());
        }
        serde_yaml::from_reader(std::io::BufReader::new(f)).map_err(|e| e.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|why| {
        ApiError::new(
            502,
            format!("The upstream index.yaml of '{key}' cannot be read: {why}"),
        )
    })?;
    let base = base.trim_end_matches('/').to_string();
    let mut out = Vec::new();
    let Some(Value::Mapping(entries)) = doc.get("entries") else {
        return Ok(out);
    };
    for versions in entries.values() {
        let Value::Sequence(versions) = versions else {
            continue;
        };
        for v in versions {
            let Value::Mapping(m) = v else { continue };
            let Some(url) = m
                .get("urls")
                .and_then(Value::as_sequence)
                .and_then(|u| u.first())
                .and_then(Value::as_str)
            else {
                continue;
            };
            // A chart beside the index (relative, or under the remote's URL) is served through the
            // remote; one elsewhere keeps its absolute URL.
            let path = match url.strip_prefix(&format!("{base}/")) {
                Some(rel) => rel.to_string(),
                None if !url.contains("://") => url.trim_start_matches('/').to_string(),
                None => format!("\u{0}{url}"),
            };
            out.push((path, m.clone()));
        }
    }
    Ok(out)
}

/// The `index.yaml` of Helm repository `key` (local, remote or virtual), its chart URLs under
/// `<base>/api/helm/<key>/`.
pub(crate) async fn index_yaml(
    app: &AppState,
    caller: &Caller,
    key: &str,
    base: &str,
) -> Result<Arc<String>, ApiError> {
    {
        let state = app.store.read();
        let r = state
            .repo(key)
            .ok_or_else(|| crate::messages::no_such_repository(key))?;
        if r.config.package_type != PackageType::Helm {
            return Err(ApiError::bad_request(format!(
                "Repository '{key}' is not a Helm repository"
            )));
        }
    }
    let cache_key = format!("{key}\n{base}");
    let generation = app.helm.generation.load(Ordering::Relaxed);
    // Remote members' indexes change upstream: only all-local indexes are kept rendered.
    let has_remote = {
        let state = app.store.read();
        crate::repos::resolve::members(&state, key, "index.yaml")
            .iter()
            .any(|r| r.config.rclass == RepoClass::Remote)
    };
    if !has_remote {
        let rendered = app.helm.rendered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, text)) = rendered.get(&cache_key).filter(|(g, _)| *g == generation) {
            return Ok(text.clone());
        }
    }
    let entries = collect(app, caller, key).await?;
    let now = app.config.clock.now_ms();
    let prefix = format!("{base}/api/helm/{key}");
    let text = Arc::new(render(entries, &prefix, now));
    if !has_remote {
        app.helm
            .rendered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cache_key, (generation, text.clone()));
    }
    Ok(text)
}

/// index.yaml: `apiVersion: v1`, `entries` by name (sorted) with versions newest first (SemVer
/// order), each entry's keys sorted as Helm writes them, and `generated`.
fn render(entries: Vec<(String, Mapping)>, prefix: &str, now: i64) -> String {
    let mut by_name: BTreeMap<String, Vec<(Option<semver::Version>, Mapping)>> = BTreeMap::new();
    for (path, mut m) in entries {
        let url = match path.strip_prefix('\u{0}') {
            Some(absolute) => absolute.to_string(),
            None => format!("{prefix}/{}", path),
        };
        m.insert("urls".into(), Value::Sequence(vec![Value::String(url)]));
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let version = m
            .get("version")
            .and_then(Value::as_str)
            .and_then(chart::parse_version);
        let mut sorted: Vec<(Value, Value)> = m.into_iter().collect();
        sorted.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
        by_name
            .entry(name)
            .or_default()
            .push((version, sorted.into_iter().collect()));
    }
    let mut entries = Mapping::new();
    for (name, mut versions) in by_name {
        versions.sort_by(|a, b| b.0.cmp(&a.0));
        entries.insert(
            Value::String(name),
            Value::Sequence(
                versions
                    .into_iter()
                    .map(|(_, m)| Value::Mapping(m))
                    .collect(),
            ),
        );
    }
    let mut doc = Mapping::new();
    doc.insert("apiVersion".into(), "v1".into());
    doc.insert("entries".into(), Value::Mapping(entries));
    doc.insert("generated".into(), Value::String(crate::clock::iso(now)));
    serde_yaml::to_string(&Value::Mapping(doc)).unwrap_or_default()
}

/// `POST /api/helm/<key>/reindex`: local repositories only; every chart is read again.
pub(crate) fn reindex(app: &App, key: &str) -> Result<(), ApiError> {
    let state = app.store.read();
    let r = state
        .repo(key)
        .ok_or_else(|| crate::messages::no_such_repository(key))?;
    if r.config.package_type != PackageType::Helm || r.config.rclass != RepoClass::Local {
        return Err(ApiError::bad_request(format!(
            "Reindex is supported for local Helm repositories only; '{key}' is not one"
        )));
    }
    drop(state);
    app.helm.reindex(&app.store, key);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_entries_sort_by_name_then_newest_version() {
        let m = |name: &str, v: &str| -> (String, Mapping) {
            let yaml = format!("apiVersion: v2\nname: {name}\nversion: {v}\n");
            (
                format!("{name}-{v}.tgz"),
                serde_yaml::from_str::<Mapping>(&yaml).unwrap(),
            )
        };
        let text = render(
            vec![
                m("web", "1.2.0"),
                m("api", "0.1.0"),
                m("web", "1.10.0"),
                m("web", "1.10.0-rc.1"),
            ],
            "http://h/artifactory/api/helm/r",
            0,
        );
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        let names: Vec<&str> = doc["entries"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(names, ["api", "web"]);
        let versions: Vec<&str> = doc["entries"]["web"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        assert_eq!(versions, ["1.10.0", "1.10.0-rc.1", "1.2.0"]);
        assert_eq!(
            doc["entries"]["api"][0]["urls"][0],
            "http://h/artifactory/api/helm/r/api-0.1.0.tgz"
        );
        assert_eq!(doc["apiVersion"], "v1");
        assert_eq!(doc["generated"], "1970-01-01T00:00:00.000Z");
    }
}
