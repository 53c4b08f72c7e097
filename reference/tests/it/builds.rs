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
    // Field order as Artifactory's model prints it; starts shown again from the instant, in the
    // server's time zone.
    assert_eq!(
        r.text(),
        format!("{{\n  \"builds\" : [ {{\n    \"uri\" : \"/my%20app\",\n    \"lastStarted\" : \"2026-11-21T08:00:00.000+0000\"\n  }} ],\n  \"uri\" : \"{}\"\n}}", s.url("api/build"))
    );

    let r = s.get("api/build/my%20app").await;
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.build.BuildsByName+json")
    );
    assert_eq!(
        r.json::<Value>(),
        json!({"uri": s.url("api/build/my%20app"), "buildsNumbers": [
            {"uri": "/8", "started": "2026-11-21T08:00:00.000+0000"},
            {"uri": "/7", "started": "2026-11-20T10:00:00.000+0000"},
            {"uri": "/7", "started": "2026-11-20T08:00:00.000+0000"}
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
            "2026-11-20T10:00:00.000+0000"
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
        "No build was found for build name: app , build number: 9 ",
    )
    .await;
    assert_rest_error(
        s.get("api/build/app/2?diff=").await,
        404,
        "No build was found for build name: app , build number:  ",
    )
    .await;
    assert_rest_error(
        s.get("api/build/app/7?diff=1").await,
        404,
        "No build was found for build name: app, build number: 7 ",
    )
    .await;
}

/// Deploys `name` into generic-local with the build's properties, returns its SHA-1.
async fn artifact(s: &Srv, path: &str, body: &str, build: (&str, &str)) -> String {
    s.deploy(
        &format!(
            "generic-local/{path};build.name={};build.number={}",
            build.0, build.1
        ),
        body.to_string(),
    )
    .await;
    sha1_of(body.as_bytes())
}

async fn post_json(s: &Srv, path: &str, body: Value) -> Answer {
    s.admin(Method::POST, path)
        .header("content-type", "application/json")
        .body(body.to_string())
        .go()
        .await
}

async fn exists(s: &Srv, path: &str) -> bool {
    s.get(&format!("api/storage/{path}")).await.status() == 200
}

#[tokio::test]
async fn promotion_moves_or_copies_the_builds_files_and_records_the_status() {
    let s = start().await;
    let a = artifact(&s, "app/a.jar", "aaa", ("app", "1")).await;
    let b = artifact(&s, "app/b.jar", "bbb", ("app", "1")).await;
    // Another file with a's content but not from this build stays where it is.
    s.deploy("generic-local/elsewhere/a.jar", "aaa").await;
    let arts = json!([{"name": "a.jar", "sha1": a}, {"name": "b.jar", "sha1": b}]);
    publish(&s, &build("app", "1", "2026-11-20T10:00:00.000Z", arts)).await;
    s.admin(Method::PUT, "api/repositories/prod-local")
        .body(r#"{"rclass":"local","packageType":"generic"}"#)
        .go()
        .await;

    // A dry run changes nothing.
    let r = post_json(
        &s,
        "api/build/promote/app/1",
        json!({"targetRepo": "prod-local", "dryRun": true, "status": "staged"}),
    )
    .await;
    assert_eq!(
        (r.status().as_u16(), r.json::<Value>()),
        (200, json!({"messages": []}))
    );
    assert!(!exists(&s, "prod-local/app/a.jar").await);

    let r = post_json(
        &s,
        "api/build/promote/app/1",
        json!({"status": "released", "comment": "ship it", "ciUser": "jenkins", "timestamp": "2026-11-22T10:00:00.000+0000",
               "targetRepo": "prod-local", "copy": false, "properties": {"release": ["1.0"], "qa": ["ok", "done"]}}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/json")
    );
    assert_eq!(r.json::<Value>(), json!({"messages": []}));
    assert!(exists(&s, "prod-local/app/a.jar").await && exists(&s, "prod-local/app/b.jar").await);
    assert!(
        !exists(&s, "generic-local/app/a.jar").await,
        "moved by default"
    );
    assert!(exists(&s, "generic-local/elsewhere/a.jar").await);
    let props: Value = s
        .get("api/storage/prod-local/app/a.jar?properties=release,qa")
        .await
        .json();
    assert_eq!(
        props["properties"],
        json!({"qa": ["ok", "done"], "release": ["1.0"]})
    );
    let info: Value = s.get("api/build/app/1").await.json();
    assert_eq!(
        info["buildInfo"]["statuses"],
        json!([{"status": "released", "comment": "ship it", "repository": "prod-local",
                "timestamp": "2026-11-22T10:00:00.000+0000", "user": "admin", "ciUser": "jenkins",
                "timestampDate": 1795341600000i64}])
    );
    let r = s
        .admin(Method::POST, "api/search/aql")
        .body(r#"build.promotions.find({"build.name":"app"})"#)
        .go()
        .await;
    assert_eq!(
        r.json::<Value>()["results"][0]["build.promotion.status"],
        "released"
    );

    // Errors: a target that does not exist, a build that does not.
    assert_rest_error(
        post_json(&s, "api/build/promote/app/1", json!({"targetRepo": "nope"})).await,
        404,
        "Cannot find target repository by the key 'nope'.",
    )
    .await;
    assert_rest_error(
        post_json(&s, "api/build/promote/app/9", json!({"targetRepo": "prod-local"})).await,
        404,
        "Cannot find builds by the name 'app' and the number '9' and buildRepo 'artifactory-build-info'.",
    )
    .await;
    // A build whose files are nowhere.
    let ghost = build(
        "ghost",
        "1",
        "2026-11-20T10:00:00.000Z",
        json!([{"name": "g.jar", "sha1": "0".repeat(40)}]),
    );
    publish(&s, &ghost).await;
    assert_rest_error(
        post_json(
            &s,
            "api/build/promote/ghost/1",
            json!({"targetRepo": "prod-local"}),
        )
        .await,
        400,
        "Unable to find artifacts of build 'ghost' #1: aborting promotion.",
    )
    .await;
    // Without a target or a status, it says what it skipped.
    let r = post_json(
        &s,
        "api/build/promote/app/1",
        json!({"timestamp": "2026-11-22T10:00:00.123456+0200"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>(),
        json!({"messages": [
            {"level": "INFO", "message": "Skipping build item relocation: no target repository selected."},
            {"level": "INFO", "message": "Skipping promotion status update: no status received."}
        ]})
    );
    // A blank timestamp (what pyartifactory sends by default) stands for the promotion's time.
    let blank = json!({"status": "again", "timestamp": ""});
    let r = post_json(&s, "api/build/promote/app/1", blank).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let info: Value = s.get("api/build/app/1").await.json();
    assert_eq!(
        info["buildInfo"]["statuses"][1]["timestamp"],
        "2023-11-14T22:13:20.123+0000"
    );
    let r = post_json(
        &s,
        "api/build/promote/app/1",
        json!({"status": "x", "timestamp": "someday"}),
    )
    .await;
    assert_eq!(r.status(), 400, "an error fails a fail-fast promotion");
    assert_eq!(
        r.json::<Value>()["messages"][1],
        json!({"level": "ERROR", "message": "Skipping promotion status update: invalid\\unparsable timestamp someday."})
    );
    let r = s
        .admin(Method::POST, "api/build/promote/app/1")
        .body("{oops")
        .go()
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn retention_keeps_the_newest_and_the_protected_runs() {
    let s = start().await;
    for n in 1..=5 {
        let a = artifact(
            &s,
            &format!("r/{n}.bin"),
            &format!("run {n}"),
            ("ret", &n.to_string()),
        )
        .await;
        let doc = build(
            "ret",
            &n.to_string(),
            &format!("2026-11-2{n}T10:00:00.000Z"),
            json!([{"name": format!("{n}.bin"), "sha1": a}]),
        );
        publish(&s, &doc).await;
    }
    for body in [json!({"count": 0}).to_string(), String::new()] {
        let r = s
            .admin(Method::POST, "api/build/retention/ret")
            .body(body)
            .go()
            .await;
        assert_eq!(
            (r.status().as_u16(), r.text()),
            (
                400,
                "Max count retention needs to be a positive number".into()
            )
        );
    }
    // jfrog-client-go sends the count as a string.
    let r = post_json(
        &s,
        "api/build/retention/ret",
        json!({"count": "2", "buildNumbersNotToBeDiscarded": ["1"], "deleteBuildArtifacts": true}),
    )
    .await;
    assert_eq!(r.status(), 204, "{}", r.text());
    let runs: Value = s.get("api/build/ret").await.json();
    let numbers: Vec<&str> = runs["buildsNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["/5", "/4", "/1"]);
    assert!(
        !exists(&s, "generic-local/r/2.bin").await && !exists(&s, "generic-local/r/3.bin").await
    );
    assert!(exists(&s, "generic-local/r/1.bin").await && exists(&s, "generic-local/r/5.bin").await);
    // By date, asynchronously: the answer comes first, the runs go soon after.
    let r = s
        .admin(Method::POST, "api/build/retention/ret?async=true")
        .body(json!({"minimumBuildDate": "2026-11-25T00:00:00.000+0000"}).to_string())
        .go()
        .await;
    assert_eq!(r.status(), 204);
    let mut left = Vec::new();
    for _ in 0..500 {
        let runs: Value = s.get("api/build/ret").await.json();
        left = runs["buildsNumbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["uri"].as_str().unwrap().to_string())
            .collect();
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(left, ["/5"]);
}

#[tokio::test]
async fn delete_and_rename_builds() {
    let s = start().await;
    let a = artifact(&s, "d/a.bin", "del-a", ("del", "1")).await;
    for n in ["1", "2", "3"] {
        let doc = build(
            "del",
            n,
            &format!("2026-11-2{n}T10:00:00.000Z"),
            json!([{"name": "a.bin", "sha1": a}]),
        );
        publish(&s, &doc).await;
    }
    let r = s
        .admin(Method::DELETE, "api/build/del?buildNumbers=1,2")
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        r.text(),
        "The following builds has been deleted successfully: 'del#1', 'del#2'."
    );
    assert!(
        exists(&s, "generic-local/d/a.bin").await,
        "artifacts stay unless asked"
    );
    assert_rest_error(
        s.admin(Method::DELETE, "api/build/del").go().await,
        400,
        "Missing build numbers",
    )
    .await;
    assert_rest_error(
        post_json(&s, "api/build/delete", json!({"buildNumbers": ["3"]})).await,
        400,
        "Missing build name",
    )
    .await;
    assert_rest_error(
        s.admin(Method::DELETE, "api/build/nope?deleteAll=1")
            .go()
            .await,
        404,
        "No build was found for build name: nope",
    )
    .await;

    // Rename: every run, the documents rewritten, the old name gone.
    let r = s
        .admin(Method::POST, "api/build/rename/del?to=renamed")
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_rest_error(
        s.get("api/build/del").await,
        404,
        "No build was found for build name: del",
    )
    .await;
    let info: Value = s.get("api/build/renamed/3").await.json();
    assert_eq!(info["buildInfo"]["name"], "renamed");
    assert!(exists(&s, "artifactory-build-info/renamed/3-1795428000000.json").await);
    assert_rest_error(
        s.admin(Method::POST, "api/build/rename/renamed").go().await,
        400,
        "Build rename request must contain a new build name",
    )
    .await;

    // The JSON-body delete, with the artifacts.
    let r = post_json(
        &s,
        "api/build/delete",
        json!({"buildName": "renamed", "buildNumbers": ["3"], "deleteArtifacts": true}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert!(!exists(&s, "generic-local/d/a.bin").await);
    assert_rest_error(s.get("api/build").await, 404, "No builds were found").await;
}

#[tokio::test]
async fn distribution_copies_the_artifacts_into_a_local_repository() {
    let s = start().await;
    let a = artifact(&s, "dist/a.bin", "dist-a", ("dist", "1")).await;
    let doc = build(
        "dist",
        "1",
        "2026-11-20T10:00:00.000Z",
        json!([{"name": "a.bin", "sha1": a}]),
    );
    publish(&s, &doc).await;
    s.admin(Method::PUT, "api/repositories/dist-local")
        .body(r#"{"rclass":"local","packageType":"generic"}"#)
        .go()
        .await;
    let dist = |body: Value| post_json(&s, "api/build/distribute/dist/1", body);
    let r =
        dist(json!({"targetRepo": "dist-local", "sourceRepos": ["generic-local"], "dryRun": true}))
            .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    // The double space is Artifactory's (its dry-run text loses the build id).
    assert_eq!(
        r.json::<Value>(),
        json!({"message": "Dry run for distribution of  finished successfully."})
    );
    assert!(!exists(&s, "dist-local/dist/a.bin").await);
    let r = dist(json!({"targetRepo": "dist-local", "sourceRepos": ["generic-local"]})).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        r.json::<Value>(),
        json!({"message": "Distribution of dist #1 finished successfully."})
    );
    assert!(
        exists(&s, "dist-local/dist/a.bin").await && exists(&s, "generic-local/dist/a.bin").await
    );

    // Other content at the target is kept unless overriding is asked for.
    s.deploy("dist-local/dist/a.bin", "other").await;
    let r = dist(json!({"targetRepo": "dist-local"})).await;
    assert_eq!(r.status(), 409);
    let why = "The file 'dist-local/dist/a.bin' already exists and overrideExistingFiles is false.";
    assert_eq!(
        r.json::<Value>(),
        json!({"message": format!("Distribution of dist #1 encountered errors: {why}"),
               "messagesByPath": [{"path": "dist-local/dist/a.bin", "errors": [{"code": 409, "message": why}], "warnings": []}],
               "errors": [{"code": 409, "message": why}]})
    );
    assert_eq!(s.get("dist-local/dist/a.bin").await.text(), "other");
    let r = dist(json!({"targetRepo": "dist-local", "overrideExistingFiles": true})).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(s.get("dist-local/dist/a.bin").await.text(), "dist-a");

    // No target, an unknown build.
    let r = dist(json!({})).await;
    assert_eq!(r.status(), 400);
    let r = post_json(
        &s,
        "api/build/distribute/dist/2",
        json!({"targetRepo": "dist-local"}),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>(),
        json!({"message": "Distribution of dist #2 encountered errors: Invalid build dist:2 given.",
               "errors": [{"code": 400, "message": "Invalid build dist:2 given."}]})
    );

    // In the background: the answer says it was scheduled, the copy follows.
    s.admin(Method::DELETE, "dist-local/dist/a.bin").go().await;
    let r = dist(json!({"targetRepo": "dist-local", "async": true})).await;
    assert_eq!(
        r.json::<Value>(),
        json!({"message": "Distribution of dist #1 Scheduled to run successfully."})
    );
    for _ in 0..500 {
        if exists(&s, "dist-local/dist/a.bin").await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(exists(&s, "dist-local/dist/a.bin").await);
}

#[tokio::test]
async fn build_permissions_follow_the_build_info_repository() {
    let s = start_with(|c| {
        c.users.push(user("reader", Some(&[])));
        c.users.push(user("ci", Some(&[])));
        c.permissions.push(target(
            "read-builds",
            "artifactory-build-info",
            "**",
            &[("reader", "r")],
        ));
        c.permissions.push(target(
            "ci-builds",
            "artifactory-build-info",
            "**",
            &[("ci", "rw")],
        ));
        c.users.push(user("releaser", Some(&[])));
        c.permissions.push(target(
            "release-builds",
            "artifactory-build-info",
            "**",
            &[("releaser", "m")],
        ));
    })
    .await;
    let doc = build("perm", "1", "2026-11-20T10:00:00.000Z", json!([]));
    let put = |who: &str| {
        s.basic(Method::PUT, "api/build", who, &format!("{who}-pw"))
            .body(doc.to_string())
    };
    assert_eq!(put("reader").go().await.status(), 403);
    assert_eq!(put("ci").go().await.status(), 204);
    // Replacing a run needs delete, which ci lacks.
    assert_eq!(put("ci").go().await.status(), 403);
    let r = s
        .basic(Method::GET, "api/build/perm/1", "reader", "reader-pw")
        .go()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>()["buildInfo"]["artifactoryPrincipal"], "ci");
    // Promotion is managing the build: ci may publish it but not promote it.
    let promote = |who: &str| {
        s.basic(
            Method::POST,
            "api/build/promote/perm/1",
            who,
            &format!("{who}-pw"),
        )
        .body(json!({"status": "released"}).to_string())
    };
    let r = promote("ci").go().await;
    assert_rest_error(r, 403, "User 'ci' is not permitted to promote build 'perm'").await;
    assert_eq!(promote("releaser").go().await.status(), 200);
    let r = s.get("api/build/perm/1").await;
    assert_eq!(
        r.json::<Value>()["buildInfo"]["statuses"][0]["user"],
        "releaser"
    );
    let r = s
        .basic(
            Method::DELETE,
            "api/build/perm?deleteAll=1",
            "reader",
            "reader-pw",
        )
        .go()
        .await;
    assert_eq!(r.status(), 403, "{}", r.text());
    assert_eq!(s.anon(Method::GET, "api/build").go().await.status(), 401);
    // A user who may read nothing of the build-info repository sees no builds.
    let s2 = start_with(|c| c.users.push(user("nobody", Some(&[])))).await;
    publish(&s2, &doc).await;
    let r = s2
        .basic(Method::GET, "api/build", "nobody", "nobody-pw")
        .go()
        .await;
    assert_rest_error(r, 404, "No builds were found").await;
}
