//! Administration of who may do what: users, groups and permission targets (Artifactory's v1
//! security API documents, created, changed, listed and deleted), the user lock policy, unlocking,
//! and the encrypted password. Every change is checked against the state it is written to.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::model::{Act, Group, LockPolicy, Permission, SecurityChange, User};
use super::{encrypted_password, hash_password, Caller, Method};
use crate::app::App;
use crate::config::RepoClass;
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::{Mutation, State};

/// Which security entity an endpoint is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    User,
    Group,
    Permission,
}

impl Kind {
    /// The path segment (`users`, `groups`, `permissions`).
    pub(crate) fn segment(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::Group => "groups",
            Kind::Permission => "permissions",
        }
    }
}

fn missing() -> ApiError {
    msg::not_found()
}

/// Names of users, groups and permission targets: at most 64 characters, no `/` or control
/// characters, not only dots (`.` and `..` would be path segments that resolve away; `+` stands for
/// a space, as in a form).
pub(crate) fn check_name(decoded: &str) -> Result<String, ApiError> {
    let name = decoded.replace('+', " ");
    if name.contains('/')
        || name.chars().any(char::is_control)
        || name.len() > 64
        || name.trim_matches('.').is_empty()
    {
        return Err(ApiError::bad_request(format!(
            "Invalid name '{name}': names are at most 64 characters without '/' or control characters, and not only dots"
        )));
    }
    Ok(name)
}

/// The list of every entity of `kind`: `{name, uri}` (users also carry their realm).
pub(crate) fn list(state: &State, kind: Kind, uri: impl Fn(&str) -> String) -> Vec<Value> {
    let sec = &state.security;
    match kind {
        Kind::User => sec
            .users
            .keys()
            .map(|n| json!({"name": n, "uri": uri(n), "realm": "internal"}))
            .collect(),
        Kind::Group => sec
            .groups
            .keys()
            .map(|n| json!({"name": n, "uri": uri(n)}))
            .collect(),
        Kind::Permission => sec
            .permissions
            .keys()
            .map(|n| json!({"name": n, "uri": uri(n)}))
            .collect(),
    }
}

/// One entity as Artifactory shows it; a group lists its members when asked.
pub(crate) fn get(
    state: &State,
    kind: Kind,
    name: &str,
    with_members: bool,
) -> Result<Value, ApiError> {
    let sec = &state.security;
    Ok(match kind {
        Kind::User => {
            let u = sec.user(name).ok_or_else(missing)?;
            user_json(u, sec.locked.contains(&u.name))
        }
        Kind::Group => {
            let g = sec.groups.get(name).ok_or_else(missing)?;
            let mut v = Map::new();
            v.insert("name".into(), json!(g.name));
            v.insert("description".into(), json!(g.description));
            v.insert("autoJoin".into(), json!(g.auto_join));
            v.insert("adminPrivileges".into(), json!(g.admin_privileges));
            v.insert("realm".into(), json!("internal"));
            if with_members {
                let members: Vec<&String> = sec
                    .users
                    .values()
                    .filter(|u| u.groups.contains(&g.name))
                    .map(|u| &u.name)
                    .collect();
                v.insert("userNames".into(), json!(members));
            }
            // The manager flags of the Group schema: no group here manages Xray's watches,
            // reports or policies.
            for flag in ["watchManager", "policyManager", "reportsManager"] {
                v.insert(flag.into(), json!(false));
            }
            Value::Object(v)
        }
        Kind::Permission => permission_json(sec.permissions.get(name).ok_or_else(missing)?),
    })
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

fn string(doc: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    field(doc, key, |v| v.as_str().map(str::to_string), "a string")
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// Commits a security change checked against the state it applies to; `true` when it created
/// the entity (a 201) rather than replacing one.
async fn commit(
    app: &App,
    check: impl FnOnce(&State) -> Result<(SecurityChange, bool), ApiError>,
) -> Result<bool, ApiError> {
    let mut created = false;
    app.store
        .transact(
            |state| {
                let (change, new) = check(state)?;
                created = new;
                Ok(Mutation::Security(change))
            },
            |_| (),
        )
        .await
        .map_err(|r| ApiError::refused(r, |_| missing()))?;
    Ok(created)
}

/// The fields of a user document, checked.
struct UserDoc {
    email: Option<String>,
    password: Option<String>,
    admin: Option<bool>,
    updatable: Option<bool>,
    no_ui: Option<bool>,
    no_pw: Option<bool>,
    groups: Option<Vec<String>>,
    disabled: Option<bool>,
}

/// A user document as `PUT`/`POST /api/security/users/{name}` reads it (the fuzz targets).
pub(crate) fn parse_user_for_fuzz(doc: &Map<String, Value>) -> bool {
    UserDoc::parse(doc).is_ok()
}

impl UserDoc {
    fn parse(doc: &Map<String, Value>) -> Result<UserDoc, ApiError> {
        let b = |k: &str| field(doc, k, Value::as_bool, "a boolean");
        // `status` (as we return it) enables or disables logins; LOCKED comes from the lock policy.
        let disabled = match string(doc, "status")? {
            None => None,
            Some(s) if s.eq_ignore_ascii_case("enabled") => Some(false),
            Some(s) if s.eq_ignore_ascii_case("disabled") => Some(true),
            Some(s) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid status '{s}': expected ENABLED or DISABLED"
                )))
            }
        };
        Ok(UserDoc {
            email: string(doc, "email")?,
            password: string(doc, "password")?,
            admin: b("admin")?,
            updatable: b("profileUpdatable")?,
            no_ui: b("disableUIAccess")?,
            no_pw: b("internalPasswordDisabled")?,
            groups: field(doc, "groups", strings, "an array of strings")?,
            disabled,
        })
    }

    /// The user this document makes: over `old` for a partial update, from scratch otherwise.
    fn user(self, name: &str, hash: String, old: Option<User>, state: &State) -> User {
        // Unknown group names are dropped, as Artifactory ignores them.
        let known: Option<Vec<String>> = self.groups.as_ref().map(|g| {
            g.iter()
                .filter(|g| state.security.groups.contains_key(*g))
                .cloned()
                .collect()
        });
        match old {
            Some(old) => User {
                email: self.email.unwrap_or(old.email.clone()),
                password: if hash.is_empty() {
                    old.password.clone()
                } else {
                    hash.into()
                },
                admin: self.admin.unwrap_or(old.admin),
                profile_updatable: self.updatable.unwrap_or(old.profile_updatable),
                disable_ui_access: self.no_ui.unwrap_or(old.disable_ui_access),
                internal_password_disabled: self.no_pw.unwrap_or(old.internal_password_disabled),
                disabled: self.disabled.unwrap_or(old.disabled),
                groups: known.unwrap_or(old.groups.clone()),
                ..old
            },
            None => User {
                name: name.to_string(),
                email: self.email.unwrap_or_default(),
                password: hash.into(),
                admin: self.admin.unwrap_or(false),
                profile_updatable: self.updatable.unwrap_or(true),
                disable_ui_access: self.no_ui.unwrap_or(false),
                internal_password_disabled: self.no_pw.unwrap_or(false),
                disabled: self.disabled.unwrap_or(false),
                groups: if self.groups.as_ref().is_none_or(Vec::is_empty) {
                    state.security.auto_join_groups()
                } else {
                    known.unwrap_or_default()
                },
            },
        }
    }
}

/// Creates or replaces (`replace`) a user, or updates the fields `doc` names; `true`: created.
pub(crate) async fn put_user(
    app: &App,
    name: &str,
    doc: &Map<String, Value>,
    replace: bool,
) -> Result<bool, ApiError> {
    let name = name.to_lowercase();
    if name == "anonymous" {
        return Err(ApiError::bad_request(
            "The anonymous user cannot be changed through this API",
        ));
    }
    let d = UserDoc::parse(doc)?;
    if !replace && app.store.read().security.user(&name).is_none() {
        return Err(missing());
    }
    if replace {
        if d.email.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::bad_request("Email is required"));
        }
        if d.password.as_deref().is_none_or(str::is_empty) && !d.no_pw.unwrap_or(false) {
            return Err(ApiError::bad_request("Password is required"));
        }
    }
    if let Some(e) = &d.email {
        if !e.contains('@') || e.len() > 254 {
            return Err(ApiError::bad_request(format!(
                "Invalid email address '{e}'"
            )));
        }
    }
    // The slow hash is computed before the write lock is taken.
    let hash = match &d.password {
        Some(p) if !p.is_empty() => hash_password(p).await?,
        _ => String::new(),
    };
    commit(app, |state| {
        let existing = state.security.user(&name).cloned();
        if !replace && existing.is_none() {
            return Err(missing());
        }
        let created = existing.is_none();
        let old = existing.filter(|_| !replace);
        let user = d.user(&name, hash, old, state);
        Ok((SecurityChange::PutUser { user }, created))
    })
    .await
}

/// Creates or replaces a group, or updates the fields `doc` names; `true`: created.
pub(crate) async fn put_group(
    app: &App,
    name: &str,
    doc: &Map<String, Value>,
    replace: bool,
) -> Result<bool, ApiError> {
    let description = string(doc, "description")?;
    let auto_join = field(doc, "autoJoin", Value::as_bool, "a boolean")?;
    let admin = field(doc, "adminPrivileges", Value::as_bool, "a boolean")?;
    let members = field(doc, "userNames", strings, "an array of strings")?;
    commit(app, |state| {
        let existing = state.security.groups.get(name).cloned();
        if !replace && existing.is_none() {
            return Err(missing());
        }
        let created = existing.is_none();
        let old = existing.filter(|_| !replace);
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
        Ok((SecurityChange::PutGroup { group, members }, created))
    })
    .await
}

/// Creates or replaces a permission target; `true`: created.
pub(crate) async fn put_permission(
    app: &App,
    name: &str,
    doc: &Map<String, Value>,
) -> Result<bool, ApiError> {
    let includes = string(doc, "includesPattern")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "**".into());
    let excludes = string(doc, "excludesPattern")?.unwrap_or_default();
    if includes.len() > 1024 || excludes.len() > 1024 {
        return Err(ApiError::bad_request(
            "Include and exclude patterns are limited to 1024 characters",
        ));
    }
    let repositories =
        field(doc, "repositories", strings, "an array of strings")?.unwrap_or_default();
    let principals = field(doc, "principals", Value::as_object, "an object")?;
    commit(app, |state| {
        for key in &repositories {
            let pseudo = matches!(key.as_str(), "ANY" | "ANY LOCAL" | "ANY REMOTE");
            if !pseudo && state.repo(key).is_none() {
                return Err(ApiError::bad_request(format!(
                    "Permission target contains a reference to a non-existing repository '{key}'."
                )));
            }
            if state
                .repo(key)
                .is_some_and(|r| r.config.rclass == RepoClass::Virtual)
            {
                return Err(ApiError::bad_request(format!(
                    "Permission targets are not supported for virtual repositories: '{key}'"
                )));
            }
        }
        let created = !state.security.permissions.contains_key(name);
        let permission = Permission {
            name: name.to_string(),
            includes,
            excludes,
            repositories,
            users: principals_of(state, principals, "users")?,
            groups: principals_of(state, principals, "groups")?,
        };
        Ok((SecurityChange::PutPermission { permission }, created))
    })
    .await
}

/// The users or groups of a permission target's `principals`, each with its action letters; every
/// one named must exist.
fn principals_of(
    state: &State,
    principals: Option<&Map<String, Value>>,
    key: &str,
) -> Result<BTreeMap<String, BTreeSet<Act>>, ApiError> {
    let sec = &state.security;
    let is_user = key == "users";
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
}

/// Deletes an entity; returns Artifactory's confirmation text.
pub(crate) async fn delete(
    app: &App,
    caller: &Caller,
    kind: Kind,
    name: &str,
) -> Result<String, ApiError> {
    let mut text = String::new();
    commit(app, |state| {
        let sec = &state.security;
        let (change, label, shown) = match kind {
            Kind::User => {
                let u = sec.user(name).ok_or_else(missing)?;
                if u.name == "anonymous" {
                    return Err(ApiError::bad_request(
                        "The anonymous user cannot be deleted",
                    ));
                }
                if caller.name == u.name {
                    return Err(ApiError::bad_request("Users cannot delete themselves"));
                }
                let shown = u.name.clone();
                (
                    SecurityChange::DeleteUser {
                        name: shown.clone(),
                    },
                    "User",
                    shown,
                )
            }
            Kind::Group => {
                sec.groups.get(name).ok_or_else(missing)?;
                let change = SecurityChange::DeleteGroup { name: name.into() };
                (change, "Group", name.to_string())
            }
            Kind::Permission => {
                sec.permissions.get(name).ok_or_else(missing)?;
                let change = SecurityChange::DeletePermission { name: name.into() };
                (change, "Permission Target", name.to_string())
            }
        };
        text = format!("{label} '{shown}' has been removed successfully.");
        Ok((change, false))
    })
    .await?;
    Ok(text)
}

/// The lock policy as Artifactory shows it.
pub(crate) fn lock_policy(state: &State) -> Value {
    let p = &state.security.lock_policy;
    json!({"enabled": p.enabled, "loginAttempts": p.login_attempts})
}

/// Changes the lock policy with the fields `doc` names.
pub(crate) async fn set_lock_policy(app: &App, doc: &Value) -> Result<(), ApiError> {
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
    commit(app, |state| {
        let old = &state.security.lock_policy;
        let attempts = attempts.unwrap_or(old.login_attempts as i64);
        if !(1..=100).contains(&attempts) {
            return Err(ApiError::text(400, "LoginAttempts must be between 1 - 100"));
        }
        let policy = LockPolicy {
            enabled: enabled.unwrap_or(old.enabled),
            login_attempts: attempts as u32,
        };
        Ok((SecurityChange::LockPolicy { policy }, false))
    })
    .await
    .map(|_| ())
}

/// Unlocks the users named (lower-cased), or every user (`None`), and forgets their failed logins.
pub(crate) async fn unlock(app: &App, names: Option<Vec<String>>) -> Result<(), ApiError> {
    app.auth.reset_failures(names.as_deref());
    commit(app, |_| Ok((SecurityChange::Unlock { names }, false)))
        .await
        .map(|_| ())
}

/// The caller's encrypted password (the API key itself for a caller who used it).
pub(crate) fn encrypted_password_of(app: &App, caller: &Caller) -> Result<String, ApiError> {
    let state = app.store.read();
    let sec = &state.security;
    let not_found = || ApiError::not_found(format!("User not found. The user: '{}'", caller.name));
    let user = sec.user(&caller.name).ok_or_else(not_found)?;
    match caller.method {
        // Authenticated with the API key: the key itself is returned (it is already a secret
        // that stands in for the password).
        Method::ApiKey => state
            .api_keys
            .get(&user.name)
            .map(|k| k.to_string())
            .ok_or_else(not_found),
        Method::Password | Method::EncryptedPassword if !user.password.is_empty() => {
            Ok(encrypted_password(&sec.secret, &user.name, &user.password))
        }
        _ => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{admin, app};

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[tokio::test]
    async fn users_are_created_updated_shown_and_deleted() {
        let app = app();
        let a = admin(&app).await;
        let carol = doc(json!({"email": "c@example.com", "password": "Pw-1", "groups": ["nope"]}));
        assert!(
            put_user(&app, "Carol", &carol, true).await.unwrap(),
            "created"
        );
        assert!(
            !put_user(&app, "carol", &doc(json!({"admin": true})), false)
                .await
                .unwrap()
        );
        let v = get(&app.store.read(), Kind::User, "carol", false).unwrap();
        assert_eq!(
            (v["admin"].clone(), v["status"].clone()),
            (json!(true), json!("ENABLED"))
        );
        // Unknown groups are dropped; the hash is not shown.
        assert!(
            v.get("groups").is_none() && v.get("password").is_none(),
            "{v}"
        );
        let e = put_user(&app, "ghost", &doc(json!({"email": "g@x"})), false)
            .await
            .unwrap_err();
        assert_eq!(e.status, 404);
        let e = put_user(&app, "dave", &doc(json!({"email": "nope"})), true)
            .await
            .unwrap_err();
        assert_eq!(e.message(), "Password is required");
        assert_eq!(
            delete(&app, &a, Kind::User, "admin")
                .await
                .unwrap_err()
                .message(),
            "Users cannot delete themselves"
        );
        assert_eq!(
            delete(&app, &a, Kind::User, "carol").await.unwrap(),
            "User 'carol' has been removed successfully."
        );
        assert!(app.store.read().security.user("carol").is_none());
    }

    #[tokio::test]
    async fn groups_and_targets_refuse_what_cannot_be() {
        let app = app();
        let g = doc(json!({"autoJoin": true, "adminPrivileges": true}));
        let e = put_group(&app, "ops", &g, true).await.unwrap_err();
        assert_eq!(
            e.message(),
            "Groups with admin privileges cannot be joined automatically"
        );
        assert!(
            put_group(&app, "ops", &doc(json!({"description": "Ops"})), true)
                .await
                .unwrap()
        );
        let p = doc(json!({"repositories": ["missing"]}));
        let e = put_permission(&app, "t", &p).await.unwrap_err();
        assert_eq!(
            e.message(),
            "Permission target contains a reference to a non-existing repository 'missing'."
        );
        let p = doc(
            json!({"repositories": ["generic-local"], "principals": {"groups": {"ops": ["r", "w"]}}}),
        );
        assert!(put_permission(&app, "t", &p).await.unwrap());
        let v = get(&app.store.read(), Kind::Permission, "t", false).unwrap();
        assert_eq!(v["principals"]["groups"]["ops"], json!(["w", "r"]));
        assert!(check_name("a/b").is_err() && check_name(&"x".repeat(65)).is_err());
        assert_eq!(check_name("with+space").unwrap(), "with space");
    }

    #[tokio::test]
    async fn lock_policy_and_unlocks() {
        let app = app();
        let e = set_lock_policy(&app, &json!({"loginAttempts": 0}))
            .await
            .unwrap_err();
        assert_eq!(
            (e.status, e.message()),
            (400, "LoginAttempts must be between 1 - 100")
        );
        set_lock_policy(&app, &json!({"enabled": true, "loginAttempts": 3}))
            .await
            .unwrap();
        assert_eq!(
            lock_policy(&app.store.read()),
            json!({"enabled": true, "loginAttempts": 3})
        );
        unlock(&app, None).await.unwrap();
    }
}
