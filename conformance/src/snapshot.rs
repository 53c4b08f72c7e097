//! Normalised response snapshots under `snapshots/`.
//!
//! A snapshot is what a client sees of one answer: the status, the headers clients read, the layout of
//! the body (Jackson's pretty printing, compact, ...) and the body itself with its key order. A
//! declarative, ordered list of transformers turns run-specific values (base URL and host, the run
//! prefix, timestamps, checksums, digests, UUIDs, tokens, epoch milliseconds, HTTP dates) into
//! numbered placeholders, so identity is still checked where a value repeats (`<sha1:1>` twice means
//! the same checksum twice), and the *shape* of a timestamp stays visible (a timestamp without
//! milliseconds, or with `+00:00` for `Z`, keeps its pattern in the placeholder).
//!
//! Two kinds of provenance: `recorded` snapshots (`<name>.snap`, from a server: the embedded reference
//! server or a live target) and `capture` snapshots (`capture/<name>.json`, written by hand from a
//! public capture of a real Artifactory answer, with the source cited). A capture names the recorded
//! snapshot it anchors and is compared with every answer of that name by shape ([`capture_lines`]).
//! Pending snapshots (`<name>.snap.new`) are written beside the accepted ones, never over them;
//! [`review`] walks them.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One transformer of the normalisation, applied in order to every string of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transformer {
    /// Replace this literal (base URL, host, run prefix) everywhere by a fixed placeholder.
    Literal { value: String, placeholder: String },
    /// `sha256:<64 hex>` anywhere in a string (digests in `Location`, manifests) becomes
    /// `sha256:<sha256:N>`.
    Digests,
    /// UUIDs anywhere in a string (upload ids, token ids) become `<uuid:N>`.
    Uuids,
    /// JFrog service ids anywhere in a string (`jfrt@01h...`, `jfac@...`: the instance's own) keep
    /// their service and become `jfrt@<service:N>`.
    ServiceIds,
    /// Whole strings that are ISO-8601 timestamps become `<timestamp:N>` when they have Artifactory's
    /// shape (milliseconds and `Z`), `<timestamp:N 9999-99-99T99:99:99+99:99>` (their shape) otherwise.
    Timestamps,
    /// Whole strings that are HTTP dates (`Last-Modified`) become `<http-date:N>`.
    HttpDates,
    /// Words of 32/40/64 hex digits anywhere in a string (a checksum, or one quoted in a message)
    /// become `<md5:N>` / `<sha1:N>` / `<sha256:N>`.
    Checksums,
    /// Long opaque tokens (JWTs, API keys, reference tokens) become `<token:N>`.
    Tokens,
    /// Integers between 10^12 and 10^13 (epoch milliseconds: 2001 to 2286) become `"<epoch-ms:N>"`,
    /// integers between 10^9 and 10^10 (epoch seconds, token times) `"<epoch-s:N>"`.
    EpochMillis,
}

/// The ordered transformers plus the numbering state of one snapshot.
#[derive(Clone, Debug, Default)]
pub struct Normalizer {
    transformers: Vec<Transformer>,
    numbers: BTreeMap<(String, String), usize>,
    counters: BTreeMap<String, usize>,
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid pattern"))
}

fn digest_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    regex(&R, r"sha256:[0-9a-f]{64}")
}

fn uuid_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    regex(
        &R,
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    )
}

fn service_id_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    regex(&R, r"\b(jf[a-z]{2})@([0-9a-z]{20,})\b")
}

fn hex_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    regex(&R, r"\b([0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})\b")
}

fn http_date_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    regex(
        &R,
        r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$",
    )
}

impl Normalizer {
    /// The standard transformers for a target and run: base URL, host, run prefix (as written and in
    /// lower case, as image names have it), then digests, UUIDs, timestamps, HTTP dates, checksums,
    /// tokens and epoch milliseconds.
    pub fn standard(base_url: &str, run_id: &str) -> Normalizer {
        let host = base_url
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("")
            .to_string();
        let mut t = vec![Transformer::Literal {
            value: base_url.to_string(),
            placeholder: "<base>".into(),
        }];
        if !host.is_empty() {
            t.push(Transformer::Literal {
                value: host,
                placeholder: "<host>".into(),
            });
        }
        for run in [run_id.to_string(), run_id.to_lowercase()] {
            t.push(Transformer::Literal {
                value: run,
                placeholder: "<run>".into(),
            });
        }
        t.extend([
            Transformer::Digests,
            Transformer::Uuids,
            Transformer::ServiceIds,
            Transformer::Timestamps,
            Transformer::HttpDates,
            Transformer::Checksums,
            Transformer::Tokens,
            Transformer::EpochMillis,
        ]);
        Normalizer {
            transformers: t,
            ..Normalizer::default()
        }
    }

    fn number(&mut self, kind: &str, value: &str) -> usize {
        let key = (kind.to_string(), value.to_string());
        if let Some(n) = self.numbers.get(&key) {
            return *n;
        }
        let c = self.counters.entry(kind.to_string()).or_insert(0);
        *c += 1;
        self.numbers.insert(key, *c);
        *c
    }

    fn placeholder(&mut self, kind: &str, value: &str) -> String {
        format!("<{kind}:{}>", self.number(kind, value))
    }

    fn replace_all(&mut self, s: &str, re: &Regex, kind: &str, prefix: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for m in re.find_iter(s) {
            out.push_str(&s[last..m.start()]);
            out.push_str(prefix);
            out.push_str(&self.placeholder(kind, m.as_str()));
            last = m.end();
        }
        out.push_str(&s[last..]);
        out
    }

    /// Normalises one string.
    pub fn string(&mut self, s: &str) -> String {
        let mut out = s.to_string();
        for t in self.transformers.clone() {
            match t {
                Transformer::Literal { value, placeholder } if !value.is_empty() => {
                    out = out.replace(&value, &placeholder)
                }
                Transformer::Literal { .. } => {}
                Transformer::Digests => {
                    out = self.replace_all(&out, digest_re(), "sha256", "sha256:")
                }
                Transformer::Uuids => out = self.replace_all(&out, uuid_re(), "uuid", ""),
                Transformer::ServiceIds => {
                    let mut acc = String::with_capacity(out.len());
                    let mut last = 0;
                    for c in service_id_re().captures_iter(&out) {
                        let (all, service, id) = (&c[0], &c[1], &c[2]);
                        let start = c.get(0).map_or(0, |m| m.start());
                        acc.push_str(&out[last..start]);
                        acc.push_str(&format!("{service}@{}", self.placeholder("service", id)));
                        last = start + all.len();
                    }
                    acc.push_str(&out[last..]);
                    out = acc;
                }
                Transformer::Timestamps if is_timestamp(&out) => {
                    let n = self.number("timestamp", &out);
                    let shape = shape(&out);
                    out = if shape == ARTIFACTORY_TIMESTAMP {
                        format!("<timestamp:{n}>")
                    } else {
                        format!("<timestamp:{n} {shape}>")
                    };
                }
                Transformer::HttpDates if http_date_re().is_match(&out) => {
                    out = self.placeholder("http-date", &out)
                }
                Transformer::Checksums => {
                    let mut acc = String::with_capacity(out.len());
                    let mut last = 0;
                    for m in hex_re().find_iter(&out) {
                        let kind = match m.len() {
                            32 => "md5",
                            40 => "sha1",
                            _ => "sha256",
                        };
                        acc.push_str(&out[last..m.start()]);
                        acc.push_str(&self.placeholder(kind, m.as_str()));
                        last = m.end();
                    }
                    acc.push_str(&out[last..]);
                    out = acc;
                }
                Transformer::Tokens if is_token(&out) => {
                    out = self.placeholder("token", &out.clone())
                }
                _ => {}
            }
        }
        out
    }

    /// A key: only the literals (a user or repository named after the run) are replaced.
    fn key(&self, k: &str) -> String {
        let mut out = k.to_string();
        for t in &self.transformers {
            if let Transformer::Literal { value, placeholder } = t {
                if !value.is_empty() {
                    out = out.replace(value, placeholder);
                }
            }
        }
        out
    }

    /// Normalises every string (and epoch-millisecond number) of a JSON value; keys keep their
    /// order (and only the literals are replaced in them).
    pub fn json(&mut self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.string(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (self.key(k), self.json(x)))
                    .collect::<Map<_, _>>(),
            ),
            Value::Number(n) if self.transformers.contains(&Transformer::EpochMillis) => {
                match n.as_u64() {
                    Some(x) if (1_000_000_000_000..10_000_000_000_000).contains(&x) => {
                        Value::String(self.placeholder("epoch-ms", &n.to_string()))
                    }
                    Some(x) if (1_000_000_000..10_000_000_000).contains(&x) => {
                        Value::String(self.placeholder("epoch-s", &n.to_string()))
                    }
                    _ => v.clone(),
                }
            }
            other => other.clone(),
        }
    }
}

/// The shape of Artifactory's timestamps (`yyyy-MM-dd'T'HH:mm:ss.SSSZ`, UTC written `Z`).
pub const ARTIFACTORY_TIMESTAMP: &str = "9999-99-99T99:99:99.999Z";

/// A string's shape: every digit a `9`.
fn shape(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect()
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && s[19..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'Z' | '+' | '-' | ':'))
}

fn is_token(s: &str) -> bool {
    (s.starts_with("eyJ") && s.matches('.').count() == 2 && s.len() > 40)
        || (s.starts_with("AKCp") && s.len() >= 60)
        || (s.starts_with("cmVmdGtu") && s.len() >= 40)
        || (s.starts_with("AP") && s.len() >= 30 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
        || (s.len() >= 40
            && s.matches('.').count() >= 2
            && s.bytes().any(|b| b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
}

/// The response headers a snapshot keeps: the ones clients read. Others (`Date`, `Content-Length`,
/// `Server`, `X-JFrog-Version`, ...) vary with the instance or the body and are left out.
pub const HEADERS: &[&str] = &[
    "content-type",
    "location",
    "www-authenticate",
    "x-checksum-sha1",
    "x-checksum-sha256",
    "x-checksum-md5",
    "x-artifactory-filename",
    "content-disposition",
    "last-modified",
    "accept-ranges",
    "content-range",
    "range",
    "link",
    "docker-content-digest",
    "docker-distribution-api-version",
    "docker-upload-uuid",
    "oci-subject",
    "oci-filters-applied",
];

/// How a body is laid out: `jackson` (pretty printed with `" : "`, Artifactory's default),
/// `pretty` (pretty printed another way), `compact` (one line), `text`, `binary` or `empty`.
pub fn body_format(body: &[u8]) -> &'static str {
    if body.is_empty() {
        return "empty";
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return "binary";
    };
    if serde_json::from_str::<Value>(text).is_err() {
        return "text";
    }
    let t = text.trim();
    if !t.contains('\n') {
        "compact"
    } else if t.contains("\" : ") {
        "jackson"
    } else {
        "pretty"
    }
}

/// The snapshot of one answer: status, the [`HEADERS`] it has (normalised), the body's layout and
/// the normalised body (JSON with its key order, or text).
pub fn document(
    n: &mut Normalizer,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Value {
    let mut h = Map::new();
    for name in HEADERS {
        if let Some((_, v)) = headers.iter().find(|(k, _)| k == name) {
            h.insert(name.to_string(), Value::String(n.string(v)));
        }
    }
    let format = body_format(body);
    let body = match format {
        "empty" => Value::String(String::new()),
        "binary" => Value::String(format!("<{} bytes>", body.len())),
        "text" => Value::String(n.string(&String::from_utf8_lossy(body))),
        _ => n.json(&serde_json::from_slice(body).unwrap_or(Value::Null)),
    };
    json!({"status": status, "headers": h, "format": format, "body": body})
}

/// Where the accepted snapshot `name` lives (`/` in names become `__`).
pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{}.snap", name.replace('/', "__")))
}

/// Where a pending snapshot `name` is written.
pub fn pending_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{}.snap.new", name.replace('/', "__")))
}

/// A stored snapshot: provenance, the endpoint and case it belongs to, and the document.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Stored {
    /// `{"kind": "recorded", "server", "target", "recorded"}`.
    pub provenance: Value,
    /// The snapshot's name (`storage.file-info/200`).
    pub name: String,
    /// The catalogue endpoint it shows.
    pub endpoint: String,
    /// The case that takes it.
    pub case: String,
    /// The [`document`].
    pub snapshot: Value,
}

impl Stored {
    /// Reads a `.snap` or `.snap.new` file.
    pub fn read(file: &Path) -> Result<Stored, String> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
    }

    /// Writes it (pretty printed, a newline at the end).
    pub fn write(&self, file: &Path) -> Result<(), String> {
        if let Some(d) = file.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())? + "\n";
        std::fs::write(file, text).map_err(|e| format!("{}: {e}", file.display()))
    }
}

/// Every accepted snapshot of a directory, by name.
pub fn accepted(dir: &Path) -> Result<BTreeMap<String, Stored>, String> {
    files(dir, ".snap")?
        .into_iter()
        .map(|f| Stored::read(&f).map(|s| (s.name.clone(), s)))
        .collect()
}

/// The pending snapshots (`*.snap.new`) of a directory, sorted by file name.
pub fn pending(dir: &Path) -> Result<Vec<PathBuf>, String> {
    files(dir, ".snap.new")
}

fn files(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(suffix))
        {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Differences between two JSON documents as JSON-path lines: `+ $.a: v` added, `- $.a: v` removed,
/// `~ $.a: expected → actual` replaced, `~ $.a (order): [x, y] → [y, x]` the same keys in another
/// order, `~ $.a (element order): ...` the same elements in another order.
pub fn diff_lines(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("$", expected, actual, &mut out);
    out
}

fn key_list<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    format!(
        "[{}]",
        keys.map(String::as_str).collect::<Vec<_>>().join(", ")
    )
}

fn walk(at: &str, e: &Value, a: &Value, out: &mut Vec<String>) {
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => objects(at, eo, ao, out, walk),
        (Value::Array(ea), Value::Array(aa)) => {
            if ea != aa && ea.len() == aa.len() {
                if let Some(perm) = permutation(ea, aa) {
                    out.push(format!(
                        "~ {at} (element order): {:?} → {perm:?}",
                        (0..ea.len()).collect::<Vec<_>>()
                    ));
                    return;
                }
            }
            for i in 0..ea.len().max(aa.len()) {
                match (ea.get(i), aa.get(i)) {
                    (Some(x), Some(y)) => walk(&format!("{at}[{i}]"), x, y, out),
                    (Some(x), None) => out.push(format!("- {at}[{i}]: {x}")),
                    (None, Some(y)) => out.push(format!("+ {at}[{i}]: {y}")),
                    (None, None) => {}
                }
            }
        }
        _ if e != a => out.push(format!("~ {at}: {e} → {a}")),
        _ => {}
    }
}

/// Two objects' differences: their common keys in another order, then each key's value (compared
/// by `each`), removed and added keys.
fn objects(
    at: &str,
    eo: &Map<String, Value>,
    ao: &Map<String, Value>,
    out: &mut Vec<String>,
    each: fn(&str, &Value, &Value, &mut Vec<String>),
) {
    let common_e: Vec<&String> = eo.keys().filter(|k| ao.contains_key(*k)).collect();
    let common_a: Vec<&String> = ao.keys().filter(|k| eo.contains_key(*k)).collect();
    if common_e != common_a {
        out.push(format!(
            "~ {at} (order): {} → {}",
            key_list(common_e.into_iter()),
            key_list(common_a.into_iter())
        ));
    }
    for (k, ev) in eo {
        match ao.get(k) {
            Some(av) => each(&format!("{at}.{k}"), ev, av, out),
            None => out.push(format!("- {at}.{k}: {ev}")),
        }
    }
    for (k, av) in ao {
        if !eo.contains_key(k) {
            out.push(format!("+ {at}.{k}: {av}"));
        }
    }
}

/// Where each actual element stands in the expected list, when `a` is `e` reordered.
fn permutation(e: &[Value], a: &[Value]) -> Option<Vec<usize>> {
    let mut used = vec![false; e.len()];
    let mut perm = Vec::with_capacity(a.len());
    for x in a {
        let i = (0..e.len()).find(|&i| !used[i] && e[i] == *x)?;
        used[i] = true;
        perm.push(i);
    }
    Some(perm)
}

/// A capture snapshot: a real server's answer as a public source shows it, in shape.
#[derive(Clone, Debug, Deserialize)]
pub struct Capture {
    /// `{"kind": "capture", "source", "url", "facts"}`.
    pub provenance: Value,
    /// The recorded snapshot it anchors.
    pub snapshot: String,
    /// Status, headers and body with placeholders (`<string>`, `<number>`, `<bool>`, `<timestamp>`,
    /// `<url>`, `<sha1>`, `<sha256>`, `<md5>`, `<any>`) where the value depends on the instance.
    pub expect: Value,
    /// Deliberate differences: lines starting with `line` are not reported; `fidelity` names the
    /// section of `reference/FIDELITY.md` that explains them.
    #[serde(default)]
    pub differences: Vec<Difference>,
}

/// A difference between a capture and the reference server, explained in FIDELITY.md.
#[derive(Clone, Debug, Deserialize)]
pub struct Difference {
    /// The start of the diff line it excuses (`+ $.body.x`).
    pub line: String,
    /// The FIDELITY.md section explaining it.
    pub fidelity: String,
}

impl Capture {
    /// The source it cites.
    pub fn source(&self) -> &str {
        self.provenance["source"].as_str().unwrap_or("?")
    }
}

/// Every capture of `<dir>/capture/`, by the snapshot name they anchor.
pub fn captures(dir: &Path) -> Result<BTreeMap<String, Capture>, String> {
    let mut out = BTreeMap::new();
    for f in files(&dir.join("capture"), ".json")? {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let c: Capture =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        if out.contains_key(&c.snapshot) {
            return Err(format!(
                "{}: a second capture of '{}'",
                f.display(),
                c.snapshot
            ));
        }
        out.insert(c.snapshot.clone(), c);
    }
    Ok(out)
}

/// How a snapshot [`document`] differs in shape from a capture: status, the capture's headers, and
/// the body (keys, their order, value types, literal values), minus the capture's known differences.
pub fn capture_lines(c: &Capture, doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let e = &c.expect;
    if let Some(s) = e.get("status") {
        if s != &doc["status"] {
            out.push(format!("~ $.status: {s} → {}", doc["status"]));
        }
    }
    if let Some(Value::Object(h)) = e.get("headers") {
        for (k, v) in h {
            match doc["headers"].get(k) {
                Some(a) => shape_walk(&format!("$.headers.{k}"), v, a, &mut out),
                None => out.push(format!("- $.headers.{k}: {v}")),
            }
        }
    }
    if let Some(body) = e.get("body") {
        shape_walk("$.body", body, &doc["body"], &mut out);
    }
    out.retain(|l| !c.differences.iter().any(|d| l.starts_with(&d.line)));
    out
}

fn shape_walk(at: &str, e: &Value, a: &Value, out: &mut Vec<String>) {
    match (e, a) {
        (Value::String(p), _) if is_placeholder(p) && !placeholder_matches(p, a) => {
            out.push(format!("~ {at}: {p} → {a}"))
        }
        (Value::String(p), _) if is_placeholder(p) => {}
        (Value::Object(eo), Value::Object(ao)) => objects(at, eo, ao, out, shape_walk),
        (Value::Array(ea), Value::Array(aa)) => match ea.len() {
            0 => {}
            1 => {
                for (i, y) in aa.iter().enumerate() {
                    shape_walk(&format!("{at}[{i}]"), &ea[0], y, out);
                }
            }
            _ => {
                for (i, (x, y)) in ea.iter().zip(aa).enumerate() {
                    shape_walk(&format!("{at}[{i}]"), x, y, out);
                }
            }
        },
        _ if e != a => out.push(format!("~ {at}: {e} → {a}")),
        _ => {}
    }
}

/// The placeholders a capture may use.
const PLACEHOLDERS: &[&str] = &[
    "any",
    "string",
    "number",
    "bool",
    "timestamp",
    "url",
    "sha1",
    "sha256",
    "md5",
    "uuid",
    "token",
];

fn is_placeholder(p: &str) -> bool {
    p.strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .is_some_and(|inner| PLACEHOLDERS.contains(&inner.split(' ').next().unwrap_or("")))
}

/// Whether a normalised value matches a capture placeholder. `<timestamp SHAPE>` is a timestamp of
/// another shape than Artifactory's usual one (`<timestamp 9999-99-99T99:99:99.999+9999>`, as
/// build-info documents carry them).
fn placeholder_matches(p: &str, a: &Value) -> bool {
    if let Some(shape) = p
        .strip_prefix("<timestamp ")
        .and_then(|r| r.strip_suffix('>'))
    {
        return a.as_str().is_some_and(|s| {
            s.strip_prefix("<timestamp:")
                .and_then(|r| r.strip_suffix('>'))
                .and_then(|r| r.split_once(' '))
                .is_some_and(|(n, sh)| n.bytes().all(|b| b.is_ascii_digit()) && sh == shape)
        });
    }
    let s = a.as_str().unwrap_or("");
    let numbered = |kind: &str| {
        s.strip_prefix(&format!("<{kind}:"))
            .and_then(|r| r.strip_suffix('>'))
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
    };
    match p {
        "<any>" => true,
        "<string>" => a.is_string(),
        "<number>" => a.is_number() || numbered("epoch-ms") || numbered("epoch-s"),
        "<bool>" => a.is_boolean(),
        "<timestamp>" => numbered("timestamp"),
        "<url>" => s.starts_with("<base>") || s.starts_with("http://") || s.starts_with("https://"),
        "<sha1>" => numbered("sha1"),
        "<sha256>" => numbered("sha256"),
        "<md5>" => numbered("md5"),
        "<uuid>" => numbered("uuid"),
        "<token>" => numbered("token"),
        _ => false,
    }
}

/// What the reviewer answered for one pending snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Replace the accepted snapshot with the pending one.
    Accept,
    /// Delete the pending snapshot.
    Reject,
    /// Leave both as they are.
    Skip,
}

/// Counts of a review.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reviewed {
    /// Accepted.
    pub accepted: usize,
    /// Rejected.
    pub rejected: usize,
    /// Skipped (still pending).
    pub skipped: usize,
}

/// Walks the pending snapshots of `dir` one by one, like `cargo insta review`: prints the
/// JSON-path diff against the accepted snapshot (or the whole new one) to `out`, reads `a`ccept,
/// `r`eject or `s`kip from `input` (or applies `all` to every one without asking).
pub fn review(
    dir: &Path,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    all: Option<Verdict>,
) -> Result<Reviewed, String> {
    let io = |e: std::io::Error| e.to_string();
    let mut counts = Reviewed::default();
    let list = pending(dir)?;
    for (i, file) in list.iter().enumerate() {
        let new = Stored::read(file)?;
        let old_file = path(dir, &new.name);
        writeln!(
            out,
            "[{}/{}] {} ({}, case {})",
            i + 1,
            list.len(),
            new.name,
            new.endpoint,
            new.case
        )
        .map_err(io)?;
        match Stored::read(&old_file) {
            Ok(old) => {
                for l in diff_lines(&old.snapshot, &new.snapshot) {
                    writeln!(out, "  {l}").map_err(io)?;
                }
            }
            Err(_) => {
                writeln!(out, "  new snapshot:").map_err(io)?;
                let text =
                    serde_json::to_string_pretty(&new.snapshot).map_err(|e| e.to_string())?;
                for l in text.lines() {
                    writeln!(out, "  + {l}").map_err(io)?;
                }
            }
        }
        let verdict = match all {
            Some(v) => v,
            None => loop {
                write!(out, "  accept, reject or skip? [a/r/s] ").map_err(io)?;
                out.flush().map_err(io)?;
                let mut line = String::new();
                if input.read_line(&mut line).map_err(io)? == 0 {
                    break Verdict::Skip;
                }
                match line.trim() {
                    "a" | "accept" => break Verdict::Accept,
                    "r" | "reject" => break Verdict::Reject,
                    "s" | "skip" | "" => break Verdict::Skip,
                    other => writeln!(out, "  '{other}': a, r or s").map_err(io)?,
                }
            },
        };
        match verdict {
            Verdict::Accept => {
                std::fs::rename(file, &old_file).map_err(|e| format!("{}: {e}", file.display()))?;
                writeln!(out, "  accepted: {}", old_file.display()).map_err(io)?;
                counts.accepted += 1;
            }
            Verdict::Reject => {
                std::fs::remove_file(file).map_err(|e| format!("{}: {e}", file.display()))?;
                writeln!(out, "  rejected").map_err(io)?;
                counts.rejected += 1;
            }
            Verdict::Skip => {
                writeln!(out, "  skipped (still pending)").map_err(io)?;
                counts.skipped += 1;
            }
        }
    }
    writeln!(
        out,
        "{} accepted, {} rejected, {} skipped",
        counts.accepted, counts.rejected, counts.skipped
    )
    .map_err(io)?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_and_repeat() {
        let mut n = Normalizer::standard("http://127.0.0.1:4000/artifactory", "jcrconf-1-ABC");
        let v = json!({
            "uri": "http://127.0.0.1:4000/artifactory/api/storage/generic-local/jcrconf-1-ABC/x",
            "image": "jcrconf-1-abc/app",
            "created": "2023-11-14T22:13:20.123Z",
            "lastModified": "2023-11-14T22:13:20.123Z",
            "lastUpdated": "2023-11-14T22:13:21.000+02:00",
            "noMillis": "2023-11-14T22:13:21Z",
            "sha1": "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d",
            "again": "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d",
            "location": "/v2/x/blobs/uploads/0f8fad5b-d9cb-469f-a165-70867728950e?digest=sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            "lastDownloaded": 1_700_000_000_123u64,
            "size": "11",
            "count": 3,
        });
        insta::assert_snapshot!(serde_json::to_string_pretty(&n.json(&v)).unwrap(), @r###"
        {
          "uri": "<base>/api/storage/generic-local/<run>/x",
          "image": "<run>/app",
          "created": "<timestamp:1>",
          "lastModified": "<timestamp:1>",
          "lastUpdated": "<timestamp:2 9999-99-99T99:99:99.999+99:99>",
          "noMillis": "<timestamp:3 9999-99-99T99:99:99Z>",
          "sha1": "<sha1:1>",
          "again": "<sha1:1>",
          "location": "/v2/x/blobs/uploads/<uuid:1>?digest=sha256:<sha256:1>",
          "lastDownloaded": "<epoch-ms:1>",
          "size": "11",
          "count": 3
        }
        "###);
    }

    #[test]
    fn diff_lines_name_json_paths_order_and_element_order() {
        let e = json!({"a": "1", "b": [1, 2], "c": {"d": true}});
        let a = json!({"a": 1, "b": [1], "c": {"d": true, "e": null}});
        assert_eq!(
            diff_lines(&e, &a),
            vec!["~ $.a: \"1\" → 1", "- $.b[1]: 2", "+ $.c.e: null"]
        );
        let e = json!({"repo": "r", "path": "/p", "list": ["x", "y", "z"]});
        let a = json!({"path": "/p", "repo": "r", "list": ["z", "x", "y"]});
        assert_eq!(
            diff_lines(&e, &a),
            vec![
                "~ $ (order): [repo, path, list] → [path, repo, list]",
                "~ $.list (element order): [0, 1, 2] → [2, 0, 1]"
            ]
        );
    }

    #[test]
    fn body_formats() {
        assert_eq!(body_format(b"{\n  \"a\" : 1\n}"), "jackson");
        assert_eq!(body_format(b"{\n  \"a\": 1\n}"), "pretty");
        assert_eq!(body_format(b"{\"a\":1}"), "compact");
        assert_eq!(body_format(b"OK"), "text");
        assert_eq!(body_format(b""), "empty");
        assert_eq!(body_format(&[0xff, 0xfe]), "binary");
    }

    #[test]
    fn captures_compare_by_shape_and_order() {
        let c: Capture = serde_json::from_value(json!({
            "provenance": {"kind": "capture", "source": "doc"},
            "snapshot": "x/200",
            "expect": {
                "status": 200,
                "headers": {"content-type": "application/json"},
                "body": {"repo": "<string>", "created": "<timestamp>", "size": "<string>",
                         "children": [{"uri": "<string>", "folder": "<bool>"}]}
            },
            "differences": [{"line": "+ $.body.extra", "fidelity": "x"}]
        }))
        .unwrap();
        let good = json!({"status": 200, "headers": {"content-type": "application/json"},
            "format": "jackson",
            "body": {"repo": "r", "created": "<timestamp:1>", "size": "3", "extra": 1,
                     "children": [{"uri": "/a", "folder": true}, {"uri": "/b", "folder": false}]}});
        assert_eq!(capture_lines(&c, &good), Vec::<String>::new());
        let bad = json!({"status": 200, "headers": {},
            "body": {"created": "<timestamp:1 9999-99-99T99:99:99Z>", "repo": "r", "size": 3,
                     "children": [{"uri": "/a", "folder": "no"}]}});
        assert_eq!(
            capture_lines(&c, &bad),
            vec![
                "- $.headers.content-type: \"application/json\"",
                "~ $.body (order): [repo, created, size, children] → [created, repo, size, children]",
                "~ $.body.created: <timestamp> → \"<timestamp:1 9999-99-99T99:99:99Z>\"",
                "~ $.body.size: <string> → 3",
                "~ $.body.children[0].folder: <bool> → \"no\"",
            ]
        );
    }

    #[test]
    fn review_accepts_rejects_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        let stored = |name: &str, size: &str| Stored {
            provenance: json!({"kind": "recorded"}),
            name: name.into(),
            endpoint: "storage.file-info".into(),
            case: "c".into(),
            snapshot: json!({"status": 200, "body": {"size": size}}),
        };
        stored("a/200", "1")
            .write(&path(dir.path(), "a/200"))
            .unwrap();
        stored("a/200", "2")
            .write(&pending_path(dir.path(), "a/200"))
            .unwrap();
        stored("b/200", "1")
            .write(&pending_path(dir.path(), "b/200"))
            .unwrap();
        stored("c/200", "1")
            .write(&pending_path(dir.path(), "c/200"))
            .unwrap();
        let mut out = Vec::new();
        let counts = review(dir.path(), &mut &b"x\na\nr\ns\n"[..], &mut out, None).unwrap();
        assert_eq!(
            counts,
            Reviewed {
                accepted: 1,
                rejected: 1,
                skipped: 1
            }
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("~ $.body.size: \"1\" → \"2\""), "{text}");
        assert!(text.contains("'x': a, r or s"), "{text}");
        let acc = accepted(dir.path()).unwrap();
        assert_eq!(acc["a/200"].snapshot["body"]["size"], "2");
        assert!(!acc.contains_key("b/200"));
        assert_eq!(
            pending(dir.path()).unwrap(),
            vec![pending_path(dir.path(), "c/200")]
        );
    }
}
