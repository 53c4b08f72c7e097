//! The one renderer of [`ApiError`]: each family in its exact wire shape, challenges filled in
//! from the request (the registry's Bearer realm names this server's URL).

use serde_json::json;
use warp::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use warp::reply::Response;

use super::json::pretty;
use super::Req;
use crate::error::{ApiError, BearerScope, Challenge, ErrorBody};

/// The Basic challenge every 401 carries.
pub(crate) const BASIC_CHALLENGE: &str = "Basic realm=\"Artifactory Realm\"";

/// The content type of the registry's 401 answers.
pub(crate) const REGISTRY_CHALLENGE_TYPE: &str = "application/json;charset=ISO-8859-1";

/// The content type of copy and move results.
pub(crate) const COPY_MOVE: &str =
    "application/vnd.org.jfrog.artifactory.storage.CopyOrMoveResult+json";

/// Renders `e` as the reply to `r`.
pub(crate) fn render(e: ApiError, r: &Req) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (body, ctype) = body(&e, r.method == Method::HEAD);
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    if let Some(ct) = ctype {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    let challenge = match &e.challenge {
        Some(Challenge::Basic) => Some(BASIC_CHALLENGE.to_string()),
        Some(Challenge::Bearer(scope)) => Some(bearer(r, scope.as_deref())),
        None => None,
    };
    if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
    }
    for (k, v) in e.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}

/// The body of an error in its family's shape, and its content type (`head`: a HEAD request).
fn body(e: &ApiError, head: bool) -> (String, Option<&'static str>) {
    let json_type = Some("application/json");
    match &e.body {
        ErrorBody::Rest(m) => (rest_body(e.status, m), json_type),
        ErrorBody::Text(t) => (t.clone(), Some("text/plain")),
        ErrorBody::Empty => (String::new(), None),
        ErrorBody::Feedback(m) => (json!({ "error": m }).to_string(), json_type),
        ErrorBody::OAuth { code, description } => (
            pretty(&json!({"error": code, "error_description": description})),
            json_type,
        ),
        ErrorBody::Access {
            code,
            message,
            detail,
        } => {
            let one = match detail {
                Some(d) => json!({"code": code, "detail": d, "message": message}),
                None => json!({"code": code, "message": message}),
            };
            (json!({ "errors": [one] }).to_string(), json_type)
        }
        // A HEAD request gets the registry's status and headers only.
        ErrorBody::Registry { .. } if head => (String::new(), None),
        // The registry's challenge names its charset, as Artifactory's servlet container sends it
        // (behaviour §13.2, captured answers).
        ErrorBody::Registry {
            code,
            message,
            detail,
        } => (
            json!({"errors": [{"code": code, "message": message, "detail": detail}]}).to_string(),
            if e.status == 401 {
                Some(REGISTRY_CHALLENGE_TYPE)
            } else {
                json_type
            },
        ),
        ErrorBody::Messages(m) => (
            pretty(&json!({"messages": [{"level": "ERROR", "message": m}]})),
            Some(COPY_MOVE),
        ),
    }
}

/// The registry's challenge: the token realm of the scope's repository, or the root realm.
fn bearer(r: &Req, scope: Option<&BearerScope>) -> String {
    let service = r.header("host").unwrap_or("localhost".into()).into_owned();
    let base = r.base_url();
    match scope {
        Some(s) => format!(
            "Bearer realm=\"{base}/api/docker/{}/v2/token\",service=\"{service}\",scope=\"repository:{}:{}\"",
            s.repo, s.image, s.actions
        ),
        None => {
            let root = base.strip_suffix(&r.state.ctx_path).unwrap_or(&base);
            format!("Bearer realm=\"{root}/v2/token\",service=\"{service}\"")
        }
    }
}

/// `{"errors":[{"status":N,"message":"..."}]}` pretty printed.
pub(crate) fn rest_body(status: u16, message: &str) -> String {
    pretty(&json!({"errors": [{"status": status, "message": message}]}))
}
