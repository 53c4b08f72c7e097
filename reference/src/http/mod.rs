//! The HTTP layer, thin: [`router`] strips the context path, [`endpoint`] parses the request into a
//! typed endpoint, the router checks its access rule, and the area's handler calls the domain and
//! renders what it returns; errors are rendered in one place ([`error`]).

pub(crate) mod artifacts;
pub(crate) mod builds;
pub(crate) mod control;
pub(crate) mod docker;
pub(crate) mod endpoint;
pub(crate) mod error;
pub(crate) mod faults;
pub(crate) mod headers;
pub(crate) mod helm;
pub(crate) mod json;
pub(crate) mod path;
pub(crate) mod repositories;
pub(crate) mod router;
pub(crate) mod search;
pub(crate) mod security;
pub(crate) mod serve;
pub(crate) mod storage;
pub(crate) mod system;
pub(crate) mod tokens;
pub(crate) mod users;

use bytes::Bytes;
use serde::Serialize;
use warp::http::{header, HeaderValue, Method, StatusCode};
use warp::reply::Response;

pub(crate) use crate::app::{AppState, Body as BodyStream, REVISION, VERSION};
use crate::auth::{Action, Caller};
use crate::error::ApiError;

pub(crate) use crate::query::Query;

/// The parts of a request every handler sees.
pub(crate) struct Req {
    /// Shared state.
    pub state: AppState,
    /// Method.
    pub method: Method,
    /// Headers (read through [`headers::Headers`], which sees every line).
    pub headers: headers::Headers,
    /// Query parameters.
    pub query: Query,
    /// Who is calling (an error when credentials were wrong).
    pub caller: Result<Caller, ApiError>,
}

impl Req {
    /// The caller, or the 401 for wrong credentials.
    pub(crate) fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().map_err(Clone::clone)
    }

    /// Checks `action` at `path` of `repo` for the caller; see [`Auth::check`]. Folders (and the
    /// repository root) relax the include patterns so users can browse down to what they may read. A
    /// repository that does not exist is left to the handler's 404 (only the anonymous gate applies).
    pub(crate) fn require(
        &self,
        action: Action,
        repo: &str,
        path: &str,
        forbidden: impl FnOnce(&Caller) -> ApiError,
    ) -> Result<Caller, ApiError> {
        let caller = self.caller()?.clone();
        let state = self.state.store.read();
        self.state
            .auth
            .require(&state, &caller, action, repo, path, || forbidden(&caller))?;
        Ok(caller)
    }

    /// Whether the caller may do `action` at `path` of `repo` (no error: listings filter with it).
    pub(crate) fn may(
        &self,
        state: &crate::store::State,
        action: Action,
        repo: &str,
        path: &str,
    ) -> bool {
        let Ok(caller) = self.caller() else {
            return false;
        };
        self.state.auth.may(state, caller, action, repo, path)
    }

    /// Admin-only endpoints: anonymous → 401, other users → `forbidden`.
    pub(crate) fn require_admin(
        &self,
        forbidden: impl FnOnce(&Caller) -> ApiError,
    ) -> Result<Caller, ApiError> {
        let caller = self.caller()?.clone();
        self.state
            .auth
            .check_admin(&caller, || forbidden(&caller))?;
        Ok(caller)
    }

    /// Endpoints any authenticated user (or anonymous, when anonymous access is on) may call.
    pub(crate) fn require_user(&self) -> Result<Caller, ApiError> {
        let caller = self.caller()?.clone();
        self.state.auth.gate(&caller)?;
        Ok(caller)
    }

    /// The base URL for absolute URLs in responses: `<scheme>://<host><ctx>`, honouring
    /// `X-JFrog-Override-Base-Url`, `X-Artifactory-Override-Base-Url` and the configured custom base.
    pub(crate) fn base_url(&self) -> String {
        let h = |n: &str| {
            self.headers
                .get(n)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let ctx = &self.state.ctx_path;
        if let Some(v) = h("x-jfrog-override-base-url") {
            return format!("{}{}", v.trim_end_matches('/'), ctx);
        }
        if let Some(v) = h("x-artifactory-override-base-url") {
            return v.trim_end_matches('/').to_string();
        }
        {
            let custom = self
                .state
                .url_base
                .read()
                .unwrap_or_else(|e| e.into_inner());
            if !custom.is_empty() {
                return custom.trim_end_matches('/').to_string();
            }
        }
        if let Some(v) = &self.state.config.base_url {
            return v.trim_end_matches('/').to_string();
        }
        let host = h("host").unwrap_or_else(|| "localhost".into());
        format!("http://{host}{ctx}")
    }

    /// Now, from the server's clock.
    pub(crate) fn now(&self) -> i64 {
        self.state.config.clock.now_ms()
    }

    /// A request header as text: every line it was sent on, joined (see [`headers::Headers::get`]).
    pub(crate) fn header(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.headers.get(name)
    }
}

pub(crate) use crate::app::read_small;

/// A response with `body`, `status` and `Content-Type`.
pub(crate) fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response {
    let mut r = Response::new(body.into().into());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// A JSON response in Jackson's pretty style.
pub(crate) fn json<T: Serialize + ?Sized>(
    status: StatusCode,
    content_type: &str,
    v: &T,
) -> Response {
    respond(status, content_type, json::pretty(v))
}

/// An empty response.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Bytes::new().into());
    *r.status_mut() = status;
    r
}

/// Sets a header on a response (ignores values that are not valid header text).
pub(crate) fn set_header(r: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// Renders a handler's result: the reply, or the error in its family's shape.
pub(crate) fn render(r: &Req, result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|e| error::render(e, r))
}

#[cfg(test)]
mod tests {
    /// The layering rule: only this module (and the entry points that start it) knows warp; the
    /// domain, auth, store and search modules use neither warp nor the HTTP layer.
    #[test]
    fn nothing_outside_the_http_layer_uses_warp_or_it() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &mut files);
        let mut offenders = Vec::new();
        for f in files {
            let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            if rel.starts_with("http/") || rel == "lib.rs" || rel == "main.rs" {
                continue;
            }
            for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                if code.contains("warp::")
                    || code.contains("use warp")
                    || code.contains("crate::http")
                {
                    offenders.push(format!("{rel}:{}: {code}", i + 1));
                }
            }
        }
        assert!(offenders.is_empty(), "{}", offenders.join("\n"));
    }
}
