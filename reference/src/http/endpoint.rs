//! The endpoint table. Every request is parsed once, here, into an [`Endpoint`]: one enum per API
//! area, each variant carrying its catalogue ids (`fixtures/endpoints.toml`) and its [`Access`] rule,
//! the request's typed arguments, and nothing else. Routing is data: the catalogue's endpoints that
//! the server does not implement (`reference = false`) are read from the catalogue itself and
//! answer an honest 501, and a test holds the enums and the catalogue's `reference = true` flags
//! equal both ways.
//!
//! Parsing looks at the method, the raw path and the query keywords (`?properties`, `?list`,
//! `?stats`, ...), as Artifactory routes; a path that belongs to an endpoint but comes with another
//! method is a 405 in the endpoint's family. Paths are matched raw and decoded once by
//! [`super::path`].

use std::sync::LazyLock;

use warp::http::Method;

use super::headers::Headers;

use super::path::{self, RepoPath};
use super::Query;
use crate::auth::admin::Kind;
use crate::auth::Action;
use crate::docker::registry::Reg;
use crate::docker::{self, Code, RegistryError, Route};
use crate::error::ApiError;
use crate::messages as msg;

/// Who may call an endpoint. The router checks it once, before the handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone, anonymous too even with anonymous access off (ping); wrong credentials still fail.
    Anyone,
    /// Authenticated callers, and anonymous ones when anonymous access is on.
    User,
    /// Authenticated callers only: anonymous ones get the 401 challenge.
    Named,
    /// Administrators: anonymous callers get the 401 challenge, others a 403 `Forbidden`.
    Admin,
    /// As `User`; the handler then checks the action on the path it resolves, in the same
    /// transaction as the write it guards (the forbidden messages name the path).
    Path(Action),
    /// The endpoint's family answers refusals in its own shape (the registry's Bearer challenges,
    /// the Access service, API keys, the token endpoint): the handler checks.
    Own,
}

/// Declares an area's endpoint enum with each variant's catalogue ids and access rule, and
/// `IDS`, every id the area routes (so the catalogue test reads the same declaration the router
/// uses).
macro_rules! endpoints {
    (
        $(#[$meta:meta])*
        enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $var:ident $({ $($field:ident : $ty:ty),* $(,)? })? => [$($id:literal),*], $access:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub(crate) enum $name {
            $( $(#[$vmeta])* $var $({ $($field: $ty),* })?, )*
        }

        impl $name {
            /// Every catalogue id this area routes.
            #[cfg(test)]
            pub(crate) const IDS: &'static [&'static str] = &[$($($id),*),*];

            /// The catalogue ids of this endpoint (several when one request shape serves several
            /// catalogue entries, such as file and folder info).
            #[cfg(test)]
            pub(crate) fn ids(&self) -> &'static [&'static str] {
                match self { $( $name::$var { .. } => &[$($id),*], )* }
            }

            /// Who may call it.
            pub(crate) fn access(&self) -> Access {
                #[allow(unused_imports)]
                use Access::*;
                match self { $( $name::$var { .. } => $access, )* }
            }
        }
    };
}

endpoints! {
    /// `/api/system/*`.
    enum System {
        Ping => ["system.ping"], Anyone;
        Version => ["system.version"], User;
        Gc => ["system.gc"], Admin;
        Encrypt => ["system.encrypt"], Admin;
        Decrypt => ["system.decrypt"], Admin;
        ServiceId => ["system.service-id"], Admin;
        Info => ["system.info"], Admin;
        Licenses => ["system.licenses.get"], Admin;
        LicensesInstall => ["system.licenses.install"], Admin;
        License => ["system.license"], Admin;
        VerifyConnection => ["system.verify-connection"], Admin;
        Readiness => ["system.readiness"], Anyone;
        Liveness => ["system.liveness"], Anyone;
        RouterHealth => ["system.router-health"], Anyone;
        Usage => ["system.usage"], User;
        UrlBase => ["system.base-url"], Admin;
        Configuration => ["system.configuration.get"], Admin;
        ConfigurationSave => ["system.configuration.save"], Admin;
        Tasks => ["system.tasks"], Admin;
        Optimize => ["system.optimize"], Admin;
        WebServer => ["system.web-server.get"], Admin;
        WebServerSave => ["system.web-server.update"], Admin;
        NginxSnippet => ["system.reverse-proxy-snippet"], Named;
        Sha2Start => ["system.sha2-migration.start"], Admin;
        Sha2Stop => ["system.sha2-migration.stop"], Admin;
        ExportSettings => ["export.system.settings"], Admin;
        Export => ["export.system"], Admin;
        ImportSettings => ["import.system.settings"], Admin;
        Import => ["import.system"], Admin;
        ImportRepositories => ["import.repositories"], Admin;
    }
}

endpoints! {
    /// `/api/storage/*`, `/api/metadata/*`, `/api/storageinfo`, `/api/checksum/sha256`, copy, move.
    enum Storage {
        /// File or folder info.
        Info { path: RepoPath } => ["storage.file-info", "storage.folder-info"], Path(Action::Read);
        Stats { path: RepoPath } => ["storage.stats"], Path(Action::Read);
        Properties { path: RepoPath } => ["storage.properties.get"], Path(Action::Read);
        List { path: RepoPath } => ["storage.list"], Path(Action::Read);
        LastModified { path: RepoPath } => ["storage.last-modified"], Path(Action::Read);
        SetProperties { path: RepoPath } => ["storage.properties.set"], Path(Action::Annotate);
        DeleteProperties { path: RepoPath } => ["storage.properties.delete"], Path(Action::Annotate);
        Metadata { path: RepoPath } => ["storage.metadata.patch"], Path(Action::Annotate);
        Summary => ["storage.storageinfo"], Admin;
        Sha256 => ["storage.checksum-sha256"], Admin;
        Copy { src: RepoPath } => ["storage.copy"], Path(Action::Read);
        Move { src: RepoPath } => ["storage.move"], Path(Action::Read);
    }
}

endpoints! {
    /// The artifact catch-all `/{repo}/{path}` and the Bintray leftover.
    enum Artifacts {
        Retrieve { path: RepoPath } => ["artifacts.retrieve"], Path(Action::Read);
        Trace { path: RepoPath } => ["artifacts.trace"], Path(Action::Read);
        ArchiveEntry { path: RepoPath } => ["artifacts.archive-entry"], Path(Action::Read);
        Deploy { path: RepoPath } => ["artifacts.deploy"], Path(Action::Deploy);
        DeployByChecksum { path: RepoPath } => ["artifacts.deploy-by-checksum"], Path(Action::Deploy);
        CreateDirectory { path: RepoPath } => ["artifacts.create-directory"], Path(Action::Deploy);
        Delete { path: RepoPath } => ["artifacts.delete"], Path(Action::Delete);
        BintrayPush => ["artifacts.bintray-docker-push"], User;
    }
}

endpoints! {
    /// `/api/repositories[/{key}]`.
    enum Repositories {
        List => ["repositories.list"], User;
        Get { key: String } => ["repositories.get"], Path(Action::Read);
        Create { key: String } => ["repositories.create"], Admin;
        Update { key: String } => ["repositories.update"], Admin;
        Delete { key: String } => ["repositories.delete"], Admin;
    }
}

endpoints! {
    /// `/api/security/*` (users, groups, permission targets, locks, API keys, encrypted password)
    /// and the token endpoints (legacy and the Access service's).
    enum Security {
        UsersList => ["security.users.list"], Admin;
        UserGet { name: String } => ["security.users.get"], Admin;
        UserCreate { name: String } => ["security.users.create"], Admin;
        UserUpdate { name: String } => ["security.users.update"], Admin;
        UserDelete { name: String } => ["security.users.delete"], Admin;
        GroupsList => ["security.groups.list"], Admin;
        GroupGet { name: String } => ["security.groups.get"], Admin;
        GroupCreate { name: String } => ["security.groups.create"], Admin;
        GroupUpdate { name: String } => ["security.groups.update"], Admin;
        GroupDelete { name: String } => ["security.groups.delete"], Admin;
        PermissionsList => ["security.permissions.list"], Admin;
        PermissionGet { name: String } => ["security.permissions.get"], Admin;
        PermissionPut { name: String } => ["security.permissions.create"], Admin;
        PermissionDelete { name: String } => ["security.permissions.delete"], Admin;
        LockPolicyGet => ["security.lock-policy.get"], Admin;
        LockPolicySet => ["security.lock-policy.set"], Admin;
        LockedUsers => ["security.locked-users"], Admin;
        /// `None`: the users named in the body.
        UnlockUsers { name: Option<String> } => ["security.unlock-user", "security.unlock-users"], Admin;
        UnlockAll => ["security.unlock-all"], Admin;
        EncryptedPassword => ["security.encrypted-password"], Named;
        /// `user`: another user's key (admins only).
        ApiKeyGet { user: Option<String> } => ["security.api-key.get"], Own;
        ApiKeyCreate { user: Option<String> } => ["security.api-key.create"], Own;
        ApiKeyRegenerate { user: Option<String> } => ["security.api-key.regenerate"], Own;
        ApiKeyRevoke { user: Option<String> } => ["security.api-key.revoke", "security.api-key.revoke-user", "security.api-key.revoke-all"], Own;
        TokenList => ["security.token.list"], Admin;
        /// Create or refresh: the form's `grant_type` says which.
        TokenCreate => ["security.token.create", "security.token.refresh"], Own;
        TokenRevoke => ["security.token.revoke"], Admin;
        AccessTokenCreate => ["access.tokens.create"], Own;
        AccessTokenList => ["access.tokens.list"], Own;
        /// `me`: the calling token.
        AccessTokenGet { id: String } => ["access.tokens.get"], Own;
        AccessTokenRevoke { id: String } => ["access.tokens.revoke"], Own;
    }
}

endpoints! {
    /// `/api/search/*`.
    enum Search {
        Aql => ["search.aql"], Named;
        Artifact => ["search.artifact"], User;
        Archive => ["search.archive"], User;
        Prop => ["search.prop"], User;
        Usage => ["search.usage"], Named;
        Dates => ["search.dates"], Named;
        Creation => ["search.creation"], Named;
    }
}

endpoints! {
    /// `/api/build*`: build-info documents and what is done with them. Names and numbers are
    /// decoded path segments (a `/` in a name comes as `%2F`).
    enum Builds {
        List => ["builds.list"], User;
        Upload => ["builds.upload"], User;
        Runs { name: String } => ["builds.runs"], User;
        /// `started`: `?started=` (a run of the number other than the latest).
        Info { name: String, number: String, started: Option<String> } => ["builds.info"], User;
        Diff { name: String, number: String, older: String } => ["builds.diff"], User;
        Delete { name: String } => ["builds.delete"], User;
        /// `POST /api/build/delete` with a JSON body, as current clients send it.
        DeleteMany => ["builds.delete-body"], User;
        Promote { name: String, number: String } => ["builds.promote"], User;
        Retention { name: String } => ["builds.retention"], User;
        Distribute { name: String, number: String } => ["builds.distribute"], User;
        Rename { name: String } => ["builds.rename"], User;
    }
}

endpoints! {
    /// The Docker registry API at `/v2/...` and `/api/docker/<repo>/v2/...`, and promote.
    enum Docker {
        /// `None`: at the server root.
        Base { at: Option<Reg> } => ["docker.v2.version"], Own;
        Token => ["docker.v2.token"], Own;
        Catalog { at: Option<Reg> } => ["docker.catalog"], Own;
        Tags { at: Reg, image: String } => ["docker.tags"], Own;
        ManifestGet { at: Reg, image: String, reference: String } => ["docker.v2.manifest-get"], Own;
        ManifestPut { at: Reg, image: String, reference: String } => ["docker.v2.manifest-put"], Own;
        ManifestDelete { at: Reg, image: String, reference: String } => ["docker.v2.manifest-delete"], Own;
        BlobGet { at: Reg, image: String, digest: String } => ["docker.v2.blob"], Own;
        BlobDelete { at: Reg, image: String, digest: String } => ["docker.v2.blob-delete"], Own;
        UploadStart { at: Reg, image: String } => ["docker.v2.upload-start"], Own;
        UploadChunk { at: Reg, image: String, id: String } => ["docker.v2.upload-chunk"], Own;
        UploadFinish { at: Reg, image: String, id: String } => ["docker.v2.upload-finish"], Own;
        UploadStatus { at: Reg, image: String, id: String } => ["docker.v2.upload-status"], Own;
        UploadCancel { at: Reg, image: String, id: String } => ["docker.v2.upload-cancel"], Own;
        Referrers { at: Reg, image: String, digest: String } => ["docker.v2.referrers"], Own;
        Promote { repo: String } => ["docker.promote"], User;
    }
}

endpoints! {
    /// `/api/helm/<repo>/...`: a Helm repository as `helm repo add` uses it.
    enum Helm {
        Index { repo: String } => ["helm.index"], Path(Action::Read);
        /// A chart (or any file) of the repository, served as the artifact is.
        Chart { path: RepoPath } => ["helm.chart"], Path(Action::Read);
        Reindex { repo: String } => ["helm.reindex"], Path(Action::Manage);
    }
}

/// Every endpoint the server answers.
#[derive(Debug)]
pub(crate) enum Endpoint {
    System(System),
    Storage(Storage),
    Artifacts(Artifacts),
    Repositories(Repositories),
    Security(Security),
    Search(Search),
    Docker(Docker),
    Builds(Builds),
    Helm(Helm),
    /// A catalogued endpoint the server does not implement: an honest 501.
    Unbuilt(&'static Unbuilt),
}

impl Endpoint {
    /// The catalogue ids of this endpoint.
    #[cfg(test)]
    pub(crate) fn ids(&self) -> &'static [&'static str] {
        match self {
            Endpoint::System(e) => e.ids(),
            Endpoint::Storage(e) => e.ids(),
            Endpoint::Artifacts(e) => e.ids(),
            Endpoint::Repositories(e) => e.ids(),
            Endpoint::Security(e) => e.ids(),
            Endpoint::Search(e) => e.ids(),
            Endpoint::Docker(e) => e.ids(),
            Endpoint::Builds(e) => e.ids(),
            Endpoint::Helm(e) => e.ids(),
            Endpoint::Unbuilt(u) => std::slice::from_ref(&u.id),
        }
    }

    /// Who may call it (unbuilt endpoints answer their 501 to whoever passes the gate).
    pub(crate) fn access(&self) -> Access {
        match self {
            Endpoint::System(e) => e.access(),
            Endpoint::Storage(e) => e.access(),
            Endpoint::Artifacts(e) => e.access(),
            Endpoint::Repositories(e) => e.access(),
            Endpoint::Security(e) => e.access(),
            Endpoint::Search(e) => e.access(),
            Endpoint::Docker(e) => e.access(),
            Endpoint::Builds(e) => e.access(),
            Endpoint::Helm(e) => e.access(),
            Endpoint::Unbuilt(_) => Access::User,
        }
    }
}

/// A request as the parser sees it.
pub(crate) struct Incoming<'a> {
    /// Method.
    pub method: &'a Method,
    /// The raw (still percent-encoded) path, from the server root.
    pub path: &'a str,
    /// The normalised context path (`/artifactory` or `""`).
    pub ctx: &'a str,
    /// The query.
    pub query: &'a Query,
    /// The headers (a few endpoints are told apart by one).
    pub headers: &'a Headers,
}

impl Endpoint {
    /// Parses a request into its endpoint. `Err`: the request belongs to no endpoint (the REST
    /// `404 Not Found`), or to one it cannot be (a 400 for a malformed path, a 405 for a method, in
    /// the endpoint's family).
    pub(crate) fn parse(rq: &Incoming<'_>) -> Result<Endpoint, ApiError> {
        let full = rq.path.strip_prefix('/').unwrap_or(rq.path);
        // At the server root: the registry API and the Access service's tokens.
        if let Some(tail) = segment_tail(full, "v2") {
            return registry_root(rq, tail).map(Endpoint::Docker);
        }
        if let Some(tail) = strip_segments(full, &["access", "api", "v1", "tokens"]) {
            return access_tokens(rq.method, tail).map(Endpoint::Security);
        }
        // The router's health check, at the server root as on a JFrog Platform node.
        if exact(full, &["router", "api", "v1", "system", "health"]) {
            allow(rq.method, &[Method::GET])?;
            return Ok(Endpoint::System(System::RouterHealth));
        }
        let Some(rest) = strip_ctx(full, rq.ctx) else {
            return Err(not_found());
        };
        if let Some(tail) = strip_segments(rest, &["access", "api", "v1", "tokens"]) {
            return access_tokens(rq.method, tail).map(Endpoint::Security);
        }
        if let Some(api) = segment_tail(rest, "api") {
            if let Some(e) = api_endpoint(rq, api)? {
                return Ok(e);
            }
            if let Some(u) = unbuilt(rq.method, api, rq.query)? {
                return Ok(Endpoint::Unbuilt(u));
            }
            return Err(not_found());
        }
        artifact(rq, rest).map(Endpoint::Artifacts)
    }
}

/// Whether `path` is the registry's (its replies carry `Docker-Distribution-Api-Version`).
pub(crate) fn is_registry_path(path: &str, ctx: &str) -> bool {
    let full = path.strip_prefix('/').unwrap_or(path);
    segment_tail(full, "v2").is_some()
        || strip_ctx(full, ctx)
            .and_then(|rest| segment_tail(rest, "api"))
            .and_then(|api| segment_tail(api, "docker"))
            .is_some()
}

fn not_found() -> ApiError {
    msg::not_found()
}

fn method_not_allowed() -> ApiError {
    msg::method_not_allowed()
}

/// Refuses methods other than `allowed` (HEAD counts as GET) with the REST 405.
fn allow(method: &Method, allowed: &[Method]) -> Result<(), ApiError> {
    if allowed.contains(method) || (method == Method::HEAD && allowed.contains(&Method::GET)) {
        Ok(())
    } else {
        Err(method_not_allowed())
    }
}

/// `path` without the context path's segments, as warp matched them (`None`: not under it).
fn strip_ctx<'a>(path: &'a str, ctx: &str) -> Option<&'a str> {
    let segs: Vec<&str> = ctx.split('/').filter(|s| !s.is_empty()).collect();
    if segs.is_empty() {
        return Some(path);
    }
    strip_segments(path, &segs)
}

/// What follows `first/` in `path`, when `path` starts with that segment (`""` for `first` alone).
fn segment_tail<'a>(path: &'a str, first: &str) -> Option<&'a str> {
    strip_segments(path, &[first])
}

/// Strips leading exact segments; the rest after their slash (`""` when nothing follows).
fn strip_segments<'a>(path: &'a str, segs: &[&str]) -> Option<&'a str> {
    let mut rest = path;
    for s in segs {
        let (head, tail) = match rest.split_once('/') {
            Some((h, t)) => (h, t),
            None => (rest, ""),
        };
        if head != *s {
            return None;
        }
        rest = tail;
    }
    Some(rest)
}

/// An exact route: `rest` is `segs` (a trailing slash allowed, as warp's `path!` matches).
fn exact(rest: &str, segs: &[&str]) -> bool {
    strip_segments(rest, segs).is_some_and(str::is_empty)
}

fn repo_path(tail: &str) -> Result<RepoPath, ApiError> {
    path::parse(tail).map_err(|e| ApiError::bad_request(e.0))
}

fn decode(raw: &str) -> Result<String, ApiError> {
    path::decode(raw).map_err(|e| ApiError::bad_request(e.0))
}

/// The endpoints under `/api` that the server implements (`None`: none of them).
fn api_endpoint(rq: &Incoming<'_>, api: &str) -> Result<Option<Endpoint>, ApiError> {
    let m = rq.method;
    if let Some(e) = system(m, api)? {
        return Ok(Some(Endpoint::System(e)));
    }
    if let Some(e) = storage(rq, api)? {
        return Ok(Some(Endpoint::Storage(e)));
    }
    if let Some(e) = repositories(m, api)? {
        return Ok(Some(Endpoint::Repositories(e)));
    }
    if let Some(e) = security(rq, api)? {
        return Ok(Some(Endpoint::Security(e)));
    }
    if let Some(tail) = segment_tail(api, "docker") {
        return registry_api(rq, tail).map(|e| Some(Endpoint::Docker(e)));
    }
    if strip_segments(api, &["bintray", "docker", "push"]).is_some() {
        return Ok(Some(Endpoint::Artifacts(Artifacts::BintrayPush)));
    }
    if let Some(e) = search(m, api)? {
        return Ok(Some(Endpoint::Search(e)));
    }
    if let Some(tail) = segment_tail(api, "build") {
        return builds(rq, tail).map(|e| Some(Endpoint::Builds(e)));
    }
    if let Some(tail) = segment_tail(api, "helm") {
        return helm(m, tail).map(|e| Some(Endpoint::Helm(e)));
    }
    Ok(None)
}

/// `/api/helm/<repo>/index.yaml`, `/api/helm/<repo>/<chart path>`, `POST .../reindex`.
fn helm(m: &Method, tail: &str) -> Result<Helm, ApiError> {
    let (repo, rest) = tail.split_once('/').unwrap_or((tail, ""));
    if repo.is_empty() {
        return Err(not_found());
    }
    let repo = decode(repo)?;
    if exact(rest, &["reindex"]) && *m == Method::POST {
        return Ok(Helm::Reindex { repo });
    }
    allow(m, &[Method::GET])?;
    if rest == "index.yaml" {
        return Ok(Helm::Index { repo });
    }
    Ok(Helm::Chart {
        path: repo_path(tail)?,
    })
}

/// `/api/build/...`. The action prefixes (`promote`, `retention`, `distribute`, `rename`,
/// `delete`) are actions only with the method they take; with another they are build names.
fn builds(rq: &Incoming<'_>, tail: &str) -> Result<Builds, ApiError> {
    let (m, q) = (rq.method, rq.query);
    let segs: Vec<&str> = tail.split('/').filter(|s| !s.is_empty()).collect();
    let seg = |i: usize| decode(segs[i]);
    let post = *m == Method::POST;
    match segs.as_slice() {
        [] => {
            allow(m, &[Method::GET, Method::PUT])?;
            Ok(match *m {
                Method::PUT => Builds::Upload,
                _ => Builds::List,
            })
        }
        ["delete"] if post => Ok(Builds::DeleteMany),
        ["promote", _, _] if post => Ok(Builds::Promote {
            name: seg(1)?,
            number: seg(2)?,
        }),
        ["distribute", _, _] if post => Ok(Builds::Distribute {
            name: seg(1)?,
            number: seg(2)?,
        }),
        ["retention", _] if post => Ok(Builds::Retention { name: seg(1)? }),
        ["rename", _] if post => Ok(Builds::Rename { name: seg(1)? }),
        [_] => {
            allow(m, &[Method::GET, Method::DELETE])?;
            let name = seg(0)?;
            Ok(match *m {
                Method::DELETE => Builds::Delete { name },
                _ => Builds::Runs { name },
            })
        }
        [_, _] => {
            allow(m, &[Method::GET])?;
            let (name, number) = (seg(0)?, seg(1)?);
            Ok(match q.get("diff") {
                Some(older) if q.has("diff") => Builds::Diff {
                    name,
                    number,
                    older: older.to_string(),
                },
                _ => Builds::Info {
                    name,
                    number,
                    started: q.get("started").map(str::to_string),
                },
            })
        }
        _ => Err(not_found()),
    }
}

fn system(m: &Method, api: &str) -> Result<Option<System>, ApiError> {
    let (e, method) = if exact(api, &["system", "ping"]) {
        (System::Ping, Method::GET)
    } else if exact(api, &["system", "version"]) {
        (System::Version, Method::GET)
    } else if exact(api, &["system", "storage", "gc"]) {
        (System::Gc, Method::POST)
    } else if exact(api, &["system", "encrypt"]) {
        (System::Encrypt, Method::POST)
    } else if exact(api, &["system", "decrypt"]) {
        (System::Decrypt, Method::POST)
    } else if exact(api, &["system", "service_id"]) {
        (System::ServiceId, Method::GET)
    } else if exact(api, &["system"]) {
        (System::Info, Method::GET)
    } else if exact(api, &["system", "licenses"]) {
        allow(m, &[Method::GET, Method::POST])?;
        return Ok(Some(match *m {
            Method::POST => System::LicensesInstall,
            _ => System::Licenses,
        }));
    } else if exact(api, &["system", "license"]) {
        (System::License, Method::GET)
    } else if exact(api, &["system", "verifyconnection"]) {
        (System::VerifyConnection, Method::POST)
    } else if exact(api, &["v1", "system", "readiness"]) {
        (System::Readiness, Method::GET)
    } else if exact(api, &["v1", "system", "liveness"]) {
        (System::Liveness, Method::GET)
    } else if exact(api, &["system", "usage"]) {
        (System::Usage, Method::POST)
    } else if exact(api, &["system", "configuration"]) {
        allow(m, &[Method::GET, Method::POST])?;
        return Ok(Some(match *m {
            Method::POST => System::ConfigurationSave,
            _ => System::Configuration,
        }));
    } else if exact(api, &["system", "configuration", "baseUrl"]) {
        (System::UrlBase, Method::PUT)
    } else if exact(api, &["system", "configuration", "webServer"]) {
        allow(m, &[Method::GET, Method::POST])?;
        return Ok(Some(match *m {
            Method::POST => System::WebServerSave,
            _ => System::WebServer,
        }));
    } else if exact(api, &["system", "configuration", "reverseProxy", "nginx"]) {
        (System::NginxSnippet, Method::GET)
    } else if exact(api, &["system", "migration", "sha2", "start"]) {
        (System::Sha2Start, Method::POST)
    } else if exact(api, &["system", "migration", "sha2", "stop"]) {
        (System::Sha2Stop, Method::POST)
    } else if exact(api, &["tasks"]) {
        (System::Tasks, Method::GET)
    } else if exact(api, &["system", "storage", "optimize"]) {
        (System::Optimize, Method::POST)
    } else if exact(api, &["export", "system"]) {
        allow(m, &[Method::GET, Method::POST])?;
        return Ok(Some(match *m {
            Method::POST => System::Export,
            _ => System::ExportSettings,
        }));
    } else if exact(api, &["import", "system"]) {
        allow(m, &[Method::GET, Method::POST])?;
        return Ok(Some(match *m {
            Method::POST => System::Import,
            _ => System::ImportSettings,
        }));
    } else if exact(api, &["import", "repositories"]) {
        (System::ImportRepositories, Method::POST)
    } else {
        return Ok(None);
    };
    allow(m, &[method])?;
    Ok(Some(e))
}

fn storage(rq: &Incoming<'_>, api: &str) -> Result<Option<Storage>, ApiError> {
    let (m, q) = (rq.method, rq.query);
    if let Some(tail) = segment_tail(api, "storage") {
        allow(m, &[Method::GET, Method::PUT, Method::DELETE])?;
        let path = repo_path(tail)?;
        return Ok(Some(match *m {
            Method::PUT => Storage::SetProperties { path },
            Method::DELETE => Storage::DeleteProperties { path },
            // The keyword that wins when several are given, as Artifactory's resource checks them.
            _ if q.has("stats") => Storage::Stats { path },
            _ if q.has("properties") => Storage::Properties { path },
            _ if q.has("list") => Storage::List { path },
            _ if q.has("lastModified") => Storage::LastModified { path },
            _ => Storage::Info { path },
        }));
    }
    if let Some(tail) = segment_tail(api, "metadata") {
        allow(m, &[Method::PATCH])?;
        return Ok(Some(Storage::Metadata {
            path: repo_path(tail)?,
        }));
    }
    if exact(api, &["storageinfo"]) {
        allow(m, &[Method::GET])?;
        return Ok(Some(Storage::Summary));
    }
    if exact(api, &["checksum", "sha256"]) {
        allow(m, &[Method::POST])?;
        return Ok(Some(Storage::Sha256));
    }
    for (seg, mv) in [("copy", false), ("move", true)] {
        if let Some(tail) = segment_tail(api, seg) {
            allow(m, &[Method::POST])?;
            let src = repo_path(tail)?;
            return Ok(Some(if mv {
                Storage::Move { src }
            } else {
                Storage::Copy { src }
            }));
        }
    }
    Ok(None)
}

fn repositories(m: &Method, api: &str) -> Result<Option<Repositories>, ApiError> {
    let Some(tail) = segment_tail(api, "repositories") else {
        return Ok(None);
    };
    if tail.is_empty() {
        allow(m, &[Method::GET])?;
        return Ok(Some(Repositories::List));
    }
    allow(m, &[Method::GET, Method::PUT, Method::POST, Method::DELETE])?;
    let key = decode(tail.trim_end_matches('/'))?;
    if key.is_empty() {
        return Err(ApiError::text(400, "Repo key must not be null\n"));
    }
    Ok(Some(match *m {
        Method::PUT => Repositories::Create { key },
        Method::POST => Repositories::Update { key },
        Method::DELETE => Repositories::Delete { key },
        _ => Repositories::Get { key },
    }))
}

fn security(rq: &Incoming<'_>, api: &str) -> Result<Option<Security>, ApiError> {
    let m = rq.method;
    let Some(sec) = segment_tail(api, "security") else {
        return Ok(None);
    };
    for kind in [Kind::User, Kind::Group, Kind::Permission] {
        if let Some(tail) = segment_tail(sec, kind.segment()) {
            return entity(m, kind, tail).map(Some);
        }
    }
    if let Some(tail) = segment_tail(sec, "apiKey") {
        return api_key(m, tail).map(Some);
    }
    if let Some(tail) = segment_tail(sec, "unlockUsers") {
        allow(m, &[Method::POST])?;
        let one = tail.trim_matches('/');
        let name = if one.is_empty() {
            None
        } else {
            Some(decode(one)?)
        };
        return Ok(Some(Security::UnlockUsers { name }));
    }
    let (get, post, put) = (Method::GET, Method::POST, Method::PUT);
    let (e, allowed): (Security, &[Method]) = if exact(sec, &["userLockPolicy"]) {
        let e = match *m {
            Method::PUT => Security::LockPolicySet,
            _ => Security::LockPolicyGet,
        };
        (e, &[get, put])
    } else if exact(sec, &["lockedUsers"]) {
        (Security::LockedUsers, &[get])
    } else if exact(sec, &["unlockAllUsers"]) {
        (Security::UnlockAll, &[post])
    } else if exact(sec, &["encryptedPassword"]) {
        (Security::EncryptedPassword, &[get])
    } else if exact(sec, &["token", "revoke"]) {
        (Security::TokenRevoke, &[post])
    } else if exact(sec, &["token"]) {
        let e = match *m {
            Method::POST => Security::TokenCreate,
            _ => Security::TokenList,
        };
        (e, &[get, post])
    } else {
        return Ok(None);
    };
    allow(m, allowed)?;
    Ok(Some(e))
}

/// `/api/security/users|groups|permissions[/{name}]`.
fn entity(m: &Method, kind: Kind, tail: &str) -> Result<Security, ApiError> {
    allow(m, &[Method::GET, Method::PUT, Method::POST, Method::DELETE])?;
    // The name stays raw: it is decoded after the caller has been checked.
    let name = tail.trim_matches('/').to_string();
    if name.is_empty() {
        allow(m, &[Method::GET])?;
        return Ok(match kind {
            Kind::User => Security::UsersList,
            Kind::Group => Security::GroupsList,
            Kind::Permission => Security::PermissionsList,
        });
    }
    Ok(match (kind, m.clone()) {
        (Kind::User, Method::PUT) => Security::UserCreate { name },
        (Kind::User, Method::POST) => Security::UserUpdate { name },
        (Kind::User, Method::DELETE) => Security::UserDelete { name },
        (Kind::User, _) => Security::UserGet { name },
        (Kind::Group, Method::PUT) => Security::GroupCreate { name },
        (Kind::Group, Method::POST) => Security::GroupUpdate { name },
        (Kind::Group, Method::DELETE) => Security::GroupDelete { name },
        (Kind::Group, _) => Security::GroupGet { name },
        (Kind::Permission, Method::PUT) => Security::PermissionPut { name },
        (Kind::Permission, Method::POST) => return Err(method_not_allowed()),
        (Kind::Permission, Method::DELETE) => Security::PermissionDelete { name },
        (Kind::Permission, _) => Security::PermissionGet { name },
    })
}

/// `/api/security/apiKey[/{user}]`.
fn api_key(m: &Method, tail: &str) -> Result<Security, ApiError> {
    allow(m, &[Method::GET, Method::POST, Method::PUT, Method::DELETE])?;
    let other = decode(tail.trim_matches('/'))?;
    let user = (!other.is_empty()).then_some(other);
    Ok(match *m {
        Method::POST | Method::PUT if user.is_some() => return Err(method_not_allowed()),
        Method::POST => Security::ApiKeyCreate { user },
        Method::PUT => Security::ApiKeyRegenerate { user },
        Method::DELETE => Security::ApiKeyRevoke { user },
        _ => Security::ApiKeyGet { user },
    })
}

/// `/access/api/v1/tokens[/{id|me}]`.
fn access_tokens(m: &Method, tail: &str) -> Result<Security, ApiError> {
    let id = tail.trim_matches('/').to_string();
    Ok(match (m.clone(), id.is_empty()) {
        (Method::POST, true) => Security::AccessTokenCreate,
        (Method::GET, true) => Security::AccessTokenList,
        (Method::GET, false) => Security::AccessTokenGet { id },
        (Method::DELETE, _) => Security::AccessTokenRevoke { id },
        _ => {
            return Err(ApiError::access(
                405,
                "METHOD_NOT_ALLOWED",
                "HTTP 405 Method Not Allowed",
            ))
        }
    })
}

fn search(m: &Method, api: &str) -> Result<Option<Search>, ApiError> {
    if exact(api, &["search", "aql"]) {
        allow(m, &[Method::POST])?;
        return Ok(Some(Search::Aql));
    }
    let Some(tail) = segment_tail(api, "search") else {
        return Ok(None);
    };
    // One segment (a trailing slash allowed).
    let kind = tail.strip_suffix('/').unwrap_or(tail);
    if kind.is_empty() || kind.contains('/') {
        return Ok(None);
    }
    let e = match kind {
        "artifact" => Search::Artifact,
        "archive" => Search::Archive,
        "prop" => Search::Prop,
        "usage" => Search::Usage,
        "dates" => Search::Dates,
        "creation" => Search::Creation,
        _ => return Err(not_found()),
    };
    allow(m, &[Method::GET])?;
    Ok(Some(e))
}

fn artifact(rq: &Incoming<'_>, tail: &str) -> Result<Artifacts, ApiError> {
    let path = repo_path(tail)?;
    Ok(match *rq.method {
        Method::GET | Method::HEAD if rq.query.has("trace") => Artifacts::Trace { path },
        Method::GET | Method::HEAD if path.archive_entry.is_some() => {
            Artifacts::ArchiveEntry { path }
        }
        Method::GET | Method::HEAD => Artifacts::Retrieve { path },
        Method::PUT if path.trailing_slash || path.path.is_empty() => {
            Artifacts::CreateDirectory { path }
        }
        Method::PUT
            if rq
                .headers
                .get("x-checksum-deploy")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) =>
        {
            Artifacts::DeployByChecksum { path }
        }
        Method::PUT => Artifacts::Deploy { path },
        Method::DELETE => Artifacts::Delete { path },
        _ => {
            return Err(method_not_allowed().with_header(
                "allow",
                "delete, lock, mkcol, move, options, post, propfind, proppatch, unlock",
            ))
        }
    })
}

// ---------- the registry ----------

fn registry_segments(tail: &str) -> Result<Vec<String>, ApiError> {
    tail.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| path::decode(s).map_err(|_| RegistryError::new(Code::NameInvalid).into()))
        .collect()
}

fn unsupported_route() -> ApiError {
    RegistryError::new(Code::Unsupported).status(404).into()
}

/// `/v2/...` at the server root: the first segment of a name is the repository key.
fn registry_root(rq: &Incoming<'_>, tail: &str) -> Result<Docker, ApiError> {
    let segs = registry_segments(tail)?;
    let refs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match docker::route(&refs) {
        Some(Route::Base) => Ok(Docker::Base { at: None }),
        Some(Route::Token) => Ok(Docker::Token),
        Some(Route::Catalog) => Ok(Docker::Catalog { at: None }),
        Some(route) => {
            let Some((repo, image)) = route_name(&route).split_once('/') else {
                return Err(RegistryError::new(Code::NameInvalid).into());
            };
            let at = Reg {
                repo: repo.to_string(),
                prefix: format!("/v2/{repo}"),
            };
            let image = image.to_string();
            registry_endpoint(rq.method, at, image, route)
        }
        None => Err(unsupported_route()),
    }
}

/// `/api/docker/<repo>/v2/...` (and promote).
fn registry_api(rq: &Incoming<'_>, tail: &str) -> Result<Docker, ApiError> {
    let segs = registry_segments(tail)?;
    let refs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match refs.as_slice() {
        ["v2", ..] => {
            return Err(ApiError::bad_request(
                "Unsupported docker repository request for 'v2'",
            ))
        }
        [_, "v2", ..] => {}
        _ => return Err(not_found()),
    }
    let repo = refs[0].to_string();
    if refs[2..] == ["promote"] {
        allow(rq.method, &[Method::POST])?;
        return Ok(Docker::Promote { repo });
    }
    let at = Reg {
        prefix: format!("{}/api/docker/{repo}/v2", rq.ctx),
        repo,
    };
    match docker::route(&refs[2..]) {
        Some(Route::Base) => Ok(Docker::Base { at: Some(at) }),
        Some(Route::Token) => Ok(Docker::Token),
        Some(Route::Catalog) => Ok(Docker::Catalog { at: Some(at) }),
        Some(route) => {
            let image = route_name(&route).to_string();
            registry_endpoint(rq.method, at, image, route)
        }
        None => Err(unsupported_route()),
    }
}

fn route_name(r: &Route) -> &str {
    match r {
        Route::Tags(n)
        | Route::Manifest(n, _)
        | Route::Blob(n, _)
        | Route::StartUpload(n)
        | Route::Upload(n, _)
        | Route::Referrers(n, _) => n,
        _ => "",
    }
}

/// A route on an image: the name must be valid, then the method must be one the route has.
fn registry_endpoint(m: &Method, at: Reg, image: String, route: Route) -> Result<Docker, ApiError> {
    if !docker::valid_name(&image) {
        return Err(RegistryError::new(Code::NameInvalid)
            .detail(serde_json::json!({ "name": image }))
            .into());
    }
    Ok(match (route, m.clone()) {
        (Route::Tags(_), Method::GET) => Docker::Tags { at, image },
        (Route::Manifest(_, reference), Method::GET | Method::HEAD) => Docker::ManifestGet {
            at,
            image,
            reference,
        },
        (Route::Manifest(_, reference), Method::PUT) => Docker::ManifestPut {
            at,
            image,
            reference,
        },
        (Route::Manifest(_, reference), Method::DELETE) => Docker::ManifestDelete {
            at,
            image,
            reference,
        },
        (Route::Blob(_, digest), Method::GET | Method::HEAD) => {
            Docker::BlobGet { at, image, digest }
        }
        (Route::Blob(_, digest), Method::DELETE) => Docker::BlobDelete { at, image, digest },
        (Route::StartUpload(_), Method::POST) => Docker::UploadStart { at, image },
        (Route::Upload(_, id), Method::PATCH) => Docker::UploadChunk { at, image, id },
        (Route::Upload(_, id), Method::PUT) => Docker::UploadFinish { at, image, id },
        (Route::Upload(_, id), Method::GET) => Docker::UploadStatus { at, image, id },
        (Route::Upload(_, id), Method::DELETE) => Docker::UploadCancel { at, image, id },
        (Route::Referrers(_, digest), Method::GET) => Docker::Referrers { at, image, digest },
        _ => return Err(RegistryError::new(Code::Unsupported).into()),
    })
}

// ---------- what the catalogue names and the server does not build ----------

/// A catalogued endpoint that is not implemented: it answers 501 saying so.
#[derive(Debug)]
pub(crate) struct Unbuilt {
    /// Catalogue id (what the catalogue test compares).
    #[cfg_attr(not(test), allow(dead_code))]
    pub id: &'static str,
    /// Method.
    pub method: Method,
    /// Path template (`/api/build/{buildName}`).
    pub path: &'static str,
    /// The document's heading for it.
    pub section: &'static str,
    /// Template segments after `/api/` (`None`: a placeholder).
    segments: Vec<Option<&'static str>>,
    /// A query keyword the request must carry (`?diff=` for a builds diff).
    keyword: Option<&'static str>,
}

impl Unbuilt {
    /// The 501 it answers.
    pub(crate) fn error(&self) -> ApiError {
        ApiError::new(
            501,
            format!(
                "{} ({} {}) is not supported by the reference server",
                self.section, self.method, self.path
            ),
        )
    }

    fn matches_path(&self, api: &str) -> bool {
        let segs: Vec<&str> = api.trim_end_matches('/').split('/').collect();
        segs.len() == self.segments.len()
            && segs.iter().zip(&self.segments).all(|(s, t)| match t {
                Some(lit) => s == lit,
                None => !s.is_empty(),
            })
    }
}

/// The catalogue the server was built with.
const CATALOGUE: &str = include_str!("../../../fixtures/endpoints.toml");

#[derive(serde::Deserialize)]
struct CatalogueFile {
    endpoint: Vec<CatalogueEntry>,
}

#[derive(serde::Deserialize)]
pub(crate) struct CatalogueEntry {
    pub id: String,
    pub method: String,
    pub path: String,
    pub section: String,
    #[serde(default)]
    pub reference: bool,
}

/// The catalogue's entries.
pub(crate) fn catalogue() -> &'static [CatalogueEntry] {
    static ENTRIES: LazyLock<Vec<CatalogueEntry>> = LazyLock::new(|| {
        toml::from_str::<CatalogueFile>(CATALOGUE)
            .expect("fixtures/endpoints.toml is valid")
            .endpoint
    });
    &ENTRIES
}

/// The catalogued endpoints under `/api/` that are not built.
fn unbuilt_table() -> &'static [Unbuilt] {
    static TABLE: LazyLock<Vec<Unbuilt>> =
        LazyLock::new(|| unbuilt_of(catalogue().iter().filter(|e| !e.reference)));
    &TABLE
}

/// The routing entries of catalogued endpoints that are not built.
fn unbuilt_of<'a>(entries: impl Iterator<Item = &'a CatalogueEntry>) -> Vec<Unbuilt> {
    entries
        .filter_map(|e| {
            let (path, query) = match e.path.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (e.path.as_str(), None),
            };
            let api = path.strip_prefix("/api/")?;
            let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
            Some(Unbuilt {
                id: leak(&e.id),
                method: Method::from_bytes(e.method.as_bytes()).ok()?,
                path: leak(path),
                section: leak(&e.section),
                segments: api
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| leak(s)))
                    .collect(),
                keyword: query.map(|q| leak(q.split('=').next().unwrap_or(q))),
            })
        })
        .collect()
}

fn unbuilt(m: &Method, api: &str, q: &Query) -> Result<Option<&'static Unbuilt>, ApiError> {
    let table = unbuilt_table();
    let on_path: Vec<&Unbuilt> = table.iter().filter(|u| u.matches_path(api)).collect();
    if on_path.is_empty() {
        return Ok(None);
    }
    let same_method =
        |u: &&&Unbuilt| u.method == *m || (*m == Method::HEAD && u.method == Method::GET);
    // The most specific first: one whose query keyword the request carries.
    let found = on_path
        .iter()
        .filter(same_method)
        .find(|u| u.keyword.is_some_and(|k| q.has(k)))
        .or_else(|| {
            on_path
                .iter()
                .filter(same_method)
                .find(|u| u.keyword.is_none())
        })
        .or_else(|| on_path.iter().find(same_method));
    match found {
        Some(u) => Ok(Some(u)),
        None => Err(method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn all_ids() -> BTreeSet<&'static str> {
        [
            System::IDS,
            Storage::IDS,
            Artifacts::IDS,
            Repositories::IDS,
            Security::IDS,
            Search::IDS,
            Docker::IDS,
            Builds::IDS,
            Helm::IDS,
        ]
        .concat()
        .into_iter()
        .collect()
    }

    /// The routed endpoints are exactly the catalogue's `reference = true` ones, both ways.
    #[test]
    fn the_endpoint_enums_are_the_catalogues_implemented_endpoints() {
        let routed = all_ids();
        let implemented: BTreeSet<&str> = catalogue()
            .iter()
            .filter(|e| e.reference)
            .map(|e| e.id.as_str())
            .collect();
        let not_catalogued: Vec<_> = routed.difference(&implemented).collect();
        let not_routed: Vec<_> = implemented.difference(&routed).collect();
        assert!(
            not_catalogued.is_empty(),
            "routed but not catalogued as implemented: {not_catalogued:?}"
        );
        assert!(
            not_routed.is_empty(),
            "catalogued as implemented but not routed: {not_routed:?}"
        );
    }

    /// A request for a catalogue entry: its template with sample values (method, full path,
    /// query, headers).
    fn sample_request(e: &CatalogueEntry) -> (Method, String, Query, Headers) {
        let (path, query) = match e.path.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (e.path.clone(), String::new()),
        };
        let fill = |mut s: String| {
            while let Some(start) = s.find('{') {
                let end = s[start..].find('}').expect("closed placeholder") + start;
                s.replace_range(start..=end, "x");
            }
            s
        };
        let docker = e.id.starts_with("docker.");
        let path = fill(
            path.replace(
                "{repo}",
                if docker {
                    "docker-local"
                } else {
                    "generic-local"
                },
            )
            .replace("{path}", "a/b.txt")
            .replace("{archive}", "a.zip")
            .replace("{entry}", "e.txt")
            .replace("{image}", "app")
            .replace("{digest}", &format!("sha256:{}", "a".repeat(64)))
            .replace("{uuid}", "u-1")
            .replace("{reference}", "latest"),
        );
        let query = fill(query.replace("{key}={value}", "k=v"));
        let mut headers = warp::http::HeaderMap::new();
        if e.id == "artifacts.deploy-by-checksum" {
            headers.insert("x-checksum-deploy", "true".parse().unwrap());
        }
        // The Access service and the router live at the server root.
        let full = if e.path.starts_with("/access/") || e.path.starts_with("/router/") {
            path
        } else {
            format!("/artifactory{path}")
        };
        let method = Method::from_bytes(e.method.as_bytes()).unwrap();
        (method, full, Query::parse(&query), Headers::new(headers))
    }

    /// A request made from each catalogue entry's template is parsed into that entry's endpoint:
    /// the implemented ones into their enum variant, the others into the honest 501.
    #[test]
    fn every_catalogue_entry_parses_to_its_own_endpoint() {
        let mut failures = Vec::new();
        for e in catalogue() {
            let (method, full, q, headers) = sample_request(e);
            let rq = Incoming {
                method: &method,
                path: &full,
                ctx: "/artifactory",
                query: &q,
                headers: &headers,
            };
            match Endpoint::parse(&rq) {
                Ok(ep) => {
                    let built = !matches!(ep, Endpoint::Unbuilt(_));
                    if !ep.ids().contains(&e.id.as_str()) || built != e.reference {
                        failures.push(format!(
                            "{} {full}: {} parsed to {ep:?} ({:?})",
                            e.method,
                            e.id,
                            ep.ids()
                        ));
                    }
                }
                Err(err) => failures.push(format!(
                    "{} {full}: {} refused: {} {}",
                    e.method,
                    e.id,
                    err.status,
                    err.message()
                )),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn unbuilt_endpoints_say_so_in_the_rest_shape() {
        // Every catalogued endpoint is built today; one added to the catalogue before its
        // handler answers this.
        let entry = CatalogueEntry {
            id: "future.thing".into(),
            method: "POST".into(),
            path: "/api/future/{name}/thing".into(),
            section: "Future Thing".into(),
            reference: false,
        };
        let table = unbuilt_of(std::iter::once(&entry));
        let [u] = table.as_slice() else {
            panic!("one entry: {table:?}")
        };
        assert!(u.matches_path("future/x/thing"));
        assert!(!u.matches_path("future/x"));
        let e = u.error();
        assert_eq!(e.status, 501);
        assert_eq!(
            e.message(),
            "Future Thing (POST /api/future/{name}/thing) is not supported by the reference server"
        );
        let q = Query::default();
        let h = Headers::new(Default::default());
        let rq = Incoming {
            method: &Method::POST,
            path: "/artifactory/api/export/system",
            ctx: "/artifactory",
            query: &q,
            headers: &h,
        };
        // Paths that no endpoint has are still a plain 404.
        let rq = Incoming {
            path: "/artifactory/api/nothing/here",
            ..rq
        };
        assert_eq!(Endpoint::parse(&rq).unwrap_err().status, 404);
    }
}
