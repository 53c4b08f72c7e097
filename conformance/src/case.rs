//! What a case is, and the context it runs in: an HTTP client that records every exchange as a
//! transcript, the run-unique prefix every write goes under, and the ledger of created resources that
//! drives teardown.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::target::Credentials;

/// The outcome of a case, ordered: Disabled < Skip < Pass < Fail < Error.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, Hash,
)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Not run: a flag of the run does not allow it (writes, global changes, read-only).
    Disabled,
    /// The target answered that the feature is not supported here.
    Skip,
    /// As expected.
    Pass,
    /// The target answered wrongly.
    Fail,
    /// The runner or the network failed.
    Error,
}

impl Outcome {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Disabled => "disabled",
            Outcome::Skip => "skip",
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
        }
    }
}

/// Why a case did not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Wrong answer.
    Fail(String),
    /// Network or runner trouble.
    Error(String),
    /// Not supported by the target.
    Skip(String),
}

/// A case's future.
pub type CaseFuture = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send>>;

/// One case of the catalogue, declared with its builder:
///
/// ```
/// use jcr_conformance::case::{Case, CaseFuture, Ctx};
///
/// fn file_info(c: Ctx) -> CaseFuture {
///     Box::pin(async move {
///         let r = c.send(c.req("GET", &format!("api/storage/{}", c.path("f.txt")))).await?;
///         r.expect_status(200)?;
///         Ok(())
///     })
/// }
///
/// let case = Case::new("storage/file-info/fields", file_info)
///     .covers(["storage.file-info"])
///     .writes()
///     .spec("jcr-rest-api.txt File Info; behaviour §1.2");
/// assert_eq!(case.area, "storage");
/// ```
#[derive(Clone)]
pub struct Case {
    /// Stable hierarchical id (`storage/file-info/missing-item`).
    pub id: &'static str,
    /// API area: the id's first segment.
    pub area: &'static str,
    /// Endpoint ids (from `fixtures/endpoints.toml`) it covers.
    pub endpoints: Vec<&'static str>,
    /// It writes (deploys, creates, deletes).
    pub writes: bool,
    /// It changes server-wide state.
    pub global: bool,
    /// It needs administrator credentials.
    pub admin: bool,
    /// It needs anonymous access to be enabled on the target.
    pub anonymous: bool,
    /// Where its expectation comes from (document section or behaviour-fact section).
    pub spec: &'static str,
    /// The check itself.
    pub run: fn(Ctx) -> CaseFuture,
}

impl Case {
    /// A read-only case that needs no special rights; its area is the first segment of `id`.
    pub fn new(id: &'static str, run: fn(Ctx) -> CaseFuture) -> Case {
        Case {
            id,
            area: id.split('/').next().unwrap_or(id),
            endpoints: Vec::new(),
            writes: false,
            global: false,
            admin: false,
            anonymous: false,
            spec: "",
            run,
        }
    }

    /// The catalogue endpoints it covers.
    pub fn covers(mut self, endpoints: impl IntoIterator<Item = &'static str>) -> Case {
        self.endpoints.extend(endpoints);
        self
    }

    /// It writes (runs only with `--allow-writes`, under the run prefix).
    pub fn writes(mut self) -> Case {
        self.writes = true;
        self
    }

    /// It changes server-wide state (runs only with `--allow-global`); a global case writes.
    pub fn global(mut self) -> Case {
        self.global = true;
        self.writes = true;
        self
    }

    /// It needs administrator credentials.
    pub fn admin(mut self) -> Case {
        self.admin = true;
        self
    }

    /// It needs anonymous access on the target.
    pub fn anonymous(mut self) -> Case {
        self.anonymous = true;
        self
    }

    /// Where its expectation comes from.
    pub fn spec(mut self, spec: &'static str) -> Case {
        self.spec = spec;
        self
    }
}

/// A recorded request/response pair.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Exchange {
    /// `METHOD url`.
    pub request: String,
    /// Request headers (credentials masked when written).
    pub request_headers: Vec<(String, String)>,
    /// Request body (text, truncated).
    pub request_body: String,
    /// Status code (0 when no response).
    pub status: u16,
    /// Response headers.
    pub response_headers: Vec<(String, String)>,
    /// Response body (text, truncated).
    pub response_body: String,
}

/// A resource a case created, for teardown.
#[derive(Clone, Debug)]
pub enum Created {
    /// An artifact or folder path (`repo/path`).
    Item(String),
    /// A repository key.
    Repository(String),
    /// A security entity, as its path under the base URL (`api/security/users/<name>`, ...).
    Security(String),
    /// An access token id (revoked at teardown).
    Token(String),
    /// Anything else, by its absolute URL (deleted at teardown): a manifest on a registry.
    Url(String),
}

/// The context a case runs with. Cheap to clone.
#[derive(Clone)]
pub struct Ctx {
    /// HTTP client (no redirects followed).
    pub client: reqwest::Client,
    /// Base URL with the context path.
    pub base: String,
    /// Credentials of the run.
    pub credentials: Credentials,
    /// Run-unique prefix for everything written.
    pub prefix: String,
    /// Repository cases write into.
    pub repo: String,
    /// The local Docker repository the registry cases write into.
    pub docker_repo: String,
    /// The registry URL image names follow in the OCI distribution cases (see
    /// [`crate::target::Target::registry`]), and whether it is the target's own Docker repository.
    pub registry: String,
    /// Whether [`Ctx::registry`] was given for the run (any registry) rather than derived.
    pub registry_given: bool,
    /// Recorded exchanges of this case.
    pub transcript: Arc<Mutex<Vec<Exchange>>>,
    /// What the run created.
    pub ledger: Arc<Mutex<Vec<Created>>>,
    /// Snapshot mode of the run.
    pub snapshots: Arc<Snapshots>,
    /// The id of the case running.
    pub case_id: String,
    /// The snapshots this case took.
    pub snaps: Arc<Mutex<Vec<SnapshotResult>>>,
    /// Seed of the property cases.
    pub seed: u64,
    /// How many generated cases each property runs.
    pub prop_cases: u32,
}

/// How a run treats snapshots.
#[derive(Clone, Debug, Default)]
pub enum SnapshotMode {
    /// Snapshots are not checked.
    #[default]
    Off,
    /// Compare answers with the snapshots in this directory.
    Compare(std::path::PathBuf),
    /// Compare, and write each mismatching or missing snapshot beside the accepted one as
    /// `<name>.snap.new` for `snapshot review` (what the command line does).
    Review(std::path::PathBuf),
    /// Record answers into this directory (over the accepted snapshots).
    Update(std::path::PathBuf),
}

/// Snapshot settings shared by the cases of a run.
#[derive(Debug, Default)]
pub struct Snapshots {
    /// Mode and directory.
    pub mode: SnapshotMode,
    /// The run id (normalised to `<run>`).
    pub run_id: String,
    /// Provenance written into recorded snapshots.
    pub provenance: Value,
    /// The captures of the snapshot directory, by the snapshot name they anchor.
    pub captures: std::collections::BTreeMap<String, crate::snapshot::Capture>,
    /// Which case took each snapshot name in this run.
    pub taken: Mutex<std::collections::HashMap<String, String>>,
}

/// What became of one snapshot in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapStatus {
    /// Same as the accepted snapshot.
    Match,
    /// Differs from the accepted snapshot.
    Mismatch,
    /// No accepted snapshot.
    Missing,
    /// Recorded for the first time (`--update`).
    Added,
    /// Recorded over a different accepted one (`--update`).
    Updated,
    /// Recorded, and the same as before (`--update`).
    Unchanged,
}

/// One snapshot a case took.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct SnapshotResult {
    /// `<endpoint>/<status>[-label]`.
    pub name: String,
    /// Catalogue endpoint.
    pub endpoint: String,
    /// Against the accepted snapshot.
    pub status: SnapStatus,
    /// JSON-path differences from the accepted snapshot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// The source of the capture anchored on this name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<String>,
    /// Differences in shape from that capture.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capture_lines: Vec<String>,
    /// The normalised answer (what `diff` compares between runs).
    pub document: Value,
}

impl SnapshotResult {
    /// Whether it fails its case: it differs from its accepted snapshot or its capture, or has none.
    pub fn fails(&self) -> bool {
        matches!(self.status, SnapStatus::Mismatch | SnapStatus::Missing)
            || !self.capture_lines.is_empty()
    }

    /// The lines a report shows for it.
    pub fn explain(&self) -> String {
        let mut out = Vec::new();
        match self.status {
            SnapStatus::Missing => out.push(format!(
                "snapshot '{}': none accepted; record it with `jcr-conformance snapshot --update` or review the pending one",
                self.name
            )),
            SnapStatus::Mismatch => {
                out.push(format!("snapshot '{}' differs:", self.name));
                out.extend(self.lines.iter().map(|l| format!("  {l}")));
            }
            _ => {}
        }
        if !self.capture_lines.is_empty() {
            out.push(format!(
                "snapshot '{}' differs from the capture ({}):",
                self.name,
                self.capture.as_deref().unwrap_or("?")
            ));
            out.extend(self.capture_lines.iter().map(|l| format!("  {l}")));
        }
        out.join("\n")
    }
}

/// A request being built.
#[derive(Clone)]
pub struct Request {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    auth: bool,
}

/// A response, fully read.
#[derive(Clone, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, lower-case names, one entry per header: the lines of a header sent on several
    /// are joined with `", "` (what they mean), so no reader sees one line alone.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Ctx {
    /// `<repo>/<prefix>/<rel>`: where a case writes.
    pub fn path(&self, rel: &str) -> String {
        format!(
            "{}/{}/{}",
            self.repo,
            self.prefix,
            rel.trim_start_matches('/')
        )
    }

    /// A request to `path` (relative to the base URL) with the run's credentials.
    pub fn req(&self, method: &str, path: &str) -> Request {
        Request {
            method: reqwest::Method::from_bytes(method.as_bytes()).expect("valid method"),
            url: format!("{}/{}", self.base, path.trim_start_matches('/')),
            headers: Vec::new(),
            body: None,
            auth: true,
        }
    }

    /// A request to an absolute URL (the Access API lives at the server root) with the run's
    /// credentials.
    pub fn req_url(&self, method: &str, url: &str) -> Request {
        Request {
            method: reqwest::Method::from_bytes(method.as_bytes()).expect("valid method"),
            url: url.to_string(),
            headers: Vec::new(),
            body: None,
            auth: true,
        }
    }

    /// The server root: the base URL without its context path.
    pub fn root(&self) -> String {
        let after_scheme = self.base.find("://").map_or(0, |i| i + 3);
        match self.base[after_scheme..].find('/') {
            Some(i) => self.base[..after_scheme + i].to_string(),
            None => self.base.clone(),
        }
    }

    /// Records that the run created `c` (teardown removes it, newest first).
    pub fn created(&self, c: Created) {
        self.ledger.lock().expect("ledger").push(c);
    }

    /// Sends a request and records the exchange.
    pub async fn send(&self, r: Request) -> Result<Response, Failure> {
        let mut rb = self.client.request(r.method.clone(), &r.url);
        if r.auth {
            rb = self.credentials.apply(rb);
        }
        for (k, v) in &r.headers {
            rb = rb.header(k, v);
        }
        if let Some(b) = &r.body {
            rb = rb.body(b.clone());
        }
        let built = rb
            .build()
            .map_err(|e| Failure::Error(format!("building {} {}: {e}", r.method, r.url)))?;
        let request_headers: Vec<(String, String)> = built
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("<binary>").to_string()))
            .collect();
        let mut ex = Exchange {
            request: format!("{} {}", r.method, r.url),
            request_headers,
            request_body: preview(r.body.as_deref().unwrap_or(&[])),
            status: 0,
            response_headers: vec![],
            response_body: String::new(),
        };
        let result = self.client.execute(built).await;
        let resp = match result {
            Ok(resp) => resp,
            Err(e) => {
                ex.response_body = format!("<no response: {e}>");
                self.transcript.lock().expect("transcript").push(ex);
                return Err(Failure::Error(format!("{} {}: {e}", r.method, r.url)));
            }
        };
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or("<binary>").to_string(),
                )
            })
            .collect();
        let body = resp
            .bytes()
            .await
            .map_err(|e| Failure::Error(format!("reading the body of {}: {e}", r.url)))?
            .to_vec();
        ex.status = status;
        ex.response_headers = headers.clone();
        ex.response_body = preview(&body);
        self.transcript.lock().expect("transcript").push(ex);
        Ok(Response {
            status,
            headers: join_lines(headers),
            body,
        })
    }

    /// Snapshots an answer of `endpoint` (a catalogue id) as `<endpoint>/<status>`: compared with
    /// the accepted snapshot and with the capture anchored on that name, or recorded (see
    /// [`SnapshotMode`]). A mismatch does not stop the case; the runner fails it at the end, so one
    /// run reports every snapshot that changed.
    pub fn snap(&self, endpoint: &str, r: &Response) -> Result<(), Failure> {
        self.snap_named(&format!("{endpoint}/{}", r.status), endpoint, r, None)
    }

    /// [`Ctx::snap`] showing only `body`, the part of the answer the case controls (its own items of
    /// a list that other cases and other runs add to, the stable lines of a text); the status,
    /// headers and the body's layout are the answer's. `label` names a second scenario.
    pub fn snap_body(
        &self,
        endpoint: &str,
        label: Option<&str>,
        r: &Response,
        body: &Value,
    ) -> Result<(), Failure> {
        let name = match label {
            Some(l) => format!("{endpoint}/{}-{l}", r.status),
            None => format!("{endpoint}/{}", r.status),
        };
        self.snap_named(&name, endpoint, r, Some(body))
    }

    /// [`Ctx::snap`] for a second scenario of the same endpoint and status:
    /// `<endpoint>/<status>-<label>`.
    pub fn snap_as(&self, endpoint: &str, label: &str, r: &Response) -> Result<(), Failure> {
        self.snap_named(
            &format!("{endpoint}/{}-{label}", r.status),
            endpoint,
            r,
            None,
        )
    }

    fn snap_named(
        &self,
        name: &str,
        endpoint: &str,
        r: &Response,
        body: Option<&Value>,
    ) -> Result<(), Failure> {
        use crate::snapshot as snap;
        let (dir, pending) = match &self.snapshots.mode {
            SnapshotMode::Off => return Ok(()),
            SnapshotMode::Compare(d) => (d, false),
            SnapshotMode::Review(d) => (d, true),
            SnapshotMode::Update(d) => (d, false),
        };
        {
            let mut taken = self.snapshots.taken.lock().expect("taken");
            if let Some(other) = taken.get(name) {
                return Err(Failure::Error(format!(
                    "snapshot '{name}' is taken twice (cases {other} and {}); name one with snap_as",
                    self.case_id
                )));
            }
            taken.insert(name.to_string(), self.case_id.clone());
        }
        let mut n = snap::Normalizer::standard(&self.base, &self.snapshots.run_id);
        // The part a case shows is normalised on its own (after the headers, as a whole answer
        // is): placeholders are numbered by what the snapshot holds, not by the rows left out.
        let doc = match body {
            None => snap::document(&mut n, r.status, &r.headers, &r.body),
            Some(b) => {
                let mut doc = snap::document(&mut n, r.status, &r.headers, &[]);
                doc["format"] = serde_json::json!(snap::body_format(&r.body));
                doc["body"] = n.json(b);
                doc
            }
        };
        let stored = snap::Stored {
            provenance: self.snapshots.provenance.clone(),
            name: name.to_string(),
            endpoint: endpoint.to_string(),
            case: self.case_id.clone(),
            snapshot: doc.clone(),
        };
        let file = snap::path(dir, name);
        let old = snap::Stored::read(&file).ok();
        let lines = old
            .as_ref()
            .map(|o| snap::diff_lines(&o.snapshot, &doc))
            .unwrap_or_default();
        let status = match (&self.snapshots.mode, &old) {
            (SnapshotMode::Update(_), None) => SnapStatus::Added,
            (SnapshotMode::Update(_), Some(o)) if lines.is_empty() && o.endpoint == endpoint => {
                SnapStatus::Unchanged
            }
            (SnapshotMode::Update(_), Some(_)) => SnapStatus::Updated,
            (_, None) => SnapStatus::Missing,
            (_, Some(_)) if lines.is_empty() => SnapStatus::Match,
            _ => SnapStatus::Mismatch,
        };
        let pending_file = snap::pending_path(dir, name);
        match status {
            SnapStatus::Added | SnapStatus::Updated => {
                stored.write(&file).map_err(Failure::Error)?;
                let _ = std::fs::remove_file(&pending_file);
            }
            SnapStatus::Missing | SnapStatus::Mismatch if pending => {
                stored.write(&pending_file).map_err(Failure::Error)?
            }
            _ => {}
        }
        let capture = self.snapshots.captures.get(name);
        self.snaps.lock().expect("snaps").push(SnapshotResult {
            name: name.to_string(),
            endpoint: endpoint.to_string(),
            status,
            lines,
            capture: capture.map(|c| c.source().to_string()),
            capture_lines: capture
                .map(|c| snap::capture_lines(c, &doc))
                .unwrap_or_default(),
            document: doc,
        });
        Ok(())
    }

    /// Deploys `body` at `path` and expects 201; records it in the ledger.
    pub async fn deploy(&self, path: &str, body: &[u8]) -> Result<Value, Failure> {
        let r = self.send(self.req("PUT", path).body(body)).await?;
        r.expect_status(201)?;
        self.created(Created::Item(
            path.split(';').next().unwrap_or(path).to_string(),
        ));
        r.json()
    }
}

fn preview(b: &[u8]) -> String {
    const MAX: usize = 4096;
    let s = String::from_utf8_lossy(&b[..b.len().min(MAX)]).into_owned();
    if b.len() > MAX {
        format!("{s}... ({} bytes)", b.len())
    } else {
        s
    }
}

impl Request {
    /// Adds a header.
    pub fn header(mut self, k: &str, v: &str) -> Request {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, b: &[u8]) -> Request {
        self.body = Some(b.to_vec());
        self
    }

    /// A JSON body.
    pub fn json(self, v: &Value) -> Request {
        self.header("Content-Type", "application/json")
            .body(v.to_string().as_bytes())
    }

    /// Sends Basic credentials of another user instead of the run's.
    pub fn basic(self, user: &str, password: &str) -> Request {
        use base64::Engine;
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.anonymous()
            .header("Authorization", &format!("Basic {v}"))
    }

    /// Sends a Bearer token instead of the run's credentials.
    pub fn bearer(self, token: &str) -> Request {
        self.anonymous()
            .header("Authorization", &format!("Bearer {token}"))
    }

    /// A form-urlencoded body.
    pub fn form(self, fields: &[(&str, &str)]) -> Request {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        self.header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.join("&").as_bytes())
    }

    /// Sends no credentials.
    pub fn anonymous(mut self) -> Request {
        self.auth = false;
        self
    }
}

/// Fails with a message unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::Failure::Fail(format!($($fmt)+)));
        }
    };
}

/// One entry per header name, its lines joined with `", "` in the order received.
fn join_lines(lines: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in lines {
        match out.iter_mut().find(|(n, _)| *n == k) {
            Some((_, all)) => {
                all.push_str(", ");
                all.push_str(&v);
            }
            None => out.push((k, v)),
        }
    }
    out
}

/// Splits a header value into its comma-separated items, keeping commas inside `"..."` (with `\"`
/// escapes) and `<...>` (a `Link` target) in their item; items are trimmed, empty ones dropped.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut start, mut quoted, mut escaped, mut angle) = (0, false, false, false);
    for (i, ch) in value.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                items.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&value[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

impl Response {
    /// The items of a list-valued header (`Link`, `WWW-Authenticate` challenges' parameters,
    /// `OCI-Filters-Applied`, ...): every line, split on the commas outside quotes and `<...>`.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.header(name).map(split_list).unwrap_or_default()
    }

    /// A header's value: all the lines it came on, joined with `", "`.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Fails unless the status is `s`.
    pub fn expect_status(&self, s: u16) -> Result<&Response, Failure> {
        if self.status != s {
            return Err(Failure::Fail(format!(
                "expected status {s}, got {}",
                self.status
            )));
        }
        Ok(self)
    }

    /// Fails unless header `name` is exactly `value`.
    pub fn expect_header(&self, name: &str, value: &str) -> Result<&Response, Failure> {
        match self.header(name) {
            Some(v) if v == value => Ok(self),
            Some(v) => Err(Failure::Fail(format!(
                "header {name}: expected '{value}', got '{v}'"
            ))),
            None => Err(Failure::Fail(format!(
                "header {name} missing (expected '{value}')"
            ))),
        }
    }

    /// Fails unless the `Content-Type` (without parameters) is `ct`.
    pub fn expect_content_type(&self, ct: &str) -> Result<&Response, Failure> {
        let got = self
            .header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if got != ct {
            return Err(Failure::Fail(format!(
                "content-type: expected '{ct}', got '{got}'"
            )));
        }
        Ok(self)
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, Failure> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Failure::Fail(format!("body is not JSON ({e}): {}", preview(&self.body))))
    }

    /// Fails unless this is Artifactory's REST error: status, JSON content type and
    /// `{"errors":[{"status":N,"message":"..."}]}` with exactly this message.
    pub fn expect_rest_error(&self, status: u16, message: &str) -> Result<(), Failure> {
        self.expect_status(status)?;
        self.expect_content_type("application/json")?;
        let v = self.json()?;
        let expected = serde_json::json!({"errors": [{"status": status, "message": message}]});
        if v != expected {
            return Err(Failure::Fail(format!(
                "error body: expected {expected}, got {v}"
            )));
        }
        Ok(())
    }
}

/// Where `actual` differs from `expected` taken as a subset: every field `expected` names is in
/// `actual` with a value that matches it (objects recursively, arrays element by element and of the
/// same length, anything else equal). `None`: it matches.
pub fn json_subset_mismatch(actual: &Value, expected: &Value) -> Option<String> {
    fn walk(a: &Value, e: &Value, at: &str) -> Option<String> {
        match (a, e) {
            (Value::Object(a), Value::Object(e)) => e.iter().find_map(|(k, ev)| match a.get(k) {
                Some(av) => walk(av, ev, &format!("{at}.{k}")),
                None => Some(format!("{at}.{k}: missing (expected {ev})")),
            }),
            (Value::Array(a), Value::Array(e)) if a.len() == e.len() => a
                .iter()
                .zip(e)
                .enumerate()
                .find_map(|(i, (av, ev))| walk(av, ev, &format!("{at}[{i}]"))),
            _ if a == e => None,
            _ => Some(format!("{at}: expected {e}, got {a}")),
        }
    }
    walk(actual, expected, "$")
}

impl Response {
    /// The body as JSON, failing unless it holds `expected` as a subset (see
    /// [`json_subset_mismatch`]); returns the whole body for further checks.
    pub fn expect_json_subset(&self, expected: &Value) -> Result<Value, Failure> {
        let v = self.json()?;
        match json_subset_mismatch(&v, expected) {
            None => Ok(v),
            Some(why) => Err(Failure::Fail(format!("body: {why}"))),
        }
    }
}

/// Fails unless `r` has `status` and exactly this body text (plain-text answers).
pub fn expect_text(r: &Response, status: u16, body: &str) -> Result<(), Failure> {
    r.expect_status(status)?;
    if r.text() != body {
        return Err(Failure::Fail(format!(
            "expected the text {body:?}, got {:?}",
            r.text()
        )));
    }
    Ok(())
}

/// Fails unless `v[field]` equals `expected`.
pub fn expect_field(v: &Value, field: &str, expected: &Value) -> Result<(), Failure> {
    let got = v.get(field).unwrap_or(&Value::Null);
    if got != expected {
        return Err(Failure::Fail(format!(
            "field '{field}': expected {expected}, got {got}"
        )));
    }
    Ok(())
}

/// Fails unless `v[field]` is a string (Artifactory sends sizes and such as strings).
pub fn expect_string(v: &Value, field: &str) -> Result<String, Failure> {
    match v.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(Failure::Fail(format!(
            "field '{field}' must be a string, got {other}"
        ))),
        None => Err(Failure::Fail(format!("field '{field}' missing"))),
    }
}

/// The path inside the repository of `repo/path` (what Artifactory prints after `repo:`).
pub fn in_repo(path: &str) -> &str {
    path.split_once('/').map(|x| x.1).unwrap_or("")
}

/// Lower-case hex digests of `b`: (sha1, md5, sha256).
pub fn digests(b: &[u8]) -> (String, String, String) {
    use sha2::Digest;
    (
        hex::encode(sha1::Sha1::digest(b)),
        hex::encode(md5::Md5::digest(b)),
        hex::encode(sha2::Sha256::digest(b)),
    )
}

/// A JSON value's shape, for the snapshot of an answer whose values vary with what the server
/// holds (counts, sizes, lists other cases add to): keys and their order are kept, strings become
/// `"<string>"`, numbers `"<number>"`, booleans `"<bool>"`, and a list keeps the shape of its first
/// element only.
pub fn shape_only(v: &Value) -> Value {
    match v {
        Value::String(_) => Value::String("<string>".into()),
        Value::Number(_) => Value::String("<number>".into()),
        Value::Bool(_) => Value::String("<bool>".into()),
        Value::Array(a) => Value::Array(a.first().map(shape_only).into_iter().collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), shape_only(x))).collect())
        }
        Value::Null => Value::Null,
    }
}

/// `v` with `from` replaced by `to` in every string (keys too): for names a case derives from the
/// run's seed, which snapshots must not depend on.
pub fn replaced(v: &Value, from: &str, to: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(from, to)),
        Value::Array(a) => Value::Array(a.iter().map(|x| replaced(x, from, to)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.replace(from, to), replaced(x, from, to)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::{join_lines, json_subset_mismatch, split_list, Response};
    use serde_json::json;

    #[test]
    fn a_header_on_several_lines_is_read_as_all_of_them() {
        let lines = vec![
            (
                "link".to_string(),
                r#"</v2/a/tags/list?n=1&last=a>; rel="next""#.to_string(),
            ),
            ("content-type".to_string(), "application/json".to_string()),
            (
                "link".to_string(),
                "<https://x/y,z>; rel=\"other\"".to_string(),
            ),
        ];
        let r = Response {
            status: 200,
            headers: join_lines(lines),
            body: vec![],
        };
        assert_eq!(r.headers.len(), 2);
        assert_eq!(
            r.values("link"),
            [
                r#"</v2/a/tags/list?n=1&last=a>; rel="next""#,
                r#"<https://x/y,z>; rel="other""#
            ]
        );
        assert_eq!(r.values("content-type"), ["application/json"]);
        assert!(r.values("accept").is_empty());
        assert_eq!(
            split_list(r#"realm="https://h/t",service="h",scope="repository:a,b:pull""#),
            [
                r#"realm="https://h/t""#,
                r#"service="h""#,
                r#"scope="repository:a,b:pull""#
            ]
        );
        assert_eq!(split_list(r#" "a\",b" ,, c "#), [r#""a\",b""#, "c"]);
    }

    #[test]
    fn json_subsets() {
        let v = json!({"a": 1, "b": {"c": [1, {"d": "x", "e": 2}]}, "f": null});
        assert_eq!(json_subset_mismatch(&v, &json!({})), None);
        assert_eq!(
            json_subset_mismatch(&v, &json!({"b": {"c": [1, {"d": "x"}]}})),
            None
        );
        assert_eq!(
            json_subset_mismatch(&v, &json!({"b": {"c": [1, {"d": "y"}]}})).unwrap(),
            "$.b.c[1].d: expected \"y\", got \"x\""
        );
        assert_eq!(
            json_subset_mismatch(&v, &json!({"g": 1})).unwrap(),
            "$.g: missing (expected 1)"
        );
        // Arrays must have the same length; null must be present as null.
        assert!(json_subset_mismatch(&v, &json!({"b": {"c": [1]}})).is_some());
        assert_eq!(json_subset_mismatch(&v, &json!({"f": null})), None);
        assert!(json_subset_mismatch(&json!({}), &json!({"f": null})).is_some());
    }
}
