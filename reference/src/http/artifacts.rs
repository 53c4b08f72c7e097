//! The artifact catch-all `/{repo}/{path}`: deploy (PUT, also by checksum and folders), retrieve (GET and
//! HEAD with conditional and range requests, checksum side files, folder redirects and listings,
//! property-based resolution, `?trace`, `?properties`, archive entries) and delete.

use bytes::Bytes;
use futures_util::stream;
use warp::http::{header, Method, StatusCode};
use warp::reply::Response;

use super::endpoint::Artifacts;
use super::path::{encode_path, RepoPath};
use super::storage::properties_response;
use super::{empty, json, respond, set_header, BodyStream, Req, VERSION};
use crate::artifacts::views::{file_created, folder_created, mime_of};
use crate::artifacts::{self, SentChecksums};
use crate::auth::{Action, Caller};
use crate::clock::{http_date, iso, parse_http_date};
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::{Item, Stamp};

const ITEM_CREATED: &str = "application/vnd.org.jfrog.artifactory.storage.ItemCreated+json";
const BOUNDARY: &str = "BCD64322345343217845286A";
const READ_CHUNK: usize = 512 * 1024;

/// Answers an artifact endpoint.
pub(crate) async fn handle(r: &Req, e: Artifacts, body: BodyStream) -> Result<Response, ApiError> {
    match e {
        Artifacts::Retrieve { path } | Artifacts::Trace { path } | Artifacts::ArchiveEntry { path } => {
            retrieve(r, &path).await
        }
        Artifacts::Deploy { path }
        | Artifacts::DeployByChecksum { path }
        | Artifacts::CreateDirectory { path } => deploy(r, path, body).await,
        Artifacts::Delete { path } => delete(r, path).await,
        Artifacts::BintrayPush => Err(ApiError::new(
            410,
            "Bintray was discontinued on 2021-05-01; pushing Docker tags to Bintray is no longer possible",
        )),
    }
}

/// The path an archive-entry request names, as a plain path (for PUT and DELETE, where `!/` is literal).
fn literal_path(p: &RepoPath) -> String {
    match &p.archive_entry {
        Some(e) => format!("{}!/{e}", p.path),
        None => p.path.clone(),
    }
}

// ---------- deploy ----------

async fn deploy(r: &Req, p: RepoPath, body: BodyStream) -> Result<Response, ApiError> {
    let caller = r.caller()?.clone();
    let ms = |h: &str| {
        r.header(h)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v >= 0)
    };
    let d = artifacts::Deploy {
        path: literal_path(&p),
        repo: p.repo,
        folder: p.trailing_slash,
        matrix: p.matrix,
        sent: SentChecksums::new(
            r.header("x-checksum-sha1").as_deref(),
            r.header("x-checksum-md5").as_deref(),
            r.header("x-checksum-sha256").as_deref(),
            r.header("x-checksum").as_deref(),
        ),
        by_checksum: r
            .header("x-checksum-deploy")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        stamp: Stamp {
            created: ms("x-artifactory-created"),
            modified: ms("x-artifactory-last-modified"),
            modified_by: r
                .header("x-artifactory-modified-by")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
        },
    };
    let done = artifacts::deploy(&r.state, &caller, d, body).await?;
    let base = r.base_url();
    let (repo, rel, item) = (&done.repo, &done.path, &done.item);
    let (view, location) = if item.is_folder() {
        (
            folder_created(&base, repo, rel, item),
            format!("{base}/{repo}/{}/", encode_path(rel)),
        )
    } else {
        // The build client's answer has no SHA-256 (older build-info clients choke on it).
        let with_sha256 = !r
            .header("user-agent")
            .is_some_and(|ua| ua.contains("ArtifactoryBuildClient/"));
        (
            file_created(&base, repo, rel, item, with_sha256),
            format!("{base}/{repo}/{}", encode_path(rel)),
        )
    };
    let mut resp = json(StatusCode::CREATED, ITEM_CREATED, &view);
    set_header(&mut resp, header::LOCATION, &location);
    Ok(resp)
}

// ---------- delete ----------

async fn delete(r: &Req, p: RepoPath) -> Result<Response, ApiError> {
    let caller = r.caller()?.clone();
    artifacts::delete(&r.state, &caller, &p.repo, &literal_path(&p)).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

// ---------- retrieve ----------

async fn retrieve(r: &Req, p: &RepoPath) -> Result<Response, ApiError> {
    let caller = r.caller()?.clone();
    let forbidden = || {
        ApiError::forbidden(format!(
            "Download request for repo:path '{}' is forbidden for user '{}'.",
            p.repo_path_id(),
            caller.name
        ))
    };
    if r.query.has("trace") {
        // The trace is answered whatever resolves (its text says so), after the same check.
        let state = r.state.store.read();
        r.state
            .auth
            .require(&state, &caller, Action::Read, &p.repo, &p.path, forbidden)?;
        drop(state);
        return Ok(trace(r, p, &caller));
    }
    let helm_repo = r
        .state
        .store
        .read()
        .repo(&p.repo)
        .is_some_and(|x| x.config.package_type == crate::config::PackageType::Helm);
    if helm_repo && p.path == "index.yaml" && r.query.0.is_empty() {
        // A Helm repository's index is the one its charts make (as at `/api/helm/<repo>/`).
        return super::helm::index(r, &p.repo).await;
    }
    if !r.query.has("properties") {
        // Remote repositories (and virtual ones' remote members) fetch what they lack first; a
        // first plain download streams as it arrives.
        let whole =
            r.method == Method::HEAD || p.archive_entry.is_some() || r.header("range").is_some();
        let folder = p.trailing_slash;
        let state = &r.state;
        {
            let s = state.store.read();
            state
                .auth
                .require(&s, &caller, Action::Read, &p.repo, &p.path, forbidden)?;
        }
        if let crate::repos::remote::Fetched::Streaming(s) =
            crate::repos::remote::prepare(state, &caller, &p.repo, &p.path, folder, whole).await?
        {
            return Ok(first_download(p, s));
        }
    }
    let found = artifacts::lookup(&r.state, &caller, &p.repo, &p.path, forbidden)?;
    let base = r.base_url();
    if r.query.has("properties") {
        let (_, item) = found.as_ref().ok_or_else(msg::file_not_found)?;
        return properties_response(&base, &p.repo, &p.path, item, &r.query.list("properties"));
    }
    let Some((real_repo, item)) = found else {
        return checksum_side_file(r, p);
    };
    if item.is_folder() {
        if !p.trailing_slash {
            let mut resp = empty(StatusCode::FOUND);
            let target = if p.path.is_empty() {
                format!("{base}/{}/", p.repo)
            } else {
                format!("{base}/{}/{}/", p.repo, encode_path(&p.path))
            };
            set_header(&mut resp, header::LOCATION, &target);
            return Ok(resp);
        }
        return Ok(listing(r, p));
    }
    artifacts::props::check_matrix(&p.matrix, &item, &p.repo_path_id())?;
    if let Some(entry) = &p.archive_entry {
        return archive_entry(r, p, &item, entry).await;
    }
    let resp = serve_file(r, p, &item).await?;
    if r.method == Method::GET && resp.status().is_success() {
        artifacts::record_download(&r.state, &caller, &real_repo, &p.path);
    }
    Ok(resp)
}

/// The first download of a remote file, streaming from upstream as it arrives: the headers
/// upstream gave (length, date, checksums), the body as it comes.
fn first_download(p: &RepoPath, s: crate::repos::remote::Streaming) -> Response {
    let chunks = stream::unfold(
        s.body,
        |mut rx| async move { rx.recv().await.map(|c| (c, rx)) },
    );
    let mut resp = warp::reply::Reply::into_response(warp::reply::stream(chunks));
    let mime = crate::mime::for_name(&p.path);
    set_header(&mut resp, header::CONTENT_TYPE, mime);
    if let Some(n) = s.size {
        set_header(&mut resp, header::CONTENT_LENGTH, &n.to_string());
    }
    if let Some(ms) = s.last_modified {
        set_header(&mut resp, header::LAST_MODIFIED, &http_date(ms));
    }
    for (name, v) in [
        ("x-checksum-sha1", &s.sha1),
        ("x-checksum-md5", &s.md5),
        ("x-checksum-sha256", &s.sha256),
    ] {
        if let Some(v) = v {
            set_header(&mut resp, header::HeaderName::from_static(name), v);
        }
    }
    if let Some(sha1) = &s.sha1 {
        set_header(&mut resp, header::ETAG, sha1);
    }
    resp
}

/// `GET x.sha1|x.sha256|x.md5` of an existing file `x`: the checksum as the body.
fn checksum_side_file(r: &Req, p: &RepoPath) -> Result<Response, ApiError> {
    let value = artifacts::checksum_side_file(&r.state, &p.repo, &p.path)
        .ok_or_else(msg::file_not_found)?;
    let len = value.len();
    let body = if r.method == Method::HEAD {
        String::new()
    } else {
        value
    };
    let mut resp = respond(StatusCode::OK, "application/x-checksum", body);
    set_header(&mut resp, header::CONTENT_LENGTH, &len.to_string());
    Ok(resp)
}

/// The headers of a file response.
fn file_headers(resp: &mut Response, p: &RepoPath, item: &Item) {
    let f = item.file.as_ref().expect("a file");
    let name = p.name();
    // RFC 5987 attr-char: letters, digits and `!#$&+-.^_`|~` stay as they are.
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(name, ATTR).to_string();
    set_header(resp, header::LAST_MODIFIED, &http_date(item.modified));
    // A checksum still being computed (a registry blob, a remote's MD5) is left out, not empty.
    for (name, v) in [
        ("etag", f.sha1.hex().to_string()),
        ("x-checksum-sha1", f.sha1.hex().to_string()),
        ("x-checksum-sha256", f.sha256.hex().to_string()),
        ("x-checksum-md5", f.md5.hex().to_string()),
    ] {
        if !v.is_empty() {
            set_header(resp, header::HeaderName::from_static(name), &v);
        }
    }
    set_header(resp, header::ACCEPT_RANGES, "bytes");
    set_header(
        resp,
        header::HeaderName::from_static("x-artifactory-filename"),
        &encode_path(name),
    );
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && c != '"' && !c.is_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    set_header(
        resp,
        header::CONTENT_DISPOSITION,
        &format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
    );
}

/// One stretch of a response body: literal bytes or a slice of the blob.
pub(crate) enum Part {
    Bytes(Bytes),
    Slice(u64, u64),
}

/// What a GET of a file sends: status, the stretches of the body, content type, length and
/// `Content-Range`.
struct Body {
    status: StatusCode,
    parts: Vec<Part>,
    ctype: String,
    len: u64,
    content_range: Option<String>,
}

/// The body for `ranges` of a file of `size` bytes: all of it, one range, or a multipart answer.
fn body_for(ranges: &[(u64, u64)], size: u64, mime: String) -> Body {
    match ranges {
        [] => Body {
            status: StatusCode::OK,
            parts: vec![Part::Slice(0, size)],
            ctype: mime,
            len: size,
            content_range: None,
        },
        [(a, b)] => Body {
            status: StatusCode::PARTIAL_CONTENT,
            parts: vec![Part::Slice(*a, b - a + 1)],
            ctype: mime,
            len: b - a + 1,
            content_range: Some(format!("bytes {a}-{b}/{size}")),
        },
        _ => {
            let mut parts = Vec::new();
            let mut len = 0u64;
            for (a, b) in ranges {
                let head = format!("\r\n--{BOUNDARY}\r\nContent-Type: {mime}\r\nContent-Range: bytes {a}-{b}/{size}\r\n\r\n");
                len += head.len() as u64 + (b - a + 1);
                parts.push(Part::Bytes(Bytes::from(head)));
                parts.push(Part::Slice(*a, b - a + 1));
            }
            let tail = format!("\r\n--{BOUNDARY}--\r\n");
            len += tail.len() as u64;
            parts.push(Part::Bytes(Bytes::from(tail)));
            Body {
                status: StatusCode::PARTIAL_CONTENT,
                parts,
                ctype: format!("multipart/byteranges; boundary={BOUNDARY}"),
                len,
                content_range: None,
            }
        }
    }
}

/// Whether a conditional request is answered with 304 (`If-None-Match` listing the SHA-1 ETag,
/// `If-Modified-Since` to the second).
fn not_modified(r: &Req, item: &Item, sha1: &str) -> bool {
    // Each listed tag is compared verbatim with the bare SHA-1 (a quoted one does not match).
    r.headers.list("if-none-match").contains(&sha1)
        || r.header("if-modified-since")
            .and_then(|v| parse_http_date(&v))
            .is_some_and(|since| since >= item.modified / 1000 * 1000)
}

/// Whether `If-Range` (absent, the SHA-1 ETag, or a date not before the last modification) lets
/// the `Range` stand.
fn if_range_holds(r: &Req, item: &Item, sha1: &str) -> bool {
    match r.header("if-range") {
        None => true,
        Some(v) => {
            v.trim() == sha1
                || parse_http_date(&v).is_some_and(|d| d >= item.modified / 1000 * 1000)
        }
    }
}

/// The byte ranges asked for (none: the whole file); 416 when none can be served.
fn ranges(r: &Req, item: &Item, sha1: &str, size: u64) -> Result<Vec<(u64, u64)>, ApiError> {
    let if_range_ok = if_range_holds(r, item, sha1);
    match r
        .header("range")
        .filter(|_| if_range_ok)
        .map(|h| parse_ranges(&h, size))
    {
        Some(Some(rs)) if rs.is_empty() => {
            Err(ApiError::new(416, "Requested range not satisfiable")
                .with_header("content-range", format!("bytes */{size}")))
        }
        Some(Some(rs)) => Ok(rs),
        _ => Ok(Vec::new()),
    }
}

async fn serve_file(r: &Req, p: &RepoPath, item: &Item) -> Result<Response, ApiError> {
    let f = item.file.as_ref().ok_or_else(msg::file_not_found)?;
    let sha1 = f.sha1.hex();
    if not_modified(r, item, &sha1) {
        let mut resp = empty(StatusCode::NOT_MODIFIED);
        file_headers(&mut resp, p, item);
        return Ok(resp);
    }
    let body = body_for(&ranges(r, item, &sha1, f.size)?, f.size, mime_of(item));
    let mut resp = if r.method == Method::HEAD {
        empty(body.status)
    } else {
        // A download is a transfer: background checksum work waits for it to end.
        let busy = Some(crate::app::Busy::new(&r.state.busy));
        stream_blob(r, &f.sha256.hex(), body.parts, busy)?
    };
    *resp.status_mut() = body.status;
    file_headers(&mut resp, p, item);
    set_header(&mut resp, header::CONTENT_TYPE, &body.ctype);
    set_header(&mut resp, header::CONTENT_LENGTH, &body.len.to_string());
    if let Some(cr) = body.content_range {
        set_header(&mut resp, header::CONTENT_RANGE, &cr);
    }
    Ok(resp)
}

/// A 200 whose body streams `parts` of the blob `sha256` (holding `busy` while it lasts).
pub(crate) fn stream_blob(
    r: &Req,
    sha256: &str,
    parts: Vec<Part>,
    busy: Option<crate::app::Busy>,
) -> Result<Response, ApiError> {
    let file = r
        .state
        .store
        .blobs
        .open_blob(sha256)
        .map_err(ApiError::internal)?;
    let stream = body_stream_while(file, parts, busy);
    Ok(warp::reply::Reply::into_response(warp::reply::stream(
        stream,
    )))
}

/// Streams `parts` from the blob file in bounded chunks, read on a blocking thread and handed over a
/// small channel (memory stays at a few chunks whatever the file size; a client that goes away stops
/// the reader); `busy` is held until the last byte is handed over.
pub(crate) fn body_stream_while(
    file: std::fs::File,
    parts: Vec<Part>,
    busy: Option<crate::app::Busy>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let _busy = busy;
        for part in parts {
            let more = match part {
                Part::Bytes(b) => tx.blocking_send(Ok(b)).is_ok(),
                Part::Slice(offset, len) => send_slice(&file, offset, len, &tx),
            };
            if !more {
                return;
            }
        }
    });
    stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

/// Sends `len` bytes of `file` from `offset` in bounded chunks; `false` when the stream ended (a
/// read failed, or the client went away).
fn send_slice(
    file: &std::fs::File,
    offset: u64,
    mut len: u64,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> bool {
    // Sequential reads into fresh, uninitialised buffers (no zeroing, one seek).
    use std::io::{Read, Seek, SeekFrom};
    use std::os::fd::AsRawFd;
    // A blob that has left the page cache is read from the disk: ask the kernel to read ahead the
    // whole slice while we stream it.
    // SAFETY: advisory calls on an open descriptor this thread owns.
    unsafe {
        libc::posix_fadvise(
            file.as_raw_fd(),
            offset as libc::off_t,
            len as libc::off_t,
            libc::POSIX_FADV_SEQUENTIAL,
        );
        libc::posix_fadvise(
            file.as_raw_fd(),
            offset as libc::off_t,
            len.min(64 << 20) as libc::off_t,
            libc::POSIX_FADV_WILLNEED,
        );
    }
    if let Err(e) = {
        let mut f = file;
        f.seek(SeekFrom::Start(offset))
    } {
        let _ = tx.blocking_send(Err(e));
        return false;
    }
    while len > 0 {
        let n = len.min(READ_CHUNK as u64);
        let mut buf = Vec::with_capacity(n as usize);
        let res = match file.take(n).read_to_end(&mut buf) {
            Ok(got) if got as u64 == n => Ok(Bytes::from(buf)),
            Ok(_) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "blob shorter than its size",
            )),
            Err(e) => Err(e),
        };
        let failed = res.is_err();
        if tx.blocking_send(res).is_err() || failed {
            return false;
        }
        len -= n;
    }
    true
}

/// Parses `bytes=a-b,c-,-n` against `size`. `None`: not a byte-range header we understand (serve it
/// all); `Some([])`: nothing satisfiable (416).
pub(crate) fn parse_ranges(h: &str, size: u64) -> Option<Vec<(u64, u64)>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    let mut out = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        let (a, b) = part.split_once('-')?;
        let (a, b) = (a.trim(), b.trim());
        let range = if a.is_empty() {
            let n: u64 = b.parse().ok()?;
            if n == 0 || size == 0 {
                None
            } else {
                Some((size.saturating_sub(n), size - 1))
            }
        } else {
            let start: u64 = a.parse().ok()?;
            let end: u64 = if b.is_empty() {
                u64::MAX
            } else {
                b.parse().ok()?
            };
            if end < start {
                return None;
            }
            if start >= size {
                None
            } else {
                Some((start, end.min(size - 1)))
            }
        };
        if let Some(r) = range {
            out.push(r);
        }
    }
    Some(out)
}

/// `?trace`: a text account of how the request resolved.
fn trace(r: &Req, p: &RepoPath, caller: &Caller) -> Response {
    let now = iso(r.now());
    let state = r.state.store.read();
    let mut steps = vec!["Received request".to_string()];
    let outcome = match state.repo(&p.repo) {
        None => format!("Responding with status 404: Failed to find the repository '{}' specified in the request.", p.repo),
        Some(repo) => {
            steps.push(format!(
                "Retrieving info from {} repository '{}' type {}",
                repo.config.rclass.lower(),
                p.repo,
                repo.config.package_type.display()
            ));
            match state.resolve(&p.repo, &p.path) {
                None => {
                    steps.push("Requested resource is found = false".into());
                    "Responding with status 404: File not found.".to_string()
                }
                Some((found_in, item)) => {
                    steps.push("Requested resource is found = true".into());
                    steps.push(format!("Request is HEAD = {}", r.method == Method::HEAD));
                    if found_in.config.key != p.repo {
                        steps.push(format!("Resolved from member repository '{}'", found_in.config.key));
                    }
                    if item.is_folder() {
                        steps.push("Identified requested resource as a folder".into());
                    } else {
                        steps.push(format!("Creating a resource handle from '{}:{}'", found_in.config.key, p.path));
                        steps.push("Identified requested resource as a file".into());
                        steps.push(format!(
                            "Requested resource is an ordinary artifact - using normal content handle with length '{}'",
                            item.file.as_ref().map(|f| f.size).unwrap_or(0)
                        ));
                        steps.push("Responding with selected content handle".into());
                    }
                    "Request succeeded".to_string()
                }
            }
        }
    };
    steps.push(outcome);
    let mut out = format!(
        "Request ID: {:08x}\nRepo Path ID: {}\nMethod Name: {}\nUser: {}\nTime: {now}\nThread: {}\nSteps: \n",
        rand::random::<u32>(),
        p.repo_path_id(),
        r.method,
        caller.name,
        std::thread::current().name().unwrap_or("worker")
    );
    for s in steps {
        out.push_str(&format!("{now} {s}\n"));
    }
    respond(StatusCode::OK, "text/plain", out)
}

/// The HTML "Index of" page of a folder.
fn listing(r: &Req, p: &RepoPath) -> Response {
    let title = if p.path.is_empty() {
        p.repo.clone()
    } else {
        format!("{}/{}", p.repo, p.path)
    };
    let children = listing_children(r, p);
    let width = children
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut html = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n<head><meta name=\"robots\" content=\"noindex\" />\n<title>Index of {t}</title>\n</head>\n<body>\n<h1>Index of {t}</h1>\n<pre>Name{pad}Last modified      Size</pre><hr/>\n<pre><a href=\"../\">../</a>\n",
        t = html_escape(&title),
        pad = " ".repeat(width - 4 + 2)
    );
    for (name, item) in &children {
        let date = listing_date(item.modified);
        let size = item
            .file
            .as_ref()
            .map(|f| format!("  {}", crate::system::readable(f.size)))
            .unwrap_or_else(|| "    -".into());
        let pad = " ".repeat(width - name.chars().count() + 2);
        html.push_str(&format!(
            "<a href=\"{}\">{}</a>{pad}{date}{size}\n",
            encode_path(name),
            html_escape(name)
        ));
    }
    let host = r.header("host").unwrap_or("localhost".into());
    let (h, port) = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h.to_string(), p.to_string()),
        _ => (host.to_string(), "80".to_string()),
    };
    html.push_str(&format!(
        "</pre>\n<hr/><address style=\"font-size:small;\">Artifactory/{VERSION} Server at {} Port {port}</address></body></html>",
        html_escape(&h)
    ));
    respond(StatusCode::OK, "text/html;charset=UTF-8", html)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The children of a listed folder the caller may read, as (display name, the item that holds it,
/// through virtual members too).
fn listing_children(r: &Req, p: &RepoPath) -> Vec<(String, Item)> {
    let state = r.state.store.read();
    state
        .children_of(&p.repo, &p.path)
        .into_iter()
        .filter_map(|(name, folder)| {
            let child = if p.path.is_empty() {
                name.clone()
            } else {
                format!("{}/{name}", p.path)
            };
            if !r.may(&state, Action::Read, &p.repo, &child) {
                return None;
            }
            let (_, item) = state.resolve(&p.repo, &child)?;
            Some((if folder { format!("{name}/") } else { name }, item.clone()))
        })
        .collect()
}

fn listing_date(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02}-{}-{} {:02}:{:02}",
        t.day(),
        months[t.month() as usize - 1],
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// `archive!/entry`: one entry of a zip/jar or tar(.gz) archive, streamed as it is inflated; a
/// single `Range` is served (206), several are answered with the whole entry.
async fn archive_entry(
    r: &Req,
    p: &RepoPath,
    item: &Item,
    entry: &str,
) -> Result<Response, ApiError> {
    // The entry changes with the archive: the archive's ETag and date stand for it.
    let sha1 = item
        .file
        .as_ref()
        .map(|f| f.sha1.hex().to_string())
        .unwrap_or_default();
    let asked = r
        .header("range")
        .map(|h| h.into_owned())
        .filter(|_| if_range_holds(r, item, &sha1));
    let pick = move |size: u64| match asked.map(|h| parse_ranges(&h, size)) {
        Some(Some(rs)) if rs.is_empty() => {
            Err(ApiError::new(416, "Requested range not satisfiable")
                .with_header("content-range", format!("bytes */{size}")))
        }
        Some(Some(rs)) if rs.len() == 1 => Ok((rs[0].0, rs[0].1 - rs[0].0 + 1)),
        _ => Ok((0, size)),
    };
    let e = artifacts::archive::entry(&r.state, item, p.name(), entry, pick).await?;
    let mime = crate::mime::for_name(entry);
    let mut resp = if r.method == Method::HEAD {
        // The reader stops as the body is dropped.
        empty(StatusCode::OK)
    } else {
        let chunks = stream::unfold(
            e.body,
            |mut rx| async move { rx.recv().await.map(|c| (c, rx)) },
        );
        warp::reply::Reply::into_response(warp::reply::stream(chunks))
    };
    if e.len != e.size {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        let last = e.offset + e.len.max(1) - 1;
        set_header(
            &mut resp,
            header::CONTENT_RANGE,
            &format!("bytes {}-{last}/{}", e.offset, e.size),
        );
    }
    set_header(&mut resp, header::CONTENT_TYPE, mime);
    set_header(&mut resp, header::CONTENT_LENGTH, &e.len.to_string());
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::parse_ranges;

    #[test]
    fn ranges() {
        assert_eq!(parse_ranges("bytes=0-4", 10), Some(vec![(0, 4)]));
        assert_eq!(parse_ranges("bytes=5-", 10), Some(vec![(5, 9)]));
        assert_eq!(parse_ranges("bytes=-3", 10), Some(vec![(7, 9)]));
        assert_eq!(
            parse_ranges("bytes=0-1, 4-100", 10),
            Some(vec![(0, 1), (4, 9)])
        );
        assert_eq!(parse_ranges("bytes=10-", 10), Some(vec![]));
        assert_eq!(parse_ranges("items=0-1", 10), None);
        assert_eq!(parse_ranges("bytes=5-2", 10), None);
    }
}
