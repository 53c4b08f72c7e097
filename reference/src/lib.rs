//! # jcr-reference
//!
//! A reference JFrog Container Registry / Artifactory server for tests: it answers the documented REST
//! API the way a real JCR 7 does, keeps artifacts in a content-addressed store on disk, and starts in
//! milliseconds.
//!
//! Start one on a free port inside a test, use its URL, stop it:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use jcr_reference::{Config, Server};
//!
//! let server = Server::start(Config::ephemeral()).await?;
//! let ping = format!("{}/api/system/ping", server.url());
//! // ... talk to it with any HTTP client (admin / password) ...
//! server.stop().await;
//! # Ok(()) }
//! ```
//!
//! Layout: [`config`] (flags, environment, config file), `http` (one module per API area, the path parser
//! and error shapes), `auth` (who is calling, what they may do: users, groups, permission targets,
//! tokens, key encryption), `store` (blobs, item tree, journal), `docker` (the registry's domain:
//! names, manifests, Artifactory's image layout, upload sessions), `search` (legacy searches, AQL).
//! [`serve`] runs the server on a listener you bound until a shutdown future resolves.

mod app;
mod artifacts;
mod auth;
mod clock;
mod config;
mod docker;
mod error;
mod events;
mod http;
mod jobs;
mod messages;
mod mime;
mod query;
mod repos;
mod search;
mod store;
mod system;
mod transfer;
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
    tracing::info!("Ready at {url}");
    warp::serve(routes)
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
    // Configured passwords still being hashed are finished, so the store never keeps a user whose
    // password is neither hashed nor known (the config may not name them next time).
    state.jobs.shutdown().await;
    state.store.checkpoint()
}

fn build_state(config: Config) -> io::Result<(app::AppState, Vec<(String, String)>)> {
    let now = config.clock.now_ms();
    let store = store::Store::open(config.data_dir.as_deref(), &config.repositories, now)?;
    let auth = auth::Auth::new(config.anonymous_access, store.root());
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
    let ctx_path = config.normalized_context_path();
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
            build_docs: Default::default(),
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
}

impl Server {
    /// Binds `config.bind` (use [`Config::ephemeral`] for a free port) and starts serving.
    pub async fn start(config: Config) -> io::Result<Server> {
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
        })
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
