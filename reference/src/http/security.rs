//! `/api/security/apiKey[/{user}]`: create, get, regenerate and revoke API keys; the domain is
//! [`crate::auth::api_keys`]. These endpoints answer in compact JSON (no Jackson pretty printing).

use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::Security;
use super::{empty, respond, Req};
use crate::auth::api_keys::{self, KeyOp};
use crate::error::ApiError;
use crate::messages as msg;

/// Answers an API-key endpoint.
pub(crate) async fn handle(r: &Req, e: Security) -> Result<Response, ApiError> {
    let (op, user) = match e {
        Security::ApiKeyGet { user } => (KeyOp::Get, user),
        Security::ApiKeyCreate { user } => (KeyOp::Create, user),
        Security::ApiKeyRegenerate { user } => (KeyOp::Regenerate, user),
        Security::ApiKeyRevoke { user } => {
            let all = r.query.flag("deleteAll", false);
            (KeyOp::Revoke { all }, user)
        }
        _ => return Err(msg::not_found()),
    };
    let caller = r.caller()?.clone();
    let (status, body) = api_keys::run(&r.state, &caller, op, user.as_deref()).await?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    Ok(match body {
        Some(v) => respond(status, "application/json", v.to_string()),
        None => empty(status),
    })
}
