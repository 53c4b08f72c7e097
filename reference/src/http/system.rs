//! `/api/system/*`: ping, version, garbage collection, key encryption.

use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use super::error::ApiError;
use super::{allow, json, render, req, respond, AppState, Req, REVISION, VERSION};
use crate::auth::crypto;

/// Routes under `/api/system`.
pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let ping = warp::path!("system" / "ping")
        .and(req(state.clone()))
        .map(|r: Req| render(ping(&r)));
    let version = warp::path!("system" / "version")
        .and(req(state.clone()))
        .map(|r: Req| render(version(&r)));
    let gc = warp::path!("system" / "storage" / "gc")
        .and(req(state.clone()))
        .then(|r: Req| async move { render(gc(&r).await) });
    let crypt = warp::path("system")
        .and(
            warp::path!("encrypt")
                .map(|| true)
                .or(warp::path!("decrypt").map(|| false))
                .unify(),
        )
        .and(req(state.clone()))
        .then(|on: bool, r: Req| async move { render(key_encryption(&r, on).await) });
    ping.or(version)
        .unify()
        .or(gc)
        .unify()
        .or(crypt)
        .unify()
        .boxed()
}

/// `GET /api/system/ping`: `OK` as text, for anyone (ping.allowUnauthenticated), unless the credentials
/// sent are wrong.
fn ping(r: &Req) -> Result<Response, ApiError> {
    allow(r, &[Method::GET])?;
    r.caller()?;
    Ok(respond(StatusCode::OK, "text/plain", "OK"))
}

/// `GET /api/system/version`.
fn version(r: &Req) -> Result<Response, ApiError> {
    allow(r, &[Method::GET])?;
    r.require_user()?;
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
    allow(r, &[Method::POST])?;
    r.require_admin(|_| ApiError::forbidden("Forbidden"))?;
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
    allow(r, &[Method::POST])?;
    r.require_admin(|_| ApiError::forbidden("Forbidden"))?;
    // One switch at a time, and never while the token key is being created.
    let _switch = r.state.auth.keys.switch.lock().await;
    let store = &r.state.store;
    let old = store.cipher();
    let io = |e: std::io::Error| {
        let verb = if on { "encrypt" } else { "decrypt" };
        ApiError::text(
            StatusCode::INTERNAL_SERVER_ERROR,
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
                StatusCode::CONFLICT,
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
