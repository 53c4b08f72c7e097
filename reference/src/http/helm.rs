//! `/api/helm/<repo>/...`: the index Helm clients read, the charts beside it, reindex.

use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::{Artifacts, Helm};
use super::{respond, BodyStream, Req};
use crate::auth::Action;
use crate::error::ApiError;
use crate::messages as msg;

/// Answers a Helm endpoint.
pub(crate) async fn handle(r: &Req, e: Helm, body: BodyStream) -> Result<Response, ApiError> {
    match e {
        Helm::Index { repo } => index(r, &repo).await,
        Helm::Chart { path } => {
            super::artifacts::handle(r, Artifacts::Retrieve { path }, body).await
        }
        Helm::Reindex { repo } => {
            require(r, Action::Manage, &repo)?;
            crate::helm::reindex(&r.state, &repo)?;
            Ok(respond(StatusCode::OK, "text/plain", "OK"))
        }
    }
}

fn require(r: &Req, action: Action, repo: &str) -> Result<(), ApiError> {
    let caller = r.caller()?;
    let state = r.state.store.read();
    r.state
        .auth
        .require(&state, caller, action, repo, "", msg::forbidden)
}

/// The index of `repo`, its chart URLs through `/api/helm/<repo>/`.
pub(crate) async fn index(r: &Req, repo: &str) -> Result<Response, ApiError> {
    require(r, Action::Read, repo)?;
    let caller = r.caller()?.clone();
    let text = crate::helm::index_yaml(&r.state, &caller, repo, &r.base_url()).await?;
    Ok(respond(
        StatusCode::OK,
        "application/x-yaml",
        text.as_str().to_string(),
    ))
}
