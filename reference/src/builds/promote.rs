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
use super::{parse_started, Run, REPO};
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

    fn warning(message: String) -> Message {
        Message {
            level: "WARNING",
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
    /// Whether an error or a warning was reported (what makes a fail-fast promotion a 400).
    pub(crate) fn failed(&self) -> bool {
        self.messages
            .iter()
            .any(|m| m.level == "ERROR" || m.level == "WARNING")
    }
}

/// Promotes `run`: copies or moves its files to the target repository (when one is named), sets
/// the properties, and records the status in the build, saying in its messages what it skipped
/// (BuildPromotionHelper's texts). With `failFast`, the first failed file stops it and no status
/// is recorded; a dry run changes nothing.
pub(crate) async fn promote(
    app: &App,
    caller: &Caller,
    run: &Arc<Run>,
    p: &Promotion,
) -> Result<Outcome, ApiError> {
    let mut out = Outcome::default();
    let files = {
        let state = app.store.read();
        // Promoting a build is managing it; checked again when the status is recorded.
        may_promote(app, &state, caller, run)?;
        for repo in [&p.target_repo, &p.source_repo].into_iter().flatten() {
            if state.repo(repo).is_none() {
                return Err(msg::promotion_no_repository(repo));
            }
        }
        let source = p.source_repo.clone().map(|s| vec![s]);
        let deps = p.dependencies.then_some(p.scopes.as_slice());
        files_of(&state, &run.view, source.as_deref(), p.artifacts, deps)
    };
    let verb = if p.copy { "copying" } else { "moving" };
    let mut landed: Vec<(String, String)> = Vec::new();
    match &p.target_repo {
        None => out.messages.push(Message::info(
            "Skipping build item relocation: no target repository selected.".into(),
        )),
        Some(_) if files.is_empty() && declares_files(&run.view, p) => {
            return Err(msg::promotion_no_artifacts(&run.name, &run.number));
        }
        Some(target) => {
            for (repo, path) in &files {
                let t = Transfer {
                    src_repo: repo.clone(),
                    src_path: path.clone(),
                    dst_repo: target.clone(),
                    dst_path: path.clone(),
                    into: false,
                    mv: !p.copy,
                    dry: p.dry_run,
                };
                match transfer::run(app, caller, &t).await {
                    Ok(_) => landed.push((t.dst_repo, t.dst_path)),
                    Err(e) => {
                        out.messages.push(Message::error(format!(
                            "Error occurred while {verb}: {}",
                            e.message()
                        )));
                        if p.fail_fast {
                            break;
                        }
                    }
                }
            }
        }
    }
    if p.target_repo.is_none() {
        landed = files.clone();
    }
    let aborted = p.fail_fast && out.failed();
    if p.dry_run || aborted {
        if aborted {
            out.messages.push(Message::info(
                "Skipping promotion status update: item promotion was completed with errors and warnings.".into(),
            ));
        }
        return Ok(out);
    }
    if !p.properties.is_empty() {
        for (repo, path) in &landed {
            if set_props(app, caller, repo, path, &p.properties)
                .await
                .is_err()
            {
                out.messages.push(Message::warning(format!(
                    "User doesn't have permissions to annotate '{repo}:{path}'"
                )));
            }
        }
    }
    let status = p.status.as_deref().unwrap_or("").trim();
    if status.is_empty() {
        out.messages.push(Message::info(
            "Skipping promotion status update: no status received.".into(),
        ));
        return Ok(out);
    }
    if let Some(ts) = p
        .timestamp
        .as_deref()
        .filter(|t| parse_started(t).is_none())
    {
        out.messages.push(Message::error(format!(
            "Skipping promotion status update: invalid\\unparsable timestamp {ts}."
        )));
        return Ok(out);
    }
    record(app, caller, run, p).await?;
    Ok(out)
}

/// Promotion needs the manage permission on the build (its document in the build-info
/// repository).
fn may_promote(app: &App, state: &State, caller: &Caller, run: &Run) -> Result<(), ApiError> {
    app.auth
        .require(state, caller, Action::Manage, REPO, &run.path, || {
            msg::build_promote_forbidden(&caller.name, &run.name)
        })
}

/// Whether the build names files of the kinds a promotion moves.
fn declares_files(b: &Build, p: &Promotion) -> bool {
    b.modules
        .iter()
        .any(|m| (p.artifacts && !m.artifacts.is_empty()) || (p.dependencies && !m.deps.is_empty()))
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
    let check = |state: &State| {
        may_promote(app, state, caller, run)?;
        match state.item(REPO, &run.path) {
            Some(_) => Ok(m),
            None => Err(msg::no_build_run(&run.name, &run.number, None)),
        }
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
    /// Replace files with other content at the target (otherwise each is an error and is kept).
    pub override_existing: bool,
    /// Answer at once and copy in the background.
    pub background: bool,
}

/// What a distribution did, as `DistributionResponseBuilder` reports it.
#[derive(Debug, Default)]
pub(crate) struct Distributed {
    /// The summary line.
    pub message: String,
    /// Errors by path (`(path, status, message)`).
    pub by_path: Vec<(String, u16, String)>,
    /// Errors not about one path (`(status, message)`).
    pub errors: Vec<(u16, String)>,
}

impl Distributed {
    /// 200, or the error's status; 409 when several paths failed.
    pub(crate) fn status(&self) -> u16 {
        if self.by_path.len() > 1 {
            return 409;
        }
        let path_codes = self.by_path.iter().map(|e| e.1);
        path_codes
            .chain(self.errors.iter().map(|e| e.0))
            .max()
            .unwrap_or(200)
    }

    /// The answer's document.
    pub(crate) fn to_json(&self) -> Json {
        let mut o = serde_json::Map::new();
        o.insert("message".into(), Json::from(self.message.clone()));
        if !self.by_path.is_empty() {
            let rows: Vec<Json> = self
                .by_path
                .iter()
                .map(|(path, code, m)| {
                    json!({"path": path, "errors": [{"code": code, "message": m}], "warnings": []})
                })
                .collect();
            o.insert("messagesByPath".into(), Json::Array(rows));
        }
        let errors: Vec<Json> = self
            .by_path
            .iter()
            .map(|e| (e.1, &e.2))
            .chain(self.errors.iter().map(|e| (e.0, &e.1)))
            .map(|(code, m)| json!({"code": code, "message": m}))
            .collect();
        if !errors.is_empty() {
            o.insert("errors".into(), Json::Array(errors));
        }
        Json::Object(o)
    }
}

fn summary(name: &str, number: &str, dry: bool, tail: &str) -> String {
    if dry {
        // Artifactory's text loses the build id here (an operator-precedence slip in its code).
        format!("Dry run for distribution of  {tail}")
    } else {
        format!("Distribution of {name} #{number} {tail}")
    }
}

/// Copies the artifacts of `name` `number` (its latest run) into the target repository, at their
/// own paths; in the background with `d.background` (the answer then says it was scheduled).
pub(crate) async fn distribute(
    app: &crate::app::AppState,
    caller: &Caller,
    name: &str,
    number: &str,
    d: &Distribution,
) -> Result<Distributed, ApiError> {
    let Some(target) = d.target_repo.clone() else {
        return Err(msg::distribution_no_target());
    };
    let Ok(run) = super::find(app, caller, name, number, None).await else {
        let why = format!("Invalid build {name}:{number} given.");
        return Ok(Distributed {
            message: summary(
                name,
                number,
                d.dry_run,
                &format!("encountered errors: {why}"),
            ),
            by_path: vec![],
            errors: vec![(400, why)],
        });
    };
    if !app.store.read().repo(&target).is_some_and(|r| r.is_local()) {
        return Err(msg::promotion_no_repository(&target));
    }
    if d.background && !d.dry_run {
        let (a, who, d2) = (app.clone(), caller.clone(), d.clone());
        let (n, num) = (name.to_string(), number.to_string());
        app.jobs.once(
            "build-distribution",
            app.config.clock.now_ms(),
            async move {
                let out = copy_files(&a, &who, &run, &target, &d2).await;
                for (path, _, m) in out.by_path {
                    tracing::warn!("distribution of {n} #{num}: {path}: {m}");
                }
            },
        );
        return Ok(Distributed {
            message: summary(name, number, false, "Scheduled to run successfully."),
            ..Default::default()
        });
    }
    let mut out = copy_files(app, caller, &run, &target, d).await;
    out.message = match out.by_path.last() {
        None => summary(name, number, d.dry_run, "finished successfully."),
        Some((_, _, m)) => summary(name, number, d.dry_run, &format!("encountered errors: {m}")),
    };
    Ok(out)
}

async fn copy_files(
    app: &App,
    caller: &Caller,
    run: &Arc<Run>,
    target: &str,
    d: &Distribution,
) -> Distributed {
    let files = {
        let state = app.store.read();
        let source = (!d.source_repos.is_empty()).then_some(d.source_repos.as_slice());
        let sha256 = |repo: &str, path: &str| {
            state
                .item(repo, path)
                .and_then(|i| i.file.as_ref())
                .map(|f| f.sha256.hex().to_string())
        };
        files_of(&state, &run.view, source, true, None)
            .into_iter()
            .map(|(repo, path)| {
                let there = sha256(target, &path);
                let same = there.is_some() && there == sha256(&repo, &path);
                (repo, path, there.is_some(), same)
            })
            .collect::<Vec<_>>()
    };
    let mut out = Distributed::default();
    for (repo, path, exists, same) in files {
        let at = format!("{target}/{path}");
        if same {
            continue;
        }
        if exists && !d.override_existing {
            out.by_path.push((
                at.clone(),
                409,
                format!("The file '{at}' already exists and overrideExistingFiles is false."),
            ));
            continue;
        }
        let t = Transfer {
            src_repo: repo,
            src_path: path.clone(),
            dst_repo: target.to_string(),
            dst_path: path,
            into: false,
            mv: false,
            dry: d.dry_run,
        };
        if let Err(e) = transfer::run(app, caller, &t).await {
            out.by_path.push((at, e.status, e.message().to_string()));
        }
    }
    out
}
