//! The Docker Registry HTTP API v2 / OCI distribution API, the way JCR serves it: at the server root
//! (`/v2/<repoKey>/<image>/...`, the repository-path method) and under the context path
//! (`/api/docker/<repoKey>/v2/<image>/...`), plus the token endpoint, `_catalog`, tags and promote.
//! The domain is [`crate::docker`]; this module reads the request, calls it and renders
//! registry-shaped replies (compact JSON, `Docker-Content-Digest`, `Link`, upload headers).

use serde_json::{json, Value};
use warp::http::{header, Method, StatusCode};
use warp::reply::Response;

use super::artifacts::{parse_ranges, stream_blob, Part};
use super::endpoint::Docker;
use super::{empty, read_small, respond, set_header, BodyStream, Req};
use crate::auth::Action;
use crate::docker::registry::{self, Asker, Reg};
use crate::docker::uploads::{self, Started};
use crate::docker::{self, Code, RegistryError};
use crate::error::ApiError;

/// Answers a registry endpoint (and promote).
pub(crate) async fn handle(r: &Req, e: Docker, body: BodyStream) -> Result<Response, ApiError> {
    use Docker as D;
    let ask = Asker {
        app: &r.state,
        caller: &r.caller,
    };
    let mut e = e;
    if let Some(at) = pushed_to(&mut e) {
        // A push (or delete) through a virtual goes to its default deployment repository.
        at.repo = registry::deploy_target(&r.state, &at.repo)?;
    } else if let Some(at) = image_repo(&e) {
        registry::check_repo(&r.state, &at.repo)?;
    }
    match e {
        D::Base { at } => base(r, ask, at.as_ref()),
        D::Token => {
            let token = registry::token(&r.state, &r.require_user()?)?;
            Ok(reg_json(StatusCode::OK, &token))
        }
        D::Catalog { at } => catalog(r, ask, at.as_ref()),
        D::Promote { repo } => promote(r, &repo, body).await,
        D::Tags { at, image } => tags(On::new(r, ask, &at, &image)),
        D::Referrers { at, image, digest } => referrers(On::new(r, ask, &at, &image), &digest),
        D::BlobGet { at, image, digest } => get_blob(On::new(r, ask, &at, &image), &digest).await,
        D::BlobDelete { at, image, digest } => {
            registry::delete_blob(ask, &at, &image, &digest).await?;
            Ok(empty(StatusCode::ACCEPTED))
        }
        D::ManifestGet {
            at,
            image,
            reference,
        } => get_manifest(On::new(r, ask, &at, &image), &reference).await,
        D::ManifestPut {
            at,
            image,
            reference,
        } => put_manifest(On::new(r, ask, &at, &image), &reference, body).await,
        D::ManifestDelete {
            at,
            image,
            reference,
        } => {
            registry::delete_manifest(ask, &at, &image, &reference).await?;
            Ok(empty(StatusCode::ACCEPTED))
        }
        e => upload(r, ask, e, body).await,
    }
}

/// Pushes a manifest: 201 with where it is and its digest (and its subject, for referrers).
async fn put_manifest(on: On<'_>, reference: &str, body: BodyStream) -> Result<Response, ApiError> {
    let (r, ask, at, image) = (on.r, on.ask, on.at, on.image);
    let ct = r.header("content-type");
    let p = registry::put_manifest(ask, at, image, reference, body, ct.as_deref()).await?;
    let mut resp = created(&format!("{}/{image}/manifests/{}", at.prefix, p.digest));
    digest_header(&mut resp, &p.digest.to_string());
    if let Some(s) = &p.subject {
        let name = header::HeaderName::from_static("oci-subject");
        set_header(&mut resp, name, &s.to_string());
    }
    Ok(resp)
}

/// Blob uploads: started (or mounted, or sent whole), chunked, finished, asked about, cancelled.
async fn upload(
    r: &Req,
    ask: Asker<'_>,
    e: Docker,
    body: BodyStream,
) -> Result<Response, ApiError> {
    use Docker as D;
    match e {
        D::UploadStart { at, image } => {
            let q = &r.query;
            let mount = q.get("mount").zip(q.get("from"));
            Ok(
                match uploads::start(ask, &at, &image, mount, q.get("digest"), body).await? {
                    Started::Linked(d) => blob_created(&at, &image, &d),
                    Started::Session(id) => progress(StatusCode::ACCEPTED, &at, &image, &id, 0),
                },
            )
        }
        D::UploadChunk { at, image, id } => {
            let range = r.header("content-range");
            let size = uploads::chunk(ask, &at, &image, &id, range.as_deref(), body).await?;
            Ok(progress(StatusCode::ACCEPTED, &at, &image, &id, size))
        }
        D::UploadFinish { at, image, id } => {
            let range = r.header("content-range");
            let end = uploads::Finish {
                digest: r.query.get("digest"),
                range: range.as_deref(),
            };
            let d = uploads::finish(ask, &at, &image, &id, end, body).await?;
            Ok(blob_created(&at, &image, &d))
        }
        D::UploadStatus { at, image, id } => {
            let size = uploads::status(ask, &at, &image, &id)?;
            Ok(progress(StatusCode::NO_CONTENT, &at, &image, &id, size))
        }
        D::UploadCancel { at, image, id } => {
            uploads::cancel(ask, &at, &image, &id)?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ => Err(RegistryError::new(Code::Unsupported).into()),
    }
}

/// A request on one image of a repository.
#[derive(Clone, Copy)]
struct On<'a> {
    r: &'a Req,
    ask: Asker<'a>,
    at: &'a Reg,
    image: &'a str,
}

impl<'a> On<'a> {
    fn new(r: &'a Req, ask: Asker<'a>, at: &'a Reg, image: &'a str) -> On<'a> {
        On { r, ask, at, image }
    }
}

/// The repository an endpoint writes to (or deletes from).
fn pushed_to(e: &mut Docker) -> Option<&mut Reg> {
    use Docker as D;
    match e {
        D::ManifestPut { at, .. }
        | D::ManifestDelete { at, .. }
        | D::BlobDelete { at, .. }
        | D::UploadStart { at, .. }
        | D::UploadChunk { at, .. }
        | D::UploadFinish { at, .. }
        | D::UploadStatus { at, .. }
        | D::UploadCancel { at, .. } => Some(at),
        _ => None,
    }
}

/// The repository of an endpoint on an image (it must be a Docker repository).
fn image_repo(e: &Docker) -> Option<&Reg> {
    use Docker as D;
    match e {
        D::Tags { at, .. }
        | D::ManifestGet { at, .. }
        | D::ManifestPut { at, .. }
        | D::ManifestDelete { at, .. }
        | D::BlobGet { at, .. }
        | D::BlobDelete { at, .. }
        | D::UploadStart { at, .. }
        | D::UploadChunk { at, .. }
        | D::UploadFinish { at, .. }
        | D::UploadStatus { at, .. }
        | D::UploadCancel { at, .. }
        | D::Referrers { at, .. } => Some(at),
        D::Base { .. } | D::Token | D::Catalog { .. } | D::Promote { .. } => None,
    }
}

// ---------- replies ----------

fn reg_json(status: StatusCode, v: &Value) -> Response {
    respond(status, "application/json", v.to_string())
}

fn digest_header(resp: &mut Response, d: &str) {
    set_header(
        resp,
        header::HeaderName::from_static("docker-content-digest"),
        d,
    );
}

fn created(location: &str) -> Response {
    let mut resp = empty(StatusCode::CREATED);
    set_header(&mut resp, header::LOCATION, location);
    resp
}

fn blob_created(reg: &Reg, image: &str, d: &docker::Digest) -> Response {
    let mut resp = created(&format!("{}/{image}/blobs/{d}", reg.prefix));
    digest_header(&mut resp, &d.to_string());
    resp
}

/// An empty reply with the headers of an upload in progress.
fn progress(status: StatusCode, reg: &Reg, image: &str, id: &str, size: u64) -> Response {
    let mut resp = empty(status);
    for (k, v) in uploads::progress(reg, image, id, size) {
        set_header(&mut resp, header::HeaderName::from_static(k), &v);
    }
    resp
}

/// `?n=&last=` pagination.
fn pagination(r: &Req) -> Result<(Option<usize>, Option<String>), RegistryError> {
    let n = match r.query.get("n") {
        None | Some("") => None,
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            RegistryError::new(Code::Unsupported)
                .status(400)
                .message(format!("invalid n: {v}"))
        })?),
    };
    Ok((n, r.query.get("last").map(str::to_string)))
}

/// A page of `all` as `{key: [...]}`, with the `Link` to the next page when there is one.
fn paged(
    r: &Req,
    all: Vec<String>,
    path: &str,
    body: impl FnOnce(Vec<String>) -> Value,
) -> Result<Response, ApiError> {
    let (n, last) = pagination(r)?;
    let (page, more) = docker::page(all, n, last.as_deref());
    let next = page.last().cloned();
    let mut resp = reg_json(StatusCode::OK, &body(page));
    if let (true, Some(n), Some(l)) = (more, n, next) {
        let link = format!(
            "<{path}?n={n}&last={}>; rel=\"next\"",
            percent_encoding::utf8_percent_encode(&l, percent_encoding::NON_ALPHANUMERIC)
        );
        set_header(&mut resp, header::LINK, &link);
    }
    Ok(resp)
}

// ---------- endpoints ----------

/// `GET /v2/`: 200 `{}` for authenticated callers. Without credentials it is always the 401 challenge,
/// even with anonymous access on: clients learn the token realm there and fetch an anonymous token
/// (this is how Docker clients pull anonymously from Artifactory).
fn base(r: &Req, ask: Asker<'_>, reg: Option<&Reg>) -> Result<Response, ApiError> {
    if ask.who(None)?.anonymous {
        return Err(RegistryError::new(Code::Unauthorized).into());
    }
    if let Some(reg) = reg {
        registry::check_repo(&r.state, &reg.repo)?;
    }
    Ok(reg_json(StatusCode::OK, &json!({})))
}

fn tags(on: On<'_>) -> Result<Response, ApiError> {
    let (r, ask, reg, image) = (on.r, on.ask, on.at, on.image);
    // A bad page size is refused after the caller, before the lookup.
    ask.need(reg, image, Action::Read)?;
    pagination(r)?;
    let all = registry::tags(ask, reg, image)?;
    let path = format!("{}/{image}/tags/list", reg.prefix);
    paged(r, all, &path, |page| json!({"name": image, "tags": page}))
}

fn catalog(r: &Req, ask: Asker<'_>, reg: Option<&Reg>) -> Result<Response, ApiError> {
    ask.who(None)?;
    pagination(r)?;
    let names = registry::catalog(ask, reg)?;
    let path = match reg {
        Some(g) => format!("{}/_catalog", g.prefix),
        None => "/v2/_catalog".to_string(),
    };
    paged(r, names, &path, |page| json!({ "repositories": page }))
}

async fn get_manifest(on: On<'_>, reference: &str) -> Result<Response, ApiError> {
    let (r, ask, reg, image) = (on.r, on.ask, on.at, on.image);
    let m = registry::manifest(ask, reg, image, reference, &r.headers.accepted()).await?;
    let mut resp = if r.method == Method::HEAD {
        empty(StatusCode::OK)
    } else {
        let bytes =
            std::fs::read(r.state.store.blobs.path(&m.sha256)).map_err(ApiError::internal)?;
        respond(StatusCode::OK, &m.media_type, bytes)
    };
    set_header(&mut resp, header::CONTENT_TYPE, &m.media_type);
    set_header(&mut resp, header::CONTENT_LENGTH, &m.size.to_string());
    digest_header(&mut resp, &m.digest);
    set_header(&mut resp, header::ETAG, &format!("\"{}\"", m.digest));
    Ok(resp)
}

fn referrers(on: On<'_>, digest: &str) -> Result<Response, ApiError> {
    let (r, ask, reg, image) = (on.r, on.ask, on.at, on.image);
    let filter = r.query.get("artifactType");
    let rows = registry::referrers(ask, reg, image, digest, filter)?;
    let body = json!({"schemaVersion": 2, "mediaType": docker::OCI_INDEX, "manifests": rows});
    let mut resp = respond(StatusCode::OK, docker::OCI_INDEX, body.to_string());
    if filter.is_some() {
        set_header(
            &mut resp,
            header::HeaderName::from_static("oci-filters-applied"),
            "artifactType",
        );
    }
    Ok(resp)
}

async fn get_blob(on: On<'_>, digest: &str) -> Result<Response, ApiError> {
    let (r, ask, reg, image) = (on.r, on.ask, on.at, on.image);
    let head = r.method == Method::HEAD;
    let (d, found) = registry::blob(ask, reg, image, digest, head).await?;
    let f = match found {
        docker::remote::Blob::Stored(f) => f,
        docker::remote::Blob::Streaming(s) => return Ok(first_pull(&d, s)),
    };
    let size = f.size;
    let (status, slice, range) = match r.header("range").map(|h| parse_ranges(&h, size)) {
        Some(Some(rs)) if rs.is_empty() => {
            return Err(ApiError::from(
                RegistryError::new(Code::BlobUnknown)
                    .status(416)
                    .message("requested range not satisfiable"),
            )
            .with_header("content-range", format!("bytes */{size}")));
        }
        Some(Some(rs)) => {
            let (a, b) = rs[0];
            (
                StatusCode::PARTIAL_CONTENT,
                (a, b - a + 1),
                Some(format!("bytes {a}-{b}/{size}")),
            )
        }
        _ => (StatusCode::OK, (0, size), None),
    };
    let mut resp = if r.method == Method::HEAD {
        empty(status)
    } else {
        let busy = Some(crate::app::Busy::new(&r.state.busy));
        let parts = vec![Part::Slice(slice.0, slice.1)];
        let mut resp = stream_blob(r, &f.sha256.hex(), parts, busy)?;
        *resp.status_mut() = status;
        resp
    };
    set_header(&mut resp, header::CONTENT_TYPE, "application/octet-stream");
    set_header(&mut resp, header::CONTENT_LENGTH, &slice.1.to_string());
    set_header(&mut resp, header::ACCEPT_RANGES, "bytes");
    digest_header(&mut resp, &d.to_string());
    set_header(&mut resp, header::ETAG, &format!("\"{d}\""));
    if let Some(cr) = range {
        set_header(&mut resp, header::CONTENT_RANGE, &cr);
    }
    Ok(resp)
}

/// A blob's first pull through a remote, streaming from upstream as it arrives (the whole blob:
/// a range asked for is served from the cache on the next request).
fn first_pull(d: &docker::Digest, s: crate::repos::remote::Streaming) -> Response {
    let chunks =
        futures_util::stream::unfold(
            s.body,
            |mut rx| async move { rx.recv().await.map(|c| (c, rx)) },
        );
    let mut resp = warp::reply::Reply::into_response(warp::reply::stream(chunks));
    set_header(&mut resp, header::CONTENT_TYPE, "application/octet-stream");
    if let Some(n) = s.size {
        set_header(&mut resp, header::CONTENT_LENGTH, &n.to_string());
    }
    digest_header(&mut resp, &d.to_string());
    set_header(&mut resp, header::ETAG, &format!("\"{d}\""));
    resp
}

/// `POST /api/docker/<repo>/v2/promote`: copies or moves an image (one tag, or all of them) to
/// another repository, optionally renaming image and tag.
async fn promote(r: &Req, repo: &str, body: BodyStream) -> Result<Response, ApiError> {
    let caller = r.require_user()?;
    let bytes = read_small(body, 64 << 10).await?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Could not parse the JSON body: {e}")))?;
    let p = registry::Promotion::parse(&doc)?;
    registry::promote(&r.state, &caller, repo, &p).await?;
    Ok(respond(
        StatusCode::OK,
        "text/plain",
        "Promotion ended successfully",
    ))
}
