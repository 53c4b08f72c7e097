//! What a manifest `GET`/`HEAD` answers for each `Accept` a client may send: every line of a
//! repeated header counts (containers/image sends one line per media type), the distribution
//! registry's negotiation (see FIDELITY), the digest in the algorithm asked for; and the upload and
//! referrers rules the distribution specification makes MUSTs.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::docker::{
    admin, code, digest, errors, push_blob, put_manifest, reg, DOCKER_MANIFEST, OCI_INDEX,
    OCI_MANIFEST,
};

const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The `Accept` lines skopeo, podman and buildah (containers/image) send, one per type.
const CONTAINERS_IMAGE: [&str; 6] = [
    OCI_MANIFEST,
    DOCKER_MANIFEST,
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
    DOCKER_LIST,
    OCI_INDEX,
];

/// An image manifest of `kind` (Docker schema 2 or OCI) for `arch`, its config and layer pushed.
async fn image(s: &Srv, p: &str, name: &str, kind: &str, arch: &str) -> Value {
    let (config_type, layer_type) = if kind == DOCKER_MANIFEST {
        (
            DOCKER_CONFIG,
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        )
    } else {
        (OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar+gzip")
    };
    let config = format!("{{\"architecture\":\"{arch}\",\"os\":\"linux\",\"rootfs\":{{}}}}");
    let layer = format!("layer of {name} for {arch}").repeat(50);
    push_blob(s, p, name, config.as_bytes()).await;
    push_blob(s, p, name, layer.as_bytes()).await;
    json!({
        "schemaVersion": 2,
        "mediaType": kind,
        "config": {"mediaType": config_type, "size": config.len(), "digest": digest(config.as_bytes())},
        "layers": [{"mediaType": layer_type, "size": layer.len(), "digest": digest(layer.as_bytes())}],
    })
}

/// Pushes `m` by `reference`; returns its bytes' digest.
async fn push(s: &Srv, p: &str, name: &str, reference: &str, m: &Value) -> String {
    let r = put_manifest(s, p, name, reference, m).await;
    assert_eq!(r.status(), 201, "{}", r.text());
    digest(&serde_json::to_vec(m).unwrap())
}

/// A manifest list or OCI index of `kind` over one image per architecture in `arches`, tagged
/// `tag`; returns its digest and each member's.
async fn list(
    s: &Srv,
    p: &str,
    name: &str,
    kind: &str,
    tag: &str,
    arches: &[&str],
) -> (String, Vec<String>) {
    let member = if kind == DOCKER_LIST {
        DOCKER_MANIFEST
    } else {
        OCI_MANIFEST
    };
    let mut entries = Vec::new();
    let mut members = Vec::new();
    for arch in arches {
        let m = image(s, p, name, member, arch).await;
        let bytes = serde_json::to_vec(&m).unwrap();
        let d = push(s, p, name, &digest(&bytes), &m).await;
        entries.push(
            json!({"mediaType": member, "size": bytes.len(), "digest": d,
            "platform": {"architecture": arch, "os": "linux"}}),
        );
        members.push(d);
    }
    let l = json!({"schemaVersion": 2, "mediaType": kind, "manifests": entries});
    (push(s, p, name, tag, &l).await, members)
}

/// `GET` or `HEAD` of a manifest with these `Accept` lines (none when empty).
async fn fetch(s: &Srv, method: Method, url: &str, accept: &[&str]) -> Answer {
    let mut rq = admin(s, method, url);
    for a in accept {
        rq = rq.header("accept", *a);
    }
    rq.go().await
}

/// Asserts a `200` serving the manifest `digest` of type `media_type` (body for `GET`, none for
/// `HEAD`, the same headers for both).
fn served(r: &Answer, method: &Method, media_type: &str, digest: &str, what: &str) {
    assert_eq!(r.status(), 200, "{what}: {}", r.text());
    assert_eq!(
        header(r.headers(), "content-type"),
        Some(media_type),
        "{what}"
    );
    assert_eq!(
        header(r.headers(), "docker-content-digest"),
        Some(digest),
        "{what}"
    );
    assert_eq!(
        header(r.headers(), "etag"),
        Some(format!("\"{digest}\"").as_str()),
        "{what}"
    );
    let length: usize = header(r.headers(), "content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no Content-Length"));
    if *method == Method::GET {
        assert_eq!(r.bytes().len(), length, "{what}");
        assert_eq!(crate::docker::digest(&r.bytes()), digest, "{what}");
    } else {
        assert!(r.bytes().is_empty(), "{what}");
    }
}

#[tokio::test]
async fn every_accept_line_counts_for_every_manifest_endpoint() {
    let s = start().await;
    for api in [false, true] {
        let p = reg(&s, "docker-local", api);
        let m = image(&s, &p, "lines", DOCKER_MANIFEST, "amd64").await;
        let s2 = push(&s, &p, "lines", "s2", &m).await;
        let m = image(&s, &p, "lines", OCI_MANIFEST, "amd64").await;
        let oci = push(&s, &p, "lines", "oci", &m).await;
        let (dl, _) = list(&s, &p, "lines", DOCKER_LIST, "list", &["amd64", "arm64"]).await;
        let (ix, _) = list(&s, &p, "lines", OCI_INDEX, "index", &["amd64", "arm64"]).await;
        let kinds = [
            ("s2", s2, DOCKER_MANIFEST),
            ("oci", oci, OCI_MANIFEST),
            ("list", dl, DOCKER_LIST),
            ("index", ix, OCI_INDEX),
        ];
        for (tag, d, media_type) in &kinds {
            for reference in [tag.to_string(), d.clone()] {
                for method in [Method::GET, Method::HEAD] {
                    let url = format!("{p}/lines/manifests/{reference}");
                    let what = format!("{method} {url} with one Accept line per type");
                    let r = fetch(&s, method.clone(), &url, &CONTAINERS_IMAGE).await;
                    served(&r, &method, media_type, d, &what);
                    // The stored type on the last of several lines, after one with two types.
                    let lines = ["text/plain, application/vnd.example+json", media_type];
                    let r = fetch(&s, method.clone(), &url, &lines).await;
                    served(&r, &method, media_type, d, &format!("{what} (last line)"));
                }
            }
        }
    }
}

#[tokio::test]
async fn negotiation_follows_the_distribution_registry() {
    let s = start().await;
    let p = reg(&s, "docker-local", false);
    let m = image(&s, &p, "neg", DOCKER_MANIFEST, "amd64").await;
    let s2 = push(&s, &p, "neg", "s2", &m).await;
    let m = image(&s, &p, "neg", OCI_MANIFEST, "amd64").await;
    let oci = push(&s, &p, "neg", "oci", &m).await;
    let (dl, dl_members) = list(&s, &p, "neg", DOCKER_LIST, "list", &["arm64", "amd64"]).await;
    let (ix, ix_members) = list(&s, &p, "neg", OCI_INDEX, "index", &["amd64", "arm64"]).await;
    let (_, _) = list(&s, &p, "neg", OCI_INDEX, "arm-only", &["arm64"]).await;
    let url = |r: &str| format!("{p}/neg/manifests/{r}");
    let schema1 = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    let get = Method::GET;

    // Schema 2 is served to every client, also one that lists only schema 1 (no conversion).
    for accept in [&[schema1][..], &[OCI_MANIFEST], &[]] {
        let r = fetch(&s, get.clone(), &url("s2"), accept).await;
        served(
            &r,
            &get,
            DOCKER_MANIFEST,
            &s2,
            &format!("schema 2 for {accept:?}"),
        );
    }
    // What is stored, for no Accept, `*/*`, `application/*` and plain JSON clients.
    for accept in ["", "*/*", "application/*", "application/json"] {
        let r = fetch(&s, get.clone(), &url("oci"), &[accept]).await;
        served(&r, &get, OCI_MANIFEST, &oci, &format!("OCI for '{accept}'"));
        let r = fetch(&s, get.clone(), &url("index"), &[accept]).await;
        served(&r, &get, OCI_INDEX, &ix, &format!("index for '{accept}'"));
    }
    // An OCI manifest must be listed; `q=0` refuses a type.
    for accept in [
        &[DOCKER_MANIFEST][..],
        &[schema1, DOCKER_LIST],
        &[
            "application/vnd.oci.image.manifest.v1+json; q=0",
            DOCKER_MANIFEST,
        ],
    ] {
        for method in [Method::GET, Method::HEAD] {
            let r = fetch(&s, method.clone(), &url("oci"), accept).await;
            let what = format!("{method} OCI for {accept:?}");
            if method == Method::HEAD {
                assert_eq!(r.status(), 404, "{what}");
                assert!(r.bytes().is_empty(), "{what}");
                continue;
            }
            let (status, v) = errors(r).await;
            assert_eq!((status, code(&v)), (404, "MANIFEST_UNKNOWN"), "{what}");
            assert_eq!(
                v["errors"][0]["message"],
                "OCI manifest found, but accept header does not support OCI manifests",
                "{what}"
            );
        }
    }
    // A list or index asked for by tag by a client that does not accept it: its linux/amd64 image.
    let r = fetch(&s, get.clone(), &url("list"), &[DOCKER_MANIFEST]).await;
    served(
        &r,
        &get,
        DOCKER_MANIFEST,
        &dl_members[1],
        "amd64 of the list",
    );
    let r = fetch(&s, Method::HEAD, &url("index"), &[OCI_MANIFEST, schema1]).await;
    served(
        &r,
        &Method::HEAD,
        OCI_MANIFEST,
        &ix_members[0],
        "amd64 of the index",
    );
    // ... but the image must itself be acceptable, and there must be one.
    let (status, v) = errors(fetch(&s, get.clone(), &url("index"), &[DOCKER_MANIFEST]).await).await;
    assert_eq!((status, code(&v)), (404, "MANIFEST_UNKNOWN"));
    assert_eq!(
        v["errors"][0]["message"],
        "OCI manifest found, but accept header does not support OCI manifests"
    );
    let (status, v) = errors(fetch(&s, get.clone(), &url("arm-only"), &[OCI_MANIFEST]).await).await;
    assert_eq!((status, code(&v)), (404, "MANIFEST_UNKNOWN"));
    assert_eq!(
        v["errors"][0]["message"],
        format!(
            "The tag is a {OCI_INDEX}, which the request's Accept header does not list, and it \
             has no linux/amd64 image to answer instead."
        )
    );
    // By digest nothing else can be answered: the bytes must match the digest.
    for (d, message) in [
        (
            &dl,
            "Manifest list found, but accept header does not support manifest lists",
        ),
        (
            &ix,
            "OCI index found, but accept header does not support OCI indexes",
        ),
    ] {
        let (status, v) =
            errors(fetch(&s, get.clone(), &url(d), &[DOCKER_MANIFEST, OCI_MANIFEST]).await).await;
        assert_eq!((status, code(&v)), (404, "MANIFEST_UNKNOWN"), "{d}");
        assert_eq!(v["errors"][0]["message"], message);
        assert_eq!(v["errors"][0]["detail"], json!({"manifest": "neg"}));
    }
}

#[tokio::test]
async fn the_digest_answered_is_in_the_algorithm_asked_for() {
    let s = start().await;
    let p = reg(&s, "docker-local", true);
    let m = image(&s, &p, "algo", OCI_MANIFEST, "amd64").await;
    let bytes = serde_json::to_vec(&m).unwrap();
    let d512 = {
        use sha2::Digest as _;
        format!("sha512:{}", hex::encode(sha2::Sha512::digest(&bytes)))
    };
    // First pushed by its sha512 digest, then the same bytes by tag.
    push(&s, &p, "algo", &d512, &m).await;
    let d256 = digest(&bytes);
    for (reference, want) in [(&d512, &d512), (&d256, &d256)] {
        for method in [Method::GET, Method::HEAD] {
            let url = format!("{p}/algo/manifests/{reference}");
            let r = fetch(&s, method.clone(), &url, &[OCI_MANIFEST]).await;
            assert_eq!(r.status(), 200, "{method} {reference}");
            assert_eq!(
                header(r.headers(), "docker-content-digest"),
                Some(want.as_str()),
                "{method} {reference}"
            );
        }
    }
    let r = put_manifest(&s, &p, "algo", "t", &m).await;
    assert_eq!(
        header(r.headers(), "docker-content-digest"),
        Some(d256.as_str())
    );
    let r = fetch(
        &s,
        Method::GET,
        &format!("{p}/algo/manifests/t"),
        &[OCI_MANIFEST],
    )
    .await;
    served(&r, &Method::GET, OCI_MANIFEST, &d256, "by tag");
}

#[tokio::test]
async fn a_last_chunk_out_of_order_is_416_and_the_upload_goes_on() {
    let s = start().await;
    let p = reg(&s, "docker-local", false);
    let blob: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
    let r = admin(&s, Method::POST, &format!("{p}/ooo/blobs/uploads/"))
        .go()
        .await;
    assert_eq!(r.status(), 202);
    let loc = header(r.headers(), "location").unwrap().to_string();
    let url = format!("http://{}{loc}", s.server.addr());
    let r = admin(&s, Method::PATCH, &url)
        .header("content-range", "0-3999")
        .body(blob[..4000].to_vec())
        .go()
        .await;
    assert_eq!(r.status(), 202);
    let d = digest(&blob);
    // The last chunk claims to start past (and before) what was received.
    for range in ["5000-9999", "3000-9999"] {
        let r = admin(&s, Method::PUT, &format!("{url}?digest={d}"))
            .header("content-range", range)
            .body(blob[4000..].to_vec())
            .go()
            .await;
        assert_eq!(r.status(), 416, "{range}: {}", r.text());
        assert_eq!(header(r.headers(), "range"), Some("0-3999"), "{range}");
        assert_eq!(
            header(r.headers(), "location"),
            Some(loc.as_str()),
            "{range}"
        );
        let (_, v) = errors(r).await;
        assert_eq!(code(&v), "BLOB_UPLOAD_INVALID");
    }
    // A last chunk shorter than its range is refused too, and the session still stands.
    let r = admin(&s, Method::PUT, &format!("{url}?digest={d}"))
        .header("content-range", "4000-9999")
        .body(blob[4000..9000].to_vec())
        .go()
        .await;
    let (status, v) = errors(r).await;
    assert_eq!((status, code(&v)), (400, "SIZE_INVALID"));
    let r = admin(&s, Method::GET, &url).go().await;
    assert_eq!(
        (r.status().as_u16(), header(r.headers(), "range")),
        (204, Some("0-3999"))
    );
    assert_eq!(
        admin(&s, Method::GET, &format!("{p}/ooo/blobs/{d}"))
            .go()
            .await
            .status(),
        404
    );
    // The right last chunk finishes it.
    let r = admin(&s, Method::PUT, &format!("{url}?digest={d}"))
        .header("content-range", "4000-9999")
        .body(blob[4000..].to_vec())
        .go()
        .await;
    assert_eq!(r.status(), 201, "{}", r.text());
    let r = admin(&s, Method::GET, &format!("{p}/ooo/blobs/{d}"))
        .go()
        .await;
    assert_eq!(r.bytes().to_vec(), blob);
}

#[tokio::test]
async fn referrers_filter_image_manifests_by_their_config_media_type() {
    let s = start().await;
    let p = reg(&s, "docker-local", false);
    let m = image(&s, &p, "refs", OCI_MANIFEST, "amd64").await;
    let subject = push(&s, &p, "refs", "v1", &m).await;
    let subject_size = serde_json::to_vec(&m).unwrap().len();
    let sbom_type = "application/vnd.example.sbom.v1+json";
    let empty = b"{}";
    push_blob(&s, &p, "refs", empty).await;
    let blob = b"signature bytes";
    push_blob(&s, &p, "refs", blob).await;
    let referrer = |config_type: &str, artifact_type: Option<&str>| {
        let mut m = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config_type, "size": 2, "digest": digest(empty)},
            "layers": [{"mediaType": "application/octet-stream", "size": blob.len(), "digest": digest(blob)}],
            "subject": {"mediaType": OCI_MANIFEST, "size": subject_size, "digest": subject},
            "annotations": {"org.example.kind": config_type},
        });
        if let Some(t) = artifact_type {
            m["artifactType"] = json!(t);
        }
        m
    };
    // One with an artifactType, one known only by its config's media type (a plain image config).
    let a = referrer("application/vnd.oci.empty.v1+json", Some(sbom_type));
    let a_digest = push(
        &s,
        &p,
        "refs",
        &digest(&serde_json::to_vec(&a).unwrap()),
        &a,
    )
    .await;
    let b = referrer(OCI_CONFIG, None);
    let b_digest = push(
        &s,
        &p,
        "refs",
        &digest(&serde_json::to_vec(&b).unwrap()),
        &b,
    )
    .await;
    let url = format!("{p}/refs/referrers/{subject}");
    let r = admin(&s, Method::GET, &url).go().await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "oci-filters-applied"), None);
    let all: Value = r.json();
    let mut types: Vec<(String, String)> = all["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["digest"].as_str().unwrap().into(),
                m["artifactType"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    types.sort();
    let mut want = vec![
        (a_digest.clone(), sbom_type.to_string()),
        (b_digest.clone(), OCI_CONFIG.to_string()),
    ];
    want.sort();
    assert_eq!(types, want);
    for (filter, digest) in [(sbom_type, &a_digest), (OCI_CONFIG, &b_digest)] {
        let r = admin(
            &s,
            Method::GET,
            &format!("{url}?artifactType={}", filter.replace('+', "%2B")),
        )
        .go()
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            header(r.headers(), "oci-filters-applied"),
            Some("artifactType")
        );
        let v: Value = r.json();
        let ms = v["manifests"].as_array().unwrap();
        assert_eq!(ms.len(), 1, "{filter}: {v}");
        assert_eq!(ms[0]["digest"], json!(digest));
        assert_eq!(ms[0]["artifactType"], json!(filter));
        assert!(ms[0]["annotations"]["org.example.kind"].is_string());
    }
}
