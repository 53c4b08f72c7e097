//! The registry's operations on a repository: who may pull, push and delete (with the registry's
//! own 401s), tags and the catalog, manifests pushed, found and deleted, referrers, blobs, the
//! registry token and promotion. Writes that depend on what is there (a tag that is replaced, the
//! blobs a manifest names) are checked in the transaction that writes them.

use serde_json::{json, Value};

use super::{Code, Digest, RegistryError, UPLOADS};
use crate::app::{read_small, App, Body};
use crate::auth::{Action, Caller};
use crate::config::{PackageType, RepoClass};
use crate::error::{ApiError, BearerScope, Challenge};
use crate::store::{BlobInfo, FileData, IngestError, Mutation, Props, Stamp, State};

/// Where a registry request came in: the repository and the URL prefix its names hang under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reg {
    /// Repository key.
    pub repo: String,
    /// `/v2/<repo>` (repository-path method) or `<ctx>/api/docker/<repo>/v2` (API-path method).
    pub prefix: String,
}

impl Reg {
    /// Through the repository-path method (`/v2/<repo>/<image>`).
    pub(crate) fn at_root(&self) -> bool {
        self.prefix.starts_with("/v2/")
    }
}

/// Who asks the registry: the application and the caller as the request identified them (an
/// error for wrong credentials, which the registry answers with its own challenge).
#[derive(Clone, Copy)]
pub(crate) struct Asker<'a> {
    pub app: &'a crate::app::AppState,
    pub caller: &'a Result<Caller, ApiError>,
}

/// A 401 asking for a token with `actions` on `image` of `reg`, or at the root realm.
fn unauthorized(scope: Option<(&Reg, &str, &'static str)>) -> ApiError {
    let e = ApiError::from(RegistryError::new(Code::Unauthorized));
    match scope {
        Some((reg, image, actions)) => {
            e.challenge(Challenge::Bearer(Some(Box::new(BearerScope {
                repo: reg.repo.clone(),
                image: image.to_string(),
                actions,
            }))))
        }
        None => e,
    }
}

impl Asker<'_> {
    /// The caller, or the registry's 401 with a Bearer challenge.
    pub(crate) fn who(
        &self,
        scope: Option<(&Reg, &str, &'static str)>,
    ) -> Result<Caller, ApiError> {
        let caller = self
            .caller
            .as_ref()
            .map_err(|_| unauthorized(scope))?
            .clone();
        if caller.anonymous && !self.app.auth.anonymous_access() {
            return Err(unauthorized(scope));
        }
        Ok(caller)
    }

    /// Checks `action` on `image` of the request's repository (pull = read, push = deploy, delete).
    pub(crate) fn need(&self, reg: &Reg, image: &str, action: Action) -> Result<Caller, ApiError> {
        let actions = match action {
            Action::Read => "pull",
            Action::Delete => "delete",
            _ => "pull,push",
        };
        let scope = Some((reg, image, actions));
        let caller = self.who(scope)?;
        if self.may(&self.app.store.read(), &caller, action, &reg.repo, image) {
            return Ok(caller);
        }
        if caller.anonymous {
            return Err(unauthorized(scope));
        }
        Err(RegistryError::new(Code::Denied).into())
    }

    fn may(&self, state: &State, caller: &Caller, action: Action, repo: &str, path: &str) -> bool {
        self.app.auth.may(state, caller, action, repo, path)
    }
}

/// The repository must exist and be a Docker repository (a remote's pulls come from its cache
/// and upstream, a virtual's from its members).
pub(crate) fn check_repo(app: &App, repo: &str) -> Result<(), ApiError> {
    let state = app.store.read();
    let unknown = || RegistryError::new(Code::NameUnknown).detail(json!({ "repository": repo }));
    let rp = state.repo(repo).ok_or_else(unknown)?;
    if rp.config.package_type != PackageType::Docker {
        return Err(unknown()
            .message(format!("repository '{repo}' is not a Docker repository"))
            .into());
    }
    Ok(())
}

/// Where a push to `repo` goes: a local repository itself, a virtual's default deployment
/// repository; a remote takes no pushes.
pub(crate) fn deploy_target(app: &App, repo: &str) -> Result<String, ApiError> {
    check_repo(app, repo)?;
    let state = app.store.read();
    let Some(c) = state.repo(repo).map(|r| &r.config) else {
        return Err(RegistryError::new(Code::NameUnknown).into());
    };
    match c.rclass {
        RepoClass::Local => Ok(repo.to_string()),
        RepoClass::Remote => Err(RegistryError::new(Code::Unsupported)
            .message(format!(
                "repository '{repo}' is a remote repository: push to a local or virtual repository"
            ))
            .into()),
        RepoClass::Virtual => {
            let target = c
                .default_deployment_repo
                .as_deref()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    RegistryError::new(Code::Unsupported).message(format!(
                        "virtual repository '{repo}' has no default deployment repository"
                    ))
                })?;
            let local = state.repo(target).is_some_and(|t| {
                t.config.rclass == RepoClass::Local && t.config.package_type == PackageType::Docker
            });
            if !local {
                return Err(RegistryError::new(Code::Unsupported)
                    .message(format!(
                        "the default deployment repository of '{repo}' ('{target}') is not a local Docker repository"
                    ))
                    .into());
            }
            Ok(target.to_string())
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("registry: {e}");
    ApiError::internal(e)
}

/// Parses a digest the client sent.
pub(crate) fn parse_digest(d: &str) -> Result<Digest, RegistryError> {
    Digest::parse(d)
        .ok_or_else(|| RegistryError::new(Code::DigestInvalid).detail(json!({ "digest": d })))
}

/// The registry token: Basic credentials (password, API key or access token) or none (anonymous,
/// when allowed) give a short-lived token; returns the reply's body.
pub(crate) fn token(app: &App, caller: &Caller) -> Result<Value, ApiError> {
    // A registry token acts as the user: only callers who have all of the user's rights get one (a
    // token limited to groups, or without its user's admin rights, may not widen itself here).
    let state = app.store.read();
    if !caller.anonymous {
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
    let now = app.config.clock.now_ms();
    let expires = 3600;
    let t = app.auth.docker_token(
        &state.security.secret,
        &caller.name,
        now.div_euclid(1000) + expires,
    );
    Ok(
        json!({"token": t, "access_token": t, "expires_in": expires, "issued_at": crate::clock::iso(now)}),
    )
}

/// The tags of `image` the caller may read (in every member of a virtual); `NAME_UNKNOWN` when
/// there are none.
pub(crate) fn tags(ask: Asker<'_>, reg: &Reg, image: &str) -> Result<Vec<String>, ApiError> {
    let caller = ask.need(reg, image, Action::Read)?;
    let all = super::remote::tags(ask, &caller, reg, image);
    if all.is_empty() {
        return Err(RegistryError::new(Code::NameUnknown)
            .detail(json!({ "name": image }))
            .into());
    }
    Ok(all)
}

/// The images of one repository, or of every local Docker repository (`<repo>/<image>`) at the
/// root; only what the caller may read, sorted.
pub(crate) fn catalog(ask: Asker<'_>, reg: Option<&Reg>) -> Result<Vec<String>, ApiError> {
    let caller = ask.who(None)?;
    if let Some(g) = reg {
        check_repo(ask.app, &g.repo)?;
        return Ok(super::remote::images(ask, &caller, g));
    }
    let state = ask.app.store.read();
    let mut out = Vec::new();
    for repo in state.repos.values() {
        let c = &repo.config;
        if c.package_type != PackageType::Docker || c.rclass != RepoClass::Local {
            continue;
        }
        for image in super::catalog(repo) {
            if ask.may(&state, &caller, Action::Read, &c.key, &image) {
                out.push(format!("{}/{image}", c.key));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A stored manifest, as a pull serves it.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    /// Its content in the blob store.
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
    /// The digest it was pushed by.
    pub digest: String,
}

/// The manifest file `item` as a pull by `reference` serves it (by digest, the digest asked
/// for: the same bytes may also be known by another algorithm's digest).
pub(crate) fn stored(item: &crate::store::Item, reference: &str) -> Option<Stored> {
    let f = item.file.as_ref()?;
    let prop = |k: &str| item.props.first(k).map(str::to_string);
    let digest = match Digest::parse(reference) {
        Some(d) => d.to_string(),
        None => prop("docker.manifest.digest").unwrap_or_else(|| format!("sha256:{}", f.sha256)),
    };
    Some(Stored {
        sha256: f.sha256.to_string(),
        size: f.size,
        media_type: prop("artifactory.content-type").unwrap_or_else(|| super::OCI_MANIFEST.into()),
        digest,
    })
}

/// The manifest of `image` by tag or digest, as a client accepting the media types `accepted` gets
/// it (see [`negotiate`]), from the repository, a remote's cache or upstream, or a virtual's
/// members.
pub(crate) async fn manifest(
    ask: Asker<'_>,
    reg: &Reg,
    image: &str,
    reference: &str,
    accepted: &[&str],
) -> Result<Stored, ApiError> {
    let caller = ask.need(reg, image, Action::Read)?;
    let unknown = || RegistryError::new(Code::ManifestUnknown).detail(json!({ "manifest": image }));
    let by_digest = Digest::parse(reference);
    if by_digest.is_none() && !super::valid_tag(reference) {
        return Err(unknown().into());
    }
    let find = |reference: String| {
        let caller = caller.clone();
        async move { super::remote::find_manifest(ask, &caller, reg, image, &reference).await }
    };
    let stored = find(reference.to_string()).await?;
    match negotiate(accepted, &stored.media_type, by_digest.is_none()) {
        Served::AsStored => Ok(stored),
        Served::Refused(message) => Err(unknown().message(message).into()),
        Served::DefaultPlatform => {
            let bytes =
                std::fs::read(ask.app.store.blobs.path(&stored.sha256)).map_err(internal)?;
            let member = default_platform(&bytes).ok_or_else(|| {
                unknown().message(format!(
                    "The tag is a {}, which the request's Accept header does not list, and it has \
                     no {DEFAULT_OS}/{DEFAULT_ARCH} image to answer instead.",
                    stored.media_type
                ))
            })?;
            let m = find(member).await?;
            match negotiate(accepted, &m.media_type, false) {
                Served::AsStored => Ok(m),
                _ => Err(unknown().message(refusal(&m.media_type)).into()),
            }
        }
    }
}

/// How a stored manifest is served to a client, from the media ranges of its `Accept`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Served {
    /// As it is stored.
    AsStored,
    /// A manifest list or index asked for by tag by a client that accepts neither: the list's
    /// `linux/amd64` image instead (what a client from before manifest lists expects).
    DefaultPlatform,
    /// Not served: `404 MANIFEST_UNKNOWN` with this message.
    Refused(String),
}

/// The platform served to clients that do not accept manifest lists.
const DEFAULT_OS: &str = "linux";
const DEFAULT_ARCH: &str = "amd64";

/// Accept negotiation, as the distribution registry does it (the facts about JCR are silent; see
/// FIDELITY): a client that sends no `Accept`, or lists no `application/vnd.*` type (plain
/// `application/json`), or accepts `*/*` or `application/*`, gets what is stored. Docker schema 2
/// is served to every client (schema 1 is not converted to). An OCI manifest, or an OCI index or
/// manifest list by digest, must be listed; a list or index asked for by tag by a client that does
/// not list it gets its default platform's image.
pub(crate) fn negotiate(accepted: &[&str], stored: &str, by_tag: bool) -> Served {
    let lists_types = accepted.iter().any(|t| t.starts_with("application/vnd."));
    let listed = accepted
        .iter()
        .any(|t| t.eq_ignore_ascii_case(stored) || *t == "*/*" || *t == "application/*");
    if !lists_types || listed || stored == super::DOCKER_MANIFEST {
        return Served::AsStored;
    }
    let is_list = stored == super::DOCKER_LIST || stored == super::OCI_INDEX;
    if is_list && by_tag {
        Served::DefaultPlatform
    } else {
        Served::Refused(refusal(stored))
    }
}

fn refusal(media_type: &str) -> String {
    match media_type {
        super::OCI_MANIFEST => {
            "OCI manifest found, but accept header does not support OCI manifests".into()
        }
        super::OCI_INDEX => {
            "OCI index found, but accept header does not support OCI indexes".into()
        }
        super::DOCKER_LIST => {
            "Manifest list found, but accept header does not support manifest lists".into()
        }
        other => {
            format!("The manifest is a {other}, which the request's Accept header does not list.")
        }
    }
}

/// The digest of a list's or index's `linux/amd64` entry (the first, when several).
fn default_platform(list: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(list).ok()?;
    doc.get("manifests")?
        .as_array()?
        .iter()
        .find(|m| {
            let p = &m["platform"];
            p["os"] == DEFAULT_OS && p["architecture"] == DEFAULT_ARCH
        })
        .and_then(|m| m["digest"].as_str())
        .map(str::to_string)
}

/// Stores `bytes` as a blob (small documents: manifests).
async fn store_bytes(app: &App, bytes: bytes::Bytes) -> Result<BlobInfo, ApiError> {
    app.store
        .blobs
        .ingest_bytes(bytes)
        .await
        .map_err(|e| match e {
            IngestError::Io(e) => internal(e),
            other => internal(format!("{other:?}")),
        })
}

/// What a manifest push did.
#[derive(Debug)]
pub(crate) struct Pushed {
    /// The digest it is known by (the one pushed by, else its SHA-256).
    pub digest: Digest,
    /// Its `subject` (referrers API).
    pub subject: Option<Digest>,
}

/// Pushes a manifest by tag or digest: every blob (and child manifest) it names must be in the
/// image already; replacing a tag with another manifest needs delete permission.
pub(crate) async fn put_manifest(
    ask: Asker<'_>,
    reg: &Reg,
    image: &str,
    reference: &str,
    body: Body,
    content_type: Option<&str>,
) -> Result<Pushed, ApiError> {
    let caller = ask.need(reg, image, Action::Deploy)?;
    let by_digest = Digest::parse(reference);
    if by_digest.is_none() && !super::usable_tag(reference) {
        return Err(RegistryError::new(Code::ManifestInvalid)
            .message("invalid tag")
            .detail(json!({ "tag": reference }))
            .into());
    }
    let bytes = read_small(body, super::MAX_MANIFEST).await.map_err(|e| {
        if e.status == 413 {
            RegistryError::new(Code::SizeInvalid)
                .status(413)
                .message("manifest is larger than 4 MiB")
        } else {
            RegistryError::new(Code::ManifestInvalid).message("could not read the manifest")
        }
    })?;
    let m = super::parse_manifest(&bytes, content_type)?;
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
    let shown = by_digest.clone().unwrap_or_else(|| digest.clone());
    let folder = super::join(
        image,
        &match &by_digest {
            Some(d) => d.file_name(),
            None => reference.to_string(),
        },
    );
    let app = ask.app;
    let _pin = app.store.blobs.pin().await;
    let info = store_bytes(app, bytes).await?;
    let push = ManifestPush {
        reg,
        image,
        reference,
        folder: &folder,
        manifest: &m,
        digest: &digest,
        shown: &shown,
        info: &info,
        caller: &caller,
        now: app.config.clock.now_ms(),
    };
    app.store
        .transact(|state| push.steps(ask, state), |_| ())
        .await
        .map_err(|r| ApiError::refused(r, |t| internal(format!("{t:?}"))))?;
    Ok(Pushed {
        digest: shown,
        subject: m.subject,
    })
}

/// A manifest push, ready to be checked against the state and written.
struct ManifestPush<'a> {
    reg: &'a Reg,
    image: &'a str,
    reference: &'a str,
    /// The tag (or digest) folder.
    folder: &'a str,
    manifest: &'a super::Manifest,
    digest: &'a Digest,
    shown: &'a Digest,
    info: &'a BlobInfo,
    caller: &'a Caller,
    now: i64,
}

impl ManifestPush<'_> {
    /// The one record that writes the tag: its folder replaced, the manifest, a copy of each blob
    /// it names, and the finished uploads it claims removed.
    fn steps(&self, ask: Asker<'_>, state: &State) -> Result<Mutation, ApiError> {
        let (reg, image, folder) = (self.reg, self.image, self.folder);
        let repo = state
            .repo(&reg.repo)
            .ok_or_else(|| RegistryError::new(Code::NameUnknown))?;
        let mut files: Vec<(String, FileData)> = Vec::new();
        let mut drops = Vec::new();
        for d in &self.manifest.blobs {
            let blob_unknown = || {
                RegistryError::new(Code::ManifestBlobUnknown)
                    .detail(json!({ "digest": d.to_string() }))
            };
            let (path, item) = super::find_blob(repo, image, d).ok_or_else(blob_unknown)?;
            let f = item.file.clone().ok_or_else(blob_unknown)?;
            if !files.iter().any(|(n, _)| *n == d.file_name()) {
                files.push((d.file_name(), *f));
            }
            if path.starts_with(&format!("{image}/{UPLOADS}/")) && !drops.contains(&path) {
                drops.push(path);
            }
        }
        for d in &self.manifest.children {
            if super::find_manifest(repo, image, &d.to_string()).is_none() {
                return Err(RegistryError::new(Code::ManifestBlobUnknown)
                    .detail(json!({ "digest": d.to_string() }))
                    .into());
            }
        }
        // Replacing needs delete, unless the same manifest is pushed again (idempotent pushes). A
        // folder that is not a tag (a nested image, say) is never replaced by a tag.
        let exists = repo.items.contains_key(folder);
        let same = match super::manifest_in(repo, folder) {
            Some((_, m)) => m.file.as_ref().is_some_and(|f| f.sha256 == self.digest.hex),
            None if exists => {
                return Err(RegistryError::new(Code::ManifestInvalid)
                    .message(format!("'{folder}' is a folder that is not a tag"))
                    .into())
            }
            None => false,
        };
        if exists && !same && !ask.may(state, self.caller, Action::Delete, &reg.repo, folder) {
            return Err(RegistryError::new(Code::Denied)
                .message(format!(
                    "overwriting '{image}:{}' needs delete permission (user: '{}')",
                    self.reference, self.caller.name
                ))
                .into());
        }
        let mut steps = Vec::new();
        if exists {
            steps.push(Mutation::Delete {
                repo: reg.repo.clone(),
                path: folder.to_string(),
            });
        }
        let name = if self.manifest.list {
            "list.manifest.json"
        } else {
            "manifest.json"
        };
        steps.push(self.put(
            super::join(folder, name),
            FileData::of_blob(self.info, "application/json"),
            self.props(),
        ));
        for (name, f) in files {
            let mut p = Props::default();
            p.add("sha256", &f.sha256.hex());
            steps.push(self.put(super::join(folder, &name), f, p));
        }
        for path in drops {
            steps.push(Mutation::Delete {
                repo: reg.repo.clone(),
                path,
            });
        }
        Ok(Mutation::Batch { steps })
    }

    fn props(&self) -> Props {
        manifest_props(
            self.manifest,
            self.reference,
            self.shown,
            self.image,
            &self.info.sha256,
        )
    }

    fn put(&self, path: String, file: FileData, props: Props) -> Mutation {
        Mutation::PutFile {
            repo: self.reg.repo.clone(),
            path,
            file,
            props,
            now: self.now,
            user: self.caller.name.clone(),
            stamp: Stamp::default(),
        }
    }
}

/// The properties Artifactory puts on a manifest file of `image` known by `reference` (a tag or
/// digest) and `shown`, whose content is `sha256`.
pub(crate) fn manifest_props(
    m: &super::Manifest,
    reference: &str,
    shown: &Digest,
    image: &str,
    sha256: &str,
) -> Props {
    let mut props = Props::default();
    props.add("artifactory.content-type", &m.media_type);
    props.add("docker.manifest", reference);
    props.add("docker.manifest.digest", &shown.to_string());
    props.add("docker.manifest.type", &m.media_type);
    props.add("docker.repoName", image);
    props.add("sha256", sha256);
    if let Some(s) = &m.subject {
        props.add("docker.manifest.subject", &s.to_string());
    }
    if let Some(t) = &m.artifact_type {
        props.add("oci.artifact.type", t);
    }
    props
}

/// Deletes a manifest: by tag, that tag; by digest, every tag (and digest) folder holding it.
pub(crate) async fn delete_manifest(
    ask: Asker<'_>,
    reg: &Reg,
    image: &str,
    reference: &str,
) -> Result<(), ApiError> {
    let caller = ask.need(reg, image, Action::Delete)?;
    let unknown = || RegistryError::new(Code::ManifestUnknown).detail(json!({ "manifest": image }));
    if Digest::parse(reference).is_none() && !super::usable_tag(reference) {
        return Err(unknown().into());
    }
    let check = |state: &State| {
        let repo = state.repo(&reg.repo).ok_or_else(unknown)?;
        let folders: Vec<String> = match Digest::parse(reference) {
            Some(d) => {
                // The manifest's content once, then every folder holding the same content.
                let content = super::find_manifest(repo, image, &d.to_string())
                    .and_then(|(_, m)| m.file.as_ref().map(|f| f.sha256));
                repo.subtree(image)
                    .filter(|(k, i)| {
                        (k.ends_with("/manifest.json") || k.ends_with("/list.manifest.json"))
                            && super::in_image(image, k)
                            && content.is_some()
                            && i.file.as_ref().map(|f| &f.sha256) == content.as_ref()
                    })
                    .filter_map(|(k, _)| k.rsplit_once('/').map(|(f, _)| f.to_string()))
                    .collect()
            }
            None => super::manifest_in(repo, &super::join(image, reference))
                .map(|_| vec![super::join(image, reference)])
                .unwrap_or_default(),
        };
        if folders.is_empty() {
            return Err(unknown().into());
        }
        if folders
            .iter()
            .any(|f| !ask.may(state, &caller, Action::Delete, &reg.repo, f))
        {
            return Err(RegistryError::new(Code::Denied).into());
        }
        let steps = folders
            .into_iter()
            .map(|path| Mutation::Delete {
                repo: reg.repo.clone(),
                path,
            })
            .collect();
        Ok(Mutation::Batch { steps })
    };
    ask.app
        .store
        .transact(check, |_| ())
        .await
        .map_err(|r| ApiError::refused(r, |t| internal(format!("{t:?}"))))
}

/// The manifests whose `subject` is `digest`, as OCI index entries; `artifact_type` filters them.
pub(crate) fn referrers(
    ask: Asker<'_>,
    reg: &Reg,
    image: &str,
    digest: &str,
    artifact_type: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    let caller = ask.need(reg, image, Action::Read)?;
    let d = parse_digest(digest)?;
    let subject = d.to_string();
    let state = ask.app.store.read();
    let repo = state
        .repo(&reg.repo)
        .ok_or_else(|| RegistryError::new(Code::NameUnknown))?;
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (key, item) in repo.subtree(image) {
        if !super::in_image(image, key) || !ask.may(&state, &caller, Action::Read, &reg.repo, key) {
            continue;
        }
        let prop = |k: &str| item.props.first(k).map(str::to_string);
        if prop("docker.manifest.subject").as_deref() != Some(subject.as_str()) {
            continue;
        }
        let Some(f) = &item.file else { continue };
        // Annotations, and the config's media type, come from the stored manifest itself.
        let doc = std::fs::read(ask.app.store.blobs.path(&f.sha256.hex()))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or(Value::Null);
        // An image manifest without `artifactType` is listed by its config's media type (the
        // specification's MUST).
        let found_type = prop("oci.artifact.type").or_else(|| {
            doc.pointer("/config/mediaType")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        if artifact_type.is_some() && found_type.as_deref() != artifact_type {
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
        if let Some(t) = found_type {
            row["artifactType"] = json!(t);
        }
        if let Some(a) = doc.get("annotations") {
            row["annotations"] = a.clone();
        }
        out.push(row);
    }
    Ok(out)
}

/// A blob of `image` the caller may read, from the repository, a remote's cache or upstream, or
/// a virtual's members (`head`: a fetch from upstream is waited for, not streamed).
pub(crate) async fn blob(
    ask: Asker<'_>,
    reg: &Reg,
    image: &str,
    digest: &str,
    head: bool,
) -> Result<(Digest, super::remote::Blob), ApiError> {
    let caller = ask.need(reg, image, Action::Read)?;
    let d = parse_digest(digest)?;
    let found = super::remote::find_blob(ask, &caller, reg, image, &d, head).await?;
    Ok((d, found))
}

/// Deletes a finished upload no manifest references yet (a blob a manifest names goes with the
/// manifest).
pub(crate) async fn delete_blob(
    ask: Asker<'_>,
    reg: &Reg,
    image: &str,
    digest: &str,
) -> Result<(), ApiError> {
    ask.need(reg, image, Action::Delete)?;
    let d = parse_digest(digest)?;
    let path = super::join(&super::join(image, UPLOADS), &d.file_name());
    let check = |state: &State| {
        let repo = state
            .repo(&reg.repo)
            .ok_or_else(|| RegistryError::new(Code::NameUnknown))?;
        if super::find_blob(repo, image, &d).is_none() {
            return Err(RegistryError::new(Code::BlobUnknown)
                .detail(json!({ "digest": digest }))
                .into());
        }
        if !repo.items.contains_key(path.as_str()) {
            return Err(RegistryError::new(Code::Unsupported)
                .message("the blob is referenced by a manifest; delete the manifest instead")
                .into());
        }
        Ok(Mutation::Delete {
            repo: reg.repo.clone(),
            path: path.clone(),
        })
    };
    ask.app
        .store
        .transact(check, |_| ())
        .await
        .map_err(|r| ApiError::refused(r, |t| internal(format!("{t:?}"))))
}

/// A promotion: an image (one tag, or all of them) copied or moved to another repository,
/// optionally renamed.
#[derive(Debug)]
pub(crate) struct Promotion {
    pub target: String,
    pub image: String,
    pub target_image: String,
    pub tag: Option<String>,
    pub target_tag: Option<String>,
    pub copy: bool,
}

impl Promotion {
    /// Reads the promote document.
    pub(crate) fn parse(doc: &Value) -> Result<Promotion, ApiError> {
        let s = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let target =
            s("targetRepo").ok_or_else(|| ApiError::bad_request("targetRepo is required"))?;
        let image = s("dockerRepository")
            .ok_or_else(|| ApiError::bad_request("dockerRepository is required"))?;
        let target_image = s("targetDockerRepository").unwrap_or_else(|| image.clone());
        let tag = s("tag");
        let target_tag = s("targetTag").or_else(|| tag.clone());
        if !super::valid_name(&image) || !super::valid_name(&target_image) {
            return Err(ApiError::bad_request("Invalid docker repository name"));
        }
        if tag.as_deref().is_some_and(|t| !super::valid_tag(t))
            || target_tag.as_deref().is_some_and(|t| !super::valid_tag(t))
        {
            return Err(ApiError::bad_request("Invalid tag name"));
        }
        if target_tag.is_some() && tag.is_none() {
            return Err(ApiError::bad_request("targetTag requires tag"));
        }
        Ok(Promotion {
            target,
            image,
            target_image,
            tag,
            target_tag,
            copy: doc.get("copy").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// The source and target folders (a tag, or the whole image).
    fn folders(&self) -> (String, String) {
        match (&self.tag, &self.target_tag) {
            (Some(t), Some(tt)) => (
                super::join(&self.image, t),
                super::join(&self.target_image, tt),
            ),
            _ => (self.image.clone(), self.target_image.clone()),
        }
    }
}

/// Promotes an image from `repo`, as one record: the transfer and the new names on its manifests.
pub(crate) async fn promote(
    app: &App,
    caller: &Caller,
    repo: &str,
    p: &Promotion,
) -> Result<(), ApiError> {
    app.store
        .transact(|state| promotion(app, state, caller, repo, p), |_| ())
        .await
        .map_err(|r| ApiError::refused(r, |t| ApiError::conflict(format!("{t:?}"))))
}

fn promotion(
    app: &App,
    state: &State,
    caller: &Caller,
    repo: &str,
    p: &Promotion,
) -> Result<Mutation, ApiError> {
    let (src, dst) = p.folders();
    let (target, target_image) = (&p.target, &p.target_image);
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
    let found = match &p.tag {
        Some(_) => super::manifest_in(rp, &src).is_some(),
        None => !super::tags(rp, &p.image).is_empty(),
    };
    if !found {
        return Err(ApiError::not_found(format!(
            "Unable to find tag '{}' of image '{}' in {repo}",
            p.tag.as_deref().unwrap_or("*"),
            p.image
        )));
    }
    let clash = |tag: &str| {
        ApiError::conflict(format!(
            "Target tag '{target_image}:{tag}' already exists in {target}"
        ))
    };
    let t = state.repo(target);
    if p.tag.is_some() && t.is_some_and(|t| t.items.contains_key(dst.as_str())) {
        return Err(clash(p.target_tag.as_deref().unwrap_or("")));
    }
    // A whole image promoted onto an existing one: tags it already has are not merged over.
    if let (None, Some(t)) = (&p.tag, t) {
        if let Some(tg) = super::tags(rp, &p.image)
            .into_iter()
            .find(|tg| super::manifest_in(t, &super::join(target_image, tg)).is_some())
        {
            return Err(clash(&tg));
        }
    }
    let manifests: Vec<String> = rp
        .subtree(&src)
        .filter(|(k, _)| k.ends_with("/manifest.json") || k.ends_with("/list.manifest.json"))
        .map(|(k, _)| format!("{dst}{}", &k[src.len()..]))
        .collect();
    let auth = &app.auth;
    auth.require_tree(state, caller, Action::Read, repo, &src, || {
        ApiError::forbidden(format!("User {} may not read {repo}:{src}", caller.name))
    })?;
    if !p.copy {
        auth.require_tree(state, caller, Action::Delete, repo, &src, || {
            ApiError::forbidden(format!(
                "User {} may not move {repo}:{src}: it needs delete permission",
                caller.name
            ))
        })?;
    }
    auth.require(state, caller, Action::Deploy, target, &dst, || {
        ApiError::forbidden(format!(
            "User {} may not deploy to {target}:{dst}",
            caller.name
        ))
    })?;
    let now = app.config.clock.now_ms();
    let mut steps = vec![Mutation::Transfer {
        src_repo: repo.to_string(),
        src_path: src.clone(),
        dst_repo: target.clone(),
        dst_path: dst.clone(),
        mv: !p.copy,
        now,
        user: caller.name.clone(),
    }];
    for path in manifests {
        let mut set = Props::default();
        set.add("docker.repoName", target_image);
        if let Some(tt) = &p.target_tag {
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
    Ok(Mutation::Batch { steps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::uploads::{self, Started};
    use crate::testing::{admin, app, body};

    fn digest_of(b: &[u8]) -> String {
        Digest::sha256_of(b).to_string()
    }

    #[tokio::test]
    async fn an_image_is_pushed_tagged_found_promoted_and_deleted() {
        let app = app();
        let a = admin(&app).await;
        let who = Ok(a.clone());
        let ask = Asker {
            app: &app,
            caller: &who,
        };
        let reg = Reg {
            repo: "docker-local".into(),
            prefix: "/v2/docker-local".into(),
        };
        let (config, layer) = (br#"{"os":"linux"}"#.as_slice(), b"layer bytes".as_slice());
        let doc = json!({
            "schemaVersion": 2, "mediaType": super::super::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": digest_of(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": layer.len(), "digest": digest_of(layer)}],
        })
        .to_string();
        let doc = doc.as_bytes();
        // A manifest naming blobs that are not there is refused, and nothing is tagged.
        let e = put_manifest(ask, &reg, "app", "1.0", body(doc), None)
            .await
            .unwrap_err();
        assert_eq!(e.status, 400);
        assert!(tags(ask, &reg, "app").is_err());
        for blob in [config, layer] {
            let d = digest_of(blob);
            let s = uploads::start(ask, &reg, "app", None, Some(&d), body(blob))
                .await
                .unwrap();
            assert!(matches!(s, Started::Linked(_)));
        }
        let pushed = put_manifest(ask, &reg, "app", "1.0", body(doc), None)
            .await
            .unwrap();
        assert_eq!(pushed.digest.to_string(), digest_of(doc));
        assert_eq!(tags(ask, &reg, "app").unwrap(), ["1.0"]);
        let m = manifest(ask, &reg, "app", &pushed.digest.to_string(), &[])
            .await
            .unwrap();
        assert_eq!(m.media_type, super::super::OCI_MANIFEST);
        // Promoted as a copy under another tag, then the original deleted by digest.
        let p = Promotion::parse(&json!({"targetRepo": "docker-local", "dockerRepository": "app", "tag": "1.0", "targetTag": "stable", "copy": true})).unwrap();
        promote(&app, &a, "docker-local", &p).await.unwrap();
        assert_eq!(tags(ask, &reg, "app").unwrap(), ["1.0", "stable"]);
        delete_manifest(ask, &reg, "app", &pushed.digest.to_string())
            .await
            .unwrap();
        assert!(tags(ask, &reg, "app").is_err());
    }

    #[test]
    fn promotions_are_checked_before_anything_is_looked_up() {
        let e = Promotion::parse(&json!({"targetRepo": "x"})).unwrap_err();
        assert_eq!(e.message(), "dockerRepository is required");
        let e = Promotion::parse(
            &json!({"targetRepo": "x", "dockerRepository": "a", "targetTag": "t"}),
        )
        .unwrap_err();
        assert_eq!(e.message(), "targetTag requires tag");
        let e = Promotion::parse(&json!({"targetRepo": "x", "dockerRepository": "A"})).unwrap_err();
        assert_eq!(e.message(), "Invalid docker repository name");
    }
}
