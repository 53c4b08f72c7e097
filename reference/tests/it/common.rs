//! Test helpers: a server on a free port with a frozen clock, and an HTTP client.

use jcr_reference::{Clock, Config, Server};
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::Value;

/// A response read whole: what a test looks at.
pub struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: bytes::Bytes,
}

impl Answer {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn bytes(&self) -> bytes::Bytes {
        self.body.clone()
    }

    /// The body as JSON (panics, with the body, when it is not).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// The one way the tests send a request: to a server they started, so a transport error is a bug.
pub trait Go {
    /// Sends the request and reads the whole answer.
    fn go(self) -> impl std::future::Future<Output = Answer> + Send;
}

impl Go for RequestBuilder {
    async fn go(self) -> Answer {
        let r = self.send().await.expect("the server answers");
        let (status, headers) = (r.status(), r.headers().clone());
        let body = r.bytes().await.expect("the whole body arrives");
        Answer {
            status,
            headers,
            body,
        }
    }
}

/// The frozen time every test server starts at: 2023-11-14T22:13:20.123Z.
pub const T0: i64 = 1_700_000_000_123;
pub const T0_ISO: &str = "2023-11-14T22:13:20.123Z";

pub struct Srv {
    pub server: Server,
    pub base: String,
    pub client: Client,
    pub clock: Clock,
}

/// Adds the non-admin user `bob` / `pw`.
pub fn with_bob(c: &mut Config) {
    c.users
        .push(jcr_reference::UserConfig::parse_flag("bob:pw").unwrap());
}

/// A configured user `name` with password `<name>-pw` and the given groups (`None`: the automatic ones).
pub fn user(name: &str, groups: Option<&[&str]>) -> jcr_reference::UserConfig {
    let mut u = jcr_reference::UserConfig::parse_flag(&format!("{name}:{name}-pw")).unwrap();
    u.groups = groups.map(|g| g.iter().map(|s| s.to_string()).collect());
    u
}

/// A configured permission target on one repository for some users (`(user, letters)`).
pub fn target(
    name: &str,
    repo: &str,
    includes: &str,
    users: &[(&str, &str)],
) -> jcr_reference::PermissionConfig {
    jcr_reference::PermissionConfig {
        name: name.into(),
        repositories: vec![repo.into()],
        includes_pattern: includes.into(),
        excludes_pattern: String::new(),
        users: users
            .iter()
            .map(|(u, a)| (u.to_string(), a.to_string()))
            .collect(),
        groups: Default::default(),
    }
}

pub async fn start() -> Srv {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Srv {
    let clock = Clock::manual(T0);
    let mut config = Config {
        clock: clock.clone(),
        ..Config::ephemeral()
    };
    tweak(&mut config);
    let server = Server::start(config).await.expect("server starts");
    let base = server.url().to_string();
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Srv {
        server,
        base,
        client,
        clock,
    }
}

impl Srv {
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// A request as admin.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth("admin", Some("password"))
    }

    /// A request with Basic credentials.
    pub fn basic(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &str,
        password: &str,
    ) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(user, Some(password))
    }

    /// A request with `Authorization: Bearer <token>`.
    pub fn bearer(&self, method: reqwest::Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// A request without credentials.
    pub fn anon(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Deploys `body` as admin and asserts 201.
    pub async fn deploy(&self, path: &str, body: impl Into<reqwest::Body>) -> Value {
        let r = self.admin(reqwest::Method::PUT, path).body(body).go().await;
        assert_eq!(r.status(), 201, "deploy {path}: {}", r.text());
        r.json()
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.admin(reqwest::Method::GET, path).go().await
    }
}

/// Status, a header and the body text of a response.
pub async fn parts(r: Answer) -> (u16, reqwest::header::HeaderMap, String) {
    (r.status.as_u16(), r.headers.clone(), r.text())
}

pub fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The REST error body Artifactory sends, pretty printed exactly as Jackson does.
pub fn rest_error(status: u16, message: &str) -> String {
    format!(
        "{{\n  \"errors\" : [ {{\n    \"status\" : {status},\n    \"message\" : {}\n  }} ]\n}}",
        serde_json::to_string(message).unwrap()
    )
}

/// Asserts status, JSON content type and the exact REST error body.
pub async fn assert_rest_error(r: Answer, status: u16, message: &str) {
    let (s, h, body) = parts(r).await;
    assert_eq!(s, status, "body: {body}");
    assert_eq!(header(&h, "content-type"), Some("application/json"));
    assert_eq!(body, rest_error(status, message));
}

pub fn sha1_hex(b: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(b))
}

pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

pub fn md5_hex(b: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(b))
}

/// Sends raw bytes over TCP (no URL normalisation) and returns the status and the whole response text.
pub async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut out),
    )
    .await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A raw GET of `path` (already encoded) as admin, closing the connection after the response.
pub async fn raw_get(s: &Srv, method: &str, path: &str) -> (u16, String) {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YWRtaW46cGFzc3dvcmQ=\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    raw(s.server.addr(), req.as_bytes()).await
}
