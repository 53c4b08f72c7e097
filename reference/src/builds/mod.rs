//! Builds: build-info documents as CI plugins publish them (`PUT /api/build`), stored as JSON files
//! in the build-info repository, and what release tooling does with them: list, runs, info, diff,
//! promote, retention, delete, rename and distribute (behaviour §10).
//!
//! The documents are files like any other (visible to the storage API, AQL and the item tree); the
//! [`index::Index`] follows them through the store's events, so every lookup here reads the same
//! store AQL reads. Permissions are those of the build-info repository at the document's path:
//! read to see a build, deploy to publish one (delete to replace a run), delete to remove or rename
//! builds, and for promotion and distribution the copy/move checks on every file moved.

pub(crate) mod diff;
pub(crate) mod index;
pub mod model;
pub(crate) mod promote;

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::app::App;
use crate::artifacts::{self, Deploy, SentChecksums};
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::messages as msg;
use crate::search::aql_eval::parse_date;
use crate::store::{Mutation, Stamp, State};

pub(crate) use index::Run;

/// The repository holding build-info documents.
pub const REPO: &str = "artifactory-build-info";

/// Largest build-info document accepted (a build with tens of thousands of artifacts fits).
pub(crate) const MAX_DOC: usize = 64 << 20;

pub(crate) use crate::value::field as text;

/// A build's `started` (`yyyy-MM-dd'T'HH:mm:ss.SSSZ`, offsets with or without a colon) in epoch
/// ms; a bare number or a date without a time is not a start time.
pub(crate) fn parse_started(s: &str) -> Option<i64> {
    if !s.contains('T') {
        return None;
    }
    parse_date(s)
}

/// Escapes a build name or number for its place in the build-info repository's paths, as
/// Artifactory's build path encoder does.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '/' | '&' | '.' | '\\' | '|' | '*' | '?' | '"' | ':' | ';' | ' ' | '%' => {
                out.push_str(&format!("%{:02X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// A name or number as it stands in a response URI (`/my%20build`): percent-encoded as a path
/// segment.
pub(crate) fn uri_segment(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// Where a run is stored.
fn doc_path(name: &str, number: &str, started_ms: i64) -> String {
    format!("{}/{}-{started_ms}.json", encode(name), encode(number))
}

/// Every run the caller may read.
async fn visible(app: &App, caller: &Caller) -> Result<Vec<Arc<Run>>, ApiError> {
    app.auth.gate(caller)?;
    let runs = app.builds.runs(&app.store).await;
    let state = app.store.read();
    Ok(runs
        .into_iter()
        .filter(|r| app.auth.may(&state, caller, Action::Read, REPO, &r.path))
        .collect())
}

/// Runs of `name`, newest first.
fn of_name(runs: Vec<Arc<Run>>, name: &str) -> Vec<Arc<Run>> {
    let mut out: Vec<Arc<Run>> = runs.into_iter().filter(|r| r.name == name).collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.started_ms));
    out
}

// ---------------------------------------------------------------------------------------------
// Upload.

/// Publishes a build-info document: `artifactoryPrincipal` becomes the uploader, module artifacts'
/// missing checksums are filled from the stored file with one of the others, and the document is
/// stored at `<name>/<number>-<started ms>.json` (a run with the same start replaces it).
pub(crate) async fn upload(app: &App, caller: &Caller, body: &[u8]) -> Result<(), ApiError> {
    let mut doc: Json = serde_json::from_slice(body).map_err(|e| msg::build_unreadable(&e))?;
    let Some(obj) = doc.as_object_mut() else {
        return Err(msg::build_unreadable(&"the document is not a JSON object"));
    };
    let field = |k: &str| obj_text(obj, k);
    let (Some(name), Some(number), Some(started)) =
        (field("name"), field("number"), field("started"))
    else {
        return Err(msg::build_incomplete());
    };
    if name.trim().is_empty() || number.trim().is_empty() || started.trim().is_empty() {
        return Err(msg::build_incomplete());
    }
    let started_ms = parse_started(&started).ok_or_else(|| msg::build_bad_started(&started))?;
    // Jackson reads the three into strings; the stored document has them as strings.
    obj.insert("name".into(), Json::String(name.clone()));
    obj.insert("number".into(), Json::String(number.clone()));
    obj.insert(
        "artifactoryPrincipal".into(),
        Json::String(caller.name.clone()),
    );
    fill_checksums(&app.store.read(), obj);
    let doc = model::ordered(&doc);
    let bytes = doc_bytes(&doc)?;
    let d = Deploy {
        repo: REPO.into(),
        path: doc_path(&name, &number, started_ms),
        folder: false,
        matrix: vec![],
        sent: SentChecksums::default(),
        by_checksum: false,
        stamp: Stamp::default(),
    };
    let done = artifacts::deploy(app, caller, d, one_chunk(bytes)).await?;
    app.builds.remember(&done.path, doc, &done.item);
    Ok(())
}

fn obj_text(obj: &Map<String, Json>, k: &str) -> Option<String> {
    match obj.get(k)? {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A body of `bytes`, for the domain functions that take a stream.
pub(crate) fn one_chunk(bytes: Vec<u8>) -> crate::app::Body {
    let b = bytes::Bytes::from(bytes);
    Box::pin(futures_util::stream::iter([Ok::<_, std::io::Error>(b)]))
}

/// Module artifacts and dependencies that name some of their checksums get the others from the
/// stored file with that content.
fn fill_checksums(state: &State, doc: &mut Map<String, Json>) {
    let Some(Json::Array(modules)) = doc.get_mut("modules") else {
        return;
    };
    for m in modules.iter_mut() {
        for list in ["artifacts", "dependencies"] {
            let Some(Json::Array(parts)) = m.get_mut(list) else {
                continue;
            };
            for p in parts.iter_mut().filter_map(Json::as_object_mut) {
                let get = |k: &str| p.get(k).and_then(Json::as_str).map(str::to_string);
                let (sha1, sha256, md5) = (get("sha1"), get("sha256"), get("md5"));
                if sha1.is_some() && sha256.is_some() && md5.is_some() {
                    continue;
                }
                let Some(f) = state.find_by_checksum(sha1.as_deref(), sha256.as_deref()) else {
                    continue;
                };
                for (k, v) in [
                    ("sha1", f.sha1.hex().to_string()),
                    ("sha256", f.sha256.hex().to_string()),
                    ("md5", f.md5.hex().to_string()),
                ] {
                    if !p.contains_key(k) && !v.is_empty() {
                        p.insert(k.into(), Json::String(v));
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lookups.

/// A run's start as listings show it: formatted again from the instant, in the server's time
/// zone (UTC), as Artifactory formats the start it stored in its database (the document keeps the
/// original text).
pub(crate) fn shown_start(r: &Run) -> String {
    if r.started_ms == i64::MIN {
        return r.started.clone();
    }
    crate::clock::iso_no_colon(r.started_ms)
}

/// Every build name the caller may read with the start of its latest run, the least recently
/// run first (Artifactory orders the names by their latest run).
pub(crate) async fn list(app: &App, caller: &Caller) -> Result<Vec<(String, String)>, ApiError> {
    let runs = visible(app, caller).await?;
    let mut latest: std::collections::BTreeMap<&str, &Run> = Default::default();
    for r in &runs {
        let e = latest.entry(r.name.as_str()).or_insert(r);
        if r.started_ms > e.started_ms {
            *e = r;
        }
    }
    if latest.is_empty() {
        return Err(msg::no_builds());
    }
    let mut rows: Vec<&Run> = latest.into_values().collect();
    rows.sort_by_key(|r| r.started_ms);
    Ok(rows
        .into_iter()
        .map(|r| (r.name.clone(), shown_start(r)))
        .collect())
}

/// The runs of `name`, newest first.
pub(crate) async fn runs(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<Vec<Arc<Run>>, ApiError> {
    let runs = of_name(visible(app, caller).await?, name);
    if runs.is_empty() {
        return Err(msg::no_build_named(name));
    }
    Ok(runs)
}

/// The latest run of `name` `number`, or the one that started at `started`.
pub(crate) async fn find(
    app: &App,
    caller: &Caller,
    name: &str,
    number: &str,
    started: Option<&str>,
) -> Result<Arc<Run>, ApiError> {
    let runs = of_name(visible(app, caller).await?, name);
    pick(&runs, name, number, started)
}

fn pick(
    runs: &[Arc<Run>],
    name: &str,
    number: &str,
    started: Option<&str>,
) -> Result<Arc<Run>, ApiError> {
    let at = started.map(|s| parse_started(s).ok_or_else(|| msg::build_bad_started(s)));
    let at = at.transpose()?;
    runs.iter()
        .find(|r| r.number == number && at.is_none_or(|t| r.started_ms == t))
        .cloned()
        .ok_or_else(|| msg::no_build_run(name, number, started))
}

/// What changed from `older` to `number` of `name` (each the latest run of its number).
pub(crate) async fn diff(
    app: &App,
    caller: &Caller,
    name: &str,
    number: &str,
    older: &str,
) -> Result<diff::Diff, ApiError> {
    if older == "null" {
        return Err(msg::diff_without_value());
    }
    let runs = of_name(visible(app, caller).await?, name);
    let subject = pick(&runs, name, number, None)?;
    let base = pick(&runs, name, older, None).map_err(|_| msg::no_older_build(name, older))?;
    if base.started_ms > subject.started_ms {
        return Err(msg::diff_older_is_newer());
    }
    Ok(diff::compare(&subject.doc, &base.doc))
}

// ---------------------------------------------------------------------------------------------
// Delete, rename, retention.

/// Which runs of a build to delete.
#[derive(Debug, Default)]
pub(crate) struct Deletion {
    pub name: String,
    /// The numbers (every run of each).
    pub numbers: Vec<String>,
    /// Every run of the build.
    pub all: bool,
    /// Also delete the artifacts the runs produced.
    pub artifacts: bool,
}

/// Deletes runs (and, asked to, their artifacts); returns how many runs went.
pub(crate) async fn delete(app: &App, caller: &Caller, d: &Deletion) -> Result<usize, ApiError> {
    if d.name.trim().is_empty() {
        return Err(msg::build_name_missing());
    }
    if d.numbers.is_empty() && !d.all {
        return Err(msg::build_numbers_missing());
    }
    let runs = of_name(visible(app, caller).await?, &d.name);
    let doomed: Vec<Arc<Run>> = runs
        .into_iter()
        .filter(|r| d.all || d.numbers.contains(&r.number))
        .collect();
    if doomed.is_empty() {
        return Err(msg::no_build_named(&d.name));
    }
    remove_runs(app, caller, &doomed, d.artifacts).await?;
    Ok(doomed.len())
}

/// Removes `runs` (and their artifacts) in one journal record, checked under the write lock.
async fn remove_runs(
    app: &App,
    caller: &Caller,
    runs: &[Arc<Run>],
    with_artifacts: bool,
) -> Result<(), ApiError> {
    let check = |state: &State| {
        let mut steps = Vec::new();
        for r in runs {
            app.auth
                .require(state, caller, Action::Delete, REPO, &r.path, || {
                    msg::build_delete_forbidden(&caller.name, &r.name)
                })?;
            if state.item(REPO, &r.path).is_some() {
                steps.push(Mutation::Delete {
                    repo: REPO.into(),
                    path: r.path.clone(),
                });
            }
            if with_artifacts {
                for (repo, path) in promote::produced(state, &r.view, None) {
                    app.auth
                        .require(state, caller, Action::Delete, &repo, &path, || {
                            msg::overwrite_forbidden(&caller.name, &repo, &path)
                        })?;
                    steps.push(Mutation::Delete { repo, path });
                }
            }
        }
        Ok(Mutation::Batch { steps })
    };
    app.store
        .transact(check, |_| ())
        .await
        .map_err(|r| ApiError::refused(r, |t| ApiError::internal(format!("{t:?}"))))
}

/// Renames every run of `from` to `to` (their documents rewritten with the new name).
pub(crate) async fn rename(
    app: &App,
    caller: &Caller,
    from: &str,
    to: &str,
) -> Result<(), ApiError> {
    if to.trim().is_empty() {
        return Err(msg::build_rename_target_missing());
    }
    let runs = of_name(visible(app, caller).await?, from);
    if runs.is_empty() {
        return Err(msg::no_build_named(from));
    }
    let _pin = app.store.blobs.pin().await;
    let mut written = Vec::new();
    for r in &runs {
        let mut doc = (*r.doc).clone();
        if let Some(o) = doc.as_object_mut() {
            o.insert("name".into(), Json::String(to.to_string()));
        }
        let file = store_doc(app, &doc).await?;
        written.push((r.clone(), doc_path(to, &r.number, r.started_ms), file));
    }
    let now = app.config.clock.now_ms();
    let check = |state: &State| {
        let mut steps = Vec::new();
        for (r, path, file) in &written {
            for (p, action) in [(&r.path, Action::Delete), (path, Action::Deploy)] {
                app.auth.require(state, caller, action, REPO, p, || {
                    msg::build_delete_forbidden(&caller.name, &r.name)
                })?;
            }
            steps.push(Mutation::PutFile {
                repo: REPO.into(),
                path: path.clone(),
                file: file.clone(),
                props: Default::default(),
                now,
                user: caller.name.clone(),
                stamp: Stamp::default(),
            });
            if path != &r.path {
                steps.push(Mutation::Delete {
                    repo: REPO.into(),
                    path: r.path.clone(),
                });
            }
        }
        Ok(Mutation::Batch { steps })
    };
    app.store
        .transact(check, |_| ())
        .await
        .map_err(|r| ApiError::refused(r, |t| ApiError::internal(format!("{t:?}"))))
}

/// A build-info document as it is stored (pretty JSON, fields as given: callers order them).
fn doc_bytes(doc: &Json) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec_pretty(doc)
        .map_err(|e| ApiError::internal(format!("writing a build-info document: {e}")))
}

/// Writes a document's bytes into the blob store (the caller holds a blob pin until it commits).
pub(crate) async fn store_doc(app: &App, doc: &Json) -> Result<crate::store::FileData, ApiError> {
    let bytes = doc_bytes(&model::ordered(doc))?;
    let info = app
        .store
        .blobs
        .ingest_bytes(bytes.into())
        .await
        .map_err(|e| ApiError::internal(format!("{e:?}")))?;
    Ok(crate::store::FileData::of_blob(
        &info,
        crate::mime::for_name("build.json"),
    ))
}

/// Build retention as the client asked for it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Retention {
    /// Keep at most this many runs (the newest).
    pub count: Option<i64>,
    /// Remove runs that started before this (epoch ms).
    pub minimum_date: Option<i64>,
    /// Numbers never removed.
    pub keep: Vec<String>,
    /// Also remove the artifacts the removed runs produced.
    pub delete_artifacts: bool,
}

impl Retention {
    /// A count of 0 is refused (a negative one, the model's default, keeps any number).
    fn check(&self) -> Result<(), ApiError> {
        if self.count == Some(0) {
            return Err(msg::retention_count_not_positive());
        }
        Ok(())
    }
}

/// Applies `ret` to the runs of `name`; returns how many went.
pub(crate) async fn retain(
    app: &App,
    caller: &Caller,
    name: &str,
    ret: &Retention,
) -> Result<usize, ApiError> {
    ret.check()?;
    let runs = of_name(visible(app, caller).await?, name);
    let doomed: Vec<Arc<Run>> = runs
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            // A negative count (the model's default, -1) keeps any number of runs.
            let over = ret.count.is_some_and(|c| c > 0 && *i as i64 >= c);
            let old = ret.minimum_date.is_some_and(|t| r.started_ms < t);
            (over || old) && !ret.keep.contains(&r.number)
        })
        .map(|(_, r)| r.clone())
        .collect();
    if !doomed.is_empty() {
        remove_runs(app, caller, &doomed, ret.delete_artifacts).await?;
    }
    Ok(doomed.len())
}

/// [`retain`] as a background job (`?async=true`): the caller's rights and the arguments are
/// checked now, the removal happens after the answer.
pub(crate) async fn retain_later(
    app: &crate::app::AppState,
    caller: &Caller,
    name: &str,
    ret: Retention,
) -> Result<(), ApiError> {
    ret.check()?;
    app.auth.gate(caller)?;
    let (a, who, name) = (app.clone(), caller.clone(), name.to_string());
    app.jobs
        .once("build-retention", app.config.clock.now_ms(), async move {
            match retain(&a, &who, &name, &ret).await {
                Ok(n) => tracing::info!("build retention removed {n} runs of '{name}'"),
                Err(e) => tracing::warn!("build retention of '{name}' failed: {}", e.message()),
            }
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{admin, app, body};

    fn doc(name: &str, number: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "name": name, "number": number, "started": "2026-11-20T10:00:00.000+0200",
            "modules": [{"id": "m", "artifacts": [{"name": "a", "sha1": "1".repeat(40)}]}],
            "extra": {"kept": true}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn the_lookup_follows_every_write_to_the_build_info_repository() {
        let app = app();
        let a = admin(&app).await;
        upload(&app, &a, &doc("app", "1")).await.unwrap();
        let runs = app.builds.runs(&app.store).await;
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!((r.name.as_str(), r.number.as_str()), ("app", "1"));
        assert_eq!(r.path, "app/1-1795161600000.json");
        assert_eq!(r.started_ms, 1_795_161_600_000);
        // What an upload remembers is what a fresh lookup reads back from the stored file.
        let fresh = Arc::new(index::Index::default());
        fresh.attach(&app.store);
        let read = fresh.runs(&app.store).await;
        assert_eq!(read[0].doc, r.doc);
        assert_eq!(r.doc["extra"], serde_json::json!({"kept": true}));
        assert_eq!(r.doc["artifactoryPrincipal"], "admin");
        // A plain JSON file that is not build-info is no run; deleting the document removes it.
        let d = Deploy {
            repo: REPO.into(),
            path: "notes.json".into(),
            folder: false,
            matrix: vec![],
            sent: SentChecksums::default(),
            by_checksum: false,
            stamp: Stamp::default(),
        };
        artifacts::deploy(&app, &a, d, body(b"{\"x\":1}"))
            .await
            .unwrap();
        assert_eq!(app.builds.runs(&app.store).await.len(), 1);
        artifacts::delete(&app, &a, REPO, "app").await.unwrap();
        assert!(app.builds.runs(&app.store).await.is_empty());
        assert!(fresh.runs(&app.store).await.is_empty());
    }

    #[test]
    fn names_are_escaped_for_paths_as_artifactory_does() {
        assert_eq!(encode("a/b c:d.e%f"), "a%2Fb%20c%3Ad%2Ee%25f");
        assert_eq!(encode("ünï"), "ünï");
        assert_eq!(uri_segment("my app/x"), "my%20app%2Fx");
        assert_eq!(
            parse_started("2026-11-20T10:00:00.000+0200"),
            Some(1_795_161_600_000)
        );
        assert_eq!(parse_started("1795161600000"), None);
        assert_eq!(parse_started("2026-11-20"), None);
    }
}
