//! `jcr-reference`: parse flags, environment and config file, serve until SIGINT/SIGTERM.

use jcr_reference::{serve, Config};

#[tokio::main]
async fn main() {
    // Every upload runs on threads of its own; glibc gives threads up to eight heaps per core and
    // keeps what they freed, so 16 concurrent pushes peaked at twice the memory they use. Two heaps
    // serve these threads as fast (measured in the bench's concurrent pushes: same wall time, peak
    // RSS 117 MiB -> 64 MiB).
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter (under glibc's own lock); no thread has
    // allocated much yet, and later arenas obey it.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JCR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
    let config = match Config::from_args(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot bind {}: {e}", config.bind);
            std::process::exit(1);
        }
    };
    if let Err(e) = serve(listener, config, shutdown_signal()).await {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed here, before the server starts and
/// says it is ready, not when the future is first polled: warp's accept loop polls it only after
/// an accept that is not ready at once (`future::select` polls the accept first), so a signal sent
/// just after the first answer could find the default action and kill the process without its
/// shutdown (the durability test saw SIGTERM kill the server, leaving its data directory behind).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutting down");
    }
}
