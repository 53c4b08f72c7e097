//! `ApiError`: every error the server answers, in the wire family its endpoint speaks. Domain code
//! builds them (usually through [`crate::messages`], which holds Artifactory's texts); the HTTP layer
//! renders them in one place (`http::error::render`). Nothing here knows about warp.

use serde_json::Value;

/// The body family of an error, as Artifactory's endpoints answer them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ErrorBody {
    /// REST default: `{"errors":[{"status":N,"message":"..."}]}`, pretty printed.
    Rest(String),
    /// Plain text (AQL, search terms, some 403s).
    Text(String),
    /// No body at all.
    Empty,
    /// The API-key endpoints' UI feedback: compact `{"error":"..."}`.
    Feedback(String),
    /// The token endpoint: OAuth's `{"error":"<code>","error_description":"..."}`.
    OAuth {
        /// OAuth error code (`invalid_request`, ...).
        code: &'static str,
        /// The description.
        description: String,
    },
    /// The Access service: `{"errors":[{"code":"...","message":"..."}]}` (with a `detail` between
    /// them for its 404).
    Access {
        /// Access error code (`BAD_REQUEST`, ...).
        code: &'static str,
        /// The message.
        message: String,
        /// The detail, when there is one.
        detail: Option<&'static str>,
    },
    /// The Docker registry API: `{"errors":[{"code":"...","message":"...","detail":...}]}`; no body
    /// at all for HEAD requests.
    Registry {
        /// Distribution error code (`MANIFEST_UNKNOWN`, ...).
        code: &'static str,
        /// The message.
        message: String,
        /// The detail object (`null` when none).
        detail: Box<Value>,
    },
    /// Copy and move: `{"messages":[{"level":"ERROR","message":"..."}]}` as a `CopyOrMoveResult`.
    Messages(String),
}

/// The authentication challenge a 401 (and some 403s) carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm="Artifactory Realm"`.
    Basic,
    /// The registry's Bearer challenge: the token realm of `repo` with a scope
    /// (`repository:<image>:<actions>`), or the root realm without one.
    Bearer(Option<Box<BearerScope>>),
}

/// What a registry Bearer challenge asks a token for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BearerScope {
    /// Repository key (its token realm).
    pub repo: String,
    /// Image name.
    pub image: String,
    /// `pull`, `pull,push` or `delete`.
    pub actions: &'static str,
}

/// An error reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Body family and text.
    pub body: ErrorBody,
    /// The challenge, when the reply asks for credentials.
    pub challenge: Option<Challenge>,
    /// Extra headers (lower-case names: `allow`, `content-range`, `location`, ...).
    pub headers: Vec<(&'static str, String)>,
}

/// Artifactory's message for an unexpected failure.
pub(crate) const INTERNAL: &str =
    "An unexpected error has occurred, please check Artifactory logs for further details.";

impl ApiError {
    fn with_body(status: u16, body: ErrorBody) -> ApiError {
        ApiError {
            status,
            body,
            challenge: None,
            headers: Vec::new(),
        }
    }

    /// REST default shape.
    pub(crate) fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError::with_body(status, ErrorBody::Rest(message.into()))
    }

    /// Plain-text body.
    pub(crate) fn text(status: u16, message: impl Into<String>) -> ApiError {
        ApiError::with_body(status, ErrorBody::Text(message.into()))
    }

    /// No body.
    pub(crate) fn empty(status: u16) -> ApiError {
        ApiError::with_body(status, ErrorBody::Empty)
    }

    /// UI feedback `{"error":...}`.
    pub(crate) fn feedback(status: u16, message: impl Into<String>) -> ApiError {
        ApiError::with_body(status, ErrorBody::Feedback(message.into()))
    }

    /// OAuth `{"error","error_description"}` with the status the code has.
    pub(crate) fn oauth(code: &'static str, description: impl Into<String>) -> ApiError {
        let status = match code {
            "invalid_client" | "invalid_grant" => 401,
            "invalid_repo_path" => 404,
            "forbidden" => 403,
            _ => 400,
        };
        ApiError::with_body(
            status,
            ErrorBody::OAuth {
                code,
                description: description.into(),
            },
        )
    }

    /// The Access service's `{"errors":[{"code","message"}]}`.
    pub(crate) fn access(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::with_body(
            status,
            ErrorBody::Access {
                code,
                message: message.into(),
                detail: None,
            },
        )
    }

    /// The Access service's 404.
    pub(crate) fn access_not_found() -> ApiError {
        ApiError::with_body(
            404,
            ErrorBody::Access {
                code: "NOT_FOUND",
                message: "HTTP 404 Not Found".into(),
                detail: Some("Not Found"),
            },
        )
    }

    /// A registry error.
    pub(crate) fn registry(
        status: u16,
        code: &'static str,
        message: impl Into<String>,
        detail: Value,
    ) -> ApiError {
        ApiError::with_body(
            status,
            ErrorBody::Registry {
                code,
                message: message.into(),
                detail: Box::new(detail),
            },
        )
    }

    /// A failed copy or move, as its result messages.
    pub(crate) fn messages(status: u16, message: impl Into<String>) -> ApiError {
        ApiError::with_body(status, ErrorBody::Messages(message.into()))
    }

    /// 400 in the REST shape.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    /// 404 in the REST shape.
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, message)
    }

    /// 403 in the REST shape.
    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, message)
    }

    /// 409 in the REST shape.
    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, message)
    }

    /// 401 with the Basic challenge.
    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(401, message).challenge(Challenge::Basic)
    }

    /// 500 with Artifactory's generic message, logging the cause.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {cause}");
        ApiError::new(500, INTERNAL)
    }

    /// Adds a header (lower-case name).
    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    /// Asks for credentials.
    pub(crate) fn challenge(mut self, c: Challenge) -> ApiError {
        self.challenge = Some(c);
        self
    }

    /// A refused transaction: the check's own error, or what the commit says (`tree` maps the tree's
    /// refusals, a journal failure is a 500).
    pub(crate) fn refused(
        r: crate::store::Refusal<ApiError>,
        tree: impl FnOnce(crate::store::TreeError) -> ApiError,
    ) -> ApiError {
        use crate::store::{CommitError, Refusal};
        match r {
            Refusal::Check(e) => e,
            Refusal::Commit(CommitError::Tree(t)) => tree(t),
            Refusal::Commit(CommitError::Io(e)) => ApiError::internal(e),
        }
    }

    /// The message, whatever the family (a promotion reports a failed copy's message as a line of
    /// its own answer).
    pub(crate) fn message(&self) -> &str {
        match &self.body {
            ErrorBody::Rest(m)
            | ErrorBody::Text(m)
            | ErrorBody::Feedback(m)
            | ErrorBody::Messages(m)
            | ErrorBody::OAuth { description: m, .. }
            | ErrorBody::Access { message: m, .. }
            | ErrorBody::Registry { message: m, .. } => m,
            ErrorBody::Empty => "",
        }
    }
}
