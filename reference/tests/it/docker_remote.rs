//! Docker remote and virtual repositories: the upstream is a second reference server (its
//! registry asks for a Bearer token, as Docker Hub does), on a loopback port.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::docker::{
    admin, code, digest, errors, manifest, push_blob, push_image, put_manifest, reg, OCI_INDEX,
    OCI_MANIFEST,
};

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Creates repository `key` on `s` from `doc`.
async fn create(s: &Srv, key: &str, doc: Value) {
    let r = s
        .admin(Method::PUT, &format!("api/repositories/{key}"))
        .json(&doc)
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
}

/// A Docker remote `dock` on `s` in front of `upstream`'s `docker-local`.
async fn remote(s: &Srv, upstream: &Srv, extra: Value) {
    let mut doc = json!({
        "rclass": "remote",
        "packageType": "docker",
        "url": upstream.url("api/docker/docker-local"),
        "username": "admin",
        "password": "password",
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    create(s, "dock", doc).await;
}

async fn get(s: &Srv, url: &str) -> Answer {
    admin(s, Method::GET, url)
        .header("accept", ACCEPT)
        .go()
        .await
}

/// Deletes `team/app:1.0` from the upstream registry at `up`.
async fn untag(upstream: &Srv, up: &str) {
    let url = format!("{up}/team/app/manifests/1.0");
    let r = admin(upstream, Method::DELETE, &url).go().await;
    assert_eq!(r.status(), 202);
}

#[tokio::test]
async fn a_docker_remote_pulls_through_the_token_flow_and_serves_its_cache() {
    let upstream = start().await;
    let up = reg(&upstream, "docker-local", false);
    let layer = b"remote layer".repeat(1000);
    let pushed = push_image(&upstream, &up, "team/app", "1.0", &layer).await;
    let s = start().await;
    remote(&s, &upstream, json!({"retrievalCachePeriodSecs": 60})).await;

    // Through both access methods of the remote, by tag: the upstream's bytes and digest.
    for api in [false, true] {
        let p = reg(&s, "dock", api);
        let r = get(&s, &format!("{p}/team/app/manifests/1.0")).await;
        assert_eq!(r.status(), 200, "{}", r.text());
        assert_eq!(r.bytes().as_ref(), pushed.as_slice());
        assert_eq!(header(r.headers(), "content-type"), Some(OCI_MANIFEST));
        assert_eq!(
            header(r.headers(), "docker-content-digest"),
            Some(digest(&pushed).as_str())
        );
    }
    let p = reg(&s, "dock", false);
    let m: Value = serde_json::from_slice(&pushed).unwrap();
    let config = m["config"]["digest"].as_str().unwrap().to_string();
    let r = get(&s, &format!("{p}/team/app/blobs/{}", digest(&layer))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().as_ref(), layer.as_slice());
    assert_eq!(
        header(r.headers(), "docker-content-digest"),
        Some(digest(&layer).as_str())
    );
    let r = get(&s, &format!("{p}/team/app/blobs/{config}")).await;
    assert_eq!(r.status(), 200);

    // The cache has Artifactory's layout: the tag folder with the manifest and its blobs.
    let info: Value = s
        .get("api/storage/dock/team/app/1.0/manifest.json?properties")
        .await
        .json();
    assert_eq!(
        info["properties"]["docker.manifest.digest"],
        json!([digest(&pushed)])
    );
    assert_eq!(info["properties"]["docker.repoName"], json!(["team/app"]));
    let folder: Value = s.get("api/storage/dock/team/app/1.0").await.json();
    let mut names: Vec<String> = folder["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uri"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    let mut want = vec![
        "/manifest.json".to_string(),
        format!("/sha256__{}", sha256_hex(&layer)),
        format!("/{}", config.replace(':', "__")),
    ];
    want.sort();
    assert_eq!(names, want);
    let r = get(&s, &format!("{p}/team/app/tags/list")).await;
    assert_eq!(
        r.json::<Value>(),
        json!({"name": "team/app", "tags": ["1.0"]})
    );

    // Gone upstream: the cache still serves the tag (within its period) and the blobs.
    untag(&upstream, &up).await;
    let r = get(&s, &format!("{p}/team/app/manifests/1.0")).await;
    assert_eq!(r.bytes().as_ref(), pushed.as_slice());
    let r = get(&s, &format!("{p}/team/app/blobs/{}", digest(&layer))).await;
    assert_eq!(r.bytes().as_ref(), layer.as_slice());

    // A tag moved upstream is seen after the cache period.
    let other = b"another layer".repeat(10);
    let moved = push_image(&upstream, &up, "team/app", "1.0", &other).await;
    let r = get(&s, &format!("{p}/team/app/manifests/1.0")).await;
    assert_eq!(r.bytes().as_ref(), pushed.as_slice());
    s.clock.advance(61_000);
    let r = get(&s, &format!("{p}/team/app/manifests/1.0")).await;
    assert_eq!(r.bytes().as_ref(), moved.as_slice());
    // Deleted upstream and past the period: the cached tag is still served.
    untag(&upstream, &up).await;
    s.clock.advance(61_000);
    let r = get(&s, &format!("{p}/team/app/manifests/1.0")).await;
    assert_eq!(r.bytes().as_ref(), moved.as_slice());

    // What upstream does not have, and pushes to a remote.
    let (status, body) = errors(get(&s, &format!("{p}/team/app/manifests/nope")).await).await;
    assert_eq!((status, code(&body)), (404, "MANIFEST_UNKNOWN"));
    let (status, body) =
        errors(get(&s, &format!("{p}/team/app/blobs/sha256:{}", "0".repeat(64))).await).await;
    assert_eq!((status, code(&body)), (404, "BLOB_UNKNOWN"));
    push_refused(
        &s,
        &format!("{p}/team/app/blobs/uploads/"),
        "repository 'dock' is a remote repository: push to a local or virtual repository",
    )
    .await;
}

/// An upload started at `url` is `405 UNSUPPORTED` with `message`.
async fn push_refused(s: &Srv, url: &str, message: &str) {
    let (status, body) = errors(admin(s, Method::POST, url).go().await).await;
    assert_eq!((status, code(&body)), (405, "UNSUPPORTED"));
    assert_eq!(body["errors"][0]["message"], message);
}

#[tokio::test]
async fn a_remote_pulls_an_index_and_its_images_by_digest() {
    let upstream = start().await;
    let up = reg(&upstream, "docker-local", false);
    let layer = b"multi layer".repeat(100);
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let cfg = format!("{{\"architecture\":\"{arch}\",\"os\":\"linux\"}}");
        push_blob(&upstream, &up, "multi", cfg.as_bytes()).await;
        push_blob(&upstream, &up, "multi", &layer).await;
        let m = manifest(OCI_MANIFEST, cfg.as_bytes(), &[&layer]);
        let bytes = serde_json::to_vec(&m).unwrap();
        let r = put_manifest(&upstream, &up, "multi", &digest(&bytes), &m).await;
        assert_eq!(r.status(), 201, "{}", r.text());
        children.push(json!({"mediaType": OCI_MANIFEST, "size": bytes.len(), "digest": digest(&bytes), "platform": {"architecture": arch, "os": "linux"}}));
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children});
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let r = put_manifest(&upstream, &up, "multi", "latest", &index).await;
    assert_eq!(r.status(), 201);

    let s = start().await;
    remote(&s, &upstream, json!({})).await;
    let p = reg(&s, "dock", true);
    let r = get(&s, &format!("{p}/multi/manifests/latest")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().as_ref(), index_bytes.as_slice());
    assert_eq!(header(r.headers(), "content-type"), Some(OCI_INDEX));
    for child in &children {
        let d = child["digest"].as_str().unwrap();
        let r = get(&s, &format!("{p}/multi/manifests/{d}")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(r.headers(), "docker-content-digest"), Some(d));
    }
    // A client that takes no index gets the linux/amd64 image, fetched by digest.
    let r = admin(&s, Method::GET, &format!("{p}/multi/manifests/latest"))
        .header("accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
        .go()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "docker-content-digest"),
        children[0]["digest"].as_str()
    );
    // The list and the images by digest are cached as Artifactory lays them out.
    let r = s
        .get("api/storage/dock/multi/latest/list.manifest.json")
        .await;
    assert_eq!(r.status(), 200);
    let d = children[1]["digest"].as_str().unwrap().replace(':', "__");
    let r = s
        .get(&format!("api/storage/dock/multi/{d}/manifest.json"))
        .await;
    assert_eq!(r.status(), 200);
    // Its layer goes beside the first cached image that names it.
    let r = get(&s, &format!("{p}/multi/blobs/{}", digest(&layer))).await;
    assert_eq!(r.bytes().as_ref(), layer.as_slice());
    let folder: Value = s.get("api/storage/dock/multi").await.json();
    let layer_file = format!("sha256__{}", sha256_hex(&layer));
    let holders = folder["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["folder"] == true)
        .count();
    assert_eq!(holders, 3, "{folder}");
    let (mut found, mut with_layer) = (0, 0);
    for c in folder["children"].as_array().unwrap() {
        let sub: Value = s
            .get(&format!(
                "api/storage/dock/multi{}",
                c["uri"].as_str().unwrap()
            ))
            .await
            .json();
        found += 1;
        let has = sub["children"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["uri"] == format!("/{layer_file}")));
        with_layer += has as usize;
    }
    assert_eq!((found, with_layer), (3, 1));
}

#[tokio::test]
async fn a_docker_virtual_pulls_through_its_members_and_pushes_to_its_default() {
    let upstream = start().await;
    let up = reg(&upstream, "docker-local", false);
    let from_upstream = push_image(&upstream, &up, "up/only", "1", b"upstream layer").await;
    let s = start().await;
    remote(&s, &upstream, json!({})).await;
    let local = reg(&s, "docker-local", false);
    let from_local = push_image(&s, &local, "local/img", "1", b"local layer").await;
    create(
        &s,
        "dv",
        json!({"rclass": "virtual", "packageType": "docker", "repositories": ["docker-local", "dock"], "defaultDeploymentRepo": "docker-local"}),
    )
    .await;
    let v = reg(&s, "dv", false);
    let r = get(&s, &format!("{v}/local/img/manifests/1")).await;
    assert_eq!(r.bytes().as_ref(), from_local.as_slice());
    let r = get(&s, &format!("{v}/up/only/manifests/1")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().as_ref(), from_upstream.as_slice());
    let r = get(
        &s,
        &format!("{v}/up/only/blobs/{}", digest(b"upstream layer")),
    )
    .await;
    assert_eq!(r.bytes().as_ref(), b"upstream layer");
    // The pull went through the remote, whose cache has it now.
    assert_eq!(
        s.get("api/storage/dock/up/only/1/manifest.json")
            .await
            .status(),
        200
    );

    // Pushed through the virtual: into its default deployment repository.
    let pushed = push_image(&s, &v, "pushed/img", "2", b"pushed layer").await;
    assert_eq!(
        s.get("api/storage/docker-local/pushed/img/2/manifest.json")
            .await
            .status(),
        200
    );
    let r = get(&s, &format!("{v}/pushed/img/manifests/2")).await;
    assert_eq!(r.bytes().as_ref(), pushed.as_slice());
    let r = get(&s, &format!("{v}/up/only/tags/list")).await;
    assert_eq!(r.json::<Value>(), json!({"name": "up/only", "tags": ["1"]}));
    let r = get(&s, &format!("{}/_catalog", reg(&s, "dv", true))).await;
    assert_eq!(
        r.json::<Value>(),
        json!({"repositories": ["local/img", "pushed/img", "up/only"]})
    );

    // A virtual with nowhere to deploy refuses pushes, saying why.
    create(
        &s,
        "dv2",
        json!({"rclass": "virtual", "packageType": "docker", "repositories": ["dock"]}),
    )
    .await;
    push_refused(
        &s,
        &format!("{}/x/blobs/uploads/", reg(&s, "dv2", false)),
        "virtual repository 'dv2' has no default deployment repository",
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_docker_upstream_is_a_miss_or_with_hard_fail_a_502() {
    let s = start().await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    create(
        &s,
        "dock",
        json!({"rclass": "remote", "packageType": "docker", "url": format!("http://{dead}/"), "socketTimeoutMillis": 2000}),
    )
    .await;
    let p = reg(&s, "dock", false);
    let (status, body) = errors(get(&s, &format!("{p}/a/manifests/1")).await).await;
    assert_eq!((status, code(&body)), (404, "MANIFEST_UNKNOWN"));
    create(
        &s,
        "dock-hard",
        json!({"rclass": "remote", "packageType": "docker", "url": format!("http://{dead}/"), "hardFail": true}),
    )
    .await;
    let p = reg(&s, "dock-hard", false);
    let (status, body) = errors(get(&s, &format!("{p}/a/manifests/1")).await).await;
    assert_eq!((status, code(&body)), (502, "UNKNOWN"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Failed to retrieve resource from remote repository 'dock-hard': "),
        "{message}"
    );
}

#[tokio::test]
async fn a_remote_does_not_fetch_what_the_caller_may_not_read() {
    let upstream = start().await;
    let up = reg(&upstream, "docker-local", false);
    push_image(&upstream, &up, "team/app", "1", b"team layer").await;
    let other = push_image(&upstream, &up, "other/app", "1", b"other layer").await;
    let s = start_with(|c| c.users.push(crate::common::user("eve", Some(&[])))).await;
    remote(&s, &upstream, json!({})).await;
    let r = s
        .admin(Method::PUT, "api/security/permissions/team-only")
        .json(&json!({"repositories": ["dock"], "includesPattern": "team/**,other/app/1/**", "principals": {"users": {"eve": ["r"]}}}))
        .go()
        .await;
    assert!(r.status().is_success(), "{}", r.text());
    let p = reg(&s, "dock", false);
    let as_eve = |url: String| {
        s.client
            .get(url)
            .basic_auth("eve", Some("eve-pw"))
            .header("accept", ACCEPT)
            .send()
    };
    let r = as_eve(format!("{p}/team/app/manifests/1")).await.unwrap();
    assert_eq!(r.status(), 200);
    // Eve may read other/app:1 only. The image's folder is readable to her (something beneath
    // it is), but its second tag upstream must not be fetched and served to her.
    let r = get(&s, &format!("{p}/other/app/manifests/1")).await;
    assert_eq!(r.bytes().as_ref(), other.as_slice());
    push_image(&upstream, &up, "other/app", "2", b"other layer 2").await;
    let r = as_eve(format!("{p}/other/app/manifests/2")).await.unwrap();
    assert_eq!(
        r.status(),
        403,
        "a manifest outside eve's pattern must not be fetched for her"
    );
    assert_eq!(
        s.get("api/storage/dock/other/app/2/manifest.json")
            .await
            .status(),
        404,
        "nothing was cached for her"
    );
    let r = as_eve(format!("{p}/other/app/blobs/{}", digest(b"other layer 2")))
        .await
        .unwrap();
    assert_ne!(r.status(), 200, "nor a blob outside her pattern");
}
