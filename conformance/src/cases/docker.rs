//! The Docker / OCI registry through Artifactory's API-path method (`/api/docker/<repo>/v2`): the
//! challenge and token, uploads, manifests, tags, catalog, referrers, promote and errors. Images are
//! named under the run prefix in the Docker repository of the run (`--docker-repo`) and removed at
//! teardown. Expectations: the OCI distribution specification, behaviour §13 and the API document.

use serde_json::{json, Value};
use sha2::Digest as _;

use crate::case::{Case, CaseFuture, Created, Ctx, Response};
use crate::{check, Failure};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("docker/registry/challenge-and-token", challenge)
            .covers(["docker.v2.version", "docker.v2.token"])
            .spec("behaviour §13.1, §13.2; Docker Registry HTTP API v2 (API version check)"),
        Case::new("docker/registry/push-pull-delete", push_pull)
            .covers(["docker.v2.upload-start", "docker.v2.upload-chunk", "docker.v2.upload-finish", "docker.v2.upload-status", "docker.v2.upload-cancel", "docker.v2.blob", "docker.v2.manifest-put", "docker.v2.manifest-get", "docker.v2.manifest-delete", "docker.tags", "docker.catalog"])
            .writes()
            .spec("OCI distribution spec (push, pull, delete); behaviour §13.3, §13.4; jcr-rest-api.txt List Docker Tags/Repositories"),
        Case::new("docker/registry/errors", errors)
            .covers(["docker.v2.manifest-put", "docker.v2.manifest-get", "docker.v2.upload-finish"])
            .writes()
            .spec("OCI distribution spec (error codes); behaviour §13.1, §13.4"),
        Case::new("docker/registry/blob-delete", blob_delete)
            .covers(["docker.v2.blob-delete", "docker.v2.blob"])
            .writes()
            .spec("OCI distribution spec (deleting blobs: 202 Accepted, then 404 BLOB_UNKNOWN; 405 UNSUPPORTED where deletes are off)"),
        Case::new("docker/registry/referrers", referrers)
            .covers(["docker.v2.referrers", "docker.v2.manifest-put"])
            .writes()
            .spec("OCI distribution spec 1.1 (subject, referrers API)"),
        Case::new("docker/promote/copy-tag", promote)
            .covers(["docker.promote"])
            .writes()
            .spec("jcr-rest-api.txt Promote Docker Image; behaviour §13.5"),
        Case::new("docker/bintray/push-refused", bintray)
            .covers(["artifacts.bintray-docker-push"])
            .spec("jcr-rest-api.txt Push Docker Tag to Bintray (Bintray was discontinued in 2021)"),
    ]
}

pub(super) fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn reg(c: &Ctx) -> String {
    format!("api/docker/{}/v2", c.docker_repo)
}

/// An image name under the run prefix (registry names are lower case).
pub(super) fn image(c: &Ctx, what: &str) -> String {
    format!("{}/{what}", c.prefix.to_lowercase())
}

fn code(r: &Response) -> String {
    r.json()
        .ok()
        .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn expect_code(r: &Response, status: u16, want: &str) -> Result<(), Failure> {
    r.expect_status(status)?;
    check!(
        code(r) == want,
        "expected the registry error {want}, got {}",
        r.text()
    );
    Ok(())
}

/// The Docker repository must exist; otherwise the case is skipped.
pub(super) async fn ready(c: &Ctx) -> Result<(), Failure> {
    let r = c
        .send(c.req("GET", &format!("api/repositories/{}", c.docker_repo)))
        .await?;
    if r.status != 200 {
        return Err(Failure::Skip(format!(
            "no Docker repository '{}' on the target (--docker-repo)",
            c.docker_repo
        )));
    }
    c.created(Created::Item(format!(
        "{}/{}",
        c.docker_repo,
        c.prefix.to_lowercase()
    )));
    Ok(())
}

/// Monolithic upload: POST, then PUT with the body.
async fn push_blob(c: &Ctx, name: &str, bytes: &[u8]) -> Result<String, Failure> {
    let d = digest(bytes);
    let r = c
        .send(c.req("POST", &format!("{}/{name}/blobs/uploads/", reg(c))))
        .await?;
    r.expect_status(202)?;
    let loc = r
        .header("location")
        .ok_or_else(|| Failure::Fail("no Location on 202".into()))?
        .to_string();
    let r = c
        .send(c.req_url("PUT", &absolute(c, &loc, &d)).body(bytes))
        .await?;
    r.expect_status(201)?;
    check!(
        r.header("docker-content-digest") == Some(d.as_str()),
        "Docker-Content-Digest: {:?}",
        r.header("docker-content-digest")
    );
    Ok(d)
}

/// The upload URL from a Location header (relative or absolute) with `?digest=` appended.
fn absolute(c: &Ctx, loc: &str, d: &str) -> String {
    let base = if loc.starts_with("http") {
        loc.to_string()
    } else {
        format!("{}{loc}", c.root())
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}digest={d}")
}

fn manifest(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": digest(config)},
        "layers": layers.iter().map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": l.len(), "digest": digest(l)})).collect::<Vec<_>>(),
    }))
    .unwrap_or_default()
}

async fn put_manifest(
    c: &Ctx,
    name: &str,
    reference: &str,
    body: &[u8],
) -> Result<Response, Failure> {
    c.send(
        c.req("PUT", &format!("{}/{name}/manifests/{reference}", reg(c)))
            .header("Content-Type", OCI_MANIFEST)
            .body(body),
    )
    .await
}

/// An uploaded blob no manifest references is deleted: 202, then it is unknown; deleting it again,
/// or one that never existed, is a 404 `BLOB_UNKNOWN`.
fn blob_delete(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        ready(&c).await?;
        let name = image(&c, "loose");
        let d = push_blob(&c, &name, b"a blob no manifest names").await?;
        let url = format!("{}/{name}/blobs/{d}", reg(&c));
        let r = c.send(c.req("DELETE", &url)).await?;
        if r.status == 405 && code(&r) == "UNSUPPORTED" {
            return Err(Failure::Skip("the target does not delete blobs".into()));
        }
        r.expect_status(202)?;
        c.snap("docker.v2.blob-delete", &r)?;
        let r = c.send(c.req("GET", &url)).await?;
        expect_code(&r, 404, "BLOB_UNKNOWN")?;
        c.snap("docker.v2.blob", &r)?;
        let r = c.send(c.req("DELETE", &url)).await?;
        expect_code(&r, 404, "BLOB_UNKNOWN")?;
        c.snap("docker.v2.blob-delete", &r)?;
        let never = format!("{}/{name}/blobs/{}", reg(&c), digest(b"never pushed"));
        expect_code(&c.send(c.req("DELETE", &never)).await?, 404, "BLOB_UNKNOWN")
    })
}

fn challenge(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c
            .send(c.req("GET", &format!("{}/", reg(&c))).anonymous())
            .await?;
        r.expect_status(401)?;
        c.snap("docker.v2.version", &r)?;
        check!(
            r.header("docker-distribution-api-version") == Some("registry/2.0"),
            "Docker-Distribution-Api-Version: {:?}",
            r.header("docker-distribution-api-version")
        );
        let www = r.header("www-authenticate").unwrap_or("").to_string();
        check!(www.starts_with("Bearer realm=\""), "challenge: {www}");
        check!(code(&r) == "UNAUTHORIZED", "body: {}", r.text());
        let Some(user) = c.credentials.user() else {
            return Err(Failure::Skip(
                "the token endpoint needs Basic credentials".into(),
            ));
        };
        let _ = user;
        let r = c.send(c.req("GET", &format!("{}/token", reg(&c)))).await?;
        r.expect_status(200)?;
        c.snap("docker.v2.token", &r)?;
        let v = r.json()?;
        let token = v["token"].as_str().unwrap_or("").to_string();
        check!(
            !token.is_empty() && v["expires_in"].is_number(),
            "token reply: {v}"
        );
        let r = c
            .send(c.req("GET", &format!("{}/", reg(&c))).bearer(&token))
            .await?;
        r.expect_status(200)?;
        c.snap("docker.v2.version", &r)?;
        check!(r.json()? == json!({}), "version check body: {}", r.text());
        Ok(())
    })
}

fn push_pull(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        ready(&c).await?;
        let name = image(&c, "app");
        let config = br#"{"architecture":"amd64","os":"linux"}"#;
        let layer = b"conformance layer".repeat(64);
        push_blob(&c, &name, config).await?;
        push_blob(&c, &name, &layer).await?;
        // A chunked upload: POST, PATCH with Content-Range, status, PUT.
        let chunked: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        let r = c
            .send(c.req("POST", &format!("{}/{name}/blobs/uploads/", reg(&c))))
            .await?;
        r.expect_status(202)?;
        c.snap("docker.v2.upload-start", &r)?;
        let uuid = r.header("docker-upload-uuid").unwrap_or("").to_string();
        let up = format!("{}/{name}/blobs/uploads/{uuid}", reg(&c));
        let r = c
            .send(
                c.req("PATCH", &up)
                    .header("Content-Range", "0-29999")
                    .header("Content-Type", "application/octet-stream")
                    .body(&chunked[..30_000]),
            )
            .await?;
        r.expect_status(202)?;
        c.snap("docker.v2.upload-chunk", &r)?;
        check!(
            r.header("range") == Some("0-29999"),
            "Range after a chunk: {:?}",
            r.header("range")
        );
        let r = c.send(c.req("GET", &up)).await?;
        r.expect_status(204)?;
        c.snap("docker.v2.upload-status", &r)?;
        check!(
            r.header("range") == Some("0-29999"),
            "upload status Range: {:?}",
            r.header("range")
        );
        let r = c
            .send(
                c.req("PUT", &format!("{up}?digest={}", digest(&chunked)))
                    .body(&chunked[30_000..]),
            )
            .await?;
        r.expect_status(201)?;
        c.snap("docker.v2.upload-finish", &r)?;
        // A cancelled session is gone.
        let r = c
            .send(c.req("POST", &format!("{}/{name}/blobs/uploads/", reg(&c))))
            .await?;
        let gone = format!(
            "{}/{name}/blobs/uploads/{}",
            reg(&c),
            r.header("docker-upload-uuid").unwrap_or("")
        );
        let r = c.send(c.req("DELETE", &gone)).await?;
        r.expect_status(204)?;
        c.snap("docker.v2.upload-cancel", &r)?;
        let r = c.send(c.req("GET", &gone)).await?;
        expect_code(&r, 404, "BLOB_UPLOAD_UNKNOWN")?;
        c.snap("docker.v2.upload-status", &r)?;
        // The manifest, by tag.
        let m = manifest(config, &[&layer, &chunked]);
        let md = digest(&m);
        let r = put_manifest(&c, &name, "1.0", &m).await?;
        r.expect_status(201)?;
        c.snap("docker.v2.manifest-put", &r)?;
        check!(
            r.header("docker-content-digest") == Some(md.as_str()),
            "digest of the push"
        );
        for reference in ["1.0", md.as_str()] {
            let r = c
                .send(
                    c.req("GET", &format!("{}/{name}/manifests/{reference}", reg(&c)))
                        .header("Accept", OCI_MANIFEST),
                )
                .await?;
            r.expect_status(200)?;
            r.expect_content_type(OCI_MANIFEST)?;
            if reference == "1.0" {
                c.snap("docker.v2.manifest-get", &r)?;
            }
            check!(r.body == m, "GET {reference} returned other bytes");
            check!(
                r.header("docker-content-digest") == Some(md.as_str()),
                "Docker-Content-Digest of {reference}"
            );
        }
        let r = c
            .send(c.req(
                "GET",
                &format!("{}/{name}/blobs/{}", reg(&c), digest(&chunked)),
            ))
            .await?;
        r.expect_status(200)?;
        c.snap("docker.v2.blob", &r)?;
        check!(r.body == chunked, "the chunked blob came back different");
        let r = c
            .send(c.req("GET", &format!("{}/{name}/tags/list", reg(&c))))
            .await?;
        r.expect_status(200)?;
        c.snap("docker.tags", &r)?;
        check!(
            r.json()? == json!({"name": name, "tags": ["1.0"]}),
            "tags: {}",
            r.text()
        );
        let r = c
            .send(c.req("GET", &format!("{}/_catalog", reg(&c))))
            .await?;
        r.expect_status(200)?;
        let mut shown = r.json()?;
        if let Some(a) = shown["repositories"].as_array_mut() {
            a.retain(|x| x == &json!(name));
        }
        c.snap_body("docker.catalog", None, &r, &shown)?;
        check!(
            r.json()?["repositories"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(name))),
            "the catalog lacks {name}: {}",
            r.text()
        );
        // Artifactory's layout: <image>/<tag>/manifest.json with the docker.* properties.
        let r = c
            .send(c.req(
                "GET",
                &format!(
                    "api/storage/{}/{name}/1.0/manifest.json?properties",
                    c.docker_repo
                ),
            ))
            .await?;
        r.expect_status(200)?;
        let props = r.json()?["properties"].clone();
        for (k, v) in [
            ("docker.manifest", json!(["1.0"])),
            ("docker.repoName", json!([name])),
            ("docker.manifest.digest", json!([md])),
            ("docker.manifest.type", json!([OCI_MANIFEST])),
        ] {
            check!(props[k] == v, "property {k}: {}", props[k]);
        }
        let r = c
            .send(c.req("DELETE", &format!("{}/{name}/manifests/{md}", reg(&c))))
            .await?;
        r.expect_status(202)?;
        c.snap("docker.v2.manifest-delete", &r)?;
        let r = c
            .send(c.req("GET", &format!("{}/{name}/manifests/1.0", reg(&c))))
            .await?;
        expect_code(&r, 404, "MANIFEST_UNKNOWN")?;
        c.snap("docker.v2.manifest-get", &r)?;
        check!(
            r.json()?["errors"][0]["message"] == "The named manifest is not known to the registry.",
            "MANIFEST_UNKNOWN message: {}",
            r.text()
        );
        Ok(())
    })
}

fn errors(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        ready(&c).await?;
        let name = image(&c, "errors");
        let layer = b"present".to_vec();
        push_blob(&c, &name, &layer).await?;
        let missing = manifest(b"absent config", &[&layer]);
        let r = put_manifest(&c, &name, "t", &missing).await?;
        expect_code(&r, 400, "MANIFEST_BLOB_UNKNOWN")?;
        c.snap("docker.v2.manifest-put", &r)?;
        expect_code(
            &put_manifest(&c, &name, "t", b"{not json").await?,
            400,
            "MANIFEST_INVALID",
        )?;
        let r = c
            .send(c.req("GET", &format!("{}/Not_Valid/manifests/t", reg(&c))))
            .await?;
        expect_code(&r, 400, "NAME_INVALID")?;
        let r = c
            .send(c.req("POST", &format!("{}/{name}/blobs/uploads/", reg(&c))))
            .await?;
        let loc = r.header("location").unwrap_or("").to_string();
        let r = c
            .send(
                c.req_url("PUT", &absolute(&c, &loc, &digest(b"claimed")))
                    .body(b"actual"),
            )
            .await?;
        expect_code(&r, 400, "DIGEST_INVALID")?;
        c.snap("docker.v2.upload-finish", &r)?;
        let r = c
            .send(c.req(
                "HEAD",
                &format!("{}/{name}/blobs/{}", reg(&c), digest(b"actual")),
            ))
            .await?;
        check!(
            r.status == 404,
            "a refused upload must store nothing, HEAD gave {}",
            r.status
        );
        // The repository key after v2 is the documented mistake.
        let r = c
            .send(c.req(
                "GET",
                &format!("api/docker/v2/{}/{name}/tags/list", c.docker_repo),
            ))
            .await?;
        r.expect_rest_error(400, "Unsupported docker repository request for 'v2'")
    })
}

fn referrers(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        ready(&c).await?;
        let name = image(&c, "signed");
        let config = br#"{"architecture":"arm64"}"#;
        let layer = b"subject layer".to_vec();
        push_blob(&c, &name, config).await?;
        push_blob(&c, &name, &layer).await?;
        let subject = manifest(config, &[&layer]);
        put_manifest(&c, &name, "1", &subject)
            .await?
            .expect_status(201)?;
        let empty = b"{}";
        push_blob(&c, &name, empty).await?;
        let sig = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": digest(empty)},
            "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": digest(empty)}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": digest(&subject), "size": subject.len()}
        }))
        .unwrap_or_default();
        let r = put_manifest(&c, &name, &digest(&sig), &sig).await?;
        r.expect_status(201)?;
        check!(
            r.header("oci-subject") == Some(digest(&subject).as_str()),
            "OCI-Subject: {:?}",
            r.header("oci-subject")
        );
        let r = c
            .send(c.req(
                "GET",
                &format!("{}/{name}/referrers/{}", reg(&c), digest(&subject)),
            ))
            .await?;
        r.expect_status(200)?;
        r.expect_content_type(OCI_INDEX)?;
        c.snap("docker.v2.referrers", &r)?;
        let v: Value = r.json()?;
        check!(
            v["manifests"]
                == json!([{"mediaType": OCI_MANIFEST, "digest": digest(&sig), "size": sig.len(), "artifactType": "application/vnd.example.sig"}]),
            "referrers: {v}"
        );
        let r = c
            .send(c.req(
                "GET",
                &format!(
                    "{}/{name}/referrers/{}?artifactType=application/other",
                    reg(&c),
                    digest(&subject)
                ),
            ))
            .await?;
        check!(
            r.json()?["manifests"] == json!([]),
            "filtered referrers: {}",
            r.text()
        );
        check!(
            r.header("oci-filters-applied") == Some("artifactType"),
            "OCI-Filters-Applied"
        );
        Ok(())
    })
}

fn promote(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        ready(&c).await?;
        let name = image(&c, "promo");
        let config = br#"{"os":"linux"}"#;
        let layer = b"promoted layer".to_vec();
        push_blob(&c, &name, config).await?;
        push_blob(&c, &name, &layer).await?;
        let m = manifest(config, &[&layer]);
        put_manifest(&c, &name, "1.0", &m)
            .await?
            .expect_status(201)?;
        let target = image(&c, "promoted");
        let r = c
            .send(c.req("POST", &format!("{}/promote", reg(&c))).json(&json!({
                "targetRepo": c.docker_repo,
                "dockerRepository": name,
                "targetDockerRepository": target,
                "tag": "1.0",
                "targetTag": "stable",
                "copy": true
            })))
            .await?;
        r.expect_status(200)?;
        c.snap("docker.promote", &r)?;
        let r = c
            .send(
                c.req("GET", &format!("{}/{target}/manifests/stable", reg(&c)))
                    .header("Accept", OCI_MANIFEST),
            )
            .await?;
        r.expect_status(200)?;
        check!(r.body == m, "the promoted manifest differs");
        let r = c
            .send(
                c.req("GET", &format!("{}/{name}/manifests/1.0", reg(&c)))
                    .header("Accept", OCI_MANIFEST),
            )
            .await?;
        check!(
            r.status == 200,
            "copy must keep the source, got {}",
            r.status
        );
        Ok(())
    })
}

fn bintray(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c
            .send(
                c.req(
                    "POST",
                    &format!("api/bintray/docker/push/{}", c.docker_repo),
                )
                .json(&json!({"dockerImage": "jfrog/ubuntu:latest"})),
            )
            .await?;
        // Bintray no longer exists: whatever the server says, it must not claim success.
        check!(
            r.status >= 400,
            "a push to Bintray cannot succeed, got {}",
            r.status
        );
        r.expect_content_type("application/json")?;
        c.snap("artifacts.bintray-docker-push", &r)?;
        let v = r.json()?;
        check!(
            v["errors"][0]["status"] == json!(r.status),
            "error shape: {v}"
        );
        Ok(())
    })
}
