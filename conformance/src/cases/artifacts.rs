//! Deploy, retrieve, trace, archive entries, directories and delete.

use serde_json::json;

use crate::case::{digests, expect_field, expect_string, in_repo, Case, CaseFuture, Created, Ctx};
use crate::{check, Failure};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("artifacts/deploy/item-created", deploy_item_created)
            .covers(["artifacts.deploy"])
            .writes()
            .spec("jcr-rest-api.txt Deploy Artifact; behaviour §3.1"),
        Case::new(
            "artifacts/deploy/checksum-mismatch",
            deploy_checksum_mismatch,
        )
        .covers(["artifacts.deploy"])
        .writes()
        .spec("behaviour §3.2"),
        Case::new(
            "artifacts/deploy/matrix-properties",
            deploy_matrix_properties,
        )
        .covers(["artifacts.deploy", "storage.properties.get"])
        .writes()
        .spec("jcr-rest-api.txt Deploy Artifact (Notes); behaviour §4.3"),
        Case::new("artifacts/deploy/invalid-property-key", deploy_invalid_key)
            .covers(["artifacts.deploy"])
            .writes()
            .spec("behaviour §3.4"),
        Case::new("artifacts/deploy/no-local-repository", deploy_no_local_repo)
            .covers(["artifacts.deploy"])
            .writes()
            .spec("behaviour §3.4"),
        Case::new("artifacts/deploy-by-checksum/reuse", checksum_deploy_reuse)
            .covers(["artifacts.deploy-by-checksum"])
            .writes()
            .spec("jcr-rest-api.txt Deploy Artifact by Checksum; behaviour §3.3"),
        Case::new(
            "artifacts/deploy-by-checksum/unknown",
            checksum_deploy_unknown,
        )
        .covers(["artifacts.deploy-by-checksum"])
        .writes()
        .spec("behaviour §3.3"),
        Case::new("artifacts/create-directory", create_directory)
            .covers(["artifacts.create-directory"])
            .writes()
            .spec("jcr-rest-api.txt Create Directory; behaviour §3.1"),
        Case::new("artifacts/retrieve/headers", retrieve_headers)
            .covers(["artifacts.retrieve"])
            .writes()
            .spec("jcr-rest-api.txt Retrieve Artifact; behaviour §2.1-2.2"),
        Case::new("artifacts/retrieve/conditional", retrieve_conditional)
            .covers(["artifacts.retrieve"])
            .writes()
            .spec("behaviour §2.3"),
        Case::new("artifacts/retrieve/range", retrieve_range)
            .covers(["artifacts.retrieve"])
            .writes()
            .spec("behaviour §2.3"),
        Case::new("artifacts/retrieve/checksum-side-file", retrieve_side_file)
            .covers(["artifacts.retrieve"])
            .writes()
            .spec("behaviour §2.4"),
        Case::new(
            "artifacts/retrieve/folder-redirect",
            retrieve_folder_redirect,
        )
        .covers(["artifacts.retrieve"])
        .writes()
        .spec("behaviour §2.5"),
        Case::new("artifacts/retrieve/missing-file", retrieve_missing)
            .covers(["artifacts.retrieve"])
            .spec("jcr-rest-api.txt ERROR RESPONSES; behaviour §2.6"),
        Case::new("artifacts/trace", trace)
            .covers(["artifacts.trace"])
            .writes()
            .spec("jcr-rest-api.txt Trace Artifact Retrieval"),
        Case::new("artifacts/archive-entry", archive_entry)
            .covers(["artifacts.archive-entry"])
            .writes()
            .spec("jcr-rest-api.txt Archive Entry Download"),
        Case::new("artifacts/delete", delete)
            .covers(["artifacts.delete"])
            .writes()
            .spec("jcr-rest-api.txt Delete Item; behaviour §6"),
    ]
}

fn deploy_item_created(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let body = b"conformance deploy body";
        let path = c.path("deploy/created.txt");
        let r = c.send(c.req("PUT", &path).body(body)).await?;
        r.expect_status(201)?.expect_content_type(
            "application/vnd.org.jfrog.artifactory.storage.ItemCreated+json",
        )?;
        c.created(Created::Item(path.clone()));
        c.snap("artifacts.deploy", &r)?;
        let v = r.json()?;
        let (sha1, md5, sha256) = digests(body);
        let download = format!("{}/{path}", c.base);
        r.expect_header("location", &download)?;
        expect_field(&v, "repo", &json!(c.repo))?;
        expect_field(&v, "path", &json!(format!("/{}", in_repo(&path))))?;
        expect_field(&v, "downloadUri", &json!(download))?;
        expect_field(&v, "uri", &json!(download))?;
        check!(
            expect_string(&v, "size")? == body.len().to_string(),
            "size: {}",
            v["size"]
        );
        expect_string(&v, "created")?;
        expect_string(&v, "createdBy")?;
        expect_string(&v, "mimeType")?;
        expect_field(
            &v,
            "checksums",
            &json!({"sha1": sha1, "md5": md5, "sha256": sha256}),
        )?;
        check!(
            v["originalChecksums"].is_object(),
            "originalChecksums missing: {v}"
        );
        for absent in ["lastModified", "modifiedBy", "lastUpdated"] {
            check!(
                v.get(absent).is_none(),
                "deploy response must not carry '{absent}'"
            );
        }
        Ok(())
    })
}

fn deploy_checksum_mismatch(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("deploy/mismatch.bin");
        let r = c
            .send(
                c.req("PUT", &path)
                    .header("X-Checksum-Sha1", &"0".repeat(40))
                    .body(b"mismatch"),
            )
            .await?;
        r.expect_status(409)?
            .expect_content_type("application/json")?;
        c.snap("artifacts.deploy", &r)?;
        let v = r.json()?;
        let msg = v["errors"][0]["message"].as_str().unwrap_or("");
        let repo_path = format!("{}:{}", c.repo, in_repo(&path));
        check!(
            msg.starts_with(&format!("Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the artifact '{repo_path}'")),
            "message: {msg}"
        );
        check!(v["errors"][0]["status"] == 409, "error shape: {v}");
        let g = c.send(c.req("GET", &path)).await?;
        check!(
            g.status == 404,
            "a rejected deploy must store nothing, GET gave {}",
            g.status
        );
        Ok(())
    })
}

fn deploy_matrix_properties(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("deploy/props.txt");
        c.deploy(&format!("{path};os=linux;os=mac;team=core"), b"p")
            .await?;
        let r = c
            .send(c.req("GET", &format!("api/storage/{path}?properties")))
            .await?;
        r.expect_status(200)?.expect_content_type(
            "application/vnd.org.jfrog.artifactory.storage.ItemProperties+json",
        )?;
        expect_field(
            &r.json()?,
            "properties",
            &json!({"os": ["linux", "mac"], "team": ["core"]}),
        )
    })
}

fn deploy_invalid_key(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("deploy/badkey.txt");
        let r = c
            .send(c.req("PUT", &format!("{path};1bad=x")).body(b"x"))
            .await?;
        r.expect_rest_error(
            400,
            "Property key: 1bad is invalid due to Name must start with a letter and cannot contain whitespace or special characters",
        )?;
        c.snap("artifacts.deploy", &r)?;
        let g = c.send(c.req("GET", &path)).await?;
        check!(
            g.status == 404,
            "nothing may be stored, GET gave {}",
            g.status
        );
        Ok(())
    })
}

fn deploy_no_local_repo(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let key = format!("{}-no-such-repo", c.prefix);
        let r = c
            .send(c.req("PUT", &format!("{key}/x.txt")).body(b"x"))
            .await?;
        check!(
            (400..500).contains(&r.status),
            "deploy to a missing repository must be a 4xx, got {}",
            r.status
        );
        if r.status == 404 {
            r.expect_rest_error(
                404,
                &format!("Could not find a local repository named {key} to deploy to."),
            )?;
        }
        Ok(())
    })
}

fn checksum_deploy_reuse(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let body = format!("checksum deploy {}", c.prefix).into_bytes();
        let (sha1, _, sha256) = digests(&body);
        c.deploy(&c.path("cdeploy/original.bin"), &body).await?;
        let path = c.path("cdeploy/again.bin");
        let r = c
            .send(
                c.req("PUT", &path)
                    .header("X-Checksum-Deploy", "true")
                    .header("X-Checksum-Sha1", &sha1),
            )
            .await?;
        r.expect_status(201)?;
        c.snap("artifacts.deploy-by-checksum", &r)?;
        c.created(Created::Item(path.clone()));
        let v = r.json()?;
        check!(v["checksums"]["sha256"] == json!(sha256), "checksums: {v}");
        let g = c.send(c.req("GET", &path)).await?;
        check!(
            g.status == 200 && g.body == body,
            "content not reused (status {})",
            g.status
        );
        Ok(())
    })
}

fn checksum_deploy_unknown(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let sha1 = digests(format!("never deployed {}", c.prefix).as_bytes()).0;
        let r = c
            .send(
                c.req("PUT", &c.path("cdeploy/unknown.bin"))
                    .header("X-Checksum-Deploy", "true")
                    .header("X-Checksum-Sha1", &sha1),
            )
            .await?;
        c.snap("artifacts.deploy-by-checksum", &r)?;
        r.expect_rest_error(
            404,
            &format!("Checksum deploy failed. No existing file with SHA-1: {sha1}"),
        )
    })
}

fn create_directory(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("dirs/made");
        let r = c.send(c.req("PUT", &format!("{path}/"))).await?;
        c.snap("artifacts.create-directory", &r)?;
        r.expect_status(201)?.expect_content_type(
            "application/vnd.org.jfrog.artifactory.storage.ItemCreated+json",
        )?;
        c.created(Created::Item(path.clone()));
        let v = r.json()?;
        expect_field(&v, "repo", &json!(c.repo))?;
        let p = expect_string(&v, "path")?;
        check!(
            p.trim_end_matches('/') == format!("/{}", in_repo(&path)),
            "path: {p}"
        );
        let info = c.send(c.req("GET", &format!("api/storage/{path}"))).await?;
        info.expect_status(200)?
            .expect_content_type("application/vnd.org.jfrog.artifactory.storage.FolderInfo+json")?;
        Ok(())
    })
}

fn retrieve_headers(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let body = b"0123456789abcdef";
        let path = c.path("get/file.json");
        c.deploy(&path, body).await?;
        let (sha1, md5, sha256) = digests(body);
        for method in ["GET", "HEAD"] {
            let r = c.send(c.req(method, &path)).await?;
            if method == "GET" {
                c.snap("artifacts.retrieve", &r)?;
            }
            r.expect_status(200)?
                .expect_header("etag", &sha1)?
                .expect_header("x-checksum-sha1", &sha1)?
                .expect_header("x-checksum-md5", &md5)?
                .expect_header("x-checksum-sha256", &sha256)?
                .expect_header("accept-ranges", "bytes")?
                .expect_header("content-length", &body.len().to_string())?
                .expect_header("x-artifactory-filename", "file.json")?
                .expect_content_type("application/json")?;
            check!(r.header("last-modified").is_some(), "Last-Modified missing");
            check!(
                r.header("content-disposition")
                    .is_some_and(|d| d.starts_with("attachment; filename=\"file.json\"")),
                "Content-Disposition: {:?}",
                r.header("content-disposition")
            );
            if method == "GET" {
                check!(r.body == body, "body differs from what was deployed");
            }
        }
        Ok(())
    })
}

fn retrieve_conditional(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("get/cond.txt");
        c.deploy(&path, b"conditional").await?;
        let sha1 = digests(b"conditional").0;
        let r = c
            .send(c.req("GET", &path).header("If-None-Match", &sha1))
            .await?;
        r.expect_status(304)?;
        c.snap("artifacts.retrieve", &r)?;
        let r = c
            .send(c.req("GET", &path).header("If-None-Match", &"0".repeat(40)))
            .await?;
        r.expect_status(200)?;
        let lm = r.header("last-modified").unwrap_or("").to_string();
        let r = c
            .send(c.req("GET", &path).header("If-Modified-Since", &lm))
            .await?;
        r.expect_status(304)?;
        Ok(())
    })
}

fn retrieve_range(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("get/range.bin");
        c.deploy(&path, b"abcdefghij").await?;
        let r = c
            .send(c.req("GET", &path).header("Range", "bytes=2-4"))
            .await?;
        r.expect_status(206)?
            .expect_header("content-range", "bytes 2-4/10")?;
        c.snap("artifacts.retrieve", &r)?;
        check!(r.body == b"cde", "partial body: {}", r.text());
        let r = c
            .send(c.req("GET", &path).header("Range", "bytes=0-0,8-9"))
            .await?;
        r.expect_status(206)?;
        check!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("multipart/byteranges")),
            "multiple ranges need multipart/byteranges"
        );
        let r = c
            .send(c.req("GET", &path).header("Range", "bytes=50-60"))
            .await?;
        r.expect_status(416)?
            .expect_header("content-range", "bytes */10")?;
        c.snap("artifacts.retrieve", &r)?;
        Ok(())
    })
}

fn retrieve_side_file(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("get/side.txt");
        c.deploy(&path, b"side").await?;
        let (sha1, md5, sha256) = digests(b"side");
        for (ext, want) in [("sha1", sha1), ("md5", md5), ("sha256", sha256)] {
            let r = c.send(c.req("GET", &format!("{path}.{ext}"))).await?;
            r.expect_status(200)?;
            check!(
                r.text() == want,
                ".{ext}: expected {want}, got {}",
                r.text()
            );
        }
        Ok(())
    })
}

fn retrieve_folder_redirect(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let folder = c.path("get/folder");
        c.deploy(&format!("{folder}/inner.txt"), b"i").await?;
        let r = c.send(c.req("GET", &folder)).await?;
        r.expect_status(302)?;
        c.snap("artifacts.retrieve", &r)?;
        let loc = r.header("location").unwrap_or("");
        check!(
            loc.ends_with(&format!("{folder}/")),
            "Location '{loc}' must be the folder with a trailing slash"
        );
        let r = c.send(c.req("GET", &format!("{folder}/"))).await?;
        r.expect_status(200)?.expect_content_type("text/html")?;
        check!(r.text().contains("inner.txt"), "listing lacks the child");
        Ok(())
    })
}

fn retrieve_missing(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", &c.path("never/deployed.txt"))).await?;
        r.expect_rest_error(404, "File not found.")
    })
}

fn trace(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("get/trace.txt");
        c.deploy(&path, b"t").await?;
        let r = c.send(c.req("GET", &format!("{path}?trace"))).await?;
        r.expect_status(200)?.expect_content_type("text/plain")?;
        let text = r.text();
        let stable: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("Repo Path ID") || l.starts_with("Method Name"))
            .collect();
        c.snap_body("artifacts.trace", None, &r, &json!(stable.join("\n")))?;
        let id = format!("Repo Path ID: {}:{}", c.repo, in_repo(&path));
        check!(
            text.starts_with("Request ID: "),
            "trace must start with 'Request ID: ': {text}"
        );
        check!(text.contains(&id), "trace lacks '{id}'");
        check!(text.contains("Method Name: GET"), "trace lacks the method");
        Ok(())
    })
}

fn archive_entry(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let zip = {
            use std::io::Write;
            let mut buf = std::io::Cursor::new(Vec::new());
            let mut z = zip::ZipWriter::new(&mut buf);
            z.start_file::<_, ()>(
                "META-INF/LICENSE.txt",
                zip::write::SimpleFileOptions::default(),
            )
            .map_err(|e| Failure::Error(e.to_string()))?;
            z.write_all(b"license text")
                .map_err(|e| Failure::Error(e.to_string()))?;
            z.finish().map_err(|e| Failure::Error(e.to_string()))?;
            buf.into_inner()
        };
        let path = c.path("archive/lib.jar");
        c.deploy(&path, &zip).await?;
        let r = c
            .send(c.req("GET", &format!("{path}!/META-INF/LICENSE.txt")))
            .await?;
        r.expect_status(200)?;
        c.snap("artifacts.archive-entry", &r)?;
        check!(r.text() == "license text", "entry body: {}", r.text());
        Ok(())
    })
}

fn delete(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("del/file.txt");
        c.deploy(&path, b"d").await?;
        let r = c.send(c.req("DELETE", &path)).await?;
        r.expect_status(204)?;
        c.snap("artifacts.delete", &r)?;
        let g = c.send(c.req("GET", &path)).await?;
        check!(g.status == 404, "deleted file still served ({})", g.status);
        let r = c.send(c.req("DELETE", &path)).await?;
        let id = format!("{}:{}", c.repo, in_repo(&path));
        c.snap("artifacts.delete", &r)?;
        r.expect_rest_error(
            404,
            &format!("Could not locate artifact '{id}' (Nothing to delete)."),
        )
    })
}
