//! Deploy artifact, deploy by checksum, create directory.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn deploy_returns_item_created_with_location_and_exact_body() {
    let s = start().await;
    let body = b"hello world".to_vec();
    let r = s
        .admin(Method::PUT, "generic-local/dir/sub/hello.txt")
        .body(body.clone())
        .go()
        .await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 201);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/vnd.org.jfrog.artifactory.storage.ItemCreated+json")
    );
    let dl = format!("{}/generic-local/dir/sub/hello.txt", s.base);
    assert_eq!(header(&h, "location"), Some(dl.as_str()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!({
            "repo": "generic-local",
            "path": "/dir/sub/hello.txt",
            "created": T0_ISO,
            "createdBy": "admin",
            "downloadUri": dl,
            "mimeType": "text/plain",
            "size": "11",
            "checksums": {"sha1": sha1_hex(&body), "md5": md5_hex(&body), "sha256": sha256_hex(&body)},
            "originalChecksums": {"sha256": sha256_hex(&body)},
            "uri": dl,
        })
    );
    // Field order as Jackson writes it: uri last, size a string.
    assert!(
        text.starts_with(
            "{\n  \"repo\" : \"generic-local\",\n  \"path\" : \"/dir/sub/hello.txt\","
        ),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("  \"uri\" : \"{dl}\"\n}}")),
        "{text}"
    );
}

#[tokio::test]
async fn deploy_with_matching_checksums_records_them_as_original() {
    let s = start().await;
    let body = b"abc";
    let r = s
        .admin(Method::PUT, "generic-local/c.bin")
        .header("X-Checksum-Sha1", sha1_hex(body))
        .header("X-Checksum-Md5", md5_hex(body))
        .header("X-Checksum", sha256_hex(body))
        .body(body.to_vec())
        .go()
        .await;
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json();
    assert_eq!(
        v["originalChecksums"],
        json!({"sha1": sha1_hex(body), "md5": md5_hex(body), "sha256": sha256_hex(body)})
    );
}

#[tokio::test]
async fn deploy_with_wrong_sha1_is_409_and_stores_nothing() {
    let s = start().await;
    let body = b"payload";
    let wrong = "0".repeat(40);
    let r = s
        .admin(Method::PUT, "generic-local/bad.bin")
        .header("X-Checksum-Sha1", &wrong)
        .body(body.to_vec())
        .go()
        .await;
    let expected = format!(
        "Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the artifact 'generic-local:bad.bin'. Checksums info: ChecksumsInfo{{checksums={{SHA-1=ChecksumInfo{{type=SHA-1, original='{wrong}', actual='{}'}}, MD5=ChecksumInfo{{type=MD5, original='null', actual='{}'}}, SHA-256=ChecksumInfo{{type=SHA-256, original='null', actual='{}'}}}}}}",
        sha1_hex(body),
        md5_hex(body),
        sha256_hex(body)
    );
    assert_rest_error(r, 409, &expected).await;
    assert_rest_error(
        s.get("api/storage/generic-local/bad.bin").await,
        404,
        "Unable to find item",
    )
    .await;
}

#[tokio::test]
async fn deploy_with_wrong_generic_checksum_by_length_is_409() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "generic-local/x")
        .header("X-Checksum", "f".repeat(32))
        .body("x")
        .go()
        .await;
    assert_eq!(r.status(), 409);
    assert!(r
        .text()
        .contains("MD5=ChecksumInfo{type=MD5, original='ffffffffffffffffffffffffffffffff'"));
}

#[tokio::test]
async fn matrix_parameters_become_properties() {
    let s = start().await;
    s.deploy(
        "generic-local;build=1/lib/a.jar;os=linux;os=mac;empty",
        "jar",
    )
    .await;
    let r = s
        .get("api/storage/generic-local/lib/a.jar?properties")
        .await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/vnd.org.jfrog.artifactory.storage.ItemProperties+json")
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["properties"],
        json!({"build": ["1"], "empty": [""], "os": ["linux", "mac"]})
    );
}

#[tokio::test]
async fn invalid_property_key_is_400_and_stores_nothing() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "generic-local/p.txt;1bad=x")
        .body("x")
        .go()
        .await;
    assert_rest_error(
        r,
        400,
        "Property key: 1bad is invalid due to Name must start with a letter and cannot contain whitespace or special characters",
    )
    .await;
    assert_eq!(s.get("generic-local/p.txt").await.status(), 404);
}

#[tokio::test]
async fn deploy_to_remote_or_unknown_repo_is_404() {
    let s = start_with(|c| {
        c.repositories.push(jcr_reference::RepoConfig {
            url: Some("https://example.invalid/".into()),
            ..jcr_reference::RepoConfig::new(
                "remote-x",
                jcr_reference::RepoClass::Remote,
                jcr_reference::PackageType::Generic,
            )
        })
    })
    .await;
    let r = s.admin(Method::PUT, "remote-x/a.txt").body("x").go().await;
    assert_rest_error(
        r,
        404,
        "Could not find a local repository named remote-x to deploy to.",
    )
    .await;
    let r = s.admin(Method::PUT, "nope/a.txt").body("x").go().await;
    assert_rest_error(
        r,
        404,
        "Could not find a local repository named nope to deploy to.",
    )
    .await;
    let list: Vec<serde_json::Value> = s.get("api/repositories").await.json();
    assert!(!list.iter().any(|r| r["key"] == "nope"));
}

#[tokio::test]
async fn deploy_to_virtual_goes_to_default_deployment_repo_or_405() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "api/repositories/virt")
        .json(&json!({"rclass": "virtual", "repositories": ["generic-local"]}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s.admin(Method::PUT, "virt/a.txt").body("x").go().await;
    let (status, h, body) = parts(r).await;
    assert_eq!(status, 405);
    assert_eq!(header(&h, "allow"), Some("GET"));
    assert_eq!(
        body,
        rest_error(405, "No local repository was configured as local deployment repository for the (virt) virtual repository.")
    );
    let r = s
        .admin(Method::POST, "api/repositories/virt")
        .json(&json!({"defaultDeploymentRepo": "generic-local"}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let v = s.deploy("virt/a.txt", "x").await;
    assert_eq!(v["repo"], "generic-local");
    assert_eq!(s.get("generic-local/a.txt").await.text(), "x");
    assert_eq!(s.get("virt/a.txt").await.text(), "x");
}

#[tokio::test]
async fn deploy_by_checksum_reuses_content() {
    let s = start().await;
    let body = b"reused content";
    s.deploy("generic-local/orig.bin", body.to_vec()).await;
    let r = s
        .admin(Method::PUT, "generic-local/copy/of.bin")
        .header("X-Checksum-Deploy", "true")
        .header("X-Checksum-Sha1", sha1_hex(body))
        .go()
        .await;
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json();
    assert_eq!(v["size"], "14");
    assert_eq!(v["originalChecksums"]["sha1"], sha1_hex(body));
    assert_eq!(
        s.get("generic-local/copy/of.bin").await.bytes().as_ref(),
        body
    );
    // With sha256 the legacy `sha256` property is added.
    let r = s
        .admin(Method::PUT, "generic-local/copy/two.bin")
        .header("X-Checksum-Deploy", "true")
        .header("X-Checksum-Sha256", sha256_hex(body))
        .go()
        .await;
    assert_eq!(r.status(), 201);
    let p: serde_json::Value = s
        .get("api/storage/generic-local/copy/two.bin?properties")
        .await
        .json();
    assert_eq!(p["properties"]["sha256"], json!([sha256_hex(body)]));
}

#[tokio::test]
async fn deploy_by_checksum_errors_are_404_with_documented_messages() {
    let s = start().await;
    let cases: Vec<(Vec<(&str, String)>, String)> = vec![
        (vec![], "Checksum deploy failed. no checksum header 'X-Checksum-Sha1/X-Checksum-Sha256' was found.".into()),
        (vec![("X-Checksum-Sha1", "xyz".into())], "Checksum deploy failed. Invalid SHA-1: xyz".into()),
        (vec![("X-Checksum-Sha256", "abc".into())], "Checksum deploy failed. Invalid SHA-256: abc".into()),
        (vec![("X-Checksum-Sha1", "a".repeat(40))], format!("Checksum deploy failed. No existing file with SHA-1: {}", "a".repeat(40))),
        (vec![("X-Checksum", "b".repeat(64))], format!("Checksum deploy failed. No existing file with SHA-256: {}", "b".repeat(64))),
    ];
    for (headers, message) in cases {
        let mut req = s
            .admin(Method::PUT, "generic-local/by-sum.bin")
            .header("X-Checksum-Deploy", "true");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        assert_rest_error(req.go().await, 404, &message).await;
    }
    assert_eq!(s.get("generic-local/by-sum.bin").await.status(), 404);
}

#[tokio::test]
async fn create_directory_with_properties() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "generic-local/path/to/dir/;team=core")
        .go()
        .await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 201);
    let uri = format!("{}/generic-local/path/to/dir/", s.base);
    assert_eq!(header(&h, "location"), Some(uri.as_str()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!({"repo": "generic-local", "path": "/path/to/dir/", "created": T0_ISO, "createdBy": "admin", "uri": uri})
    );
    let p: serde_json::Value = s
        .get("api/storage/generic-local/path/to/dir?properties")
        .await
        .json();
    assert_eq!(p["properties"], json!({"team": ["core"]}));
    let f: serde_json::Value = s.get("api/storage/generic-local/path/to").await.json();
    assert_eq!(f["children"], json!([{"uri": "/dir", "folder": true}]));
}

#[tokio::test]
async fn overwrite_keeps_created_and_updates_modified() {
    let s = start().await;
    s.deploy("generic-local/o.txt", "one").await;
    s.clock.advance(5000);
    s.deploy("generic-local/o.txt", "two!").await;
    let v: serde_json::Value = s.get("api/storage/generic-local/o.txt").await.json();
    assert_eq!(v["created"], T0_ISO);
    assert_eq!(v["lastModified"], "2023-11-14T22:13:25.123Z");
    assert_eq!(v["size"], "4");
}

#[tokio::test]
async fn file_over_folder_and_folder_under_file_are_409() {
    let s = start().await;
    s.deploy("generic-local/f/inner.txt", "x").await;
    let r = s.admin(Method::PUT, "generic-local/f").body("y").go().await;
    assert_rest_error(
        r,
        409,
        "Cannot deploy to 'generic-local:f': a file and a folder cannot share a path.",
    )
    .await;
    let r = s
        .admin(Method::PUT, "generic-local/f/inner.txt/deeper")
        .body("y")
        .go()
        .await;
    assert_rest_error(
        r,
        409,
        "Cannot deploy to 'generic-local:f/inner.txt': a file and a folder cannot share a path.",
    )
    .await;
    assert_eq!(s.get("generic-local/f/inner.txt").await.text(), "x");
}

#[tokio::test]
async fn build_client_user_agent_gets_no_sha256() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "generic-local/bc.txt")
        .header("User-Agent", "ArtifactoryBuildClient/2.0")
        .body("x")
        .go()
        .await;
    let v: serde_json::Value = r.json();
    assert!(v["checksums"].get("sha256").is_none());
    assert!(v["originalChecksums"].get("sha256").is_none());
}

#[tokio::test]
async fn client_supplied_times_and_author_are_kept() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "generic-local/stamped.txt")
        .header("X-Artifactory-Created", "1600000000000")
        .header("X-Artifactory-Last-Modified", "1600000001000")
        .header("X-Artifactory-Modified-By", "ci-bot")
        .body("s")
        .go()
        .await;
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = s.get("api/storage/generic-local/stamped.txt").await.json();
    assert_eq!(v["created"], "2020-09-13T12:26:40.000Z");
    assert_eq!(v["lastModified"], "2020-09-13T12:26:41.000Z");
    assert_eq!(v["modifiedBy"], "ci-bot");
    assert_eq!(v["createdBy"], "admin");
    assert_eq!(v["lastUpdated"], T0_ISO);
    let r = s.get("generic-local/stamped.txt").await;
    assert_eq!(
        header(r.headers(), "last-modified"),
        Some("Sun, 13 Sep 2020 12:26:41 GMT")
    );
}

#[tokio::test]
async fn old_metadata_notation_is_409() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "generic-local/a/b.jar:properties")
        .body("<x/>")
        .go()
        .await;
    assert_rest_error(
        r,
        409,
        "Old metadata notation is not supported anymore: generic-local:a/b.jar:properties",
    )
    .await;
    assert_eq!(s.get("api/storage/generic-local/a").await.status(), 404);
}
