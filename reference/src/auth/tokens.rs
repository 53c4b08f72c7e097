//! Issuing, refreshing, listing and revoking access tokens, for the legacy `/api/security/token`
//! (OAuth-shaped errors) and the Access service's `/access/api/v1/tokens` (Access-shaped errors),
//! over one store of issued tokens. Tokens are signed and verified in [`super::token`]; scopes are
//! what the caller may give.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::model::{Security, SecurityChange, TokenRecord};
use super::token::{self, access_id, Claims};
use super::{same, scope_groups, scope_tokens, usable, Caller, Method};
use crate::app::App;
use crate::error::ApiError;
use crate::messages as msg;
use crate::query::Query;
use crate::store::{Mutation, State};

/// What a new token carries.
struct Issue {
    username: String,
    scope: String,
    expires_in: u64,
    refreshable: bool,
    audience: String,
    description: String,
    access_api: bool,
}

/// Longest validity anyone may ask for (100 years; more would overflow the arithmetic).
const MAX_EXPIRES: u64 = 3_153_600_000;
/// Longest validity a non-admin may ask for through the Access API (its default, one year).
const ACCESS_USER_MAX: u64 = 31_536_000;
/// Longest validity a non-admin may ask for through the legacy API.
const LEGACY_USER_MAX: u64 = 3600;

struct Issued {
    token: String,
    refresh: Option<String>,
    record: TokenRecord,
}

fn oauth(code: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::oauth(code, description)
}

fn access(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::access(status, code, message)
}

async fn issue(app: &App, i: Issue) -> Result<Issued, ApiError> {
    let signer = app
        .auth
        .keys
        .get(|| app.store.cipher())
        .await
        .map_err(ApiError::internal)?;
    let (sid, transient) = {
        let state = app.store.read();
        let sec = &state.security;
        (sec.service_id.clone(), sec.user(&i.username).is_none())
    };
    let iss = if i.access_api { access_id(&sid) } else { sid };
    let iat = app.config.clock.now_ms().div_euclid(1000);
    let exp = (i.expires_in > 0).then(|| iat.saturating_add(i.expires_in.min(MAX_EXPIRES) as i64));
    let id = uuid::Uuid::new_v4().to_string();
    let claims = Claims {
        sub: format!("{iss}/users/{}", i.username),
        scp: i.scope.clone(),
        aud: i.audience.clone(),
        iss: iss.clone(),
        exp,
        iat,
        jti: id.clone(),
    };
    let token = signer.sign(&claims);
    let refresh = i.refreshable.then(|| uuid::Uuid::new_v4().to_string());
    let record = TokenRecord {
        id,
        subject: claims.sub,
        username: i.username,
        scope: i.scope,
        audience: i.audience,
        issued_at: iat,
        expiry: exp,
        expires_in: i.expires_in,
        refresh_hash: refresh.as_deref().map(digest),
        description: i.description,
        access_api: i.access_api,
        transient,
    };
    app.store
        .commit(Mutation::Security(SecurityChange::AddToken {
            token: record.clone(),
        }))
        .await
        .map_err(|_| ApiError::internal("could not store the token"))?;
    Ok(Issued {
        token,
        refresh,
        record,
    })
}

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn flag(v: Option<&str>) -> Result<bool, String> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(o) => Err(format!("Invalid boolean value: {o}")),
    }
}

/// Whether the caller is a token limited to groups (it may not widen itself to its user's rights).
fn group_limited(caller: &Caller) -> bool {
    caller.method == Method::Token && caller.principal.user.is_none()
}

/// Whether a non-admin `caller` may put scope token `t` into a new token: group scopes only for
/// groups the caller itself has (a token caller: the groups of its own token), whole-user scopes only
/// when the caller is not itself a group-limited token, admin scopes never. `Ok(false)`: unknown token.
fn may_grant(sec: &Security, caller: &Caller, t: &str) -> Result<bool, String> {
    let admin_scope = t == format!("{}:admin", sec.service_id)
        || t == "jfrt@*:admin"
        || t == "applied-permissions/admin";
    if admin_scope {
        return if caller.admin {
            Ok(true)
        } else {
            Err(format!(
                "Only an admin can create a token with admin scope: '{t}'"
            ))
        };
    }
    let groups = t
        .strip_prefix("member-of-groups:")
        .or_else(|| t.strip_prefix("applied-permissions/groups:"));
    let whole_user =
        t == "applied-permissions/user" || groups.is_some_and(|g| g.trim_matches('"') == "*");
    if whole_user {
        if group_limited(caller) && !caller.admin {
            return Err(format!(
                "A token limited to groups cannot create a token with scope '{t}'"
            ));
        }
        return Ok(true);
    }
    let Some(g) = groups else {
        return Ok(false);
    };
    let wanted = scope_groups(g);
    if wanted.is_empty() {
        return Ok(false);
    }
    if !caller.admin {
        if let Some(bad) = wanted.iter().find(|x| !caller.principal.groups.contains(x)) {
            return Err(format!(
                "User '{}' is not a member of group '{bad}'",
                caller.name
            ));
        }
    }
    Ok(true)
}

/// Checks and completes a requested scope: every token must be known and the caller's to give, the
/// user's groups stand in for an empty scope, and `api:*` goes last.
fn effective_scope(
    sec: &Security,
    caller: &Caller,
    username: &str,
    requested: &str,
) -> Result<String, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for t in scope_tokens(requested) {
        if t == "api:*" {
            continue;
        }
        match may_grant(sec, caller, &t) {
            Ok(true) => {}
            Ok(false) => return Err(oauth("invalid_scope", format!("Unaccepted scope: '{t}'"))),
            Err(why) => return Err(oauth("invalid_scope", why)),
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        // The groups of the user, or of the calling token when it is limited to groups.
        let groups: Vec<String> = match sec.user(username) {
            Some(u) if group_limited(caller) => u
                .groups
                .iter()
                .filter(|g| caller.principal.groups.contains(g))
                .cloned()
                .collect(),
            Some(u) => u.groups.clone(),
            None => Vec::new(),
        };
        if !groups.is_empty() {
            let list = groups.join(",");
            out.push(if list.contains(' ') {
                format!("member-of-groups:\"{list}\"")
            } else {
                format!("member-of-groups:{list}")
            });
        }
    }
    if out.is_empty() {
        return Err(msg::insufficient_scope());
    }
    out.push("api:*".into());
    Ok(out.join(" "))
}

fn expires_in(form: &Query, caller: &Caller) -> Result<u64, ApiError> {
    let bad = |m: String| oauth("invalid_request", m);
    let Some(v) = form.get("expires_in").filter(|v| !v.is_empty()) else {
        return Ok(LEGACY_USER_MAX);
    };
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| bad(format!("Invalid expires_in value: {v}")))?;
    if n < 0 || n as u64 > MAX_EXPIRES {
        return Err(bad(format!("Invalid expires_in value: {n}")));
    }
    if !caller.admin && (n == 0 || n as u64 > LEGACY_USER_MAX) {
        return Err(bad(format!(
            "User '{}' can only create tokens that expire within 3600 seconds (requested: {n})",
            caller.name
        )));
    }
    Ok(n as u64)
}

/// `POST /api/security/token` with client credentials: a token for `username` (the caller's own,
/// unless the caller is an admin).
pub(crate) async fn create_legacy(
    app: &App,
    caller: &Caller,
    form: &Query,
) -> Result<Value, ApiError> {
    let bad = |m: String| oauth("invalid_request", m);
    let Some(username) = form.get("username").filter(|u| !u.trim().is_empty()) else {
        return Err(msg::username_required());
    };
    let username = username.trim().to_lowercase();
    if username.contains('/') || username.chars().any(char::is_control) {
        return Err(bad(format!("Invalid username: {username}")));
    }
    if !caller.admin && username != caller.name {
        return Err(oauth(
            "unauthorized_client",
            format!(
                "The user: '{}' can only create user token(s) for themselves (requested: {username})",
                caller.name
            ),
        ));
    }
    let expires = expires_in(form, caller)?;
    let refreshable = flag(form.get("refreshable")).map_err(bad)?;
    let audience = form.get("audience").map(str::trim).unwrap_or("");
    if !audience.is_empty() && (!refreshable || expires == 0) {
        return Err(msg::audience_needs_refreshable());
    }
    let (scope, sid) = {
        let state = app.store.read();
        let sec = &state.security;
        let requested = form.get("scope").unwrap_or("");
        let scope = effective_scope(sec, caller, &username, requested)?;
        (scope, sec.service_id.clone())
    };
    let i = Issue {
        username,
        scope,
        expires_in: expires,
        refreshable,
        audience: if audience.is_empty() {
            sid
        } else {
            audience.to_string()
        },
        description: String::new(),
        access_api: false,
    };
    Ok(token_reply(&issue(app, i).await?, false))
}

/// The token reply: legacy `{access_token, refresh_token?, expires_in, scope, token_type}`, or the
/// Access API's `{token_id, access_token, refresh_token?, expires_in?, scope, token_type}`.
fn token_reply(t: &Issued, access_api: bool) -> Value {
    let mut v = Map::new();
    if access_api {
        v.insert("token_id".into(), json!(t.record.id));
    }
    v.insert("access_token".into(), json!(t.token));
    if let Some(rt) = &t.refresh {
        v.insert("refresh_token".into(), json!(rt));
    }
    if !access_api || t.record.expires_in > 0 {
        v.insert("expires_in".into(), json!(t.record.expires_in));
    }
    v.insert("scope".into(), json!(t.record.scope));
    v.insert("token_type".into(), json!("Bearer"));
    Value::Object(v)
}

/// A refresh's refusal in the family of the API it came through.
fn refusal(access_api: bool) -> impl Fn(&'static str, &str) -> ApiError {
    move |code, msg| {
        if access_api {
            access(401, "UNAUTHORIZED", msg)
        } else {
            oauth(code, msg.to_string())
        }
    }
}

/// `grant_type=refresh_token`: the pair (access token, refresh token) authenticates a simple refresh;
/// anything more needs an admin caller. The new token keeps the old one's settings; the old one is
/// revoked.
pub(crate) async fn refresh(
    app: &App,
    who: &Result<Caller, ApiError>,
    form: &Query,
    access_api: bool,
) -> Result<Value, ApiError> {
    let fail = refusal(access_api);
    let Some(rt) = form.get("refresh_token").filter(|v| !v.is_empty()) else {
        return Err(fail("invalid_grant", "refresh token is required."));
    };
    let simple = form.0.iter().all(|(k, _)| {
        matches!(
            k.as_str(),
            "grant_type" | "refresh_token" | "access_token" | "expires_in"
        )
    });
    if !simple {
        let caller = who.clone()?;
        app.auth.gate(&caller)?;
        if !caller.admin {
            return Err(fail(
                "invalid_client",
                "Refreshing a token with other parameters requires an admin token",
            ));
        }
    }
    let at = form.get("access_token").filter(|v| !v.is_empty());
    let record = refreshed_record(&app.store.read(), at, rt, access_api)?;
    // The access token's signature must be ours even though it may have expired.
    if let Some(at) = at {
        let ok = match app.auth.keys.existing(|| app.store.cipher()).await {
            Ok(Some(s)) => s.verify(at).is_ok(),
            _ => false,
        };
        if !ok {
            return Err(fail("invalid_client", "access token failed verification."));
        }
    }
    let expires = refreshed_expiry(&app.store.read(), &record, form, access_api)?;
    let i = Issue {
        username: record.username.clone(),
        scope: record.scope.clone(),
        expires_in: expires,
        refreshable: true,
        audience: record.audience.clone(),
        description: record.description.clone(),
        access_api: record.access_api,
    };
    let issued = issue(app, i).await?;
    let revoke = Mutation::Security(SecurityChange::RevokeTokens {
        ids: vec![record.id],
    });
    if let Err(e) = app.store.commit(revoke).await {
        return Err(ApiError::internal(format!("{e:?}")));
    }
    Ok(token_reply(&issued, access_api))
}

/// The token a refresh names: by its access token, or (the Access API) by the refresh token alone;
/// the refresh token must be its own.
fn refreshed_record(
    state: &State,
    at: Option<&str>,
    rt: &str,
    access_api: bool,
) -> Result<TokenRecord, ApiError> {
    let fail = refusal(access_api);
    let sec = &state.security;
    let record = match at {
        Some(at) => {
            let Some(claims) = token::peek(at) else {
                return Err(fail("invalid_client", "access token is malformed."));
            };
            if claims.iss != sec.service_id && claims.iss != access_id(&sec.service_id) {
                return Err(oauth(
                    "invalid_request",
                    "The access token was issued by another instance and cannot be refreshed",
                ));
            }
            sec.tokens.get(&claims.jti).cloned()
        }
        None if access_api => {
            let d = digest(rt);
            sec.tokens
                .values()
                .find(|t| t.refresh_hash.as_deref() == Some(d.as_str()))
                .cloned()
        }
        None => return Err(fail("invalid_client", "access token is required.")),
    };
    let record = record.ok_or_else(|| fail("invalid_grant", "Invalid refresh token"))?;
    if !record
        .refresh_hash
        .as_deref()
        .is_some_and(|h| same(h, &digest(rt)))
    {
        return Err(fail("invalid_grant", "Invalid refresh token"));
    }
    Ok(record)
}

/// The validity of a refreshed token: the old one's, or the one asked for within the owner's limits.
fn refreshed_expiry(
    state: &State,
    record: &TokenRecord,
    form: &Query,
    access_api: bool,
) -> Result<u64, ApiError> {
    let fail = refusal(access_api);
    let sec = &state.security;
    let owner_admin = match sec.user(&record.username) {
        Some(u) if !record.transient => {
            if usable(sec, u).is_err() {
                return Err(fail("invalid_grant", "The token's user may not log in"));
            }
            sec.principal_of(u).admin
        }
        Some(_) | None if record.transient => false,
        _ => return Err(fail("invalid_grant", "The token's user no longer exists")),
    };
    let expires = match form.get("expires_in").filter(|v| !v.is_empty()) {
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n <= MAX_EXPIRES => n,
            _ => {
                return Err(oauth(
                    "invalid_request",
                    format!("Invalid expires_in value: {v}"),
                ))
            }
        },
        None => record.expires_in,
    };
    let user_max = if record.access_api {
        ACCESS_USER_MAX
    } else {
        LEGACY_USER_MAX
    };
    if !owner_admin && expires != record.expires_in && (expires == 0 || expires > user_max) {
        return Err(oauth(
            "invalid_request",
            format!(
                "User '{}' can only refresh tokens to expire within {user_max} seconds",
                record.username
            ),
        ));
    }
    Ok(expires)
}

/// `GET /api/security/token`: every token, as the legacy API lists them.
pub(crate) fn list_legacy(state: &State) -> Value {
    let rows: Vec<Value> = state
        .security
        .tokens
        .values()
        .map(|t| {
            let mut v = Map::new();
            v.insert("token_id".into(), json!(t.id));
            v.insert(
                "issuer".into(),
                json!(t.subject.split('/').next().unwrap_or_default()),
            );
            v.insert("subject".into(), json!(t.subject));
            v.insert("issued_at".into(), json!(t.issued_at));
            if let Some(e) = t.expiry {
                v.insert("expiry".into(), json!(e));
            }
            v.insert("refreshable".into(), json!(t.refresh_hash.is_some()));
            Value::Object(v)
        })
        .collect();
    json!({ "tokens": rows })
}

/// `POST /api/security/token/revoke` by `token` or `token_id`; Artifactory's answer text.
pub(crate) async fn revoke_legacy(app: &App, form: &Query) -> Result<&'static str, ApiError> {
    let bad = |m: &str| oauth("invalid_request", m.to_string());
    let token = form.get("token").filter(|v| !v.is_empty());
    let id = form.get("token_id").filter(|v| !v.is_empty());
    let id = match (token, id) {
        (Some(_), Some(_)) => return Err(bad("token and token_id are mutually exclusive")),
        (None, None) => return Err(bad("token or token_id are required")),
        (None, Some(id)) => id.to_string(),
        (Some(t), None) => {
            let sid = app.store.read().security.service_id.clone();
            match token::peek(t) {
                Some(c) if c.iss == sid || c.iss == access_id(&sid) => c.jti,
                Some(_) => {
                    return Err(bad(
                        "The token was issued by another instance and cannot be revoked here",
                    ))
                }
                None => return Err(bad("The token is malformed")),
            }
        }
    };
    if !app.store.read().security.tokens.contains_key(&id) {
        return Ok("Token not found");
    }
    let m = Mutation::Security(SecurityChange::RevokeTokens { ids: vec![id] });
    app.store
        .commit(m)
        .await
        .map_err(|e| ApiError::internal(format!("{e:?}")))?;
    Ok("Token revoked")
}

/// The caller of an Access API request: locked or disabled users get its 403, others without
/// valid credentials its 401. A refresh may come with no credentials at all (`anonymous_ok`).
pub(crate) fn access_caller(
    who: &Result<Caller, ApiError>,
    anonymous_ok: bool,
) -> Result<Caller, ApiError> {
    let unauthorized = || access(401, "UNAUTHORIZED", "Unauthorized");
    match who {
        Ok(c) if !c.anonymous => Ok(c.clone()),
        Err(e) if e.status == 403 => Err(access(403, "FORBIDDEN", "The user may not log in")),
        Err(_) => Err(unauthorized()),
        Ok(_) if anonymous_ok => Ok(Caller::anonymous()),
        Ok(_) => Err(unauthorized()),
    }
}

fn access_row(t: &TokenRecord) -> Value {
    let mut v = Map::new();
    v.insert("token_id".into(), json!(t.id));
    v.insert("subject".into(), json!(t.subject));
    if let Some(e) = t.expiry {
        v.insert("expiry".into(), json!(e));
    }
    v.insert("issued_at".into(), json!(t.issued_at));
    v.insert(
        "issuer".into(),
        json!(t.subject.split('/').next().unwrap_or_default()),
    );
    if !t.description.is_empty() {
        v.insert("description".into(), json!(t.description));
    }
    v.insert("refreshable".into(), json!(t.refresh_hash.is_some()));
    Value::Object(v)
}

/// The tokens the caller may see (an admin: all of them).
pub(crate) fn access_list(state: &State, caller: &Caller) -> Value {
    let rows: Vec<Value> = state
        .security
        .tokens
        .values()
        .filter(|t| caller.admin || t.username == caller.name)
        .map(access_row)
        .collect();
    json!({ "tokens": rows })
}

/// `id`, or the calling token for `me`.
fn token_id(caller: &Caller, id: &str) -> String {
    if id == "me" {
        caller.token_id.clone().unwrap_or_default()
    } else {
        id.to_string()
    }
}

/// One token the caller may see.
pub(crate) fn access_get(state: &State, caller: &Caller, id: &str) -> Result<Value, ApiError> {
    state
        .security
        .tokens
        .get(&token_id(caller, id))
        .filter(|t| caller.admin || t.username == caller.name)
        .map(access_row)
        .ok_or_else(ApiError::access_not_found)
}

/// Revokes a token; `false` when there was none.
pub(crate) async fn access_revoke(app: &App, caller: &Caller, id: &str) -> Result<bool, ApiError> {
    let id = token_id(caller, id);
    let owner = app
        .store
        .read()
        .security
        .tokens
        .get(&id)
        .map(|t| t.username.clone());
    match owner {
        None => Ok(false),
        Some(o) if !caller.admin && o != caller.name => Err(access(
            403,
            "FORBIDDEN",
            "Only admins may revoke the tokens of other users",
        )),
        Some(_) => {
            let m = Mutation::Security(SecurityChange::RevokeTokens { ids: vec![id] });
            app.store
                .commit(m)
                .await
                .map_err(|e| ApiError::internal(format!("{e:?}")))?;
            Ok(true)
        }
    }
}

/// `POST /access/api/v1/tokens`: a token in the Access API's scopes and limits.
pub(crate) async fn create_access(
    app: &App,
    caller: &Caller,
    form: &Query,
) -> Result<Value, ApiError> {
    let bad = |m: String| access(400, "BAD_REQUEST", m);
    let username = form
        .get("username")
        .filter(|u| !u.trim().is_empty())
        .map(|u| u.trim().to_lowercase())
        .unwrap_or_else(|| caller.name.clone());
    if !caller.admin && username != caller.name {
        return Err(access(
            403,
            "FORBIDDEN",
            format!(
                "User '{}' can only create tokens for themselves (requested: {username})",
                caller.name
            ),
        ));
    }
    let scope = access_scope(app, caller, form)?;
    let expires = match form.get("expires_in").filter(|v| !v.is_empty()) {
        None => ACCESS_USER_MAX,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 0 && n as u64 <= MAX_EXPIRES => n as u64,
            _ => return Err(bad(format!("Invalid expires_in value: {v}"))),
        },
    };
    if !caller.admin && (expires == 0 || expires > ACCESS_USER_MAX) {
        return Err(access(
            403,
            "FORBIDDEN",
            format!(
                "User '{}' can only create tokens that expire within {ACCESS_USER_MAX} seconds",
                caller.name
            ),
        ));
    }
    let refreshable = flag(form.get("refreshable")).map_err(bad)?;
    let description = form.get("description").unwrap_or("").to_string();
    if description.len() > 1024 {
        return Err(bad("The description is limited to 1024 characters".into()));
    }
    let audience = form
        .get("audience")
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("*@*")
        .to_string();
    let i = Issue {
        username,
        scope,
        expires_in: expires,
        refreshable,
        audience,
        description,
        access_api: true,
    };
    Ok(token_reply(&issue(app, i).await?, true))
}

/// The scope of an Access API token: its `applied-permissions/...` forms, the caller's to give.
fn access_scope(app: &App, caller: &Caller, form: &Query) -> Result<String, ApiError> {
    let scope = form
        .get("scope")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("applied-permissions/user")
        .to_string();
    if scope.len() > 500 {
        return Err(access(
            400,
            "BAD_REQUEST",
            "The scope is limited to 500 characters",
        ));
    }
    let state = app.store.read();
    for t in scope_tokens(&scope) {
        if t == "api:*" {
            continue;
        }
        let access_form = t == "applied-permissions/user"
            || t == "applied-permissions/admin"
            || t.starts_with("applied-permissions/groups:");
        match may_grant(&state.security, caller, &t) {
            Ok(true) if access_form => {}
            Ok(_) => {
                return Err(access(
                    400,
                    "BAD_REQUEST",
                    format!("Unsupported scope: '{t}'"),
                ))
            }
            Err(why) => return Err(access(403, "FORBIDDEN", why)),
        }
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{admin, app_with, caller};

    #[tokio::test]
    async fn tokens_are_issued_within_the_callers_rights_and_refreshed_once() {
        let app = app_with(|c| crate::testing::with_user(c, "bob", "generic-local", "r"));
        let a = admin(&app).await;
        let bob = caller(&app, "bob", "bob-pw").await;
        let form = |pairs: &[(&str, &str)]| {
            Query(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let e = create_legacy(&app, &bob, &form(&[("username", "admin")]))
            .await
            .unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message(),
            "The user: 'bob' can only create user token(s) for themselves (requested: admin)"
        );
        // Bob has no groups: an empty scope gives him nothing to put in a token.
        let e = create_legacy(&app, &bob, &form(&[("username", "bob")]))
            .await
            .unwrap_err();
        assert_eq!(e.message(), "Insufficient scope: 'api:*'");
        let t = create_legacy(
            &app,
            &a,
            &form(&[
                ("username", "admin"),
                ("scope", "applied-permissions/admin"),
                ("refreshable", "true"),
            ]),
        )
        .await
        .unwrap();
        assert_eq!(t["scope"], "applied-permissions/admin api:*");
        let refresh = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("access_token", t["access_token"].as_str().unwrap()),
        ]);
        let anonymous = Ok(Caller::anonymous());
        let again = super::refresh(&app, &anonymous, &refresh, false)
            .await
            .unwrap();
        assert_ne!(again["access_token"], t["access_token"]);
        // The old pair is revoked: it refreshes no more.
        let e = super::refresh(&app, &anonymous, &refresh, false)
            .await
            .unwrap_err();
        assert_eq!((e.status, e.message()), (401, "Invalid refresh token"));
        assert_eq!(
            list_legacy(&app.store.read())["tokens"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
