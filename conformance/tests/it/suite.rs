//! The suite passes against the reference server and fails against deliberately faulty ones.

use crate::common::*;

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
        (
            Faults {
                first_header_line_only: true,
                ..Faults::default()
            },
            vec!["docker/oci/pull"],
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

/// The OCI cases hold for any registry URL: here JCR's repository-path method (`/v2/<repo>`),
/// which the run is given instead of deriving the API path; what they push is deleted again.
#[tokio::test]
async fn the_oci_cases_pass_through_the_repository_path_method() {
    let mut target = Target::embedded(Config::ephemeral()).await.unwrap();
    let root = target.base_url.trim_end_matches("/artifactory").to_string();
    target.registry = Some(format!("{root}/v2/docker-local"));
    // The API path would name a repository that does not exist: only the given URL can pass.
    target.docker_repo = "no-such-repository".into();
    let opts = RunOptions {
        filter: Some("docker/oci/".into()),
        ..RunOptions::default()
    };
    let r = run(&target, &cases::all(), &opts, &Mask::default()).await;
    assert_eq!(r.cases.len(), 10);
    for c in &r.cases {
        assert_eq!(c.outcome, Outcome::Pass, "{}: {:?}", c.id, c.message);
    }
    assert!(r.teardown_errors.is_empty(), "{:?}", r.teardown_errors);
    let client = reqwest::Client::new();
    let tags = client
        .get(format!(
            "{root}/v2/docker-local/{}/oci/tags/tags/list",
            r.run_id.to_lowercase()
        ))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.status(),
        404,
        "the tags pushed are deleted at teardown"
    );
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

/// Faults of format — field order, timestamp shape, a number as a string, a list reordered,
/// pretty printing dropped — are caught by the snapshots (their messages name the snapshot and the
/// JSON path), not only by the cases' own checks.
#[tokio::test]
async fn format_faults_are_caught_by_snapshots() {
    let f = Faults::default;
    let table: Vec<(Faults, &str, &str, &str)> = vec![
        (
            Faults {
                swap_field_order: true,
                ..f()
            },
            "storage/file-info/",
            "storage/file-info/fields",
            "~ $.body (order): [repo, path, ",
        ),
        (
            Faults {
                timestamps_without_millis: true,
                ..f()
            },
            "storage/file-info/",
            "storage/file-info/fields",
            "9999-99-99T99:99:99Z>",
        ),
        (
            Faults {
                timestamps_with_offset: true,
                ..f()
            },
            "storage/file-info/",
            "storage/file-info/fields",
            "9999-99-99T99:99:99.999+99:99>",
        ),
        (
            Faults {
                aql_numbers_as_strings: true,
                ..f()
            },
            "search/aql/items",
            "search/aql/items",
            "",
        ),
        (
            Faults {
                reverse_lists: true,
                ..f()
            },
            "storage/folder-info/children",
            "storage/folder-info/children",
            "~ $.body.children (element order): [0, 1, 2] → [2, 1, 0]",
        ),
        (
            Faults {
                reverse_lists: true,
                ..f()
            },
            "repositories/list/",
            "repositories/list/shape",
            "",
        ),
        (
            Faults {
                compact_json: true,
                ..f()
            },
            "storage/file-info/",
            "storage/file-info/fields",
            "~ $.format: \"jackson\" → \"compact\"",
        ),
    ];
    for (faults, filter, id, line) in table {
        let target = Target::embedded(Config {
            faults,
            ..Config::ephemeral()
        })
        .await
        .unwrap();
        let opts = RunOptions {
            snapshots: SnapshotMode::Compare(default_snapshot_dir()),
            filter: Some(filter.into()),
            seed: Some(20_261_125),
            ..RunOptions::default()
        };
        let result = run(&target, &cases::all(), &opts, &Mask::default()).await;
        let c = result.case(id).unwrap();
        assert_eq!(c.outcome, Outcome::Fail, "{id} must fail with {faults:?}");
        let message = c.message.clone().unwrap_or_default();
        assert!(message.contains(line), "{faults:?}: {message}");
        target.shutdown().await;
    }
}
