//! Build promotion and distribution: the files a build produced (and, asked to, the ones it
//! depended on) copied or moved to another repository with the same domain function as
//! `/api/copy` and `/api/move` (and its permission checks on every file), properties set on what
//! landed, and the promotion recorded in the build's `statuses`.
//!
//! A build's files are found by checksum: the stored files with a module artifact's SHA-1,
//! narrowed to those carrying the build's `build.name` and `build.number` properties when some do
//! (as the CI plugins set them on deploy), outside the build-info repository.

use std::sync::Arc;

use serde_json::{json, Value as Json};

use super::model::Build;
use super::{Run, REPO};
use crate::app::App;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::{Mutation, Props, Stamp, State};
use crate::transfer::{self, Transfer};

/// The stored files `build` produced (its module artifacts; with `deps`, the dependencies of the
/// scopes named too, or all of them when no scope is named), as `(repository, path)`, in
/// `source` only when given.
pub(crate) fn files_of(
    state: &State,
    build: &Build,
    source: Option<&[String]>,
    artifacts: bool,
    deps: Option<&[String]>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for m in &build.modules {
        let mut parts: Vec<&super::model::Part> = Vec::new();
        if artifacts {
            parts.extend(m.artifacts.iter());
        }
        if let Some(scopes) = deps {
            parts.extend(m.deps.iter().filter(|d| {
                scopes.is_empty()
                    || d.scope
                        .as_deref()
                        .is_some_and(|s| s.split(',').any(|s| scopes.iter().any(|w| w == s)))
            }));
        }
        for p in parts {
            let Some(sha1) = p.sha1.as_deref() else {
                continue;
            };
            for hit in by_sha1(state, build, sha1, source) {
                if !out.contains(&hit) {
                    out.push(hit);
                }
            }
        }
    }
    out
}

/// The build's artifacts alone (what deleting a build with its artifacts removes).
pub(crate) fn produced(
    state: &State,
    build: &Build,
    source: Option<&[String]>,
) -> Vec<(String, String)> {
    files_of(state, build, source, true, None)
}

fn by_sha1(
    state: &State,
    build: &Build,
    sha1: &str,
    source: Option<&[String]>,
) -> Vec<(String, String)> {
    let hits: Vec<(String, String, bool)> = state
        .index
        .by_sha1(sha1)
        .filter(|(repo, _)| *repo != REPO && source.is_none_or(|s| s.iter().any(|x| x == repo)))
        .filter_map(|(repo, path)| {
            let r = state.repo(repo).filter(|r| r.is_local())?;
            let item = r.items.get(path)?;
            let f = item.file.as_ref()?;
            if !f.sha1.hex().eq_ignore_ascii_case(sha1) {
                return None;
            }
            let ours = item.props.get("build.name").any(|v| v == build.name)
                && item.props.get("build.number").any(|v| v == build.number);
            Some((repo.to_string(), path.to_string(), ours))
        })
        .collect();
    let tagged = hits.iter().any(|h| h.2);
    hits.into_iter()
        .filter(|h| h.2 || !tagged)
        .map(|(r, p, _)| (r, p))
        .collect()
}

/// A promotion as the client asked for it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Promotion {
    pub status: Option<String>,
    pub comment: Option<String>,
    pub ci_user: Option<String>,
    /// As sent (`yyyy-MM-dd'T'HH:mm:ss.SSSZ`); now when absent.
    pub timestamp: Option<String>,
    pub dry_run: bool,
    pub source_repo: Option<String>,
    pub target_repo: Option<String>,
    /// Copy rather than move.
    pub copy: bool,
    pub artifacts: bool,
    pub dependencies: bool,
    pub scopes: Vec<String>,
    /// Set on every promoted file (each key to its values).
    pub properties: Vec<(String, Vec<String>)>,
    /// Stop at the first file that fails.
    pub fail_fast: bool,
}

/// One line of a promotion's or distribution's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// `INFO`, `WARNING` or `ERROR`.
    pub level: &'static str,
    pub message: String,
}

impl Message {
    fn error(message: String) -> Message {
        Message {
            level: "ERROR",
            message,
        }
    }

    fn info(message: String) -> Message {
        Message {
            level: "INFO",
            message,
        }
    }

    /// As Artifactory prints it.
    pub(crate) fn to_json(&self) -> Json {
        json!({"level": self.level, "message": self.message})
    }
}

/// What a promotion or distribution did: its messages (errors among them mean it failed).
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub messages: Vec<Message>,
}

impl Outcome {
    pub(crate) fn failed(&self) -> bool {
        self.messages.iter().any(|m| m.level == "ERROR")
    }
}

/// Promotes `run`: copies or moves its files to the target repository (when one is named), sets
/// the properties, and records the status in the build (unless it is a dry run or a file failed).
pub(crate) async fn promote(
    app: &App,
    caller: &Caller,
    run: &Arc<Run>,
    p: &Promotion,
) -> Result<Outcome, ApiError> {
    let mut out = Outcome::default();
    let files = {
        let state = app.store.read();
        if let Some(t) = &p.target_repo {
            if !state.repo(t).is_some_and(|r| r.is_local()) {
                return Err(msg::promotion_no_target(t));
            }
        }
        if let Some(s) = &p.source_repo {
            if state.repo(s).is_none() {
                return Err(msg::promotion_no_source(s));
            }
        }
        let source = p.source_repo.clone().map(|s| vec![s]);
        let deps = p.dependencies.then_some(p.scopes.as_slice());
        files_of(&state, &run.view, source.as_deref(), p.artifacts, deps)
    };
    let mut landed: Vec<(String, String)> = Vec::new();
    for (repo, path) in &files {
        let dst = match &p.target_repo {
            Some(t) => {
                let t = Transfer {
                    src_repo: repo.clone(),
                    src_path: path.clone(),
                    dst_repo: t.clone(),
                    dst_path: path.clone(),
                    into: false,
                    mv: !p.copy,
                    dry: p.dry_run,
                };
                if let Err(e) = transfer::run(app, caller, &t).await {
                    out.messages.push(Message::error(e.message().to_string()));
                    if p.fail_fast {
                        return Ok(out);
                    }
                    continue;
                }
                (t.dst_repo, t.dst_path)
            }
            None => (repo.clone(), path.clone()),
        };
        landed.push(dst);
    }
    if p.dry_run {
        return Ok(out);
    }
    if !p.properties.is_empty() {
        for (repo, path) in &landed {
            if let Err(e) = set_props(app, caller, repo, path, &p.properties).await {
                out.messages.push(Message::error(e.message().to_string()));
                if p.fail_fast {
                    return Ok(out);
                }
            }
        }
    }
    if !out.failed() {
        record(app, caller, run, p).await?;
    }
    Ok(out)
}

async fn set_props(
    app: &App,
    caller: &Caller,
    repo: &str,
    path: &str,
    props: &[(String, Vec<String>)],
) -> Result<(), ApiError> {
    let mut set = Props::default();
    for (k, vs) in props {
        for v in vs {
            set.add(k, v);
        }
    }
    let now = app.config.clock.now_ms();
    let check = |state: &State| {
        app.auth
            .require(state, caller, Action::Annotate, repo, path, || {
                msg::annotate_forbidden(&caller.name, repo, path)
            })?;
        Ok(Mutation::EditProps {
            repo: repo.to_string(),
            path: path.to_string(),
            set,
            remove: vec![],
            recursive: false,
            now,
        })
    };
    app.store
        .transact(check, |_| ())
        .await
        .map_err(|r| ApiError::refused(r, |t| ApiError::internal(format!("{t:?}"))))
}

/// Appends the promotion to the run's `statuses` (the document is rewritten in place).
async fn record(app: &App, caller: &Caller, run: &Arc<Run>, p: &Promotion) -> Result<(), ApiError> {
    let now = app.config.clock.now_ms();
    let timestamp = p
        .timestamp
        .clone()
        .unwrap_or_else(|| crate::clock::iso_no_colon(now));
    let mut status = serde_json::Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            status.insert(k.into(), Json::String(v));
        }
    };
    put("status", p.status.clone());
    put("comment", p.comment.clone());
    put("repository", p.target_repo.clone());
    put("timestamp", Some(timestamp));
    put("user", Some(caller.name.clone()));
    put("ciUser", p.ci_user.clone());
    let mut doc = (*run.doc).clone();
    if let Some(o) = doc.as_object_mut() {
        let list = o
            .entry("statuses")
            .or_insert_with(|| Json::Array(Vec::new()));
        if let Json::Array(a) = list {
            a.push(Json::Object(status));
        }
    }
    let _pin = app.store.blobs.pin().await;
    let file = super::store_doc(app, &doc).await?;
    let m = Mutation::PutFile {
        repo: REPO.into(),
        path: run.path.clone(),
        file,
        props: Default::default(),
        now,
        user: caller.name.clone(),
        stamp: Stamp::default(),
    };
    let check = |state: &State| match state.item(REPO, &run.path) {
        Some(_) => Ok(m),
        None => Err(msg::no_build_run(&run.name, &run.number, None)),
    };
    app.store
        .transact(check, |_| ())
        .await
        .map_err(|r| ApiError::refused(r, |t| ApiError::internal(format!("{t:?}"))))
}

/// A distribution as the client asked for it. JCR has no distribution targets (Bintray, edge
/// nodes): the build's artifacts are copied into a local repository of this server.
#[derive(Debug, Default, Clone)]
pub(crate) struct Distribution {
    pub target_repo: Option<String>,
    /// Where the artifacts are looked for (all local repositories when empty).
    pub source_repos: Vec<String>,
    pub dry_run: bool,
    /// Replace files with other content at the target (otherwise they are reported and kept).
    pub override_existing: bool,
}

/// Copies `run`'s artifacts into the target repository, at their own paths.
pub(crate) async fn distribute(
    app: &App,
    caller: &Caller,
    run: &Arc<Run>,
    d: &Distribution,
) -> Result<Outcome, ApiError> {
    let Some(target) = d.target_repo.clone() else {
        return Err(msg::distribution_no_target());
    };
    let files = {
        let state = app.store.read();
        if !state.repo(&target).is_some_and(|r| r.is_local()) {
            return Err(msg::promotion_no_target(&target));
        }
        let source = (!d.source_repos.is_empty()).then_some(d.source_repos.as_slice());
        let found = files_of(&state, &run.view, source, true, None);
        let sha256 = |repo: &str, path: &str| {
            state
                .item(repo, path)
                .and_then(|i| i.file.as_ref())
                .map(|f| f.sha256.hex().to_string())
        };
        found
            .into_iter()
            .map(|(repo, path)| {
                let there = sha256(&target, &path);
                let same = there.is_some() && there == sha256(&repo, &path);
                (repo, path, there.is_some(), same)
            })
            .collect::<Vec<_>>()
    };
    let mut out = Outcome::default();
    for (repo, path, exists, same) in files {
        let at = format!("{target}:{path}");
        if same {
            out.messages.push(Message::info(format!(
                "Skipping '{repo}:{path}': '{at}' already has the same content"
            )));
            continue;
        }
        if exists && !d.override_existing {
            out.messages.push(Message::error(format!(
                "'{at}' already exists with other content (overrideExistingFiles is false)"
            )));
            continue;
        }
        let t = Transfer {
            src_repo: repo.clone(),
            src_path: path.clone(),
            dst_repo: target.clone(),
            dst_path: path.clone(),
            into: false,
            mv: false,
            dry: d.dry_run,
        };
        match transfer::run(app, caller, &t).await {
            Ok(_) => out.messages.push(Message::info(format!(
                "{}Distributed '{repo}:{path}' to '{at}'",
                if d.dry_run { "Dry run: " } else { "" }
            ))),
            Err(e) => out.messages.push(Message::error(e.message().to_string())),
        }
    }
    Ok(out)
}
