//! Same-path races through HTTP: deploys of different content to one path racing each other and
//! deletes of it. Every answer is a clean one (201, 204, 404 or 409, never a 5xx), and a deploy's
//! answer describes the bytes that deploy sent.

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

fn sha1_hex(b: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploys_and_deletes_of_one_path_answer_cleanly_and_truly() {
    let s = std::sync::Arc::new(start().await);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16u32 {
        let s = s.clone();
        tasks.spawn(async move {
            let mut problems = Vec::new();
            for round in 0..40u32 {
                let path = format!("generic-local/race/{}.bin", round % 4);
                if worker % 4 == 3 {
                    let r = s.admin(Method::DELETE, &path).go().await;
                    if ![204, 404].contains(&r.status().as_u16()) {
                        problems.push(format!("DELETE {path}: {} {}", r.status(), r.text()));
                    }
                    continue;
                }
                let body = format!(
                    "worker {worker} round {round} {}",
                    "x".repeat(round as usize * 100)
                );
                let r = s.admin(Method::PUT, &path).body(body.clone()).go().await;
                match r.status().as_u16() {
                    201 => {
                        let v: Value = r.json();
                        let sha1 = v["checksums"]["sha1"].as_str().unwrap_or("").to_string();
                        if sha1 != sha1_hex(body.as_bytes()) {
                            problems.push(format!("PUT {path}: answered {sha1} for other bytes"));
                        }
                        if v["size"].as_str().and_then(|x| x.parse::<usize>().ok())
                            != Some(body.len())
                        {
                            problems.push(format!("PUT {path}: size {}", v["size"]));
                        }
                    }
                    409 | 404 => {}
                    other => problems.push(format!("PUT {path}: {other} {}", r.text())),
                }
                let r = s.get(&path).await;
                if r.status().is_server_error() {
                    problems.push(format!("GET {path}: {}", r.status()));
                }
            }
            problems
        });
    }
    let mut problems = Vec::new();
    while let Some(p) = tasks.join_next().await {
        problems.extend(p.expect("a worker finished"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The end state is one of the writes: each file's content matches its reported checksum.
    for i in 0..4 {
        let path = format!("generic-local/race/{i}.bin");
        let r = s.get(&path).await;
        if r.status() == 200 {
            let info: Value = s.get(&format!("api/storage/{path}")).await.json();
            assert_eq!(info["checksums"]["sha1"], sha1_hex(&r.bytes()), "{path}");
        }
    }
}
