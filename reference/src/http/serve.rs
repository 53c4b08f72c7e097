//! The accept loop: warp's routes served by hyper with the limits a server exposed to CI jobs
//! needs and warp's own `serve` does not set. A client that sends nothing of its request headers
//! for the idle timeout is cut off (hyper's header read timeout); a body that stops arriving fails
//! the same way (see [`idle_body`]); at most `max_connections` are served at once, the others wait
//! in the listen queue, and reaching the limit is logged once until it clears. Connections that end
//! badly (a TLS probe on the plain port, a client going away) are logged at debug level: they are
//! the client's doing, not the server's errors.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use warp::filters::BoxedFilter;
use warp::reply::Response;

/// Connection limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Header read and body idle timeout.
    pub idle: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Limits {
    /// From the configuration; without a configured limit, the open-file limit less a margin for
    /// the store's files (blobs being written and read, the journal).
    pub(crate) fn of(config: &crate::config::Config) -> Limits {
        Limits {
            idle: Duration::from_secs(config.idle_timeout_secs.max(1)),
            max_connections: config
                .max_connections
                .unwrap_or_else(|| open_file_limit().saturating_sub(256).max(16)),
        }
    }
}

fn open_file_limit() -> usize {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0 {
        usize::try_from(r.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    }
}

/// Serves `routes` on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish.
pub(crate) async fn run(
    listener: TcpListener,
    routes: BoxedFilter<(Response,)>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let full = Arc::new(AtomicBool::new(false));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(s) => s,
            Err(_) => {
                if !full.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "serving {} connections, the limit (--max-connections): new ones wait",
                        limits.max_connections
                    );
                }
                tokio::select! {
                    s = slots.clone().acquire_owned() => match s {
                        Ok(s) => s,
                        Err(_) => break,
                    },
                    _ = &mut shutdown => break,
                }
            }
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors or a connection reset before it was accepted: wait a little
                // rather than spin.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if slots.available_permits() > 0 {
            full.store(false, Ordering::Relaxed);
        }
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(warp::service(routes.clone()));
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.idle);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!("connection ended: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A request body that fails with `TimedOut` when no data arrives for `idle` (a client that
/// started a body and stopped sending it). The handler reading it then answers and the connection
/// closes.
pub(crate) fn idle_body<S>(body: S, idle: Duration) -> impl Stream<Item = S::Item> + Send
where
    S: Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + Unpin,
{
    futures_util::stream::unfold(Some(body), move |state| async move {
        let mut body = state?;
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(item)) => Some((item, Some(body))),
            Ok(None) => None,
            Err(_) => {
                let e = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no request body data for {} s", idle.as_secs()),
                );
                Some((Err(e), None))
            }
        }
    })
}
