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
