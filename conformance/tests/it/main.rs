//! The suite against the reference server, against deliberately faulty servers, and the runner's own
//! guarantees (coverage, masking, safety flags, teardown, reports).

use jcr_conformance::case::SnapshotMode;
use jcr_conformance::mask::Mask;
use jcr_conformance::runner::default_snapshot_dir;
use jcr_conformance::{cases, catalogue, report, run, Credentials, Outcome, RunOptions, Target};
use jcr_reference::{Config, Faults, UserConfig};

/// Runs every case with the recorded snapshots of this repository.
async fn run_against(config: Config) -> (Target, jcr_conformance::RunResult) {
    let target = Target::embedded(config).await.unwrap();
    let mask = Mask::new(target.credentials.secrets());
    // A fixed seed keeps CI deterministic; the CLI draws a fresh one every run.
    let opts = RunOptions {
        snapshots: SnapshotMode::Compare(default_snapshot_dir()),
        seed: Some(20_261_125),
        ..RunOptions::default()
    };
    let result = run(&target, &cases::all(), &opts, &mask).await;
    (target, result)
}

fn outcome(r: &jcr_conformance::RunResult, id: &str) -> Outcome {
    r.case(id).unwrap_or_else(|| panic!("no case {id}")).outcome
}

#[tokio::test]
async fn the_suite_passes_against_the_reference_server() {
    let (target, result) = run_against(Config::ephemeral()).await;
    let bad: Vec<_> = result
        .cases
        .iter()
        .filter(|c| c.outcome >= Outcome::Fail)
        .map(|c| (&c.id, &c.message))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(result.cases.len(), cases::all().len());
    // Everything passes but the case that needs anonymous access, which JCR 7 has off by default.
    for c in &result.cases {
        let expected = if c.id == "system/auth/anonymous-read" {
            Outcome::Disabled
        } else {
            Outcome::Pass
        };
        assert_eq!(c.outcome, expected, "{}: {:?}", c.id, c.message);
    }
    assert!(
        result.teardown_errors.is_empty(),
        "{:?}",
        result.teardown_errors
    );
    // Teardown removed everything under the run prefix.
    let client = reqwest::Client::new();
    let r = client
        .get(format!(
            "{}/api/storage/{}/{}",
            target.base_url, target.repo, result.run_id
        ))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .get(format!(
            "{}/api/storage/docker-local/{}",
            target.base_url,
            result.run_id.to_lowercase()
        ))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "the registry cases' images are gone");
    let repos: serde_json::Value = client
        .get(format!("{}/api/repositories", target.base_url))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!repos.to_string().contains(&result.run_id), "{repos}");
    // ... and every user, group, permission target and token the security cases created.
    for (path, left) in [
        ("api/security/users", r#"["admin","anonymous"]"#),
        ("api/security/groups", r#"["readers"]"#),
        ("api/security/permissions", r#"["Anything"]"#),
    ] {
        let v: serde_json::Value = client
            .get(format!("{}/{path}", target.base_url))
            .basic_auth("admin", Some("password"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert_eq!(serde_json::to_string(&names).unwrap(), left, "{path}");
    }
    let tokens: serde_json::Value = client
        .get(format!("{}/api/security/token", target.base_url))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tokens, serde_json::json!({"tokens": []}));
    target.shutdown().await;
}

#[tokio::test]
async fn the_suite_fails_against_faulty_servers() {
    let table: Vec<(Faults, Vec<&str>)> = vec![
        (
            Faults {
                drop_checksum_headers: true,
                ..Faults::default()
            },
            vec!["artifacts/retrieve/headers"],
        ),
        (
            Faults {
                size_as_number: true,
                ..Faults::default()
            },
            vec!["storage/file-info/fields", "artifacts/deploy/item-created"],
        ),
        (
            Faults {
                ok_instead_of_not_found: true,
                ..Faults::default()
            },
            vec![
                "storage/file-info/missing-item",
                "artifacts/retrieve/missing-file",
                "artifacts/delete",
            ],
        ),
        (
            Faults {
                drop_www_authenticate: true,
                ..Faults::default()
            },
            vec![
                "system/auth/anonymous-challenge",
                "system/auth/bad-credentials",
            ],
        ),
        (
            Faults {
                drop_folder_child: true,
                ..Faults::default()
            },
            vec!["storage/folder-info/children"],
        ),
    ];
    for (faults, must_fail) in table {
        let (target, result) = run_against(Config {
            faults,
            ..Config::ephemeral()
        })
        .await;
        for id in &must_fail {
            assert_eq!(
                outcome(&result, id),
                Outcome::Fail,
                "{id} must fail with {faults:?}"
            );
        }
        assert!(result.failed());
        target.shutdown().await;
    }
}

#[test]
fn every_endpoint_the_reference_implements_has_a_case() {
    let endpoints = catalogue::endpoints();
    let all = cases::all();
    for e in endpoints.iter().filter(|e| e.reference) {
        assert!(
            all.iter().any(|c| c.endpoints.contains(&e.id.as_str())),
            "no case covers {}",
            e.id
        );
    }
    for c in &all {
        for ep in c.endpoints {
            assert!(
                endpoints.iter().any(|e| e.id == *ep),
                "case {} names unknown endpoint {ep}",
                c.id
            );
        }
    }
    let mut ids: Vec<&str> = all.iter().map(|c| c.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "case ids must be unique");
}

#[test]
fn the_catalogue_lists_every_documented_usage_line() {
    // Every "Usage: METHOD /path" of the API document has a catalogue entry with that method and path
    // prefix.
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/spec/jcr-rest-api.txt"
    ));
    let Ok(doc) = doc else { return };
    let endpoints = catalogue::endpoints();
    let mut missing = Vec::new();
    let mut checked = 0;
    for line in doc.lines() {
        let l = line
            .trim()
            .trim_start_matches("Usage")
            .trim_start_matches(':')
            .trim();
        let l = l.trim_start_matches(':').trim();
        let Some((method, rest)) = l.split_once(' ') else {
            continue;
        };
        let method = method.trim_end_matches(':');
        if !["GET", "PUT", "POST", "DELETE", "PATCH"].contains(&method)
            || !line.contains("Usage") && !line.starts_with(':')
        {
            continue;
        }
        let path = rest
            .trim()
            .trim_start_matches("api/")
            .split(['?', ' ', '[', '\u{a0}'])
            .next()
            .unwrap_or("")
            .to_string();
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/api/{path}")
        };
        let stem: String = path
            .split(['{', '<'])
            .next()
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        let stem = if stem.starts_with("/repo-key") {
            "/{repo}".to_string()
        } else {
            stem
        };
        checked += 1;
        if !endpoints
            .iter()
            .any(|e| e.method == method && e.path.starts_with(&stem))
        {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "not in fixtures/endpoints.toml: {missing:?}"
    );
    assert!(
        checked >= 60,
        "only {checked} usage lines recognised in the API document"
    );
}

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
async fn live_targets_need_permission_to_write_and_read_only_runs_write_nothing() {
    let server = jcr_reference::Server::start(Config::ephemeral())
        .await
        .unwrap();
    let creds = Credentials::Basic {
        user: "admin".into(),
        password: "password".into(),
    };
    let target = Target::live(server.url(), creds.clone());
    let result = run(
        &target,
        &cases::all(),
        &RunOptions::default(),
        &Mask::default(),
    )
    .await;
    for c in &result.cases {
        let case = cases::all().into_iter().find(|x| x.id == c.id).unwrap();
        if case.writes {
            assert_eq!(c.outcome, Outcome::Disabled, "{}", c.id);
            assert_eq!(c.message.as_deref(), Some("writes (needs --allow-writes)"));
        } else if case.anonymous {
            assert_eq!(c.outcome, Outcome::Disabled, "{}", c.id);
        } else {
            assert_eq!(c.outcome, Outcome::Pass, "{}: {:?}", c.id, c.message);
        }
    }
    let mut ro = Target::live(server.url(), creds);
    ro.allow_writes = true;
    ro.read_only = true;
    let result = run(&ro, &cases::all(), &RunOptions::default(), &Mask::default()).await;
    assert!(result.cases.iter().any(|c| c.outcome == Outcome::Pass));
    // Nothing was written: the repository is still empty.
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/storage/generic-local", server.url()))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["children"], serde_json::json!([]));
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
        &std::fs::read_to_string(dir.path().join("storage__file-info__fields.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        stored["provenance"]["server"],
        "Artifactory/7.98.9 79809900"
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
        Some("snapshot 'storage/file-info/fields' differs:\n~ $.body.size: \"14\" → 14")
    );
    bad.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_property_reports_seed_shrunk_case_and_curl() {
    let target = Target::embedded(Config {
        faults: Faults {
            drop_folder_child: true,
            ..Faults::default()
        },
        ..Config::ephemeral()
    })
    .await
    .unwrap();
    let opts = RunOptions {
        filter: Some("properties/".into()),
        seed: Some(7),
        prop_cases: Some(16),
        ..RunOptions::default()
    };
    let r = run(
        &target,
        &cases::all(),
        &opts,
        &Mask::new(target.credentials.secrets()),
    )
    .await;
    assert_eq!(r.seed, 7);
    assert_eq!(r.cases[0].outcome, Outcome::Fail);
    let msg = r.cases[0].message.clone().unwrap();
    assert!(
        msg.starts_with("property failed (seed 7; rerun with --seed 7): "),
        "{msg}"
    );
    assert!(
        msg.contains("minimal failing input: [\n    Deploy { path: ["),
        "{msg}"
    );
    assert!(msg.contains("children of "), "{msg}");
    assert!(
        msg.contains("reproduce the last request: curl -sS -u \"admin:$JCR_PASSWORD\" -X GET '"),
        "{msg}"
    );
    assert!(msg.contains("/api/storage/generic-local/"), "{msg}");
    target.shutdown().await;
}

#[tokio::test]
async fn anonymous_cases_run_where_anonymous_access_is_on() {
    let target = Target::embedded(Config {
        anonymous_access: true,
        ..Config::ephemeral()
    })
    .await
    .unwrap();
    let opts = RunOptions {
        filter: Some("system/auth/".into()),
        ..RunOptions::default()
    };
    let r = run(&target, &cases::all(), &opts, &Mask::default()).await;
    assert!(
        r.cases.iter().all(|c| c.outcome == Outcome::Pass),
        "{:#?}",
        r.cases
    );
    assert!(r.case("system/auth/anonymous-read").is_some());
    target.shutdown().await;
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
