//! `jcr-reference`: parse flags, environment and config file, serve until SIGINT/SIGTERM.
//! `jcr-reference health [options]` asks a running server (at the address and context path the
//! same options and `JCR_*` variables name) for `/api/system/ping` and exits 0 when it answers
//! `OK`: the health check of the container image.

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
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let health = args.get(1).is_some_and(|a| a == "health");
    if health {
        args.remove(1);
    }
    let config = match Config::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if health {
        std::process::exit(match ping(&config) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("unhealthy: {e}");
                1
            }
        });
    }
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

/// `GET <context>/api/system/ping` on the configured address (a wildcard address is asked on the
/// loopback): `Ok` for `200 OK` with the body `OK`.
fn ping(config: &Config) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut addr = config.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = std::time::Duration::from_secs(5);
    let mut s =
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let path = format!("{}/api/system/ping", config.normalized_context_path());
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    let status_ok = answer.starts_with("HTTP/1.1 200");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    if status_ok && body.trim() == "OK" {
        Ok(())
    } else {
        Err(answer.lines().next().unwrap_or("no answer").to_string())
    }
}
