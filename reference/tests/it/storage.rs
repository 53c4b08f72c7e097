//! Storage API: file and folder info, list, lastModified, properties, metadata, copy/move, storageinfo,
//! checksum.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn file_info_exact() {
    let s = start().await;
    let body = b"jar bytes";
    s.deploy("generic-local/org/acme/foo-1.0.jar", body.to_vec())
        .await;
    let r = s
        .get("api/storage/generic-local/org/acme/foo-1.0.jar")
        .await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/vnd.org.jfrog.artifactory.storage.FileInfo+json")
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!({
            "repo": "generic-local",
            "path": "/org/acme/foo-1.0.jar",
            "created": T0_ISO,
            "createdBy": "admin",
            "lastModified": T0_ISO,
            "modifiedBy": "admin",
            "lastUpdated": T0_ISO,
            "downloadUri": format!("{}/generic-local/org/acme/foo-1.0.jar", s.base),
            "mimeType": "application/java-archive",
            "size": "9",
            "checksums": {"sha1": sha1_hex(body), "md5": md5_hex(body), "sha256": sha256_hex(body)},
            "originalChecksums": {"sha256": sha256_hex(body)},
            "uri": format!("{}/api/storage/generic-local/org/acme/foo-1.0.jar", s.base),
        })
    );
}

#[tokio::test]
async fn folder_info_and_repo_root() {
    let s = start().await;
    s.deploy("generic-local/org/acme/a.txt", "a").await;
    s.deploy("generic-local/org/b.txt", "b").await;
    let r = s.get("api/storage/generic-local/org").await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/vnd.org.jfrog.artifactory.storage.FolderInfo+json")
    );
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["path"], "/org");
    assert_eq!(
        v["children"],
        json!([{"uri": "/acme", "folder": true}, {"uri": "/b.txt", "folder": false}])
    );
    assert_eq!(
        v["uri"],
        format!("{}/api/storage/generic-local/org", s.base)
    );
    let root: serde_json::Value = s.get("api/storage/generic-local").await.json();
    assert_eq!(root["path"], "/");
    assert_eq!(root["uri"], format!("{}/api/storage/generic-local", s.base));
    assert_eq!(root["children"], json!([{"uri": "/org", "folder": true}]));
}

#[tokio::test]
async fn missing_item_and_stats_messages() {
    let s = start().await;
    assert_rest_error(
        s.get("api/storage/generic-local/none").await,
        404,
        "Unable to find item",
    )
    .await;
    assert_rest_error(
        s.get("api/storage/generic-local/none?stats").await,
        404,
        "Unable to find item path",
    )
    .await;
}

#[tokio::test]
async fn file_list_shallow_deep_and_folders() {
    let s = start().await;
    s.deploy("generic-local/l/a.txt", "aa").await;
    s.deploy("generic-local/l/sub/b.txt", "b").await;
    let v: serde_json::Value = s.get("api/storage/generic-local/l?list").await.json();
    assert_eq!(
        v,
        json!({
            "uri": format!("{}/api/storage/generic-local/l", s.base),
            "created": T0_ISO,
            "files": [{"uri": "/a.txt", "size": 2, "lastModified": T0_ISO, "folder": false, "sha1": sha1_hex(b"aa"), "sha2": sha256_hex(b"aa")}],
        })
    );
    let r = s
        .get("api/storage/generic-local/l?list&deep=1&listFolders=1&includeRootPath=1")
        .await;
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.artifactory.storage.FileList+json")
    );
    let v: serde_json::Value = r.json();
    let uris: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["/", "/a.txt", "/sub", "/sub/b.txt"]);
    assert_eq!(v["files"][2]["size"], -1);
    let v: serde_json::Value = s
        .get("api/storage/generic-local/l?list&deep=1&depth=1")
        .await
        .json();
    assert_eq!(v["files"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn last_modified_finds_newest() {
    let s = start().await;
    s.deploy("generic-local/lm/old.txt", "o").await;
    s.clock.advance(60_000);
    s.deploy("generic-local/lm/deep/new.txt", "n").await;
    let r = s.get("api/storage/generic-local/lm?lastModified").await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "last-modified"),
        Some("Tue, 14 Nov 2023 22:14:20 GMT")
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!({"uri": format!("{}/api/storage/generic-local/lm/deep/new.txt", s.base), "lastModified": "2023-11-14T22:14:20.123+0000"})
    );
}

#[tokio::test]
async fn properties_set_get_filter_delete() {
    let s = start().await;
    s.deploy("generic-local/pr/a.txt", "a").await;
    assert_rest_error(
        s.get("api/storage/generic-local/pr/a.txt?properties").await,
        404,
        "No properties could be found.",
    )
    .await;
    let r = s
        .admin(
            Method::PUT,
            "api/storage/generic-local/pr?properties=os=win,linux;qa=done%5C,ok&recursive=1",
        )
        .go()
        .await;
    assert_eq!(r.status(), 204);
    let r = s.get("api/storage/generic-local/pr/a.txt?properties").await;
    assert_eq!(header(r.headers(), "cache-control"), Some("no-store"));
    let v: serde_json::Value = r.json();
    assert_eq!(
        v["properties"],
        json!({"os": ["win", "linux"], "qa": ["done,ok"]})
    );
    assert_eq!(
        v["uri"],
        format!("{}/api/storage/generic-local/pr/a.txt", s.base)
    );
    let v: serde_json::Value = s
        .get("api/storage/generic-local/pr/a.txt?properties=qa,zz")
        .await
        .json();
    assert_eq!(v["properties"], json!({"qa": ["done,ok"]}));
    assert_rest_error(
        s.get("api/storage/generic-local/pr/a.txt?properties=zz")
            .await,
        404,
        "No properties could be found.",
    )
    .await;
    let r = s
        .admin(
            Method::DELETE,
            "api/storage/generic-local/pr/a.txt?properties=os&recursive=0",
        )
        .go()
        .await;
    assert_eq!(r.status(), 204);
    let v: serde_json::Value = s
        .get("api/storage/generic-local/pr/a.txt?properties")
        .await
        .json();
    assert_eq!(v["properties"], json!({"qa": ["done,ok"]}));
    // Folder itself kept both keys (the delete was not recursive and targeted the file).
    let v: serde_json::Value = s
        .get("api/storage/generic-local/pr?properties")
        .await
        .json();
    assert_eq!(
        v["properties"],
        json!({"os": ["win", "linux"], "qa": ["done,ok"]})
    );
    let r = s
        .admin(
            Method::PUT,
            "api/storage/generic-local/pr/none?properties=a=1",
        )
        .go()
        .await;
    assert_rest_error(r, 404, "Unable to find item").await;
    let r = s
        .admin(
            Method::PUT,
            "api/storage/generic-local/pr/a.txt?properties=bad%20key=1",
        )
        .go()
        .await;
    assert_rest_error(
        r,
        400,
        "Property key: bad key is invalid due to Name must start with a letter and cannot contain whitespace or special characters",
    )
    .await;
}

#[tokio::test]
async fn metadata_patch_sets_and_removes() {
    let s = start().await;
    s.deploy("generic-local/m.txt;old=1;keep=k", "m").await;
    let r = s
        .admin(Method::PATCH, "api/metadata/generic-local/m.txt")
        .json(&json!({"props": {"new": "v", "multi": ["a", "b"], "old": null}}))
        .go()
        .await;
    assert_eq!(r.status(), 204);
    let v: serde_json::Value = s
        .get("api/storage/generic-local/m.txt?properties")
        .await
        .json();
    assert_eq!(
        v["properties"],
        json!({"keep": ["k"], "multi": ["a", "b"], "new": ["v"]})
    );
    let r = s
        .admin(Method::PATCH, "api/metadata/generic-local/m.txt")
        .json(&json!({"other": 1}))
        .go()
        .await;
    let (status, _, text) = parts(r).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "props or stats fields required")
    );
    let r = s
        .admin(Method::PATCH, "api/metadata/generic-local/m.txt")
        .body("{not json")
        .go()
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn copy_and_move() {
    let s = start().await;
    s.deploy("generic-local/src/a.txt", "a").await;
    s.deploy("generic-local/src/sub/b.txt", "b").await;
    let r = s
        .admin(
            Method::POST,
            "api/copy/generic-local/src?to=/helm-local/dst",
        )
        .go()
        .await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/vnd.org.jfrog.artifactory.storage.CopyOrMoveResult+json")
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!({"messages": [{"level": "INFO", "message": "copying generic-local:src to helm-local:dst completed successfully, 2 artifacts and 2 folders were copied"}]})
    );
    assert_eq!(s.get("helm-local/dst/sub/b.txt").await.text(), "b");
    let r = s
        .admin(
            Method::POST,
            "api/move/generic-local/src/a.txt?to=/generic-local/moved/&dry=1",
        )
        .go()
        .await;
    let v: serde_json::Value = r.json();
    assert_eq!(
        v["messages"][0]["message"],
        "Dry run for moving generic-local:src/a.txt to generic-local:moved/a.txt completed successfully, 1 artifacts and 0 folders were moved"
    );
    assert_eq!(s.get("generic-local/src/a.txt").await.status(), 200);
    let r = s
        .admin(
            Method::POST,
            "api/move/generic-local/src/a.txt?to=/generic-local/moved/",
        )
        .go()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(s.get("generic-local/src/a.txt").await.status(), 404);
    assert_eq!(s.get("generic-local/moved/a.txt").await.text(), "a");
    let r = s
        .admin(
            Method::POST,
            "api/copy/generic-local/none?to=/generic-local/x",
        )
        .go()
        .await;
    assert_rest_error(r, 404, "Unable to find item").await;
    let r = s
        .admin(
            Method::POST,
            "api/copy/generic-local/moved?to=/missing-repo/x",
        )
        .go()
        .await;
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn storage_info_counts_repositories() {
    let s = start().await;
    s.deploy("generic-local/a/one.bin", vec![1u8; 2048]).await;
    s.deploy("generic-local/a/same.bin", vec![1u8; 2048]).await;
    let r = s.get("api/storageinfo").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json();
    assert_eq!(v["binariesSummary"]["binariesCount"], "1");
    assert_eq!(v["binariesSummary"]["binariesSize"], "2.00 KB");
    assert_eq!(v["binariesSummary"]["artifactsSize"], "4.00 KB");
    assert_eq!(v["binariesSummary"]["optimization"], "50.00%");
    assert_eq!(v["binariesSummary"]["artifactsCount"], "2");
    let rows = v["repositoriesSummaryList"].as_array().unwrap();
    assert_eq!(
        rows[0],
        json!({"repoKey": "generic-local", "repoType": "LOCAL", "foldersCount": 1, "filesCount": 2, "usedSpace": "4.00 KB", "itemsCount": 3, "packageType": "Generic", "percentage": "100.00%"})
    );
    assert_eq!(rows.last().unwrap()["repoKey"], "TOTAL");
    assert_eq!(rows.last().unwrap()["repoType"], "NA");
    assert_rest_error(
        s.anon(Method::GET, "api/storageinfo").go().await,
        401,
        "Authentication is required",
    )
    .await;
}

#[tokio::test]
async fn checksum_sha256_sets_property() {
    let s = start().await;
    s.deploy("generic-local/cs/a.txt", "a").await;
    let r = s
        .admin(Method::POST, "api/checksum/sha256")
        .json(&json!({"repoKey": "generic-local", "path": "cs"}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = s
        .get("api/storage/generic-local/cs/a.txt?properties")
        .await
        .json();
    assert_eq!(v["properties"]["sha256"], json!([sha256_hex(b"a")]));
    let r = s
        .admin(Method::POST, "api/checksum/sha256")
        .json(&json!({"repoKey": "generic-local", "path": "zzz"}))
        .go()
        .await;
    assert_rest_error(r, 404, "Unable to find item").await;
}

#[tokio::test]
async fn virtual_repository_resolves_through_members_and_unifies_children() {
    let s = start().await;
    s.deploy("generic-local/v/a.txt", "from generic").await;
    s.deploy("helm-local/v/a.txt", "from helm").await;
    s.deploy("helm-local/v/b.txt", "only helm").await;
    let r = s
        .admin(Method::PUT, "api/repositories/all")
        .json(&json!({"rclass": "virtual", "repositories": ["generic-local", "helm-local"]}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(s.get("all/v/a.txt").await.text(), "from generic");
    assert_eq!(s.get("all/v/b.txt").await.text(), "only helm");
    let v: serde_json::Value = s.get("api/storage/all/v").await.json();
    assert_eq!(v["repo"], "all");
    assert_eq!(
        v["children"],
        json!([{"uri": "/a.txt", "folder": false}, {"uri": "/b.txt", "folder": false}])
    );
    let html = s.get("all/v/").await.text();
    assert!(
        html.contains(">a.txt</a>") && html.contains(">b.txt</a>"),
        "{html}"
    );
    // A miss in a virtual repository is a 404 with an empty body.
    let r = s.get("api/storage/all/v/none").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.text(), "");
}

#[tokio::test]
async fn move_to_a_missing_repository_names_the_move() {
    let s = start().await;
    s.deploy("generic-local/mv/a.txt", "a").await;
    let r = s
        .admin(
            Method::POST,
            "api/move/generic-local/mv/a.txt?to=/nowhere/a.txt",
        )
        .go()
        .await;
    assert_eq!(r.status(), 409);
    let v: serde_json::Value = r.json();
    assert_eq!(
        v,
        json!({"messages": [{"level": "ERROR", "message": "Failed to move from src=generic-local/mv/a.txt to target=nowhere/a.txt: Target repository nowhere does not exist"}]})
    );
    assert_eq!(s.get("generic-local/mv/a.txt").await.status(), 200);
}
