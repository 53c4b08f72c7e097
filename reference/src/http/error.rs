//! `ApiError`: an application error rendered as a reply in the exact wire shape of its family.
//! Handlers return `Result<Response, ApiError>`; [`ApiError::into_response`] is the one renderer.

use warp::http::{header, HeaderName, HeaderValue, StatusCode};
use warp::reply::Response;

use super::json::pretty;

/// The body family of an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorBody {
    /// REST default: `{"errors":[{"status":N,"message":"..."}]}`.
    Rest(String),
    /// Plain text (AQL, search terms, some 403s).
    Text(String),
    /// No body at all.
    Empty,
}

/// An error reply.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Body family and text.
    pub body: ErrorBody,
    /// Extra headers (`WWW-Authenticate`, `Allow`, ...).
    pub headers: Vec<(HeaderName, String)>,
}

/// The Basic challenge every 401 carries.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"Artifactory Realm\"";

impl ApiError {
    /// REST default shape.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody::Rest(message.into()),
            headers: Vec::new(),
        }
    }

    /// Plain-text body.
    pub fn text(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody::Text(message.into()),
            headers: Vec::new(),
        }
    }

    /// No body.
    pub fn empty(status: StatusCode) -> ApiError {
        ApiError {
            status,
            body: ErrorBody::Empty,
            headers: Vec::new(),
        }
    }

    /// 400 in the REST shape.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 in the REST shape.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 403 in the REST shape.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    /// 401 with the Basic challenge.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
            .with_header(header::WWW_AUTHENTICATE, BASIC_CHALLENGE)
    }

    /// 500 with Artifactory's generic message, logging the cause.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unexpected error has occurred, please check Artifactory logs for further details.",
        )
    }

    /// Adds a header.
    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    /// Renders the reply.
    pub fn into_response(self) -> Response {
        let (body, ctype): (String, Option<&str>) = match &self.body {
            ErrorBody::Rest(m) => (rest_body(self.status, m), Some("application/json")),
            ErrorBody::Text(t) => (t.clone(), Some("text/plain")),
            ErrorBody::Empty => (String::new(), None),
        };
        let mut resp = Response::new(body.into());
        *resp.status_mut() = self.status;
        if let Some(ct) = ctype {
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                resp.headers_mut().append(k, v);
            }
        }
        resp
    }
}

/// `{"errors":[{"status":N,"message":"..."}]}` pretty printed.
pub fn rest_body(status: StatusCode, message: &str) -> String {
    pretty(&serde_json::json!({"errors": [{"status": status.as_u16(), "message": message}]}))
}

impl From<ApiError> for Response {
    fn from(e: ApiError) -> Response {
        e.into_response()
    }
}
