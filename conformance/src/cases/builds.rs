//! Builds: publishing build-info as the CI plugins do, and what release tooling does with it
//! (list, runs, info, diff, promote, retention, delete, rename, distribute). Expectations come
//! from the API document (BUILDS) and the behaviour facts (§10); every build a case publishes is
//! named after the run's prefix and deleted at teardown.

use serde_json::{json, Value};

use crate::case::{
    digests, expect_text, in_repo, Case, CaseFuture, Created, Ctx, Failure, Response,
};
use crate::check;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("builds/runs/missing-build", missing_build)
            .covers(["builds.runs", "builds.info"])
            .spec("jcr-rest-api.txt Build Runs, Build Info; behaviour §10.2 (the messages of a missing build); a server without the Builds API answers 501, never a bare 404"),
        Case::new("builds/upload/roundtrip", roundtrip)
            .covers(["builds.upload", "builds.list", "builds.runs", "builds.info"])
            .writes()
            .spec("jcr-rest-api.txt Build Upload, All Builds, Build Runs, Build Info; behaviour §10.1, §10.2"),
        Case::new("builds/upload/incomplete", incomplete)
            .covers(["builds.upload"])
            .writes()
            .spec("behaviour §10.1: name, number and started are mandatory"),
        Case::new("builds/diff/classes", diff)
            .covers(["builds.diff"])
            .writes()
            .spec("jcr-rest-api.txt Builds Diff; behaviour §10.3"),
        Case::new("builds/promote/status", promote)
            .covers(["builds.promote"])
            .writes()
            .spec("Build Promotion (jfrog-client-go, JFrog CLI): messages, the status recorded in the build"),
        Case::new("builds/retention/count", retention)
            .covers(["builds.retention"])
            .writes()
            .spec("jcr-rest-api.txt Control Build Retention; behaviour §10.4"),
        Case::new("builds/delete/numbers", delete)
            .covers(["builds.delete", "builds.delete-body"])
            .writes()
            .spec("Delete Builds (jfrog-client-go): by query and by JSON body; behaviour §10.4"),
        Case::new("builds/rename", rename)
            .covers(["builds.rename"])
            .writes()
            .spec("Build Rename (jfrog-client-go): every run takes the new name"),
        Case::new("builds/distribute/copy", distribute)
            .covers(["builds.distribute"])
            .writes()
            .admin()
            .spec("Distribute Build: the build's artifacts copied to the target repository"),
    ]
}

/// A build that does not exist: Artifactory's 404 with its message, or a 501 saying the API is
/// not supported; never a 2xx, never the bare `Not Found`.
fn missing_build(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let name = format!("{}-no-such-build", c.prefix);
        let asks = [
            (
                format!("api/build/{name}"),
                format!("No build was found for build name: {name}"),
            ),
            (
                format!("api/build/{name}/1"),
                format!("No build was found for build name: {name}, build number: 1 "),
            ),
        ];
        for (path, missing) in asks {
            let r = c.send(c.req("GET", &path)).await?;
            check!(
                !(200..300).contains(&r.status),
                "GET {path}: {} for a build that does not exist",
                r.status
            );
            if r.status == 501 {
                r.expect_content_type("application/json")?;
                let v = r.expect_json_subset(&json!({"errors": [{"status": 501}]}))?;
                let message = v["errors"][0]["message"].as_str().unwrap_or("");
                check!(
                    message.contains("not supported"),
                    "GET {path}: a 501 must say what is not supported: {message:?}"
                );
            } else {
                r.expect_rest_error(404, &missing)?;
            }
            c.snap(
                if path.ends_with("/1") {
                    "builds.info"
                } else {
                    "builds.runs"
                },
                &r,
            )?;
        }
        Ok(())
    })
}

/// A build-info document as the JFrog CLI publishes a generic build.
fn document(name: &str, number: &str, started: &str, artifacts: Value) -> Value {
    json!({
        "version": "1.0.1",
        "name": name,
        "number": number,
        "agent": {"name": "jfrog-cli-go", "version": "2.52.0"},
        "buildAgent": {"name": "GENERIC", "version": "2.52.0"},
        "started": started,
        "durationMillis": 4200,
        "url": "https://ci.example/job/7",
        "vcs": [{"url": "https://git.example/app.git", "revision": "9f1c2d3", "branch": "main", "message": "release"}],
        "modules": [{
            "type": "generic",
            "id": name,
            "artifacts": artifacts,
            "dependencies": [{"id": "base.tgz", "type": "tgz", "scopes": ["compile"], "sha1": "1".repeat(40), "md5": "2".repeat(32)}]
        }],
        "properties": {"buildInfo.env.CI": "true"}
    })
}

/// Publishes `doc` (expects 204) and records the build for teardown.
async fn publish(c: &Ctx, doc: &Value) -> Result<Response, Failure> {
    let r = c
        .send(
            c.req("PUT", "api/build")
                .header("Content-Type", "application/json")
                .json(doc),
        )
        .await?;
    check!(
        matches!(r.status, 200 | 201 | 204),
        "PUT api/build: {} {}",
        r.status,
        r.text()
    );
    let name = doc["name"].as_str().unwrap_or("");
    c.created(Created::Url(format!(
        "{}/api/build/{}?deleteAll=1",
        c.base,
        segment(name)
    )));
    Ok(r)
}

/// A name as a path segment: everything but RFC 3986's unreserved characters escaped.
fn segment(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// An artifact deployed for a build (with its `build.name`/`build.number` properties), as the
/// module entry the document lists.
async fn artifact(
    c: &Ctx,
    rel: &str,
    body: &[u8],
    name: &str,
    number: &str,
) -> Result<Value, Failure> {
    let path = c.path(rel);
    c.deploy(
        &format!("{path};build.name={};build.number={number}", segment(name)),
        body,
    )
    .await?;
    let (sha1, md5, sha256) = digests(body);
    let file = rel.rsplit('/').next().unwrap_or(rel);
    Ok(
        json!({"type": "bin", "sha1": sha1, "sha256": sha256, "md5": md5, "name": file, "path": in_repo(&path)}),
    )
}

/// `r`'s body narrowed to the `key` entries whose `uri` is one of `keep` (a list answer on
/// a shared server holds other builds too): what the snapshot records.
fn narrowed(r: &Response, key: &str, keep: &[String]) -> Result<Value, Failure> {
    let mut v = r.json()?;
    if let Some(a) = v.get_mut(key).and_then(Value::as_array_mut) {
        a.retain(|e| keep.iter().any(|k| e["uri"] == json!(k)));
    }
    Ok(v)
}

fn roundtrip(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let name = format!("{}-app build", c.prefix);
        let art = artifact(&c, "build/app.bin", b"app build bytes", &name, "1").await?;
        let first = document(
            &name,
            "1",
            "2026-11-20T10:00:00.000+0000",
            json!([art.clone()]),
        );
        let r = publish(&c, &first).await?;
        c.snap("builds.upload", &r)?;
        let later = document(&name, "2", "2026-11-21T10:00:00.000+0000", json!([art]));
        publish(&c, &later).await?;

        let r = c.send(c.req("GET", "api/build")).await?;
        r.expect_status(200)?;
        r.expect_content_type("application/vnd.org.jfrog.build.Builds+json")?;
        let v = r.json()?;
        check!(
            v["uri"] == json!(format!("{}/api/build", c.base)),
            "uri: {}",
            v["uri"]
        );
        // The name percent-encoded after the slash (servers differ in what they leave unescaped).
        let decoded = |u: &Value| {
            let u = u.as_str().unwrap_or("");
            percent_encoding::percent_decode_str(u)
                .decode_utf8_lossy()
                .into_owned()
        };
        let mine: Vec<&Value> = v["builds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| decoded(&b["uri"]) == format!("/{name}"))
            .collect();
        check!(mine.len() == 1, "builds: /{name} once, got {}", v["builds"]);
        let uri = mine[0]["uri"].as_str().unwrap_or("").to_string();
        check!(
            mine[0]["lastStarted"] == json!("2026-11-21T10:00:00.000+0000"),
            "lastStarted: {}",
            mine[0]["lastStarted"]
        );
        let shown = narrowed(&r, "builds", std::slice::from_ref(&uri))?;
        c.snap_body("builds.list", None, &r, &shown)?;

        let r = c
            .send(c.req("GET", &format!("api/build/{}", segment(&name))))
            .await?;
        r.expect_status(200)?;
        r.expect_content_type("application/vnd.org.jfrog.build.BuildsByName+json")?;
        r.expect_json_subset(&json!({
            "uri": format!("{}/api/build/{}", c.base, segment(&name)),
            "buildsNumbers": [
                {"uri": "/2", "started": "2026-11-21T10:00:00.000+0000"},
                {"uri": "/1", "started": "2026-11-20T10:00:00.000+0000"}
            ]
        }))?;
        c.snap("builds.runs", &r)?;

        let r = c
            .send(c.req("GET", &format!("api/build/{}/1", segment(&name))))
            .await?;
        r.expect_status(200)?;
        r.expect_content_type("application/vnd.org.jfrog.build.BuildInfo+json")?;
        let v = r.json()?;
        check!(
            v["uri"] == json!(format!("{}/api/build/{}/1", c.base, segment(&name))),
            "uri: {}",
            v["uri"]
        );
        let info = &v["buildInfo"];
        for k in [
            "version",
            "name",
            "number",
            "agent",
            "buildAgent",
            "started",
            "durationMillis",
            "url",
            "vcs",
            "modules",
            "properties",
        ] {
            check!(
                info[k] == first[k],
                "buildInfo.{k}: sent {}, read back {}",
                first[k],
                info[k]
            );
        }
        check!(
            info["artifactoryPrincipal"].is_string(),
            "artifactoryPrincipal: {}",
            info["artifactoryPrincipal"]
        );
        c.snap("builds.info", &r)?;
        Ok(())
    })
}

fn incomplete(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let name = format!("{}-incomplete", c.prefix);
        for doc in [
            json!({"name": name, "number": "1"}),
            json!({"number": "1", "started": "2026-11-20T10:00:00.000+0000"}),
        ] {
            let r = c.send(c.req("PUT", "api/build").json(&doc)).await?;
            r.expect_rest_error(
                400,
                "Build model must contain build name, number and started timestamp",
            )?;
        }
        let r = c
            .send(c.req("PUT", "api/build").json(&json!({"name": name})))
            .await?;
        c.snap("builds.upload", &r)?;
        let r = c.send(c.req("GET", &format!("api/build/{name}"))).await?;
        r.expect_rest_error(404, &format!("No build was found for build name: {name}"))?;
        Ok(())
    })
}

fn diff(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let name = format!("{}-diff", c.prefix);
        let a = |n: &str, ch: char| json!({"type": "jar", "name": n, "sha1": ch.to_string().repeat(40), "md5": ch.to_string().repeat(32)});
        let mut old = document(
            &name,
            "1",
            "2026-11-20T10:00:00.000+0000",
            json!([
                a("same.jar", 'a'),
                a("changed.jar", 'b'),
                a("gone.jar", 'c')
            ]),
        );
        old["properties"] = json!({"buildInfo.env.A": "1", "buildInfo.env.B": "x"});
        let mut new = document(
            &name,
            "2",
            "2026-11-21T10:00:00.000+0000",
            json!([
                a("same.jar", 'a'),
                a("changed.jar", 'd'),
                a("added.jar", 'e')
            ]),
        );
        new["properties"] = json!({"buildInfo.env.A": "2", "buildInfo.env.C": "y"});
        publish(&c, &old).await?;
        publish(&c, &new).await?;
        let r = c
            .send(c.req("GET", &format!("api/build/{name}/2?diff=1")))
            .await?;
        r.expect_status(200)?;
        r.expect_content_type("application/vnd.org.jfrog.build.BuildsDiff+json")?;
        let v = r.json()?;
        let names = |sec: &str, class: &str| -> Vec<String> {
            v[sec][class]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| {
                    e.get("name")
                        .or(e.get("id"))
                        .or(e.get("key"))
                        .and_then(Value::as_str)
                })
                .map(str::to_string)
                .collect()
        };
        for (sec, class, want) in [
            ("artifacts", "unchanged", vec!["same.jar"]),
            ("artifacts", "updated", vec!["changed.jar"]),
            ("artifacts", "new", vec!["added.jar"]),
            ("artifacts", "removed", vec!["gone.jar"]),
            ("dependencies", "unchanged", vec!["base.tgz"]),
            ("properties", "updated", vec!["buildInfo.env.A"]),
            ("properties", "new", vec!["buildInfo.env.C"]),
            ("properties", "removed", vec!["buildInfo.env.B"]),
        ] {
            check!(
                names(sec, class) == want,
                "{sec}.{class}: expected {want:?}, got {:?}",
                names(sec, class)
            );
        }
        c.snap("builds.diff", &r)?;
        let r = c
            .send(c.req("GET", &format!("api/build/{name}/2?diff=null")))
            .await?;
        r.expect_rest_error(400, "Parameter 'diff' must contain a value, if specified.")?;
        let r = c
            .send(c.req("GET", &format!("api/build/{name}/1?diff=2")))
            .await?;
        r.expect_rest_error(
            400,
            "Build number should be greater than the build number to compare against.",
        )?;
        Ok(())
    })
}

async fn info(c: &Ctx, name: &str, number: &str) -> Result<Value, Failure> {
    let r = c
        .send(c.req("GET", &format!("api/build/{}/{number}", segment(name))))
        .await?;
    r.expect_status(200)?;
    Ok(r.json()?["buildInfo"].clone())
}

fn promote(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let name = format!("{}-promote", c.prefix);
        publish(
            &c,
            &document(&name, "1", "2026-11-20T10:00:00.000+0000", json!([])),
        )
        .await?;
        let body = json!({"status": "staged", "comment": "to QA", "ciUser": "ci-bot", "timestamp": "2026-11-22T10:00:00.000+0000"});
        let r = c
            .send(
                c.req("POST", &format!("api/build/promote/{name}/1"))
                    .json(&body),
            )
            .await?;
        r.expect_status(200)?;
        c.snap("builds.promote", &r)?;
        r.expect_json_subset(&json!({"messages": [{"level": "INFO", "message": "Skipping build item relocation: no target repository selected."}]}))?;
        let statuses = info(&c, &name, "1").await?["statuses"].clone();
        let user = match &c.credentials {
            crate::target::Credentials::Basic { user, .. } => Some(user.clone()),
            _ => None,
        };
        let mut want = json!([{"status": "staged", "comment": "to QA", "timestamp": "2026-11-22T10:00:00.000+0000", "ciUser": "ci-bot"}]);
        if let Some(u) = user {
            want[0]["user"] = json!(u);
        }
        check!(
            crate::case::json_subset_mismatch(&statuses, &want).is_none(),
            "statuses: expected {want}, got {statuses}"
        );
        let r = c
            .send(
                c.req("POST", &format!("api/build/promote/{name}/9"))
                    .json(&body),
            )
            .await?;
        r.expect_status(404)?;
        c.snap("builds.promote", &r)?;
        Ok(())
    })
}

async fn numbers(c: &Ctx, name: &str) -> Result<Vec<String>, Failure> {
    let r = c
        .send(c.req("GET", &format!("api/build/{}", segment(name))))
        .await?;
    if r.status == 404 {
        return Ok(vec![]);
    }
    r.expect_status(200)?;
    Ok(r.json()?["buildsNumbers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| {
            b["uri"]
                .as_str()
                .map(|u| u.trim_start_matches('/').to_string())
        })
        .collect())
}

fn retention(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let name = format!("{}-retention", c.prefix);
        for n in 1..=4 {
            let started = format!("2026-11-2{n}T10:00:00.000+0000");
            publish(&c, &document(&name, &n.to_string(), &started, json!([]))).await?;
        }
        let r = c
            .send(
                c.req("POST", &format!("api/build/retention/{name}"))
                    .json(&json!({"count": 0})),
            )
            .await?;
        expect_text(&r, 400, "Max count retention needs to be a positive number")?;
        c.snap("builds.retention", &r)?;
        let body = json!({"count": 2, "buildNumbersNotToBeDiscarded": ["1"], "deleteBuildArtifacts": false});
        let r = c
            .send(
                c.req("POST", &format!("api/build/retention/{name}?async=false"))
                    .json(&body),
            )
            .await?;
        r.expect_status(204)?;
        c.snap("builds.retention", &r)?;
        let left = numbers(&c, &name).await?;
        check!(left == ["4", "3", "1"], "runs left: {left:?}");
        Ok(())
    })
}

fn delete(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let name = format!("{}-delete", c.prefix);
        for n in 1..=3 {
            let started = format!("2026-11-2{n}T10:00:00.000+0000");
            publish(&c, &document(&name, &n.to_string(), &started, json!([]))).await?;
        }
        let r = c
            .send(c.req("DELETE", &format!("api/build/{name}?buildNumbers=1")))
            .await?;
        check!(
            matches!(r.status, 200 | 204),
            "DELETE ?buildNumbers=1: {} {}",
            r.status,
            r.text()
        );
        c.snap("builds.delete", &r)?;
        check!(numbers(&c, &name).await? == ["3", "2"], "after deleting #1");
        let r =
            c.send(c.req("POST", "api/build/delete").json(
                &json!({"buildName": name, "buildNumbers": ["2"], "deleteArtifacts": false}),
            ))
            .await?;
        check!(
            matches!(r.status, 200 | 204),
            "POST api/build/delete: {} {}",
            r.status,
            r.text()
        );
        c.snap("builds.delete-body", &r)?;
        check!(numbers(&c, &name).await? == ["3"], "after deleting #2");
        let r = c
            .send(
                c.req("POST", "api/build/delete")
                    .json(&json!({"buildNumbers": ["3"]})),
            )
            .await?;
        r.expect_rest_error(400, "Missing build name")?;
        c.snap("builds.delete-body", &r)?;
        let r = c
            .send(c.req("DELETE", &format!("api/build/{name}?deleteAll=1")))
            .await?;
        check!(
            matches!(r.status, 200 | 204),
            "DELETE ?deleteAll=1: {}",
            r.status
        );
        check!(numbers(&c, &name).await?.is_empty(), "after deleting all");
        Ok(())
    })
}

fn rename(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (from, to) = (
            format!("{}-before", c.prefix),
            format!("{}-after", c.prefix),
        );
        publish(
            &c,
            &document(&from, "1", "2026-11-20T10:00:00.000+0000", json!([])),
        )
        .await?;
        c.created(Created::Url(format!(
            "{}/api/build/{to}?deleteAll=1",
            c.base
        )));
        let r = c
            .send(c.req("POST", &format!("api/build/rename/{from}?to={to}")))
            .await?;
        expect_text(
            &r,
            200,
            &format!("Build renaming of '{from}' to '{to}' was successfully started.\n"),
        )?;
        c.snap("builds.rename", &r)?;
        let mut renamed = Vec::new();
        for _ in 0..50 {
            renamed = numbers(&c, &to).await?;
            if !renamed.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        check!(renamed == ["1"], "runs of the new name: {renamed:?}");
        check!(
            info(&c, &to, "1").await?["name"] == json!(to),
            "the document carries the new name"
        );
        check!(
            numbers(&c, &from).await?.is_empty(),
            "the old name has no runs"
        );
        Ok(())
    })
}

fn distribute(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let name = format!("{}-dist", c.prefix);
        let art = artifact(&c, "dist/app.bin", b"distributed bytes", &name, "1").await?;
        publish(
            &c,
            &document(
                &name,
                "1",
                "2026-11-20T10:00:00.000+0000",
                json!([art.clone()]),
            ),
        )
        .await?;
        let target = format!("{}-dist-local", c.prefix);
        let r = c
            .send(
                c.req("PUT", &format!("api/repositories/{target}"))
                    .json(&json!({"key": target, "rclass": "local", "packageType": "generic"})),
            )
            .await?;
        r.expect_status(200)?;
        c.created(Created::Repository(target.clone()));
        let body = json!({"targetRepo": target, "sourceRepos": [c.repo], "dryRun": false});
        let r = c
            .send(
                c.req("POST", &format!("api/build/distribute/{name}/1"))
                    .json(&body),
            )
            .await?;
        r.expect_status(200)?;
        c.snap("builds.distribute", &r)?;
        let path = art["path"].as_str().unwrap_or("");
        let r = c.send(c.req("GET", &format!("{target}/{path}"))).await?;
        r.expect_status(200)?;
        check!(
            r.body == b"distributed bytes",
            "the distributed file's content"
        );
        Ok(())
    })
}
