//! `/api/security/users|groups|permissions[/{name}]` (admin only), the user lock policy, locked users
//! and unlocking, and `/api/security/encryptedPassword`. Shapes follow Artifactory's v1 security API:
//! lists of `{name, uri}`, entities as pretty JSON, deletions answered in text.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::{Kind, Security};
use super::{commit_error, empty, json, read_small, respond, BodyStream, Req};
use crate::auth::model::{Act, Group, LockPolicy, Permission, SecurityChange, User};
use crate::auth::{encrypted_password, hash_password, Method as AuthMethod};
use crate::error::ApiError;
use crate::store::Mutation;

const USERS: &str = "application/vnd.org.jfrog.artifactory.security.Users+json";
const USER: &str = "application/vnd.org.jfrog.artifactory.security.User+json";
const GROUPS: &str = "application/vnd.org.jfrog.artifactory.security.Groups+json";
const GROUP: &str = "application/vnd.org.jfrog.artifactory.security.Group+json";
const PERMISSIONS: &str = "application/vnd.org.jfrog.artifactory.security.PermissionTargets+json";
const PERMISSION: &str = "application/vnd.org.jfrog.artifactory.security.PermissionTarget+json";

/// Answers a users, groups, permission targets, locks or encrypted-password endpoint.
pub(crate) async fn handle(r: &Req, e: Security, body: BodyStream) -> Result<Response, ApiError> {
    use Security as S;
    let base = r.base_url();
    match e {
        S::UsersList => Ok(list(r, Kind::User, &base)),
        S::GroupsList => Ok(list(r, Kind::Group, &base)),
        S::PermissionsList => Ok(list(r, Kind::Permission, &base)),
        S::UserGet { name } => entity(r, Kind::User, &name, Op::Get, body).await,
        S::UserCreate { name } => entity(r, Kind::User, &name, Op::Put, body).await,
        S::UserUpdate { name } => entity(r, Kind::User, &name, Op::Post, body).await,
        S::UserDelete { name } => entity(r, Kind::User, &name, Op::Delete, body).await,
        S::GroupGet { name } => entity(r, Kind::Group, &name, Op::Get, body).await,
        S::GroupCreate { name } => entity(r, Kind::Group, &name, Op::Put, body).await,
        S::GroupUpdate { name } => entity(r, Kind::Group, &name, Op::Post, body).await,
        S::GroupDelete { name } => entity(r, Kind::Group, &name, Op::Delete, body).await,
        S::PermissionGet { name } => entity(r, Kind::Permission, &name, Op::Get, body).await,
        S::PermissionPut { name } => entity(r, Kind::Permission, &name, Op::Put, body).await,
        S::PermissionDelete { name } => entity(r, Kind::Permission, &name, Op::Delete, body).await,
        S::LockPolicyGet => lock_policy(r, None).await,
        S::LockPolicySet => lock_policy(r, Some(body)).await,
        S::LockedUsers => locked_users(r),
        S::UnlockUsers { name: Some(name) } => unlock_users(r, Unlock::One(name)).await,
        S::UnlockUsers { name: None } => unlock_users(r, Unlock::Listed(body)).await,
        S::UnlockAll => unlock_users(r, Unlock::All).await,
        S::EncryptedPassword => encrypted(r),
        _ => Err(missing()),
    }
}

/// What a request does to one entity.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    /// Create or replace.
    Put,
    /// Partial update.
    Post,
    Delete,
}

fn missing() -> ApiError {
    ApiError::not_found("Not Found")
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    respond(status, "text/plain", body.into())
}

async fn entity(
    r: &Req,
    kind: Kind,
    raw: &str,
    op: Op,
    body: BodyStream,
) -> Result<Response, ApiError> {
    let name = super::path::decode(raw)
        .map_err(|e| ApiError::bad_request(e.0))?
        .replace('+', " ");
    if name.contains('/') || name.chars().any(char::is_control) || name.len() > 64 {
        return Err(ApiError::bad_request(format!(
            "Invalid name '{name}': names are at most 64 characters without '/' or control characters"
        )));
    }
    match op {
        Op::Get => get(r, kind, &name),
        Op::Delete => delete(r, kind, &name).await,
        Op::Put | Op::Post => {
            let bytes = read_small(body, 1 << 20).await?;
            let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::bad_request(format!("Could not parse the JSON body: {e}"))
            })?;
            let Value::Object(doc) = doc else {
                return Err(ApiError::bad_request("The JSON body must be an object"));
            };
            let replace = op == Op::Put;
            match kind {
                Kind::User => put_user(r, &name, &doc, replace).await,
                Kind::Group => put_group(r, &name, &doc, replace).await,
                Kind::Permission => put_permission(r, &name, &doc).await,
            }
        }
    }
}

fn list(r: &Req, kind: Kind, base: &str) -> Response {
    let state = r.state.store.read();
    let sec = &state.security;
    let uri = |n: &str| {
        format!(
            "{base}/api/security/{}/{}",
            kind.segment(),
            super::path::encode_path(n)
        )
    };
    let (ct, rows): (&str, Vec<Value>) = match kind {
        Kind::User => (
            USERS,
            sec.users
                .keys()
                .map(|n| json!({"name": n, "uri": uri(n), "realm": "internal"}))
                .collect(),
        ),
        Kind::Group => (
            GROUPS,
            sec.groups
                .keys()
                .map(|n| json!({"name": n, "uri": uri(n)}))
                .collect(),
        ),
        Kind::Permission => (
            PERMISSIONS,
            sec.permissions
                .keys()
                .map(|n| json!({"name": n, "uri": uri(n)}))
                .collect(),
        ),
    };
    json(StatusCode::OK, ct, &rows)
}

fn get(r: &Req, kind: Kind, name: &str) -> Result<Response, ApiError> {
    let state = r.state.store.read();
    let sec = &state.security;
    match kind {
        Kind::User => {
            let u = sec.user(name).ok_or_else(missing)?;
            let locked = sec.locked.contains(&u.name);
            Ok(json(StatusCode::OK, USER, &user_json(u, locked)))
        }
        Kind::Group => {
            let g = sec.groups.get(name).ok_or_else(missing)?;
            let mut v = Map::new();
            v.insert("name".into(), json!(g.name));
            v.insert("description".into(), json!(g.description));
            v.insert("autoJoin".into(), json!(g.auto_join));
            v.insert("adminPrivileges".into(), json!(g.admin_privileges));
            v.insert("realm".into(), json!("internal"));
            if r.query.flag("includeUsers", false) {
                let members: Vec<&String> = sec
                    .users
                    .values()
                    .filter(|u| u.groups.contains(&g.name))
                    .map(|u| &u.name)
                    .collect();
                v.insert("userNames".into(), json!(members));
            }
            Ok(json(StatusCode::OK, GROUP, &v))
        }
        Kind::Permission => {
            let p = sec.permissions.get(name).ok_or_else(missing)?;
            Ok(json(StatusCode::OK, PERMISSION, &permission_json(p)))
        }
    }
}

fn user_json(u: &User, locked: bool) -> Value {
    let mut v = Map::new();
    v.insert("name".into(), json!(u.name));
    v.insert("email".into(), json!(u.email));
    v.insert("admin".into(), json!(u.admin));
    v.insert("profileUpdatable".into(), json!(u.profile_updatable));
    v.insert(
        "internalPasswordDisabled".into(),
        json!(u.internal_password_disabled),
    );
    if !u.groups.is_empty() {
        v.insert("groups".into(), json!(u.groups));
    }
    v.insert("lastLoggedInMillis".into(), json!(0));
    v.insert("realm".into(), json!("internal"));
    v.insert("offlineMode".into(), json!(false));
    v.insert("disableUIAccess".into(), json!(u.disable_ui_access));
    v.insert("watchManager".into(), json!(false));
    v.insert("reportsManager".into(), json!(false));
    v.insert("policyManager".into(), json!(false));
    v.insert("policyViewer".into(), json!(false));
    let status = if locked {
        "LOCKED"
    } else if u.disabled {
        "DISABLED"
    } else {
        "ENABLED"
    };
    v.insert("status".into(), json!(status));
    Value::Object(v)
}

fn permission_json(p: &Permission) -> Value {
    let acts = |m: &BTreeMap<String, BTreeSet<Act>>| -> Map<String, Value> {
        m.iter()
            .map(|(k, a)| {
                // Artifactory lists the letters from the strongest down.
                let letters: Vec<&str> = a.iter().rev().map(|x| x.letter()).collect();
                (k.clone(), json!(letters))
            })
            .collect()
    };
    json!({
        "name": p.name,
        "includesPattern": p.includes,
        "excludesPattern": p.excludes,
        "repositories": p.repositories,
        "principals": {"users": acts(&p.users), "groups": acts(&p.groups)},
    })
}

/// A field of a JSON document: absent → `None`, wrong type → 400.
fn field<'a, T>(
    doc: &'a Map<String, Value>,
    key: &str,
    conv: impl Fn(&'a Value) -> Option<T>,
    what: &str,
) -> Result<Option<T>, ApiError> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => conv(v)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("Field '{key}' must be {what}"))),
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

async fn put_user(
    r: &Req,
    name: &str,
    doc: &Map<String, Value>,
    replace: bool,
) -> Result<Response, ApiError> {
    let name = name.to_lowercase();
    if name == "anonymous" {
        return Err(ApiError::bad_request(
            "The anonymous user cannot be changed through this API",
        ));
    }
    let email = field(doc, "email", |v| v.as_str().map(str::to_string), "a string")?;
    let password = field(
        doc,
        "password",
        |v| v.as_str().map(str::to_string),
        "a string",
    )?;
    let admin = field(doc, "admin", Value::as_bool, "a boolean")?;
    let updatable = field(doc, "profileUpdatable", Value::as_bool, "a boolean")?;
    let no_ui = field(doc, "disableUIAccess", Value::as_bool, "a boolean")?;
    let no_pw = field(doc, "internalPasswordDisabled", Value::as_bool, "a boolean")?;
    let groups = field(doc, "groups", strings, "an array of strings")?;
    // `status` (as we return it) enables or disables logins; LOCKED comes from the lock policy only.
    let disabled = match field(
        doc,
        "status",
        |v| v.as_str().map(str::to_string),
        "a string",
    )? {
        None => None,
        Some(s) if s.eq_ignore_ascii_case("enabled") => Some(false),
        Some(s) if s.eq_ignore_ascii_case("disabled") => Some(true),
        Some(s) => {
            return Err(ApiError::bad_request(format!(
                "Invalid status '{s}': expected ENABLED or DISABLED"
            )))
        }
    };
    let existing = r.state.store.read().security.user(&name).cloned();
    if !replace && existing.is_none() {
        return Err(missing());
    }
    if replace {
        if email.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::bad_request("Email is required"));
        }
        if password.as_deref().is_none_or(str::is_empty) && !no_pw.unwrap_or(false) {
            return Err(ApiError::bad_request("Password is required"));
        }
    }
    if let Some(e) = &email {
        if !e.contains('@') || e.len() > 254 {
            return Err(ApiError::bad_request(format!(
                "Invalid email address '{e}'"
            )));
        }
    }
    let hash = match &password {
        Some(p) if !p.is_empty() => hash_password(p).await?,
        _ => String::new(),
    };
    let known_groups: Vec<String> = {
        let s = r.state.store.read();
        match &groups {
            // Unknown group names are dropped, as Artifactory ignores them.
            Some(g) => g
                .iter()
                .filter(|g| s.security.groups.contains_key(*g))
                .cloned()
                .collect(),
            None => Vec::new(),
        }
    };
    let status;
    let user = match (existing, replace) {
        (Some(old), false) => {
            status = StatusCode::OK;
            User {
                email: email.unwrap_or(old.email.clone()),
                password: if hash.is_empty() {
                    old.password.clone()
                } else {
                    hash
                },
                admin: admin.unwrap_or(old.admin),
                profile_updatable: updatable.unwrap_or(old.profile_updatable),
                disable_ui_access: no_ui.unwrap_or(old.disable_ui_access),
                internal_password_disabled: no_pw.unwrap_or(old.internal_password_disabled),
                disabled: disabled.unwrap_or(old.disabled),
                groups: if groups.is_some() {
                    known_groups
                } else {
                    old.groups.clone()
                },
                ..old
            }
        }
        (old, _) => {
            status = if old.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let groups = if groups.as_ref().is_none_or(Vec::is_empty) {
                r.state.store.read().security.auto_join_groups()
            } else {
                known_groups
            };
            User {
                name: name.clone(),
                email: email.unwrap_or_default(),
                password: hash,
                admin: admin.unwrap_or(false),
                profile_updatable: updatable.unwrap_or(true),
                disable_ui_access: no_ui.unwrap_or(false),
                internal_password_disabled: no_pw.unwrap_or(false),
                disabled: disabled.unwrap_or(false),
                groups,
            }
        }
    };
    commit(r, SecurityChange::PutUser { user }).await?;
    Ok(empty(status))
}

async fn put_group(
    r: &Req,
    name: &str,
    doc: &Map<String, Value>,
    replace: bool,
) -> Result<Response, ApiError> {
    let description = field(
        doc,
        "description",
        |v| v.as_str().map(str::to_string),
        "a string",
    )?;
    let auto_join = field(doc, "autoJoin", Value::as_bool, "a boolean")?;
    let admin = field(doc, "adminPrivileges", Value::as_bool, "a boolean")?;
    let members = field(doc, "userNames", strings, "an array of strings")?;
    let existing = r.state.store.read().security.groups.get(name).cloned();
    if !replace && existing.is_none() {
        return Err(missing());
    }
    let old = existing.clone().filter(|_| !replace);
    let group = Group {
        name: name.to_string(),
        description: description.unwrap_or(
            old.as_ref()
                .map(|g| g.description.clone())
                .unwrap_or_default(),
        ),
        auto_join: auto_join.unwrap_or(old.as_ref().is_some_and(|g| g.auto_join)),
        admin_privileges: admin.unwrap_or(old.as_ref().is_some_and(|g| g.admin_privileges)),
    };
    if group.auto_join && group.admin_privileges {
        return Err(ApiError::bad_request(
            "Groups with admin privileges cannot be joined automatically",
        ));
    }
    commit(r, SecurityChange::PutGroup { group, members }).await?;
    Ok(empty(if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }))
}

async fn put_permission(
    r: &Req,
    name: &str,
    doc: &Map<String, Value>,
) -> Result<Response, ApiError> {
    let includes = field(
        doc,
        "includesPattern",
        |v| v.as_str().map(str::to_string),
        "a string",
    )?
    .filter(|s| !s.is_empty())
    .unwrap_or_else(|| "**".into());
    let excludes = field(
        doc,
        "excludesPattern",
        |v| v.as_str().map(str::to_string),
        "a string",
    )?
    .unwrap_or_default();
    if includes.len() > 1024 || excludes.len() > 1024 {
        return Err(ApiError::bad_request(
            "Include and exclude patterns are limited to 1024 characters",
        ));
    }
    let repositories =
        field(doc, "repositories", strings, "an array of strings")?.unwrap_or_default();
    let principals = field(doc, "principals", Value::as_object, "an object")?;
    let (users, groups) = {
        let state = r.state.store.read();
        let sec = &state.security;
        for key in &repositories {
            let pseudo = matches!(key.as_str(), "ANY" | "ANY LOCAL" | "ANY REMOTE");
            if !pseudo && state.repo(key).is_none() {
                return Err(ApiError::bad_request(format!(
                    "Permission target contains a reference to a non-existing repository '{key}'."
                )));
            }
            if state
                .repo(key)
                .is_some_and(|r| r.config.rclass == crate::config::RepoClass::Virtual)
            {
                return Err(ApiError::bad_request(format!(
                    "Permission targets are not supported for virtual repositories: '{key}'"
                )));
            }
        }
        let side =
            |key: &str, is_user: bool| -> Result<BTreeMap<String, BTreeSet<Act>>, ApiError> {
                let Some(obj) = principals.and_then(|p| p.get(key)) else {
                    return Ok(BTreeMap::new());
                };
                let obj = obj.as_object().ok_or_else(|| {
                    ApiError::bad_request(format!("Field 'principals.{key}' must be an object"))
                })?;
                let mut out = BTreeMap::new();
                for (who, acts) in obj {
                    let who = if is_user {
                        who.to_lowercase()
                    } else {
                        who.clone()
                    };
                    let exists = if is_user {
                        sec.user(&who).is_some()
                    } else {
                        sec.groups.contains_key(&who)
                    };
                    if !exists {
                        return Err(ApiError::bad_request(format!(
                            "Permission target contains a reference to a non-existing {} '{who}'.",
                            if is_user { "user" } else { "group" }
                        )));
                    }
                    let letters = strings(acts).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "Actions of '{who}' must be an array of letters (m, d, w, n, r, mxm, x)"
                        ))
                    })?;
                    let set = letters
                        .iter()
                        .map(|l| {
                            Act::parse(l).ok_or_else(|| {
                                ApiError::bad_request(format!("Unknown permission action '{l}'"))
                            })
                        })
                        .collect::<Result<BTreeSet<Act>, ApiError>>()?;
                    out.insert(who, set);
                }
                Ok(out)
            };
        (side("users", true)?, side("groups", false)?)
    };
    let existed = r.state.store.read().security.permissions.contains_key(name);
    let permission = Permission {
        name: name.to_string(),
        includes,
        excludes,
        repositories,
        users,
        groups,
    };
    commit(r, SecurityChange::PutPermission { permission }).await?;
    Ok(empty(if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }))
}

async fn delete(r: &Req, kind: Kind, name: &str) -> Result<Response, ApiError> {
    let (change, label, shown) = {
        let state = r.state.store.read();
        let sec = &state.security;
        match kind {
            Kind::User => {
                let u = sec.user(name).ok_or_else(missing)?;
                if u.name == "anonymous" {
                    return Err(ApiError::bad_request(
                        "The anonymous user cannot be deleted",
                    ));
                }
                if r.caller()?.name == u.name {
                    return Err(ApiError::bad_request("Users cannot delete themselves"));
                }
                (
                    SecurityChange::DeleteUser {
                        name: u.name.clone(),
                    },
                    "User",
                    u.name.clone(),
                )
            }
            Kind::Group => {
                sec.groups.get(name).ok_or_else(missing)?;
                (
                    SecurityChange::DeleteGroup { name: name.into() },
                    "Group",
                    name.to_string(),
                )
            }
            Kind::Permission => {
                sec.permissions.get(name).ok_or_else(missing)?;
                (
                    SecurityChange::DeletePermission { name: name.into() },
                    "Permission Target",
                    name.to_string(),
                )
            }
        }
    };
    commit(r, change).await?;
    Ok(text(
        StatusCode::OK,
        format!("{label} '{shown}' has been removed successfully."),
    ))
}

async fn commit(r: &Req, change: SecurityChange) -> Result<(), ApiError> {
    r.state
        .store
        .commit(Mutation::Security(change))
        .await
        .map_err(|e| commit_error(e, |_| missing()))
}

// ---------- lock policy and locked users ----------

async fn lock_policy(r: &Req, body: Option<BodyStream>) -> Result<Response, ApiError> {
    let Some(body) = body else {
        let p = r.state.store.read().security.lock_policy.clone();
        return Ok(json(
            StatusCode::OK,
            "application/json",
            &json!({"enabled": p.enabled, "loginAttempts": p.login_attempts}),
        ));
    };
    let bytes = read_small(body, 64 << 10).await?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Could not parse the JSON body: {e}")))?;
    let enabled = doc
        .get("enabled")
        .map(|v| v.as_bool().ok_or(()))
        .transpose()
        .map_err(|_| ApiError::bad_request("Field 'enabled' must be a boolean"))?;
    let attempts = match doc.get("loginAttempts") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| ApiError::bad_request("Field 'loginAttempts' must be a number"))?,
        ),
    };
    let old = r.state.store.read().security.lock_policy.clone();
    let attempts = attempts.unwrap_or(old.login_attempts as i64);
    if !(1..=100).contains(&attempts) {
        return Err(ApiError::text(400, "LoginAttempts must be between 1 - 100"));
    }
    let policy = LockPolicy {
        enabled: enabled.unwrap_or(old.enabled),
        login_attempts: attempts as u32,
    };
    commit(r, SecurityChange::LockPolicy { policy }).await?;
    Ok(text(
        StatusCode::OK,
        "UserLockPolicy was successfully updated",
    ))
}

fn locked_users(r: &Req) -> Result<Response, ApiError> {
    let names: Vec<String> = r
        .state
        .store
        .read()
        .security
        .locked
        .iter()
        .cloned()
        .collect();
    Ok(json(StatusCode::OK, "application/json", &names))
}

/// Which users an unlock names.
enum Unlock {
    One(String),
    /// The JSON array of names in the body.
    Listed(BodyStream),
    All,
}

async fn unlock_users(r: &Req, which: Unlock) -> Result<Response, ApiError> {
    let (names, message) = match which {
        Unlock::All => (None, "All users were successfully unlocked".to_string()),
        Unlock::Listed(body) => {
            let bytes = read_small(body, 1 << 20).await?;
            let names: Vec<String> = if bytes.iter().all(u8::is_ascii_whitespace) {
                Vec::new()
            } else {
                serde_json::from_slice(&bytes).map_err(|e| {
                    ApiError::bad_request(format!(
                        "The body must be a JSON array of user names: {e}"
                    ))
                })?
            };
            (
                Some(names.iter().map(|n| n.to_lowercase()).collect::<Vec<_>>()),
                "Specified users were successfully unlocked".to_string(),
            )
        }
        Unlock::One(name) => (
            Some(vec![name.to_lowercase()]),
            format!("The user: '{name}' was successfully unlocked"),
        ),
    };
    r.state.auth.reset_failures(names.as_deref());
    commit(r, SecurityChange::Unlock { names }).await?;
    Ok(text(StatusCode::OK, message))
}

// ---------- encrypted password ----------

fn encrypted(r: &Req) -> Result<Response, ApiError> {
    let caller = r.require_user()?;
    let state = r.state.store.read();
    let sec = &state.security;
    let not_found = || ApiError::not_found(format!("User not found. The user: '{}'", caller.name));
    let user = sec.user(&caller.name).ok_or_else(not_found)?;
    let body = match caller.method {
        // Authenticated with the API key: the key itself is returned (it is already a secret
        // that stands in for the password).
        AuthMethod::ApiKey => state
            .api_keys
            .get(&user.name)
            .cloned()
            .ok_or_else(not_found)?,
        AuthMethod::Password | AuthMethod::EncryptedPassword if !user.password.is_empty() => {
            encrypted_password(&sec.secret, &user.name, &user.password)
        }
        _ => return Err(not_found()),
    };
    Ok(text(StatusCode::OK, body))
}
