//! Bad input of every kind: a clear 4xx in the right shape, nothing stored, no panic.

use reqwest::Method;

use crate::common::*;

#[tokio::test]
async fn traversal_and_malformed_paths_are_400_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start_with(|c| c.data_dir = Some(data.clone())).await;
    let cases = [
        (
            "/artifactory/generic-local/../escape.txt",
            "Illegal path segment '..': generic-local/../escape.txt",
        ),
        (
            "/artifactory/generic-local/%2e%2e/escape.txt",
            "Illegal path segment '..': generic-local/%2e%2e/escape.txt",
        ),
        (
            "/artifactory/generic-local/a/./b.txt",
            "Illegal path segment '.': generic-local/a/./b.txt",
        ),
        (
            "/artifactory/generic-local/a%2Fb.txt",
            "Illegal character in path segment: generic-local/a%2Fb.txt",
        ),
        (
            "/artifactory/generic-local/a%00b.txt",
            "Illegal character in path: a%00b.txt",
        ),
        (
            "/artifactory/generic-local/%ff.txt",
            "Invalid path encoding: %ff.txt",
        ),
        (
            "/artifactory/generic-local/http://evil.example/x",
            "Forbidden Url in path: generic-local/http://evil.example/x",
        ),
        (
            "/artifactory/generic-local/x.txt;=v",
            "Invalid matrix parameter: =v",
        ),
    ];
    for (path, message) in cases {
        for method in ["GET", "PUT", "DELETE"] {
            let (status, text) = raw_get(&s, method, path).await;
            assert_eq!(status, 400, "{method} {path}: {text}");
            assert!(text.contains("content-type: application/json"), "{text}");
            assert!(
                text.ends_with(&rest_error(400, message)),
                "{method} {path}: {text}"
            );
        }
    }
    let list: serde_json::Value = s
        .get("api/storage/generic-local?list&deep=1&listFolders=1")
        .await
        .json();
    assert_eq!(list["files"], serde_json::json!([]));
    assert!(!dir.path().join("escape.txt").exists());
    assert!(!data.join("escape.txt").exists());
}

#[tokio::test]
async fn truncated_upload_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start_with(|c| c.data_dir = Some(data.clone())).await;
    let req = b"PUT /artifactory/generic-local/trunc.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46cGFzc3dvcmQ=\r\nContent-Length: 1000000\r\n\r\nonly a few bytes";
    {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(s.server.addr())
            .await
            .unwrap();
        stream.write_all(req).await.unwrap();
        stream.shutdown().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert_eq!(s.get("generic-local/trunc.bin").await.status(), 404);
    let tmp: Vec<_> = std::fs::read_dir(data.join("tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "temp files left: {tmp:?}");
    let blobs = walk(&data.join("blobs"));
    assert!(blobs.is_empty(), "blobs written: {blobs:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[tokio::test]
async fn huge_headers_are_refused_and_the_server_lives_on() {
    let s = start().await;
    let big = "x".repeat(1 << 20);
    let req = format!("GET /artifactory/api/system/ping HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nConnection: close\r\n\r\n");
    let (status, _) = raw(s.server.addr(), req.as_bytes()).await;
    assert!(
        status == 431 || status == 400 || status == 0,
        "status {status}"
    );
    assert_eq!(
        s.anon(Method::GET, "api/system/ping").go().await.text(),
        "OK"
    );
}

#[tokio::test]
async fn upload_over_the_configured_limit_is_413_and_stores_nothing() {
    let s = start_with(|c| c.max_upload = Some(1000)).await;
    let r = s
        .admin(Method::PUT, "generic-local/big.bin")
        .body(vec![0u8; 5000])
        .go()
        .await;
    assert_rest_error(r, 413, "Request body is too large").await;
    assert_eq!(s.get("generic-local/big.bin").await.status(), 404);
}

#[tokio::test]
async fn malformed_properties_and_queries_are_400() {
    let s = start().await;
    s.deploy("generic-local/q.txt", "q").await;
    let r = s
        .admin(
            Method::PUT,
            "api/storage/generic-local/q.txt?properties==nokey",
        )
        .go()
        .await;
    assert_eq!(r.status(), 400);
    let r = s
        .admin(Method::PUT, "api/storage/generic-local/q.txt")
        .go()
        .await;
    assert_rest_error(r, 400, "Missing 'properties' parameter").await;
    let r = s
        .admin(Method::POST, "api/copy/generic-local/q.txt")
        .go()
        .await;
    assert_rest_error(r, 400, "The 'to' parameter is required").await;
    let v: serde_json::Value = s.get("api/storage/generic-local/q.txt").await.json();
    assert_eq!(v["size"], "1");
}
