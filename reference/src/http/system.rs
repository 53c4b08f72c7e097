//! `/api/system/*`: ping, version, garbage collection, key encryption, the service id.

use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::System;
use super::{json, respond, Req, REVISION, VERSION};
use crate::auth::crypto;
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

/// `GET /api/system/version`: the add-ons that work here (no `build` or `helm` until those APIs are
/// built: a client that trusts the list must not find them missing).
fn version() -> Result<Response, ApiError> {
    let body = serde_json::json!({
        "version": VERSION,
        "revision": REVISION,
        "addons": ["docker", "properties", "rest", "search"],
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
    // One switch at a time, and never while the token key is being created.
    let _switch = r.state.auth.keys.switch.lock().await;
    let store = &r.state.store;
    let old = store.cipher();
    let io = |e: std::io::Error| {
        let verb = if on { "encrypt" } else { "decrypt" };
        ApiError::text(
            500,
            format!("Could not {verb} with artifactory key, due to: {e}"),
        )
    };
    if on {
        if old.is_none() {
            // Key first (fsynced), then the signing key file, then the snapshot: a crash at any point
            // leaves a key that opens whatever is sealed.
            let c = crypto::Cipher::create(store.root()).map_err(io)?;
            r.state.auth.keys.reseal(None, Some(&c)).map_err(io)?;
            store.set_cipher(Some(c)).map_err(io)?;
            tracing::info!("key encryption activated");
        }
    } else {
        let Some(c) = old else {
            return Err(ApiError::text(
                409,
                "Cannot decrypt without artifactory key file",
            ));
        };
        store.set_cipher(None).map_err(io)?;
        r.state.auth.keys.reseal(Some(&c), None).map_err(io)?;
        std::fs::remove_file(crypto::master_key_path(store.root())).map_err(io)?;
        tracing::info!("key encryption deactivated");
    }
    Ok(respond(StatusCode::OK, "text/plain", "DONE"))
}
