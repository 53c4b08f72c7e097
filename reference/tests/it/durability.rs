//! With `--data-dir`, every acknowledged write survives SIGKILL and no partial artifact is visible.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;

/// Starts the binary and returns it with its base URL (read from the `Ready at` line).
fn spawn(data: &std::path::Path) -> (Child, String) {
    let (child, url, _) = spawn_with(&["--data-dir".as_ref(), data.as_os_str()]);
    (child, url)
}

/// Starts the binary with extra arguments; returns it, its URL and the data directory it reported.
fn spawn_with(args: &[&std::ffi::OsStr]) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut data = String::new();
    let url = loop {
        let line = lines.next().expect("server printed Ready").unwrap();
        if let Some(i) = line.find("Data directory: ") {
            data = line[i + 16..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
        }
        if let Some(i) = line.find("Ready at ") {
            break line[i + 9..].split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url, data)
}

#[tokio::test]
async fn ephemeral_data_is_removed_on_sigint_and_sigterm() {
    for signal in ["-INT", "-TERM"] {
        let (mut child, url, data) = spawn_with(&[]);
        assert!(std::path::Path::new(&data).is_dir(), "{data}");
        let r = reqwest::Client::new()
            .put(format!("{url}/generic-local/e.txt"))
            .basic_auth("admin", Some("password"))
            .body("e")
            .go()
            .await;
        assert_eq!(r.status(), 201);
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = child.wait().unwrap();
        assert!(exit.success(), "{signal}: {exit:?}");
        assert!(
            !std::path::Path::new(&data).exists(),
            "{data} left behind after {signal}"
        );
    }
}

fn content(i: usize) -> Vec<u8> {
    // Sizes from tiny to a few MB so that some uploads are mid-body when the kill lands.
    let len = (i * 7919) % (3 << 20) + i % 3;
    (0..len).map(|x| ((x * 31 + i) % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_upload_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, url) = spawn(&data);
    let client = reqwest::Client::new();
    let acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (client, url, acked) = (client.clone(), url.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                let i = w + 4 * n;
                let r = client
                    .put(format!("{url}/generic-local/d/{i}.bin;n={i}"))
                    .basic_auth("admin", Some("password"))
                    .body(content(i))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => acked.lock().unwrap().push(i),
                    _ => return,
                }
            }
        }));
    }
    // Let a good number of uploads complete, then kill without warning.
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if acked.lock().unwrap().len() >= 24 {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 10,
        "only {} uploads acknowledged before the kill",
        acked.len()
    );
    eprintln!("{} uploads acknowledged before SIGKILL", acked.len());

    let (mut child, url) = spawn(&data);
    let get = |path: String| {
        let client = client.clone();
        async move {
            client
                .get(path)
                .basic_auth("admin", Some("password"))
                .go()
                .await
        }
    };
    for &i in &acked {
        let r = get(format!("{url}/generic-local/d/{i}.bin")).await;
        assert_eq!(r.status(), 200, "acknowledged upload {i} lost");
        let expected = content(i);
        assert_eq!(
            header(r.headers(), "x-checksum-sha256"),
            Some(sha256_hex(&expected).as_str())
        );
        assert_eq!(
            r.bytes().as_ref(),
            expected.as_slice(),
            "upload {i} corrupted"
        );
        let p: serde_json::Value = get(format!(
            "{url}/api/storage/generic-local/d/{i}.bin?properties"
        ))
        .await
        .json();
        assert_eq!(p["properties"]["n"][0], i.to_string());
    }
    // Anything else that is visible must be complete and correct (acknowledged or not).
    let list: serde_json::Value = get(format!("{url}/api/storage/generic-local/d?list"))
        .await
        .json();
    for f in list["files"].as_array().unwrap() {
        let name = f["uri"].as_str().unwrap().trim_start_matches('/');
        let i: usize = name.trim_end_matches(".bin").parse().unwrap();
        assert_eq!(
            f["sha2"],
            sha256_hex(&content(i)),
            "partial artifact {name} visible"
        );
        assert_eq!(f["size"], content(i).len());
    }
    // A clean shutdown compacts, and the state still comes back.
    unsafe_sigterm(&child);
    child.wait().unwrap();
    let (mut child, url) = spawn(&data);
    let r = get(format!("{url}/generic-local/d/{}.bin", acked[0])).await;
    assert_eq!(r.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

fn unsafe_sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The data directory is private: directories 0700 and files 0600, also one an earlier version
/// left open to others (narrowed when it is opened).
#[tokio::test]
async fn the_data_directory_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("meta")).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (mut child, url) = spawn(&data);
    let client = reqwest::Client::new();
    let r = client
        .put(format!("{url}/generic-local/private/a.txt"))
        .basic_auth("admin", Some("password"))
        .body("secret-ish")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{url}/api/security/apiKey"))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    unsafe_sigterm(&child);
    child.wait().unwrap();
    let mut open = Vec::new();
    let mut stack = vec![data.clone()];
    while let Some(p) = stack.pop() {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        if mode != want {
            open.push(format!("{mode:o} {}", p.display()));
        }
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    assert!(open.is_empty(), "readable by others:\n{}", open.join("\n"));
}

/// What a path holds in the model of acknowledged writes: its content and its one property.
#[derive(Clone, Debug, PartialEq)]
struct Held {
    body: Vec<u8>,
    prop: Option<String>,
}

type Model = std::collections::BTreeMap<String, Option<Held>>;

/// One worker's operations on its own paths, each acknowledged before the next; `pending` is the
/// operation in flight when the kill landed (its paths may hold either the state before or after).
#[derive(Default)]
struct Worker {
    model: Model,
    pending: Option<Model>,
}

async fn op(
    client: &reqwest::Client,
    url: &str,
    rng: &mut rand::rngs::StdRng,
    w: usize,
    n: usize,
    st: &Arc<Mutex<Worker>>,
) -> bool {
    use rand::Rng;
    let path = |i: usize| format!("generic-local/crash/w{w}/f{i}.bin");
    let slot = rng.gen_range(0..6);
    let current = st.lock().unwrap().model.get(&path(slot)).cloned().flatten();
    let admin = |rb: reqwest::RequestBuilder| rb.basic_auth("admin", Some("password"));
    let kind = rng.gen_range(0..10);
    let (req, after): (reqwest::RequestBuilder, Model) = match (kind, &current) {
        // Set a property on an existing file.
        (0..=1, Some(h)) => {
            let v = format!("v{n}");
            let req = client.put(format!("{url}/api/storage/{}?properties=p={v}", path(slot)));
            let held = Held {
                prop: Some(v),
                ..h.clone()
            };
            (req, [(path(slot), Some(held))].into())
        }
        // Delete it.
        (2, Some(_)) => (
            client.delete(format!("{url}/{}", path(slot))),
            [(path(slot), None)].into(),
        ),
        // Move it to another slot (replacing what is there).
        (3, Some(h)) => {
            let to = (slot + 1 + rng.gen_range(0..5)) % 6;
            let req = client.post(format!("{url}/api/move/{}?to=/{}", path(slot), path(to)));
            (
                req,
                [(path(slot), None), (path(to), Some(h.clone()))].into(),
            )
        }
        // Deploy or overwrite (sizes up to 2 MB, so some kills land mid-body).
        _ => {
            let len = rng.gen_range(0..(2 << 20));
            let body: Vec<u8> = (0..len).map(|x| ((x * 31 + n) % 251) as u8).collect();
            let req = client
                .put(format!("{url}/{}", path(slot)))
                .body(body.clone());
            (req, [(path(slot), Some(Held { body, prop: None }))].into())
        }
    };
    st.lock().unwrap().pending = Some(after.clone());
    let ok = match admin(req).send().await {
        Ok(r) => r.status().is_success(),
        Err(_) => false,
    };
    let mut s = st.lock().unwrap();
    if ok {
        s.model.extend(after);
        s.pending = None;
    }
    ok
}

/// What `path` holds on the server now (`None`: 404).
async fn held(client: &reqwest::Client, url: &str, path: &str) -> Option<Held> {
    let admin = |rb: reqwest::RequestBuilder| rb.basic_auth("admin", Some("password"));
    let r = admin(client.get(format!("{url}/{path}")))
        .send()
        .await
        .unwrap();
    if r.status() != 200 {
        return None;
    }
    let body = r.bytes().await.unwrap().to_vec();
    let props: serde_json::Value =
        admin(client.get(format!("{url}/api/storage/{path}?properties=p")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(serde_json::Value::Null);
    let prop = props["properties"]["p"][0].as_str().map(str::to_string);
    Some(Held { body, prop })
}

/// Checks every path of `model` against the server: each holds what was acknowledged, except the
/// paths of the write in flight at the kill, which hold either all of their states before it or
/// all of their states after it (a move is never half done). Returns the paths where it landed.
async fn verify(
    client: &reqwest::Client,
    url: &str,
    model: &Model,
    pending: &Model,
) -> Result<Model, String> {
    let described = |h: &Option<Held>| h.as_ref().map(|g| (g.body.len(), g.prop.clone()));
    for (path, want) in model.iter().filter(|(p, _)| !pending.contains_key(*p)) {
        let got = held(client, url, path).await;
        if got != *want {
            return Err(format!(
                "{path} holds {:?} (bytes, prop), acknowledged {:?}",
                described(&got),
                described(want)
            ));
        }
    }
    let mut now = Model::new();
    for path in pending.keys() {
        now.insert(path.clone(), held(client, url, path).await);
    }
    let before: Model = pending
        .keys()
        .map(|p| (p.clone(), model.get(p).cloned().flatten()))
        .collect();
    if now == before {
        return Ok(Model::new());
    }
    if now == *pending {
        return Ok(now);
    }
    Err(format!(
        "the write in flight is half there: {:?}",
        now.iter()
            .map(|(p, h)| (p, described(h)))
            .collect::<Vec<_>>()
    ))
}

/// Random SIGKILLs during a mixed workload (deploys and overwrites of up to 2 MB, deletes, property
/// edits, moves; four workers on paths of their own) against a data directory: after each restart
/// every acknowledged write is there, nothing unacknowledged is half there, and every file's bytes
/// match the checksums it reports. `JCR_CRASH_TRIALS` runs more (the long run); the seed of a
/// failing trial is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kills_during_a_mixed_workload_lose_no_acknowledged_write() {
    use rand::{Rng, SeedableRng};
    let trials: u64 = std::env::var("JCR_CRASH_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(30);
    let seed: u64 = std::env::var("JCR_CRASH_SEED")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(rand::random);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = reqwest::Client::new();
    let workers: Vec<Arc<Mutex<Worker>>> = (0..4).map(|_| Arc::default()).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for trial in 0..trials {
        let (mut child, url) = spawn(&data);
        let mut tasks = Vec::new();
        for (w, st) in workers.iter().enumerate() {
            let (client, url, st) = (client.clone(), url.clone(), st.clone());
            let mut wrng = rand::rngs::StdRng::seed_from_u64(seed ^ (trial << 8) ^ w as u64);
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    if !op(&client, &url, &mut wrng, w, n, &st).await {
                        return;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(20..300))).await;
        child.kill().unwrap();
        child.wait().unwrap();
        for t in tasks {
            let _ = t.await;
        }
        // Restart and compare with the model.
        let (mut child, url) = spawn(&data);
        for st in &workers {
            let (model, pending) = {
                let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
                (s.model.clone(), s.pending.take().unwrap_or_default())
            };
            let landed = verify(&client, &url, &model, &pending)
                .await
                .unwrap_or_else(|why| panic!("trial {trial} (seed {seed}): {why}"));
            st.lock()
                .unwrap_or_else(|e| e.into_inner())
                .model
                .extend(landed);
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// VmHWM and VmRSS of a process, in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|k| k.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// 64 concurrent clients against the binary for `JCR_LOAD_SECS` (5 by default; `.ci/run` runs a
/// minute): deploys of different bytes to the same 16 paths, GETs checked against their checksum
/// headers, file info, listings, AQL and deletes racing each other. No answer is a 5xx, no body
/// disagrees with its checksums, every file ends consistent, and the server's memory stays
/// bounded. Prints the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_racing_on_shared_paths() {
    use rand::{Rng, SeedableRng};
    let secs: u64 = std::env::var("JCR_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let (mut child, url, _) = spawn_with(&[]);
    let client = reqwest::Client::new();
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    let counts: Arc<Mutex<std::collections::BTreeMap<String, u64>>> = Arc::default();
    let problems: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for c in 0..64u64 {
        let (client, url, counts, problems) = (
            client.clone(),
            url.clone(),
            counts.clone(),
            problems.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(c);
            let admin = |rb: reqwest::RequestBuilder| rb.basic_auth("admin", Some("password"));
            while std::time::Instant::now() < until {
                let path = format!("generic-local/load/{}.bin", rng.gen_range(0..16));
                let kind = rng.gen_range(0..10);
                let (name, req) = match kind {
                    0..=2 => {
                        let len = rng.gen_range(0..(256 << 10));
                        let body: Vec<u8> =
                            (0..len).map(|x| ((x as u64 * 7 + c) % 251) as u8).collect();
                        (
                            "deploy",
                            admin(client.put(format!("{url}/{path}"))).body(body),
                        )
                    }
                    3..=5 => ("get", admin(client.get(format!("{url}/{path}")))),
                    6 => (
                        "info",
                        admin(client.get(format!("{url}/api/storage/{path}"))),
                    ),
                    7 => (
                        "list",
                        admin(
                            client.get(format!("{url}/api/storage/generic-local/load?list&deep=1")),
                        ),
                    ),
                    8 => (
                        "aql",
                        admin(client.post(format!("{url}/api/search/aql")))
                            .body(r#"items.find({"repo":"generic-local","path":"load"})"#),
                    ),
                    _ => ("delete", admin(client.delete(format!("{url}/{path}")))),
                };
                let Ok(r) = req.send().await else {
                    problems
                        .lock()
                        .unwrap()
                        .push(format!("{name} {path}: no answer"));
                    continue;
                };
                let status = r.status().as_u16();
                let sha1 = r
                    .headers()
                    .get("x-checksum-sha1")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let body = r.bytes().await.unwrap_or_default();
                if status >= 500 {
                    problems
                        .lock()
                        .unwrap()
                        .push(format!("{name} {path}: {status}"));
                }
                if name == "get" && status == 200 {
                    use sha1::Digest;
                    let actual = hex::encode(sha1::Sha1::digest(&body));
                    if sha1.as_deref() != Some(actual.as_str()) {
                        problems
                            .lock()
                            .unwrap()
                            .push(format!("GET {path}: body {actual}, header {sha1:?}"));
                    }
                }
                *counts
                    .lock()
                    .unwrap()
                    .entry(format!("{name} {status}"))
                    .or_default() += 1;
            }
        }));
    }
    let mut peak = 0.0f64;
    while std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak = peak.max(memory_mib(child.id()).1);
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (hwm, during) = memory_mib(child.id());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, after) = memory_mib(child.id());
    // End state: every file's bytes agree with its reported checksum.
    for i in 0..16 {
        let path = format!("generic-local/load/{i}.bin");
        let r = client
            .get(format!("{url}/{path}"))
            .basic_auth("admin", Some("password"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            let bytes = r.bytes().await.unwrap();
            let info: serde_json::Value = client
                .get(format!("{url}/api/storage/{path}"))
                .basic_auth("admin", Some("password"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            use sha1::Digest;
            if info["checksums"]["sha1"] != hex::encode(sha1::Sha1::digest(&bytes)) {
                problems
                    .lock()
                    .unwrap()
                    .push(format!("{path}: its bytes and its info disagree"));
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let counts = counts.lock().unwrap();
    let total: u64 = counts.values().sum();
    println!(
        "load: 64 clients, {secs} s, {total} requests ({:.0}/s)",
        total as f64 / secs as f64
    );
    for (k, n) in counts.iter() {
        println!("load:   {k}: {n}");
    }
    println!("load: server RSS peak {hwm:.1} MiB (sampled {peak:.1}), at the end {during:.1}, 1 s later {after:.1}");
    let problems = problems.lock().unwrap();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(total > 64, "only {total} requests");
    assert!(hwm < 512.0, "peak RSS {hwm:.1} MiB");
}

/// A run that uses every kind of credential (password, API key, access and refresh token,
/// encrypted password, registry token) at `JCR_LOG=trace` logs none of them, nor the Basic
/// header that carries them.
#[tokio::test]
async fn trace_logs_hold_no_credential() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.txt");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("JCR_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let mut url = String::new();
    for _ in 0..750 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(i) = text.find("Ready at ") {
            url = text[i + 9..].split_whitespace().next().unwrap().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!url.is_empty(), "the server did not start");
    let c = reqwest::Client::new();
    let admin = |rb: reqwest::RequestBuilder| rb.basic_auth("admin", Some("password"));
    let key: serde_json::Value = admin(c.post(format!("{url}/api/security/apiKey")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["apiKey"].as_str().unwrap().to_string();
    let t: serde_json::Value = admin(c.post(format!("{url}/api/security/token")))
        .form(&[
            ("username", "admin"),
            ("refreshable", "true"),
            ("expires_in", "3600"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (access, refresh) = (
        t["access_token"].as_str().unwrap_or("").to_string(),
        t["refresh_token"].as_str().unwrap_or("").to_string(),
    );
    let enc = admin(c.get(format!("{url}/api/security/encryptedPassword")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let root = url.trim_end_matches("/artifactory");
    let dt: serde_json::Value = admin(c.get(format!(
        "{root}/v2/token?scope=repository:docker-local/app:pull"
    )))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let docker = dt["token"].as_str().unwrap_or("").to_string();
    for (what, v) in [
        ("API key", &key),
        ("access token", &access),
        ("encrypted password", &enc),
        ("registry token", &docker),
    ] {
        assert!(v.len() >= 8, "no {what} to look for: {v:?}");
    }
    // Use each one.
    let ping = format!("{url}/api/repositories");
    for r in [
        c.get(&ping).header("X-JFrog-Art-Api", &key),
        c.get(&ping).bearer_auth(&access),
        c.get(&ping).basic_auth("admin", Some(&enc)),
        c.get(format!("{root}/v2/")).bearer_auth(&docker),
        c.get(&ping).basic_auth("admin", Some("wrong-password")),
    ] {
        r.send().await.unwrap();
    }
    if !refresh.is_empty() {
        c.post(format!("{url}/api/security/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
                ("access_token", access.as_str()),
            ])
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().count() > 10,
        "trace logging produced {} lines",
        text.lines().count()
    );
    let basic = base64::engine::general_purpose::STANDARD.encode("admin:password");
    for (what, secret) in [
        ("the Basic header", basic.as_str()),
        ("the API key", key.as_str()),
        ("the access token", access.as_str()),
        ("the refresh token", refresh.as_str()),
        ("the encrypted password", enc.as_str()),
        ("the registry token", docker.as_str()),
        ("a wrong password", "wrong-password"),
    ] {
        if secret.len() >= 8 {
            assert!(!text.contains(secret), "{what} is in the log");
        }
    }
}

/// `jcr-reference health` (the container image's health check) exits 0 when the server at the
/// configured address answers its ping, 1 when nothing does.
#[tokio::test]
async fn the_health_subcommand_asks_the_ping() {
    let (mut child, url, _) = spawn_with(&[]);
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let health = |bind: &str| {
        Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
            .arg("health")
            .env("JCR_BIND", bind)
            .output()
            .unwrap()
    };
    let out = tokio::task::spawn_blocking(move || health(&addr))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
        .arg("health")
        .env("JCR_BIND", free.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("unhealthy: "));
}

#[tokio::test]
async fn the_custom_url_base_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let (mut child, url) = spawn(data.path());
    let r = client
        .put(format!("{url}/api/system/configuration/baseUrl"))
        .basic_auth("admin", Some("password"))
        .body("https://kept.example.test/artifactory")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, url) = spawn(data.path());
    let r = client
        .get(format!("{url}/api/repositories"))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    let repos: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        repos[0]["url"]
            .as_str()
            .unwrap()
            .split("/artifactory/")
            .next(),
        Some("https://kept.example.test")
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn storage_optimize_compacts_the_journal() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let (mut child, url) = spawn(data.path());
    for i in 0..20 {
        let r = client
            .put(format!("{url}/generic-local/opt/{i}.txt"))
            .basic_auth("admin", Some("password"))
            .body(format!("content {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let journal = data.path().join("meta/journal.log");
    let before = std::fs::metadata(&journal).unwrap().len();
    assert!(before > 1000, "{before}");
    let r = client
        .post(format!("{url}/api/system/storage/optimize"))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    let mut after = before;
    for _ in 0..200 {
        after = std::fs::metadata(&journal).unwrap().len();
        if after < 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        after < 100,
        "the journal was not compacted: {before} -> {after} bytes"
    );
    // Nothing was lost: a restart still serves every file.
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, url) = spawn(data.path());
    for i in 0..20 {
        let r = client
            .get(format!("{url}/generic-local/opt/{i}.txt"))
            .basic_auth("admin", Some("password"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), format!("content {i}"));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn ping_and_readiness_fail_when_the_data_directory_cannot_be_written() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let (mut child, url) = spawn(data.path());
    let get = |path: &str| client.get(format!("{url}/{path}")).send();
    assert_eq!(
        get("api/system/ping").await.unwrap().text().await.unwrap(),
        "OK"
    );
    // The store's temporary directory becomes a file: nothing can be written there, whoever
    // the process runs as.
    let tmp = data.path().join("tmp");
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"not a directory").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = get("api/system/ping").await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.headers().get("content-type").unwrap().to_str().unwrap(),
        "text/plain"
    );
    assert_eq!(r.text().await.unwrap(), "File system access failed");
    let r = get("api/v1/system/readiness").await.unwrap();
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "UNAVAILABLE");
    // Alive all the same: the process answers.
    assert_eq!(get("api/v1/system/liveness").await.unwrap().status(), 200);
    std::fs::remove_file(&tmp).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get("api/system/ping").await.unwrap().text().await.unwrap(),
        "OK"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
