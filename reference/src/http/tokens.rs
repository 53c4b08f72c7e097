//! Access tokens: the legacy `/api/security/token` (create, refresh, list, revoke; OAuth-shaped
//! errors), `/api/system/service_id`, and the Access service's `/access/api/v1/tokens` (create,
//! list, get, revoke; Access-shaped errors). The domain is [`crate::auth::tokens`].

use serde_json::{Map, Value};
use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::Security;
use super::{empty, json, read_small, respond, BodyStream, Query, Req};
use crate::auth::tokens;
use crate::error::ApiError;
use crate::messages as msg;

/// Answers a token endpoint (legacy and the Access service's).
pub(crate) async fn handle(r: &Req, e: Security, body: BodyStream) -> Result<Response, ApiError> {
    let ok = |v: Value| Ok(json(StatusCode::OK, "application/json", &v));
    let text = |t: &str| Ok(respond(StatusCode::OK, "text/plain", t.to_string()));
    match e {
        Security::TokenList => ok(tokens::list_legacy(&r.state.store.read())),
        Security::TokenCreate => ok(legacy_create(r, body).await?),
        Security::TokenRevoke => {
            let form = params(r, body, false)
                .await
                .map_err(|e| ApiError::oauth("invalid_request", e))?;
            text(tokens::revoke_legacy(&r.state, &form).await?)
        }
        Security::AccessTokenCreate => {
            let caller = tokens::access_caller(&r.caller, true)?;
            let form = params(r, body, true)
                .await
                .map_err(|e| ApiError::access(400, "BAD_REQUEST", e))?;
            if form.get("grant_type") == Some("refresh_token") {
                return ok(tokens::refresh(&r.state, &r.caller, &form, true).await?);
            }
            let caller = tokens::access_caller(&Ok(caller), false)?;
            ok(tokens::create_access(&r.state, &caller, &form).await?)
        }
        Security::AccessTokenList => {
            let caller = tokens::access_caller(&r.caller, false)?;
            ok(tokens::access_list(&r.state.store.read(), &caller))
        }
        Security::AccessTokenGet { id } => {
            let caller = tokens::access_caller(&r.caller, false)?;
            ok(tokens::access_get(&r.state.store.read(), &caller, &id)?)
        }
        Security::AccessTokenRevoke { id } => {
            let caller = tokens::access_caller(&r.caller, false)?;
            let existed = tokens::access_revoke(&r.state, &caller, &id).await?;
            Ok(empty(if existed {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            }))
        }
        _ => Err(ApiError::access_not_found()),
    }
}

/// `POST /api/security/token`: a new token, or a refreshed one (`grant_type=refresh_token`).
async fn legacy_create(r: &Req, body: BodyStream) -> Result<Value, ApiError> {
    let form = params(r, body, false)
        .await
        .map_err(|e| ApiError::oauth("invalid_request", e))?;
    match form.get("grant_type").unwrap_or("client_credentials") {
        "client_credentials" | "" => {
            let caller = r.require_user()?;
            if caller.anonymous {
                return Err(msg::unauthorized());
            }
            tokens::create_legacy(&r.state, &caller, &form).await
        }
        "refresh_token" => tokens::refresh(&r.state, &r.caller, &form, false).await,
        other => Err(msg::unsupported_grant(other)),
    }
}

/// `GET /api/system/service_id`.
pub(crate) fn service_id(r: &Req) -> Result<Response, ApiError> {
    let sid = r.state.store.read().security.service_id.clone();
    Ok(respond(StatusCode::OK, "text/plain", sid))
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
