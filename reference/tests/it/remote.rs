//! Remote and virtual repositories: a second reference server is the upstream, on a loopback
//! port; what it served is read off its own download statistics.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

/// An upstream holding `generic-local/lib/a.txt`, and a server with the remote `up` in front of
/// its `generic-local` (extra configuration fields from `settings`).
async fn pair(settings: Value) -> (Srv, Srv) {
    let upstream = start().await;
    upstream
        .deploy("generic-local/lib/a.txt", "from upstream")
        .await;
    let s = start().await;
    let mut doc = json!({
        "rclass": "remote",
        "url": upstream.url("generic-local"),
        "username": "admin",
        "password": "password",
    });
    for (k, v) in settings.as_object().unwrap() {
        doc[k] = v.clone();
    }
    let r = s
        .admin(Method::PUT, "api/repositories/up")
        .json(&doc)
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    (upstream, s)
}

/// How many times `path` of the upstream's `generic-local` was downloaded.
async fn served(upstream: &Srv, path: &str) -> u64 {
    let v: Value = upstream
        .get(&format!("api/storage/generic-local/{path}?stats"))
        .await
        .json();
    v["downloadCount"].as_u64().unwrap()
}

#[tokio::test]
async fn a_remote_fetches_once_then_serves_its_cache() {
    let (upstream, s) = pair(json!({"retrievalCachePeriodSecs": 60})).await;
    let r = s.get("up/lib/a.txt").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text(), "from upstream");
    assert_eq!(header(r.headers(), "content-length"), Some("13"));
    let sha1 = sha1_hex(b"from upstream");
    assert_eq!(header(r.headers(), "x-checksum-sha1"), Some(sha1.as_str()));
    assert_eq!(served(&upstream, "lib/a.txt").await, 1);

    // From the cache now: the upstream is not asked again.
    let r = s.get("up/lib/a.txt").await;
    assert_eq!(
        (r.status().as_u16(), r.text()),
        (200, "from upstream".into())
    );
    assert_eq!(served(&upstream, "lib/a.txt").await, 1);

    // File info shows where it came from; ?list and folder info answer from the cache.
    let info: Value = s.get("api/storage/up/lib/a.txt").await.json();
    assert_eq!(info["repo"], "up");
    assert_eq!(info["remoteUrl"], upstream.url("generic-local/lib/a.txt"));
    assert_eq!(info["checksums"]["sha256"], sha256_hex(b"from upstream"));
    assert_eq!(
        info["originalChecksums"]["sha1"], sha1,
        "the upstream's checksums are the original ones"
    );
    // MD5 is computed after the first download, off the client's path.
    let mut checksums = Value::Null;
    for _ in 0..100 {
        let v: Value = s.get("api/storage/up/lib/a.txt").await.json();
        if v["checksums"]["md5"] != "" {
            checksums = v["checksums"].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        checksums,
        json!({"sha1": sha1, "md5": md5_hex(b"from upstream"), "sha256": sha256_hex(b"from upstream")})
    );
    // `<key>-cache` names the cache, as Artifactory's file info shows it; it never asks upstream.
    let cached: Value = s.get("api/storage/up-cache/lib/a.txt").await.json();
    assert_eq!(cached["repo"], "up-cache");
    assert_eq!(cached["downloadUri"], s.url("up-cache/lib/a.txt"));
    assert_eq!(cached["remoteUrl"], upstream.url("generic-local/lib/a.txt"));
    assert_eq!(cached["uri"], s.url("api/storage/up-cache/lib/a.txt"));
    assert_eq!(s.get("up-cache/lib/a.txt").await.text(), "from upstream");
    upstream
        .deploy("generic-local/lib/only-upstream.txt", "x")
        .await;
    assert_rest_error(
        s.get("up-cache/lib/only-upstream.txt").await,
        404,
        "File not found.",
    )
    .await;
    assert_eq!(served(&upstream, "lib/only-upstream.txt").await, 0);
    // Searches and AQL name the cached file by the cache too, and find it by that name.
    let aql = |q: &'static str| {
        let s = &s;
        async move {
            let r = s
                .admin(Method::POST, "api/search/aql")
                .header("content-type", "text/plain")
                .body(q)
                .go()
                .await;
            assert_eq!(r.status(), 200, "{}", r.text());
            r.json::<Value>()["results"].clone()
        }
    };
    let row = json!([{"repo": "up-cache", "path": "lib", "name": "a.txt"}]);
    let q = r#"items.find({"repo":"up-cache"}).include("repo","path","name")"#;
    assert_eq!(aql(q).await, row);
    let q = r#"items.find({"name":"a.txt"}).include("repo","path","name")"#;
    assert_eq!(aql(q).await, row);
    let found: Value = s
        .get("api/search/artifact?name=a.txt&repos=up-cache")
        .await
        .json();
    assert_eq!(
        found["results"],
        json!([{"uri": s.url("api/storage/up-cache/lib/a.txt")}])
    );
    let folder: Value = s.get("api/storage/up/lib").await.json();
    assert_eq!(
        folder["children"],
        json!([{"uri": "/a.txt", "folder": false}])
    );

    // Past the cache period: revalidated with If-Modified-Since, not downloaded again.
    s.clock.advance(61_000);
    let r = s.get("up/lib/a.txt").await;
    assert_eq!(
        (r.status().as_u16(), r.text()),
        (200, "from upstream".into())
    );
    assert_eq!(served(&upstream, "lib/a.txt").await, 1);
    let info: Value = s.get("api/storage/up/lib/a.txt").await.json();
    assert_eq!(info["lastUpdated"], "2023-11-14T22:14:21.123Z");

    // Changed upstream: the next revalidation after the period downloads the new bytes.
    upstream.clock.advance(120_000);
    upstream
        .deploy("generic-local/lib/a.txt", "changed upstream")
        .await;
    s.clock.advance(61_000);
    let r = s.get("up/lib/a.txt").await;
    assert_eq!(r.text(), "changed upstream");
    assert_eq!(served(&upstream, "lib/a.txt").await, 1);
}

#[tokio::test]
async fn misses_are_remembered_and_offline_remotes_answer_from_the_cache() {
    let (upstream, s) = pair(json!({"missedRetrievalCachePeriodSecs": 30})).await;
    assert_rest_error(s.get("up/lib/b.txt").await, 404, "File not found.").await;
    upstream.deploy("generic-local/lib/b.txt", "late").await;
    // Within the missed-retrieval period the upstream is not asked.
    assert_rest_error(s.get("up/lib/b.txt").await, 404, "File not found.").await;
    s.clock.advance(31_000);
    assert_eq!(s.get("up/lib/b.txt").await.text(), "late");

    let r = s
        .admin(Method::POST, "api/repositories/up")
        .json(&json!({"offline": true}))
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    // Cached: still served; not cached: not fetched.
    assert_eq!(s.get("up/lib/b.txt").await.text(), "late");
    assert_rest_error(s.get("up/lib/a.txt").await, 404, "File not found.").await;
    assert_eq!(served(&upstream, "lib/a.txt").await, 0);
}

#[tokio::test]
async fn concurrent_first_downloads_fetch_from_upstream_once() {
    let (upstream, s) = pair(json!({})).await;
    let big = vec![7u8; 3 << 20];
    upstream.deploy("generic-local/big.bin", big.clone()).await;
    let gets = (0..24).map(|_| s.get("up/big.bin"));
    for r in futures_util::future::join_all(gets).await {
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().len(), big.len());
        assert!(r.bytes().iter().all(|b| *b == 7));
    }
    assert_eq!(served(&upstream, "big.bin").await, 1);
}

#[tokio::test]
async fn a_failing_upstream_is_a_404_or_with_hard_fail_a_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", closed.local_addr().unwrap());
    drop(closed);
    let s = start().await;
    for (key, hard) in [("soft", false), ("hard", true)] {
        let r = s
            .admin(Method::PUT, &format!("api/repositories/{key}"))
            .json(&json!({"rclass": "remote", "url": url, "hardFail": hard, "socketTimeoutMillis": 2000}))
            .go()
            .await;
        assert_eq!(r.status(), 200);
    }
    assert_rest_error(s.get("soft/a.txt").await, 404, "File not found.").await;
    let r = s.get("hard/a.txt").await;
    assert_eq!(r.status(), 502);
    let v: Value = r.json();
    let m = v["errors"][0]["message"].as_str().unwrap();
    assert!(
        m.starts_with("Failed to retrieve resource from remote repository 'hard': "),
        "{m}"
    );
}

#[tokio::test]
async fn without_storing_locally_a_remote_proxies() {
    let (upstream, s) = pair(json!({"storeArtifactsLocally": false})).await;
    for n in 1..=2 {
        assert_eq!(s.get("up/lib/a.txt").await.text(), "from upstream");
        assert_eq!(served(&upstream, "lib/a.txt").await, n);
    }
    assert_eq!(
        s.get("api/storage/up/lib/a.txt").await.status(),
        404,
        "nothing was cached"
    );
}

#[tokio::test]
async fn a_virtual_resolves_through_local_then_remote_members_in_order() {
    let (upstream, s) = pair(json!({})).await;
    upstream
        .deploy("generic-local/lib/c.txt", "upstream c")
        .await;
    s.deploy("generic-local/lib/c.txt", "local c").await;
    let r = s
        .admin(Method::PUT, "api/repositories/all")
        .json(&json!({"rclass": "virtual", "repositories": ["generic-local", "up"]}))
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    // The local member has c: the remote is not asked.
    assert_eq!(s.get("all/lib/c.txt").await.text(), "local c");
    assert_eq!(served(&upstream, "lib/c.txt").await, 0);
    // a only upstream: fetched through the remote member.
    assert_eq!(s.get("all/lib/a.txt").await.text(), "from upstream");
    assert_eq!(served(&upstream, "lib/a.txt").await, 1);
    // The unified listing has both members' children.
    let v: Value = s.get("api/storage/all/lib").await.json();
    assert_eq!(
        v["children"],
        json!([{"uri": "/a.txt", "folder": false}, {"uri": "/c.txt", "folder": false}])
    );
    // AQL over the virtual reaches the remote's cache, named as the cache, with the virtual.
    let r = s
        .admin(Method::POST, "api/search/aql")
        .header("content-type", "text/plain")
        .body(r#"items.find({"repo":"all","path":"lib"}).include("repo","path","name","virtual_repos")"#)
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        r.json::<Value>()["results"],
        json!([
            {"repo": "generic-local", "path": "lib", "name": "c.txt", "virtual_repos": ["all"]},
            {"repo": "up-cache", "path": "lib", "name": "a.txt", "virtual_repos": ["all"]},
        ])
    );
}

#[tokio::test]
async fn include_and_exclude_patterns_are_enforced() {
    let s = start().await;
    let r = s
        .admin(Method::POST, "api/repositories/generic-local")
        .json(&json!({"includesPattern": "org/**,*.txt", "excludesPattern": "**/*-SNAPSHOT*"}))
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    s.deploy("generic-local/org/a.jar", "a").await;
    s.deploy("generic-local/top.txt", "t").await;
    let r = s
        .admin(Method::PUT, "generic-local/com/b.jar")
        .body("b")
        .go()
        .await;
    assert_rest_error(
        r,
        409,
        "The repository 'generic-local' rejected the artifact 'generic-local:com/b.jar' due to its include/exclude pattern settings.",
    )
    .await;
    let r = s
        .admin(Method::PUT, "generic-local/org/c-SNAPSHOT.jar")
        .body("c")
        .go()
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(s.get("api/storage/generic-local/com").await.status(), 404);

    // A virtual whose own patterns refuse a path does not look for it; one whose member refuses
    // it skips that member.
    s.deploy("docker-local/org/a.jar", "in docker-local").await;
    let r = s
        .admin(Method::PUT, "api/repositories/v")
        .json(&json!({"rclass": "virtual", "repositories": ["generic-local", "docker-local"], "excludesPattern": "top.txt"}))
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(s.get("v/org/a.jar").await.text(), "a");
    assert_eq!(s.get("v/top.txt").await.status(), 404);
    let v: Value = s.get("api/storage/v/").await.json();
    assert_eq!(v["children"], json!([{"uri": "/org", "folder": true}]));
}

#[tokio::test]
async fn virtual_cycles_are_refused() {
    let s = start().await;
    let put = |key: &str, members: Value| {
        s.admin(Method::PUT, &format!("api/repositories/{key}"))
            .json(&json!({"rclass": "virtual", "repositories": members}))
            .go()
    };
    assert_eq!(put("va", json!(["generic-local"])).await.status(), 200);
    assert_eq!(put("vb", json!(["va"])).await.status(), 200);
    let r = s
        .admin(Method::POST, "api/repositories/va")
        .json(&json!({"repositories": ["generic-local", "vb"]}))
        .go()
        .await;
    assert_rest_error(
        r,
        400,
        "Repository 'vb' includes 'va': a virtual repository cannot include itself through its members",
    )
    .await;
}

#[tokio::test]
async fn remote_configuration_round_trips_and_hides_the_password() {
    let s = start().await;
    let doc = json!({
        "rclass": "remote", "packageType": "generic", "url": "http://127.0.0.1:9/x",
        "username": "u", "password": "secret", "offline": true, "hardFail": true,
        "retrievalCachePeriodSecs": 60, "missedRetrievalCachePeriodSecs": 5,
        "propertySets": ["artifactory"], "xrayIndex": true, "notes": "n",
        "someFutureField": {"kept": true}
    });
    let r = s
        .admin(Method::PUT, "api/repositories/r1")
        .json(&doc)
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let v: Value = s.get("api/repositories/r1").await.json();
    for (k, want) in doc.as_object().unwrap() {
        if k == "password" {
            assert_eq!(v[k], "", "the password is never shown");
        } else {
            assert_eq!(&v[k], want, "{k}");
        }
    }
    assert_eq!(v["storeArtifactsLocally"], true);
    assert_eq!(v["socketTimeoutMillis"], 15000);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.last().unwrap().as_str(), "rclass");
    let r = s
        .admin(Method::POST, "api/repositories/r1")
        .json(&json!({"offline": "yes"}))
        .go()
        .await;
    assert_rest_error(r, 400, "Field 'offline' must be a boolean").await;
}

/// An upstream on a loopback port that answers every request with `body` and a `X-Checksum-Sha1`
/// that is not the body's.
async fn lying_upstream(body: &'static [u8]) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Checksum-Sha1: {}\r\nConnection: close\r\n\r\n",
                    body.len(),
                    "0".repeat(40)
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(body).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_upstream_whose_checksum_is_not_its_bytes_caches_nothing() {
    let addr = lying_upstream(b"bytes that do not match").await;
    let s = start().await;
    let r = s
        .admin(Method::PUT, "api/repositories/liar")
        .json(&json!({"rclass": "remote", "url": format!("http://{addr}/")}))
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    // The first client gets the headers, then its body ends with an error instead of the last chunk.
    let r = s
        .client
        .get(s.url("liar/a.txt"))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "the body must not end cleanly");
    // Nothing was cached.
    assert_rest_error(
        s.get("api/storage/liar/a.txt").await,
        404,
        "Unable to find item",
    )
    .await;
}
