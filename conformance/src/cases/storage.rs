//! The storage API: file and folder info, properties, stats, list, lastModified, metadata, copy/move,
//! storage summary and the sha256 calculation.

use serde_json::{json, Value};

use crate::case::{digests, expect_field, expect_string, in_repo, Case, CaseFuture, Created, Ctx};
use crate::check;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("storage/file-info/fields", file_info)
            .covers(["storage.file-info"])
            .writes()
            .spec("jcr-rest-api.txt File Info; behaviour §5.1"),
        Case::new("storage/file-info/missing-item", file_info_missing)
            .covers(["storage.file-info"])
            .spec("behaviour §5.3"),
        Case::new("storage/folder-info/children", folder_info)
            .covers(["storage.folder-info"])
            .writes()
            .spec("jcr-rest-api.txt Folder Info; behaviour §5.2"),
        Case::new("storage/folder-info/repo-root", repo_root)
            .covers(["storage.folder-info"])
            .spec("behaviour §1.1, §5.2"),
        Case::new("storage/properties/roundtrip", properties)
            .covers([
                "storage.properties.set",
                "storage.properties.get",
                "storage.properties.delete",
            ])
            .writes()
            .spec("jcr-rest-api.txt Item Properties; behaviour §4.1-4.2"),
        Case::new("storage/stats/downloads", stats)
            .covers(["storage.stats"])
            .writes()
            .spec("jcr-rest-api.txt File Statistics; behaviour §5.4"),
        Case::new("storage/list/deep", list)
            .covers(["storage.list"])
            .writes()
            .spec("behaviour §5.5"),
        Case::new("storage/last-modified", last_modified)
            .covers(["storage.last-modified"])
            .writes()
            .spec("behaviour §5.5"),
        Case::new("storage/metadata/patch", metadata)
            .covers(["storage.metadata.patch"])
            .writes()
            .spec("behaviour §4 (dohq-artifactory)"),
        Case::new("storage/copy-move", copy_move)
            .covers(["storage.copy", "storage.move"])
            .writes()
            .spec("copy/move item (jfrog-client-go, dohq-artifactory)"),
        Case::new("storage/storageinfo/shape", storage_info)
            .covers(["storage.storageinfo"])
            .admin()
            .spec("jcr-rest-api.txt Get Storage Summary Info; behaviour §5.6"),
        Case::new("storage/checksum-sha256", checksum_sha256)
            .covers(["storage.checksum-sha256"])
            .writes()
            .admin()
            .spec("jcr-rest-api.txt Set Item SHA256 Checksum"),
    ]
}

fn file_info(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let body = b"file info body";
        let path = c.path("info/file.jar");
        c.deploy(&path, body).await?;
        let r = c.send(c.req("GET", &format!("api/storage/{path}"))).await?;
        r.expect_status(200)?
            .expect_content_type("application/vnd.org.jfrog.artifactory.storage.FileInfo+json")?;
        c.snap("storage.file-info", &r)?;
        let v = r.json()?;
        let (sha1, md5, sha256) = digests(body);
        expect_field(&v, "repo", &json!(c.repo))?;
        expect_field(&v, "path", &json!(format!("/{}", in_repo(&path))))?;
        expect_field(&v, "downloadUri", &json!(format!("{}/{path}", c.base)))?;
        expect_field(&v, "uri", &json!(format!("{}/api/storage/{path}", c.base)))?;
        check!(
            expect_string(&v, "size")? == body.len().to_string(),
            "size: {}",
            v["size"]
        );
        expect_field(&v, "mimeType", &json!("application/java-archive"))?;
        expect_field(
            &v,
            "checksums",
            &json!({"sha1": sha1, "md5": md5, "sha256": sha256}),
        )?;
        for f in [
            "created",
            "createdBy",
            "lastModified",
            "modifiedBy",
            "lastUpdated",
        ] {
            expect_string(&v, f)?;
        }
        check!(
            v["originalChecksums"]["sha256"] == json!(sha256),
            "originalChecksums.sha256: {}",
            v["originalChecksums"]
        );
        Ok(())
    })
}

fn file_info_missing(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c
            .send(c.req("GET", &format!("api/storage/{}", c.path("never/there.txt"))))
            .await?;
        r.expect_rest_error(404, "Unable to find item")?;
        c.snap("storage.file-info", &r)
    })
}

fn folder_info(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let folder = c.path("tree");
        c.deploy(&format!("{folder}/a.txt"), b"a").await?;
        c.deploy(&format!("{folder}/b.txt"), b"b").await?;
        c.deploy(&format!("{folder}/sub/c.txt"), b"c").await?;
        let r = c
            .send(c.req("GET", &format!("api/storage/{folder}")))
            .await?;
        r.expect_status(200)?
            .expect_content_type("application/vnd.org.jfrog.artifactory.storage.FolderInfo+json")?;
        c.snap("storage.folder-info", &r)?;
        let v = r.json()?;
        expect_field(&v, "path", &json!(format!("/{}", in_repo(&folder))))?;
        expect_field(
            &v,
            "uri",
            &json!(format!("{}/api/storage/{folder}", c.base)),
        )?;
        let mut children: Vec<Value> = v["children"].as_array().cloned().unwrap_or_default();
        children.sort_by_key(|x| x["uri"].as_str().unwrap_or("").to_string());
        check!(
            children
                == vec![
                    json!({"uri": "/a.txt", "folder": false}),
                    json!({"uri": "/b.txt", "folder": false}),
                    json!({"uri": "/sub", "folder": true})
                ],
            "children: {}",
            v["children"]
        );
        Ok(())
    })
}

fn repo_root(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c
            .send(c.req("GET", &format!("api/storage/{}", c.repo)))
            .await?;
        r.expect_status(200)?;
        let mut shown = r.json()?;
        shown["children"] = json!([]);
        shown["lastModified"] = json!("<changes with every write>");
        shown["lastUpdated"] = json!("<changes with every write>");
        c.snap_body("storage.folder-info", Some("repository-root"), &r, &shown)?;
        let v = r.json()?;
        expect_field(&v, "path", &json!("/"))?;
        expect_field(
            &v,
            "uri",
            &json!(format!("{}/api/storage/{}", c.base, c.repo)),
        )?;
        check!(v["children"].is_array(), "children must be an array");
        Ok(())
    })
}

fn properties(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("props/item.txt");
        c.deploy(&path, b"p").await?;
        let r = c
            .send(c.req("GET", &format!("api/storage/{path}?properties")))
            .await?;
        r.expect_rest_error(404, "No properties could be found.")?;
        c.snap("storage.properties.get", &r)?;
        let r = c
            .send(c.req(
                "PUT",
                &format!("api/storage/{path}?properties=os=win,linux;qa=done"),
            ))
            .await?;
        r.expect_status(204)?;
        c.snap("storage.properties.set", &r)?;
        let r = c
            .send(c.req("GET", &format!("api/storage/{path}?properties")))
            .await?;
        r.expect_status(200)?;
        c.snap("storage.properties.get", &r)?;
        let v = r.json()?;
        expect_field(
            &v,
            "properties",
            &json!({"os": ["win", "linux"], "qa": ["done"]}),
        )?;
        expect_field(&v, "uri", &json!(format!("{}/api/storage/{path}", c.base)))?;
        let r = c
            .send(c.req("GET", &format!("api/storage/{path}?properties=qa")))
            .await?;
        expect_field(&r.json()?, "properties", &json!({"qa": ["done"]}))?;
        let r = c
            .send(c.req("DELETE", &format!("api/storage/{path}?properties=os,qa")))
            .await?;
        r.expect_status(204)?;
        c.snap("storage.properties.delete", &r)?;
        let r = c
            .send(c.req("GET", &format!("api/storage/{path}?properties")))
            .await?;
        r.expect_rest_error(404, "No properties could be found.")
    })
}

fn stats(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("stats/file.txt");
        c.deploy(&path, b"s").await?;
        let before = c
            .send(c.req("GET", &format!("api/storage/{path}?stats")))
            .await?;
        before
            .expect_status(200)?
            .expect_content_type("application/vnd.org.jfrog.artifactory.storage.StatsInfo+json")?;
        c.snap("storage.stats", &before)?;
        let b = before.json()?;
        check!(
            b["downloadCount"].is_u64(),
            "downloadCount must be a number: {b}"
        );
        check!(
            b["lastDownloaded"].is_i64(),
            "lastDownloaded must be epoch ms: {b}"
        );
        c.send(c.req("GET", &path)).await?.expect_status(200)?;
        let a = c
            .send(c.req("GET", &format!("api/storage/{path}?stats")))
            .await?
            .json()?;
        check!(
            a["downloadCount"].as_u64() == b["downloadCount"].as_u64().map(|n| n + 1),
            "downloadCount must grow by one: {b} -> {a}"
        );
        check!(
            a["lastDownloaded"].as_i64() > Some(0),
            "lastDownloaded must be set: {a}"
        );
        if let Some(user) = c.credentials.user() {
            expect_field(&a, "lastDownloadedBy", &json!(user))?;
        }
        Ok(())
    })
}

fn list(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let folder = c.path("list");
        c.deploy(&format!("{folder}/a.txt"), b"aa").await?;
        c.deploy(&format!("{folder}/sub/b.txt"), b"b").await?;
        let r = c
            .send(c.req(
                "GET",
                &format!("api/storage/{folder}?list&deep=1&listFolders=1"),
            ))
            .await?;
        r.expect_status(200)?;
        c.snap("storage.list", &r)?;
        let v = r.json()?;
        expect_field(
            &v,
            "uri",
            &json!(format!("{}/api/storage/{folder}", c.base)),
        )?;
        let files = v["files"].as_array().cloned().unwrap_or_default();
        let mut uris: Vec<&str> = files.iter().filter_map(|f| f["uri"].as_str()).collect();
        uris.sort();
        check!(uris == ["/a.txt", "/sub", "/sub/b.txt"], "files: {uris:?}");
        let a = files
            .iter()
            .find(|f| f["uri"] == "/a.txt")
            .expect("checked");
        check!(
            a["size"] == json!(2) && a["folder"] == json!(false),
            "file entry: {a}"
        );
        check!(
            a["sha1"] == json!(digests(b"aa").0),
            "sha1 of the file entry: {a}"
        );
        let sub = files.iter().find(|f| f["uri"] == "/sub").expect("checked");
        check!(
            sub["folder"] == json!(true) && sub["size"] == json!(-1),
            "folder entry: {sub}"
        );
        Ok(())
    })
}

fn last_modified(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let folder = c.path("lm");
        c.deploy(&format!("{folder}/x.txt"), b"x").await?;
        let r = c
            .send(c.req("GET", &format!("api/storage/{folder}?lastModified")))
            .await?;
        r.expect_status(200)?;
        c.snap("storage.last-modified", &r)?;
        check!(
            r.header("last-modified").is_some(),
            "Last-Modified header missing"
        );
        let v = r.json()?;
        expect_field(
            &v,
            "uri",
            &json!(format!("{}/api/storage/{folder}/x.txt", c.base)),
        )?;
        expect_string(&v, "lastModified")?;
        Ok(())
    })
}

fn metadata(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("meta/item.txt");
        c.deploy(&format!("{path};old=1;keep=k"), b"m").await?;
        let r = c
            .send(
                c.req("PATCH", &format!("api/metadata/{path}"))
                    .json(&json!({"props": {"new": "v", "old": null}})),
            )
            .await?;
        r.expect_status(204)?;
        c.snap("storage.metadata.patch", &r)?;
        let v = c
            .send(c.req("GET", &format!("api/storage/{path}?properties")))
            .await?
            .json()?;
        expect_field(&v, "properties", &json!({"keep": ["k"], "new": ["v"]}))
    })
}

fn copy_move(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let src = c.path("cm/src.txt");
        c.deploy(&src, b"copy me").await?;
        let dst = c.path("cm/copied.txt");
        let r = c
            .send(c.req("POST", &format!("api/copy/{src}?to=/{dst}")))
            .await?;
        r.expect_status(200)?;
        c.snap("storage.copy", &r)?;
        c.created(Created::Item(dst.clone()));
        let v = r.json()?;
        let want = format!(
            "copying {}:{} to {}:{} completed successfully, 1 artifacts and 0 folders were copied",
            c.repo,
            in_repo(&src),
            c.repo,
            in_repo(&dst)
        );
        expect_field(&v, "messages", &json!([{"level": "INFO", "message": want}]))?;
        let moved = c.path("cm/moved.txt");
        let r = c
            .send(c.req("POST", &format!("api/move/{dst}?to=/{moved}")))
            .await?;
        r.expect_status(200)?;
        c.snap("storage.move", &r)?;
        c.created(Created::Item(moved.clone()));
        let g = c.send(c.req("GET", &moved)).await?;
        check!(
            g.status == 200 && g.body == b"copy me",
            "moved content ({})",
            g.status
        );
        let g = c.send(c.req("GET", &dst)).await?;
        check!(
            g.status == 404,
            "the move source is still there ({})",
            g.status
        );
        Ok(())
    })
}

fn storage_info(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", "api/storageinfo")).await?;
        r.expect_status(200)?
            .expect_content_type("application/json")?;
        let v = r.json()?;
        let shown = json!({
        "binariesSummary": crate::case::shape_only(&v["binariesSummary"]),
        "fileStoreSummary": crate::case::shape_only(&v["fileStoreSummary"]),
        "repositoriesSummaryList": crate::case::shape_only(&v["repositoriesSummaryList"]),
        });
        c.snap_body("storage.storageinfo", None, &r, &shown)?;
        for f in [
            "binariesCount",
            "binariesSize",
            "artifactsSize",
            "optimization",
            "itemsCount",
            "artifactsCount",
        ] {
            check!(
                v["binariesSummary"][f].is_string(),
                "binariesSummary.{f} must be a string: {}",
                v["binariesSummary"]
            );
        }
        let rows = v["repositoriesSummaryList"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let total = rows.last().cloned().unwrap_or_default();
        check!(
            total["repoKey"] == "TOTAL" && total["repoType"] == "NA",
            "last row must be TOTAL/NA: {total}"
        );
        for row in &rows {
            for f in ["foldersCount", "filesCount", "itemsCount"] {
                check!(row[f].is_u64(), "{f} must be a number: {row}");
            }
            check!(
                row["usedSpace"].is_string(),
                "usedSpace must be a string: {row}"
            );
        }
        Ok(())
    })
}

fn checksum_sha256(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("sha/f.txt");
        c.deploy(&path, b"sha").await?;
        let r = c
            .send(
                c.req("POST", "api/checksum/sha256")
                    .json(&json!({"repoKey": c.repo, "path": in_repo(&path)})),
            )
            .await?;
        r.expect_status(200)?;
        c.snap("storage.checksum-sha256", &r)?;
        let v = c
            .send(c.req("GET", &format!("api/storage/{path}?properties=sha256")))
            .await?
            .json()?;
        expect_field(&v, "properties", &json!({"sha256": [digests(b"sha").2]}))
    })
}
