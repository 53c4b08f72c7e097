//! `/api/repositories`: the list (`?type=&packageType=`) and the repository configuration API
//! (`GET/PUT/POST/DELETE /api/repositories/{key}`); the domain is [`crate::repos`].

use serde_json::{Map, Value};
use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::Repositories;
use super::{json, read_small, respond, set_header, BodyStream, Req};
use crate::config::RepoClass;
use crate::error::ApiError;
use crate::repos;

/// Answers a repositories endpoint.
pub(crate) async fn handle(
    r: &Req,
    e: Repositories,
    body: BodyStream,
) -> Result<Response, ApiError> {
    let caller = r.caller()?.clone();
    let text = |t: String| Ok(respond(StatusCode::OK, "text/plain", t));
    match e {
        Repositories::List => {
            let q = &r.query;
            let rows = repos::list(
                &r.state,
                &caller,
                q.get("type"),
                q.get("packageType"),
                &r.base_url(),
            );
            let mut resp = json(
                StatusCode::OK,
                "application/vnd.org.jfrog.artifactory.repositories.RepositoryDetailsList+json",
                &rows,
            );
            set_header(&mut resp, warp::http::header::CACHE_CONTROL, "no-store");
            Ok(resp)
        }
        Repositories::Get { key } => {
            let c = repos::get(&r.state, &caller, &key)?;
            Ok(json(
                StatusCode::OK,
                content_type(c.rclass),
                &repos::config_json(&c),
            ))
        }
        Repositories::Create { key } => {
            repos::create(&r.state, &caller, &key, &read_doc(body).await?).await?;
            text(format!("Successfully created repository '{key}' \n"))
        }
        Repositories::Update { key } => {
            repos::update(&r.state, &key, &read_doc(body).await?).await?;
            text(format!("Repository {key} update successfully."))
        }
        Repositories::Delete { key } => {
            repos::delete(&r.state, &key).await?;
            text(format!(
                "Repository {key} and all its content have been removed successfully."
            ))
        }
    }
}

fn content_type(c: RepoClass) -> &'static str {
    match c {
        RepoClass::Local => {
            "application/vnd.org.jfrog.artifactory.repositories.LocalRepositoryConfiguration+json"
        }
        RepoClass::Remote => {
            "application/vnd.org.jfrog.artifactory.repositories.RemoteRepositoryConfiguration+json"
        }
        RepoClass::Virtual => {
            "application/vnd.org.jfrog.artifactory.repositories.VirtualRepositoryConfiguration+json"
        }
    }
}

async fn read_doc(body: BodyStream) -> Result<Map<String, Value>, ApiError> {
    let bytes = read_small(body, 1 << 20).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(
            "Repository configuration must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!("Invalid JSON: {e}"))),
    }
}
