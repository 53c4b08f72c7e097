//! Helm repositories: charts, index.yaml (local, remote, virtual), reindex.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

/// A chart package `name-version.tgz` as `helm package` makes it.
pub fn chart(name: &str, version: &str, extra: &str) -> Vec<u8> {
    let yaml = format!("apiVersion: v2\nname: {name}\nversion: {version}\n{extra}");
    let mut tar = tar::Builder::new(Vec::new());
    for (file, body) in [
        ("Chart.yaml", yaml.as_str()),
        ("values.yaml", "replicas: 1\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("{name}/{file}"), body.as_bytes())
            .unwrap();
    }
    let raw = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    gz.finish().unwrap()
}

/// The index as YAML, turned into JSON for asserting.
async fn index(s: &Srv, repo: &str) -> Value {
    let r = s.get(&format!("api/helm/{repo}/index.yaml")).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/x-yaml")
    );
    serde_yaml::from_str(&r.text()).unwrap()
}

fn versions(index: &Value, name: &str) -> Vec<String> {
    index["entries"][name]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v["version"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_local_index_follows_every_write() {
    let s = start().await;
    let web = chart(
        "web",
        "1.2.0",
        "appVersion: \"4.5\"\ndescription: A web app\n",
    );
    let done = s.deploy("helm-local/web-1.2.0.tgz", web.clone()).await;
    assert_eq!(done["repo"], "helm-local");
    s.deploy("helm-local/web-1.10.0.tgz", chart("web", "1.10.0", ""))
        .await;
    s.deploy("helm-local/api-0.1.0.tgz", chart("api", "0.1.0", ""))
        .await;

    // Chart.yaml becomes properties.
    let v: Value = s
        .get("api/storage/helm-local/web-1.2.0.tgz?properties")
        .await
        .json();
    assert_eq!(
        v["properties"],
        json!({"chart.apiVersion": ["v2"], "chart.appVersion": ["4.5"], "chart.description": ["A web app"], "chart.name": ["web"], "chart.version": ["1.2.0"]})
    );

    let i = index(&s, "helm-local").await;
    assert_eq!(i["apiVersion"], "v1");
    assert_eq!(i["generated"], T0_ISO);
    let names: Vec<&String> = i["entries"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["api", "web"]);
    assert_eq!(versions(&i, "web"), ["1.10.0", "1.2.0"]);
    let e = &i["entries"]["web"][1];
    assert_eq!(
        e,
        &json!({
            "apiVersion": "v2",
            "appVersion": "4.5",
            "created": T0_ISO,
            "description": "A web app",
            "digest": sha256_hex(&web),
            "name": "web",
            "urls": [s.url("api/helm/helm-local/web-1.2.0.tgz")],
            "version": "1.2.0",
        })
    );
    // The URL serves the chart; the repository path serves the same index.
    let r = s.get("api/helm/helm-local/web-1.2.0.tgz").await;
    assert_eq!((r.status().as_u16(), r.bytes().to_vec()), (200, web));
    let same: Value = serde_yaml::from_str(&s.get("helm-local/index.yaml").await.text()).unwrap();
    assert_eq!(same, i);

    // Delete and move are writes like any other.
    let r = s
        .admin(Method::DELETE, "helm-local/web-1.10.0.tgz")
        .go()
        .await;
    assert_eq!(r.status(), 204);
    let r = s
        .admin(
            Method::POST,
            "api/move/helm-local/api-0.1.0.tgz?to=/generic-local/api-0.1.0.tgz",
        )
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let i = index(&s, "helm-local").await;
    assert_eq!(versions(&i, "web"), ["1.2.0"]);
    assert_eq!(versions(&i, "api"), Vec::<String>::new());

    // Reindex reads every chart again: the same index.
    let r = s
        .admin(Method::POST, "api/helm/helm-local/reindex")
        .go()
        .await;
    assert_eq!((r.status().as_u16(), r.text()), (200, "OK".into()));
    assert_eq!(index(&s, "helm-local").await, i);
}

#[tokio::test]
async fn invalid_charts_are_refused_and_not_indexed() {
    let s = start().await;
    let no_chart_yaml = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(&mut gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_cksum();
        tar.append_data(&mut h, "x/values.yaml", &b"{}"[..])
            .unwrap();
        tar.finish().unwrap();
        drop(tar);
        gz.finish().unwrap()
    };
    for (body, message) in [
        (
            no_chart_yaml,
            "Invalid Helm chart: no Chart.yaml in the package's top folder",
        ),
        (
            chart("web", "one", ""),
            "Invalid Helm chart: chart version 'one' is not a valid SemVer 2 version",
        ),
        (
            b"not gzip".to_vec(),
            "Invalid Helm chart: not a gzipped tar archive (no gzip header)",
        ),
    ] {
        let r = s
            .admin(Method::PUT, "helm-local/bad-1.0.0.tgz")
            .body(body)
            .go()
            .await;
        assert_rest_error(r, 400, message).await;
        assert_eq!(
            s.get("api/storage/helm-local/bad-1.0.0.tgz").await.status(),
            404
        );
    }
    assert_eq!(index(&s, "helm-local").await["entries"], json!({}));
    // Other files and other repositories are not charts.
    s.deploy("helm-local/README.md", "hi").await;
    s.deploy("generic-local/not-a-chart.tgz", "x").await;

    let r = s
        .admin(Method::POST, "api/helm/generic-local/reindex")
        .go()
        .await;
    assert_rest_error(
        r,
        400,
        "Reindex is supported for local Helm repositories only; 'generic-local' is not one",
    )
    .await;
    let r = s.get("api/helm/generic-local/index.yaml").await;
    assert_rest_error(
        r,
        400,
        "Repository 'generic-local' is not a Helm repository",
    )
    .await;
    let r = s
        .anon(Method::POST, "api/helm/helm-local/reindex")
        .go()
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn remote_and_virtual_indexes_point_through_themselves() {
    let upstream = start().await;
    upstream
        .deploy("helm-local/db-2.0.0.tgz", chart("db", "2.0.0", ""))
        .await;
    upstream
        .deploy("helm-local/web-1.0.0.tgz", chart("web", "1.0.0", ""))
        .await;
    let s = start().await;
    let put = |key: &str, doc: Value| {
        s.admin(Method::PUT, &format!("api/repositories/{key}"))
            .json(&doc)
            .go()
    };
    let r = put(
        "helm-remote",
        json!({"rclass": "remote", "packageType": "helm", "url": upstream.url("api/helm/helm-local"), "username": "admin", "password": "password"}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let r = put(
        "helm",
        json!({"rclass": "virtual", "packageType": "helm", "repositories": ["helm-local", "helm-remote"], "defaultDeploymentRepo": "helm-local"}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    // A local web 1.0.0 shadows the remote's.
    let local_web = chart("web", "1.0.0", "description: local\n");
    s.deploy("helm-local/web-1.0.0.tgz", local_web.clone())
        .await;

    let i = index(&s, "helm-remote").await;
    assert_eq!(
        i["entries"]["db"][0]["urls"],
        json!([s.url("api/helm/helm-remote/db-2.0.0.tgz")])
    );
    let r = s.get("api/helm/helm-remote/db-2.0.0.tgz").await;
    assert_eq!(r.bytes().to_vec(), chart("db", "2.0.0", ""));

    let i = index(&s, "helm").await;
    assert_eq!(
        i["entries"]["db"][0]["urls"],
        json!([s.url("api/helm/helm/db-2.0.0.tgz")])
    );
    assert_eq!(i["entries"]["web"].as_array().unwrap().len(), 1);
    assert_eq!(i["entries"]["web"][0]["description"], "local");
    let r = s.get("api/helm/helm/web-1.0.0.tgz").await;
    assert_eq!(r.bytes().to_vec(), local_web);
    let r = s.get("api/helm/helm/db-2.0.0.tgz").await;
    assert_eq!(r.status(), 200);

    // A deploy through the virtual lands in its default deployment repository and shows at once.
    s.deploy("helm/new-0.0.1.tgz", chart("new", "0.0.1", ""))
        .await;
    assert_eq!(versions(&index(&s, "helm").await, "new"), ["0.0.1"]);
    assert_eq!(versions(&index(&s, "helm-local").await, "new"), ["0.0.1"]);
}
