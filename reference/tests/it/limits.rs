//! Connection limits through real sockets: a client that stops sending its headers or its body is
//! cut off after the idle timeout, and past the connection limit new connections wait instead of
//! the server running out of descriptors.

use std::time::{Duration, Instant};

use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

async fn open(s: &Srv) -> TcpStream {
    TcpStream::connect(s.server.addr()).await.unwrap()
}

/// Reads until the server closes the connection (or `limit` passes); returns what it sent and
/// whether it closed.
async fn until_closed(c: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn a_client_that_stops_sending_its_headers_is_cut_off() {
    let s = start_with(|c| c.idle_timeout_secs = 1).await;
    let mut c = open(&s).await;
    c.write_all(b"GET /artifactory/api/system/ping HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    // Closed by the server (without the timeout it would stay open for good).
    let (_, closed) = until_closed(&mut c, Duration::from_secs(10)).await;
    assert!(closed, "the connection is still open after 10 s");
    // Others are served meanwhile and after.
    assert_eq!(s.get("api/system/ping").await.status(), 200);
}

#[tokio::test]
async fn a_body_that_stops_arriving_fails_the_deploy_and_leaves_nothing() {
    let s = start_with(|c| c.idle_timeout_secs = 1).await;
    let mut c = open(&s).await;
    let head = "PUT /artifactory/generic-local/slow/a.bin HTTP/1.1\r\nHost: x\r\n\
                Authorization: Basic YWRtaW46cGFzc3dvcmQ=\r\nContent-Length: 1000\r\n\r\n";
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(&[b'x'; 100]).await.unwrap();
    let (answer, _) = until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("no request body data for 1 s"), "{answer}");
    assert_eq!(
        s.get("api/storage/generic-local/slow/a.bin").await.status(),
        404
    );
}

#[tokio::test]
async fn past_the_connection_limit_new_connections_wait_their_turn() {
    let s = start_with(|c| c.max_connections = Some(2)).await;
    // Two kept-alive connections take both slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = open(&s).await;
        c.write_all(b"GET /artifactory/api/system/ping HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = c.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(c);
    }
    let third = s.anon(Method::GET, "api/system/ping").send();
    let waiting = tokio::time::timeout(Duration::from_millis(500), third).await;
    assert!(
        waiting.is_err(),
        "a third connection was served past the limit"
    );
    drop(held.pop());
    let r = s.anon(Method::GET, "api/system/ping").send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Many idle connections (opened and left silent) do not keep others from being served.
#[tokio::test]
async fn many_idle_connections_do_not_stall_the_server() {
    let s = start().await;
    // Client and server share this process's open-file limit: a third of it each, at most 900.
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
    let limit = (r.rlim_cur as usize / 3).min(900);
    let mut idle = Vec::new();
    for _ in 0..limit {
        match TcpStream::connect(s.server.addr()).await {
            Ok(c) => idle.push(c),
            Err(_) => break,
        }
    }
    assert_eq!(idle.len(), limit, "connections opened");
    let t = tokio::time::timeout(Duration::from_secs(10), s.get("api/system/ping")).await;
    assert_eq!(
        t.expect("a ping is answered beside the idle connections")
            .status(),
        200
    );
    drop(idle);
}
