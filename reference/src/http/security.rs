//! `/api/security/apiKey[/{user}]`: create, get, regenerate and revoke API keys. These endpoints answer
//! in Artifactory's UI-feedback shapes: compact `{"apiKey":...}`, `{"error":...}` and `{"info":...}`.

use rand::distributions::{Alphanumeric, DistString};
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::Security;
use super::{commit_error, empty, respond, Req};
use crate::error::ApiError;
use crate::store::Mutation;

/// A compact JSON reply (these endpoints do not pretty-print).
fn compact(status: StatusCode, v: serde_json::Value) -> Response {
    respond(status, "application/json", v.to_string())
}

/// A new key in the modern format: `AKCp8` followed by 68 letters and digits.
fn new_key() -> String {
    format!(
        "AKCp8{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 68)
    )
}

/// Answers an API-key endpoint.
pub(crate) async fn handle(r: &Req, e: Security) -> Result<Response, ApiError> {
    let (other, create) = match &e {
        Security::ApiKeyCreate { user } => (user.clone(), true),
        Security::ApiKeyGet { user }
        | Security::ApiKeyRegenerate { user }
        | Security::ApiKeyRevoke { user } => (user.clone(), false),
        _ => return Err(ApiError::not_found("Not Found")),
    };
    let caller = r.caller()?.clone();
    if caller.anonymous {
        if !r.state.auth.anonymous_access() {
            return Err(ApiError::unauthorized("Authentication is required"));
        }
        // Anonymous: creating is refused, the rest answers with nothing.
        return if create {
            Err(ApiError::feedback(
                403,
                "Anonymous users cannot create an API key",
            ))
        } else {
            Ok(empty(StatusCode::OK))
        };
    }
    // A token limited to groups may not mint a key that acts as the whole user.
    let narrowed = caller.method == crate::auth::Method::Token && caller.principal.user.is_none();
    let mints = matches!(
        e,
        Security::ApiKeyCreate { .. } | Security::ApiKeyRegenerate { .. }
    );
    if narrowed && mints {
        return Err(ApiError::feedback(
            403,
            "The use of a group-scoped access token as authentication is forbidden for this api call",
        ));
    }
    if other.is_some() && !caller.admin {
        return Err(ApiError::feedback(
            403,
            "Only administrators may manage the API key of another user",
        ));
    }
    let target = other.clone().unwrap_or_else(|| caller.name.clone());
    let existing = r.state.store.read().api_keys.get(&target).cloned();
    match e {
        Security::ApiKeyGet { .. } => Ok(compact(
            StatusCode::OK,
            match existing {
                Some(k) => json!({ "apiKey": k }),
                None => json!({}),
            },
        )),
        Security::ApiKeyCreate { .. } => {
            if existing.is_some() {
                return Err(ApiError::feedback(
                    400,
                    format!("Api key already exists for user: {target}"),
                ));
            }
            set_key(r, &target, StatusCode::CREATED).await
        }
        Security::ApiKeyRegenerate { .. } => {
            if caller.api_key {
                return Err(ApiError::feedback(
                    403,
                    "The use of apiKey as authentication is forbidden for this api call",
                ));
            }
            set_key(r, &target, StatusCode::OK).await
        }
        _ => {
            if other.is_none() && r.query.flag("deleteAll", false) {
                if !caller.admin {
                    return Err(ApiError::feedback(
                        403,
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
