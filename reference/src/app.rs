//! The application: everything a request or a background job may need, shared by all of them.
//! Nothing here knows about warp; the HTTP layer holds an [`AppState`] and hands it to the domain.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::auth::Auth;
use crate::config::Config;
use crate::store::Store;

/// The version this server presents itself as.
pub(crate) const VERSION: &str = "7.98.9";
/// The matching revision (as in `X-JFrog-Version`).
pub(crate) const REVISION: &str = "79809900";

/// A request body as the domain reads it: a stream of chunks that may end in an error (a client
/// that went away, a truncated body).
pub(crate) type Body = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Everything shared by requests and jobs.
#[derive(Debug)]
pub(crate) struct App {
    /// Configuration.
    pub config: Config,
    /// Normalised context path (`/artifactory` or `""`).
    pub ctx_path: String,
    /// Storage.
    pub store: Store,
    /// Users and permissions.
    pub auth: Auth,
    /// `X-Artifactory-Id`.
    pub instance_id: String,
    /// Background jobs.
    pub jobs: crate::jobs::Jobs,
    /// Docker blob upload sessions.
    pub uploads: crate::docker::uploads::Uploads,
    /// Registry transfers in progress (background checksum work waits while any run).
    pub busy: Arc<crate::store::Transfers>,
    /// Every stored build run, following the build-info repository (builds API and AQL).
    pub builds: Arc<crate::builds::index::Index>,
    /// Helm charts of every repository, following the store (index.yaml).
    pub helm: Arc<crate::helm::Index>,
    /// Remote repositories' fetches in flight and misses remembered, and the upstream client.
    pub remotes: crate::repos::remote::Remotes,
    /// The custom URL base as the store holds it (kept here too, so building an absolute URL
    /// never takes the store's lock).
    pub url_base: std::sync::RwLock<String>,
    /// The last requests answered (the control API's request journal).
    pub requests: crate::requests::RequestLog,
    /// Faults the control API injects.
    pub faults: crate::requests::FaultRules,
    /// The state the control API's reset puts back.
    pub seed: crate::requests::Seed,
}

/// Cheap handle to [`App`].
pub(crate) type AppState = Arc<App>;

/// Reads a small body (JSON documents, manifests) into memory, refusing more than `limit` bytes.
pub(crate) async fn read_small(
    mut body: Body,
    limit: usize,
) -> Result<Bytes, crate::error::ApiError> {
    use crate::error::ApiError;
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("Could not read the request body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::new(413, "Request body is too large"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Counts a transfer in progress for as long as it lives.
pub(crate) struct Busy(std::sync::Arc<crate::store::Transfers>);

impl Busy {
    pub(crate) fn new(t: &std::sync::Arc<crate::store::Transfers>) -> Busy {
        t.begin();
        Busy(t.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}
