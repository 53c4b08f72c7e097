//! Where the cases go: an embedded reference server on a free port (every case may write), or a live
//! registry URL with credentials, where writes and server-wide changes need explicit permission.

use base64::Engine as _;

/// Credentials for the target.
#[derive(Clone, Debug, Default)]
pub enum Credentials {
    /// No credentials.
    #[default]
    None,
    /// Basic user:password (a password may also be an API key or an access token).
    Basic { user: String, password: String },
    /// `Authorization: Bearer <token>`.
    Token(String),
    /// `X-JFrog-Art-Api: <key>`.
    ApiKey(String),
}

impl Credentials {
    /// The secret values to mask in reports.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Credentials::None => vec![],
            Credentials::Basic { user, password } => {
                let b64 =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                vec![password.clone(), b64]
            }
            Credentials::Token(t) | Credentials::ApiKey(t) => vec![t.clone()],
        }
    }

    /// What kind of credentials, for reports (never the values).
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::None => "none",
            Credentials::Basic { .. } => "basic",
            Credentials::Token(_) => "token",
            Credentials::ApiKey(_) => "api-key",
        }
    }

    /// Adds these credentials to a request.
    pub fn apply(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Credentials::None => rb,
            Credentials::Basic { user, password } => rb.basic_auth(user, Some(password)),
            Credentials::Token(t) => rb.bearer_auth(t),
            Credentials::ApiKey(k) => rb.header("X-JFrog-Art-Api", k),
        }
    }

    /// The user name, when known.
    pub fn user(&self) -> Option<&str> {
        match self {
            Credentials::Basic { user, .. } => Some(user),
            _ => None,
        }
    }
}

/// A target and what the run may do to it.
#[derive(Debug)]
pub struct Target {
    /// Base URL including the context path, without a trailing slash.
    pub base_url: String,
    /// Credentials of an administrator (or of the user the run acts as).
    pub credentials: Credentials,
    /// Whether cases may write (always true for the embedded server).
    pub allow_writes: bool,
    /// Whether cases may change server-wide state (gc, configuration, lock policy, import/export).
    pub allow_global: bool,
    /// Only cases that write nothing.
    pub read_only: bool,
    /// The repository cases write into.
    pub repo: String,
    /// The local Docker repository the registry cases write into.
    pub docker_repo: String,
    /// The registry the OCI distribution cases (`docker/oci/`) use, as the URL that image names
    /// follow (`<url>/<name>/manifests/...`); `None`: the Docker repository's API path,
    /// `<base>/api/docker/<docker_repo>/v2`. Any registry fits: `http://host:5000/v2` for a plain
    /// one, `<root>/v2/<repo>` for JCR's repository-path method.
    pub registry: Option<String>,
    /// Whether the target allows anonymous access (cases that need it are disabled otherwise).
    pub anonymous_access: bool,
    /// Whether this is the embedded reference server.
    pub embedded: bool,
    server: Option<jcr_reference::Server>,
}

impl Target {
    /// A live registry.
    pub fn live(base_url: &str, credentials: Credentials) -> Target {
        Target {
            base_url: base_url.trim_end_matches('/').to_string(),
            credentials,
            allow_writes: false,
            allow_global: false,
            read_only: false,
            repo: "generic-local".into(),
            docker_repo: "docker-local".into(),
            registry: None,
            anonymous_access: false,
            embedded: false,
            server: None,
        }
    }

    /// An embedded reference server on a free port, ephemeral; every case may write.
    pub async fn embedded(config: jcr_reference::Config) -> std::io::Result<Target> {
        let anonymous_access = config.anonymous_access;
        let server = jcr_reference::Server::start(config).await?;
        Ok(Target {
            base_url: server.url().to_string(),
            credentials: Credentials::Basic {
                user: "admin".into(),
                password: "password".into(),
            },
            allow_writes: true,
            allow_global: true,
            read_only: false,
            repo: "generic-local".into(),
            docker_repo: "docker-local".into(),
            registry: None,
            anonymous_access,
            embedded: true,
            server: Some(server),
        })
    }

    /// Stops an embedded server.
    pub async fn shutdown(self) {
        if let Some(s) = self.server {
            s.stop().await;
        }
    }
}
