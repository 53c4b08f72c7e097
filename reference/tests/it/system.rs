//! System endpoints, common headers, authentication.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn ping_is_anonymous_ok_text() {
    let s = start().await;
    let r = s.anon(Method::GET, "api/system/ping").go().await;
    let (status, h, text) = parts(r).await;
    assert_eq!((status, text.as_str()), (200, "OK"));
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    assert_eq!(
        header(&h, "x-jfrog-version"),
        Some("Artifactory/7.98.9 79809900")
    );
    assert_eq!(header(&h, "server"), Some("Artifactory/7.98.9 79809900"));
    let id = header(&h, "x-artifactory-id").unwrap();
    let parts: Vec<&str> = id.split(':').collect();
    assert_eq!(parts.len(), 4, "{id}");
    assert_eq!(parts[3], "-8000");
    assert_eq!(parts[0].len(), 16);
}

#[tokio::test]
async fn version_json() {
    let s = start().await;
    let r = s.get("api/system/version").await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/vnd.org.jfrog.artifactory.system.Version+json")
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], "7.98.9");
    assert_eq!(v["revision"], "79809900");
    // The add-ons that work here, no more (helm comes with the Helm repositories).
    assert_eq!(
        v["addons"],
        json!(["build", "docker", "helm", "properties", "rest", "search"])
    );
    assert!(v.get("license").is_none());
}

#[tokio::test]
async fn every_response_has_the_common_headers_even_errors() {
    let s = start().await;
    for path in [
        "generic-local/missing",
        "api/nothing-here",
        "../outside",
        "api/storage/generic-local/none",
    ] {
        let r = s.get(path).await;
        for h in ["x-artifactory-id", "x-jfrog-version", "server"] {
            assert!(r.headers().contains_key(h), "{path} lacks {h}");
        }
    }
    let r = s
        .client
        .get(format!("http://{}/not-the-context", s.server.addr()))
        .go()
        .await;
    assert_rest_error(r, 404, "Not Found").await;
}

#[tokio::test]
async fn anonymous_is_refused_by_default_with_basic_challenge() {
    let s = start().await;
    s.deploy("generic-local/a.txt", "a").await;
    let r = s.anon(Method::GET, "generic-local/a.txt").go().await;
    assert_eq!(
        header(r.headers(), "www-authenticate"),
        Some("Basic realm=\"Artifactory Realm\"")
    );
    assert_rest_error(r, 401, "Authentication is required").await;
    let r = s
        .client
        .get(s.url("generic-local/a.txt"))
        .basic_auth("admin", Some("wrong"))
        .go()
        .await;
    assert_eq!(
        header(r.headers(), "www-authenticate"),
        Some("Basic realm=\"Artifactory Realm\"")
    );
    assert_rest_error(r, 401, "Bad credentials").await;
    let r = s
        .client
        .get(s.url("api/system/ping"))
        .basic_auth("admin", Some("wrong"))
        .go()
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn anonymous_access_switch_allows_reads_only() {
    let s = start_with(|c| c.anonymous_access = true).await;
    s.deploy("generic-local/a.txt", "a").await;
    let r = s.anon(Method::GET, "generic-local/a.txt").go().await;
    assert_eq!(r.status(), 200);
    let r = s
        .anon(Method::PUT, "generic-local/b.txt")
        .body("b")
        .go()
        .await;
    assert_eq!(
        header(r.headers(), "www-authenticate"),
        Some("Basic realm=\"Artifactory Realm\"")
    );
    assert_rest_error(r, 401, "Unauthorized").await;
    let r = s.anon(Method::DELETE, "generic-local/a.txt").go().await;
    assert_eq!(r.status(), 401);
    let r = s
        .anon(Method::GET, "api/storage/generic-local?list")
        .go()
        .await;
    assert_rest_error(
        r,
        403,
        "This resource is available to authenticated users only.",
    )
    .await;
}

#[tokio::test]
async fn non_admin_user_may_read_but_not_write() {
    let s = start_with(with_bob).await;
    s.deploy("generic-local/a.txt", "a").await;
    let r = s
        .client
        .get(s.url("generic-local/a.txt"))
        .basic_auth("bob", Some("pw"))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .put(s.url("generic-local/b.txt"))
        .basic_auth("bob", Some("pw"))
        .body("b")
        .go()
        .await;
    assert_rest_error(
        r,
        403,
        "The user: 'bob' is not permitted to deploy 'b.txt' into 'generic-local:b.txt'.",
    )
    .await;
    let r = s
        .client
        .delete(s.url("generic-local/a.txt"))
        .basic_auth("bob", Some("pw"))
        .go()
        .await;
    assert_rest_error(r, 403, "Not enough permissions to delete/overwrite artifact 'generic-local:a.txt' (user: 'bob' needs DELETE permission).").await;
}

#[tokio::test]
async fn override_base_url_headers_and_custom_base() {
    let s = start_with(|c| c.base_url = Some("https://jcr.example.com/artifactory".into())).await;
    let v = s.deploy("generic-local/u.txt", "u").await;
    assert_eq!(
        v["uri"],
        "https://jcr.example.com/artifactory/generic-local/u.txt"
    );
    let r = s
        .admin(Method::GET, "api/storage/generic-local/u.txt")
        .header("X-JFrog-Override-Base-Url", "https://proxy.example.org/")
        .go()
        .await;
    let v: serde_json::Value = r.json();
    assert_eq!(
        v["uri"],
        "https://proxy.example.org/artifactory/api/storage/generic-local/u.txt"
    );
}

#[tokio::test]
async fn custom_context_path() {
    let s = start_with(|c| c.context_path = "/".into()).await;
    assert!(!s.base.ends_with("/artifactory"));
    let r = s.anon(Method::GET, "api/system/ping").go().await;
    assert_eq!(r.text(), "OK");
}

#[tokio::test]
async fn garbage_collection_removes_only_unreferenced_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start_with(|c| {
        c.data_dir = Some(data.clone());
        with_bob(c);
    })
    .await;
    s.deploy("generic-local/gc/gone.bin", "will be deleted")
        .await;
    s.deploy("generic-local/gc/kept.bin", "stays").await;
    s.deploy("helm-local/same-content.bin", "stays").await;
    let blob = |content: &[u8]| {
        let h = sha256_hex(content);
        data.join("blobs/sha256").join(&h[..2]).join(&h)
    };
    assert!(blob(b"will be deleted").is_file());
    let r = s
        .admin(Method::DELETE, "generic-local/gc/gone.bin")
        .go()
        .await;
    assert_eq!(r.status(), 204);
    let r = s
        .client
        .post(s.url("api/system/storage/gc"))
        .basic_auth("bob", Some("pw"))
        .go()
        .await;
    assert_rest_error(r, 403, "Forbidden").await;
    assert_rest_error(
        s.anon(Method::POST, "api/system/storage/gc").go().await,
        401,
        "Authentication is required",
    )
    .await;
    let r = s.admin(Method::POST, "api/system/storage/gc").go().await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    assert_eq!(
        text,
        "Garbage collection finished: 1 binaries removed, 15 bytes freed."
    );
    assert!(!blob(b"will be deleted").exists());
    assert!(blob(b"stays").is_file());
    assert_eq!(s.get("generic-local/gc/kept.bin").await.text(), "stays");
    assert_eq!(s.get("helm-local/same-content.bin").await.text(), "stays");
    // Nothing left to collect the second time.
    let r = s.admin(Method::POST, "api/system/storage/gc").go().await;
    assert_eq!(
        r.text(),
        "Garbage collection finished: 0 binaries removed, 0 bytes freed."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collection_never_removes_a_blob_an_in_flight_deploy_needs() {
    let s = start().await;
    // Deploys and collections race; every acknowledged deploy must stay readable.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (client, url) = (
            s.client.clone(),
            s.url(&format!("generic-local/race/{i}.bin")),
        );
        tasks.push(tokio::spawn(async move {
            let body = vec![i as u8; 200_000];
            let r = client
                .put(&url)
                .basic_auth("admin", Some("password"))
                .body(body)
                .go()
                .await;
            assert_eq!(r.status(), 201);
        }));
        let r = s.admin(Method::POST, "api/system/storage/gc").go().await;
        assert_eq!(r.status(), 200);
    }
    for t in tasks {
        t.await.unwrap();
    }
    s.admin(Method::POST, "api/system/storage/gc").go().await;
    for i in 0..20u8 {
        let r = s.get(&format!("generic-local/race/{i}.bin")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().as_ref(), vec![i; 200_000].as_slice());
    }
}

#[tokio::test]
async fn a_slow_upload_and_a_waiting_collection_do_not_stall_other_deploys() {
    let s = start().await;
    // An upload that sends one chunk and then waits.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(vec![1u8; 1024])).await.unwrap();
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }));
    let slow = {
        let req = s.admin(Method::PUT, "generic-local/slow.bin").body(body);
        tokio::spawn(async move { req.go().await.status().as_u16() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // A collection now waits for the slow upload...
    let gc = {
        let req = s.admin(Method::POST, "api/system/storage/gc");
        tokio::spawn(async move { req.go().await.status().as_u16() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // ...but other deploys go through meanwhile.
    let quick = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        s.admin(Method::PUT, "generic-local/quick.txt")
            .body("q")
            .send(),
    )
    .await
    .expect("a deploy stalled behind the waiting collection")
    .unwrap();
    assert_eq!(quick.status(), 201);
    tx.send(Ok(vec![2u8; 10])).await.unwrap();
    drop(tx);
    assert_eq!(slow.await.unwrap(), 201);
    assert_eq!(gc.await.unwrap(), 200);
    assert_eq!(s.get("generic-local/slow.bin").await.bytes().len(), 1034);
}

#[tokio::test]
async fn background_garbage_collection_runs_on_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start_with(|c| {
        c.data_dir = Some(data.clone());
        c.gc_interval_secs = Some(1);
    })
    .await;
    s.deploy("generic-local/bg/gone.bin", "collected in the background")
        .await;
    let h = sha256_hex(b"collected in the background");
    let blob = data.join("blobs/sha256").join(&h[..2]).join(&h);
    assert!(blob.is_file());
    assert_eq!(
        s.admin(Method::DELETE, "generic-local/bg/gone.bin")
            .go()
            .await
            .status(),
        204
    );
    let mut gone = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if !blob.exists() {
            gone = true;
            break;
        }
    }
    assert!(
        gone,
        "the background collection did not remove the unreferenced blob within 4 s"
    );
}

#[tokio::test]
async fn system_info_is_an_admin_text_dump() {
    let s = start_with(with_bob).await;
    let r = s.get("api/system").await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    assert!(
        text.starts_with(" SYSTEM INFORMATION DUMP\n =======================\n"),
        "{text}"
    );
    let row = |k: &str| {
        text.lines()
            .find_map(|l| {
                let (key, value) = l.strip_prefix(" | ")?.split_once(" | ")?;
                (key.trim_end() == k).then(|| value.to_string())
            })
            .unwrap_or_else(|| panic!("no {k} in {text}"))
    };
    assert_eq!(row("artifactory.version"), "7.98.9");
    assert_eq!(row("artifactory.revision"), "79809900");
    assert_eq!(row("artifactory.edition"), "JCR Edition");
    assert_eq!(row("artifactory.base.url"), s.base);
    s.deploy("generic-local/a.bin", vec![7u8; 2048]).await;
    let r = s.get("api/system").await;
    let text = r.text();
    let artifacts = text
        .lines()
        .find(|l| l.starts_with(" | artifacts.count "))
        .unwrap();
    assert!(artifacts.ends_with("| 1"), "{artifacts}");
    let r = s.basic(Method::GET, "api/system", "bob", "pw").go().await;
    assert_rest_error(r, 403, "Forbidden").await;
    let r = s.anon(Method::GET, "api/system").go().await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn licenses_report_the_jcr_edition_and_refuse_keys() {
    let s = start().await;
    for path in ["api/system/licenses", "api/system/license"] {
        let r = s.get(path).await;
        let (status, h, text) = parts(r).await;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "content-type"), Some("application/json"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            json!({"type": "JCR Edition", "validThrough": "", "licensedTo": ""})
        );
    }
    let install = |body: &'static str| {
        s.admin(Method::POST, "api/system/licenses")
            .header("content-type", "application/json")
            .body(body)
            .go()
    };
    assert_rest_error(
        install(r#"{"licenseKey": "abc\ndef"}"#).await,
        400,
        "Cannot install license. Operation is not supported on Artifactory JCR",
    )
    .await;
    assert_rest_error(
        install(r#"[{"licenseKey": "a"}, {"licenseKey": "b"}]"#).await,
        400,
        "Cannot install license. Operation is not supported on Artifactory JCR",
    )
    .await;
    assert_rest_error(
        install(r#"{"licenseKey": " "}"#).await,
        400,
        "No license key supplied.",
    )
    .await;
    let r = install("{not json").await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json();
    let m = v["errors"][0]["message"].as_str().unwrap();
    assert!(m.starts_with("Unable to add Artifactory license. "), "{m}");
    let r = s.admin(Method::DELETE, "api/system/license").go().await;
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn verify_connection_makes_a_real_request() {
    let s = start().await;
    let verify = |doc: serde_json::Value| {
        s.admin(Method::POST, "api/system/verifyconnection")
            .json(&doc)
            .go()
    };
    let r = verify(json!({"endpoint": s.url("api/system/ping")})).await;
    let (status, _, text) = parts(r).await;
    assert_eq!(
        (status, text.as_str()),
        (200, "Successfully connected to endpoint")
    );
    // What the endpoint answered, when not 200; credentials are sent when both are given.
    let licenses = s.url("api/system/licenses");
    let r = verify(json!({"endpoint": licenses})).await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json();
    let m = v["errors"][0]["message"].as_str().unwrap();
    assert!(
        m.starts_with(&format!(
            "Received error from endpoint url: {licenses} --> 401: "
        )),
        "{m}"
    );
    let r =
        verify(json!({"endpoint": licenses, "username": "admin", "password": "password"})).await;
    assert_eq!(r.status(), 200);
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let r = verify(json!({"endpoint": format!("http://{dead}/")})).await;
    let v: serde_json::Value = r.json();
    let m = v["errors"][0]["message"].as_str().unwrap();
    assert!(
        m.starts_with(&format!(
            "Could not verify connection to endpoint: http://{dead}/ --> "
        )),
        "{m}"
    );
    assert_rest_error(
        verify(json!({})).await,
        400,
        "Endpoint is required to verify connection.",
    )
    .await;
    assert_rest_error(
        verify(json!({"endpoint": "no url"})).await,
        400,
        "Cannot parse the url no url",
    )
    .await;
}

#[tokio::test]
async fn probes_health_and_usage() {
    let s = start().await;
    for path in ["api/v1/system/readiness", "api/v1/system/liveness"] {
        let r = s.get(path).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<serde_json::Value>(), json!({"code": "OK"}));
        // Kubernetes probes send no credentials: answered as ping is, anonymous access off or on.
        assert_eq!(s.anon(Method::GET, path).go().await.status(), 200);
    }
    let service = s.get("api/system/service_id").await.text();
    let root = format!("http://{}/router/api/v1/system/health", s.server.addr());
    let r = s.client.get(&root).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["router"]["state"], "HEALTHY");
    assert_eq!(
        v["services"],
        json!([{"service_id": service, "node_id": v["router"]["node_id"], "state": "HEALTHY", "message": "OK"}])
    );
    let r = s
        .admin(Method::POST, "api/system/usage")
        .json(&json!({"productId": "jfrog-client-js/2.0", "features": [{"featureId": "x"}]}))
        .go()
        .await;
    assert_eq!((r.status().as_u16(), r.text()), (200, String::new()));
    let r = s
        .admin(Method::POST, "api/system/usage")
        .body("not json")
        .go()
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_custom_url_base_is_in_every_absolute_url() {
    let s = start_with(with_bob).await;
    let base = "https://jcr.example.test:444/artifactory";
    let set = |url: &'static str| {
        s.admin(Method::PUT, "api/system/configuration/baseUrl")
            .header("content-type", "text/plain")
            .body(url)
            .go()
    };
    let r = set(base).await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    assert_eq!(
        text,
        format!("URL base has been successfully updated to \"{base}\".\n")
    );
    let deployed = s.deploy("generic-local/u/a.txt", "a").await;
    assert_eq!(
        deployed["downloadUri"],
        format!("{base}/generic-local/u/a.txt")
    );
    let info: serde_json::Value = s.get("api/storage/generic-local/u/a.txt").await.json();
    assert_eq!(
        info["uri"],
        format!("{base}/api/storage/generic-local/u/a.txt")
    );
    assert_eq!(info["downloadUri"], format!("{base}/generic-local/u/a.txt"));
    let repos: serde_json::Value = s.get("api/repositories").await.json();
    assert!(
        repos
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["url"].as_str().unwrap().starts_with(base)),
        "{repos}"
    );
    let found: serde_json::Value = s.get("api/search/artifact?name=a.txt").await.json();
    assert_eq!(
        found["results"][0]["uri"],
        format!("{base}/api/storage/generic-local/u/a.txt")
    );
    let r = s
        .anon(Method::GET, "api/docker/docker-local/v2/")
        .go()
        .await;
    let challenge = header(r.headers(), "www-authenticate").unwrap().to_string();
    assert!(
        challenge.starts_with("Bearer realm=\"https://jcr.example.test:444/v2/token\""),
        "{challenge}"
    );

    // Refused as Artifactory's URL validator refuses; nothing changes.
    for (bad, message) in [
        (
            "ftp://x.test/",
            "Scheme 'ftp' is not allowed. The following schemes are allowed: [http, https]",
        ),
        (
            "jcr.example.test",
            "Url scheme cannot be empty. The following schemes are allowed: [http, https]. For example: http://host",
        ),
        ("http://", "Cannot resolve host from url: http://"),
    ] {
        assert_rest_error(set(bad).await, 400, message).await;
    }
    let r = s
        .basic(Method::PUT, "api/system/configuration/baseUrl", "bob", "pw")
        .body("http://evil.test")
        .go()
        .await;
    assert_rest_error(r, 403, "Forbidden").await;
    let info: serde_json::Value = s.get("api/storage/generic-local/u/a.txt").await.json();
    assert_eq!(
        info["uri"],
        format!("{base}/api/storage/generic-local/u/a.txt")
    );

    // An empty URL base removes it: URLs follow the request's host again.
    let r = set("").await;
    assert_eq!(
        r.text(),
        "URL base has been successfully updated to \"\".\n"
    );
    let info: serde_json::Value = s.get("api/storage/generic-local/u/a.txt").await.json();
    assert_eq!(info["uri"], s.url("api/storage/generic-local/u/a.txt"));
}

#[tokio::test]
async fn tasks_list_the_background_jobs_and_their_state() {
    let s = start_with(with_bob).await;
    let tasks = || async {
        let r = s.get("api/tasks").await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            header(r.headers(), "content-type"),
            Some("application/json")
        );
        r.json::<serde_json::Value>()["tasks"]
            .as_array()
            .unwrap()
            .clone()
    };
    let all = tasks().await;
    let by_type = |all: &[serde_json::Value], t: &str| {
        all.iter()
            .find(|x| x["type"] == t)
            .cloned()
            .unwrap_or_else(|| panic!("no {t} in {all:?}"))
    };
    let uploads = by_type(
        &all,
        "org.artifactory.repo.cleanup.DockerUploadsFolderCleanupJob",
    );
    assert_eq!(uploads["state"], "scheduled");
    assert!(uploads.get("started").is_none());
    let id = uploads["id"].as_str().unwrap();
    assert!(
        id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    // A registry upload leaves SHA-1 and MD5 to the checksums job: running until they are in.
    let p = crate::docker::reg(&s, "docker-local", false);
    crate::docker::push_blob(&s, &p, "tasks/img", b"a layer for the checksums job").await;
    let checksums = by_type(
        &tasks().await,
        "org.jfrog.reference.jobs.ChecksumsCalculationJob",
    );
    assert_eq!(checksums["state"], "running", "{checksums}");
    assert!(checksums["started"].as_str().unwrap().ends_with('Z'));
    let mut state = checksums["state"].clone();
    for _ in 0..200 {
        state = by_type(
            &tasks().await,
            "org.jfrog.reference.jobs.ChecksumsCalculationJob",
        )["state"]
            .clone();
        if state == "scheduled" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(state, "scheduled");
    let r = s.basic(Method::GET, "api/tasks", "bob", "pw").go().await;
    assert_rest_error(r, 403, "Forbidden").await;
}

#[tokio::test]
async fn web_server_settings_round_trip_and_make_an_nginx_snippet() {
    let s = start_with(with_bob).await;
    let host = s.server.addr().ip().to_string();
    let port = s.server.addr().port();
    // Nothing saved: Artifactory's defaults, filled from the server's URL.
    let v: serde_json::Value = s.get("api/system/configuration/webServer").await.json();
    assert_eq!(
        v,
        json!({
            "key": "direct", "artifactoryAppContext": "artifactory", "publicAppContext": "artifactory",
            "serverName": host, "artifactoryServerName": host, "artifactoryPort": 8081,
            "dockerReverseProxyMethod": "SUBDOMAIN", "useHttps": false, "useHttp": false,
            "httpsPort": 443, "httpPort": 80,
        })
    );
    let doc = json!({
        "key": "nginx", "webServerType": "NGINX", "artifactoryAppContext": "artifactory",
        "publicAppContext": "artifactory", "serverName": "jcr.example.test",
        "artifactoryServerName": "127.0.0.1", "artifactoryPort": port,
        "dockerReverseProxyMethod": "PORTPERREPO", "useHttps": false, "useHttp": true,
        "httpsPort": 443, "httpPort": 8080,
        "reverseProxyRepositories": {"reverseProxyRepoConfigs": [{"repoRef": "docker-local", "serverName": "", "port": 5001}]},
    });
    let r = s
        .admin(Method::POST, "api/system/configuration/webServer")
        .json(&doc)
        .go()
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.json::<serde_json::Value>(),
        json!({"info": "Successfully update reverse proxy 'nginx'"})
    );
    let v: serde_json::Value = s.get("api/system/configuration/webServer").await.json();
    assert_eq!(v, doc, "what was saved comes back");
    let r = s.get("api/system/configuration/reverseProxy/nginx").await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    for line in [
        "    listen 8080;",
        "    server_name jcr.example.test;",
        &format!("        proxy_pass http://127.0.0.1:{port}/artifactory/;"),
        "    listen 5001;",
        "    rewrite ^/(v1|v2)/(.*) /artifactory/api/docker/docker-local/$1/$2;",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    // The snippet is for authenticated callers; the settings for administrators.
    let r = s
        .basic(
            Method::GET,
            "api/system/configuration/reverseProxy/nginx",
            "bob",
            "pw",
        )
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .basic(
            Method::GET,
            "api/system/configuration/webServer",
            "bob",
            "pw",
        )
        .go()
        .await;
    assert_rest_error(r, 403, "Forbidden").await;
    // Refused as the model cannot hold them; nothing changes.
    for (bad, message) in [
        (
            json!({"webServerType": "IIS"}),
            "Field 'webServerType' must be one of DIRECT, NGINX, APACHE, HAPROXY: 'IIS'",
        ),
        (
            json!({"httpPort": 0}),
            "Field 'httpPort' must be a port number (1-65535)",
        ),
        (
            json!({"reverseProxyRepositories": {"reverseProxyRepoConfigs": [{"repoRef": "generic-local", "port": 5002}]}}),
            "Repository 'generic-local' is not a Docker repository",
        ),
    ] {
        let r = s
            .admin(Method::POST, "api/system/configuration/webServer")
            .json(&bad)
            .go()
            .await;
        assert_rest_error(r, 400, message).await;
    }
    let v: serde_json::Value = s.get("api/system/configuration/webServer").await.json();
    assert_eq!(v, doc);
}

#[tokio::test]
async fn the_sha256_migration_runs_as_a_task_and_stops_when_asked() {
    let s = start().await;
    for i in 0..3 {
        s.deploy(&format!("generic-local/sha2/{i}.txt"), format!("{i}"))
            .await;
    }
    let start_migration = |body: &'static str| {
        s.admin(Method::POST, "api/system/migration/sha2/start")
            .header("content-type", "application/json")
            .body(body)
            .go()
    };
    let migration = || async {
        let v: serde_json::Value = s.get("api/tasks").await.json();
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| {
                t["type"] == "org.artifactory.storage.jobs.migration.sha256.Sha256MigrationJob"
            })
            .cloned()
    };
    // One file a batch and a minute between batches: it is still running when asked again.
    let r = start_migration(r#"{"queryLimit": 1, "sleepIntervalMillis": 60000}"#).await;
    let (status, _, text) = parts(r).await;
    assert_eq!(
        (status, text.as_str()),
        (200, "Sha256 migration scheduled to start successfully")
    );
    assert_eq!(migration().await.unwrap()["state"], "running");
    let r = start_migration("{}").await;
    let (status, _, text) = parts(r).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "Sha256 migration task is already running")
    );
    let r = s
        .admin(Method::POST, "api/system/migration/sha2/stop")
        .go()
        .await;
    let (status, _, text) = parts(r).await;
    assert_eq!(
        (status, text.as_str()),
        (200, "Sha256 migration scheduled to stop successfully")
    );
    // The pause is cut short: it is gone from the tasks soon, and a new one may start.
    let mut gone = false;
    for _ in 0..100 {
        if migration().await.is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(gone, "the migration did not stop");
    let r = start_migration(r#"{"sleepIntervalMillis": 0}"#).await;
    assert_eq!(r.status(), 200);
    let r = start_migration("not json").await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json();
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("Could not parse the JSON body"));
}

#[tokio::test]
async fn a_sha256_migration_without_pauses_finishes() {
    let s = start().await;
    s.deploy("generic-local/sha2/a.txt", "a").await;
    let start_now = || {
        s.admin(Method::POST, "api/system/migration/sha2/start")
            .json(&json!({"sleepIntervalMillis": 0}))
            .go()
    };
    assert_eq!(start_now().await.status(), 200);
    let mut listed = true;
    for _ in 0..100 {
        let v: serde_json::Value = s.get("api/tasks").await.json();
        listed = v["tasks"].as_array().unwrap().iter().any(|t| {
            t["type"] == "org.artifactory.storage.jobs.migration.sha256.Sha256MigrationJob"
        });
        if !listed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!listed, "the migration did not finish");
    // Finished: it may run again.
    assert_eq!(start_now().await.status(), 200);
}

async fn configuration(s: &Srv) -> String {
    let r = s.get("api/system/configuration").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "content-type"), Some("application/xml"));
    r.text()
}

async fn post_configuration(s: &Srv, doc: &str) -> Answer {
    s.admin(Method::POST, "api/system/configuration")
        .header("content-type", "application/xml")
        .body(doc.to_string())
        .go()
        .await
}

#[tokio::test]
async fn the_configuration_is_generated_from_the_live_state() {
    let s = start_with(with_bob).await;
    let r = s
        .admin(Method::PUT, "api/repositories/libs-remote")
        .json(&json!({"rclass": "remote", "url": "https://repo.example.test/maven2", "username": "u", "password": "hidden-upstream-secret", "retrievalCachePeriodSecs": 60}))
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let r = s
        .admin(Method::PUT, "api/repositories/all")
        .json(&json!({"rclass": "virtual", "repositories": ["generic-local", "libs-remote"], "defaultDeploymentRepo": "generic-local"}))
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let r = s
        .admin(Method::PUT, "api/system/configuration/baseUrl")
        .body("https://jcr.example.test/artifactory")
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let xml = configuration(&s).await;
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<config xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"http://artifactory.jfrog.org/xsd/3.1.32\" xsi:schemaLocation=\"http://artifactory.jfrog.org/xsd/3.1.32 http://www.jfrog.org/xsd/artifactory-v3_1_32.xsd\">\n    <offlineMode>false</offlineMode>\n"), "{xml}");
    // The schema's order: security before the repositories, then proxies, the URL base, layouts.
    let at = |needle: &str| {
        xml.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing: {xml}"))
    };
    assert!(at("<revision>") < at("<security>"));
    assert!(at("<security>") < at("<localRepositories>"));
    assert!(at("<localRepositories>") < at("<remoteRepositories>"));
    assert!(at("<remoteRepositories>") < at("<virtualRepositories>"));
    assert!(at("<virtualRepositories>") < at("<urlBase>"));
    assert!(at("<urlBase>") < at("<repoLayouts>"));
    assert!(xml.contains("        <anonAccessEnabled>false</anonAccessEnabled>\n"));
    assert!(xml.contains("        <userLockPolicy>\n            <enabled>false</enabled>\n            <loginAttempts>5</loginAttempts>\n        </userLockPolicy>\n"));
    assert!(xml.contains("    <urlBase>https://jcr.example.test/artifactory</urlBase>\n"));
    assert!(xml.contains("        <localRepository>\n            <key>generic-local</key>\n            <type>generic</type>\n"), "{xml}");
    assert!(xml.contains("            <url>https://repo.example.test/maven2</url>\n"));
    assert!(xml.contains("            <retrievalCachePeriodSecs>60</retrievalCachePeriodSecs>\n"));
    assert!(xml.contains("            <repositories>\n                <repositoryRef>generic-local</repositoryRef>\n                <repositoryRef>libs-remote</repositoryRef>\n            </repositories>\n"));
    assert!(
        xml.contains("            <defaultDeploymentRepo>generic-local</defaultDeploymentRepo>\n")
    );
    assert!(
        !xml.contains("hidden-upstream-secret"),
        "upstream passwords are never shown"
    );
    // Each save counts.
    let revision = |x: &str| {
        x.split("<revision>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(revision(&xml) >= 3, "{xml}");
    // Admins only.
    let r = s
        .basic(Method::GET, "api/system/configuration", "bob", "pw")
        .go()
        .await;
    assert_eq!(r.status(), 403);
    let r = s.anon(Method::GET, "api/system/configuration").go().await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_posted_configuration_applies_whole_and_reads_back() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "api/repositories/scratch-local")
        .json(&json!({"rclass": "local"}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    s.deploy("generic-local/a.txt", "kept").await;
    s.deploy("scratch-local/x.txt", "gone with its repository")
        .await;
    let before = configuration(&s).await;
    // Remove scratch-local, add a local and a virtual over it, set the URL base, anonymous access,
    // the lock policy and a mail server, and put generic-local last.
    let helm = before
        .find("        <localRepository>\n            <key>scratch-local</key>")
        .unwrap();
    let helm_end =
        before[helm..].find("</localRepository>\n").unwrap() + helm + "</localRepository>\n".len();
    let generic = before
        .find("        <localRepository>\n            <key>generic-local</key>")
        .unwrap();
    let generic_end = before[generic..].find("</localRepository>\n").unwrap()
        + generic
        + "</localRepository>\n".len();
    assert!(generic < helm);
    let generic_xml = before[generic..generic_end].to_string();
    let new_local = "        <localRepository>\n            <key>team-local</key>\n            <type>generic</type>\n            <description>Team &amp; friends</description>\n            <handleSnapshots>false</handleSnapshots>\n        </localRepository>\n";
    let mut doc = before.clone();
    doc.replace_range(helm..helm_end, "");
    doc.replace_range(generic..generic_end, new_local);
    doc = doc.replacen(
        "    </localRepositories>\n",
        &format!("{generic_xml}    </localRepositories>\n"),
        1,
    );
    doc = doc.replace("    <virtualRepositories/>\n", "    <virtualRepositories>\n        <virtualRepository>\n            <key>team</key>\n            <type>generic</type>\n            <repositories>\n                <repositoryRef>team-local</repositoryRef>\n            </repositories>\n            <defaultDeploymentRepo>team-local</defaultDeploymentRepo>\n        </virtualRepository>\n    </virtualRepositories>\n");
    doc = doc.replace(
        "<anonAccessEnabled>false</anonAccessEnabled>",
        "<anonAccessEnabled>true</anonAccessEnabled>",
    );
    doc = doc.replace(
        "<loginAttempts>5</loginAttempts>",
        "<loginAttempts>7</loginAttempts>",
    );
    doc = doc
        .replace("<host></host>", "<host>smtp.example.test</host>")
        .replace("<host/>", "<host>smtp.example.test</host>");
    doc = doc.replace(
        "    <repoLayouts>",
        "    <urlBase>https://posted.example.test/artifactory</urlBase>\n    <repoLayouts>",
    );
    let r = post_configuration(&s, &doc).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(r.text(), "Reload of new configuration succeeded");
    assert_eq!(header(r.headers(), "content-type"), Some("text/plain"));

    // Every API follows it.
    let repos: Vec<serde_json::Value> = s.get("api/repositories").await.json();
    let keys: Vec<&str> = repos.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "team-local",
            "docker-local",
            "helm-local",
            "artifactory-build-info",
            "generic-local",
            "team"
        ]
    );
    assert!(repos[0]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://posted.example.test/artifactory/"));
    let team: serde_json::Value = s.get("api/repositories/team-local").await.json();
    assert_eq!(team["description"], "Team & friends");
    assert_eq!(team["handleSnapshots"], false);
    let r = s.get("api/repositories/scratch-local").await;
    assert_eq!(r.status(), 400);
    let r = s.get("scratch-local/x.txt").await;
    assert_eq!(r.status(), 404);
    assert_eq!(s.get("generic-local/a.txt").await.text(), "kept");
    let r = s
        .anon(Method::GET, "api/storage/generic-local/a.txt")
        .go()
        .await;
    assert_eq!(r.status(), 200, "anonymous access is on: {}", r.text());
    let r = s
        .admin(Method::PUT, "team/via-virtual.txt")
        .body("v")
        .go()
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(s.get("team-local/via-virtual.txt").await.text(), "v");

    // A GET returns what was posted, normalised: every posted line in its place (the revision
    // counts the save), the settings left out shown at their defaults.
    let after = configuration(&s).await;
    let mut shown = after.lines();
    for line in doc.lines().filter(|l| !l.contains("<revision>")) {
        assert!(
            shown.any(|l| l == line),
            "{line} is not in its place in:\n{after}"
        );
    }
    assert!(after.contains("            <handleReleases>true</handleReleases>\n            <handleSnapshots>false</handleSnapshots>\n"));
    // The normal form is a fixed point: posting it again changes nothing but the revision.
    let r = post_configuration(&s, &after).await;
    assert_eq!(r.status(), 200);
    let norm = |x: &str| {
        x.lines()
            .filter(|l| !l.contains("<revision>"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(norm(&configuration(&s).await), norm(&after));
}

#[tokio::test]
async fn a_bad_configuration_is_refused_and_changes_nothing() {
    let s = start().await;
    let good = configuration(&s).await;
    let cases: Vec<(String, &str)> = vec![
        ("not xml at all".into(), "Text outside the root element"),
        (good[..good.len() - 40].to_string(), "The document ended before its elements were closed"),
        (good.replace("<security>", "<security>\n<bogus>1</bogus>"), "Unknown element 'bogus' in 'security'"),
        (good.replace("    <localRepositories>", "    <localRepositories>\n<localRepository><key>generic-local</key></localRepository>"), "Repository 'generic-local' is configured more than once"),
        (good.replace("<key>docker-local</key>\n            <type>docker</type>", "<key>docker-local</key>\n            <type>generic</type>"), "The package type of 'docker-local' cannot be changed"),
        (good.replace("    <virtualRepositories/>", "<virtualRepositories><virtualRepository><key>v</key><repositories><repositoryRef>missing</repositoryRef></repositories></virtualRepository></virtualRepositories>"), "Repository 'missing' does not exist or cannot be a member of 'v'"),
        (good.replace("    <virtualRepositories/>", "<virtualRepositories><virtualRepository><key>a</key><repositories><repositoryRef>b</repositoryRef></repositories></virtualRepository><virtualRepository><key>b</key><repositories><repositoryRef>a</repositoryRef></repositories></virtualRepository></virtualRepositories>"), "includes 'a'"),
        (good.replace("<maxUniqueTags>0</maxUniqueTags>", "<maxUniqueTags>many</maxUniqueTags>"), "must be a whole number"),
        (good.replace("<loginAttempts>5</loginAttempts>", "<loginAttempts>0</loginAttempts>"), "loginAttempts"),
        (good.replace("    <repoLayouts>", "    <urlBase>ftp://x</urlBase>\n    <repoLayouts>"), "Scheme 'ftp' is not allowed"),
        (good.replace("    <remoteRepositories/>\n", ""), "The configuration has no 'remoteRepositories' element"),
        (format!("<!DOCTYPE config [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}", good.split_once("?>").unwrap().1), "DOCTYPE"),
        (good.replace("http://artifactory.jfrog.org/xsd/3.1.32\" xsi", "urn:not-artifactory\" xsi"), "namespace"),
        ("<other xmlns=\"http://artifactory.jfrog.org/xsd/3.1.32\"/>".into(), "The root element must be 'config'"),
    ];
    for (doc, want) in cases {
        let r = post_configuration(&s, &doc).await;
        assert_eq!(r.status(), 400, "{want}: {}", r.text());
        let v: serde_json::Value = r.json();
        let m = v["errors"][0]["message"].as_str().unwrap();
        assert!(m.contains(want), "{want}: {m}");
        assert_eq!(v["errors"][0]["status"], 400);
    }
    let r = s
        .admin(Method::POST, "api/system/configuration")
        .header("content-type", "application/json")
        .body("{}")
        .go()
        .await;
    assert_eq!(r.status(), 415);
    let r = s
        .admin(Method::DELETE, "api/system/configuration")
        .go()
        .await;
    assert_eq!(r.status(), 405);
    assert_eq!(
        configuration(&s).await,
        good,
        "nothing changed, not even the revision"
    );
}
