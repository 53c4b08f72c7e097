//! `/api/system/*`: ping and version.

use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use super::error::ApiError;
use super::{allow, json, render, req, respond, AppState, Req, REVISION, VERSION};

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
    ping.or(version).unify().or(gc).unify().boxed()
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
