//! Helm repositories as `helm repo add` / `helm pull` use them: index.yaml at
//! `/api/helm/<repo>/index.yaml` (behaviour §14; Helm's index format: `apiVersion: v1`, entries by
//! chart name with the newest version first, each with `digest` and `urls`), charts beside it,
//! reindex (jcr-rest-api.txt "Calculate Helm Chart Index"). Each case works in a local Helm
//! repository of its own, deleted at teardown.

use serde_json::{json, Value};

use crate::case::{digests, Case, CaseFuture, Created, Ctx, Failure, Response};
use crate::check;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("helm/index/local", local_index)
            .covers(["helm.index", "helm.chart"])
            .writes()
            .admin()
            .spec("behaviour §14 (index.yaml of a Helm repository, chart URLs through /api/helm/<repo>); Helm's index format"),
        Case::new("helm/reindex", reindex)
            .covers(["helm.reindex"])
            .writes()
            .admin()
            .spec("jcr-rest-api.txt Calculate Helm Chart Index: POST /api/helm/{repoKey}/reindex answers OK"),
        Case::new("helm/deploy/invalid-chart", invalid_chart)
            .covers(["artifacts.deploy", "helm.index"])
            .writes()
            .admin()
            .spec("a package without Chart.yaml is not a chart: refused with a 400, nothing indexed"),
    ]
}

/// A chart package as `helm package` makes it: `<name>/Chart.yaml` in a gzipped tar.
fn package(name: &str, version: &str) -> Vec<u8> {
    let yaml =
        format!("apiVersion: v2\nname: {name}\nversion: {version}\ndescription: {name} chart\n");
    let mut tar = tar::Builder::new(Vec::new());
    for (file, body) in [("Chart.yaml", yaml.as_str()), ("values.yaml", "{}\n")] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        // Writing into a Vec cannot fail.
        let _ = tar.append_data(&mut h, format!("{name}/{file}"), body.as_bytes());
    }
    let raw = tar.into_inner().unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = std::io::Write::write_all(&mut gz, &raw);
    gz.finish().unwrap_or_default()
}

/// Creates the case's local Helm repository `<prefix>-<name>` (deleted at teardown).
async fn helm_repo(c: &Ctx, name: &str) -> Result<String, Failure> {
    let key = format!("{}-{name}", c.prefix);
    let r = c
        .send(
            c.req("PUT", &format!("api/repositories/{key}"))
                .json(&json!({"key": key, "rclass": "local", "packageType": "helm"})),
        )
        .await?;
    r.expect_status(200)?;
    c.created(Created::Repository(key.clone()));
    Ok(key)
}

/// The index of `key`, read as Helm reads it (YAML), as JSON.
async fn index(c: &Ctx, key: &str) -> Result<(Response, Value), Failure> {
    let r = c
        .send(c.req("GET", &format!("api/helm/{key}/index.yaml")))
        .await?;
    r.expect_status(200)?;
    let v: Value = serde_yaml::from_str(&r.text())
        .map_err(|e| Failure::Fail(format!("index.yaml is not YAML: {e}: {}", r.text())))?;
    Ok((r, v))
}

fn versions(v: &Value, name: &str) -> Vec<String> {
    v["entries"][name]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["version"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn local_index(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let key = helm_repo(&c, "helm-index").await?;
        let older = package("web", "1.2.0");
        c.deploy(&format!("{key}/web-1.2.0.tgz"), &older).await?;
        c.deploy(&format!("{key}/web-1.10.0.tgz"), &package("web", "1.10.0"))
            .await?;
        let (r, v) = index(&c, &key).await?;
        check!(v["apiVersion"] == "v1", "apiVersion: {}", v["apiVersion"]);
        check!(
            v["generated"].is_string(),
            "index.yaml has no generated time"
        );
        // SemVer order, newest first (1.10.0 sorts after 1.2.0 as text).
        check!(
            versions(&v, "web") == ["1.10.0", "1.2.0"],
            "web versions: {:?}",
            versions(&v, "web")
        );
        let e = &v["entries"]["web"][1];
        let (_, _, sha256) = digests(&older);
        check!(e["digest"] == json!(sha256), "digest: {}", e["digest"]);
        check!(
            e["name"] == "web" && e["apiVersion"] == "v2" && e["created"].is_string(),
            "entry: {e}"
        );
        let url = e["urls"][0].as_str().unwrap_or("").to_string();
        check!(
            url.ends_with(&format!("/api/helm/{key}/web-1.2.0.tgz")) || url == "web-1.2.0.tgz",
            "chart URL: {url}"
        );
        // The URL (absolute, or relative to the index) serves the chart.
        let chart = if url.contains("://") {
            c.send(c.req_url("GET", &url)).await?
        } else {
            c.send(c.req("GET", &format!("api/helm/{key}/{url}")))
                .await?
        };
        chart.expect_status(200)?;
        c.snap("helm.chart", &chart)?;
        check!(chart.body == older, "the chart URL serves other bytes");
        // Chart.yaml becomes properties.
        let props = c
            .send(c.req(
                "GET",
                &format!("api/storage/{key}/web-1.2.0.tgz?properties"),
            ))
            .await?
            .json()?;
        check!(
            props["properties"]["chart.name"] == json!(["web"])
                && props["properties"]["chart.version"] == json!(["1.2.0"]),
            "chart properties: {props}"
        );
        // Times are checked above; two deploys may share a millisecond, so they are not compared.
        let mut v = v;
        v["generated"] = json!("<generated>");
        if let Some(all) = v["entries"]["web"].as_array_mut() {
            for e in all {
                e["created"] = json!("<created>");
            }
        }
        c.snap_body("helm.index", None, &r, &v)
    })
}

fn reindex(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let key = helm_repo(&c, "helm-reindex").await?;
        c.deploy(&format!("{key}/db-0.1.0.tgz"), &package("db", "0.1.0"))
            .await?;
        let (_, before) = index(&c, &key).await?;
        let r = c
            .send(c.req("POST", &format!("api/helm/{key}/reindex")))
            .await?;
        r.expect_status(200)?;
        check!(r.text().trim() == "OK", "reindex body: {}", r.text());
        c.snap("helm.reindex", &r)?;
        let (_, after) = index(&c, &key).await?;
        check!(
            after["entries"] == before["entries"],
            "the index changed on reindex: {} -> {}",
            before["entries"],
            after["entries"]
        );
        Ok(())
    })
}

fn invalid_chart(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let key = helm_repo(&c, "helm-invalid").await?;
        let r = c
            .send(
                c.req("PUT", &format!("{key}/broken-1.0.0.tgz"))
                    .body(b"this is not a chart"),
            )
            .await?;
        if (200..300).contains(&r.status) {
            c.created(Created::Item(format!("{key}/broken-1.0.0.tgz")));
        }
        r.expect_status(400)?;
        c.snap_as("artifacts.deploy", "helm-invalid-chart", &r)?;
        let (_, v) = index(&c, &key).await?;
        check!(
            v["entries"].as_object().is_none_or(|m| m.is_empty()),
            "an invalid chart was indexed: {}",
            v["entries"]
        );
        Ok(())
    })
}
