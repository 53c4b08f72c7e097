//! The Docker Registry HTTP API v2 / OCI distribution API, the way JCR serves it: at the server root
//! (`/v2/<repoKey>/<image>/...`, the repository-path method) and under the context path
//! (`/api/docker/<repoKey>/v2/<image>/...`), plus the token endpoint, `_catalog`, tags, promote and the
//! Bintray leftover. Domain logic is in [`crate::docker`]; this module parses, checks permissions and
//! renders registry-shaped replies (`{"errors":[{"code","message","detail"}]}`,
//! `Docker-Distribution-Api-Version: registry/2.0`, Bearer challenges).

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};
use warp::http::{header, Method, StatusCode};
use warp::reply::Response;

use super::artifacts::{body_stream_while, parse_ranges, Busy, Part};
use super::endpoint::{Docker, Reg};
use super::{empty, read_small, respond, set_header, BodyStream, Req};
use crate::auth::{Action, Caller};
use crate::config::{PackageType, RepoClass};
use crate::docker::{self, Code, Digest, RegistryError, UPLOADS};
use crate::error::{ApiError, BearerScope, Challenge};
use crate::store::{BlobInfo, FileData, IngestError, Mutation, Props, Stamp};

/// Answers a registry endpoint (and promote).
pub(crate) async fn handle(r: &Req, e: Docker, body: BodyStream) -> Result<Response, ApiError> {
    match e {
        Docker::Base { at } => base(r, at.as_ref()),
        Docker::Token => token(r),
        Docker::Catalog { at } => catalog(r, at.as_ref()),
        Docker::Promote { repo } => promote(r, &repo, body).await,
        e => on_image(r, e, body).await,
    }
}

/// The endpoints on one image of a repository, which must be a local Docker repository.
async fn on_image(r: &Req, e: Docker, body: BodyStream) -> Result<Response, ApiError> {
    use Docker as D;
    let at = match &e {
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
        | D::Referrers { at, .. } => at,
        D::Base { .. } | D::Token | D::Catalog { .. } | D::Promote { .. } => {
            return Err(RegistryError::new(Code::Unsupported).into())
        }
    };
    docker_repo(r, &at.repo)?;
    match e {
        D::Tags { at, image } => tags(r, &at, &image),
        D::ManifestGet {
            at,
            image,
            reference,
        } => get_manifest(r, &at, &image, &reference),
        D::ManifestPut {
            at,
            image,
            reference,
        } => put_manifest(r, &at, &image, &reference, body).await,
        D::ManifestDelete {
            at,
            image,
            reference,
        } => delete_manifest(r, &at, &image, &reference).await,
        D::BlobGet { at, image, digest } => get_blob(r, &at, &image, &digest),
        D::BlobDelete { at, image, digest } => delete_blob(r, &at, &image, &digest).await,
        D::UploadStart { at, image } => start_upload(r, &at, &image, body).await,
        D::UploadChunk { at, image, id } => patch_upload(r, &at, &image, &id, body).await,
        D::UploadFinish { at, image, id } => finish_upload(r, &at, &image, &id, body).await,
        D::UploadStatus { at, image, id } => upload_status(r, &at, &image, &id),
        D::UploadCancel { at, image, id } => cancel_upload(r, &at, &image, &id),
        D::Referrers { at, image, digest } => referrers(r, &at, &image, &digest),
        D::Base { .. } | D::Token | D::Catalog { .. } | D::Promote { .. } => {
            Err(RegistryError::new(Code::Unsupported).into())
        }
    }
}

// ---------- replies ----------

fn reg_json(status: StatusCode, v: &Value) -> Response {
    respond(status, "application/json", v.to_string())
}

/// A registry error; a 401 carries the Bearer challenge for `scope` (`repository:<image>:<actions>`
/// with the realm of its repository), or the root realm without one.
fn reg_error(e: RegistryError, scope: Option<(&Reg, &str, &'static str)>) -> ApiError {
    let e = ApiError::from(e);
    match scope {
        Some((reg, image, actions)) if e.status == 401 => {
            e.challenge(Challenge::Bearer(Some(Box::new(BearerScope {
                repo: reg.repo.clone(),
                image: image.to_string(),
                actions,
            }))))
        }
        _ => e,
    }
}

// ---------- auth ----------

/// The caller, or the registry's 401 with a Bearer challenge.
fn who(r: &Req, scope: Option<(&Reg, &str, &'static str)>) -> Result<Caller, ApiError> {
    let unauthorized = || reg_error(RegistryError::new(Code::Unauthorized), scope);
    let caller = r.caller().map_err(|_| unauthorized())?.clone();
    if caller.anonymous && !r.state.auth.anonymous_access() {
        return Err(unauthorized());
    }
    Ok(caller)
}

/// Checks `action` on `image` of the request's repository (pull = read, push = deploy, delete).
fn need(r: &Req, reg: &Reg, image: &str, action: Action) -> Result<Caller, ApiError> {
    let actions = match action {
        Action::Read => "pull",
        Action::Delete => "delete",
        _ => "pull,push",
    };
    let scope = Some((reg, image, actions));
    let caller = who(r, scope)?;
    let state = r.state.store.read();
    if r.may(&state, action, &reg.repo, image) {
        return Ok(caller);
    }
    if caller.anonymous {
        return Err(reg_error(RegistryError::new(Code::Unauthorized), scope));
    }
    Err(RegistryError::new(Code::Denied).into())
}

/// `GET /v2/`: 200 `{}` for authenticated callers. Without credentials it is always the 401 challenge,
/// even with anonymous access on: clients learn the token realm there and fetch an anonymous token
/// (this is how Docker clients pull anonymously from Artifactory).
fn base(r: &Req, reg: Option<&Reg>) -> Result<Response, ApiError> {
    if who(r, None)?.anonymous {
        return Err(RegistryError::new(Code::Unauthorized).into());
    }
    if let Some(reg) = reg {
        docker_repo(r, &reg.repo)?;
    }
    Ok(reg_json(StatusCode::OK, &json!({})))
}

/// The token endpoint: Basic credentials (password, API key or access token) or none (anonymous,
/// when allowed) give a short-lived registry token.
fn token(r: &Req) -> Result<Response, ApiError> {
    let caller = r.require_user()?;
    // A registry token acts as the user: only callers who have all of the user's rights get one (a
    // token limited to groups, or without its user's admin rights, may not widen itself here).
    if !caller.anonymous {
        let state = r.state.store.read();
        let full = state
            .security
            .user(&caller.name)
            .map(|u| state.security.principal_of(u));
        if full.as_ref() != Some(&caller.principal) {
            return Err(ApiError::forbidden(
                "A registry token needs the user's own credentials (password, API key or a token with the user's full rights)",
            ));
        }
    }
    let secret = r.state.store.read().security.secret.clone();
    let expires = 3600;
    let exp = r.now().div_euclid(1000) + expires;
    let t = r.state.auth.docker_token(&secret, &caller.name, exp);
    let body = json!({"token": t, "access_token": t, "expires_in": expires, "issued_at": crate::clock::iso(r.now())});
    Ok(reg_json(StatusCode::OK, &body))
}

/// The repository must exist and be a local Docker repository (remote and virtual Docker repositories
/// do not proxy yet: an honest UNSUPPORTED).
fn docker_repo(r: &Req, repo: &str) -> Result<(), ApiError> {
    let state = r.state.store.read();
    let unknown = || RegistryError::new(Code::NameUnknown).detail(json!({ "repository": repo }));
    let rp = state.repo(repo).ok_or_else(unknown)?;
    if rp.config.package_type != PackageType::Docker {
        return Err(unknown()
            .message(format!("repository '{repo}' is not a Docker repository"))
            .into());
    }
    if rp.config.rclass != RepoClass::Local {
        return Err(RegistryError::new(Code::Unsupported)
            .message(format!(
                "repository '{repo}' is not a local repository: only local Docker repositories are served"
            ))
            .into());
    }
    Ok(())
}

type Out = Result<Response, ApiError>;

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("registry: {e}");
    ApiError::internal(e)
}

// ---------- tags and catalog ----------

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

fn link(path: &str, n: usize, last: &str) -> String {
    format!(
        "<{path}?n={n}&last={}>; rel=\"next\"",
        percent_encoding::utf8_percent_encode(last, percent_encoding::NON_ALPHANUMERIC)
    )
}

fn tags(r: &Req, reg: &Reg, image: &str) -> Out {
    need(r, reg, image, Action::Read)?;
    let (n, last) = pagination(r)?;
    let all = {
        let state = r.state.store.read();
        let repo = state
            .repo(&reg.repo)
            .ok_or_else(|| RegistryError::new(Code::NameUnknown))?;
        docker::tags(repo, image)
            .into_iter()
            .filter(|t| r.may(&state, Action::Read, &reg.repo, &docker::join(image, t)))
            .collect::<Vec<_>>()
    };
    if all.is_empty() {
        return Err(RegistryError::new(Code::NameUnknown)
            .detail(json!({ "name": image }))
            .into());
    }
    let (page, more) = docker::page(all, n, last.as_deref());
    let mut resp = reg_json(StatusCode::OK, &json!({"name": image, "tags": page}));
    if let (true, Some(n), Some(l)) = (more, n, page.last()) {
        let path = format!("{}/{image}/tags/list", reg.prefix);
        set_header(&mut resp, header::LINK, &link(&path, n, l));
    }
    Ok(resp)
}

/// `_catalog` of one repository, or at the root of every Docker repository (`<repo>/<image>`); only
/// what the caller may read.
fn catalog(r: &Req, reg: Option<&Reg>) -> Out {
    who(r, None)?;
    let (n, last) = pagination(r)?;
    let names: Vec<String> = {
        let state = r.state.store.read();
        let mut out = Vec::new();
        for repo in state.repos.values() {
            let c = &repo.config;
            let wanted = match reg {
                Some(g) => c.key == g.repo,
                None => c.package_type == PackageType::Docker && c.rclass == RepoClass::Local,
            };
            if !wanted {
                continue;
            }
            for image in docker::catalog(repo) {
                if r.may(&state, Action::Read, &c.key, &image) {
                    out.push(match reg {
                        Some(_) => image,
                        None => format!("{}/{image}", c.key),
                    });
                }
            }
        }
        out.sort();
        out
    };
    if let Some(g) = reg {
        docker_repo(r, &g.repo)?;
    }
    let (page, more) = docker::page(names, n, last.as_deref());
    let mut resp = reg_json(StatusCode::OK, &json!({ "repositories": page }));
    if let (true, Some(n), Some(l)) = (more, n, page.last()) {
        let path = match reg {
            Some(g) => format!("{}/_catalog", g.prefix),
            None => "/v2/_catalog".to_string(),
        };
        set_header(&mut resp, header::LINK, &link(&path, n, l));
    }
    Ok(resp)
}

// ---------- manifests ----------

fn accepts(r: &Req, media_type: &str) -> bool {
    let Some(accept) = r.header("accept").filter(|a| !a.trim().is_empty()) else {
        return true;
    };
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .collect();
    types
        .iter()
        .any(|t| *t == media_type || *t == "*/*" || *t == "application/*")
        // Clients that list no manifest type at all (plain `application/json`) get what is stored.
        || !types.iter().any(|t| t.starts_with("application/vnd."))
}

fn get_manifest(r: &Req, reg: &Reg, image: &str, reference: &str) -> Out {
    need(r, reg, image, Action::Read)?;
    let unknown = || RegistryError::new(Code::ManifestUnknown).detail(json!({ "manifest": image }));
    if Digest::parse(reference).is_none() && !docker::valid_tag(reference) {
        return Err(unknown().into());
    }
    let (sha256, size, media_type, digest) = {
        let state = r.state.store.read();
        let repo = state.repo(&reg.repo).ok_or_else(unknown)?;
        let (path, item) = docker::find_manifest(repo, image, reference).ok_or_else(unknown)?;
        if !r.may(&state, Action::Read, &reg.repo, &path) {
            return Err(RegistryError::new(Code::Denied).into());
        }
        let f = item.file.as_ref().ok_or_else(unknown)?;
        let prop = |k: &str| item.props.first(k).map(str::to_string);
        (
            f.sha256,
            f.size,
            prop("artifactory.content-type").unwrap_or_else(|| docker::OCI_MANIFEST.into()),
            prop("docker.manifest.digest").unwrap_or_else(|| format!("sha256:{}", f.sha256)),
        )
    };
    if !accepts(r, &media_type) {
        return Err(unknown()
            .message(format!(
                "The manifest is a {media_type}, which the request's Accept header does not list."
            ))
            .into());
    }
    let mut resp = if r.method == Method::HEAD {
        empty(StatusCode::OK)
    } else {
        let bytes = std::fs::read(r.state.store.blobs.path(&sha256.hex())).map_err(internal)?;
        respond(StatusCode::OK, &media_type, bytes)
    };
    set_header(&mut resp, header::CONTENT_TYPE, &media_type);
    set_header(&mut resp, header::CONTENT_LENGTH, &size.to_string());
    set_header(
        &mut resp,
        header::HeaderName::from_static("docker-content-digest"),
        &digest,
    );
    set_header(&mut resp, header::ETAG, &format!("\"{digest}\""));
    Ok(resp)
}

/// Stores `bytes` as a blob (small documents: manifests).
async fn store_bytes(r: &Req, bytes: Bytes) -> Result<BlobInfo, ApiError> {
    let s = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(bytes)]);
    r.state
        .store
        .blobs
        .ingest(s, None)
        .await
        .map_err(|e| match e {
            IngestError::Io(e) => internal(e),
            other => internal(format!("{other:?}")),
        })
}

fn file_data(info: &BlobInfo, mime: &str) -> FileData {
    FileData {
        size: info.size,
        sha1: info.sha1.as_str().into(),
        md5: info.md5.as_str().into(),
        sha256: info.sha256.as_str().into(),
        original: None,
        mime: mime.into(),
        stats: None,
    }
}

async fn put_manifest(r: &Req, reg: &Reg, image: &str, reference: &str, body: BodyStream) -> Out {
    let caller = need(r, reg, image, Action::Deploy)?;
    let by_digest = Digest::parse(reference);
    if by_digest.is_none() && !docker::usable_tag(reference) {
        return Err(RegistryError::new(Code::ManifestInvalid)
            .message("invalid tag")
            .detail(json!({ "tag": reference }))
            .into());
    }
    let bytes = read_small(body, docker::MAX_MANIFEST).await.map_err(|e| {
        if e.status == 413 {
            RegistryError::new(Code::SizeInvalid)
                .status(413)
                .message("manifest is larger than 4 MiB")
        } else {
            RegistryError::new(Code::ManifestInvalid).message("could not read the manifest")
        }
    })?;
    let m = docker::parse_manifest(&bytes, r.header("content-type"))?;
    let digest = Digest::sha256_of(&bytes);
    if let Some(d) = &by_digest {
        let matches = match d.algo {
            "sha256" => d.hex == digest.hex,
            _ => {
                use sha2::Digest as _;
                d.hex == hex::encode(sha2::Sha512::digest(&bytes))
            }
        };
        if !matches {
            return Err(RegistryError::new(Code::DigestInvalid)
                .detail(json!({ "digest": d.to_string() }))
                .into());
        }
    }
    let shown_digest = by_digest.clone().unwrap_or_else(|| digest.clone());
    let folder = docker::join(
        image,
        &match &by_digest {
            Some(d) => d.file_name(),
            None => reference.to_string(),
        },
    );
    // Every referenced blob (and child manifest) must be in this image already.
    let (blob_files, uploads_to_drop, exists, replaces) = {
        let state = r.state.store.read();
        let repo = state
            .repo(&reg.repo)
            .ok_or_else(|| RegistryError::new(Code::NameUnknown))?;
        let mut files = Vec::new();
        let mut drops = Vec::new();
        for d in &m.blobs {
            let (path, item) = docker::find_blob(repo, image, d).ok_or_else(|| {
                RegistryError::new(Code::ManifestBlobUnknown)
                    .detail(json!({ "digest": d.to_string() }))
            })?;
            let f = item
                .file
                .clone()
                .ok_or_else(|| RegistryError::new(Code::ManifestBlobUnknown))?;
            if !files
                .iter()
                .any(|(n, _): &(String, FileData)| *n == d.file_name())
            {
                files.push((d.file_name(), *f));
            }
            if path.starts_with(&format!("{image}/{UPLOADS}/")) && !drops.contains(&path) {
                drops.push(path);
            }
        }
        for d in &m.children {
            if docker::find_manifest(repo, image, &d.to_string()).is_none() {
                return Err(RegistryError::new(Code::ManifestBlobUnknown)
                    .detail(json!({ "digest": d.to_string() }))
                    .into());
            }
        }
        // Replacing needs delete, unless the same manifest is pushed again (idempotent pushes). A
        // folder that is not a tag (a nested image, say) is never replaced by a tag.
        let exists = repo.items.contains_key(folder.as_str());
        let same = match docker::manifest_in(repo, &folder) {
            Some((_, m)) => m.file.as_ref().is_some_and(|f| f.sha256 == digest.hex),
            None if exists => {
                return Err(RegistryError::new(Code::ManifestInvalid)
                    .message(format!("'{folder}' is a folder that is not a tag"))
                    .into())
            }
            None => false,
        };
        (files, drops, exists, exists && !same)
    };
    if replaces {
        let state = r.state.store.read();
        if !r.may(&state, Action::Delete, &reg.repo, &folder) {
            return Err(RegistryError::new(Code::Denied)
                .message(format!(
                    "overwriting '{image}:{reference}' needs delete permission (user: '{}')",
                    caller.name
                ))
                .into());
        }
    }
    let _pin = r.state.store.blobs.pin().await;
    let info = store_bytes(r, bytes).await?;
    let now = r.now();
    let mut props = Props::default();
    props.add("artifactory.content-type", &m.media_type);
    props.add("docker.manifest", reference);
    props.add("docker.manifest.digest", &shown_digest.to_string());
    props.add("docker.manifest.type", &m.media_type);
    props.add("docker.repoName", image);
    props.add("sha256", &info.sha256);
    if let Some(s) = &m.subject {
        props.add("docker.manifest.subject", &s.to_string());
    }
    if let Some(t) = &m.artifact_type {
        props.add("oci.artifact.type", t);
    }
    let file_name = if m.list {
        "list.manifest.json"
    } else {
        "manifest.json"
    };
    let put = |path: String, file: FileData, props: Props| Mutation::PutFile {
        repo: reg.repo.clone(),
        path,
        file,
        props,
        now,
        user: caller.name.clone(),
        stamp: Stamp::default(),
    };
    let mut steps = Vec::new();
    if exists {
        steps.push(Mutation::Delete {
            repo: reg.repo.clone(),
            path: folder.clone(),
        });
    }
    steps.push(put(
        docker::join(&folder, file_name),
        file_data(&info, "application/json"),
        props,
    ));
    for (name, f) in blob_files {
        let mut p = Props::default();
        p.add("sha256", &f.sha256.hex());
        steps.push(put(docker::join(&folder, &name), f, p));
    }
    for path in uploads_to_drop {
        steps.push(Mutation::Delete {
            repo: reg.repo.clone(),
            path,
        });
    }
    r.state
        .store
        .commit(Mutation::Batch { steps })
        .await
        .map_err(|e| internal(format!("{e:?}")))?;
    let mut resp = empty(StatusCode::CREATED);
    set_header(
        &mut resp,
        header::LOCATION,
        &format!("{}/{image}/manifests/{shown_digest}", reg.prefix),
    );
    set_header(
        &mut resp,
        header::HeaderName::from_static("docker-content-digest"),
        &shown_digest.to_string(),
    );
    if let Some(s) = &m.subject {
        set_header(
            &mut resp,
            header::HeaderName::from_static("oci-subject"),
            &s.to_string(),
        );
    }
    Ok(resp)
}

async fn delete_manifest(r: &Req, reg: &Reg, image: &str, reference: &str) -> Out {
    need(r, reg, image, Action::Delete)?;
    let unknown = || RegistryError::new(Code::ManifestUnknown).detail(json!({ "manifest": image }));
    if Digest::parse(reference).is_none() && !docker::usable_tag(reference) {
        return Err(unknown().into());
    }
    let folders: Vec<String> = {
        let state = r.state.store.read();
        let repo = state.repo(&reg.repo).ok_or_else(unknown)?;
        match Digest::parse(reference) {
            // By digest: every tag (and digest) folder holding that manifest.
            Some(d) => {
                // The manifest's content once, then every tag folder holding the same content.
                let content = docker::find_manifest(repo, image, &d.to_string())
                    .and_then(|(_, m)| m.file.as_ref().map(|f| f.sha256));
                repo.subtree(image)
                    .filter(|(k, i)| {
                        (k.ends_with("/manifest.json") || k.ends_with("/list.manifest.json"))
                            && docker::in_image(image, k)
                            && i.file.as_ref().map(|f| &f.sha256) == content.as_ref()
                            && content.is_some()
                    })
                    .filter_map(|(k, _)| k.rsplit_once('/').map(|(f, _)| f.to_string()))
                    .collect()
            }
            None => docker::manifest_in(repo, &docker::join(image, reference))
                .map(|_| vec![docker::join(image, reference)])
                .unwrap_or_default(),
        }
    };
    if folders.is_empty() {
        return Err(unknown().into());
    }
    {
        let state = r.state.store.read();
        if folders
            .iter()
            .any(|f| !r.may(&state, Action::Delete, &reg.repo, f))
        {
            return Err(RegistryError::new(Code::Denied).into());
        }
    }
    let steps = folders
        .into_iter()
        .map(|path| Mutation::Delete {
            repo: reg.repo.clone(),
            path,
        })
        .collect();
    r.state
        .store
        .commit(Mutation::Batch { steps })
        .await
        .map_err(|e| internal(format!("{e:?}")))?;
    Ok(empty(StatusCode::ACCEPTED))
}

fn referrers(r: &Req, reg: &Reg, image: &str, digest: &str) -> Out {
    need(r, reg, image, Action::Read)?;
    let d = Digest::parse(digest).ok_or_else(|| {
        RegistryError::new(Code::DigestInvalid).detail(json!({ "digest": digest }))
    })?;
    let filter = r.query.get("artifactType").map(str::to_string);
    let subject = d.to_string();
    let rows: Vec<Value> = {
        let state = r.state.store.read();
        let repo = state
            .repo(&reg.repo)
            .ok_or_else(|| RegistryError::new(Code::NameUnknown))?;
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for (key, item) in repo.subtree(image) {
            if !docker::in_image(image, key) || !r.may(&state, Action::Read, &reg.repo, key) {
                continue;
            }
            let prop = |k: &str| item.props.first(k).map(str::to_string);
            if prop("docker.manifest.subject").as_deref() != Some(subject.as_str()) {
                continue;
            }
            let Some(f) = &item.file else { continue };
            let artifact_type = prop("oci.artifact.type");
            if filter.is_some() && artifact_type != filter {
                continue;
            }
            let dg = prop("docker.manifest.digest").unwrap_or_default();
            if seen.contains(&dg) {
                continue;
            }
            seen.push(dg.clone());
            let mut row = json!({
                "mediaType": prop("docker.manifest.type").unwrap_or_default(),
                "digest": dg,
                "size": f.size,
            });
            if let Some(t) = artifact_type {
                row["artifactType"] = json!(t);
            }
            // Annotations come from the stored manifest itself.
            if let Ok(bytes) = std::fs::read(r.state.store.blobs.path(&f.sha256.hex())) {
                if let Some(a) = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("annotations").cloned())
                {
                    row["annotations"] = a;
                }
            }
            out.push(row);
        }
        out
    };
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

// ---------- blobs ----------

fn parse_digest(d: &str) -> Result<Digest, RegistryError> {
    Digest::parse(d)
        .ok_or_else(|| RegistryError::new(Code::DigestInvalid).detail(json!({ "digest": d })))
}

fn get_blob(r: &Req, reg: &Reg, image: &str, digest: &str) -> Out {
    need(r, reg, image, Action::Read)?;
    let d = parse_digest(digest)?;
    let f = {
        let state = r.state.store.read();
        let repo = state
            .repo(&reg.repo)
            .ok_or_else(|| RegistryError::new(Code::NameUnknown))?;
        // A copy of the blob the caller may read (an exclude pattern may hide some tag folders).
        let found = repo
            .subtree(image)
            .filter(|(k, i)| {
                k.ends_with(&format!("/{}", d.file_name()))
                    && docker::in_image(image, k)
                    && !i.is_folder()
                    && r.may(&state, Action::Read, &reg.repo, k)
            })
            .find_map(|(_, i)| i.file.clone());
        found.ok_or_else(|| {
            RegistryError::new(Code::BlobUnknown).detail(json!({ "digest": digest }))
        })?
    };
    let size = f.size;
    let (status, slice, range) = match r.header("range").map(|h| parse_ranges(h, size)) {
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
        let file = r
            .state
            .store
            .blobs
            .open_blob(&f.sha256.hex())
            .map_err(internal)?;
        let mut resp = warp::reply::Reply::into_response(warp::reply::stream(body_stream_while(
            file,
            vec![Part::Slice(slice.0, slice.1)],
            Some(Busy::new(&r.state.busy)),
        )));
        *resp.status_mut() = status;
        resp
    };
    set_header(&mut resp, header::CONTENT_TYPE, "application/octet-stream");
    set_header(&mut resp, header::CONTENT_LENGTH, &slice.1.to_string());
    set_header(&mut resp, header::ACCEPT_RANGES, "bytes");
    set_header(
        &mut resp,
        header::HeaderName::from_static("docker-content-digest"),
        &d.to_string(),
    );
    set_header(&mut resp, header::ETAG, &format!("\"{d}\""));
    if let Some(cr) = range {
        set_header(&mut resp, header::CONTENT_RANGE, &cr);
    }
    Ok(resp)
}

async fn delete_blob(r: &Req, reg: &Reg, image: &str, digest: &str) -> Out {
    need(r, reg, image, Action::Delete)?;
    let d = parse_digest(digest)?;
    let path = docker::join(&docker::join(image, UPLOADS), &d.file_name());
    let (in_uploads, anywhere) = {
        let state = r.state.store.read();
        let repo = state
            .repo(&reg.repo)
            .ok_or_else(|| RegistryError::new(Code::NameUnknown))?;
        (
            repo.items.contains_key(path.as_str()),
            docker::find_blob(repo, image, &d).is_some(),
        )
    };
    if !anywhere {
        return Err(RegistryError::new(Code::BlobUnknown)
            .detail(json!({ "digest": digest }))
            .into());
    }
    if !in_uploads {
        return Err(RegistryError::new(Code::Unsupported)
            .message("the blob is referenced by a manifest; delete the manifest instead")
            .into());
    }
    r.state
        .store
        .commit(Mutation::Delete {
            repo: reg.repo.clone(),
            path,
        })
        .await
        .map_err(|e| internal(format!("{e:?}")))?;
    Ok(empty(StatusCode::ACCEPTED))
}

// ---------- uploads ----------

/// The headers of an upload in progress: where it continues, its id and what has arrived.
fn upload_headers(reg: &Reg, image: &str, id: &str, size: u64) -> [(&'static str, String); 3] {
    // Artifactory (like distribution) sends `0-0` before anything arrived.
    let range = if size == 0 {
        "0-0".to_string()
    } else {
        format!("0-{}", size - 1)
    };
    [
        (
            "location",
            format!("{}/{image}/blobs/uploads/{id}", reg.prefix),
        ),
        ("docker-upload-uuid", id.to_string()),
        ("range", range),
    ]
}

/// An empty reply with the headers of an upload in progress.
fn upload_reply(status: StatusCode, reg: &Reg, image: &str, id: &str, size: u64) -> Response {
    let mut resp = empty(status);
    for (k, v) in upload_headers(reg, image, id, size) {
        set_header(&mut resp, header::HeaderName::from_static(k), &v);
    }
    resp
}

/// Streams a request body into the blob store.
async fn ingest(r: &Req, body: BodyStream) -> Result<BlobInfo, ApiError> {
    let _busy = Busy::new(&r.state.busy);
    r.state
        .store
        .blobs
        .ingest_digests(body, r.state.config.max_upload, false)
        .await
        .map_err(|e| match e {
            IngestError::Body(m) => RegistryError::new(Code::BlobUploadInvalid)
                .message(format!("could not read the body: {m}"))
                .into(),
            IngestError::TooLarge => RegistryError::new(Code::SizeInvalid)
                .status(413)
                .message("blob is too large")
                .into(),
            IngestError::Io(e) => internal(e),
        })
}

async fn start_upload(r: &Req, reg: &Reg, image: &str, body: BodyStream) -> Out {
    let caller = need(r, reg, image, Action::Deploy)?;
    crate::docker::uploads::clean(&r.state).await;
    // Cross-repository mount: link a blob the caller may read elsewhere.
    if let (Some(m), Some(from)) = (r.query.get("mount"), r.query.get("from")) {
        let d = parse_digest(m)?;
        // Garbage collection must not remove the blob between finding it and linking it.
        let _pin = r.state.store.blobs.pin().await;
        let (from_repo, from_image) = match reg.prefix.starts_with("/v2/") {
            // Repository-path method: `from` names `<repo>/<image>`.
            true => match from.split_once('/') {
                Some((a, b)) => (a.to_string(), b.to_string()),
                None => (reg.repo.clone(), from.to_string()),
            },
            false => (reg.repo.clone(), from.to_string()),
        };
        let found = {
            let state = r.state.store.read();
            state
                .repo(&from_repo)
                // A local Docker repository and a valid image, and read on the blob actually found.
                .filter(|rp| {
                    docker::valid_name(&from_image)
                        && rp.config.package_type == PackageType::Docker
                        && rp.is_local()
                })
                .and_then(|rp| docker::find_blob(rp, &from_image, &d))
                .filter(|(path, _)| r.may(&state, Action::Read, &from_repo, path))
                .and_then(|(_, i)| i.file.clone())
        };
        if let Some(f) = found {
            return link_blob(r, reg, image, &d, *f, &caller).await;
        }
    }
    if let Some(dg) = r.query.get("digest") {
        // Monolithic upload in the POST itself.
        let d = parse_digest(dg)?;
        let _pin = r.state.store.blobs.pin().await;
        let info = ingest(r, body).await?;
        return finish(r, reg, image, &d, info, &caller).await;
    }
    let id = r.state.uploads.start(&reg.repo, image, r.now());
    Ok(upload_reply(StatusCode::ACCEPTED, reg, image, &id, 0))
}

fn session(
    r: &Req,
    reg: &Reg,
    image: &str,
    id: &str,
) -> Result<crate::docker::uploads::Session, ApiError> {
    r.state.uploads.get(id, &reg.repo, image).ok_or_else(|| {
        RegistryError::new(Code::BlobUploadUnknown)
            .detail(json!({ "uuid": id }))
            .into()
    })
}

/// `Content-Range: <start>-<end>` (with or without `bytes `).
fn content_range(r: &Req) -> Result<Option<(u64, u64)>, RegistryError> {
    let Some(h) = r.header("content-range") else {
        return Ok(None);
    };
    let v = h
        .trim()
        .trim_start_matches("bytes")
        .trim()
        .trim_start_matches('=');
    let v = v.split('/').next().unwrap_or("");
    let bad = || {
        RegistryError::new(Code::BlobUploadInvalid).message(format!("invalid Content-Range: {h}"))
    };
    let (a, b) = v.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

async fn patch_upload(r: &Req, reg: &Reg, image: &str, id: &str, body: BodyStream) -> Out {
    need(r, reg, image, Action::Deploy)?;
    let s = session(r, reg, image, id)?;
    let range = content_range(r)?;
    if let Some((a, _)) = range {
        if a != s.size {
            let e = RegistryError::new(Code::BlobUploadInvalid)
                .status(416)
                .message(format!(
                    "chunk starts at {a} but {} bytes were received",
                    s.size
                ));
            let mut e = ApiError::from(e);
            for (k, v) in upload_headers(reg, image, id, s.size) {
                e = e.with_header(k, v);
            }
            return Err(e);
        }
    }
    let _pin = r.state.store.blobs.pin().await;
    let part = ingest(r, body).await?;
    if let Some((a, b)) = range {
        // `b - a` cannot overflow (b >= a); the length is one more.
        if part.size == 0 || part.size - 1 != b - a {
            return Err(RegistryError::new(Code::SizeInvalid)
                .message(format!(
                    "Content-Range says {}-{b}, {} bytes arrived",
                    a, part.size
                ))
                .into());
        }
    }
    let size = r
        .state
        .uploads
        .append(&r.state.store, id, s.size, part, r.now())
        .ok_or_else(|| {
            RegistryError::new(Code::BlobUploadInvalid)
                .status(416)
                .message("another chunk arrived for this upload at the same offset")
        })?;
    Ok(upload_reply(StatusCode::ACCEPTED, reg, image, id, size))
}

async fn finish_upload(r: &Req, reg: &Reg, image: &str, id: &str, body: BodyStream) -> Out {
    let caller = need(r, reg, image, Action::Deploy)?;
    let s = session(r, reg, image, id)?;
    let d = parse_digest(r.query.get("digest").unwrap_or(""))?;
    let _pin = r.state.store.blobs.pin().await;
    // A last chunk may come with the PUT.
    let last = ingest(r, body).await?;
    let mut parts = s.parts.clone();
    if last.size > 0 || parts.is_empty() {
        parts.push(last);
    }
    let info = if parts.len() == 1 {
        parts.remove(0)
    } else {
        concat(r, &parts).await?
    };
    let out = finish(r, reg, image, &d, info, &caller).await;
    // The session ends either way: a wrong digest is final (the client starts again).
    r.state.uploads.end(&r.state.store, id);
    out
}

/// Concatenates stored parts into one new blob.
async fn concat(r: &Req, parts: &[BlobInfo]) -> Result<BlobInfo, ApiError> {
    // Each part is opened only when the stream reaches it (a session may have many parts).
    let paths: Vec<std::path::PathBuf> = parts
        .iter()
        .map(|p| r.state.store.blobs.path(&p.sha256))
        .collect();
    let stream = futures_util::stream::iter(paths)
        .then(|path| async move { tokio::fs::File::open(path).await })
        .map(|opened| match opened {
            Ok(f) => tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024).left_stream(),
            Err(e) => futures_util::stream::once(async move { Err(e) }).right_stream(),
        })
        .flatten();
    r.state
        .store
        .blobs
        .ingest(stream, None)
        .await
        .map_err(|e| internal(format!("{e:?}")))
}

/// Checks the digest of an uploaded blob and records it in `<image>/_uploads/`.
async fn finish(
    r: &Req,
    reg: &Reg,
    image: &str,
    d: &Digest,
    info: BlobInfo,
    caller: &Caller,
) -> Out {
    let ok = match d.algo {
        "sha256" => info.sha256 == d.hex,
        _ => {
            let path = r.state.store.blobs.path(&info.sha256);
            let hex = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
                use sha2::Digest as _;
                use std::io::Read;
                let mut f = std::fs::File::open(path)?;
                let mut h = sha2::Sha512::new();
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                Ok(hex::encode(h.finalize()))
            })
            .await
            .map_err(internal)?
            .map_err(internal)?;
            hex == d.hex
        }
    };
    if !ok {
        return Err(RegistryError::new(Code::DigestInvalid)
            .detail(json!({ "digest": d.to_string(), "actual": format!("sha256:{}", info.sha256) }))
            .into());
    }
    link_blob(
        r,
        reg,
        image,
        d,
        file_data(&info, "application/octet-stream"),
        caller,
    )
    .await
}

async fn link_blob(
    r: &Req,
    reg: &Reg,
    image: &str,
    d: &Digest,
    file: FileData,
    caller: &Caller,
) -> Out {
    let mut props = Props::default();
    props.add("sha256", &file.sha256.hex());
    let m = Mutation::PutFile {
        repo: reg.repo.clone(),
        path: docker::join(&docker::join(image, UPLOADS), &d.file_name()),
        file,
        props,
        now: r.now(),
        user: caller.name.clone(),
        stamp: Stamp::default(),
    };
    r.state
        .store
        .commit(m)
        .await
        .map_err(|e| internal(format!("{e:?}")))?;
    let mut resp = empty(StatusCode::CREATED);
    set_header(
        &mut resp,
        header::LOCATION,
        &format!("{}/{image}/blobs/{d}", reg.prefix),
    );
    set_header(
        &mut resp,
        header::HeaderName::from_static("docker-content-digest"),
        &d.to_string(),
    );
    Ok(resp)
}

fn upload_status(r: &Req, reg: &Reg, image: &str, id: &str) -> Out {
    need(r, reg, image, Action::Deploy)?;
    let s = session(r, reg, image, id)?;
    Ok(upload_reply(StatusCode::NO_CONTENT, reg, image, id, s.size))
}

fn cancel_upload(r: &Req, reg: &Reg, image: &str, id: &str) -> Out {
    need(r, reg, image, Action::Deploy)?;
    session(r, reg, image, id)?;
    r.state.uploads.end(&r.state.store, id);
    Ok(empty(StatusCode::NO_CONTENT))
}

// ---------- promote and Bintray ----------

/// `POST /api/docker/<repo>/v2/promote`: copies or moves an image (one tag, or all of them) to
/// another repository, optionally renaming image and tag.
async fn promote(r: &Req, repo: &str, body: BodyStream) -> Result<Response, ApiError> {
    let caller = r.require_user()?;
    let bytes = read_small(body, 64 << 10).await?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Could not parse the JSON body: {e}")))?;
    let s = |k: &str| {
        doc.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let target = s("targetRepo").ok_or_else(|| ApiError::bad_request("targetRepo is required"))?;
    let image = s("dockerRepository")
        .ok_or_else(|| ApiError::bad_request("dockerRepository is required"))?;
    let target_image = s("targetDockerRepository").unwrap_or_else(|| image.clone());
    let tag = s("tag");
    let target_tag = s("targetTag").or_else(|| tag.clone());
    let copy = doc.get("copy").and_then(Value::as_bool).unwrap_or(false);
    if !docker::valid_name(&image) || !docker::valid_name(&target_image) {
        return Err(ApiError::bad_request("Invalid docker repository name"));
    }
    if tag.as_deref().is_some_and(|t| !docker::valid_tag(t))
        || target_tag.as_deref().is_some_and(|t| !docker::valid_tag(t))
    {
        return Err(ApiError::bad_request("Invalid tag name"));
    }
    if target_tag.is_some() && tag.is_none() {
        return Err(ApiError::bad_request("targetTag requires tag"));
    }
    let (src, dst) = match (&tag, &target_tag) {
        (Some(t), Some(tt)) => (docker::join(&image, t), docker::join(&target_image, tt)),
        _ => (image.clone(), target_image.clone()),
    };
    let manifests: Vec<String> = {
        let state = r.state.store.read();
        for key in [repo, target.as_str()] {
            let rp = state
                .repo(key)
                .ok_or_else(|| ApiError::not_found(format!("Repository {key} does not exist")))?;
            if rp.config.package_type != PackageType::Docker || !rp.is_local() {
                return Err(ApiError::bad_request(format!(
                    "Repository {key} is not a local Docker repository"
                )));
            }
        }
        let rp = state
            .repo(repo)
            .ok_or_else(|| ApiError::not_found("Unable to find item"))?;
        let found = match &tag {
            Some(_) => docker::manifest_in(rp, &src).is_some(),
            None => !docker::tags(rp, &image).is_empty(),
        };
        if !found {
            return Err(ApiError::not_found(format!(
                "Unable to find tag '{}' of image '{image}' in {repo}",
                tag.as_deref().unwrap_or("*")
            )));
        }
        if state
            .repo(&target)
            .is_some_and(|t| t.items.contains_key(dst.as_str()))
            && tag.is_some()
        {
            return Err(ApiError::conflict(format!(
                "Target tag '{target_image}:{}' already exists in {target}",
                target_tag.as_deref().unwrap_or("")
            )));
        }
        // A whole image promoted onto an existing one: tags it already has are not merged over.
        if tag.is_none() {
            if let Some(t) = state.repo(&target) {
                let clash = docker::tags(rp, &image)
                    .into_iter()
                    .find(|tg| docker::manifest_in(t, &docker::join(&target_image, tg)).is_some());
                if let Some(tg) = clash {
                    return Err(ApiError::conflict(format!(
                        "Target tag '{target_image}:{tg}' already exists in {target}"
                    )));
                }
            }
        }
        rp.subtree(&src)
            .filter(|(k, _)| k.ends_with("/manifest.json") || k.ends_with("/list.manifest.json"))
            .map(|(k, _)| format!("{dst}{}", &k[src.len()..]))
            .collect()
    };
    r.require_tree(Action::Read, repo, &src, |c| {
        ApiError::forbidden(format!("User {} may not read {repo}:{src}", c.name))
    })?;
    if !copy {
        r.require_tree(Action::Delete, repo, &src, |c| {
            ApiError::forbidden(format!(
                "User {} may not move {repo}:{src}: it needs delete permission",
                c.name
            ))
        })?;
    }
    r.require(Action::Deploy, &target, &dst, |c| {
        ApiError::forbidden(format!("User {} may not deploy to {target}:{dst}", c.name))
    })?;
    let now = r.now();
    let mut steps = vec![Mutation::Transfer {
        src_repo: repo.to_string(),
        src_path: src.clone(),
        dst_repo: target.clone(),
        dst_path: dst.clone(),
        mv: !copy,
        now,
        user: caller.name.clone(),
    }];
    for path in manifests {
        let mut set = Props::default();
        set.add("docker.repoName", &target_image);
        if let Some(tt) = &target_tag {
            set.add("docker.manifest", tt);
        }
        steps.push(Mutation::EditProps {
            repo: target.clone(),
            path,
            set,
            remove: vec![],
            recursive: false,
            now,
        });
    }
    r.state
        .store
        .commit(Mutation::Batch { steps })
        .await
        .map_err(|e| super::commit_error(e, |t| ApiError::conflict(format!("{t:?}"))))?;
    Ok(respond(
        StatusCode::OK,
        "text/plain",
        "Promotion ended successfully",
    ))
}
