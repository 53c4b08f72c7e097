//! The Builds API through HTTP: publish, list, runs, info, diff, promote, retention, delete,
//! rename, distribute (behaviour §10), and the build-info documents as files.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

/// A build-info document as CI plugins publish it.
fn build(name: &str, number: &str, started: &str, artifacts: Value) -> Value {
    json!({
        "version": "1.0.1",
        "name": name,
        "number": number,
        "type": "GENERIC",
        "buildAgent": {"name": "GENERIC", "version": "2.0"},
        "agent": {"name": "jfrog-cli-go", "version": "2.50.0"},
        "started": started,
        "durationMillis": 1234,
        "principal": "ci-user",
        "url": "https://ci.example/job/1",
        "vcs": [{"revision": "abc123", "url": "https://git.example/repo.git"}],
        "modules": [{
            "id": "mod-1",
            "type": "generic",
            "artifacts": artifacts,
            "dependencies": [{"id": "dep.tgz", "type": "tgz", "sha1": "d".repeat(40), "scopes": ["compile"], "requestedBy": [["mod-1"]]}]
        }],
        "properties": {"buildInfo.env.JOB": "nightly"}
    })
}

async fn publish(s: &Srv, doc: &Value) -> Answer {
    s.admin(Method::PUT, "api/build")
        .header("content-type", "application/json")
        .body(doc.to_string())
        .go()
        .await
}

fn sha1_of(bytes: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(bytes))
}

#[tokio::test]
async fn a_published_build_is_listed_read_back_and_stored_as_a_file() {
    let s = start().await;
    s.deploy("generic-local/app/app.tgz", "app-bytes").await;
    let art = json!([{"type": "tgz", "name": "app.tgz", "path": "app/app.tgz", "sha1": sha1_of(b"app-bytes")}]);
    let doc = build("my app", "7", "2026-11-20T10:00:00.000+0200", art.clone());
    let r = publish(&s, &doc).await;
    assert_eq!(r.status(), 204, "{}", r.text());
    assert_eq!(r.text(), "");
    // A second run of the same number, started later, is a distinct run.
    let later = build("my app", "7", "2026-11-20T12:00:00.000+0200", art.clone());
    assert_eq!(publish(&s, &later).await.status(), 204);
    assert_eq!(
        publish(
            &s,
            &build("my app", "8", "2026-11-21T10:00:00.000+0200", art)
        )
        .await
        .status(),
        204
    );

    let r = s.get("api/build").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.build.Builds+json")
    );
    assert_eq!(
        r.json::<Value>(),
        json!({"uri": s.url("api/build"), "builds": [{"uri": "/my%20app", "lastStarted": "2026-11-21T10:00:00.000+0200"}]})
    );

    let r = s.get("api/build/my%20app").await;
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.build.BuildsByName+json")
    );
    assert_eq!(
        r.json::<Value>(),
        json!({"uri": s.url("api/build/my%20app"), "buildsNumbers": [
            {"uri": "/8", "started": "2026-11-21T10:00:00.000+0200"},
            {"uri": "/7", "started": "2026-11-20T12:00:00.000+0200"},
            {"uri": "/7", "started": "2026-11-20T10:00:00.000+0200"}
        ]})
    );

    // The latest run of a number, or the one asked for by its start.
    let r = s.get("api/build/my%20app/7").await;
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.build.BuildInfo+json")
    );
    let info: Value = r.json();
    assert_eq!(info["uri"], s.url("api/build/my%20app/7"));
    assert_eq!(info["buildInfo"]["started"], "2026-11-20T12:00:00.000+0200");
    let r = s
        .get("api/build/my%20app/7?started=2026-11-20T10:00:00.000%2B0200")
        .await;
    let first: Value = r.json();
    assert_eq!(
        first["buildInfo"]["started"],
        "2026-11-20T10:00:00.000+0200"
    );
    // What was sent comes back, with the uploader as principal and the checksums filled in.
    let got = &first["buildInfo"];
    for k in [
        "version",
        "name",
        "number",
        "type",
        "buildAgent",
        "agent",
        "durationMillis",
        "principal",
        "url",
        "vcs",
        "properties",
    ] {
        assert_eq!(got[k], doc[k], "{k}");
    }
    assert_eq!(got["artifactoryPrincipal"], "admin");
    let a = &got["modules"][0]["artifacts"][0];
    assert_eq!(a["sha1"], sha1_of(b"app-bytes"));
    assert_eq!(a["md5"], {
        use md5::Digest;
        hex::encode(md5::Md5::digest(b"app-bytes"))
    });
    assert_eq!(a["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(
        got["modules"][0]["dependencies"],
        doc["modules"][0]["dependencies"]
    );

    // The document is a file in the build-info repository, visible to the storage API and AQL.
    let r = s
        .get("api/storage/artifactory-build-info/my%2520app/7-1795161600000.json")
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let r = s
        .admin(Method::POST, "api/search/aql")
        .body(r#"builds.find({"name":"my app","number":"8"})"#)
        .go()
        .await;
    assert_eq!(r.json::<Value>()["range"]["total"], 1, "{}", r.text());
}

#[tokio::test]
async fn names_and_numbers_with_slashes_colons_hashes_and_unicode_round_trip() {
    let s = start().await;
    for (name, number) in [
        ("org/app", "1.0:rc#1"),
        ("ünï cödé", "2 beta"),
        ("a;b&c", "x%y"),
    ] {
        let doc = build(name, number, "2026-11-20T10:00:00.000Z", json!([]));
        assert_eq!(publish(&s, &doc).await.status(), 204, "{name}");
        let seg = |x: &str| {
            percent_encoding::utf8_percent_encode(x, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let r = s
            .get(&format!("api/build/{}/{}", seg(name), seg(number)))
            .await;
        assert_eq!(r.status(), 200, "{name}: {}", r.text());
        let info: Value = r.json();
        assert_eq!(info["buildInfo"]["name"], name);
        assert_eq!(info["buildInfo"]["number"], number);
        let runs: Value = s.get(&format!("api/build/{}", seg(name))).await.json();
        assert_eq!(
            runs["buildsNumbers"][0]["started"],
            "2026-11-20T10:00:00.000Z"
        );
    }
    let all: Value = s.get("api/build").await.json();
    assert_eq!(all["builds"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn bad_uploads_are_refused_and_change_nothing() {
    let s = start().await;
    for (body, message) in [
        (
            json!({"name": "a", "number": "1"}),
            "Build model must contain build name, number and started timestamp",
        ),
        (
            json!({"number": "1", "started": "2026-11-20T10:00:00.000Z"}),
            "Build model must contain build name, number and started timestamp",
        ),
        (
            json!({"name": "", "number": "1", "started": "2026-11-20T10:00:00.000Z"}),
            "Build model must contain build name, number and started timestamp",
        ),
        (
            json!({"name": "a", "number": "1", "started": "yesterday"}),
            "Build started date 'yesterday' is not of the format yyyy-MM-dd'T'HH:mm:ss.SSSZ",
        ),
    ] {
        assert_rest_error(publish(&s, &body).await, 400, message).await;
    }
    let r = s
        .admin(Method::PUT, "api/build")
        .body("{\"name\": \"a\", ")
        .go()
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text().contains("Could not parse the build-info document"),
        "{}",
        r.text()
    );
    assert_rest_error(s.get("api/build").await, 404, "No builds were found").await;
    let r = s
        .get("api/storage/artifactory-build-info?list&deep=1")
        .await;
    assert_eq!(r.json::<Value>()["files"], json!([]));
}

#[tokio::test]
async fn lookups_of_missing_builds_say_what_is_missing() {
    let s = start().await;
    assert_rest_error(s.get("api/build").await, 404, "No builds were found").await;
    assert_rest_error(
        s.get("api/build/nope").await,
        404,
        "No build was found for build name: nope",
    )
    .await;
    let doc = build("app", "1", "2026-11-20T10:00:00.000Z", json!([]));
    publish(&s, &doc).await;
    assert_rest_error(
        s.get("api/build/app/2").await,
        404,
        "No build was found for build name: app, build number: 2 ",
    )
    .await;
    assert_rest_error(
        s.get("api/build/app/1?started=2026-11-20T11:00:00.000Z").await,
        404,
        "No build was found for build name: app, build number: 1 build started: 2026-11-20T11:00:00.000Z",
    )
    .await;
    // A wrong method on a build path is a 405, a path deeper than a run a 404.
    assert_eq!(
        s.admin(Method::POST, "api/build/app").go().await.status(),
        405
    );
    assert_eq!(s.get("api/build/app/1/more").await.status(), 404);
}

#[tokio::test]
async fn a_diff_classifies_artifacts_dependencies_and_properties() {
    let s = start().await;
    let a = |name: &str, sum: char| json!({"type": "jar", "name": name, "sha1": sum.to_string().repeat(40), "md5": sum.to_string().repeat(32)});
    let mut old = build(
        "app",
        "1",
        "2026-11-20T10:00:00.000Z",
        json!([
            a("same.jar", 'a'),
            a("changed.jar", 'b'),
            a("gone.jar", 'c')
        ]),
    );
    old["properties"] = json!({"buildInfo.env.A": "1", "buildInfo.env.B": "x"});
    let mut new = build(
        "app",
        "2",
        "2026-11-21T10:00:00.000Z",
        json!([
            a("same.jar", 'a'),
            a("changed.jar", 'e'),
            a("added.jar", 'f')
        ]),
    );
    new["properties"] = json!({"buildInfo.env.A": "2", "buildInfo.env.C": "y"});
    publish(&s, &old).await;
    publish(&s, &new).await;
    let r = s.get("api/build/app/2?diff=1").await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.build.BuildsDiff+json")
    );
    let d: Value = r.json();
    let names = |sec: &str, class: &str| -> Vec<String> {
        d[sec][class]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e.get("name")
                    .or(e.get("key"))
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(names("artifacts", "unchanged"), ["same.jar"]);
    assert_eq!(names("artifacts", "updated"), ["changed.jar"]);
    assert_eq!(names("artifacts", "new"), ["added.jar"]);
    assert_eq!(names("artifacts", "removed"), ["gone.jar"]);
    assert_eq!(names("dependencies", "unchanged"), ["dep.tgz"]);
    assert_eq!(names("properties", "updated"), ["buildInfo.env.A"]);
    assert_eq!(
        d["properties"]["updated"][0],
        json!({"key": "buildInfo.env.A", "value": "2", "diffValue": "1"})
    );
    assert_eq!(names("properties", "new"), ["buildInfo.env.C"]);
    assert_eq!(names("properties", "removed"), ["buildInfo.env.B"]);
    // Artifactory's 400s and 404s.
    assert_rest_error(
        s.get("api/build/app/2?diff=null").await,
        400,
        "Parameter 'diff' must contain a value, if specified.",
    )
    .await;
    assert_rest_error(
        s.get("api/build/app/1?diff=2").await,
        400,
        "Build number should be greater than the build number to compare against.",
    )
    .await;
    assert_rest_error(
        s.get("api/build/app/2?diff=9").await,
        404,
        "No build was found for build name: app, build number: 9 ",
    )
    .await;
    assert_rest_error(
        s.get("api/build/app/2?diff=").await,
        404,
        "No build was found for build name: app, build number:  ",
    )
    .await;
}
