//! Reports: secrets masked, filters, snapshot mismatches as JSON paths, diffs of two runs.

use crate::common::*;

#[tokio::test]
async fn secrets_are_masked_in_every_report() {
    const PASSWORD: &str = "Sentinel-Pa55word-7731";
    const TOKEN: &str = "sentinel-token-eyJhbGciOi-9911";
    let config = Config {
        users: vec![UserConfig::parse_flag(&format!("admin:{PASSWORD}:admin")).unwrap()],
        faults: Faults {
            drop_checksum_headers: true,
            ..Faults::default()
        },
        ..Config::ephemeral()
    };
    let server = jcr_reference::Server::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for creds in [
        Credentials::Basic {
            user: "admin".into(),
            password: PASSWORD.into(),
        },
        Credentials::Token(TOKEN.into()),
    ] {
        let mut target = Target::live(server.url(), creds);
        target.allow_writes = true;
        let secrets = target.credentials.secrets();
        let mask = Mask::new(secrets.clone());
        let result = run(&target, &cases::all(), &RunOptions::default(), &mask).await;
        assert!(
            result.failed(),
            "the faulty server must produce failures with transcripts"
        );
        assert!(result.cases.iter().any(|c| !c.transcript.is_empty()));
        let config = serde_json::json!({"target": target.base_url, "credentials": target.credentials.kind(), "password": "***"});
        report::write_all(dir.path(), &result, &catalogue::endpoints(), config).unwrap();
        for entry in walk(dir.path()) {
            let text = std::fs::read_to_string(&entry).unwrap();
            for s in &secrets {
                assert!(
                    !text.contains(s.as_str()),
                    "{} leaks a secret",
                    entry.display()
                );
            }
            assert!(
                !text.contains(PASSWORD) && !text.contains(TOKEN),
                "{} leaks a sentinel",
                entry.display()
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn filters_select_cases_and_reports_are_written() {
    let target = Target::embedded(Config::ephemeral()).await.unwrap();
    let opts = RunOptions {
        filter: Some("storage/file-info".into()),
        ..RunOptions::default()
    };
    let result = run(&target, &cases::all(), &opts, &Mask::default()).await;
    let ids: Vec<&str> = result.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        ["storage/file-info/fields", "storage/file-info/missing-item"]
    );
    let opts = RunOptions {
        area: Some("repositories".into()),
        ..RunOptions::default()
    };
    let result = run(&target, &cases::all(), &opts, &Mask::default()).await;
    assert!(result.cases.iter().all(|c| c.area == "repositories") && !result.cases.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let folder = report::write_all(
        dir.path(),
        &result,
        &catalogue::endpoints(),
        serde_json::json!({}),
    )
    .unwrap();
    for f in ["results.json", "junit.xml", "report.md", "report.html"] {
        assert!(folder.join(f).is_file());
        assert!(dir.path().join("latest").join(f).is_file());
    }
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("results.json")).unwrap())
            .unwrap();
    assert!(results["duration_ms"].is_u64());
    assert_eq!(results["summary"]["pass"], result.cases.len());
    let ep = results["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "repositories.create")
        .unwrap();
    assert_eq!(ep["outcome"], "pass");
    let junit = std::fs::read_to_string(folder.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), result.cases.len());
    target.shutdown().await;
}

#[tokio::test]
async fn snapshots_record_then_report_mismatches_as_json_paths() {
    let dir = tempfile::tempdir().unwrap();
    let only = |mode| RunOptions {
        filter: Some("storage/file-info/fields".into()),
        snapshots: mode,
        ..RunOptions::default()
    };
    let good = Target::embedded(Config::ephemeral()).await.unwrap();
    let r = run(
        &good,
        &cases::all(),
        &only(SnapshotMode::Update(dir.path().to_path_buf())),
        &Mask::default(),
    )
    .await;
    assert_eq!(r.cases[0].outcome, Outcome::Pass);
    let stored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("storage.file-info__200.snap")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        stored["provenance"]["server"],
        "Artifactory/7.98.9 79809900"
    );
    assert_eq!(stored["provenance"]["kind"], "recorded");
    assert_eq!(stored["endpoint"], "storage.file-info");
    assert_eq!(stored["case"], "storage/file-info/fields");
    assert_eq!(stored["snapshot"]["format"], "jackson");
    assert_eq!(
        stored["snapshot"]["headers"]["content-type"],
        "application/vnd.org.jfrog.artifactory.storage.FileInfo+json"
    );
    assert_eq!(stored["snapshot"]["body"]["size"], "14");
    assert_eq!(
        stored["snapshot"]["body"]["checksums"]["sha256"],
        "<sha256:1>"
    );
    assert_eq!(
        stored["snapshot"]["body"]["originalChecksums"]["sha256"],
        "<sha256:1>"
    );
    let r = run(
        &good,
        &cases::all(),
        &only(SnapshotMode::Compare(dir.path().to_path_buf())),
        &Mask::default(),
    )
    .await;
    assert_eq!(
        r.cases[0].outcome,
        Outcome::Pass,
        "{:?}",
        r.cases[0].message
    );
    good.shutdown().await;
    // The same snapshot against a server that sends `size` as a number: the snapshot check names the path.
    let bad = Target::embedded(Config {
        faults: Faults {
            size_as_number: true,
            ..Faults::default()
        },
        ..Config::ephemeral()
    })
    .await
    .unwrap();
    let r = run(
        &bad,
        &cases::all(),
        &only(SnapshotMode::Compare(dir.path().to_path_buf())),
        &Mask::default(),
    )
    .await;
    assert_eq!(r.cases[0].outcome, Outcome::Fail);
    assert_eq!(
        r.cases[0].message.as_deref(),
        Some("field 'size' must be a string, got 14\nsnapshot 'storage.file-info/200' differs:\n  ~ $.body.size: \"14\" → 14")
    );
    // The reports list the snapshot with its JSON-path lines.
    let endpoints = catalogue::endpoints();
    let md = report::markdown(&r, &endpoints);
    assert!(
        md.contains("## Snapshots\n\n1 taken, 1 differ from their accepted snapshot or capture.\n\n### `storage.file-info/200` (case `storage/file-info/fields`)\n\n```\nsnapshot 'storage.file-info/200' differs:\n  ~ $.body.size: \"14\" → 14\n```"),
        "{md}"
    );
    let html = report::html(&r, &endpoints);
    assert!(
        html.contains("<h2>Snapshots</h2>\n<p>1 taken, 1 differ from their accepted snapshot or capture.</p>\n<div class=\"case\"><code>storage.file-info/200</code>"),
        "{html}"
    );
    assert!(
        html.contains("~ $.body.size: &quot;14&quot; → 14"),
        "{html}"
    );
    bad.shutdown().await;
}

#[test]
fn diff_command_exits_non_zero_on_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, outcome: &str| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            serde_json::json!({"cases": [{"id": "a/b", "outcome": outcome}]}).to_string(),
        )
        .unwrap();
        p
    };
    let (pass, fail) = (write("pass.json", "pass"), write("fail.json", "fail"));
    let bin = env!("CARGO_BIN_EXE_jcr-conformance");
    let out = std::process::Command::new(bin)
        .args(["diff"])
        .arg(&pass)
        .arg(&fail)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Regressed (1):\n  a/b: pass -> fail"));
    let out = std::process::Command::new(bin)
        .args(["diff"])
        .arg(&fail)
        .arg(&pass)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Fixed (1):\n  a/b: fail -> pass"));
}

/// Shards split the selected cases deterministically and without overlap; `merge` joins their
/// results.json into one result with every case once, in catalogue order.
#[tokio::test]
async fn shards_split_the_cases_and_merge_joins_them() {
    let target = Target::embedded(Config::ephemeral()).await.unwrap();
    let opts = |shard| RunOptions {
        area: Some("builds".into()),
        seed: Some(5),
        shard,
        ..RunOptions::default()
    };
    let whole = run(&target, &cases::all(), &opts(None), &Mask::default()).await;
    let endpoints = jcr_conformance::catalogue::endpoints();
    let mut docs = Vec::new();
    let mut seen = Vec::new();
    for i in 1..=3 {
        let r = run(
            &target,
            &cases::all(),
            &opts(Some((i, 3))),
            &Mask::default(),
        )
        .await;
        assert!(!r.cases.is_empty(), "shard {i} of 3 is empty");
        seen.extend(r.cases.iter().map(|c| c.id.clone()));
        docs.push(jcr_conformance::report::results_json(
            &r,
            &endpoints,
            serde_json::json!({"shard": i}),
        ));
    }
    let ids = |r: &jcr_conformance::RunResult| -> Vec<String> {
        r.cases.iter().map(|c| c.id.clone()).collect()
    };
    seen.sort();
    let mut all = ids(&whole);
    all.sort();
    assert_eq!(seen, all, "the shards hold every case once");
    let order: Vec<&str> = cases::all().iter().map(|c| c.id).collect();
    let (merged, config) = jcr_conformance::report::merge(&docs, &order).unwrap();
    assert_eq!(ids(&merged), ids(&whole), "merged in catalogue order");
    assert!(merged.cases.iter().all(|c| c.outcome == Outcome::Pass));
    assert_eq!(config["merged_from"].as_array().map(Vec::len), Some(3));
    // The same shard twice is refused.
    let twice = [docs[0].clone(), docs[0].clone()];
    assert!(jcr_conformance::report::merge(&twice, &order)
        .unwrap_err()
        .contains("is in two shards"));
}

/// The review workflow through the binary: a run writes what differs beside the accepted snapshot
/// (`*.snap.new`, never over it); `snapshot review` shows the JSON-path diff and accepts or
/// rejects; `snapshot --update` says what it changed.
#[test]
fn snapshot_review_workflow_through_the_binary() {
    use std::io::Write;
    let bin = env!("CARGO_BIN_EXE_jcr-conformance");
    let dir = tempfile::tempdir().unwrap();
    let snaps = dir.path().join("snapshots");
    let reports = dir.path().join("reports");
    let run = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(bin)
            .args(args)
            .arg("--snapshots")
            .arg(&snaps)
            .env_remove("JCR_CONFORMANCE_SNAPSHOTS")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let reports_arg = reports.to_str().unwrap();
    let case = [
        "--filter",
        "storage/file-info/fields",
        "--reports",
        reports_arg,
    ];
    // Record.
    let mut args = vec!["snapshot", "--update"];
    args.extend(case);
    let (code, out) = run(&args, "");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("snapshot added: storage.file-info/200"),
        "{out}"
    );
    let accepted = snaps.join("storage.file-info__200.snap");
    let pending = snaps.join("storage.file-info__200.snap.new");
    let good = std::fs::read_to_string(&accepted).unwrap();
    // A reviewer's accepted snapshot says 99 bytes: the run fails and leaves the answer pending.
    let tampered = good.replace("\"size\": \"14\"", "\"size\": \"99\"");
    assert_ne!(tampered, good);
    std::fs::write(&accepted, &tampered).unwrap();
    let (code, out) = run(&case, "");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("1 pending"), "{out}");
    assert_eq!(std::fs::read_to_string(&accepted).unwrap(), tampered);
    assert!(pending.exists());
    // Reject: the pending one goes, the accepted one stays.
    let (code, out) = run(&["snapshot", "review"], "r\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("~ $.body.size: \"99\" → \"14\""), "{out}");
    assert!(out.contains("0 accepted, 1 rejected, 0 skipped"), "{out}");
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(&accepted).unwrap(), tampered);
    // Skip keeps it pending; accept replaces the accepted one.
    run(&case, "");
    let (_, out) = run(&["snapshot", "review"], "s\n");
    assert!(out.contains("0 accepted, 0 rejected, 1 skipped"), "{out}");
    assert!(pending.exists());
    let (_, out) = run(&["snapshot", "review"], "a\n");
    assert!(out.contains("1 accepted, 0 rejected, 0 skipped"), "{out}");
    assert!(!pending.exists());
    let (code, out) = run(&case, "");
    assert_eq!(code, Some(0), "{out}");
    // --update prints what it changed.
    std::fs::write(&accepted, &tampered).unwrap();
    let (code, out) = run(&args, "");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("snapshot updated: storage.file-info/200\n  ~ $.body.size: \"99\" → \"14\""),
        "{out}"
    );
}

/// `--format`: one line per case as it finishes, or one progress line of counts and elapsed time
/// updated in place, then what did not pass.
#[test]
fn the_console_shows_lines_or_progress() {
    let bin = env!("CARGO_BIN_EXE_jcr-conformance");
    let dir = tempfile::tempdir().unwrap();
    let run = |format: &str| {
        let out = std::process::Command::new(bin)
            .args([
                "--filter",
                "storage/file-info/",
                "--format",
                format,
                "--no-snapshots",
            ])
            .arg("--reports")
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let lines = run("lines");
    assert!(
        lines.starts_with(
            "pass      storage/file-info/fields\npass      storage/file-info/missing-item\n"
        ),
        "{lines}"
    );
    assert!(!lines.contains('\r'));
    let progress = run("progress");
    assert!(
        progress.starts_with("\r\x1b[2K[1/2] 1 pass, 0 fail, 0 error, 0 skip, 0 disabled · "),
        "{progress:?}"
    );
    assert!(
        progress.contains("\r\x1b[2K[2/2] 2 pass, 0 fail, 0 error, 0 skip, 0 disabled · "),
        "{progress:?}"
    );
    assert!(
        !progress.contains("pass      storage/"),
        "passing cases are not listed again"
    );
    // Not a terminal here: auto is lines.
    assert!(run("auto").starts_with("pass      storage/file-info/fields\n"));
}
