//! # jcr-reference
//!
//! A reference JFrog Container Registry / Artifactory server for tests: it answers the documented REST
//! API the way a real JCR 7 does (statuses, headers, JSON field names and order, error shapes and
//! messages), speaks the Docker/OCI registry API, keeps artifacts in a content-addressed store on
//! disk, and starts in milliseconds.
//!
//! ## Getting started
//!
//! Start one on a free port inside a test, point your client at its URL, stop it:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use jcr_reference::{Config, Server};
//!
//! let server = Server::start(Config::ephemeral()).await?; // free port, temporary data
//! let url = server.url(); // http://127.0.0.1:<port>/artifactory
//! assert!(url.ends_with("/artifactory"));
//! // ... run your client against `url` with admin / password ...
//! server.stop().await; // compacts the journal, removes the temporary data
//! # Ok(()) }
//! ```
//!
//! ## What you can set
//!
//! [`Config`] holds every option (each is also a flag, a `JCR_` environment variable and a
//! config-file key of the binary): repositories ([`RepoConfig`], [`RepoClass`], [`PackageType`]),
//! users, groups and permission targets ([`UserConfig`], [`GroupConfig`], [`PermissionConfig`]),
//! anonymous access, the context path, a data directory that survives restarts, an upload limit.
//!
//! ```
//! use jcr_reference::{Config, PackageType, RepoClass, RepoConfig, UserConfig};
//!
//! let mut config = Config::ephemeral();
//! config.anonymous_access = true;
//! config.repositories.push(RepoConfig::new("libs-local", RepoClass::Local, PackageType::Generic));
//! config.users.push(UserConfig::parse_flag("ci:secret").unwrap());
//! ```
//!
//! ## Time
//!
//! Every timestamp comes from the [`Clock`] in the configuration. Freeze it for byte-exact
//! assertions and move it on by hand:
//!
//! ```
//! use jcr_reference::{Clock, Config};
//!
//! let clock = Clock::manual(1_700_000_000_000);
//! let config = Config { clock: clock.clone(), ..Config::ephemeral() };
//! clock.advance(1_000);
//! assert_eq!(clock.now_ms(), 1_700_000_001_000);
//! # drop(config);
//! ```
//!
//! ## A seeded server, reset between tests
//!
//! [`Server::builder`] configures a server, imports a system export ([`ServerBuilder::seed`]) and
//! Docker images from OCI layouts ([`ServerBuilder::images`]), deploys files once it runs, and
//! makes that its seed:
//! each test can change what it likes and [`Server::reset`] puts the seed back (moto's reset,
//! milliseconds for thousands of items). [`Server::requests`] shows what the server was asked,
//! with the nearest existing paths of every `404` (WireMock's near misses).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use jcr_reference::{Clock, PackageType, RepoClass, Server};
//!
//! let server = Server::builder()
//!     .clock(Clock::manual(1_700_000_000_000)) // 2023-11-14T22:13:20.000Z, frozen
//!     .repo("libs-local", RepoClass::Local, PackageType::Generic)
//!     .user("ci:ci-secret")
//!     .file("libs-local/app/1.0/app.jar;release=1.0", b"jar bytes".to_vec())
//!     .start()
//!     .await?;
//! let http = reqwest::Client::new();
//! let jar = format!("{}/libs-local/app/1.0/app.jar", server.url());
//!
//! // A test deletes the file...
//! let r = http.delete(&jar).basic_auth("admin", Some("password")).send().await?;
//! assert_eq!(r.status(), 204);
//! // ... and asks for a path one letter off.
//! let r = http.get(format!("{}/libs-local/app/1.0/app.jarr", server.url()))
//!     .basic_auth("ci", Some("ci-secret")).send().await?;
//! assert_eq!(r.status(), 404);
//! let seen = server.requests().await?;
//! assert_eq!(seen[0]["status"], 404);
//!
//! // The next test starts from the seed again.
//! server.reset().await?;
//! let r = http.get(&jar).basic_auth("ci", Some("ci-secret")).send().await?;
//! assert_eq!(r.status(), 200);
//! assert_eq!(r.text().await?, "jar bytes");
//! server.stop().await;
//! # Ok(()) }
//! ```
//!
//! The same controls are HTTP endpoints under `/_reference/` at the server root (administrators
//! only): `requests`, `clock` (set, advance, freeze), `faults` (delay, status, dropped or cut
//! answers per path), `seed` and `reset`; see the README's "The control API".
//!
//! ## Your own listener
//!
//! [`serve`] runs on a listener you bound until a shutdown future resolves (the binary passes
//! SIGINT/SIGTERM), then stops its background jobs and compacts the journal.
//!
//! ## How it is built
//!
//! One request walks down once and back up once: `http::router` hands it to
//! `http::endpoint`, which parses it into a typed endpoint (each with its catalogue id in
//! `fixtures/endpoints.toml` and its access rule, checked in one place); the area's handler in
//! `http/` calls one domain function and renders what it returns, and every error is an
//! `error::ApiError` rendered in its family's wire shape by `http::error`. The domain modules know
//! nothing of warp: `artifacts` (deploy, delete, retrieve, properties, item views), `transfer`
//! (copy, move), `repos` (repository configurations), `docker` (the registry), `search` (legacy
//! searches, AQL), `auth` (who is calling and what they may do; users, tokens, API keys), `system`
//! (storage summary, key encryption). `messages` holds Artifactory's texts. Below them, `store`
//! holds the blobs, the item tree, the journal and snapshot (secrets sealed by construction) and
//! `Store::transact`, which checks and commits under one lock; after-commit `events` feed the
//! indexers, and `jobs` owns every background task.

mod app;
mod artifacts;
mod auth;
mod builds;
mod clock;
mod config;
mod docker;
mod error;
mod events;
mod helm;
mod http;
mod jobs;
mod messages;
mod mime;
mod query;
mod repos;
mod requests;
mod search;
mod store;
mod system;
mod transfer;
mod value;
mod wildcard;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use clock::Clock;
pub use config::{
    Config, Faults, GroupConfig, PackageType, PermissionConfig, RepoClass, RepoConfig, UserConfig,
};

/// What the benchmarks measure directly (the store and the searches, without HTTP). Not part of the
/// API: it changes whenever they do.
#[doc(hidden)]
pub mod bench {
    pub use crate::search::{aql, aql_eval, legacy};
    pub use crate::store::{FileData, Mutation, Props, Stamp, State};

    /// Writes a data directory holding `items` files spread over `repos` local repositories
    /// (`repo-0`, ...), 100 to a folder (items as Artifactory counts them: files and folders, about
    /// 1% folders), and compacts it into its snapshot, as a long-running server leaves it. The files' content is not stored: restart benchmarks read the tree only.
    pub fn seed_data_dir(dir: &std::path::Path, repos: usize, items: usize) -> std::io::Result<()> {
        use crate::config::{PackageType, RepoClass, RepoConfig};
        use sha1::Digest as _;
        let configs: Vec<RepoConfig> = (0..repos)
            .map(|r| RepoConfig::new(&format!("repo-{r}"), RepoClass::Local, PackageType::Generic))
            .collect();
        let store = crate::store::Store::open(Some(dir), &configs, 0)?;
        let mut steps = Vec::with_capacity(1000);
        for i in 0..items {
            let body = format!("item {i}\n");
            let info = crate::store::BlobInfo {
                sha256: hex::encode(sha2::Sha256::digest(body.as_bytes())),
                sha1: hex::encode(sha1::Sha1::digest(body.as_bytes())),
                md5: hex::encode(md5::Md5::digest(body.as_bytes())),
                size: body.len() as u64,
            };
            steps.push(Mutation::PutFile {
                repo: format!("repo-{}", i % repos),
                path: format!("group{}/artifact{}/artifact-{i}.txt", i / 100_000, i / 100),
                file: FileData::of_blob(&info, "text/plain"),
                props: Props::default(),
                now: 1_700_000_000_000 + i as i64,
                user: "bench".into(),
                stamp: Stamp::default(),
            });
            if steps.len() == 1000 || i + 1 == items {
                store
                    .commit_lazy(Mutation::Batch {
                        steps: std::mem::take(&mut steps),
                    })
                    .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
            }
        }
        store.checkpoint()
    }
}

/// Entry points for the fuzz targets (`fuzz/`) and their corpora as regression tests: each takes
/// any bytes and must return without panicking. Not part of the API.
#[doc(hidden)]
pub mod fuzz {
    use crate::store::{Item, State};

    fn text(data: &[u8]) -> Option<&str> {
        std::str::from_utf8(data).ok()
    }

    /// The catch-all path parser (repository, segments, `!/`, `;k=v`, percent-decoding).
    pub fn path(data: &[u8]) {
        if let Some(s) = text(data) {
            let _ = crate::http::path::parse(s);
            let _ = crate::http::path::decode(s);
        }
    }

    /// Matrix parameters and the `?properties=` grammar.
    pub fn properties(data: &[u8]) {
        if let Some(s) = text(data) {
            let _ = crate::artifacts::props::parse(s);
        }
    }

    /// AQL: parsed, then run over an empty state.
    pub fn aql(data: &[u8]) {
        if let Some(q) = text(data).and_then(|s| crate::search::aql::parse(s).ok()) {
            let _ = crate::search::aql_eval::run(&State::default(), &[], &q, 0, true, |_, _| true);
        }
    }

    /// OCI and Docker manifests, as each content type they may come with.
    pub fn manifest(data: &[u8]) {
        for ct in [
            None,
            Some(crate::docker::OCI_MANIFEST),
            Some(crate::docker::OCI_INDEX),
            Some(crate::docker::DOCKER_LIST),
            Some("application/vnd.docker.distribution.manifest.v2+json"),
        ] {
            let _ = crate::docker::parse_manifest(data, ct);
        }
    }

    /// Build-info documents: ordered as Artifactory prints them, read as AQL reads them, diffed
    /// against themselves.
    pub fn build_info(data: &[u8]) {
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else {
            return;
        };
        let doc = crate::builds::model::ordered(&doc);
        let item = Item {
            created: 0,
            created_by: "fuzz".into(),
            modified: 0,
            modified_by: "fuzz".into(),
            updated: 0,
            props: Default::default(),
            file: None,
            id: 0,
        };
        let _ = crate::builds::model::Build::parse(&doc, &item);
        let _ = crate::builds::diff::compare(&doc, &doc).to_json();
        if let Some(s) = doc.get("started").and_then(|v| v.as_str()) {
            let _ = crate::builds::parse_started(s);
        }
    }

    /// JSON bodies of the endpoint families that read fields one by one: repository
    /// configurations, users, property patches, registry promotions.
    pub fn json_bodies(data: &[u8]) {
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else {
            return;
        };
        if let Some(map) = doc.as_object() {
            let _ = crate::repos::parse_for_fuzz(map);
            let _ = crate::auth::admin::parse_user_for_fuzz(map);
        }
        let _ = crate::artifacts::props::patch(&doc);
        let _ = crate::docker::registry::Promotion::parse(&doc);
    }

    /// Archives (zip, tar, tar.gz): their entries listed as the index lists them.
    pub fn archive(data: &[u8]) {
        use std::io::{Seek, Write};
        for name in ["a.zip", "a.tar", "a.tgz"] {
            let Ok(mut f) = tempfile::tempfile() else {
                return;
            };
            if f.write_all(data).and_then(|_| f.rewind()).is_err() {
                return;
            }
            let _ = crate::artifacts::archive::list_entries(f, name);
        }
    }
}

/// Runs the server on `listener` until `shutdown` resolves, then compacts the journal and returns.
/// Logs `Ready at <url>` once it accepts requests.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let (state, pending) = build_state(config)?;
    let url = format!("http://{addr}{}", state.ctx_path);
    let routes = http::router::routes(state.clone());
    match &state.config.data_dir {
        Some(d) => tracing::info!("Data directory: {}", d.display()),
        None => tracing::info!(
            "Data directory: {} (temporary, removed at exit)",
            state.store.blobs.root().display()
        ),
    }
    jobs::Jobs::start(&state, pending);
    // A server without a data directory (a test's) is seeded with its start: the control API's
    // reset puts it back. With one, `POST /_reference/seed` chooses the state (a copy of a large
    // store at every start would cost a restart its time and memory).
    if let Some(seed) = state.config.seed.clone() {
        seed_from(&state, &seed).await?;
    }
    if let Some(dir) = state.config.seed_images.clone() {
        let s = docker::seed::images(&state, &dir)
            .await
            .map_err(|e| io::Error::other(format!("the seed images {}: {e}", dir.display())))?;
        tracing::info!(
            "Seeded {} images ({} tags, {} manifests, {} blobs) from {}",
            s.images,
            s.tags,
            s.manifests,
            s.blobs,
            dir.display()
        );
    }
    let seeded = state.config.seed.is_some() || state.config.seed_images.is_some();
    if seeded || state.config.data_dir.is_none() {
        requests::capture(&state);
    }
    tracing::info!("Ready at {url}");
    http::serve::run(
        listener,
        routes,
        http::serve::Limits::of(&state.config),
        shutdown,
    )
    .await;
    // Configured passwords still being hashed are finished, so the store never keeps a user whose
    // password is neither hashed nor known (the config may not name them next time).
    state.jobs.shutdown().await;
    state.store.checkpoint()
}

/// Imports the system export `seed` (a folder in Artifactory's layout, or its zip) into a starting
/// server: what `--seed` gives. Any error stops the start.
async fn seed_from(app: &app::AppState, seed: &std::path::Path) -> io::Result<()> {
    let settings = system::import::ImportSettings {
        path: seed.display().to_string(),
        include_metadata: true,
        verbose: false,
        fail_on_error: true,
        fail_if_empty: true,
    };
    let unzipped = if seed.is_file() {
        let (zip, root) = (seed.to_path_buf(), app.store.root().to_path_buf());
        let dir = tokio::task::spawn_blocking(move || system::import::unzip(&zip, &root))
            .await
            .map_err(io::Error::other)?
            .map_err(|e| io::Error::other(format!("the seed {}: {e}", seed.display())))?;
        Some(dir)
    } else {
        None
    };
    let dir = unzipped.as_ref().map_or(seed, |d| d.path());
    let report = system::import::system(app, &settings, dir, "_system").await;
    if !report.errors.is_empty() {
        return Err(io::Error::other(format!(
            "the seed {} could not be imported: {}",
            seed.display(),
            report.errors.join("; ")
        )));
    }
    tracing::info!("Seeded from {}", seed.display());
    Ok(())
}

fn build_state(config: Config) -> io::Result<(app::AppState, Vec<(String, String)>)> {
    let now = config.clock.now_ms();
    let store = store::Store::open(config.data_dir.as_deref(), &config.repositories, now)?;
    let auth = auth::Auth::new(config.anonymous_access, store.root());
    if let Some(a) = store.read().general.anonymous_access {
        auth.set_anonymous_access(a);
    }
    let (changes, pending) = auth::seed(&config, &store.read().security);
    for c in changes {
        store
            .commit_lazy(store::Mutation::Security(c))
            .map_err(|e| io::Error::other(format!("seeding security: {e:?}")))?;
    }
    // Configured passwords work at once; their bcrypt hashes are computed in the background.
    for (name, password) in &pending {
        auth.remember(name, auth::model::PENDING_HASH, password);
    }
    let builds = Arc::new(builds::index::Index::default());
    builds.attach(&store);
    let helm = Arc::new(helm::Index::default());
    helm.attach(&store);
    let ctx_path = config.normalized_context_path();
    let url_base = store.read().url_base.clone();
    let instance_id = format!(
        "{:016x}:{:08x}:{:011x}:-8000",
        rand::random::<u64>(),
        rand::random::<u32>(),
        rand::random::<u64>() & 0xfff_ffff_ffff
    );
    Ok((
        Arc::new(app::App {
            config,
            ctx_path,
            store,
            auth,
            instance_id,
            jobs: Default::default(),
            uploads: Default::default(),
            busy: Default::default(),
            builds,
            helm,
            remotes: Default::default(),
            url_base: std::sync::RwLock::new(url_base),
            requests: Default::default(),
            faults: Default::default(),
            seed: Default::default(),
        }),
        pending,
    ))
}

/// A running server, for tests in the spirit of wiremock's `MockServer::start()`.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<io::Result<()>>>,
    /// An administrator's login, for the control API calls ([`Server::reset`], ...).
    admin: (String, String),
}

/// Builds a [`Server`] for tests: its configuration, then content deployed through the API once it
/// runs; what it starts with is its seed, which [`Server::reset`] puts back.
#[derive(Debug)]
pub struct ServerBuilder {
    config: Config,
    files: Vec<(String, Vec<u8>)>,
}

impl ServerBuilder {
    /// Changes the configuration (every option of [`Config`]).
    pub fn config(mut self, tweak: impl FnOnce(&mut Config)) -> ServerBuilder {
        tweak(&mut self.config);
        self
    }

    /// The clock every timestamp comes from ([`Clock::manual`] freezes it).
    pub fn clock(mut self, clock: Clock) -> ServerBuilder {
        self.config.clock = clock;
        self
    }

    /// One more repository.
    pub fn repo(mut self, key: &str, class: RepoClass, package: PackageType) -> ServerBuilder {
        self.config
            .repositories
            .push(RepoConfig::new(key, class, package));
        self
    }

    /// One more user, as the `--user` flag writes it: `name:password[:admin]`.
    ///
    /// # Panics
    /// When `flag` is not of that form (a test's own mistake).
    pub fn user(mut self, flag: &str) -> ServerBuilder {
        let user = UserConfig::parse_flag(flag).unwrap_or_else(|e| panic!("user '{flag}': {e}"));
        self.config.users.push(user);
        self
    }

    /// Anonymous access on or off (off, as on JCR 7, by default).
    pub fn anonymous_access(mut self, on: bool) -> ServerBuilder {
        self.config.anonymous_access = on;
        self
    }

    /// A system export (a folder in Artifactory's layout, or its zip) imported at start
    /// ([`Config::seed`]).
    pub fn seed(mut self, export: impl Into<std::path::PathBuf>) -> ServerBuilder {
        self.config.seed = Some(export.into());
        self
    }

    /// Docker images pushed at start from OCI image layouts, `dir/<repository>/<image>/`
    /// ([`Config::seed_images`]; `skopeo copy ... oci:<dir>/docker-local/<image>:<tag>` writes one).
    pub fn images(mut self, dir: impl Into<std::path::PathBuf>) -> ServerBuilder {
        self.config.seed_images = Some(dir.into());
        self
    }

    /// A file deployed once the server runs: `repo/path` with optional matrix properties
    /// (`generic-local/app/app.jar;release=1.0`).
    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> ServerBuilder {
        self.files.push((path.to_string(), content.into()));
        self
    }

    /// Starts the server, deploys the files and makes that state its seed.
    pub async fn start(self) -> io::Result<Server> {
        let server = Server::start(self.config).await?;
        let client = reqwest::Client::new();
        for (path, content) in self.files {
            let r = client
                .put(format!("{}/{}", server.url, path.trim_start_matches('/')))
                .basic_auth(&server.admin.0, Some(&server.admin.1))
                .body(content)
                .send()
                .await
                .map_err(io::Error::other)?;
            if r.status() != reqwest::StatusCode::CREATED {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                return Err(io::Error::other(format!(
                    "deploying {path}: {status} {text}"
                )));
            }
        }
        server.seed().await?;
        Ok(server)
    }
}

impl Server {
    /// A builder: a temporary server on a free port ([`Config::ephemeral`]) to configure, fill and
    /// start.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: Config::ephemeral(),
            files: Vec::new(),
        }
    }

    /// Binds `config.bind` (use [`Config::ephemeral`] for a free port) and starts serving.
    pub async fn start(config: Config) -> io::Result<Server> {
        let admin = config
            .users
            .iter()
            .find(|u| u.name == "admin")
            .map_or_else(|| "password".to_string(), |u| u.password.clone());
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}{}", config.normalized_context_path());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, async move {
            let _ = rx.await;
        }));
        Ok(Server {
            addr,
            url,
            shutdown: Some(tx),
            task: Some(task),
            admin: ("admin".to_string(), admin),
        })
    }

    /// Makes the current state the seed (`POST /_reference/seed`).
    pub async fn seed(&self) -> io::Result<()> {
        self.control(reqwest::Method::POST, "seed").await.map(drop)
    }

    /// Puts the seed back (`POST /_reference/reset`): what the server started with, or what
    /// [`Server::seed`] last captured.
    pub async fn reset(&self) -> io::Result<()> {
        self.control(reqwest::Method::POST, "reset").await.map(drop)
    }

    /// The last requests the server answered, newest first, with the nearest existing paths of
    /// each `404` (`GET /_reference/requests`).
    pub async fn requests(&self) -> io::Result<serde_json::Value> {
        let v = self.control(reqwest::Method::GET, "requests").await?;
        Ok(v["requests"].clone())
    }

    async fn control(&self, method: reqwest::Method, path: &str) -> io::Result<serde_json::Value> {
        let r = reqwest::Client::new()
            .request(method, format!("http://{}/_reference/{path}", self.addr))
            .basic_auth(&self.admin.0, Some(&self.admin.1))
            .send()
            .await
            .map_err(io::Error::other)?;
        let status = r.status();
        let text = r.text().await.map_err(io::Error::other)?;
        if !status.is_success() {
            return Err(io::Error::other(format!(
                "/_reference/{path}: {status} {text}"
            )));
        }
        serde_json::from_str(&text).map_err(io::Error::other)
    }

    /// The base URL including the context path, e.g. `http://127.0.0.1:41234/artifactory`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits until it has finished (journal compacted).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Err(e)) => tracing::error!("server stopped with an error: {e}"),
                Err(e) => tracing::error!("server task failed: {e}"),
                Ok(Ok(())) => {}
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// What the domain modules' unit tests share: an application without HTTP, its callers, bodies.
#[cfg(test)]
pub(crate) mod testing {
    use crate::app::{AppState, Body};
    use crate::auth::{Caller, Credentials};
    use crate::config::{Config, PermissionConfig, UserConfig};

    /// An application on a temporary store with a frozen clock, `tweak`ed.
    pub(crate) fn app_with(tweak: impl FnOnce(&mut Config)) -> AppState {
        let mut config = Config {
            clock: crate::Clock::manual(1_700_000_000_000),
            ..Config::ephemeral()
        };
        tweak(&mut config);
        crate::build_state(config)
            .expect("the application builds")
            .0
    }

    /// The default application (admin / password, the default repositories).
    pub(crate) fn app() -> AppState {
        app_with(|_| {})
    }

    /// A configured user `name` (password `<name>-pw`) with `letters` on `repo`.
    pub(crate) fn with_user(c: &mut Config, name: &str, repo: &str, letters: &str) {
        let mut u = UserConfig::parse_flag(&format!("{name}:{name}-pw")).expect("a user");
        u.groups = Some(vec![]);
        c.users.push(u);
        c.permissions.push(PermissionConfig {
            name: format!("{name}-on-{repo}"),
            repositories: vec![repo.into()],
            includes_pattern: "**".into(),
            excludes_pattern: String::new(),
            users: [(name.to_string(), letters.to_string())].into(),
            groups: Default::default(),
        });
    }

    /// The caller Basic credentials make.
    pub(crate) async fn caller(app: &AppState, user: &str, password: &str) -> Caller {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let presented = Credentials {
            api_key: None,
            authorization: Some(format!("Basic {basic}")),
        };
        let now = app.config.clock.now_ms();
        app.auth
            .identify(&app.store, &presented, now)
            .await
            .expect("the credentials are right")
    }

    /// The admin.
    pub(crate) async fn admin(app: &AppState) -> Caller {
        caller(app, "admin", "password").await
    }

    /// A request body of `bytes`.
    pub(crate) fn body(bytes: &[u8]) -> Body {
        let b = bytes::Bytes::copy_from_slice(bytes);
        Box::pin(futures_util::stream::iter([Ok::<_, std::io::Error>(b)]))
    }
}
