//! `/api/system/*`: ping, version, garbage collection, key encryption, the service id.

use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::System;
use super::{json, respond, Req, REVISION, VERSION};
use crate::error::ApiError;

/// Answers a `/api/system/*` endpoint.
pub(crate) async fn handle(r: &Req, e: System) -> Result<Response, ApiError> {
    match e {
        System::Ping => ping(),
        System::Version => version(),
        System::Gc => gc(r).await,
        System::Encrypt => key_encryption(r, true).await,
        System::Decrypt => key_encryption(r, false).await,
        System::ServiceId => super::tokens::service_id(r),
    }
}

/// `GET /api/system/ping`: `OK` as text, for anyone (ping.allowUnauthenticated), unless the credentials
/// sent are wrong.
fn ping() -> Result<Response, ApiError> {
    Ok(respond(StatusCode::OK, "text/plain", "OK"))
}

/// `GET /api/system/version`: the add-ons that work here (a client that trusts the list must not
/// find one missing).
fn version() -> Result<Response, ApiError> {
    let body = serde_json::json!({
        "version": VERSION,
        "revision": REVISION,
        "addons": ["build", "docker", "helm", "properties", "rest", "search"],
    });
    Ok(json(
        StatusCode::OK,
        "application/vnd.org.jfrog.artifactory.system.Version+json",
        &body,
    ))
}

/// `POST /api/system/storage/gc` (admin): removes the blobs no item references; text/plain.
async fn gc(r: &Req) -> Result<Response, ApiError> {
    let (count, bytes) = r.state.store.gc().await.map_err(ApiError::internal)?;
    Ok(respond(
        StatusCode::OK,
        "text/plain",
        format!("Garbage collection finished: {count} binaries removed, {bytes} bytes freed."),
    ))
}

/// `POST /api/system/encrypt|decrypt` (admin): creates the master key and seals secrets at rest, or
/// opens them all and removes the key. Encrypting twice is not an error (the key is reused).
async fn key_encryption(r: &Req, on: bool) -> Result<Response, ApiError> {
    crate::system::key_encryption(&r.state, on).await?;
    Ok(respond(StatusCode::OK, "text/plain", "DONE"))
}
