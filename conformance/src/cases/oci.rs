//! The OCI distribution specification's requirements (its MUST lines, v1.1) for pull, push
//! (monolithic, chunked, streamed, out of order, cancelled), cross-repository mounts, tag listing
//! with `n`/`last`, deletes, referrers with `artifactType`, and `sha512` digests; checked against
//! any registry: the target's Docker repository by default, or the one `--registry` names
//! (`http://host:5000/v2` for a plain registry, `<root>/v2/<repo>` for JCR's repository-path
//! method). A feature the registry answers `UNSUPPORTED` for is a Skip, never a Fail.
//!
//! Registries that answer `401` with a Bearer challenge get the run's credentials at the realm and
//! the request is sent again with the token, as a registry client does.

use std::sync::Mutex;

use serde_json::{json, Value};
use sha2::Digest as _;

use super::docker::{digest, image, ready};
use crate::case::{split_list, Case, CaseFuture, Created, Ctx, Request, Response};
use crate::{check, Failure};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

pub fn cases() -> Vec<Case> {
    let case = |id: &'static str, f: fn(Ctx) -> CaseFuture, covers: &'static [&'static str]| {
        Case::new(id, f).covers(covers.iter().copied()).writes()
    };
    vec![
        case("docker/oci/pull", pull, &["docker.v2.manifest-get", "docker.v2.blob"])
            .spec("OCI distribution spec v1.1, Pull (manifests by tag and digest, GET and HEAD, every Accept line; blobs; 404 codes)"),
        case("docker/oci/push-monolithic", push_monolithic, &["docker.v2.upload-start", "docker.v2.upload-finish"])
            .spec("OCI distribution spec v1.1, Push: POST then PUT, single POST, digest mismatch"),
        case("docker/oci/push-chunked", push_chunked, &["docker.v2.upload-chunk", "docker.v2.upload-status", "docker.v2.upload-finish"])
            .spec("OCI distribution spec v1.1, Push: chunked upload, out-of-order chunks are 416 (also the closing PUT), upload status"),
        case("docker/oci/push-streamed", push_streamed, &["docker.v2.upload-chunk", "docker.v2.upload-finish"])
            .spec("OCI distribution spec v1.1, Push: a PATCH without Content-Range, then PUT without a body"),
        case("docker/oci/cancel", cancel, &["docker.v2.upload-cancel", "docker.v2.upload-status"])
            .spec("OCI distribution spec v1.1, Push: DELETE of an upload session, then 404 BLOB_UPLOAD_UNKNOWN"),
        case("docker/oci/mount", mount, &["docker.v2.upload-start", "docker.v2.blob"])
            .spec("OCI distribution spec v1.1, Mounting a blob from another repository (201, or 202 to upload instead)"),
        case("docker/oci/tags", tags, &["docker.tags"])
            .spec("OCI distribution spec v1.1, Listing tags: lexical order, n and last, Link rel=\"next\""),
        case("docker/oci/delete", delete, &["docker.v2.manifest-delete", "docker.v2.blob-delete"])
            .spec("OCI distribution spec v1.1, Deleting manifests, tags and blobs (202, then 404; 400/405 where unsupported)"),
        case("docker/oci/referrers", referrers, &["docker.v2.referrers", "docker.v2.manifest-put"])
            .spec("OCI distribution spec v1.1, Listing referrers: artifactType, else the config's media type; the filter; OCI-Filters-Applied; 200 for any digest"),
        case("docker/oci/sha512", sha512, &["docker.v2.upload-start", "docker.v2.manifest-put", "docker.v2.manifest-get"])
            .spec("OCI distribution spec v1.1, Pushing and pulling by sha512 digests; Docker-Content-Digest in the algorithm asked for"),
    ]
}

/// The registry a case talks to, with the Bearer token it was given (if it asked for one).
struct Registry<'a> {
    c: &'a Ctx,
    url: String,
    token: Mutex<Option<String>>,
}

impl<'a> Registry<'a> {
    /// Ready for a case: the target's Docker repository must exist when the registry is its own.
    async fn open(c: &'a Ctx) -> Result<Registry<'a>, Failure> {
        if !c.registry_given {
            ready(c).await?;
        }
        Ok(Registry {
            c,
            url: c.registry.clone(),
            token: Mutex::new(None),
        })
    }

    /// The repository name as the registry knows it: `name` under whatever the URL puts after
    /// `/v2/` (JCR's repository-path method: `<repo>/<name>`). A mount's `from` names it so.
    fn full_name(&self, name: &str) -> String {
        match self.url.rsplit_once("/v2/") {
            Some((_, prefix)) if !prefix.is_empty() => format!("{prefix}/{name}"),
            _ => name.to_string(),
        }
    }

    fn at(&self, name: &str, rest: &str) -> String {
        format!("{}/{name}/{rest}", self.url)
    }

    /// `scheme://host[:port]` of the registry, which relative `Location`s are resolved against.
    fn origin(&self) -> &str {
        let after_scheme = self.url.find("://").map_or(0, |i| i + 3);
        match self.url[after_scheme..].find('/') {
            Some(i) => &self.url[..after_scheme + i],
            None => &self.url,
        }
    }

    fn req(&self, method: &str, url: &str) -> Request {
        self.c.req_url(method, url)
    }

    /// Sends with the run's credentials, or with the token a Bearer challenge led to.
    async fn send(&self, rq: Request) -> Result<Response, Failure> {
        let token = self.token.lock().expect("token").clone();
        if let Some(t) = token {
            return self.c.send(rq.bearer(&t)).await;
        }
        let r = self.c.send(rq.clone()).await?;
        let www = r.header("www-authenticate").unwrap_or("");
        if r.status != 401 || !www.to_ascii_lowercase().starts_with("bearer ") {
            return Ok(r);
        }
        let t = self.token_for(&www[7..]).await?;
        *self.token.lock().expect("token") = Some(t.clone());
        self.c.send(rq.bearer(&t)).await
    }

    /// A token from the challenge's realm for its service and scope (and push, pull, delete).
    async fn token_for(&self, challenge: &str) -> Result<String, Failure> {
        let mut realm = String::new();
        let mut query = Vec::new();
        for item in split_list(challenge) {
            let Some((k, v)) = item.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "realm" => realm = v,
                "service" => query.push(format!("service={}", enc(&v))),
                "scope" => {
                    let image = v.split(':').nth(1).unwrap_or("").to_string();
                    query.push(format!(
                        "scope={}",
                        enc(&format!("repository:{image}:pull,push,delete"))
                    ));
                }
                _ => {}
            }
        }
        check!(
            !realm.is_empty(),
            "a Bearer challenge without a realm: {challenge}"
        );
        let sep = if realm.contains('?') { '&' } else { '?' };
        let r = self
            .c
            .send(
                self.c
                    .req_url("GET", &format!("{realm}{sep}{}", query.join("&"))),
            )
            .await?;
        r.expect_status(200)?;
        let v = r.json()?;
        v["token"]
            .as_str()
            .or(v["access_token"].as_str())
            .map(str::to_string)
            .ok_or_else(|| Failure::Fail(format!("token reply without a token: {v}")))
    }

    /// A `Location` made absolute.
    fn absolute(&self, loc: &str) -> String {
        if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_string()
        } else {
            format!("{}{loc}", self.origin())
        }
    }

    /// The `Location` of an answer, absolute (a `202` or `201` without one is a failure).
    fn location(&self, r: &Response) -> Result<String, Failure> {
        r.header("location")
            .map(|l| self.absolute(l))
            .ok_or_else(|| Failure::Fail(format!("no Location on a {}", r.status)))
    }

    /// Sends a chunk: a `PATCH`, or the closing `PUT` when `url` carries the digest.
    async fn chunk(
        &self,
        method: &str,
        url: &str,
        range: Option<&str>,
        body: &[u8],
    ) -> Result<Response, Failure> {
        let mut rq = self
            .req(method, url)
            .header("Content-Type", "application/octet-stream");
        if let Some(r) = range {
            rq = rq.header("Content-Range", r);
        }
        self.send(rq.body(body)).await
    }

    /// Fails unless blob `d` of `name` comes back as `bytes`.
    async fn expect_blob(
        &self,
        name: &str,
        d: &str,
        bytes: &[u8],
        what: &str,
    ) -> Result<(), Failure> {
        let r = self
            .send(self.req("GET", &self.at(name, &format!("blobs/{d}"))))
            .await?;
        r.expect_status(200)?;
        check!(r.body == bytes, "{what} came back different");
        Ok(())
    }

    /// Starts an upload session: `202` with a `Location`.
    async fn start(&self, name: &str) -> Result<String, Failure> {
        let r = self
            .send(self.req("POST", &self.at(name, "blobs/uploads/")))
            .await?;
        r.expect_status(202)?;
        self.location(&r)
    }

    /// Pushes a blob (POST, then PUT with the body); returns its digest.
    async fn blob(&self, name: &str, bytes: &[u8]) -> Result<String, Failure> {
        let d = digest(bytes);
        let loc = self.start(name).await?;
        let r = self
            .send(
                self.req("PUT", &with_digest(&loc, &d))
                    .header("Content-Type", "application/octet-stream")
                    .body(bytes),
            )
            .await?;
        r.expect_status(201)?;
        self.location(&r)?;
        Ok(d)
    }

    /// Pushes a manifest by `reference`; returns the answer (and records it for teardown).
    async fn manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Result<Response, Failure> {
        let url = self.at(name, &format!("manifests/{reference}"));
        let r = self
            .send(
                self.req("PUT", &url)
                    .header("Content-Type", media_type)
                    .body(body),
            )
            .await?;
        if r.status == 201 && self.c.registry_given {
            self.c.created(Created::Url(
                self.at(name, &format!("manifests/{}", digest(body))),
            ));
        }
        Ok(r)
    }

    /// An image with one layer, its blobs pushed; returns the manifest's bytes.
    async fn image(&self, name: &str, kind: &str, seed: &str) -> Result<Vec<u8>, Failure> {
        let config = format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"seed\":\"{seed}\"}}");
        let layer = format!("a layer of {seed} ").repeat(100);
        self.blob(name, config.as_bytes()).await?;
        self.blob(name, layer.as_bytes()).await?;
        let (config_type, layer_type) = if kind == DOCKER_MANIFEST {
            (
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        } else {
            (OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar")
        };
        Ok(to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": kind,
            "config": {"mediaType": config_type, "size": config.len(), "digest": digest(config.as_bytes())},
            "layers": [{"mediaType": layer_type, "size": layer.len(), "digest": digest(layer.as_bytes())}],
        })))
    }

    /// An image pushed under `tag`; returns the manifest's bytes.
    async fn tagged(&self, name: &str, kind: &str, tag: &str) -> Result<Vec<u8>, Failure> {
        let m = self.image(name, kind, tag).await?;
        let r = self.manifest(name, tag, kind, &m).await?;
        r.expect_status(201)?;
        check!(
            r.header("docker-content-digest")
                .is_none_or(|d| d == digest(&m)),
            "Docker-Content-Digest of the push: {:?}",
            r.header("docker-content-digest")
        );
        Ok(m)
    }
}

fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn with_digest(loc: &str, d: &str) -> String {
    let sep = if loc.contains('?') { '&' } else { '?' };
    format!("{loc}{sep}digest={d}")
}

fn code(r: &Response) -> String {
    r.json()
        .ok()
        .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A `Skip` when the registry says it does not do this.
fn unsupported(r: &Response, what: &str) -> Result<(), Failure> {
    if code(r) == "UNSUPPORTED" || (r.status == 405 && what.starts_with("delet")) {
        return Err(Failure::Skip(format!(
            "the registry does not support {what} ({}: {})",
            r.status,
            r.text()
        )));
    }
    Ok(())
}

/// Fails unless the upload's `Range` says `0-<last>` arrived.
fn expect_range(r: &Response, want: &str, what: &str) -> Result<(), Failure> {
    check!(
        r.header("range") == Some(want),
        "{what}: Range {:?}, expected {want}",
        r.header("range")
    );
    Ok(())
}

/// Fails unless `r` is the registry error `want` with `status` (a HEAD has no body to check).
fn expect_code(r: &Response, status: u16, want: &str) -> Result<(), Failure> {
    r.expect_status(status)?;
    if !r.body.is_empty() || want.is_empty() {
        check!(
            code(r) == want,
            "expected the registry error {want}, got {}",
            r.text()
        );
    }
    Ok(())
}

/// Fails unless a manifest answer serves `body` as `media_type` with its digest and length.
fn expect_manifest(
    r: &Response,
    head: bool,
    media_type: &str,
    body: &[u8],
    what: &str,
) -> Result<(), Failure> {
    check!(
        r.status == 200,
        "{what}: status {} ({})",
        r.status,
        r.text()
    );
    let d = digest(body);
    check!(
        r.header("docker-content-digest") == Some(d.as_str()),
        "{what}: Docker-Content-Digest {:?}, the manifest is {d}",
        r.header("docker-content-digest")
    );
    r.expect_content_type(media_type)?;
    check!(
        r.header("content-length") == Some(body.len().to_string().as_str()),
        "{what}: Content-Length {:?}, the manifest has {} bytes",
        r.header("content-length"),
        body.len()
    );
    if head {
        check!(r.body.is_empty(), "{what}: a HEAD answer has a body");
    } else {
        check!(r.body == body, "{what}: other bytes than were pushed");
    }
    Ok(())
}

fn pull(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let g = Registry::open(&c).await?;
        let name = image(&c, "oci/pull");
        for (tag, kind) in [("oci", OCI_MANIFEST), ("schema2", DOCKER_MANIFEST)] {
            let m = g.tagged(&name, kind, tag).await?;
            let d = digest(&m);
            for reference in [tag, d.as_str()] {
                for method in ["GET", "HEAD"] {
                    let url = g.at(&name, &format!("manifests/{reference}"));
                    // One Accept line per media type, as containers/image sends them: every line counts.
                    let mut rq = g.req(method, &url);
                    for t in [
                        OCI_INDEX,
                        "application/vnd.docker.distribution.manifest.list.v2+json",
                        OCI_MANIFEST,
                        DOCKER_MANIFEST,
                    ] {
                        rq = rq.header("Accept", t);
                    }
                    let r = g.send(rq).await?;
                    expect_manifest(
                        &r,
                        method == "HEAD",
                        kind,
                        &m,
                        &format!("{method} {reference} ({kind})"),
                    )?;
                    // The type asked for on the last of several lines.
                    let rq = g
                        .req(method, &url)
                        .header("Accept", "text/plain, application/vnd.example+json")
                        .header("Accept", kind);
                    let r = g.send(rq).await?;
                    expect_manifest(
                        &r,
                        method == "HEAD",
                        kind,
                        &m,
                        &format!("{method} {reference} ({kind} on the second Accept line)"),
                    )?;
                }
            }
        }
        // Blobs: HEAD tells the size and digest, GET the bytes.
        let layer = b"a pulled blob".repeat(40);
        let d = g.blob(&name, &layer).await?;
        let r = g
            .send(g.req("HEAD", &g.at(&name, &format!("blobs/{d}"))))
            .await?;
        r.expect_status(200)?;
        check!(
            r.header("content-length") == Some(layer.len().to_string().as_str()),
            "HEAD blob Content-Length {:?}",
            r.header("content-length")
        );
        check!(
            r.header("docker-content-digest").is_none_or(|x| x == d),
            "HEAD blob Docker-Content-Digest {:?}",
            r.header("docker-content-digest")
        );
        check!(r.body.is_empty(), "a HEAD answer has a body");
        let r = g
            .send(g.req("GET", &g.at(&name, &format!("blobs/{d}"))))
            .await?;
        r.expect_status(200)?;
        check!(r.body == layer, "GET blob returned other bytes");
        // What is not there: 404 with the spec's codes.
        let r = g
            .send(
                g.req("GET", &g.at(&name, "manifests/no-such-tag"))
                    .header("Accept", OCI_MANIFEST),
            )
            .await?;
        expect_code(&r, 404, "MANIFEST_UNKNOWN")?;
        let r = g
            .send(g.req(
                "GET",
                &g.at(&name, &format!("blobs/{}", digest(b"never pushed"))),
            ))
            .await?;
        expect_code(&r, 404, "BLOB_UNKNOWN")?;
        let r = g
            .send(g.req(
                "HEAD",
                &g.at(&name, &format!("blobs/{}", digest(b"never pushed"))),
            ))
            .await?;
        r.expect_status(404)?;
        Ok(())
    })
}

fn push_monolithic(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let g = Registry::open(&c).await?;
        let name = image(&c, "oci/monolithic");
        // POST then PUT: 201 with a Location, and the blob is there.
        let bytes = b"pushed in one PUT".repeat(30);
        let d = g.blob(&name, &bytes).await?;
        let r = g
            .send(g.req("HEAD", &g.at(&name, &format!("blobs/{d}"))))
            .await?;
        r.expect_status(200)?;
        // A single POST with the digest: 201, or 202 to go on with a session (both allowed).
        let one = b"pushed in one POST".repeat(30);
        let d1 = digest(&one);
        let url = format!("{}?digest={d1}", g.at(&name, "blobs/uploads/"));
        let r = g
            .send(
                g.req("POST", &url)
                    .header("Content-Type", "application/octet-stream")
                    .body(&one),
            )
            .await?;
        match r.status {
            201 => {
                let loc = g.location(&r)?;
                check!(
                    loc.ends_with(&format!("/blobs/{d1}")),
                    "the Location of a single POST names the blob: {loc}"
                );
                g.expect_blob(&name, &d1, &one, "the single-POST blob")
                    .await?;
            }
            202 => {
                g.location(&r)?;
            }
            s => {
                return Err(Failure::Fail(format!(
                    "a single POST must be 201 or 202, got {s}: {}",
                    r.text()
                )))
            }
        }
        // A digest that does not match the bytes: 400 DIGEST_INVALID, and nothing stored.
        let loc = g.start(&name).await?;
        let claimed = digest(b"what was claimed");
        let r = g
            .chunk("PUT", &with_digest(&loc, &claimed), None, b"what was sent")
            .await?;
        expect_code(&r, 400, "DIGEST_INVALID")?;
        let r = g
            .send(g.req("HEAD", &g.at(&name, &format!("blobs/{claimed}"))))
            .await?;
        r.expect_status(404)?;
        Ok(())
    })
}

fn blob_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

fn push_chunked(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let g = Registry::open(&c).await?;
        let name = image(&c, "oci/chunked");
        let blob = blob_bytes(30_000);
        let loc = g.start(&name).await?;
        let r = g
            .chunk("PATCH", &loc, Some("0-9999"), &blob[..10_000])
            .await?;
        r.expect_status(202)?;
        expect_range(&r, "0-9999", "Range after the first chunk")?;
        let loc = g.location(&r)?;
        // A chunk that does not follow what arrived: 416, and the session goes on.
        let r = g
            .chunk("PATCH", &loc, Some("20000-29999"), &blob[20_000..])
            .await?;
        r.expect_status(416)?;
        let r = g.send(g.req("GET", &loc)).await?;
        r.expect_status(204)?;
        expect_range(&r, "0-9999", "upload status Range")?;
        g.location(&r)?;
        let r = g
            .chunk("PATCH", &loc, Some("10000-19999"), &blob[10_000..20_000])
            .await?;
        r.expect_status(202)?;
        expect_range(&r, "0-19999", "Range after the second chunk")?;
        let loc = g.location(&r)?;
        // The closing PUT's chunk out of order: 416 too, and the session survives it.
        let d = digest(&blob);
        let r = g
            .chunk(
                "PUT",
                &with_digest(&loc, &d),
                Some("25000-29999"),
                &blob[25_000..],
            )
            .await?;
        r.expect_status(416)?;
        let r = g.send(g.req("GET", &loc)).await?;
        r.expect_status(204)?;
        expect_range(&r, "0-19999", "after a refused closing PUT, Range")?;
        let r = g
            .chunk(
                "PUT",
                &with_digest(&loc, &d),
                Some("20000-29999"),
                &blob[20_000..],
            )
            .await?;
        r.expect_status(201)?;
        check!(
            g.location(&r)?.ends_with(&format!("/blobs/{d}")),
            "the Location of the blob"
        );
        g.expect_blob(&name, &d, &blob, "the chunked blob").await?;
        Ok(())
    })
}

fn push_streamed(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let g = Registry::open(&c).await?;
        let name = image(&c, "oci/streamed");
        let blob = blob_bytes(20_001);
        let loc = g.start(&name).await?;
        let r = g.chunk("PATCH", &loc, None, &blob).await?;
        r.expect_status(202)?;
        expect_range(&r, "0-20000", "Range after a streamed PATCH")?;
        let loc = g.location(&r)?;
        let d = digest(&blob);
        let r = g.send(g.req("PUT", &with_digest(&loc, &d))).await?;
        r.expect_status(201)?;
        g.expect_blob(&name, &d, &blob, "the streamed blob").await?;
        Ok(())
    })
}

fn cancel(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let g = Registry::open(&c).await?;
        let name = image(&c, "oci/cancel");
        let loc = g.start(&name).await?;
        let r = g.chunk("PATCH", &loc, None, b"half of it").await?;
        r.expect_status(202)?;
        let loc = g.location(&r)?;
        let r = g.send(g.req("DELETE", &loc)).await?;
        r.expect_status(204)?;
        let r = g.send(g.req("GET", &loc)).await?;
        expect_code(&r, 404, "BLOB_UPLOAD_UNKNOWN")?;
        let r = g
            .send(g.req("PUT", &with_digest(&loc, &digest(b"half of it"))))
            .await?;
        expect_code(&r, 404, "BLOB_UPLOAD_UNKNOWN")
    })
}

fn mount(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let g = Registry::open(&c).await?;
        let from = image(&c, "oci/mount-from");
        let to = image(&c, "oci/mount-to");
        let blob = b"a blob to mount".repeat(20);
        let d = g.blob(&from, &blob).await?;
        let url = format!(
            "{}?mount={d}&from={}",
            g.at(&to, "blobs/uploads/"),
            enc(&g.full_name(&from))
        );
        let r = g.send(g.req("POST", &url)).await?;
        match r.status {
            201 => {
                check!(
                    g.location(&r)?.ends_with(&format!("/blobs/{d}")),
                    "the Location of a mounted blob"
                );
                check!(
                    r.header("docker-content-digest").is_none_or(|x| x == d),
                    "Docker-Content-Digest of the mount"
                );
                g.expect_blob(&to, &d, &blob, "the mounted blob").await?;
                Ok(())
            }
            // The registry may decline to mount and open an upload instead.
            202 => {
                let loc = g.location(&r)?;
                g.send(g.req("DELETE", &loc)).await?;
                Err(Failure::Skip(
                    "the registry opened an upload instead of mounting".into(),
                ))
            }
            s => Err(Failure::Fail(format!(
                "a mount must be 201 or 202, got {s}: {}",
                r.text()
            ))),
        }
    })
}

fn tags(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let g = Registry::open(&c).await?;
        let name = image(&c, "oci/tags");
        let m = g.image(&name, OCI_MANIFEST, "tags").await?;
        for t in ["b", "a", "d", "c", "e"] {
            g.manifest(&name, t, OCI_MANIFEST, &m)
                .await?
                .expect_status(201)?;
        }
        let list = |r: &Response| -> Result<Vec<String>, Failure> {
            r.expect_status(200)?;
            let v = r.json()?;
            check!(v["name"] == json!(name), "tags/list name: {v}");
            Ok(v["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default())
        };
        let r = g.send(g.req("GET", &g.at(&name, "tags/list"))).await?;
        check!(
            list(&r)? == ["a", "b", "c", "d", "e"],
            "all tags, in lexical order: {}",
            r.text()
        );
        let r = g.send(g.req("GET", &g.at(&name, "tags/list?n=2"))).await?;
        check!(list(&r)? == ["a", "b"], "n=2: {}", r.text());
        // The next page, by the Link header's rel="next".
        let links = r.values("link");
        let next = links
            .iter()
            .find(|l| l.contains("rel=\"next\""))
            .and_then(|l| l.split_once('<'))
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(u, _)| u.to_string());
        let Some(next) = next else {
            return Err(Failure::Fail(format!(
                "n=2 of five tags has no Link rel=\"next\": {links:?}"
            )));
        };
        check!(
            next.contains("last=b"),
            "the next page starts after b: {next}"
        );
        let r = g.send(g.req("GET", &g.absolute(&next))).await?;
        check!(list(&r)? == ["c", "d"], "the page after b: {}", r.text());
        let r = g
            .send(g.req("GET", &g.at(&name, "tags/list?n=2&last=d")))
            .await?;
        check!(list(&r)? == ["e"], "n=2&last=d: {}", r.text());
        check!(
            !r.values("link").iter().any(|l| l.contains("rel=\"next\"")),
            "the last page has no next: {:?}",
            r.values("link")
        );
        let r = g
            .send(g.req("GET", &g.at(&name, "tags/list?last=c")))
            .await?;
        check!(list(&r)? == ["d", "e"], "last=c: {}", r.text());
        Ok(())
    })
}

fn delete(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let g = Registry::open(&c).await?;
        let name = image(&c, "oci/delete");
        let m = g.tagged(&name, OCI_MANIFEST, "doomed").await?;
        let d = digest(&m);
        let r = g
            .send(g.req("DELETE", &g.at(&name, &format!("manifests/{d}"))))
            .await?;
        unsupported(&r, "deleting manifests")?;
        r.expect_status(202)?;
        for reference in [d.as_str(), "doomed"] {
            let r = g
                .send(
                    g.req("GET", &g.at(&name, &format!("manifests/{reference}")))
                        .header("Accept", OCI_MANIFEST),
                )
                .await?;
            expect_code(&r, 404, "MANIFEST_UNKNOWN")?;
        }
        // A blob no manifest names.
        let loose = g.blob(&name, b"a loose blob").await?;
        let url = g.at(&name, &format!("blobs/{loose}"));
        let r = g.send(g.req("DELETE", &url)).await?;
        unsupported(&r, "deleting blobs")?;
        r.expect_status(202)?;
        expect_code(&g.send(g.req("GET", &url)).await?, 404, "BLOB_UNKNOWN")?;
        // A tag on its own: 202, or refused where only digests may be deleted.
        g.tagged(&name, OCI_MANIFEST, "tag-only").await?;
        let r = g
            .send(g.req("DELETE", &g.at(&name, "manifests/tag-only")))
            .await?;
        unsupported(&r, "deleting tags")?;
        if r.status == 400 {
            return Err(Failure::Skip(format!(
                "the registry deletes manifests only by digest: {}",
                r.text()
            )));
        }
        r.expect_status(202)?;
        let r = g
            .send(
                g.req("GET", &g.at(&name, "manifests/tag-only"))
                    .header("Accept", OCI_MANIFEST),
            )
            .await?;
        expect_code(&r, 404, "MANIFEST_UNKNOWN")
    })
}

fn referrers(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let g = Registry::open(&c).await?;
        let name = image(&c, "oci/referrers");
        let subject = g.tagged(&name, OCI_MANIFEST, "subject").await?;
        let sd = digest(&subject);
        let empty = b"{}";
        g.blob(&name, empty).await?;
        let payload = b"what the referrer carries";
        g.blob(&name, payload).await?;
        let referrer = |config_type: &str, artifact_type: Option<&str>| {
            let mut m = json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": config_type, "size": 2, "digest": digest(empty)},
                "layers": [{"mediaType": "application/octet-stream", "size": payload.len(), "digest": digest(payload)}],
                "subject": {"mediaType": OCI_MANIFEST, "size": subject.len(), "digest": sd},
                "annotations": {"org.example.referrer": config_type},
            });
            if let Some(t) = artifact_type {
                m["artifactType"] = json!(t);
            }
            to_vec(&m)
        };
        let signature = "application/vnd.example.signature.v1";
        let sbom = "application/vnd.example.sbom.v1+json";
        let a = referrer("application/vnd.oci.empty.v1+json", Some(signature));
        let b = referrer(sbom, None);
        for m in [&a, &b] {
            let r = g.manifest(&name, &digest(m), OCI_MANIFEST, m).await?;
            r.expect_status(201)?;
            check!(
                r.header("oci-subject").is_none_or(|s| s == sd),
                "OCI-Subject: {:?}",
                r.header("oci-subject")
            );
        }
        let url = g.at(&name, &format!("referrers/{sd}"));
        let r = g.send(g.req("GET", &url)).await?;
        if r.status == 404 && code(&r) != "MANIFEST_UNKNOWN" && code(&r) != "NAME_UNKNOWN" {
            return Err(Failure::Skip(format!(
                "the registry has no referrers API ({})",
                r.text()
            )));
        }
        unsupported(&r, "the referrers API")?;
        r.expect_status(200)?;
        r.expect_content_type(OCI_INDEX)?;
        let v = r.json()?;
        let mut got: Vec<(String, String)> = v["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                (
                    m["digest"].as_str().unwrap_or("").into(),
                    m["artifactType"].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        got.sort();
        let mut want = vec![
            (digest(&a), signature.to_string()),
            (digest(&b), sbom.to_string()),
        ];
        want.sort();
        check!(
            got == want,
            "referrers (digest, artifactType): {got:?}, expected {want:?}"
        );
        for m in v["manifests"].as_array().into_iter().flatten() {
            check!(
                m["mediaType"] == OCI_MANIFEST && m["size"].is_u64(),
                "a referrer descriptor: {m}"
            );
            check!(
                m["annotations"]["org.example.referrer"].is_string(),
                "a referrer's annotations: {m}"
            );
        }
        // Filtered: by an artifactType, and by a config's media type (b has no artifactType).
        for (filter, only) in [(signature, &a), (sbom, &b)] {
            let r = g
                .send(g.req("GET", &format!("{url}?artifactType={}", enc(filter))))
                .await?;
            r.expect_status(200)?;
            let v = r.json()?;
            let ds: Vec<&str> = v["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["digest"].as_str())
                .collect();
            if r.values("oci-filters-applied").contains(&"artifactType") {
                check!(ds == [digest(only)], "artifactType={filter}: {ds:?}");
            } else {
                // Unfiltered answers are allowed, but must then say nothing was filtered.
                check!(
                    ds.len() == 2,
                    "an unfiltered answer lists every referrer: {ds:?}"
                );
            }
        }
        // Any digest: 200 with an empty index.
        let r = g
            .send(g.req(
                "GET",
                &g.at(
                    &name,
                    &format!("referrers/{}", digest(b"nothing refers to this")),
                ),
            ))
            .await?;
        r.expect_status(200)?;
        check!(
            r.json()?["manifests"] == json!([]),
            "referrers of an unknown digest: {}",
            r.text()
        );
        Ok(())
    })
}

fn sha512(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let g = Registry::open(&c).await?;
        let name = image(&c, "oci/sha512");
        let d512 = |b: &[u8]| format!("sha512:{}", hex::encode(sha2::Sha512::digest(b)));
        let config = br#"{"architecture":"amd64","os":"linux","sha512":true}"#;
        let layer = b"a blob pushed by its sha512 digest".repeat(10);
        for b in [&config[..], &layer] {
            let url = format!("{}?digest={}", g.at(&name, "blobs/uploads/"), d512(b));
            let r = g
                .send(
                    g.req("POST", &url)
                        .header("Content-Type", "application/octet-stream")
                        .body(b),
                )
                .await?;
            unsupported(&r, "sha512 digests")?;
            if r.status == 400 && code(&r) == "DIGEST_INVALID" {
                return Err(Failure::Skip(format!(
                    "the registry takes no sha512 digests: {}",
                    r.text()
                )));
            }
            let r = if r.status == 202 {
                let loc = g.location(&r)?;
                g.send(
                    g.req("PUT", &with_digest(&loc, &d512(b)))
                        .header("Content-Type", "application/octet-stream")
                        .body(b),
                )
                .await?
            } else {
                r
            };
            r.expect_status(201)?;
            let got = g
                .send(g.req("GET", &g.at(&name, &format!("blobs/{}", d512(b)))))
                .await?;
            got.expect_status(200)?;
            check!(got.body == b, "a sha512 blob came back different");
        }
        let m = to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "size": config.len(), "digest": d512(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": layer.len(), "digest": d512(&layer)}],
        }));
        let r = g.manifest(&name, &d512(&m), OCI_MANIFEST, &m).await?;
        unsupported(&r, "sha512 manifests")?;
        if r.status == 400 && code(&r) == "DIGEST_INVALID" {
            return Err(Failure::Skip(format!(
                "the registry takes no manifest by a sha512 digest: {}",
                r.text()
            )));
        }
        r.expect_status(201)?;
        check!(
            r.header("docker-content-digest")
                .is_none_or(|x| x == d512(&m)),
            "the push's Docker-Content-Digest: {:?}",
            r.header("docker-content-digest")
        );
        // By each digest, the digest in the algorithm asked for.
        for d in [d512(&m), digest(&m)] {
            for method in ["GET", "HEAD"] {
                let r = g
                    .send(
                        g.req(method, &g.at(&name, &format!("manifests/{d}")))
                            .header("Accept", OCI_MANIFEST),
                    )
                    .await?;
                if r.status == 404 && d.starts_with("sha256:") {
                    // Known only by the digest it was pushed with: allowed.
                    continue;
                }
                r.expect_status(200)?;
                check!(
                    r.header("docker-content-digest") == Some(d.as_str()),
                    "{method} by {d}: Docker-Content-Digest {:?}",
                    r.header("docker-content-digest")
                );
            }
        }
        if c.registry_given {
            c.created(Created::Url(
                g.at(&name, &format!("manifests/{}", d512(&m))),
            ));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_case_cites_the_specification() {
        for c in super::cases() {
            assert!(c.id.starts_with("docker/oci/"), "{}", c.id);
            assert!(
                c.spec.starts_with("OCI distribution spec v1.1"),
                "{}: {}",
                c.id,
                c.spec
            );
        }
    }
}
