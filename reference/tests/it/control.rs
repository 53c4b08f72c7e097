//! The control API at `/_reference/` (outside the JCR API, administrators only): the request
//! journal with near misses, and the clock.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// `/_reference/<rest>` at the server root, as admin.
fn control(s: &Srv, method: Method, rest: &str) -> reqwest::RequestBuilder {
    let root = s.base.trim_end_matches("/artifactory");
    s.client
        .request(method, format!("{root}/_reference/{rest}"))
        .basic_auth("admin", Some("password"))
}

#[tokio::test]
async fn the_request_journal_shows_answers_and_near_misses() {
    let s = start_with(with_bob).await;
    s.deploy("generic-local/dir/file.txt", "x").await;
    // One character off, with a query string that must not be shown.
    let r = s.get("generic-local/dir/fiel.txt?token=secret").await;
    assert_eq!(r.status(), 404);
    let r = s.get("api/storage/generic-locl/dir/file.txt").await;
    assert_eq!(r.status(), 404);
    let r = s
        .basic(Method::GET, "api/repositories", "bob", "pw")
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = control(&s, Method::GET, "requests").go().await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/json")
    );
    let v: Value = r.json();
    let rows = v["requests"].as_array().unwrap();
    // Newest first; the control request itself is not there.
    assert_eq!(rows.len(), 4, "{v}");
    assert_eq!(
        rows[0],
        json!({"at": T0_ISO, "method": "GET", "path": "/artifactory/api/repositories",
               "status": 200, "durationMs": rows[0]["durationMs"], "caller": "bob"})
    );
    assert!(rows[0]["durationMs"].is_u64());
    assert_eq!(
        rows[1]["nearMisses"],
        json!(["/artifactory/api/storage/generic-local/dir/file.txt"])
    );
    assert_eq!(rows[2]["path"], "/artifactory/generic-local/dir/fiel.txt");
    assert_eq!(rows[2]["caller"], "admin");
    assert_eq!(
        rows[2]["nearMisses"],
        json!(["/artifactory/generic-local/dir/file.txt"])
    );
    assert!(!r.text().contains("secret"));
    assert_eq!(rows[3]["method"], "PUT");
    assert_eq!(rows[3]["status"], 201);
    // Filters.
    let v: Value = control(&s, Method::GET, "requests?status=404&limit=1")
        .go()
        .await
        .json();
    assert_eq!(v["requests"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["requests"][0]["path"],
        "/artifactory/api/storage/generic-locl/dir/file.txt"
    );
    assert_rest_error(
        control(&s, Method::GET, "requests?limit=0").go().await,
        400,
        "limit '0' is not a positive number",
    )
    .await;
    // Cleared.
    let r = control(&s, Method::DELETE, "requests").go().await;
    assert_eq!(r.status(), 204);
    let v: Value = control(&s, Method::GET, "requests").go().await.json();
    assert_eq!(v, json!({"requests": []}));
}

#[tokio::test]
async fn the_control_api_is_for_administrators_only() {
    let s = start_with(with_bob).await;
    let root = s.base.trim_end_matches("/artifactory").to_string();
    let r = s
        .client
        .get(format!("{root}/_reference/requests"))
        .go()
        .await;
    assert_eq!(r.status(), 401);
    let r = s
        .client
        .get(format!("{root}/_reference/clock"))
        .basic_auth("bob", Some("pw"))
        .go()
        .await;
    assert_rest_error(r, 403, "Forbidden").await;
    assert_rest_error(
        control(&s, Method::GET, "nothing").go().await,
        404,
        "No control endpoint /_reference/nothing; there are: /_reference/requests, /_reference/clock, /_reference/faults, /_reference/seed, /_reference/reset",
    )
    .await;
    assert_rest_error(
        control(&s, Method::PUT, "clock").go().await,
        405,
        "PUT is not allowed on /_reference/clock",
    )
    .await;
}

#[tokio::test]
async fn the_clock_is_set_advanced_frozen_and_resumed() {
    // A server on the system clock.
    let s = start_with(|c| c.clock = jcr_reference::Clock::system()).await;
    let v: Value = control(&s, Method::GET, "clock").go().await.json();
    assert_eq!(v["frozen"], false);
    let r = control(&s, Method::POST, "clock")
        .json(&json!({"set": "2030-01-01T00:00:00Z", "freeze": true}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>(),
        json!({"now": 1_893_456_000_000i64, "iso": "2030-01-01T00:00:00.000Z", "frozen": true})
    );
    // Everything the server stamps follows it.
    let info = s.deploy("generic-local/at.txt", "t").await;
    assert_eq!(info["created"], "2030-01-01T00:00:00.000Z");
    let v: Value = control(&s, Method::POST, "clock")
        .json(&json!({"advance": 90_000}))
        .go()
        .await
        .json();
    assert_eq!(v["iso"], "2030-01-01T00:01:30.000Z");
    // Refused settings change nothing.
    for (bad, message) in [
        (
            json!({"advance": "soon"}),
            "advance: expected milliseconds, got \"soon\"",
        ),
        (
            json!({"freeze": "yes"}),
            "freeze: expected true or false, got \"yes\"",
        ),
        (
            json!({"set": "tomorrow"}),
            "set: 'tomorrow' is not ISO-8601",
        ),
        (
            json!({"speed": 2}),
            "Unknown clock setting 'speed': set, advance, freeze",
        ),
    ] {
        let r = control(&s, Method::POST, "clock").json(&bad).go().await;
        assert_eq!(r.status(), 400, "{bad}");
        let m: Value = r.json();
        let text = m["errors"][0]["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{bad}: {text}");
    }
    let v: Value = control(&s, Method::GET, "clock").go().await.json();
    assert_eq!(v["now"], 1_893_456_090_000i64);
    // Running again from where it stood.
    let v: Value = control(&s, Method::POST, "clock")
        .json(&json!({"freeze": false}))
        .go()
        .await
        .json();
    assert_eq!(v["frozen"], false);
    let now = v["now"].as_i64().unwrap();
    assert!(
        (1_893_456_090_000..1_893_456_100_000).contains(&now),
        "{now}"
    );
}

#[tokio::test]
async fn fault_rules_answer_delay_and_cut_matching_requests() {
    let s = start().await;
    let root = s.base.trim_end_matches("/artifactory").to_string();
    // A status for two requests, then the real answer again.
    let r = control(&s, Method::POST, "faults")
        .json(&json!({"path": "/artifactory/api/system/ping", "status": 503, "times": 2}))
        .go()
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.json::<Value>(),
        json!({"id": 1, "path": "/artifactory/api/system/ping", "status": 503, "drop": false, "times": 2})
    );
    for _ in 0..2 {
        assert_rest_error(
            s.get("api/system/ping").await,
            503,
            "Injected by the reference server's control API (fault rule 1)",
        )
        .await;
    }
    let r = s.get("api/system/ping").await;
    assert_eq!((r.status().as_u16(), r.text()), (200, "OK".to_string()));
    let v: Value = control(&s, Method::GET, "faults").go().await.json();
    assert_eq!(
        v,
        json!({"faults": []}),
        "a rule whose count ran out is gone"
    );
    // A delay, for one GET only.
    control(&s, Method::POST, "faults")
        .json(&json!({"path": "/artifactory/api/system/", "method": "get", "delayMs": 300, "times": 1}))
        .go()
        .await;
    let t = std::time::Instant::now();
    assert_eq!(s.get("api/system/ping").await.status(), 200);
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    // A truncated body: the headers promise 1,000 bytes, the connection ends after 10.
    s.deploy("generic-local/big.bin", vec![7u8; 1000]).await;
    let get = || {
        s.client
            .get(s.url("generic-local/big.bin"))
            .basic_auth("admin", Some("password"))
            .send()
    };
    let rule = json!({"path": "/artifactory/generic-local/big.bin", "truncate": 10, "times": 1});
    let r = control(&s, Method::POST, "faults").json(&rule).go().await;
    assert_eq!(r.status(), 201, "{}", r.text());
    let resp = get().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers().get("content-length").unwrap(), "1000");
    assert!(resp.bytes().await.is_err(), "the body must be cut");
    assert_eq!(
        get().await.unwrap().bytes().await.unwrap().len(),
        1000,
        "whole again"
    );
    // A dropped connection: no answer at all.
    let rule = json!({"path": "/artifactory/generic-local/big.bin", "drop": true, "times": 1});
    control(&s, Method::POST, "faults").json(&rule).go().await;
    let e = get().await.unwrap_err();
    assert!(e.is_request(), "{e}");
    assert_eq!(
        get().await.unwrap().bytes().await.unwrap().len(),
        1000,
        "whole again"
    );
    // Refused rules add nothing.
    for (bad, message) in [
        (
            json!({"path": "api/x", "status": 500}),
            "path: expected the start of a request path",
        ),
        (
            json!({"path": "/x"}),
            "A fault rule needs one of delayMs, status, drop, truncate",
        ),
        (
            json!({"path": "/x", "status": 200}),
            "status: 200 is not an error status (400-599)",
        ),
        (
            json!({"path": "/x", "status": 500, "when": "now"}),
            "Unknown fault setting 'when'",
        ),
        (
            json!({"path": "/x", "delayMs": "long"}),
            "delayMs: expected a number, got \"long\"",
        ),
    ] {
        let r = control(&s, Method::POST, "faults").json(&bad).go().await;
        assert_eq!(r.status(), 400, "{bad}");
        let m: Value = r.json();
        let text = m["errors"][0]["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{bad}: {text}");
    }
    let v: Value = control(&s, Method::GET, "faults").go().await.json();
    assert_eq!(v, json!({"faults": []}));
    // Deleting one, or all.
    let r = control(&s, Method::POST, "faults")
        .json(&json!({"path": "/artifactory/api/repositories", "status": 500}))
        .go()
        .await;
    let id = r.json::<Value>()["id"].as_u64().unwrap();
    assert_eq!(s.get("api/repositories").await.status(), 500);
    assert_rest_error(
        control(&s, Method::DELETE, "faults/999").go().await,
        404,
        "No fault rule 999",
    )
    .await;
    let r = control(&s, Method::DELETE, &format!("faults/{id}"))
        .go()
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(s.get("api/repositories").await.status(), 200);
    let r = control(&s, Method::DELETE, "faults").go().await;
    assert_eq!(r.status(), 204);
    let _ = root;
}

#[tokio::test]
async fn a_reset_puts_back_the_start_or_the_seed() {
    let s = start().await;
    // What a test leaves behind: a file, a repository, a user, a build.
    s.deploy("generic-local/left/behind.txt", "x").await;
    let r = s
        .admin(Method::PUT, "api/repositories/scratch-local")
        .json(&json!({"rclass": "local"}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .admin(Method::PUT, "api/security/users/temp")
        .json(&json!({"email": "t@example.com", "password": "Temp-pw-1"}))
        .go()
        .await;
    assert_eq!(r.status(), 201);
    let build = json!({"name": "b", "number": "1", "started": "2023-11-14T22:13:20.123+0000", "version": "1.0.1"});
    let r = s.admin(Method::PUT, "api/build").json(&build).go().await;
    assert_eq!(r.status(), 204);
    // Back to the start: a server without a data directory is seeded with it.
    let r = control(&s, Method::POST, "reset").go().await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let v: Value = r.json();
    assert_eq!(v["repositories"], 4, "{v}");
    assert!(v["durationMs"].is_u64());
    assert_eq!(s.get("generic-local/left/behind.txt").await.status(), 404);
    assert_eq!(s.get("api/repositories/scratch-local").await.status(), 400);
    assert_eq!(s.get("api/security/users/temp").await.status(), 404);
    assert_eq!(
        s.get("api/build/b").await.status(),
        404,
        "the builds index follows"
    );
    // The administrator still logs in, and the server works on.
    s.deploy("generic-local/kept.txt", "kept").await;
    // A chosen seed: what the tests start from. Its blobs survive a garbage collection after
    // their items are deleted, so a reset brings the content back.
    let v: Value = control(&s, Method::POST, "seed").go().await.json();
    assert_eq!(v["repositories"], 4, "{v}");
    let r = s.admin(Method::DELETE, "generic-local/kept.txt").go().await;
    assert_eq!(r.status(), 204);
    s.deploy("generic-local/later.txt", "later").await;
    let r = s.admin(Method::POST, "api/system/storage/gc").go().await;
    assert_eq!(r.status(), 200);
    let r = control(&s, Method::POST, "reset").go().await;
    assert_eq!(r.status(), 200);
    let r = s.get("generic-local/kept.txt").await;
    assert_eq!((r.status().as_u16(), r.text()), (200, "kept".to_string()));
    assert_eq!(s.get("generic-local/later.txt").await.status(), 404);
}

#[tokio::test]
async fn a_reset_is_durable_and_needs_a_seed_with_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let start_on = |dir: std::path::PathBuf| async move {
        let server = jcr_reference::Server::start(jcr_reference::Config {
            data_dir: Some(dir),
            ..jcr_reference::Config::ephemeral()
        })
        .await
        .unwrap();
        let base = server.url().to_string();
        (server, base, reqwest::Client::new())
    };
    let (server, base, client) = start_on(dir.path().to_path_buf()).await;
    let root = base.trim_end_matches("/artifactory").to_string();
    let post = |path: &str| {
        client
            .post(format!("{root}/_reference/{path}"))
            .basic_auth("admin", Some("password"))
    };
    let r = post("reset").go().await;
    assert_rest_error(
        r,
        409,
        "Nothing is seeded: POST /_reference/seed makes the current state the one a reset puts back (a server without a data directory seeds its start)",
    )
    .await;
    let put = |path: &str, body: &'static str| {
        client
            .put(format!("{base}/{path}"))
            .basic_auth("admin", Some("password"))
            .body(body)
    };
    assert_eq!(
        put("generic-local/seeded.txt", "s").go().await.status(),
        201
    );
    assert_eq!(post("seed").go().await.status(), 200);
    assert_eq!(put("generic-local/after.txt", "a").go().await.status(), 201);
    assert_eq!(post("reset").go().await.status(), 200);
    server.stop().await;
    // A restart finds the seeded state.
    let (server, base, client) = start_on(dir.path().to_path_buf()).await;
    let get = |path: &str| {
        client
            .get(format!("{base}/{path}"))
            .basic_auth("admin", Some("password"))
    };
    assert_eq!(get("generic-local/seeded.txt").go().await.status(), 200);
    assert_eq!(get("generic-local/after.txt").go().await.status(), 404);
    server.stop().await;
}

/// `--seed`: a system export imported at start (content with properties, users) becomes the seed a
/// reset puts back; a seed that cannot be imported stops the start with a message.
#[tokio::test]
async fn a_system_export_seeds_the_start() {
    let root = tempfile::tempdir().unwrap();
    let r0 = root.path().to_path_buf();
    let a = start_with(move |c| c.export_root = Some(r0)).await;
    a.deploy("generic-local/seeded/a.txt;team=core", "alpha")
        .await;
    let r = a
        .admin(Method::PUT, "api/security/users/seeded-user")
        .json(&json!({"email": "s@example.com", "password": "Seeded-pw-1"}))
        .go()
        .await;
    assert_eq!(r.status(), 201);
    let r = a
        .admin(Method::POST, "api/export/system")
        .json(&json!({"exportPath": "seed", "incremental": true}))
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let seed = root.path().join("seed/current");
    let b = start_with(move |c| c.seed = Some(seed)).await;
    let r = b.get("generic-local/seeded/a.txt").await;
    assert_eq!((r.status().as_u16(), r.text()), (200, "alpha".to_string()));
    let props: Value = b
        .get("api/storage/generic-local/seeded/a.txt?properties")
        .await
        .json();
    assert_eq!(props["properties"]["team"], json!(["core"]));
    let r = b
        .basic(
            Method::GET,
            "api/repositories",
            "seeded-user",
            "Seeded-pw-1",
        )
        .go()
        .await;
    assert_eq!(r.status(), 200, "the seeded user logs in");
    // A test's change, and the reset.
    let r = b
        .admin(Method::DELETE, "generic-local/seeded/a.txt")
        .go()
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(control(&b, Method::POST, "reset").go().await.status(), 200);
    assert_eq!(b.get("generic-local/seeded/a.txt").await.text(), "alpha");
    // A seed that is not there: the binary says so and stops.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
        .args(["--bind", "127.0.0.1:0", "--seed", "/nonexistent/seed"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("the seed /nonexistent/seed could not be imported"),
        "{text}"
    );
}

/// An OCI image layout written as skopeo writes one: blobs under `blobs/sha256/`, `oci-layout`,
/// and an `index.json` whose entries carry their tag as `org.opencontainers.image.ref.name`.
struct Layout {
    dir: std::path::PathBuf,
    entries: Vec<Value>,
}

impl Layout {
    fn new(dir: std::path::PathBuf) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
        Layout {
            dir,
            entries: Vec::new(),
        }
    }

    /// Writes a blob; its descriptor.
    fn blob(&self, media_type: &str, bytes: &[u8]) -> Value {
        let hex = sha256_hex(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(&hex), bytes).unwrap();
        json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
    }

    /// An image manifest with one config and one layer; its descriptor.
    fn image(&self, arch: &str, layer: &[u8]) -> Value {
        let config = self.blob(
            "application/vnd.oci.image.config.v1+json",
            json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
                .to_string()
                .as_bytes(),
        );
        let layer = self.blob("application/vnd.oci.image.layer.v1.tar+gzip", layer);
        let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                              "config": config, "layers": [layer]});
        let mut d = self.blob(
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().as_bytes(),
        );
        d["platform"] = json!({"architecture": arch, "os": "linux"});
        d
    }

    /// An entry of index.json, tagged or not.
    fn entry(&mut self, mut d: Value, tag: Option<&str>) {
        if let Some(t) = tag {
            d["annotations"] = json!({"org.opencontainers.image.ref.name": t});
        }
        self.entries.push(d);
        let index = json!({"schemaVersion": 2, "manifests": self.entries});
        std::fs::write(self.dir.join("index.json"), index.to_string()).unwrap();
    }
}

/// `--seed-images`: OCI image layouts pushed at start as a client pushes them (a single image, a
/// multi-platform index with its manifests, an untagged entry by digest) and part of the seed a
/// reset puts back; a layout that cannot be pushed stops the start naming what is missing.
#[tokio::test]
async fn docker_images_seed_the_start_from_oci_layouts() {
    let root = tempfile::tempdir().unwrap();
    let seed = root.path().join("images");
    let mut single = Layout::new(seed.join("docker-local/apps/single"));
    let one = single.image("amd64", b"layer of the single image");
    single.entry(one.clone(), Some("1.0"));
    let untagged = single.image("arm64", b"an untagged image");
    single.entry(untagged.clone(), None);
    // A Docker schema 2 manifest in a layout (skopeo converts to OCI; other tools keep it).
    let v2_config = single.blob(
        "application/vnd.docker.container.image.v1+json",
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let v2_layer = single.blob(
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        b"a schema 2 layer",
    );
    let v2 = single.blob(
        "application/vnd.docker.distribution.manifest.v2+json",
        json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
               "config": v2_config, "layers": [v2_layer]})
        .to_string()
        .as_bytes(),
    );
    single.entry(v2.clone(), Some("v2"));
    let mut multi = Layout::new(seed.join("docker-local/library/multi"));
    let amd = multi.image("amd64", b"amd64 layer");
    let arm = multi.image("arm64", b"arm64 layer");
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [amd, arm]});
    let index_d = multi.blob(
        "application/vnd.oci.image.index.v1+json",
        index.to_string().as_bytes(),
    );
    multi.entry(index_d.clone(), Some("docker.io/library/multi:latest"));

    // Through the builder, as a Rust project's test would start it.
    let built = jcr_reference::Server::builder()
        .images(&seed)
        .start()
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .get(format!(
            "{}/api/docker/docker-local/v2/apps/single/tags/list",
            built.url()
        ))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["tags"],
        json!(["1.0", "v2"])
    );
    built.stop().await;
    let dir = seed.clone();
    let s = start_with(move |c| c.seed_images = Some(dir)).await;
    let manifest = |image: &str, reference: &str, accept: &str| {
        s.admin(
            Method::GET,
            &format!("api/docker/docker-local/v2/{image}/manifests/{reference}"),
        )
        .header("Accept", accept.to_string())
        .go()
    };
    let oci = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
    let r = manifest("apps/single", "1.0", oci).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        header(r.headers(), "docker-content-digest"),
        one["digest"].as_str()
    );
    let r = manifest(
        "apps/single",
        "v2",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        header(r.headers(), "docker-content-digest"),
        v2["digest"].as_str()
    );
    let r = manifest("library/multi", "latest", oci).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        header(r.headers(), "docker-content-digest"),
        index_d["digest"].as_str()
    );
    for d in [&amd, &arm, &untagged] {
        let image = if d == &untagged {
            "apps/single"
        } else {
            "library/multi"
        };
        let r = manifest(image, d["digest"].as_str().unwrap(), oci).await;
        assert_eq!(r.status(), 200, "{image}@{}", d["digest"]);
    }
    let layer_digest = format!("sha256:{}", sha256_hex(b"amd64 layer"));
    let r = s
        .admin(
            Method::GET,
            &format!("api/docker/docker-local/v2/library/multi/blobs/{layer_digest}"),
        )
        .go()
        .await;
    assert_eq!(
        (r.status().as_u16(), r.bytes().to_vec()),
        (200, b"amd64 layer".to_vec())
    );
    let tags: Value = s
        .admin(
            Method::GET,
            "api/docker/docker-local/v2/apps/single/tags/list",
        )
        .go()
        .await
        .json();
    assert_eq!(tags, json!({"name": "apps/single", "tags": ["1.0", "v2"]}));
    // Laid out as a push lays it out, with its docker.* properties.
    let props: Value = s
        .get("api/storage/docker-local/apps/single/1.0/manifest.json?properties")
        .await
        .json();
    assert_eq!(props["properties"]["docker.manifest"], json!(["1.0"]));
    assert_eq!(
        props["properties"]["docker.repoName"],
        json!(["apps/single"])
    );
    // A test's change, and the reset to the seeded images.
    let r = s
        .admin(Method::DELETE, "docker-local/apps/single/1.0")
        .go()
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(manifest("apps/single", "1.0", oci).await.status(), 404);
    assert_eq!(control(&s, Method::POST, "reset").go().await.status(), 200);
    assert_eq!(manifest("apps/single", "1.0", oci).await.status(), 200);

    // A layout missing a layer, and one in a repository that is not Docker: the start stops.
    let bad = root.path().join("bad");
    let mut missing = Layout::new(bad.join("docker-local/broken"));
    let d = missing.image("amd64", b"a layer that goes missing");
    missing.entry(d, Some("1"));
    let gone = sha256_hex(b"a layer that goes missing");
    std::fs::remove_file(missing.dir.join("blobs/sha256").join(&gone)).unwrap();
    let mut generic = Layout::new(root.path().join("generic/generic-local/img"));
    let d = generic.image("amd64", b"x");
    generic.entry(d, Some("1"));
    // A tagged manifest whose bytes are not those of its digest.
    let corrupt = root.path().join("corrupt");
    let mut tampered = Layout::new(corrupt.join("docker-local/tampered"));
    let d = tampered.image("amd64", b"y");
    let hex = d["digest"].as_str().unwrap()["sha256:".len()..].to_string();
    tampered.entry(d, Some("1"));
    let file = tampered.dir.join("blobs/sha256").join(&hex);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.push(b' ');
    std::fs::write(&file, bytes).unwrap();
    for (dir, says) in [
        (
            corrupt,
            format!("manifest sha256:{hex} does not have that digest"),
        ),
        (bad, format!("blob sha256:{gone}")),
        (
            root.path().join("generic"),
            "repository 'generic-local', which is not a local Docker repository".to_string(),
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
            .args(["--bind", "127.0.0.1:0", "--seed-images"])
            .arg(&dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("the seed images") && text.contains(&says),
            "{text}"
        );
    }
    s.server.stop().await;
}
