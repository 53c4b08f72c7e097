//! The Docker / OCI registry API through both access methods, Artifactory's layout, errors and
//! permissions.

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::common::*;

pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

pub(crate) fn digest(b: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(b))
}

/// URL prefix of the registry for `repo`: the repository-path method at the root, or the API path.
pub(crate) fn reg(s: &Srv, repo: &str, api: bool) -> String {
    if api {
        format!("{}/api/docker/{repo}/v2", s.base)
    } else {
        format!("http://{}/v2/{repo}", s.server.addr())
    }
}

pub(crate) fn admin(s: &Srv, m: Method, url: &str) -> RequestBuilder {
    s.client
        .request(m, url)
        .basic_auth("admin", Some("password"))
}

pub(crate) async fn errors(r: Answer) -> (u16, Value) {
    let status = r.status().as_u16();
    assert_eq!(
        header(r.headers(), "docker-distribution-api-version"),
        Some("registry/2.0")
    );
    (
        status,
        serde_json::from_str(&r.text()).unwrap_or(Value::Null),
    )
}

pub(crate) fn code(v: &Value) -> &str {
    v["errors"][0]["code"].as_str().unwrap_or("")
}

/// Monolithic upload (POST, then PUT with the body); returns the digest.
pub(crate) async fn push_blob(s: &Srv, prefix: &str, image: &str, bytes: &[u8]) -> String {
    let d = digest(bytes);
    let r = admin(s, Method::POST, &format!("{prefix}/{image}/blobs/uploads/"))
        .go()
        .await;
    assert_eq!(r.status(), 202);
    let loc = header(r.headers(), "location").unwrap().to_string();
    let url = if loc.starts_with("http") {
        loc
    } else {
        format!("http://{}{loc}", s.server.addr())
    };
    let r = admin(s, Method::PUT, &format!("{url}?digest={d}"))
        .body(bytes.to_vec())
        .go()
        .await;
    assert_eq!(r.status(), 201, "{}", r.text());
    d
}

/// An image manifest for a config and layers already pushed.
pub(crate) fn manifest(media: &str, config: &[u8], layers: &[&[u8]]) -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": media,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": digest(config)},
        "layers": layers.iter().map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": l.len(), "digest": digest(l)})).collect::<Vec<_>>(),
    })
}

pub(crate) async fn put_manifest(
    s: &Srv,
    prefix: &str,
    image: &str,
    reference: &str,
    m: &Value,
) -> Answer {
    let media = m["mediaType"].as_str().unwrap_or(OCI_MANIFEST).to_string();
    admin(
        s,
        Method::PUT,
        &format!("{prefix}/{image}/manifests/{reference}"),
    )
    .header("content-type", media)
    .body(serde_json::to_vec(m).unwrap())
    .go()
    .await
}

/// Pushes a config, a layer and a manifest tagged `tag`; returns the manifest bytes.
pub(crate) async fn push_image(
    s: &Srv,
    prefix: &str,
    image: &str,
    tag: &str,
    layer: &[u8],
) -> Vec<u8> {
    let config = format!(
        "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"layer\":\"{}\"}}",
        digest(layer)
    );
    push_blob(s, prefix, image, config.as_bytes()).await;
    push_blob(s, prefix, image, layer).await;
    let m = manifest(OCI_MANIFEST, config.as_bytes(), &[layer]);
    let bytes = serde_json::to_vec(&m).unwrap();
    let r = put_manifest(s, prefix, image, tag, &m).await;
    assert_eq!(r.status(), 201, "{}", r.text());
    bytes
}

#[tokio::test]
async fn version_check_and_token_flow() {
    let s = start_with(with_bob).await;
    for api in [false, true] {
        let p = reg(&s, "docker-local", api);
        let base = p
            .rsplit_once("/docker-local")
            .map(|(a, _)| a.to_string())
            .unwrap();
        let ping = if api {
            format!("{p}/")
        } else {
            format!("{base}/")
        };
        let r = s.client.get(&ping).go().await;
        let www = header(r.headers(), "www-authenticate").unwrap().to_string();
        assert!(www.starts_with("Bearer realm=\""), "{www}");
        let (st, v) = errors(r).await;
        assert_eq!((st, code(&v)), (401, "UNAUTHORIZED"));
        let r = admin(&s, Method::GET, &ping).go().await;
        assert_eq!(
            header(r.headers(), "docker-distribution-api-version"),
            Some("registry/2.0")
        );
        assert_eq!((r.status().as_u16(), r.text()), (200, "{}".to_string()));
    }
    // A push without credentials is challenged with the repository's realm and scope.
    let p = reg(&s, "docker-local", false);
    let r = s
        .client
        .post(format!("{p}/team/app/blobs/uploads/"))
        .go()
        .await;
    assert_eq!(
        header(r.headers(), "www-authenticate").unwrap(),
        format!(
            "Bearer realm=\"{}/api/docker/docker-local/v2/token\",service=\"{}\",scope=\"repository:team/app:pull,push\"",
            s.base,
            s.server.addr()
        )
    );
    // The token endpoint takes Basic credentials; its token works as Bearer.
    let r = s
        .client
        .get(format!(
            "{}/api/docker/docker-local/v2/token?scope=repository:team/app:push",
            s.base
        ))
        .basic_auth("admin", Some("password"))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json();
    assert_eq!(v["expires_in"], 3600);
    let token = v["token"].as_str().unwrap().to_string();
    let r = s
        .client
        .post(format!("{p}/team/app/blobs/uploads/"))
        .bearer_auth(&token)
        .go()
        .await;
    assert_eq!(r.status(), 202);
    let r = s
        .client
        .get(format!("{}/api/docker/docker-local/v2/token", s.base))
        .basic_auth("admin", Some("nope"))
        .go()
        .await;
    assert_rest_error(r, 401, "Bad credentials").await;
    // An expired registry token is refused.
    s.clock.advance(3_601_000);
    let r = s
        .client
        .get(format!("{p}/team/app/tags/list"))
        .bearer_auth(&token)
        .go()
        .await;
    let (st, v) = errors(r).await;
    assert_eq!((st, code(&v)), (401, "UNAUTHORIZED"));
    // Readers pull but may not push: DENIED.
    let r = s
        .client
        .post(format!("{p}/team/app/blobs/uploads/"))
        .basic_auth("bob", Some("pw"))
        .go()
        .await;
    let (st, v) = errors(r).await;
    assert_eq!((st, code(&v)), (403, "DENIED"));
}

#[tokio::test]
async fn push_pull_through_both_methods_with_artifactory_layout() {
    let s = start().await;
    for api in [false, true] {
        let p = reg(&s, "docker-local", api);
        let image = if api {
            "api/deep/name"
        } else {
            "path/deep/name"
        };
        let layer = format!("layer of {image}").repeat(100);
        let mbytes = push_image(&s, &p, image, "1.0", layer.as_bytes()).await;
        let md = digest(&mbytes);
        // GET by tag and by digest, HEAD.
        for reference in ["1.0", md.as_str()] {
            let r = admin(
                &s,
                Method::GET,
                &format!("{p}/{image}/manifests/{reference}"),
            )
            .header("accept", format!("{OCI_MANIFEST}, {DOCKER_MANIFEST}"))
            .go()
            .await;
            assert_eq!(r.status(), 200);
            assert_eq!(header(r.headers(), "content-type"), Some(OCI_MANIFEST));
            assert_eq!(
                header(r.headers(), "docker-content-digest"),
                Some(md.as_str())
            );
            assert_eq!(r.bytes().to_vec(), mbytes);
        }
        let r = admin(&s, Method::HEAD, &format!("{p}/{image}/manifests/1.0"))
            .go()
            .await;
        assert_eq!(
            header(r.headers(), "content-length"),
            Some(mbytes.len().to_string().as_str())
        );
        // Accept that lists only Docker types does not get an OCI manifest.
        let r = admin(&s, Method::GET, &format!("{p}/{image}/manifests/1.0"))
            .header("accept", DOCKER_MANIFEST)
            .go()
            .await;
        let (st, v) = errors(r).await;
        assert_eq!((st, code(&v)), (404, "MANIFEST_UNKNOWN"));
        // Blob with Range.
        let ld = digest(layer.as_bytes());
        let r = admin(&s, Method::GET, &format!("{p}/{image}/blobs/{ld}"))
            .header("range", "bytes=0-9")
            .go()
            .await;
        assert_eq!(r.status(), 206);
        assert_eq!(r.bytes().to_vec(), layer.as_bytes()[..10].to_vec());
        // The tag folder, its files and properties through the storage API.
        let info: Value = s
            .get(&format!("api/storage/docker-local/{image}/1.0"))
            .await
            .json();
        let mut children: Vec<String> = info["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["uri"].as_str().unwrap().to_string())
            .collect();
        children.sort();
        let cfg = format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"layer\":\"{ld}\"}}");
        let mut want = vec![
            "/manifest.json".to_string(),
            format!("/sha256__{}", sha256_hex(cfg.as_bytes())),
            format!("/sha256__{}", sha256_hex(layer.as_bytes())),
        ];
        want.sort();
        assert_eq!(children, want);
        let props: Value = s
            .get(&format!(
                "api/storage/docker-local/{image}/1.0/manifest.json?properties"
            ))
            .await
            .json();
        assert_eq!(
            props["properties"],
            json!({
                "artifactory.content-type": [OCI_MANIFEST],
                "docker.manifest": ["1.0"],
                "docker.manifest.digest": [md],
                "docker.manifest.type": [OCI_MANIFEST],
                "docker.repoName": [image],
                "sha256": [sha256_hex(&mbytes)],
            })
        );
        // SHA-1 and MD5 of registry uploads are computed after the push, off the client's path.
        let blob_info = format!(
            "api/storage/docker-local/{image}/1.0/sha256__{}",
            sha256_hex(layer.as_bytes())
        );
        let mut checksums = Value::Null;
        for _ in 0..100 {
            let v: Value = s.get(&blob_info).await.json();
            if v["checksums"]["sha1"] != "" {
                checksums = v["checksums"].clone();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            checksums,
            json!({"sha1": sha1_hex(layer.as_bytes()), "md5": md5_hex(layer.as_bytes()), "sha256": sha256_hex(layer.as_bytes())})
        );
        // The uploads were claimed: nothing left in _uploads.
        let r = s
            .get(&format!(
                "api/storage/docker-local/{image}/_uploads/sha256__{}",
                sha256_hex(layer.as_bytes())
            ))
            .await;
        assert_eq!(r.status(), 404);
    }
    // Tags of both images and the catalog.
    let cat: Value = admin(
        &s,
        Method::GET,
        &format!("{}/_catalog", reg(&s, "docker-local", true)),
    )
    .go()
    .await
    .json();
    assert_eq!(
        cat,
        json!({"repositories": ["api/deep/name", "path/deep/name"]})
    );
    let root: Value = admin(
        &s,
        Method::GET,
        &format!("http://{}/v2/_catalog", s.server.addr()),
    )
    .go()
    .await
    .json();
    assert_eq!(
        root,
        json!({"repositories": ["docker-local/api/deep/name", "docker-local/path/deep/name"]})
    );
}

#[tokio::test]
async fn a_second_tag_shares_blob_content_and_deleting_works_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start_with(|c| c.data_dir = Some(data.clone())).await;
    let p = reg(&s, "docker-local", false);
    let layer = b"shared layer".repeat(1000);
    let m1 = push_image(&s, &p, "app", "1.0", &layer).await;
    let m: Value = serde_json::from_slice(&m1).unwrap();
    let r = put_manifest(&s, &p, "app", "latest", &m).await;
    assert_eq!(r.status(), 201);
    // Content is stored once: config, layer and manifest, whatever the number of tags and files.
    let blobs: usize = std::fs::read_dir(data.join("blobs/sha256"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(blobs, 3);
    let tags: Value = admin(&s, Method::GET, &format!("{p}/app/tags/list"))
        .go()
        .await
        .json();
    assert_eq!(tags, json!({"name": "app", "tags": ["1.0", "latest"]}));
    // Deleting the tag folder through the artifact API removes the tag from the registry.
    let r = s
        .admin(Method::DELETE, "docker-local/app/latest")
        .go()
        .await;
    assert_eq!(r.status(), 204);
    let r = admin(&s, Method::GET, &format!("{p}/app/manifests/latest"))
        .go()
        .await;
    let (st, v) = errors(r).await;
    assert_eq!((st, code(&v)), (404, "MANIFEST_UNKNOWN"));
    assert_eq!(
        v["errors"][0]["message"],
        "The named manifest is not known to the registry."
    );
    // Deleting by digest through the registry removes the folder from the tree.
    let r = admin(
        &s,
        Method::DELETE,
        &format!("{p}/app/manifests/{}", digest(&m1)),
    )
    .go()
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        s.get("api/storage/docker-local/app/1.0").await.status(),
        404
    );
    let r = admin(&s, Method::GET, &format!("{p}/app/tags/list"))
        .go()
        .await;
    let (st, v) = errors(r).await;
    assert_eq!((st, code(&v)), (404, "NAME_UNKNOWN"));
}

#[tokio::test]
async fn chunked_uploads_status_cancel_and_out_of_order() {
    let s = start().await;
    let p = reg(&s, "docker-local", true);
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let r = admin(&s, Method::POST, &format!("{p}/chunky/blobs/uploads/"))
        .go()
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(header(r.headers(), "range"), Some("0-0"));
    let id = header(r.headers(), "docker-upload-uuid")
        .unwrap()
        .to_string();
    let url = format!("{p}/chunky/blobs/uploads/{id}");
    let r = admin(&s, Method::PATCH, &url)
        .header("content-range", "0-99999")
        .body(blob[..100_000].to_vec())
        .go()
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(header(r.headers(), "range"), Some("0-99999"));
    // Out of order: 416, nothing appended.
    let r = admin(&s, Method::PATCH, &url)
        .header("content-range", "200000-299999")
        .body(blob[200_000..].to_vec())
        .go()
        .await;
    assert_eq!(r.status(), 416);
    assert_eq!(header(r.headers(), "range"), Some("0-99999"));
    // A chunk without a length (Transfer-Encoding: chunked).
    let chunk = blob[100_000..200_000].to_vec();
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(chunk)]);
    let r = admin(&s, Method::PATCH, &url)
        .body(reqwest::Body::wrap_stream(stream))
        .go()
        .await;
    assert_eq!(r.status(), 202);
    let r = admin(&s, Method::GET, &url).go().await;
    assert_eq!(
        (r.status().as_u16(), header(r.headers(), "range")),
        (204, Some("0-199999"))
    );
    // The last chunk comes with the PUT; a wrong digest fails and stores nothing.
    let r = admin(
        &s,
        Method::PUT,
        &format!("{url}?digest={}", digest(b"other")),
    )
    .body(blob[200_000..].to_vec())
    .go()
    .await;
    let (st, v) = errors(r).await;
    assert_eq!((st, code(&v)), (400, "DIGEST_INVALID"));
    let r = admin(
        &s,
        Method::HEAD,
        &format!("{p}/chunky/blobs/{}", digest(&blob)),
    )
    .go()
    .await;
    assert_eq!(r.status(), 404);
    // Again, properly.
    let r = admin(&s, Method::POST, &format!("{p}/chunky/blobs/uploads/"))
        .go()
        .await;
    let id = header(r.headers(), "docker-upload-uuid")
        .unwrap()
        .to_string();
    let url = format!("{p}/chunky/blobs/uploads/{id}");
    for (a, b) in [(0usize, 150_000usize), (150_000, 300_000)] {
        let r = admin(&s, Method::PATCH, &url)
            .header("content-range", format!("{a}-{}", b - 1))
            .body(blob[a..b].to_vec())
            .go()
            .await;
        assert_eq!(r.status(), 202);
    }
    let d = digest(&blob);
    let r = admin(&s, Method::PUT, &format!("{url}?digest={d}"))
        .go()
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(r.headers(), "docker-content-digest"),
        Some(d.as_str())
    );
    let got = admin(&s, Method::GET, &format!("{p}/chunky/blobs/{d}"))
        .go()
        .await
        .bytes();
    assert_eq!(got.to_vec(), blob);
    // The finished upload waits in _uploads, visible in the tree.
    assert_eq!(
        s.get(&format!(
            "api/storage/docker-local/chunky/_uploads/sha256__{}",
            sha256_hex(&blob)
        ))
        .await
        .status(),
        200
    );
    // Cancel.
    let r = admin(&s, Method::POST, &format!("{p}/chunky/blobs/uploads/"))
        .go()
        .await;
    let id = header(r.headers(), "docker-upload-uuid")
        .unwrap()
        .to_string();
    let url = format!("{p}/chunky/blobs/uploads/{id}");
    assert_eq!(admin(&s, Method::DELETE, &url).go().await.status(), 204);
    let (st, v) = errors(admin(&s, Method::GET, &url).go().await).await;
    assert_eq!((st, code(&v)), (404, "BLOB_UPLOAD_UNKNOWN"));
    // POST with the digest and the body: one request.
    let small = b"monolithic in the POST";
    let r = admin(
        &s,
        Method::POST,
        &format!("{p}/chunky/blobs/uploads/?digest={}", digest(small)),
    )
    .body(small.to_vec())
    .go()
    .await;
    assert_eq!(r.status(), 201);
    // sha512 digests.
    let d512 = {
        use sha2::Digest as _;
        format!("sha512:{}", hex::encode(sha2::Sha512::digest(small)))
    };
    let r = admin(
        &s,
        Method::POST,
        &format!("{p}/chunky/blobs/uploads/?digest={d512}"),
    )
    .body(small.to_vec())
    .go()
    .await;
    assert_eq!(r.status(), 201);
    let got = admin(&s, Method::GET, &format!("{p}/chunky/blobs/{d512}"))
        .go()
        .await;
    assert_eq!(
        header(got.headers(), "docker-content-digest"),
        Some(d512.as_str())
    );
    assert_eq!(got.bytes().to_vec(), small.to_vec());
}

#[tokio::test]
async fn mounts_lists_indexes_and_referrers() {
    let s = start_with(|c| {
        c.repositories.push(jcr_reference::RepoConfig::new(
            "docker-prod",
            jcr_reference::RepoClass::Local,
            jcr_reference::PackageType::Docker,
        ))
    })
    .await;
    let p = reg(&s, "docker-local", false);
    let layer = b"mount me".repeat(500);
    push_blob(&s, &p, "src/img", &layer).await;
    // Cross-repository mount with the repository-path method: `from` names <repo>/<image>.
    let prod = reg(&s, "docker-prod", false);
    let r = admin(
        &s,
        Method::POST,
        &format!(
            "{prod}/dst/img/blobs/uploads/?mount={}&from=docker-local/src/img",
            digest(&layer)
        ),
    )
    .go()
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(r.headers(), "location"),
        Some(format!("/v2/docker-prod/dst/img/blobs/{}", digest(&layer)).as_str())
    );
    // Unknown mount source: a normal upload session instead.
    let r = admin(
        &s,
        Method::POST,
        &format!(
            "{prod}/dst/img/blobs/uploads/?mount={}&from=docker-local/nope",
            digest(b"x")
        ),
    )
    .go()
    .await;
    assert_eq!(r.status(), 202);
    // Two platform manifests by digest, then an index over them, tagged.
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let cfg = format!("{{\"architecture\":\"{arch}\"}}");
        push_blob(&s, &p, "multi", cfg.as_bytes()).await;
        push_blob(&s, &p, "multi", &layer).await;
        let m = manifest(OCI_MANIFEST, cfg.as_bytes(), &[&layer]);
        let bytes = serde_json::to_vec(&m).unwrap();
        let r = put_manifest(&s, &p, "multi", &digest(&bytes), &m).await;
        assert_eq!(r.status(), 201);
        children.push(json!({"mediaType": OCI_MANIFEST, "digest": digest(&bytes), "size": bytes.len(), "platform": {"os": "linux", "architecture": arch}}));
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children});
    let r = put_manifest(&s, &p, "multi", "v1", &index).await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        s.get("api/storage/docker-local/multi/v1/list.manifest.json")
            .await
            .status(),
        200
    );
    let r = admin(&s, Method::GET, &format!("{p}/multi/manifests/v1"))
        .header("accept", OCI_INDEX)
        .go()
        .await;
    assert_eq!(header(r.headers(), "content-type"), Some(OCI_INDEX));
    // An index naming a manifest the registry lacks.
    let bad = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest(b"none"), "size": 4}]});
    let (st, v) = errors(put_manifest(&s, &p, "multi", "v2", &bad).await).await;
    assert_eq!((st, code(&v)), (400, "MANIFEST_BLOB_UNKNOWN"));
    // Referrers: an artifact manifest whose subject is the first platform manifest.
    let subject = children[0]["digest"].as_str().unwrap().to_string();
    let empty_cfg = b"{}";
    push_blob(&s, &p, "multi", empty_cfg).await;
    let sig = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": digest(empty_cfg)},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": digest(empty_cfg)}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1},
        "annotations": {"who": "ci"}
    });
    let sbytes = serde_json::to_vec(&sig).unwrap();
    let r = put_manifest(&s, &p, "multi", &digest(&sbytes), &sig).await;
    assert_eq!(r.status(), 201);
    assert_eq!(header(r.headers(), "oci-subject"), Some(subject.as_str()));
    let r = admin(&s, Method::GET, &format!("{p}/multi/referrers/{subject}"))
        .go()
        .await;
    assert_eq!(header(r.headers(), "content-type"), Some(OCI_INDEX));
    let v: Value = r.json();
    assert_eq!(
        v,
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": digest(&sbytes), "size": sbytes.len(),
            "artifactType": "application/vnd.example.sig", "annotations": {"who": "ci"}}]})
    );
    let r = admin(
        &s,
        Method::GET,
        &format!("{p}/multi/referrers/{subject}?artifactType=application/other"),
    )
    .go()
    .await;
    assert_eq!(
        header(r.headers(), "oci-filters-applied"),
        Some("artifactType")
    );
    assert_eq!(r.json::<Value>()["manifests"], json!([]));
}

#[tokio::test]
async fn tags_and_catalog_paginate_with_link_headers() {
    let s = start().await;
    let p = reg(&s, "docker-local", true);
    let layer = b"tiny".to_vec();
    let m: Value = serde_json::from_slice(&push_image(&s, &p, "pages", "a", &layer).await).unwrap();
    for t in ["b", "c", "d"] {
        assert_eq!(put_manifest(&s, &p, "pages", t, &m).await.status(), 201);
    }
    let r = admin(&s, Method::GET, &format!("{p}/pages/tags/list?n=2"))
        .go()
        .await;
    assert_eq!(
        header(r.headers(), "link"),
        Some(
            format!(
                "<{}/api/docker/docker-local/v2/pages/tags/list?n=2&last=b>; rel=\"next\"",
                s.server
                    .url()
                    .trim_start_matches(&format!("http://{}", s.server.addr()))
            )
            .as_str()
        )
    );
    assert_eq!(
        r.json::<Value>(),
        json!({"name": "pages", "tags": ["a", "b"]})
    );
    let r = admin(&s, Method::GET, &format!("{p}/pages/tags/list?n=2&last=b"))
        .go()
        .await;
    assert!(header(r.headers(), "link").is_none());
    assert_eq!(r.json::<Value>()["tags"], json!(["c", "d"]));
    let r = admin(&s, Method::GET, &format!("{p}/_catalog?n=1"))
        .go()
        .await;
    assert_eq!(
        r.json::<serde_json::Value>(),
        json!({"repositories": ["pages"]})
    );
}

#[tokio::test]
async fn bad_input_gets_registry_errors_and_stores_nothing() {
    let s = start().await;
    let p = reg(&s, "docker-local", false);
    let layer = b"present".to_vec();
    push_blob(&s, &p, "ok", &layer).await;
    let missing = manifest(OCI_MANIFEST, b"absent config", &[&layer]);
    let cases: Vec<(String, Method, Vec<u8>, u16, &str)> = vec![
        (
            format!("{p}/ok/manifests/t1"),
            Method::PUT,
            serde_json::to_vec(&missing).unwrap(),
            400,
            "MANIFEST_BLOB_UNKNOWN",
        ),
        (
            format!("{p}/ok/manifests/t1"),
            Method::PUT,
            b"{not json".to_vec(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            format!("{p}/ok/manifests/t1"),
            Method::PUT,
            br#"{"schemaVersion":1,"name":"x"}"#.to_vec(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            format!("{p}/ok/manifests/{}", digest(b"x")),
            Method::PUT,
            serde_json::to_vec(&manifest(OCI_MANIFEST, &layer, &[])).unwrap(),
            400,
            "DIGEST_INVALID",
        ),
        (
            format!("{p}/ok/manifests/bad..tag:x"),
            Method::PUT,
            b"{}".to_vec(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            format!("{p}/ok/manifests/t1"),
            Method::PUT,
            vec![b' '; 5 << 20],
            413,
            "SIZE_INVALID",
        ),
        (
            format!("{p}/Bad_Name/manifests/t1"),
            Method::GET,
            vec![],
            400,
            "NAME_INVALID",
        ),
        (
            format!("{p}/ok/blobs/sha256:abc"),
            Method::GET,
            vec![],
            400,
            "DIGEST_INVALID",
        ),
        (
            format!("{p}/ok/blobs/{}", digest(b"nope")),
            Method::GET,
            vec![],
            404,
            "BLOB_UNKNOWN",
        ),
        (
            format!("{p}/ok/blobs/uploads/not-a-session"),
            Method::PATCH,
            b"x".to_vec(),
            404,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            format!("{p}/ok/manifests/nope"),
            Method::GET,
            vec![],
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            format!("{}/ok/blobs/uploads/", reg(&s, "generic-local", false)),
            Method::POST,
            vec![],
            404,
            "NAME_UNKNOWN",
        ),
        (
            format!("{}/ok/blobs/uploads/", reg(&s, "no-such-repo", true)),
            Method::POST,
            vec![],
            404,
            "NAME_UNKNOWN",
        ),
    ];
    for (url, m, body, status, c) in cases {
        let r = admin(&s, m.clone(), &url)
            .header("content-type", OCI_MANIFEST)
            .body(body)
            .go()
            .await;
        let (st, v) = errors(r).await;
        assert_eq!((st, code(&v)), (status, c), "{m} {url}: {v}");
    }
    // A wrong digest on a monolithic upload stores nothing.
    let r = admin(
        &s,
        Method::POST,
        &format!("{p}/ok/blobs/uploads/?digest={}", digest(b"claimed")),
    )
    .body(b"actual".to_vec())
    .go()
    .await;
    let (st, v) = errors(r).await;
    assert_eq!((st, code(&v)), (400, "DIGEST_INVALID"));
    let r = admin(
        &s,
        Method::HEAD,
        &format!("{p}/ok/blobs/{}", digest(b"actual")),
    )
    .go()
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(s.get("api/storage/docker-local/ok/t1").await.status(), 404);
    // The API-path method with the repository in the wrong place.
    let r = admin(
        &s,
        Method::GET,
        &format!("{}/api/docker/v2/docker-local/ok/tags/list", s.base),
    )
    .go()
    .await;
    assert_rest_error(r, 400, "Unsupported docker repository request for 'v2'").await;
}

#[tokio::test]
async fn promote_copies_and_moves_and_bintray_is_gone() {
    let s = start_with(|c| {
        c.repositories.push(jcr_reference::RepoConfig::new(
            "docker-prod",
            jcr_reference::RepoClass::Local,
            jcr_reference::PackageType::Docker,
        ))
    })
    .await;
    let p = reg(&s, "docker-local", true);
    let m = push_image(&s, &p, "svc", "1.0", b"promote me").await;
    let promote = |body: Value| {
        s.admin(Method::POST, "api/docker/docker-local/v2/promote")
            .json(&body)
            .go()
    };
    let r = promote(json!({"targetRepo": "docker-prod", "dockerRepository": "svc", "tag": "1.0", "targetTag": "stable", "copy": true})).await;
    assert_eq!(r.status(), 200);
    let prod = reg(&s, "docker-prod", true);
    let r = admin(&s, Method::GET, &format!("{prod}/svc/manifests/stable"))
        .go()
        .await;
    assert_eq!(r.bytes().to_vec(), m);
    let props: Value = s
        .get("api/storage/docker-prod/svc/stable/manifest.json?properties")
        .await
        .json();
    assert_eq!(props["properties"]["docker.manifest"], json!(["stable"]));
    // Move the whole image under a new name.
    let r = promote(json!({"targetRepo": "docker-prod", "dockerRepository": "svc", "targetDockerRepository": "team/svc"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(s.get("api/storage/docker-local/svc").await.status(), 404);
    let tags: Value = admin(&s, Method::GET, &format!("{prod}/team/svc/tags/list"))
        .go()
        .await
        .json();
    assert_eq!(tags["tags"], json!(["1.0"]));
    // Promoting onto an image that already has one of the tags is a conflict, not a merge.
    push_image(&s, &p, "svc2", "1.0", b"other image").await;
    let r = promote(json!({"targetRepo": "docker-prod", "dockerRepository": "svc2", "targetDockerRepository": "team/svc"})).await;
    assert_rest_error(
        r,
        409,
        "Target tag 'team/svc:1.0' already exists in docker-prod",
    )
    .await;
    let r = promote(json!({"targetRepo": "docker-prod"})).await;
    assert_rest_error(r, 400, "dockerRepository is required").await;
    let r = promote(json!({"targetRepo": "generic-local", "dockerRepository": "x"})).await;
    assert_rest_error(
        r,
        400,
        "Repository generic-local is not a local Docker repository",
    )
    .await;
    let r = s
        .admin(Method::POST, "api/bintray/docker/push/docker-local")
        .json(&json!({"dockerImage": "svc:1.0"}))
        .go()
        .await;
    assert_rest_error(r, 410, "Bintray was discontinued on 2021-05-01; pushing Docker tags to Bintray is no longer possible").await;
}

#[tokio::test]
async fn abandoned_uploads_are_removed_after_a_day() {
    let s = start().await;
    let p = reg(&s, "docker-local", false);
    push_blob(&s, &p, "stale", b"never claimed").await;
    let r = admin(&s, Method::POST, &format!("{p}/stale/blobs/uploads/"))
        .go()
        .await;
    let url = format!(
        "http://{}{}",
        s.server.addr(),
        header(r.headers(), "location").unwrap()
    );
    admin(&s, Method::PATCH, &url)
        .body(b"half".to_vec())
        .go()
        .await;
    s.clock.advance(25 * 3600 * 1000);
    // Any new upload runs the cleanup (the background task does it every ten minutes).
    admin(&s, Method::POST, &format!("{p}/other/blobs/uploads/"))
        .go()
        .await;
    let (st, v) = errors(admin(&s, Method::GET, &url).go().await).await;
    assert_eq!((st, code(&v)), (404, "BLOB_UPLOAD_UNKNOWN"));
    let path = format!(
        "api/storage/docker-local/stale/_uploads/sha256__{}",
        sha256_hex(b"never claimed")
    );
    assert_eq!(s.get(&path).await.status(), 404);
}

#[tokio::test]
async fn anonymous_pulls_go_through_an_anonymous_token() {
    let s = start_with(|c| c.anonymous_access = true).await;
    let p = reg(&s, "docker-local", false);
    push_image(&s, &p, "public", "1", b"open layer").await;
    // The version check still challenges, so clients learn the realm...
    let r = s
        .client
        .get(format!("http://{}/v2/", s.server.addr()))
        .go()
        .await;
    assert_eq!(r.status(), 401);
    // ...and the realm hands out an anonymous token without credentials.
    let t: Value = s
        .client
        .get(format!("{}/api/docker/docker-local/v2/token", s.base))
        .go()
        .await
        .json();
    let token = t["token"].as_str().unwrap().to_string();
    let r = s
        .client
        .get(format!("{p}/public/manifests/1"))
        .bearer_auth(&token)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s.client.get(format!("{p}/public/tags/list")).go().await;
    assert_eq!(r.status(), 200, "anonymous reads work without a token too");
    let r = s
        .client
        .post(format!("{p}/public/blobs/uploads/"))
        .bearer_auth(&token)
        .go()
        .await;
    let (st, v) = errors(r).await;
    assert_eq!((st, code(&v)), (401, "UNAUTHORIZED"));
}

#[tokio::test]
async fn review_regressions_escalation_mounts_tags_and_ranges() {
    let s = start_with(|c| {
        c.users.push(user("dev", Some(&[])));
        c.repositories.push(jcr_reference::RepoConfig::new(
            "secret-docker",
            jcr_reference::RepoClass::Local,
            jcr_reference::PackageType::Docker,
        ));
        let mut t = target("dev", "docker-local", "**", &[("dev", "rwn")]);
        t.excludes_pattern = "img/internal/**".into();
        c.permissions.push(t);
    })
    .await;
    let p = reg(&s, "docker-local", false);
    let dev = |m: Method, url: &str| s.client.request(m, url).basic_auth("dev", Some("dev-pw"));
    // A readers-only access token of the admin cannot get a registry token (it would act as admin).
    let r = s
        .admin(Method::POST, "api/security/token")
        .form(&[("username", "admin"), ("scope", "member-of-groups:readers")])
        .go()
        .await;
    let narrow = r.json::<Value>()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .client
        .get(format!("{}/api/docker/docker-local/v2/token", s.base))
        .bearer_auth(&narrow)
        .go()
        .await;
    assert_eq!(r.status(), 403);
    // A mount from a repository the caller cannot read (or from its root) does not mount.
    let secret = b"secret layer".to_vec();
    push_blob(&s, &reg(&s, "secret-docker", false), "hidden", &secret).await;
    for from in ["secret-docker/hidden", "secret-docker/"] {
        let r = dev(
            Method::POST,
            &format!(
                "{p}/img/blobs/uploads/?mount={}&from={from}",
                digest(&secret)
            ),
        )
        .go()
        .await;
        assert_eq!(r.status(), 202, "{from}");
    }
    assert_eq!(
        dev(Method::HEAD, &format!("{p}/img/blobs/{}", digest(&secret)))
            .go()
            .await
            .status(),
        404
    );
    // `_uploads` and digest-folder names are not tags.
    let m = push_image(&s, &p, "img", "1.0", b"img layer").await;
    let mv: Value = serde_json::from_slice(&m).unwrap();
    for bad in ["_uploads", &format!("sha256__{}", "a".repeat(64))] {
        let (st, v) = errors(put_manifest(&s, &p, "img", bad, &mv).await).await;
        assert_eq!((st, code(&v)), (400, "MANIFEST_INVALID"), "{bad}");
    }
    // The same manifest pushed again needs no delete permission.
    let r = dev(Method::PUT, &format!("{p}/img/manifests/1.0"))
        .header("content-type", OCI_MANIFEST)
        .body(m.clone())
        .go()
        .await;
    assert_eq!(r.status(), 201);
    // An excluded tag is neither listed nor served to dev.
    assert_eq!(
        put_manifest(&s, &p, "img", "internal", &mv).await.status(),
        201
    );
    let tags: Value = dev(Method::GET, &format!("{p}/img/tags/list"))
        .go()
        .await
        .json();
    assert_eq!(tags["tags"], json!(["1.0"]));
    let (st, v) = errors(
        dev(Method::GET, &format!("{p}/img/manifests/internal"))
            .go()
            .await,
    )
    .await;
    assert_eq!((st, code(&v)), (403, "DENIED"));
    // A nested image's tag cannot be reached through its parent's name.
    push_image(&s, &p, "img/sub", "latest", b"nested layer").await;
    let (st, v) = errors(
        admin(
            &s,
            Method::DELETE,
            &format!("{p}/img/manifests/sub%2Flatest"),
        )
        .go()
        .await,
    )
    .await;
    assert_eq!((st, code(&v)), (404, "MANIFEST_UNKNOWN"));
    assert_eq!(
        admin(&s, Method::GET, &format!("{p}/img/sub/manifests/latest"))
            .go()
            .await
            .status(),
        200
    );
    // A Content-Range at the end of the number line is refused, not a crash.
    let r = admin(&s, Method::POST, &format!("{p}/img/blobs/uploads/"))
        .go()
        .await;
    let url = format!(
        "http://{}{}",
        s.server.addr(),
        header(r.headers(), "location").unwrap()
    );
    let r = admin(&s, Method::PATCH, &url)
        .header("content-range", "0-18446744073709551615")
        .body(b"x".to_vec())
        .go()
        .await;
    let (st, v) = errors(r).await;
    assert_eq!((st, code(&v)), (400, "SIZE_INVALID"));
}
