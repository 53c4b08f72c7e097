//! `/api/security/apiKey[/{user}]`: create, get, regenerate and revoke API keys. These endpoints answer
//! in Artifactory's UI-feedback shapes: compact `{"apiKey":...}`, `{"error":...}` and `{"info":...}`.

use rand::distributions::{Alphanumeric, DistString};
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::path::Tail;
use warp::reply::Response;
use warp::Filter;

use super::error::ApiError;
use super::{allow, commit_error, empty, render, req, respond, AppState, Req};
use crate::store::Mutation;

/// Routes under `/api/security`.
pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    warp::path!("security" / "apiKey" / ..)
        .and(warp::path::tail())
        .and(req(state.clone()))
        .then(|t: Tail, r: Req| async move { render(api_key(r, t.as_str()).await) })
        .or(super::users::routes(state))
        .unify()
        .or(super::tokens::routes(state))
        .unify()
        .boxed()
}

/// A compact JSON reply (these endpoints do not pretty-print).
fn compact(status: StatusCode, v: serde_json::Value) -> Response {
    respond(status, "application/json", v.to_string())
}

fn error(status: StatusCode, message: &str) -> Response {
    compact(status, json!({ "error": message }))
}

/// A new key in the modern format: `AKCp8` followed by 68 letters and digits.
fn new_key() -> String {
    format!(
        "AKCp8{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 68)
    )
}

async fn api_key(r: Req, tail: &str) -> Result<Response, ApiError> {
    allow(
        &r,
        &[Method::GET, Method::POST, Method::PUT, Method::DELETE],
    )?;
    let caller = r.caller()?.clone();
    let other =
        super::path::decode(tail.trim_matches('/')).map_err(|e| ApiError::bad_request(e.0))?;
    let other = (!other.is_empty()).then_some(other);
    if caller.anonymous {
        if !r.state.auth.anonymous_access() {
            return Err(ApiError::unauthorized("Authentication is required"));
        }
        // Anonymous: creating is refused, the rest answers with nothing.
        return Ok(match r.method {
            Method::POST => error(
                StatusCode::FORBIDDEN,
                "Anonymous users cannot create an API key",
            ),
            _ => empty(StatusCode::OK),
        });
    }
    // A token limited to groups may not mint a key that acts as the whole user.
    let narrowed = caller.method == crate::auth::Method::Token && caller.principal.user.is_none();
    if narrowed && matches!(r.method, Method::POST | Method::PUT) {
        return Ok(error(
            StatusCode::FORBIDDEN,
            "The use of a group-scoped access token as authentication is forbidden for this api call",
        ));
    }
    if other.is_some() && !caller.admin {
        return Ok(error(
            StatusCode::FORBIDDEN,
            "Only administrators may manage the API key of another user",
        ));
    }
    let target = other.clone().unwrap_or_else(|| caller.name.clone());
    let existing = r.state.store.read().api_keys.get(&target).cloned();
    match r.method {
        Method::GET => Ok(compact(
            StatusCode::OK,
            match existing {
                Some(k) => json!({ "apiKey": k }),
                None => json!({}),
            },
        )),
        Method::POST if other.is_some() => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
        )),
        Method::POST => {
            if existing.is_some() {
                return Ok(error(
                    StatusCode::BAD_REQUEST,
                    &format!("Api key already exists for user: {target}"),
                ));
            }
            set_key(&r, &target, StatusCode::CREATED).await
        }
        Method::PUT if other.is_some() => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
        )),
        Method::PUT => {
            if caller.api_key {
                return Ok(error(
                    StatusCode::FORBIDDEN,
                    "The use of apiKey as authentication is forbidden for this api call",
                ));
            }
            set_key(&r, &target, StatusCode::OK).await
        }
        _ => {
            if other.is_none() && r.query.flag("deleteAll", false) {
                if !caller.admin {
                    return Ok(error(
                        StatusCode::FORBIDDEN,
                        "Only administrators may revoke all API keys",
                    ));
                }
                r.state
                    .store
                    .commit(Mutation::RevokeApiKey { user: None })
                    .await
                    .map_err(|e| commit_error(e, |_| ApiError::internal("revoke all")))?;
                return Ok(compact(
                    StatusCode::OK,
                    json!({ "info": "All api keys have been successfully revoked" }),
                ));
            }
            if existing.is_some() {
                r.state
                    .store
                    .commit(Mutation::RevokeApiKey {
                        user: Some(target.clone()),
                    })
                    .await
                    .map_err(|e| commit_error(e, |_| ApiError::internal("revoke")))?;
            }
            Ok(compact(
                StatusCode::OK,
                json!({ "info": format!("Api key for user: '{target}' has been successfully revoked") }),
            ))
        }
    }
}

async fn set_key(r: &Req, user: &str, status: StatusCode) -> Result<Response, ApiError> {
    let key = new_key();
    r.state
        .store
        .commit(Mutation::SetApiKey {
            user: user.to_string(),
            key: key.clone(),
        })
        .await
        .map_err(|e| commit_error(e, |_| ApiError::internal("set api key")))?;
    Ok(compact(status, json!({ "apiKey": key })))
}
