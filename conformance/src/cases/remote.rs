//! Remote and virtual repositories as a pull-through setup uses them. The upstream of the remote is
//! the target itself (its run repository), so the cases need no second server: a remote fetches
//! on the first GET and shows the cached file under `<key>-cache` with its `remoteUrl`
//! (jcr-rest-api.txt File Info, the `generic-remote-cache` example); a virtual answers folder info
//! with its members' children unified and the first member's file winning (Folder Info: "For
//! virtual use, the virtual repository returns the unified children").

use serde_json::{json, Value};

use crate::case::{digests, expect_field, Case, CaseFuture, Created, Ctx, Failure};
use crate::check;
use crate::target::Credentials;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("remote/file-info/cached", remote_file_info)
            .covers([
                "repositories.create",
                "artifacts.retrieve",
                "storage.file-info",
            ])
            .writes()
            .admin()
            .spec("jcr-rest-api.txt File Info (the generic-remote-cache example: repo, downloadUri and remoteUrl of a cached file); behaviour §5.1"),
        Case::new("virtual/folder-info/unified", virtual_listing)
            .covers(["repositories.create", "storage.folder-info", "artifacts.retrieve"])
            .writes()
            .admin()
            .spec("jcr-rest-api.txt Folder Info and Retrieve Artifact: for virtual use, unified children and the resolved file"),
    ]
}

/// Creates repository `<prefix>-<name>` from `doc` (deleted at teardown).
async fn repo(c: &Ctx, name: &str, doc: Value) -> Result<String, Failure> {
    let key = format!("{}-{name}", c.prefix);
    let mut doc = doc;
    doc["key"] = json!(key);
    let r = c
        .send(c.req("PUT", &format!("api/repositories/{key}")).json(&doc))
        .await?;
    r.expect_status(200)?;
    c.created(Created::Repository(key.clone()));
    Ok(key)
}

fn remote_file_info(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let Credentials::Basic { user, password } = &c.credentials else {
            return Err(Failure::Skip(
                "a remote needs the run's user and password to reach the target as its upstream"
                    .into(),
            ));
        };
        let body = b"fetched through a remote";
        let upstream_path = c.path("remote/lib/a.txt");
        c.deploy(&upstream_path, body).await?;
        let key = repo(
            &c,
            "remote",
            json!({"rclass": "remote", "packageType": "generic", "url": format!("{}/{}", c.base, c.repo), "username": user, "password": password}),
        )
        .await?;
        let rel = format!("{}/remote/lib/a.txt", c.prefix);
        let r = c.send(c.req("GET", &format!("{key}/{rel}"))).await?;
        r.expect_status(200)?;
        check!(r.body == body, "the remote served other bytes");

        let cache = format!("{key}-cache");
        let info = c
            .send(c.req("GET", &format!("api/storage/{cache}/{rel}")))
            .await?;
        info.expect_status(200)?
            .expect_content_type("application/vnd.org.jfrog.artifactory.storage.FileInfo+json")?;
        let v = info.json()?;
        let (sha1, md5, sha256) = digests(body);
        expect_field(&v, "repo", &json!(cache))?;
        expect_field(&v, "path", &json!(format!("/{rel}")))?;
        expect_field(
            &v,
            "downloadUri",
            &json!(format!("{}/{cache}/{rel}", c.base)),
        )?;
        expect_field(
            &v,
            "remoteUrl",
            &json!(format!("{}/{}", c.base, upstream_path)),
        )?;
        expect_field(
            &v,
            "uri",
            &json!(format!("{}/api/storage/{cache}/{rel}", c.base)),
        )?;
        check!(
            v["checksums"]["sha1"] == json!(sha1) && v["checksums"]["sha256"] == json!(sha256),
            "checksums: {}",
            v["checksums"]
        );
        let keys: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let at = |k: &str| keys.iter().position(|x| *x == k);
        check!(
            at("remoteUrl").is_some() && at("remoteUrl") == at("downloadUri").map(|i| i + 1),
            "remoteUrl does not follow downloadUri: {keys:?}"
        );
        // The MD5 may be computed after the download; it is the file's once it is there.
        let mut md5_seen = v["checksums"]["md5"].clone();
        for _ in 0..50 {
            if md5_seen != "" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let again = c
                .send(c.req("GET", &format!("api/storage/{cache}/{rel}")))
                .await?
                .json()?;
            md5_seen = again["checksums"]["md5"].clone();
        }
        check!(md5_seen == json!(md5), "checksums.md5: {md5_seen}");
        let mut normal = v.clone();
        normal["checksums"]["md5"] = json!(md5);
        c.snap_body("storage.file-info", Some("remote-cached"), &info, &normal)
    })
}

fn virtual_listing(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let first = repo(
            &c,
            "vfirst",
            json!({"rclass": "local", "packageType": "generic"}),
        )
        .await?;
        let second = repo(
            &c,
            "vsecond",
            json!({"rclass": "local", "packageType": "generic"}),
        )
        .await?;
        c.deploy(&format!("{first}/dir/a.txt"), b"first a").await?;
        c.deploy(&format!("{second}/dir/a.txt"), b"second a")
            .await?;
        c.deploy(&format!("{second}/dir/b.txt"), b"second b")
            .await?;
        let key = repo(
            &c,
            "virtual",
            json!({"rclass": "virtual", "packageType": "generic", "repositories": [first, second]}),
        )
        .await?;
        let r = c
            .send(c.req("GET", &format!("api/storage/{key}/dir")))
            .await?;
        r.expect_status(200)?
            .expect_content_type("application/vnd.org.jfrog.artifactory.storage.FolderInfo+json")?;
        let v = r.json()?;
        expect_field(&v, "repo", &json!(key))?;
        expect_field(&v, "path", &json!("/dir"))?;
        let mut children: Vec<String> = v["children"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["uri"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        children.sort();
        check!(
            children == ["/a.txt", "/b.txt"],
            "the virtual's children: {children:?}"
        );
        let a = c.send(c.req("GET", &format!("{key}/dir/a.txt"))).await?;
        a.expect_status(200)?;
        check!(
            a.body == b"first a",
            "the first member's file does not win: {}",
            a.text()
        );
        let b = c.send(c.req("GET", &format!("{key}/dir/b.txt"))).await?;
        b.expect_status(200)?;
        check!(b.body == b"second b", "b.txt: {}", b.text());
        c.snap_as("storage.folder-info", "virtual", &r)
    })
}
