//! The upstream client: the only outbound HTTP the server makes (remote repositories; later
//! verifyconnection). Behind a trait so tests can count or fake what goes out; in production
//! reqwest with rustls, pooled connections, no proxy, a connect timeout, and the repository's
//! socket timeout between any two reads.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;

use crate::app::Body;

/// A request to an upstream server.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// `GET` or `HEAD`.
    pub head: bool,
    /// Absolute URL.
    pub url: String,
    /// Basic credentials (`None`: anonymous).
    pub basic: Option<(String, String)>,
    /// Extra headers (`If-Modified-Since`, `Accept`, a bearer `Authorization`).
    pub headers: Vec<(String, String)>,
    /// Longest wait for the answer and between two reads of its body.
    pub timeout: Duration,
}

/// An upstream's answer; the body streams.
pub(crate) struct Response {
    /// Status.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({})", self.status)
    }
}

/// The first of `headers` named `name` (lower case).
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Why an upstream gave no answer.
#[derive(Clone, Debug)]
pub(crate) struct Failure(pub String);

/// What the answer future is.
pub(crate) type Pending = Pin<Box<dyn Future<Output = Result<Response, Failure>> + Send>>;

/// Sends requests upstream.
pub(crate) trait Upstream: Send + Sync + std::fmt::Debug {
    /// Sends `req`; the answer's body streams.
    fn send(&self, req: Request) -> Pending;
}

/// reqwest, as production uses it.
#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
}

impl Default for Http {
    fn default() -> Http {
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(16)
            .redirect(reqwest::redirect::Policy::limited(10))
            .user_agent(concat!("jcr-reference/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Http { client }
    }
}

impl Upstream for Http {
    fn send(&self, req: Request) -> Pending {
        let method = if req.head {
            reqwest::Method::HEAD
        } else {
            reqwest::Method::GET
        };
        let mut b = self.client.request(method, &req.url);
        if let Some((u, p)) = &req.basic {
            b = b.basic_auth(u, Some(p));
        }
        for (n, v) in &req.headers {
            b = b.header(n, v);
        }
        let timeout = req.timeout;
        Box::pin(async move {
            let resp = tokio::time::timeout(timeout, b.send())
                .await
                .map_err(|_| Failure(format!("timed out after {} ms", timeout.as_millis())))?
                .map_err(|e| Failure(describe(&e)))?;
            let headers = resp
                .headers()
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            let status = resp.status().as_u16();
            let chunks = resp
                .bytes_stream()
                .map(|r| r.map_err(std::io::Error::other));
            Ok(Response {
                status,
                headers,
                body: idle(Box::pin(chunks), timeout),
            })
        })
    }
}

/// The error and its causes, as one line.
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// `body`, failing when no chunk comes for `timeout`.
fn idle(body: Body, timeout: Duration) -> Body {
    Box::pin(futures_util::stream::unfold(
        Some(body),
        move |state| async move {
            let mut body = state?;
            match tokio::time::timeout(timeout, body.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(body))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the upstream stopped sending",
                    )),
                    None,
                )),
            }
        },
    ))
}
