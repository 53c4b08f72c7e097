//! Access tokens: the legacy `/api/security/token` (create, refresh, list, revoke; OAuth-shaped errors),
//! `/api/system/service_id`, and the Access service's `/access/api/v1/tokens` (create, list, get, revoke;
//! Access-shaped errors), all over one store of issued tokens. Tokens are verified in [`crate::auth`].

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::Security;
use super::{json, read_small, respond, BodyStream, Query, Req};
use crate::auth::model::{SecurityChange, TokenRecord};
use crate::auth::token::{self, access_id, Claims};
use crate::auth::{scope_groups, scope_tokens, Caller, Method as AuthMethod};
use crate::error::ApiError;
use crate::store::Mutation;

/// Answers a token endpoint (legacy and the Access service's).
pub(crate) async fn handle(r: &Req, e: Security, body: BodyStream) -> Result<Response, ApiError> {
    match e {
        Security::TokenList => list_legacy(r),
        Security::TokenCreate => legacy(r, body).await,
        Security::TokenRevoke => legacy_revoke(r, body).await,
        e => access(r, e, body).await,
    }
}

// ---------- error shapes ----------

/// Refuses in the token endpoint's OAuth shape.
fn oauth(code: &'static str, description: impl Into<String>) -> Result<Response, ApiError> {
    Err(ApiError::oauth(code, description))
}

/// Refuses in the Access service's shape.
fn access_error(
    status: u16,
    code: &'static str,
    message: impl Into<String>,
) -> Result<Response, ApiError> {
    Err(ApiError::access(status, code, message))
}

// ---------- issuing ----------

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

struct Issued {
    token: String,
    refresh: Option<String>,
    record: TokenRecord,
}

async fn issue(r: &Req, i: Issue) -> Result<Issued, ApiError> {
    let signer = r
        .state
        .auth
        .keys
        .get(|| r.state.store.cipher())
        .await
        .map_err(ApiError::internal)?;
    let sid = r.state.store.read().security.service_id.clone();
    let iss = if i.access_api { access_id(&sid) } else { sid };
    let iat = r.now().div_euclid(1000);
    let exp = (i.expires_in > 0).then(|| iat.saturating_add(i.expires_in.min(MAX_EXPIRES) as i64));
    let transient = r.state.store.read().security.user(&i.username).is_none();
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
    r.state
        .store
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

/// Parses a form body (or, for the Access API, a JSON object) into name/value pairs.
async fn params(r: &Req, body: BodyStream, json_too: bool) -> Result<Query, String> {
    let bytes = read_small(body, 64 << 10)
        .await
        .map_err(|_| "The request body is too large or unreadable".to_string())?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| "The request body is not UTF-8".to_string())?;
    let is_json = r.header("content-type").is_some_and(|c| c.contains("json"))
        || (json_too && text.trim_start().starts_with('{'));
    if json_too && is_json {
        let doc: Map<String, Value> = serde_json::from_str(text)
            .map_err(|e| format!("Could not parse the JSON body: {e}"))?;
        return Ok(Query(
            doc.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
        ));
    }
    let mut q = Query::parse(text);
    // Query-string parameters count too (curl -X POST '...token?username=x').
    q.0.extend(r.query.0.iter().cloned());
    Ok(q)
}

fn flag(v: Option<&str>) -> Result<bool, String> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(o) => Err(format!("Invalid boolean value: {o}")),
    }
}

/// Whether a non-admin `caller` may put scope token `t` into a new token: group scopes only for
/// groups the caller itself has (a token caller: the groups of its own token), whole-user scopes only
/// when the caller is not itself a group-limited token, admin scopes never. `Ok(false)`: unknown token.
fn may_grant(sec: &crate::auth::model::Security, caller: &Caller, t: &str) -> Result<bool, String> {
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
        // A token limited to groups cannot widen itself back to the user's full rights.
        if caller.method == AuthMethod::Token && caller.principal.user.is_none() && !caller.admin {
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
    r: &Req,
    caller: &Caller,
    username: &str,
    requested: &str,
) -> Result<String, (&'static str, String)> {
    let state = r.state.store.read();
    let sec = &state.security;
    let mut out: Vec<String> = Vec::new();
    for t in scope_tokens(requested) {
        if t == "api:*" {
            continue;
        }
        match may_grant(sec, caller, &t) {
            Ok(true) => {}
            Ok(false) => return Err(("invalid_scope", format!("Unaccepted scope: '{t}'"))),
            Err(why) => return Err(("invalid_scope", why)),
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        // The groups of the user, or of the calling token when it is limited to groups.
        let groups = match sec.user(username) {
            Some(u) if caller.method == AuthMethod::Token && caller.principal.user.is_none() => u
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
        return Err(("invalid_scope", "Insufficient scope: 'api:*'".into()));
    }
    out.push("api:*".into());
    Ok(out.join(" "))
}

// ---------- legacy /api/security/token ----------

async fn legacy(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    let form = match params(r, body, false).await {
        Ok(f) => f,
        Err(e) => return oauth("invalid_request", e),
    };
    let grant = form.get("grant_type").unwrap_or("client_credentials");
    match grant {
        "client_credentials" | "" => create_legacy(r, &form).await,
        "refresh_token" => refresh(r, &form, false).await,
        other => oauth(
            "unsupported_grant_type",
            format!("Grant type is not supported: {other}"),
        ),
    }
}

fn expires_in(form: &Query, caller: &Caller) -> Result<u64, String> {
    let Some(v) = form.get("expires_in").filter(|v| !v.is_empty()) else {
        return Ok(3600);
    };
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| format!("Invalid expires_in value: {v}"))?;
    if n < 0 || n as u64 > MAX_EXPIRES {
        return Err(format!("Invalid expires_in value: {n}"));
    }
    if !caller.admin && (n == 0 || n > 3600) {
        return Err(format!(
            "User '{}' can only create tokens that expire within 3600 seconds (requested: {n})",
            caller.name
        ));
    }
    Ok(n as u64)
}

async fn create_legacy(r: &Req, form: &Query) -> Result<Response, ApiError> {
    let caller = match r.require_user()? {
        c if !c.anonymous => c,
        _ => return Err(ApiError::unauthorized("Unauthorized")),
    };
    let Some(username) = form.get("username").filter(|u| !u.trim().is_empty()) else {
        return oauth("invalid_request", "username is required");
    };
    let username = username.trim().to_lowercase();
    if username.contains('/') || username.chars().any(char::is_control) {
        return oauth("invalid_request", format!("Invalid username: {username}"));
    }
    if !caller.admin && username != caller.name {
        return oauth(
            "unauthorized_client",
            format!(
                "The user: '{}' can only create user token(s) for themselves (requested: {username})",
                caller.name
            ),
        );
    }
    let expires = match expires_in(form, &caller) {
        Ok(e) => e,
        Err(e) => return oauth("invalid_request", e),
    };
    let refreshable = match flag(form.get("refreshable")) {
        Ok(b) => b,
        Err(e) => return oauth("invalid_request", e),
    };
    let sid = r.state.store.read().security.service_id.clone();
    let audience = form.get("audience").map(str::trim).unwrap_or("");
    if !audience.is_empty() && (!refreshable || expires == 0) {
        return oauth(
            "invalid_request",
            "Only refreshable tokens with expiry can have custom audience",
        );
    }
    let scope = match effective_scope(r, &caller, &username, form.get("scope").unwrap_or("")) {
        Ok(s) => s,
        Err((code, msg)) => return oauth(code, msg),
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
    Ok(token_response(&issue(r, i).await?, false))
}

/// The token reply: legacy `{access_token, refresh_token?, expires_in, scope, token_type}`, or the
/// Access API's `{token_id, access_token, refresh_token?, expires_in?, scope, token_type}`.
fn token_response(t: &Issued, access_api: bool) -> Response {
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
    json(StatusCode::OK, "application/json", &v)
}

/// `grant_type=refresh_token`: the pair (access token, refresh token) authenticates a simple refresh;
/// anything more needs an admin caller. The new token keeps the old one's settings; the old one is
/// revoked.
async fn refresh(r: &Req, form: &Query, access_api: bool) -> Result<Response, ApiError> {
    let fail = |code: &'static str, msg: &str| {
        if access_api {
            access_error(401, "UNAUTHORIZED", msg)
        } else {
            oauth(code, msg.to_string())
        }
    };
    let Some(rt) = form.get("refresh_token").filter(|v| !v.is_empty()) else {
        return fail("invalid_grant", "refresh token is required.");
    };
    let simple = form.0.iter().all(|(k, _)| {
        matches!(
            k.as_str(),
            "grant_type" | "refresh_token" | "access_token" | "expires_in"
        )
    });
    if !simple && !r.require_user()?.admin {
        return fail(
            "invalid_client",
            "Refreshing a token with other parameters requires an admin token",
        );
    }
    // The Access API identifies the token by its refresh token alone.
    let record = {
        let state = r.state.store.read();
        let sec = &state.security;
        let by_access = match form.get("access_token").filter(|v| !v.is_empty()) {
            Some(at) => {
                let Some(claims) = token::peek(at) else {
                    return fail("invalid_client", "access token is malformed.");
                };
                if claims.iss != sec.service_id && claims.iss != access_id(&sec.service_id) {
                    return oauth(
                        "invalid_request",
                        "The access token was issued by another instance and cannot be refreshed",
                    );
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
            None => return fail("invalid_client", "access token is required."),
        };
        by_access
    };
    let Some(record) = record else {
        return fail("invalid_grant", "Invalid refresh token");
    };
    if !record
        .refresh_hash
        .as_deref()
        .is_some_and(|h| crate::auth::same(h, &digest(rt)))
    {
        return fail("invalid_grant", "Invalid refresh token");
    }
    // The access token's signature must be ours even though it may have expired.
    if let Some(at) = form.get("access_token").filter(|v| !v.is_empty()) {
        let ok = match r.state.auth.keys.existing(|| r.state.store.cipher()).await {
            Ok(Some(s)) => s.verify(at).is_ok(),
            _ => false,
        };
        if !ok {
            return fail("invalid_client", "access token failed verification.");
        }
    }
    // The owner's limits apply to the new token as they did to the old one.
    let owner_admin = {
        let state = r.state.store.read();
        let sec = &state.security;
        match sec.user(&record.username) {
            Some(u) if !record.transient => {
                if crate::auth::usable(sec, u).is_err() {
                    return fail("invalid_grant", "The token's user may not log in");
                }
                sec.principal_of(u).admin
            }
            Some(_) | None if record.transient => false,
            _ => return fail("invalid_grant", "The token's user no longer exists"),
        }
    };
    let expires = match form.get("expires_in").filter(|v| !v.is_empty()) {
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n <= MAX_EXPIRES => n,
            _ => return oauth("invalid_request", format!("Invalid expires_in value: {v}")),
        },
        None => record.expires_in,
    };
    let user_max = if record.access_api {
        ACCESS_USER_MAX
    } else {
        3600
    };
    if !owner_admin && expires != record.expires_in && (expires == 0 || expires > user_max) {
        return oauth(
            "invalid_request",
            format!(
                "User '{}' can only refresh tokens to expire within {user_max} seconds",
                record.username
            ),
        );
    }
    let i = Issue {
        username: record.username.clone(),
        scope: record.scope.clone(),
        expires_in: expires,
        refreshable: true,
        audience: record.audience.clone(),
        description: record.description.clone(),
        access_api: record.access_api,
    };
    let issued = issue(r, i).await?;
    let revoke = Mutation::Security(SecurityChange::RevokeTokens {
        ids: vec![record.id],
    });
    if let Err(e) = r.state.store.commit(revoke).await {
        return Err(ApiError::internal(format!("{e:?}")));
    }
    Ok(token_response(&issued, access_api))
}

fn list_legacy(r: &Req) -> Result<Response, ApiError> {
    let state = r.state.store.read();
    let sec = &state.security;
    let rows: Vec<Value> = sec
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
    Ok(json(
        StatusCode::OK,
        "application/json",
        &json!({ "tokens": rows }),
    ))
}

async fn legacy_revoke(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    let form = match params(r, body, false).await {
        Ok(f) => f,
        Err(e) => return oauth("invalid_request", e),
    };
    let token = form.get("token").filter(|v| !v.is_empty());
    let id = form.get("token_id").filter(|v| !v.is_empty());
    let id = match (token, id) {
        (Some(_), Some(_)) => {
            return oauth(
                "invalid_request",
                "token and token_id are mutually exclusive",
            )
        }
        (None, None) => return oauth("invalid_request", "token or token_id are required"),
        (None, Some(id)) => id.to_string(),
        (Some(t), None) => {
            let sid = r.state.store.read().security.service_id.clone();
            match token::peek(t) {
                Some(c) if c.iss == sid || c.iss == access_id(&sid) => c.jti,
                Some(_) => {
                    return oauth(
                        "invalid_request",
                        "The token was issued by another instance and cannot be revoked here",
                    )
                }
                None => return oauth("invalid_request", "The token is malformed"),
            }
        }
    };
    let known = r.state.store.read().security.tokens.contains_key(&id);
    if !known {
        return Ok(respond(StatusCode::OK, "text/plain", "Token not found"));
    }
    let m = Mutation::Security(SecurityChange::RevokeTokens { ids: vec![id] });
    match r.state.store.commit(m).await {
        Ok(()) => Ok(respond(StatusCode::OK, "text/plain", "Token revoked")),
        Err(e) => Err(ApiError::internal(format!("{e:?}"))),
    }
}

pub(crate) fn service_id(r: &Req) -> Result<Response, ApiError> {
    let sid = r.state.store.read().security.service_id.clone();
    Ok(respond(StatusCode::OK, "text/plain", sid))
}

// ---------- /access/api/v1/tokens ----------

async fn access(r: &Req, e: Security, body: BodyStream) -> Result<Response, ApiError> {
    let unauthorized = || access_error(401, "UNAUTHORIZED", "Unauthorized");
    let caller = match r.caller() {
        Ok(c) if !c.anonymous => c.clone(),
        // Locked or disabled users: 403, as everywhere.
        Err(e) if e.status == 403 => {
            return access_error(403, "FORBIDDEN", "The user may not log in")
        }
        Err(_) => return unauthorized(),
        Ok(_) => {
            // A refresh may come with no credentials at all.
            if !matches!(e, Security::AccessTokenCreate) {
                return unauthorized();
            }
            Caller::anonymous()
        }
    };
    match e {
        Security::AccessTokenCreate => {
            let form = match params(r, body, true).await {
                Ok(f) => f,
                Err(e) => return access_error(400, "BAD_REQUEST", e),
            };
            if form.get("grant_type") == Some("refresh_token") {
                return refresh(r, &form, true).await;
            }
            if caller.anonymous {
                return unauthorized();
            }
            create_access(r, &caller, &form).await
        }
        Security::AccessTokenList => {
            let state = r.state.store.read();
            let rows: Vec<Value> = state
                .security
                .tokens
                .values()
                .filter(|t| caller.admin || t.username == caller.name)
                .map(access_row)
                .collect();
            Ok(json(
                StatusCode::OK,
                "application/json",
                &json!({ "tokens": rows }),
            ))
        }
        Security::AccessTokenGet { id } => {
            let id = if id == "me" {
                caller.token_id.clone().unwrap_or_default()
            } else {
                id.to_string()
            };
            let state = r.state.store.read();
            match state
                .security
                .tokens
                .get(&id)
                .filter(|t| caller.admin || t.username == caller.name)
            {
                Some(t) => Ok(json(StatusCode::OK, "application/json", &access_row(t))),
                None => Err(ApiError::access_not_found()),
            }
        }
        Security::AccessTokenRevoke { id } => {
            let id = if id == "me" {
                caller.token_id.clone().unwrap_or_default()
            } else {
                id.to_string()
            };
            let owner = r
                .state
                .store
                .read()
                .security
                .tokens
                .get(&id)
                .map(|t| t.username.clone());
            match owner {
                None => Ok(super::empty(StatusCode::NO_CONTENT)),
                Some(o) if !caller.admin && o != caller.name => access_error(
                    403,
                    "FORBIDDEN",
                    "Only admins may revoke the tokens of other users",
                ),
                Some(_) => {
                    let m = Mutation::Security(SecurityChange::RevokeTokens { ids: vec![id] });
                    match r.state.store.commit(m).await {
                        Ok(()) => Ok(super::empty(StatusCode::OK)),
                        Err(e) => Err(ApiError::internal(format!("{e:?}"))),
                    }
                }
            }
        }
        _ => Err(ApiError::access_not_found()),
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

async fn create_access(r: &Req, caller: &Caller, form: &Query) -> Result<Response, ApiError> {
    let bad = |m: String| access_error(400, "BAD_REQUEST", m);
    let username = form
        .get("username")
        .filter(|u| !u.trim().is_empty())
        .map(|u| u.trim().to_lowercase())
        .unwrap_or_else(|| caller.name.clone());
    if !caller.admin && username != caller.name {
        return access_error(
            403,
            "FORBIDDEN",
            format!(
                "User '{}' can only create tokens for themselves (requested: {username})",
                caller.name
            ),
        );
    }
    let scope = form
        .get("scope")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("applied-permissions/user")
        .to_string();
    if scope.len() > 500 {
        return bad("The scope is limited to 500 characters".into());
    }
    for t in scope_tokens(&scope) {
        if t == "api:*" {
            continue;
        }
        let access_form = t == "applied-permissions/user"
            || t == "applied-permissions/admin"
            || t.starts_with("applied-permissions/groups:");
        let verdict = {
            let state = r.state.store.read();
            may_grant(&state.security, caller, &t)
        };
        match verdict {
            Ok(true) if access_form => {}
            Ok(_) => return bad(format!("Unsupported scope: '{t}'")),
            Err(why) => return access_error(403, "FORBIDDEN", why),
        }
    }
    let expires = match form.get("expires_in").filter(|v| !v.is_empty()) {
        None => ACCESS_USER_MAX,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 0 && n as u64 <= MAX_EXPIRES => n as u64,
            _ => return bad(format!("Invalid expires_in value: {v}")),
        },
    };
    if !caller.admin && (expires == 0 || expires > ACCESS_USER_MAX) {
        return access_error(
            403,
            "FORBIDDEN",
            format!(
                "User '{}' can only create tokens that expire within {ACCESS_USER_MAX} seconds",
                caller.name
            ),
        );
    }
    let refreshable = match flag(form.get("refreshable")) {
        Ok(b) => b,
        Err(e) => return bad(e),
    };
    let description = form.get("description").unwrap_or("").to_string();
    if description.len() > 1024 {
        return bad("The description is limited to 1024 characters".into());
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
    Ok(token_response(&issue(r, i).await?, true))
}
