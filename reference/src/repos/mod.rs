//! Repositories: their configurations (created, changed, deleted, listed as the caller may see
//! them) in Artifactory's configuration JSON; the resolver ([`resolve`]) and remote repositories'
//! fetching ([`remote`]).

pub(crate) mod remote;
pub(crate) mod resolve;
pub(crate) mod settings;
pub(crate) mod upstream;

use serde_json::{json, Map, Value};

use crate::app::App;
use crate::auth::{Action, Caller};
use crate::config::{valid_repo_key, PackageType, RepoClass, RepoConfig};
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::{Mutation, State, TreeError};

/// The repositories the caller may read something in, local first, then remote, then virtual,
/// filtered by class (`type`) and package type, as Artifactory's list shows them.
pub(crate) fn list(
    app: &App,
    caller: &Caller,
    rtype: Option<&str>,
    package_type: Option<&str>,
    base: &str,
) -> Vec<Value> {
    let want_type = rtype.map(str::to_ascii_lowercase);
    let want_pt = package_type.map(str::to_ascii_lowercase);
    let state = app.store.read();
    let mut out = Vec::new();
    for class in [RepoClass::Local, RepoClass::Remote, RepoClass::Virtual] {
        if want_type.as_deref().is_some_and(|t| t != class.lower()) {
            continue;
        }
        for repo in state.repos.values().filter(|x| x.config.rclass == class) {
            let c = &repo.config;
            if !app.auth.may(&state, caller, Action::Read, &c.key, "")
                || want_pt
                    .as_deref()
                    .is_some_and(|p| p != c.package_type.lower())
            {
                continue;
            }
            let mut v = Map::new();
            v.insert("key".into(), json!(c.key));
            if !c.description.is_empty() {
                v.insert("description".into(), json!(c.description));
            }
            v.insert("type".into(), json!(class.upper()));
            let url = match class {
                RepoClass::Remote => c.url.clone().unwrap_or_default(),
                _ => format!("{base}/{}", c.key),
            };
            v.insert("url".into(), json!(url));
            v.insert("packageType".into(), json!(c.package_type.display()));
            out.push(Value::Object(v));
        }
    }
    out
}

/// The configuration of `key` (the caller needs read on the repository).
pub(crate) fn get(app: &App, caller: &Caller, key: &str) -> Result<RepoConfig, ApiError> {
    let state = app.store.read();
    app.auth
        .require(&state, caller, Action::Read, key, "", msg::forbidden)?;
    state
        .repo(key)
        .map(|r| r.config.clone())
        .ok_or_else(msg::bad_request)
}

/// Creates `key` from its configuration JSON.
pub(crate) async fn create(
    app: &App,
    caller: &Caller,
    key: &str,
    doc: &Map<String, Value>,
) -> Result<(), ApiError> {
    let check = |state: &State| {
        if state.repo_ci(key).is_some() {
            return Err(msg::repository_exists());
        }
        Ok(Mutation::CreateRepo {
            config: parse_config(key, doc, None, &|k| state.repo(k).map(|r| &r.config))?,
            now: app.config.clock.now_ms(),
            user: caller.name.clone(),
        })
    };
    app.store.transact(check, |_| ()).await.map_err(|r| {
        ApiError::refused(r, |t| match t {
            TreeError::RepoExists => msg::repository_exists(),
            other => ApiError::internal(format!("{other:?}")),
        })
    })
}

/// Changes `key`'s configuration with the fields `doc` names.
pub(crate) async fn update(app: &App, key: &str, doc: &Map<String, Value>) -> Result<(), ApiError> {
    let check = |state: &State| {
        let existing = state.repo(key).ok_or_else(msg::bad_request)?;
        Ok(Mutation::UpdateRepo {
            config: parse_config(key, doc, Some(&existing.config), &|k| {
                state.repo(k).map(|r| &r.config)
            })?,
        })
    };
    app.store
        .transact(check, |_| ())
        .await
        .map_err(|r| ApiError::refused(r, |_| msg::bad_request()))
}

/// Deletes `key` with everything in it.
pub(crate) async fn delete(app: &App, key: &str) -> Result<(), ApiError> {
    app.store
        .commit(Mutation::DeleteRepo {
            key: key.to_string(),
        })
        .await
        .map_err(|e| {
            ApiError::refused(crate::store::Refusal::Commit(e), |_| {
                msg::no_repository(key)
            })
        })
}

/// The configuration JSON of a repository, in the field order a 7.x server writes. The upstream
/// password is never shown (an empty string, set or not).
pub(crate) fn config_json(c: &RepoConfig) -> Value {
    let mut v = Map::new();
    v.insert("key".into(), json!(c.key));
    v.insert("packageType".into(), json!(c.package_type.lower()));
    v.insert("description".into(), json!(c.description));
    v.insert("notes".into(), json!(c.notes));
    v.insert("includesPattern".into(), json!(c.includes_pattern));
    v.insert("excludesPattern".into(), json!(c.excludes_pattern));
    match c.rclass {
        RepoClass::Remote => {
            v.insert("url".into(), json!(c.url.clone().unwrap_or_default()));
        }
        RepoClass::Virtual => {
            v.insert("repositories".into(), json!(c.repositories));
        }
        RepoClass::Local => {}
    }
    for (name, value) in settings::render(c) {
        let username = name == "username";
        v.insert(name, value);
        if username {
            v.insert("password".into(), json!(""));
        }
    }
    if let Some(d) = c
        .default_deployment_repo
        .as_ref()
        .filter(|_| c.rclass == RepoClass::Virtual)
    {
        v.insert("defaultDeploymentRepo".into(), json!(d));
    }
    v.insert("rclass".into(), json!(c.rclass.lower()));
    Value::Object(v)
}

/// [`parse_config`] of a new repository `fuzz-local` over an empty state (the fuzz targets).
pub(crate) fn parse_for_fuzz(doc: &Map<String, Value>) -> Result<RepoConfig, ApiError> {
    parse_config("fuzz-local", doc, None, &|_| None)
}

/// A new repository `key` from its JSON, its members looked up with `lookup` (a whole
/// configuration checks its repositories against each other, not against the live state).
pub(crate) fn from_doc<'a>(
    key: &str,
    doc: &Map<String, Value>,
    lookup: &dyn Fn(&str) -> Option<&'a RepoConfig>,
) -> Result<RepoConfig, ApiError> {
    parse_config(key, doc, None, lookup)
}

/// What the checks of a configuration know about other repositories: their configuration by key.
type Lookup<'l, 'a> = &'l dyn Fn(&str) -> Option<&'a RepoConfig>;

/// Builds a configuration from JSON (on top of `existing` for updates) and validates it.
fn parse_config(
    key: &str,
    doc: &Map<String, Value>,
    existing: Option<&RepoConfig>,
    lookup: Lookup<'_, '_>,
) -> Result<RepoConfig, ApiError> {
    let s = |name: &str| -> Result<Option<String>, ApiError> {
        match doc.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.clone())),
            Some(_) => Err(ApiError::bad_request(format!(
                "Field '{name}' must be a string"
            ))),
        }
    };
    if !valid_repo_key(key) {
        return Err(ApiError::bad_request(format!(
            "Invalid repository key '{key}'"
        )));
    }
    if let Some(k) = s("key")? {
        if k != key {
            return Err(ApiError::bad_request(format!(
                "Repository key in the body ('{k}') does not match the URL ('{key}')"
            )));
        }
    }
    let rclass = match (s("rclass")?, existing) {
        (Some(c), ex) => {
            let c = RepoClass::parse(&c).ok_or_else(|| {
                ApiError::bad_request(format!("Unsupported repository class: {c}"))
            })?;
            if ex.is_some_and(|e| e.rclass != c) {
                return Err(ApiError::bad_request(
                    "The repository class (rclass) of an existing repository cannot be changed",
                ));
            }
            c
        }
        (None, Some(e)) => e.rclass,
        (None, None) => return Err(ApiError::bad_request("Repository rclass is mandatory")),
    };
    let package_type = match (s("packageType")?, existing) {
        (Some(p), ex) => {
            let pt = PackageType::parse(&p)
                .ok_or_else(|| ApiError::bad_request(format!("Unsupported package type: {p}")))?;
            if ex.is_some_and(|e| e.package_type != pt) {
                return Err(ApiError::bad_request(
                    "The package type of an existing repository cannot be changed",
                ));
            }
            pt
        }
        (None, Some(e)) => e.package_type,
        (None, None) => PackageType::Generic,
    };
    let mut c = existing
        .cloned()
        .unwrap_or_else(|| RepoConfig::new(key, rclass, package_type));
    if let Some(v) = s("description")? {
        c.description = v;
    }
    if let Some(v) = s("notes")? {
        c.notes = v;
    }
    if let Some(v) = s("includesPattern")? {
        c.includes_pattern = v;
    }
    if let Some(v) = s("excludesPattern")? {
        c.excludes_pattern = v;
    }
    settings::apply(&mut c, doc)?;
    if rclass == RepoClass::Remote {
        if let Some(u) = s("url")? {
            c.url = Some(u);
        }
        match s("password")? {
            Some(p) if p.is_empty() => c.password = None,
            Some(p) => c.password = Some(p.into()),
            None => {}
        }
        let url = c.url.as_deref().unwrap_or("");
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ApiError::bad_request(
                "Remote repository url is mandatory and must be an http(s) URL",
            ));
        }
    }
    if rclass == RepoClass::Virtual {
        if let Some(v) = doc.get("repositories") {
            let members: Option<Vec<String>> = v
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect());
            let members = members.ok_or_else(|| {
                ApiError::bad_request("Field 'repositories' must be an array of repository keys")
            })?;
            for m in &members {
                if m == key || lookup(m).is_none() {
                    return Err(ApiError::bad_request(format!(
                        "Repository '{m}' does not exist or cannot be a member of '{key}'"
                    )));
                }
                if reaches(lookup, m, key, &mut Vec::new()) {
                    return Err(ApiError::bad_request(format!(
                        "Repository '{m}' includes '{key}': a virtual repository cannot include itself through its members"
                    )));
                }
            }
            c.repositories = members;
        }
        if let Some(d) = s("defaultDeploymentRepo")? {
            if d.is_empty() {
                c.default_deployment_repo = None;
            } else if !c.repositories.contains(&d)
                || lookup(&d).is_none_or(|x| x.rclass != RepoClass::Local)
            {
                return Err(ApiError::bad_request(format!(
                    "Default deployment repository '{d}' must be a local repository included in the virtual repository"
                )));
            } else {
                c.default_deployment_repo = Some(d);
            }
        }
    }
    Ok(c)
}

/// Whether the virtual repository `from` has `target` among its members, at any depth.
fn reaches(lookup: Lookup<'_, '_>, from: &str, target: &str, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|s| s == from) {
        return false;
    }
    seen.push(from.to_string());
    lookup(from).is_some_and(|c| {
        c.repositories
            .iter()
            .any(|m| m == target || reaches(lookup, m, target, seen))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{admin, app};

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[tokio::test]
    async fn repositories_are_created_changed_and_deleted() {
        let app = app();
        let a = admin(&app).await;
        create(
            &app,
            &a,
            "libs",
            &doc(json!({"rclass": "local", "description": "d"})),
        )
        .await
        .unwrap();
        let e = create(&app, &a, "LIBS", &doc(json!({"rclass": "local"})))
            .await
            .unwrap_err();
        assert_eq!(
            e.message(),
            "Case insensitive repository key already exists"
        );
        update(&app, "libs", &doc(json!({"notes": "n"})))
            .await
            .unwrap();
        let c = get(&app, &a, "libs").unwrap();
        assert_eq!((c.description.as_str(), c.notes.as_str()), ("d", "n"));
        let e = update(&app, "libs", &doc(json!({"rclass": "virtual"})))
            .await
            .unwrap_err();
        assert_eq!(
            e.message(),
            "The repository class (rclass) of an existing repository cannot be changed"
        );
        let rows = list(
            &app,
            &a,
            Some("local"),
            Some("generic"),
            "http://h/artifactory",
        );
        assert!(rows
            .iter()
            .any(|r| r["key"] == "libs" && r["url"] == "http://h/artifactory/libs"));
        delete(&app, "libs").await.unwrap();
        assert_eq!(
            delete(&app, "libs").await.unwrap_err().message(),
            "Repository libs does not exist"
        );
    }

    #[tokio::test]
    async fn bad_configurations_create_nothing() {
        let app = app();
        let a = admin(&app).await;
        for (key, body) in [
            ("r1", json!({})),
            ("r2", json!({"rclass": "remote"})),
            (
                "r3",
                json!({"rclass": "virtual", "repositories": ["missing"]}),
            ),
            ("r4", json!({"rclass": "local", "packageType": "cobol"})),
            ("bad key!", json!({"rclass": "local"})),
        ] {
            let e = create(&app, &a, key, &doc(body)).await.unwrap_err();
            assert_eq!(e.status, 400, "{key}");
            assert!(app.store.read().repo(key).is_none());
        }
    }
}
